"""Runs code through the real TorchScript compiler: one process imports torch, then forks one
child per snippet so that every snippet starts from a clean compiler state.

stdin: a JSON list of {"code", "target", "call"}; stdout: a JSON list of
{"accepted": bool, "stage": "import|target|script|save|load|call|timeout|crash", "error": str}.

A job with "trace_inputs" is traced instead (tracing rules, TS4xx): torch.jit.trace with
check_trace=True, every TracerWarning recorded ("TracerWarning at line N: message" for the
snippet's own lines), then "call" (with `m` the traced and `eager` the original object) and
the traced and eager results compared on "second_inputs" ("diverges: ..." when they differ).
Accepted means no TracerWarning at all and equal results.
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


def run_trace(job: dict, folder: str, index: int) -> dict:
    name = f"tscheck_example_{index}"
    path = os.path.join(folder, name + ".py")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(job["code"])
    stage = "import"
    problems: list[str] = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            sys.path.insert(0, folder)
            module = __import__(name)
            names = {**vars(module), "torch": torch}
            stage = "target"
            eager = eval(job.get("target") or default_target(job["code"]), names)
            inputs = eval(job["trace_inputs"], names)
            stage = "trace"
            try:
                traced = torch.jit.trace(eager, inputs, check_trace=True)
            except torch.jit._trace.TracingCheckError as exc:  # re-tracing gave another graph
                text = str(exc)
                first = "Graphs differed across invocations" if "Graphs differed" in text else ""
                error = f"check_trace: {first or text.splitlines()[0]}\n{text}"
                return {"accepted": False, "stage": stage, "error": error}
            for w in caught:
                if issubclass(w.category, torch.jit.TracerWarning):
                    where = f"line {w.lineno}" if w.filename == path else "torch"
                    problems.append(f"TracerWarning at {where}: {w.message}")
            stage = "call"
            if job.get("call"):
                exec(job["call"], {**names, "m": traced, "eager": eager})
            second = eval(job.get("second_inputs") or job["trace_inputs"], names)
            torch.manual_seed(0)
            expected = eager(*second)
            torch.manual_seed(0)
            try:
                got = traced(*second)
            except Exception as exc:  # a size baked in that the second inputs do not have
                last = str(exc).strip().splitlines()[-1:] or [""]
                problems.append(f"diverges: the traced module raises {last[0]}")
            else:
                if not _same(expected, got):
                    problems.append("diverges: the traced result differs from eager Python")
    except BaseException as exc:
        return {"accepted": False, "stage": stage, "error": f"{type(exc).__name__}: {exc}"}
    return {"accepted": not problems, "stage": "done", "error": "\n".join(problems)}


def _same(a: object, b: object) -> bool:
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        return a.shape == b.shape and torch.allclose(a, b)
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


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
                # A snippet that writes files by relative name writes them here, not in the
                # checkout (`ScriptModule.save(buffer)` writes a file named after the buffer).
                os.chdir(folder)
                # The snippet may print; the parent's stdout carries only the JSON answer.
                os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
                try:
                    if job.get("trace_inputs"):
                        out = run_trace(job, folder, index)
                    else:
                        out = run_one(
                            job["code"], job.get("target"), job.get("call"), folder, index
                        )
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
