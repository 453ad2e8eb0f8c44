"""Runs code through the real TorchScript compiler: one process imports torch, then forks one
child per snippet so that every snippet starts from a clean compiler state.

stdin: a JSON list of {"code", "target", "call"}; stdout: a JSON list of
{"accepted": bool, "stage": "import|target|script|save|load|call|timeout|crash", "error": str}.
"""

from __future__ import annotations

import io
import json
import os
import re
import sys
import tempfile
import traceback
import warnings

# Run with -W error: the worker itself must survive warnings (torch.jit.script's
# DeprecationWarning, torch's own import-time warnings such as a missing NumPy).
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import torch

TIMEOUT_S = 30


def default_target(code: str) -> str:
    if re.search(r"^class M\b", code, re.M):
        return "M()"
    return "f"


def as_saved_on_cuda(path: str) -> None:
    """Rewrite the TorchScript archive at `path` as a GPU machine writes it: every tensor
    storage's recorded location becomes "cuda:0" (this machine has no GPU to save from).
    Examples of rules about loading GPU-saved archives call it; the load itself stays real."""
    import zipfile

    with zipfile.ZipFile(path) as src:
        entries = [(info, src.read(info)) for info in src.infolist()]
    cpu, cuda = b"X\x03\x00\x00\x00cpu", b"X\x06\x00\x00\x00cuda:0"
    if not any(cpu in data for info, data in entries if info.filename.endswith(".pkl")):
        raise AssertionError(f"{path}: no tensor storage to move to CUDA")
    with zipfile.ZipFile(path, "w") as dst:
        for info, data in entries:
            if info.filename.endswith(".pkl"):
                # The storage tuple's location: BINUNICODE "cpu" in the pickles torch writes.
                data = data.replace(cpu, cuda)
            dst.writestr(info, data)


def run_one(code: str, target: str | None, call: str | None, folder: str, index: int) -> dict:
    name = f"tscheck_example_{index}"
    path = os.path.join(folder, name + ".py")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(code)
    stage = "import"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sys.path.insert(0, folder)
            module = __import__(name)
            stage = "target"
            obj = eval(target or default_target(code), vars(module))
            stage = "script"
            scripted = torch.jit.script(obj)
            stage = "save"
            buffer = io.BytesIO()
            torch.jit.save(scripted, buffer)
            stage = "load"
            buffer.seek(0)
            loaded = torch.jit.load(buffer)
            if call:
                stage = "call"
                namespace = {"as_saved_on_cuda": as_saved_on_cuda, **vars(module)}
                exec(call, {**namespace, "m": loaded, "torch": torch})
    except BaseException as exc:
        message = f"{type(exc).__name__}: {exc}"
        if not str(exc):
            message += "\n" + traceback.format_exc(limit=3)
        return {"accepted": False, "stage": stage, "error": message}
    return {"accepted": True, "stage": "done", "error": ""}


def main() -> None:
    jobs = json.load(sys.stdin)
    results = []
    with tempfile.TemporaryDirectory() as folder:
        for index, job in enumerate(jobs):
            read, write = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.close(read)
                os.setpgid(0, 0)
                # The snippet may print; the parent's stdout carries only the JSON answer.
                os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
                try:
                    out = run_one(job["code"], job.get("target"), job.get("call"), folder, index)
                    data = json.dumps(out).encode()
                except BaseException as exc:
                    data = json.dumps(
                        {"accepted": False, "stage": "crash", "error": repr(exc)}
                    ).encode()
                with os.fdopen(write, "wb") as fh:
                    fh.write(data)
                os._exit(0)
            os.close(write)
            import select

            chunks = []
            with os.fdopen(read, "rb") as fh:
                ready, _, _ = select.select([fh], [], [], TIMEOUT_S)
                if ready:
                    chunks.append(fh.read())
            if not chunks:
                os.kill(pid, 9)
            os.waitpid(pid, 0)
            raw = b"".join(chunks)
            if raw:
                results.append(json.loads(raw))
            else:
                results.append({"accepted": False, "stage": "timeout", "error": "no answer"})
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
