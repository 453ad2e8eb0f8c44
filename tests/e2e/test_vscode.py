"""VS Code itself (code-server 4.99.4 = VS Code 1.99.3) runs the packaged extension on a model file.

Headless Chromium, driven by playwright-core (`vscode-extension/e2e/drive.js`), opens a sample
project, opens model.py, and we check what a user sees:

- trusted: the Problems panel lists TS101 and TS120 at their lines with squiggles in the editor and
  a "Show TorchScript code" lens on the module, Ctrl+. offers the TS120 quick fix and applying it
  removes the problem, with `tscheck.verify: onSave` saving marks the lambda's diagnostic confirmed
  by torch.jit.script, and "tscheck: Show TorchScript Code" opens a read-only
  `tscheck-torchscript:` editor with the scripted `def forward(self`;
- Restricted Mode (the trust prompt declined): the diagnostics still appear, but no code lens and
  no verification on save;
- `tscheck.interpreter` a venv without tscheck: the error notification names it, with an
  "Open Setting" button that opens the setting.

One code-server (trust disabled) serves the trusted and the missing-tscheck projects; Restricted
Mode needs a second one with workspace trust on. Screenshots land in $TSCHECK_E2E_ARTIFACTS
(default: the tmp dir's artifacts/); the path is printed.

Skipped unless code-server and playwright-core are installed
(`vscode-extension/e2e/install-code-server.sh`, into $TSCHECK_E2E_DIR, default
~/.cache/tscheck-e2e), chromium is installed, and the extension's node_modules exist.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXTENSION = ROOT / "vscode-extension"
E2E_DIR = Path(os.environ.get("TSCHECK_E2E_DIR", Path.home() / ".cache" / "tscheck-e2e"))
CODE_SERVER = E2E_DIR / "node_modules" / ".bin" / "code-server"
PLAYWRIGHT = E2E_DIR / "node_modules" / "playwright-core"
CHROMIUM = next(
    (p for p in ("/usr/lib/chromium/chromium", "/usr/bin/chromium") if Path(p).exists()), None
)

MODEL = """\
import torch
from torch import nn


