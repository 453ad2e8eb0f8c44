"""Headless Neovim, a real third-party LSP client, drives `python -m tscheck_server` over stdio.

Why this test exists: `test_lsp.py` drives the server with pytest-lsp, a client we picked and
configure ourselves, so the two can agree on a mistake (a field, the column units, what comes
back in `context.diagnostics`). Neovim's LSP client was written to the spec by others and is one
people edit with. Here it starts the server, opens a model file, receives the diagnostics and
turns their UTF-16 columns into byte columns; asks for the code actions of each (sending the
diagnostic rebuilt without `data`, as 0.7 must, and also as 0.7's own `get_line_diagnostics`
builds it); applies a quick fix with its own edit code; and shuts the server down. What arrived
is checked against the `tscheck` CLI on the same file.

One Neovim run (`tests/e2e/neovim/init.lua`, ~3 s) serves every test here. Skipped when `nvim`
0.7 or newer is not on PATH (`.ci/run` installs Debian's `neovim` when it can).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

INIT = Path(__file__).parent / "neovim" / "init.lua"
MIN_VERSION = (0, 7)
RUN_TIMEOUT_S = 60
# How long init.lua waits for the first publishDiagnostics before :cq!.
DIAGNOSTICS_TIMEOUT_MS = 20_000

# The lambda line carries non-ASCII text before the lambda: tscheck counts code points, the
# server sends UTF-16 units, Neovim stores bytes; all three differ there.
MODEL = """\
import torch
from torch import nn


def helper(x: torch.Tensor) -> torch.Tensor:
    # Never called from a compiled function: not compiled, so this lambda is fine.
    g = lambda y: y * 2
    return g(x)


