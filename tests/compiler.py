"""The real TorchScript compiler, in a subprocess, for many snippets at once."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

WORKER = Path(__file__).with_name("compile_worker.py")


@dataclass(frozen=True)
class Verdict:
    accepted: bool
    stage: str
    error: str


@dataclass(frozen=True)
class Job:
    code: str
    target: str | None = None
    call: str | None = None
    # Traced instead of scripted (see compile_worker.run_trace).
    trace_inputs: str | None = None
    second_inputs: str | None = None


def compile_all(jobs: list[Job], timeout: float = 900) -> list[Verdict]:
    payload = json.dumps([job.__dict__ for job in jobs])
    proc = subprocess.run(
        [sys.executable, "-W", "error", str(WORKER)],
        input=payload,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"compile worker failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return [Verdict(**r) for r in json.loads(proc.stdout)]