class Net(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = lambda y: y + 1
        n = 7
        n //= 2
        return f(x) * n


class Head(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 2
"""
LAMBDA_LINE = 7  # 1-based, as the Problems panel shows them
FLOORDIV_LINE = 9
HEAD_LINE = 13

pytestmark = pytest.mark.skipif(
    not (CODE_SERVER.exists() and PLAYWRIGHT.exists() and CHROMIUM and shutil.which("node"))
    or not (EXTENSION / "node_modules").exists(),
    reason="needs code-server + playwright-core (vscode-extension/e2e/install-code-server.sh), "
    "chromium, node, and vscode-extension/node_modules (npm ci)",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def vsix() -> Path:
    subprocess.run(
        ["npm", "run", "-s", "package"], cwd=EXTENSION, check=True, capture_output=True, timeout=120
    )
    return EXTENSION / "tscheck.vsix"


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = Path(
        os.environ.get("TSCHECK_E2E_ARTIFACTS", tmp_path_factory.mktemp("e2e") / "artifacts")
    )
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def make_project(folder: Path, settings: dict[str, Any] | None = None) -> Path:
    folder.mkdir(parents=True)
    (folder / "pyproject.toml").write_text("[tool.tscheck]\n")
    (folder / "model.py").write_text(MODEL)
    if settings:
        (folder / ".vscode").mkdir()
        (folder / ".vscode" / "settings.json").write_text(json.dumps(settings))
    return folder


@contextmanager
def running_code_server(tmp: Path, vsix: Path, *, trust: bool) -> Iterator[dict[str, Any]]:
    """code-server with the extension installed and a fresh profile under `tmp`. With `trust`,
    workspace trust is on (folders open in Restricted Mode until the user trusts them)."""
    home = tmp / "home"
    for sub in ("config", "data", "cache", "tmp", "user-data/User", "extensions"):
        (home / sub).mkdir(parents=True)
    env = {
        **os.environ,
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_CACHE_HOME": str(home / "cache"),
        "TMPDIR": str(home / "tmp"),
        "TSCHECK_TEST_DIAGNOSTICS_FILE": str(tmp / "diagnostics.json"),
    }
    dirs = [
        "--user-data-dir",
        str(home / "user-data"),
        "--extensions-dir",
        str(home / "extensions"),
    ]
    subprocess.run(
        [str(CODE_SERVER), *dirs, "--install-extension", str(vsix)],
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    settings = {
        "tscheck.interpreter": [sys.executable],
        "tscheck.verify": "onSave",
        "workbench.startupEditor": "none",
        "workbench.tips.enabled": False,
        "security.workspace.trust.enabled": trust,
        "extensions.ignoreRecommendations": True,
        "files.autoSave": "off",
        "tscheck.args": ["--log-file", str(tmp / "server.log")],
    }
    (home / "user-data" / "User" / "settings.json").write_text(json.dumps(settings))
    port = free_port()
    config = home / "config.yaml"
    config.write_text(f"bind-addr: 127.0.0.1:{port}\nauth: none\ncert: false\n")
    log = (tmp / "code-server.log").open("w")
    flags = [] if trust else ["--disable-workspace-trust"]
    process = subprocess.Popen(
        [
            str(CODE_SERVER),
            "--config",
            str(config),
            *dirs,
            "--disable-telemetry",
            "--disable-update-check",
            "--disable-getting-started-override",
            *flags,
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    pytest.fail(f"code-server did not start:\n{(tmp / 'code-server.log')}")
                time.sleep(0.25)
        yield {"port": port, "env": env, "tmp": tmp}
    finally:
        os.killpg(process.pid, signal.SIGTERM)  # its file watchers outlive the main pid
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()


@pytest.fixture(scope="module")
def trusted_server(tmp_path_factory: pytest.TempPathFactory, vsix: Path) -> Iterator[dict]:
    with running_code_server(tmp_path_factory.mktemp("trusted"), vsix, trust=False) as server:
        yield server


def drive(server: dict, project: Path, artifacts: Path, scenario: str, **extra: str) -> dict:
    env = {
        **os.environ,
        "PLAYWRIGHT_CORE": str(PLAYWRIGHT),
        "CHROMIUM": str(CHROMIUM),
        "URL": f"http://127.0.0.1:{server['port']}/?folder={project}",
        "DIAGNOSTICS_FILE": server["env"]["TSCHECK_TEST_DIAGNOSTICS_FILE"],
        "MODEL_FILE": str(project / "model.py"),
        "ARTIFACTS": str(artifacts),
        "MODEL_LINES": json.dumps(
            {"lambda": LAMBDA_LINE, "floordiv": FLOORDIV_LINE, "head": HEAD_LINE}
        ),
        "SCENARIO": scenario,
        **extra,
    }
    done = subprocess.run(
        ["node", str(EXTENSION / "e2e" / "drive.js")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    print(f"screenshots in {artifacts}")
    seen: dict = json.loads(done.stdout or "{}")
    print(f"{scenario}: {seen.get('steps')}")
    assert "error" not in seen, f"{seen.get('error')}\nsteps: {seen.get('steps')}\n{done.stderr}"
    return seen


def test_vscode_shows_fixes_and_verifies_tscheck_diagnostics(
    trusted_server: dict, artifacts: Path
) -> None:
    project = make_project(trusted_server["tmp"] / "project")
    seen = drive(trusted_server, project, artifacts, "main")

    # (a) the Problems panel lists the codes at their lines; the editor has squiggles and the lens
    assert {(d["code"], d["line"]) for d in seen["diagnostics"]} == {
        ("TS101", LAMBDA_LINE),
        ("TS120", FLOORDIV_LINE),
    }
    rows = seen["problems"]
    assert any("TS101" in r and f"Ln {LAMBDA_LINE}," in r for r in rows), rows
    assert any("TS120" in r and f"Ln {FLOORDIV_LINE}," in r for r in rows), rows
    assert seen["squiggles"] >= 2
    assert any("Show TorchScript code" in lens for lens in seen["codeLenses"]), seen["codeLenses"]
    # The hover on forward explains itself: compiled, because Net is a root and forward its entry.
    assert "Net.forward" in seen["hover"] and "compiled by TorchScript" in seen["hover"], seen
    assert "entry point" in seen["hover"], seen["hover"]
    # (b) Ctrl+. offers the fix; applying it removes the problem
    assert any("TS120" in item and "n = n //" in item for item in seen["quickFixes"]), seen
    assert {d["code"] for d in seen["fixedDiagnostics"]} == {"TS101"}
    assert not any("TS120" in r for r in seen["problemsAfterFix"])
    assert "n = n // 2" in seen["savedText"]
    # (c) saving with verify onSave confirms the remaining diagnostic with the real compiler
    assert seen["verified"]["code"] == "TS101"
    assert "confirmed by torch.jit.script" in seen["verified"]["message"]
    # (d) "tscheck: Show TorchScript Code" offers both roots (the one at the cursor first), says
    # why Net does not script, and opens Head's scripted code, read-only
    assert "Net does not script" in seen["notScripting"], seen["notScripting"]
    assert "Lambda" in seen["notScripting"], seen["notScripting"]
    choices = seen["rootChoices"]
    assert len(choices) == 2, choices
    assert choices[0].startswith("Head") and choices[1].startswith("Net"), choices
    assert "Head" in seen["shownTab"], seen["shownTab"]
    assert seen["shownUri"].startswith("tscheck-torchscript:"), seen["shownUri"]
    assert "def forward(self" in seen["shownText"], seen["shownText"]
    assert "read-only" in seen["readOnlyMessage"].lower(), seen["readOnlyMessage"]
    assert seen["shownTextAfterTyping"] == seen["shownText"]


def test_vscode_names_a_missing_tscheck(
    trusted_server: dict, artifacts: Path, tmp_path: Path
) -> None:
    venv = tmp_path / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60
    )
    python = venv / "bin" / "python"
    assert subprocess.run([str(python), "-c", "import tscheck_server"]).returncode != 0
    project = make_project(
        trusted_server["tmp"] / "project-missing", {"tscheck.interpreter": [str(python)]}
    )
    seen = drive(trusted_server, project, artifacts, "missing")

    assert "tscheck is not installed in" in seen["notification"], seen["notification"]
    assert str(python) in seen["notification"], seen["notification"]
    assert "tscheck_server" in seen["notification"], seen["notification"]
    assert "Open Setting" in seen["buttons"], seen["buttons"]
    assert "tscheck.interpreter" in seen["settingsSearch"]


def test_vscode_restricted_mode_is_static_only(tmp_path: Path, vsix: Path, artifacts: Path) -> None:
    with running_code_server(tmp_path, vsix, trust=True) as server:
        project = make_project(tmp_path / "project")
        seen = drive(server, project, artifacts, "restricted")

    assert "Restricted Mode" in seen["restrictedIndicator"]
    # static analysis runs: the diagnostics and the Problems panel
    assert {d["code"] for d in seen["diagnostics"]} == {"TS101", "TS120"}
    assert any("TS120" in r for r in seen["problems"]), seen["problems"]
    # nothing that runs the user's code: no code lens, no verification on save
    assert not any("TorchScript" in lens for lens in seen["codeLenses"]), seen["codeLenses"]
    assert {d["code"] for d in seen["diagnosticsAfterSave"]} == {"TS101", "TS120"}
    assert not any("confirmed" in d["message"] for d in seen["diagnosticsAfterSave"])
    assert not any("confirmed" in r for r in seen["problemsAfterSave"]), seen["problemsAfterSave"]
