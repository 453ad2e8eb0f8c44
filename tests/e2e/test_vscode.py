"""VS Code itself (code-server 4.99.4 = VS Code 1.99.3) runs the packaged extension on a model file.

Headless Chromium, driven by playwright-core (`vscode-extension/e2e/drive.js`), opens a sample
project, opens model.py, and we check what a user sees: the Problems panel lists TS101 and TS120 at
their lines with squiggles in the editor, Ctrl+. offers the TS120 quick fix and applying it removes
the problem, and with `tscheck.verify: onSave` saving marks the lambda's diagnostic confirmed by
torch.jit.script. Screenshots land in $TSCHECK_E2E_ARTIFACTS (default: the test's tmp dir); the
path is printed.

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
from pathlib import Path

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
"""
LAMBDA_LINE = 7  # 1-based, as the Problems panel shows them
FLOORDIV_LINE = 9

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


@pytest.fixture()
def code_server(tmp_path: Path):
    subprocess.run(
        ["npm", "run", "-s", "package"], cwd=EXTENSION, check=True, capture_output=True, timeout=120
    )
    home = tmp_path / "home"
    for sub in ("config", "data", "cache", "tmp", "user-data/User", "extensions"):
        (home / sub).mkdir(parents=True)
    env = {
        **os.environ,
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_CACHE_HOME": str(home / "cache"),
        "TMPDIR": str(home / "tmp"),
        "TSCHECK_TEST_DIAGNOSTICS_FILE": str(tmp_path / "diagnostics.json"),
    }
    dirs = [
        "--user-data-dir",
        str(home / "user-data"),
        "--extensions-dir",
        str(home / "extensions"),
    ]
    subprocess.run(
        [str(CODE_SERVER), *dirs, "--install-extension", str(EXTENSION / "tscheck.vsix")],
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
        "security.workspace.trust.enabled": False,
        "extensions.ignoreRecommendations": True,
        "files.autoSave": "off",
        "tscheck.args": ["--log-file", str(tmp_path / "server.log")],
    }
    (home / "user-data" / "User" / "settings.json").write_text(json.dumps(settings))
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text("[tool.tscheck]\n")
    (project / "model.py").write_text(MODEL)
    port = free_port()
    config = home / "config.yaml"
    config.write_text(f"bind-addr: 127.0.0.1:{port}\nauth: none\ncert: false\n")
    log = (tmp_path / "code-server.log").open("w")
    process = subprocess.Popen(
        [
            str(CODE_SERVER),
            "--config",
            str(config),
            *dirs,
            "--disable-telemetry",
            "--disable-update-check",
            "--disable-getting-started-override",
            "--disable-workspace-trust",
            str(project),
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
                    pytest.fail(f"code-server did not start:\n{(tmp_path / 'code-server.log')}")
                time.sleep(0.25)
        yield {"port": port, "project": project, "env": env, "tmp": tmp_path}
    finally:
        os.killpg(process.pid, signal.SIGTERM)  # its file watchers outlive the main pid
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()


def test_vscode_shows_fixes_and_verifies_tscheck_diagnostics(code_server) -> None:
    tmp: Path = code_server["tmp"]
    project: Path = code_server["project"]
    artifacts = Path(os.environ.get("TSCHECK_E2E_ARTIFACTS", tmp / "artifacts"))
    artifacts.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "PLAYWRIGHT_CORE": str(PLAYWRIGHT),
        "CHROMIUM": str(CHROMIUM),
        "URL": f"http://127.0.0.1:{code_server['port']}/?folder={project}",
        "DIAGNOSTICS_FILE": code_server["env"]["TSCHECK_TEST_DIAGNOSTICS_FILE"],
        "MODEL_FILE": str(project / "model.py"),
        "ARTIFACTS": str(artifacts),
        "MODEL_LINES": json.dumps({"lambda": LAMBDA_LINE, "floordiv": FLOORDIV_LINE}),
    }
    done = subprocess.run(
        ["node", str(EXTENSION / "e2e" / "drive.js")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    print(f"screenshots in {artifacts}")
    seen = json.loads(done.stdout or "{}")
    assert "error" not in seen, f"{seen.get('error')}\nsteps: {seen.get('steps')}\n{done.stderr}"

    # (a) the Problems panel lists the codes at their lines; the editor has squiggles
    assert {(d["code"], d["line"]) for d in seen["diagnostics"]} == {
        ("TS101", LAMBDA_LINE),
        ("TS120", FLOORDIV_LINE),
    }
    rows = seen["problems"]
    assert any("TS101" in r and f"Ln {LAMBDA_LINE}," in r for r in rows), rows
    assert any("TS120" in r and f"Ln {FLOORDIV_LINE}," in r for r in rows), rows
    assert seen["squiggles"] >= 2
    # (b) Ctrl+. offers the fix; applying it removes the problem
    assert any("TS120" in item and "n = n //" in item for item in seen["quickFixes"]), seen
    assert {d["code"] for d in seen["fixedDiagnostics"]} == {"TS101"}
    assert not any("TS120" in r for r in seen["problemsAfterFix"])
    assert "n = n // 2" in seen["savedText"]
    # (c) saving with verify onSave confirms the remaining diagnostic with the real compiler
    assert seen["verified"]["code"] == "TS101"
    assert "confirmed by torch.jit.script" in seen["verified"]["message"]
