"""verify/job.py with the real compiler: each request runs in a fresh interpreter of its own (as
the worker's forked child would), which loads job.py by path and calls `job.run(request)`."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import torch

JOB = Path(__file__).resolve().parents[1] / "analysis" / "tscheck" / "verify" / "job.py"

# Mirrors the worker: torch imported first with its warnings silenced, job.py loaded by path
# under a private name, the JSON answer on the last stdout line (user code may print too).
RUNNER = """
import importlib.util, json, sys, warnings
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import torch
spec = importlib.util.spec_from_file_location("_tscheck_verify_job", sys.argv[1])
job = importlib.util.module_from_spec(spec)
spec.loader.exec_module(job)
answer = job.run(json.load(sys.stdin))
print("\\n" + json.dumps(answer))
"""


def run_job(request: dict[str, Any], *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-I", "-X", "utf8", *flags, "-c", RUNNER, str(JOB)],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def verify(request: dict[str, Any], *flags: str) -> dict[str, Any]:
    proc = run_job(request, *flags)
    assert proc.returncode == 0, proc.stderr[-3000:]
    answer: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return answer


def write(folder: Path, relative: str, code: str) -> Path:
    path = folder / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(code).lstrip("\n"), encoding="utf-8")
    return path


def request_for(path: Path, *roots: str, **fields: Any) -> dict[str, Any]:
    request: dict[str, Any] = {
        "file": str(path),
        "module": path.stem,
        "sys_path": [str(path.parent)],
        "text": None,
        "roots": [{"name": root, "factory": None} for root in roots],
        "ignore": [],
        "device": "cpu",
        "examples": {},
    }
    request.update(fields)
    return request


def line_of(path_or_text: Path | str, marker: str) -> int:
    """1-based line of the only line containing `marker`."""
    text = path_or_text if isinstance(path_or_text, str) else path_or_text.read_text()
    hits = [n for n, line in enumerate(text.split("\n"), 1) if marker in line]
    assert len(hits) == 1, (marker, hits)
    return hits[0]


def only(answer: dict[str, Any]) -> dict[str, Any]:
    assert answer["import_error"] is None, answer["import_error"]
    assert len(answer["results"]) == 1
    result: dict[str, Any] = answer["results"][0]
    return result


CLEAN = """
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x).relu()


def double(x: int) -> int:
    return x * 2


class Pair:
    def __init__(self, a: int, b: int) -> None:
        self.a = a
        self.b = b

    def total(self) -> int:
        return self.a + self.b
"""


def test_clean_module_scripts_saves_and_loads(tmp_path: Path) -> None:
    path = write(tmp_path, "clean.py", CLEAN)
    answer = verify(request_for(path, "Net", "double", "Pair"))
    assert answer["import_error"] is None
    net, double, pair = answer["results"]
    assert (net["root"], net["verdict"], net["built_with"]) == ("Net", "ok", "Net()")
    assert net["error"] is None and net["device"] == "cpu" and net["note"] is None
    assert (double["verdict"], double["built_with"]) == ("ok", None)
    assert pair["verdict"] == "ok"