class Net(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tag = "λ😀"; f = lambda y: y + 1
        n = 7
        n //= 2
        return f(x) * n
"""
LINES = MODEL.split("\n")

# vim.diagnostic.severity.ERROR (and LSP DiagnosticSeverity.Error).
ERROR = 1
LOG_ERROR, LOG_WARNING = 1, 2


def line_of(needle: str) -> int:
    """The 0-based line of MODEL that holds `needle` (exactly one)."""
    found = [number for number, line in enumerate(LINES) if needle in line]
    assert len(found) == 1, (needle, found)
    return found[0]


def byte_col(line: int, column: int) -> int:
    """A 0-based code-point column of MODEL's `line` as a byte column (Neovim's unit)."""
    return len(LINES[line][:column].encode("utf-8"))


def utf16_col(line: int, column: int) -> int:
    """A 0-based code-point column of MODEL's `line` in UTF-16 units (the LSP's unit)."""
    return len(LINES[line][:column].encode("utf-16-le")) // 2


LAMBDA_LINE = line_of("f = lambda y: y + 1")
FLOORDIV_LINE = line_of("n //= 2")
HELPER_LAMBDA_LINE = line_of("g = lambda y: y * 2")


def nvim_version(nvim: str) -> tuple[int, int, int] | None:
    try:
        proc = subprocess.run(
            [nvim, "--version"], capture_output=True, text=True, timeout=RUN_TIMEOUT_S
        )
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"NVIM v(\d+)\.(\d+)\.(\d+)", proc.stdout)
    if proc.returncode != 0 or match is None:
        return None
    major, minor, patch = (int(part) for part in match.groups())
    return major, minor, patch


@dataclass(frozen=True)
class NeovimRun:
    report: dict[str, Any]
    workspace: Path
    version: tuple[int, int, int]

    def diagnostic(self, code: str) -> dict[str, Any]:
        found = [d for d in self.report["diagnostics"] if d["code"] == code]
        assert len(found) == 1, (code, self.report["diagnostics"])
        diagnostic: dict[str, Any] = found[0]
        return diagnostic

    def actions(self, key: str, code: str) -> dict[str, Any]:
        found = [a for a in self.report[key] if a["code"] == code]
        assert len(found) == 1, (code, self.report[key])
        actions: dict[str, Any] = found[0]
        return actions


def tail(path: Path, limit: int = 4000) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")[-limit:]
    except OSError:
        return "(none)"


@pytest.fixture(scope="module")
def neovim(tmp_path_factory: pytest.TempPathFactory) -> NeovimRun:
    nvim = shutil.which("nvim")
    if nvim is None:
        pytest.skip("nvim is not on PATH (Debian: apt-get install neovim)")
    version = nvim_version(nvim)
    if version is None:
        pytest.skip(f"cannot read the version of {nvim}")
    if version[:2] < MIN_VERSION:
        pytest.skip(f"nvim {'.'.join(map(str, version))} is older than 0.7")

    base = tmp_path_factory.mktemp("neovim")
    workspace = base / "workspace"
    workspace.mkdir()
    # A pyproject of its own, so that no other configuration applies.
    (workspace / "pyproject.toml").write_text("[tool.tscheck]\n", encoding="utf-8")
    (workspace / "model.py").write_text(MODEL, encoding="utf-8")
    out = base / "report.json"

    env = {key: value for key, value in os.environ.items() if not key.startswith("NVIM")}
    env.update(
        {
            # Neovim writes nothing under ~ (lsp.log, shada, swap) with these.
            "XDG_CONFIG_HOME": str(base / "config"),
            "XDG_DATA_HOME": str(base / "data"),
            "XDG_CACHE_HOME": str(base / "cache"),
            "XDG_STATE_HOME": str(base / "state"),
            "TSCHECK_NVIM_CMD": json.dumps([sys.executable, "-m", "tscheck_server"]),
            "TSCHECK_NVIM_ROOT": str(workspace),
            "TSCHECK_NVIM_OUT": str(out),
            "TSCHECK_NVIM_TIMEOUT": str(DIAGNOSTICS_TIMEOUT_MS),
        }
    )
    command = [nvim, "--headless", "--clean", "-n", "-u", str(INIT), "model.py"]
    try:
        proc = subprocess.run(
            command,
            cwd=workspace,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT_S,
        )
        rc, output = proc.returncode, proc.stdout + proc.stderr
    except subprocess.TimeoutExpired as exc:
        rc, output = None, f"timed out after {exc.timeout} s"
    report_text = out.read_text(encoding="utf-8") if out.exists() else "(no report)"
    if rc != 0:
        pytest.fail(
            f"nvim exited with {rc}\noutput:\n{output}\nreport: {report_text}\n"
            f"lsp.log:\n{tail(base / 'cache' / 'nvim' / 'lsp.log')}"
        )
    report: dict[str, Any] = json.loads(report_text)
    return NeovimRun(report, workspace, version)


def cli_diagnostics(workspace: Path) -> list[tuple[str, int, int, str]]:
    """What `tscheck` reports for the same file: (code, 0-based line, byte column, message)."""
    proc = subprocess.run(
        [sys.executable, "-m", "tscheck", "--format", "json", "model.py"],
        cwd=workspace,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
    )
    assert proc.returncode == 1, proc.stderr
    found = []
    for d in json.loads(proc.stdout)["diagnostics"]:
        line = d["range"]["start"]["line"] - 1
        column = d["range"]["start"]["column"] - 1  # the CLI's columns are 1-based code points
        found.append((d["code"], line, byte_col(line, column), d["message"]))
    return sorted(found)


def test_diagnostics_arrive_in_neovim(neovim: NeovimRun) -> None:
    report = neovim.report
    assert report["errors"] == []
    assert report["publishes"] >= 1
    assert report["nvim"]["major"] == neovim.version[0]

    arrived = [(d["code"], d["lnum"]) for d in report["diagnostics"]]
    assert arrived == [("TS101", LAMBDA_LINE), ("TS120", FLOORDIV_LINE)]
    for d in report["diagnostics"]:
        assert d["source"] == "tscheck"
        assert d["severity"] == ERROR
        assert d["end_lnum"] == d["lnum"]

    # The columns, in bytes after Neovim's UTF-16 conversion: past "λ😀" on the lambda line.
    lambda_text = LINES[LAMBDA_LINE]
    start = lambda_text.index("lambda")
    lam = neovim.diagnostic("TS101")
    assert (lam["col"], lam["end_col"]) == (byte_col(LAMBDA_LINE, start), len(lambda_text.encode()))
    assert lam["col"] != start  # the non-ASCII text before it really moved it
    assert lam["message"] == "TorchScript does not support lambda; use a module-level function"
    floordiv = neovim.diagnostic("TS120")
    floordiv_text = LINES[FLOORDIV_LINE]
    assert (floordiv["col"], floordiv["end_col"]) == (
        floordiv_text.index("n //="),
        len(floordiv_text),
    )

    # Exactly what the CLI says about the file.
    assert cli_diagnostics(neovim.workspace) == sorted(
        (d["code"], d["lnum"], d["col"], d["message"]) for d in report["diagnostics"]
    )

    # The helper is never called from forward: its lambda is not compiled, so nothing there.
    assert all(d["lnum"] != HELPER_LAMBDA_LINE for d in report["diagnostics"])

    bad_logs = [m for m in report["log_messages"] if m["type"] in (LOG_ERROR, LOG_WARNING)]
    assert bad_logs == []


def test_code_actions_through_neovim(neovim: NeovimRun) -> None:
    # TS101 (lambda) has no automatic fix (`tscheck explain TS101`: Fixable: no), so its only
    # action is the ignore comment; TS120 has a fix. The diagnostics were sent without `data`:
    # the server finds the fix again from its last analysis (same code and range).
    lam = neovim.actions("actions", "TS101")
    assert lam["errors"] == []
    # Sent back in UTF-16 units, as the server published it.
    start = LINES[LAMBDA_LINE].index("lambda")
    assert lam["range"]["start"] == {
        "line": LAMBDA_LINE,
        "character": utf16_col(LAMBDA_LINE, start),
    }
    assert lam["titles"] == ["Ignore TS101 for this line"]

    floordiv = neovim.actions("actions", "TS120")
    assert floordiv["errors"] == []
    assert floordiv["titles"] == [
        "tscheck (TS120): Replace with `n = n // ...`",
        "Ignore TS120 for this line",
    ]
    assert any(t.startswith("tscheck (TS120)") for t in floordiv["titles"])

    # The same through 0.7's own conversion (what `vim.lsp.buf.code_action()` sends).
    for code, expected in (("TS101", lam["titles"]), ("TS120", floordiv["titles"])):
        own = neovim.actions("own_context", code)
        assert own["errors"] == []
        assert own["titles"] == expected


def test_quick_fix_applies_and_server_exits_cleanly(neovim: NeovimRun) -> None:
    report = neovim.report
    # Neovim applied the TS120 fix's WorkspaceEdit to its buffer.
    assert report["fixed_code"] == "TS120"
    assert report["fixed_lines"] == [LINES[FLOORDIV_LINE].replace("n //= 2", "n = n // 2")]
    # vim.lsp.stop_client: shutdown, then exit; the server process ended with status 0.
    assert report["server_exit"] == {"code": 0, "signal": 0}
