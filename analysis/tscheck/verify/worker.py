"""The verifier's zygote: imports torch once, then forks one sandboxed child per job.

Started by client.py as `<python> -I -X utf8 worker.py [--preload a,b] [--max-jobs N]` in the
user's interpreter, where tscheck need not be installed: standard library and torch only. Its
siblings child.py (the sandbox) and job.py (the work) are loaded by path under private names.
The protocol is in PROTOCOL.md; this file is its zygote side.

A `script` request is served by a fork (A) that applies the sandbox, reports its layers and runs
the job. With a PID namespace, A forks the namespace's init (B, pid 1), which forks the job (C,
pid 2): the job gets ordinary signal semantics, cannot signal anything outside, and everything it
leaves behind dies with B. Each child writes JSON lines to a pipe: its layers, the job's result,
and (from B) the job's wait status. The zygote turns timeouts, signals and exits into verdicts.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import os
import platform
import select
import shutil
import signal
import sys
import tempfile
import time
import traceback
import types
import warnings
from collections.abc import Callable
from typing import IO, Any, NoReturn

PROTOCOL = 1
HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_TIMEOUT_S = 30.0
# A job's limits unless its request says otherwise (PROTOCOL.md: "limits").
DEFAULT_LIMITS: dict[str, int] = {
    "cpu_s": 60,
    "data_mb": 8192,
    "fsize_mb": 64,
    "nproc": 256,
    "output_kb": 4,
}
DEFAULT_MAX_JOBS = 200  # recycle: _python_cu and the type store only grow (catalog.md F5)
MAX_RESULT_BYTES = 32 * 1024 * 1024
REAP_WAIT_S = 10.0
AHEAD_READY_S = 2.0  # how long forking ahead may wait for the child's sandbox
FATAL_EXIT = 70  # the child's own machinery failed (not user code)
PRELOAD_ENV = "TSCHECK_VERIFY_PRELOAD"


def load_sibling(name: str, path: str | None = None) -> types.ModuleType | None:
    """Load verify/<name>.py by path under a private module name (tscheck may not be
    importable here, and a user package named `child` or `job` must not shadow it)."""
    path = path or os.path.join(HERE, f"{name}.py")
    if not os.path.exists(path):
        return None
    private = f"_tscheck_verify_{name}"
    spec = importlib.util.spec_from_file_location(private, path)
    if spec is None or spec.loader is None:
        return None
    module = importlib.util.module_from_spec(spec)
    sys.modules[private] = module  # dataclasses and pickling look classes up by module name
    spec.loader.exec_module(module)
    return module


def fork() -> int:
    # Python 3.12+ warns when forking a threaded process (torch starts a thread at import);
    # under -W error that warning would raise in the parent after the child already exists.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return os.fork()


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def send_line(fd: int, payload: dict[str, Any]) -> None:
    write_all(fd, json.dumps(payload, default=repr).encode() + b"\n")


def flush_std() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass  # a closed stream or a full disk must not stop the answer


def signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"SIG{number}"


def describe_signal(number: int, limits: dict[str, int]) -> str:
    name = signal_name(number)
    hint = {
        "SIGXCPU": f": CPU time limit of {limits['cpu_s']} s",
        "SIGXFSZ": f": file size limit of {limits['fsize_mb']} MB",
        "SIGKILL": ": killed from outside (out of memory?)",
    }.get(name, "")
    return f"signal {number} ({name}){hint}"


def wait_status(status: int) -> dict[str, int]:
    if os.WIFSIGNALED(status):
        return {"signal": os.WTERMSIG(status)}
    return {"exit": os.WEXITSTATUS(status) if os.WIFEXITED(status) else FATAL_EXIT}


def tail(path: str, size: int) -> str:
    """The last `size` bytes of a file: children may print megabytes; we read only this."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - size))
            return fh.read(size).decode("utf-8", "replace")
    except OSError:
        return ""


# --- the child side -------------------------------------------------------------------------


class Child:
    """Everything that happens after the fork, in the child. Every path ends in os._exit."""

    def __init__(
        self,
        request_fd: int,
        limits: dict[str, int],
        tmpdir: str,
        result_fd: int,
        child_mod: types.ModuleType | None,
        job: types.ModuleType | None,
        cgroup: str | None,
    ) -> None:
        self.request_fd = request_fd
        self.request: dict[str, Any] = {}
        self.limits = limits
        self.tmpdir = tmpdir
        self.result_fd = result_fd
        self.child_mod = child_mod
        self.job = job
        self.cgroup = cgroup

    def main(self, zygote_pid: int, close_fds: list[int]) -> NoReturn:
        try:
            if self.child_mod is not None:
                self.child_mod.set_parent_death_signal()
            if os.getppid() != zygote_pid:
                os._exit(FATAL_EXIT)  # the zygote died before we could ask to die with it
            os.setpgid(0, 0)  # the zygote kills this whole group on timeout
            signal.signal(signal.SIGINT, signal.default_int_handler)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            for fd in close_fds:
                os.close(fd)  # the protocol pipes: user code must neither read nor forge them
            self.redirect_output()
            layers: list[str] = []
            if self.child_mod is not None:
                layers = self.child_mod.apply(self.limits, self.tmpdir, self.cgroup)
            if self.child_mod is not None:
                self.child_mod.set_name("tscheck-idle")  # inherited by B and C
            send_line(self.result_fd, {"kind": "layers", "layers": layers})
            if "pid_namespace" in layers:
                self.run_init()
            self.run_job()
        except BaseException as exc:  # the child must always answer and exit
            self.fatal(f"verifier child failed: {type(exc).__name__}: {exc}")

    def redirect_output(self) -> None:
        """fd 0 from /dev/null (a job reading stdin would steal protocol lines), fds 1 and 2
        to files in the temp dir (bounded by RLIMIT_FSIZE; the zygote reads only their tails)."""
        flush_std()
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        for fd, name in ((1, "stdout.txt"), (2, "stderr.txt")):
            out = os.open(os.path.join(self.tmpdir, name), os.O_WRONLY | os.O_CREAT, 0o600)
            os.dup2(out, fd)
            os.close(out)

    def run_init(self) -> NoReturn:
        """A: fork B, pid 1 of the new PID namespace; B forks the job C (pid 2: pid 1 ignores
        signals it has no handler for, which would change what a crash looks like)."""
        init = fork()
        if init == 0:
            try:
                if self.child_mod is not None:
                    self.child_mod.set_parent_death_signal()
                signal.signal(signal.SIGINT, signal.SIG_IGN)  # a handler would let C signal B
                job = fork()
                if job == 0:
                    signal.signal(signal.SIGINT, signal.default_int_handler)
                    self.run_job()
                _, status = os.waitpid(job, 0)
                send_line(self.result_fd, {"kind": "status", **wait_status(status)})
            except BaseException as exc:
                self.fatal(f"verifier init failed: {type(exc).__name__}: {exc}")
            os._exit(0)  # the kernel now kills whatever the job left in the namespace
        _, status = os.waitpid(init, 0)
        if os.WIFSIGNALED(status):  # the init itself was killed (out of memory, say)
            send_line(self.result_fd, {"kind": "status", **wait_status(status)})
        os._exit(0)

    def run_job(self) -> NoReturn:
        me = os.getpid()
        payload: dict[str, Any]
        self.request = read_request(self.request_fd)  # waits here when forked ahead of time
        if self.child_mod is not None:
            self.child_mod.set_name("tscheck-job")
        try:
            payload = self.call_job()
        except SystemExit as exc:
            # sys.exit() in user code (job.run lets it through): an exit, like the process
            # would make without us; a fork made by user code just leaves.
            code = 0 if os.getpid() != me else exit_code(exc)
            flush_std()  # what it printed before exiting belongs in the response's tail
            os._exit(code)
        except MemoryError as exc:  # job.py lets it through (also torch's "can't allocate")
            payload = {"kind": "result", "memory_error": f"MemoryError: {exc}".rstrip(": ")}
        except BaseException as exc:  # KeyboardInterrupt from user code too
            lines = traceback.format_exception(type(exc), exc, exc.__traceback__)
            payload = {
                "kind": "result",
                "fatal": f"job.run raised {type(exc).__name__}: {exc}",
                "traceback": "".join(lines)[-4000:],
            }
        if os.getpid() != me:
            os._exit(0)  # a fork made by user code must not answer for the job
        flush_std()
        try:
            send_line(self.result_fd, payload)
        except (TypeError, ValueError, OSError) as exc:
            self.fatal(f"cannot send the result: {type(exc).__name__}: {exc}")
        os._exit(0)

    def call_job(self) -> dict[str, Any]:
        if self.job is None:
            return {"kind": "result", "fatal": "job.py missing"}
        out = self.job.run(self.request)
        if not isinstance(out, dict):
            return {"kind": "result", "fatal": f"job.run returned {type(out).__name__}"}
        return {
            "kind": "result",
            "import_error": out.get("import_error"),
            "results": out.get("results") or [],
            "imported": out.get("imported") or [],
        }

    def fatal(self, detail: str) -> NoReturn:
        try:
            flush_std()
            send_line(self.result_fd, {"kind": "result", "fatal": detail})
        finally:
            os._exit(FATAL_EXIT)


def read_request(fd: int) -> dict[str, Any]:
    """The job's request, written by the zygote once it arrives; EOF (the zygote dropped a child
    it forked ahead of time) ends the child quietly. The pipe is closed before user code runs."""
    data = bytearray()
    while True:
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            break
        data += chunk
    os.close(fd)
    if not data:
        os._exit(0)
    request = json.loads(data)
    if not isinstance(request, dict):
        raise ValueError("the request is not a JSON object")
    return request


def exit_code(exc: SystemExit) -> int:
    """The status the interpreter would exit with for this SystemExit."""
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    try:
        print(code, file=sys.stderr)
    except (OSError, ValueError):
        pass
    flush_std()
    return 1


# --- the zygote side ------------------------------------------------------------------------


class Collected:
    """What the zygote saw of one child: its JSON lines and how the wait ended."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.timed_out = False
        self.too_big = False
        self.answered = False  # the job's result line arrived (its exit is not awaited)
        self.cancelled = False  # the client sent {"op": "cancel"} (or went away) meanwhile
        self.status: int | None = None  # A's wait status, once reaped


class Spawned:
    """A sandboxed child forked for a job, maybe ahead of its request (see Zygote.idle_step)."""

    def __init__(self, pid: int, result_fd: int, request_fd: int, tmpdir: str) -> None:
        self.pid = pid
        self.result_fd = result_fd  # we read its JSON lines here
        self.request_fd = request_fd  # the request goes here, then it is closed
        self.tmpdir = tmpdir
        self.limits: dict[str, int] = {}
        self.early = b""  # lines read before the request was sent

    def close_fds(self) -> None:
        for fd in (self.result_fd, self.request_fd):
            if fd >= 0:
                os.close(fd)
        self.result_fd = self.request_fd = -1


class Zygote:
    def __init__(
        self,
        proto: IO[bytes],
        child_mod: types.ModuleType | None,
        job: types.ModuleType | None,
        max_jobs: int,
        cgroup: str | None = None,
        learn: bool = True,
    ) -> None:
        self.proto = proto
        self.child_mod = child_mod
        self.job = job
        self.max_jobs = max_jobs
        self.jobs = 0
        self.cgroup = cgroup  # made by the client (under bubblewrap /sys is read-only)
        self.own_cgroup = False
        self.learn = learn
        self.learned: list[str] = []  # imported for jobs that imported them (PROTOCOL.md)
        self.warmed: list[str] = []
        self.idle_failed: dict[str, str] = {}
        self.idle_work: list[tuple[str, Callable[[], None]]] = []
        if job is not None and hasattr(job, "warm_ups"):
            self.idle_work = [(f"warm:{name}", step) for name, step in job.warm_ups()]
        self.ahead: Spawned | None = None  # a child forked while idle, waiting for a request
        self.reader: LineReader | None = None  # the requests, once serve() runs
        if cgroup is None and child_mod is not None and os.geteuid() == 0:
            child_mod.sweep_cgroups(child_mod.CGROUP_PREFIX)
            self.cgroup = child_mod.create_cgroup(f"{child_mod.CGROUP_PREFIX}{os.getpid()}")
            self.own_cgroup = self.cgroup is not None

    def close(self) -> None:
        self.drop_ahead()
        if self.own_cgroup and self.cgroup is not None and self.child_mod is not None:
            self.child_mod.remove_cgroup(self.cgroup)
            self.cgroup = None

    def send(self, payload: dict[str, Any]) -> None:
        self.proto.write(json.dumps(payload).encode() + b"\n")
        self.proto.flush()

    def serve(self, stdin: IO[bytes]) -> None:
        reader = self.reader = LineReader(stdin.fileno())
        while True:
            line = reader.next(0.0 if self.idle_work or self.ahead is None else None)
            if line is None:  # nothing asked right now: do one step of idle work
                self.idle_step()
                continue
            if not line:
                return  # the client went away
            if not line.strip():
                continue
            try:
                request = json.loads(line)
                if not isinstance(request, dict):
                    raise ValueError("a request is a JSON object")
            except ValueError as exc:
                self.send({"id": None, "status": "error", "detail": f"bad request: {exc}"})
                continue
            op = request.get("op")
            if op == "exit":
                return
            if op == "cancel":
                continue  # it came after the job it meant had ended: nothing to stop
            if op == "ping":
                self.send({"id": request.get("id"), "status": "pong", **self.state()})
            elif op == "script":
                self.jobs += 1
                cleanup = nothing
                try:
                    response, cleanup = self.script(request)
                except (TypeError, ValueError, AttributeError, OSError) as exc:
                    # A malformed request, or no fork/pipe/temp dir to be had right now.
                    detail = f"cannot serve: {type(exc).__name__}: {exc}"
                    response = {"id": request.get("id"), "status": "error", "detail": detail}
                self.send(response)
                cleanup()  # after answering: the client goes on while the child is torn down
                self.learn_from(response)
                if self.jobs >= self.max_jobs:
                    return  # recycle: the client starts a fresh zygote for the next request
            else:
                detail = f"unknown op {op!r}"
                self.send({"id": request.get("id"), "status": "error", "detail": detail})

    def state(self) -> dict[str, Any]:
        return {
            "learned": self.learned,
            "warmed": self.warmed,
            "idle_pending": [name for name, _ in self.idle_work],
            "ahead": self.ahead is not None,
            "idle_failed": self.idle_failed,
            "cuda_initialized": cuda_initialized(),
        }

    def learn_from(self, response: dict[str, Any]) -> None:
        """Queue the installed packages a job imported, to import them here while idle: the
        next job then finds them loaded (timm takes seconds to import; the user's file, a few
        milliseconds). Only names from a job that answered, so their import neither hung nor
        crashed, and did not initialise CUDA (job.py reports none then)."""
        if not self.learn or response.get("status") != "done":
            return
        queued = {name for name, _ in self.idle_work}
        for name in response.get("imported") or []:
            if (
                isinstance(name, str)
                and name not in sys.modules
                and name not in queued
                and f"import:{name}" not in self.idle_failed
            ):
                self.idle_work.insert(0, (f"import:{name}", importer(name)))
                queued.add(name)

    def idle_step(self) -> None:
        """One step of idle work; the last is forking the next job's sandboxed child, which
        then waits for its request (0.03-0.05 s of three forks and the sandbox set-up, off the
        job's path). A step that fails is recorded and never retried; one that initialises
        CUDA ends the zygote, since its children could no longer use the GPU (the client then
        starts a fresh one, without learning)."""
        if not self.idle_work:
            try:
                self.ahead = self.spawn(default_limits())
                # Its first line says the sandbox is up (and the chain is named tscheck-idle).
                self.ahead.early = read_first_line(self.ahead.result_fd, AHEAD_READY_S)
            except OSError as exc:  # no fork or temp dir right now: fork per request then
                self.idle_failed["fork_ahead"] = f"{type(exc).__name__}: {exc}"
                self.ahead = None
            return
        name, step = self.idle_work.pop(0)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                step()
        except BaseException as exc:  # a package may sys.exit or worse at import
            self.idle_failed[name] = f"{type(exc).__name__}: {exc}"[:300]
        else:
            kind, _, what = name.partition(":")
            (self.learned if kind == "import" else self.warmed).append(what)
        if cuda_initialized():
            print(f"tscheck worker: {name} initialised CUDA; exiting", file=sys.stderr)
            raise SystemExit(0)

    def script(self, request: dict[str, Any]) -> tuple[dict[str, Any], Callable[[], None]]:
        limits = default_limits()
        limits.update({k: int(v) for k, v in (request.get("limits") or {}).items()})
        timeout = float(request.get("timeout_s") or DEFAULT_TIMEOUT_S)
        base: dict[str, Any] = {"id": request.get("id"), "layers": [], "stdout": "", "stderr": ""}
        line = json.dumps(request).encode()
        spawned = self.take_ahead(limits)
        started = time.monotonic()
        if spawned is not None and not send_request(spawned, line):
            self.finish(spawned, None)  # it died while waiting: fork a fresh one
            spawned = None
        if spawned is None:
            try:
                spawned = self.spawn(limits)
            except OSError as exc:
                failed = {**base, "status": "error", "detail": f"cannot fork: {exc}"}
                return {**failed, "elapsed_s": 0}, nothing
            started = time.monotonic()
            send_request(spawned, line)  # if it died at once, collect() tells how
        try:
            response, seen = self.run_child(spawned, limits, timeout, started)
        except BaseException:
            self.finish(spawned, None)
            raise
        if not seen.answered:
            self.finish(spawned, seen)  # the verdict rests on how the child ended
        response = {**base, **response, **verdict(seen, limits, timeout)}

        def cleanup() -> None:
            if seen.answered:
                self.finish(spawned, seen)

        return response, cleanup

    def spawn(self, limits: dict[str, int]) -> Spawned:
        """Fork a sandboxed child that waits for its request on a pipe."""
        tmpdir = tempfile.mkdtemp(prefix="tscheck-job-")
        if self.cgroup is not None and self.child_mod is not None:
            self.child_mod.set_cgroup_limit(self.cgroup, limits["nproc"])
        result_read, result_write = os.pipe()
        request_read, request_write = os.pipe()
        flush_std()
        zygote_pid = os.getpid()
        # Everything the zygote holds is moved out of the collector's sight: a full collection
        # in the child would otherwise walk torch's ~170k objects (0.09 s of a 0.45 s job) and
        # touch every page they live on, copying it.
        gc.freeze()
        pid = fork()
        if pid == 0:
            try:
                os.close(result_read)
                os.close(request_write)
                child = Child(
                    request_read,
                    limits,
                    tmpdir,
                    result_write,
                    self.child_mod,
                    self.job,
                    self.cgroup,
                )
                child.main(zygote_pid, close_fds=[self.proto.fileno()])
            finally:
                os._exit(FATAL_EXIT)  # never return into the zygote's loop
        os.close(result_write)
        os.close(request_read)
        try:
            os.setpgid(pid, pid)  # also here: no race with a kill before the child ran
        except OSError:
            pass
        spawned = Spawned(pid, result_read, request_write, tmpdir)
        spawned.limits = dict(limits)
        return spawned

    def take_ahead(self, limits: dict[str, int]) -> Spawned | None:
        """The child forked ahead, if it was made with these limits and still waits."""
        ahead, self.ahead = self.ahead, None
        if ahead is None:
            return None
        if ahead.limits == limits and os.waitpid(ahead.pid, os.WNOHANG)[0] == 0:
            return ahead
        self.finish(ahead, None)
        return None

    def drop_ahead(self) -> None:
        ahead, self.ahead = self.ahead, None
        if ahead is not None:
            self.finish(ahead, None)

    def finish(self, spawned: Spawned, seen: Collected | None) -> None:
        """Kill what is left of a child (and of whatever the job started), reap it, remove its
        temp dir. After an answered job this runs once the response is sent."""
        self.kill_tree(spawned.pid)  # before reaping: a zombie leader keeps its group id
        status = reap(spawned.pid)
        if seen is not None and seen.status is None:
            seen.status = status
        spawned.close_fds()
        shutil.rmtree(spawned.tmpdir, ignore_errors=True)

    def run_child(
        self, spawned: Spawned, limits: dict[str, int], timeout: float, started: float
    ) -> tuple[dict[str, Any], Collected]:
        """Wait for the child's answer, or its end, or the deadline."""
        seen = self.collect(spawned.pid, spawned.result_fd, started + timeout, spawned.early)
        response: dict[str, Any] = {"elapsed_s": round(time.monotonic() - started, 4)}
        size = limits["output_kb"] * 1024
        # The job flushed both before sending its result: the tails are complete.
        response["stdout"] = tail(os.path.join(spawned.tmpdir, "stdout.txt"), size)
        response["stderr"] = tail(os.path.join(spawned.tmpdir, "stderr.txt"), size)
        return response, seen

    def kill_tree(self, pid: int) -> None:
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass
        if self.cgroup is not None and self.child_mod is not None:
            self.child_mod.kill_cgroup(self.cgroup)  # processes that left the group (setsid)

    def collect(self, pid: int, read_fd: int, deadline: float, early: bytes = b"") -> Collected:
        """Read the child's lines until it exits or the deadline passes. The child's exit,
        not EOF, ends the wait: a process the job forked may hold the pipe open forever."""
        seen = Collected()
        seen.data += early
        pidfd = open_pidfd(pid)
        reading = True
        # The client may cancel the job (a newer edit in the editor): watch for its line.
        requests = self.reader.fd if self.reader is not None else None
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen.timed_out = True
                    return seen
                fds = ([read_fd] if reading else []) + ([pidfd] if pidfd is not None else [])
                if requests is not None:
                    fds.append(requests)
                wait = remaining if pidfd is not None else min(remaining, 0.02)
                # A cancel sent right after its request may already sit in the reader's buffer.
                waiting = requests is not None and self.reader is not None and self.reader.ready()
                ready, _, _ = select.select(fds, [], [], 0.0 if waiting else wait)
                if requests is not None and (waiting or requests in ready):
                    arrived = self.client_line()
                    if arrived == "cancel":
                        seen.cancelled = True
                        return seen
                    if arrived == "other":
                        requests = None  # it waits for the request loop: stop watching
                if read_fd in ready:
                    chunk = os.read(read_fd, 1 << 16)
                    reading = bool(chunk)
                    seen.data += chunk
                    if len(seen.data) > MAX_RESULT_BYTES:
                        seen.too_big = True
                        return seen
                    if b"\n" in chunk and answered(seen.data):
                        # The job exits right after its result (os._exit, nothing of the
                        # user's runs): its teardown is not worth waiting for.
                        seen.answered = True
                        return seen
                if (pidfd in ready) if pidfd is not None else exited(pid, seen):
                    drain(read_fd, seen)
                    return seen
        finally:
            if pidfd is not None:
                os.close(pidfd)

    def client_line(self) -> str:
        """What arrived on stdin during a job: "cancel" (a cancel request, or EOF: the client
        is gone), "partial" (no whole line yet) or "other" (left for the request loop)."""
        assert self.reader is not None
        line = self.reader.next(0.0)
        if line is None:
            return "partial"
        if not line:
            return "cancel"
        try:
            request = json.loads(line)
        except ValueError:
            request = None
        if isinstance(request, dict) and request.get("op") == "cancel":
            return "cancel"
        self.reader.buffer = line + self.reader.buffer
        return "other"


def open_pidfd(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid)  # Linux 5.3+, Python 3.9+
    except (AttributeError, OSError):
        return None


def exited(pid: int, seen: Collected) -> bool:
    """Without a pidfd: poll (this reaps the child, so the status is kept)."""
    done, status = os.waitpid(pid, os.WNOHANG)
    if done == pid:
        seen.status = status
    return done == pid


def drain(read_fd: int, seen: Collected) -> None:
    os.set_blocking(read_fd, False)
    while len(seen.data) <= MAX_RESULT_BYTES:
        try:
            chunk = os.read(read_fd, 1 << 16)
        except BlockingIOError:
            return
        if not chunk:
            return
        seen.data += chunk


def reap(pid: int) -> int | None:
    """Wait for a child we already SIGKILLed; None if it will not die (stuck in the kernel,
    say in a GPU driver call): then it stays a zombie rather than hang the zygote."""
    deadline = time.monotonic() + REAP_WAIT_S
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return status
        if time.monotonic() > deadline:
            return None
        time.sleep(0.002)


def nothing() -> None:
    pass


def default_limits() -> dict[str, int]:
    return dict(DEFAULT_LIMITS)


def read_first_line(fd: int, wait: float) -> bytes:
    """Up to the child's first newline (byte by byte: nothing after it is consumed), or what
    came before `wait` seconds passed or the pipe closed."""
    data = b""
    deadline = time.monotonic() + wait
    while not data.endswith(b"\n"):
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            break
        byte = os.read(fd, 1)
        if not byte:
            break
        data += byte
    return data


def send_request(spawned: Spawned, line: bytes) -> bool:
    """Hand the request to the waiting child; False if it is gone (EPIPE)."""
    try:
        write_all(spawned.request_fd, line)
    except OSError:
        return False
    finally:
        os.close(spawned.request_fd)
        spawned.request_fd = -1
    return True


def answered(data: bytes | bytearray) -> bool:
    """Whether the job's complete, usable result line is among the child's lines."""
    lines, broken = parse_lines(bytes(data))
    result = lines.get("result")
    return broken is None and result is not None and not result.get("fatal")


def importer(name: str) -> Callable[[], None]:
    def step() -> None:
        importlib.import_module(name)

    return step


def cuda_initialized() -> bool:
    """Read torch.cuda's flag without calling into torch.cuda (a preload may have done it)."""
    module = sys.modules.get("torch.cuda")
    return bool(getattr(module, "_initialized", False))


class LineReader:
    """Lines from a pipe, with a timeout: the zygote works while idle, so it must know whether a
    request is waiting without blocking on it (a buffered readline could not tell)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buffer = b""

    def ready(self) -> bool:
        """Whether a whole line is already buffered."""
        return b"\n" in self.buffer

    def next(self, timeout: float | None) -> bytes | None:
        """The next line (b"" at EOF), or None if none arrives within `timeout` seconds."""
        while b"\n" not in self.buffer:
            ready, _, _ = select.select([self.fd], [], [], timeout)
            if not ready:
                return None
            chunk = os.read(self.fd, 1 << 16)
            if not chunk:
                rest, self.buffer = self.buffer, b""
                return rest
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line + b"\n"


def parse_lines(data: bytes) -> tuple[dict[str, dict[str, Any]], str | None]:
    """The child's lines by kind (the first of each kind wins), or a description of the first
    line that is not a JSON object."""
    found: dict[str, dict[str, Any]] = {}
    for raw in data.splitlines():
        if not raw.strip():
            continue
        try:
            line = json.loads(raw)
        except ValueError as exc:
            return found, f"invalid result line ({exc}): {raw[:200]!r}"
        if not isinstance(line, dict):
            return found, f"invalid result line: {raw[:200]!r}"
        found.setdefault(str(line.get("kind")), line)
    return found, None


def verdict(seen: Collected, limits: dict[str, int], timeout: float) -> dict[str, Any]:
    lines, broken = parse_lines(bytes(seen.data))
    layers = list(lines.get("layers", {}).get("layers") or [])
    result = lines.get("result")
    # The job's own status: from the namespace's init when there is one, else the child's.
    status = lines.get("status") or ({} if seen.status is None else wait_status(seen.status))

    def answer(state: str, detail: str) -> dict[str, Any]:
        out: dict[str, Any] = {"status": state, "detail": detail, "layers": layers}
        out["import_error"] = (result or {}).get("import_error")
        out["results"] = (result or {}).get("results") or []
        out["imported"] = (result or {}).get("imported") or []
        return out

    if seen.cancelled:
        return answer("cancelled", "cancelled by the client; the job was killed")
    if seen.timed_out:
        return answer("timeout", f"killed after {timeout:g} s")
    if seen.too_big:
        return answer("error", f"result larger than {MAX_RESULT_BYTES >> 20} MB")
    if seen.answered and result is not None:  # judged by its result alone (see collect)
        return classify_result(result, limits, answer)
    if seen.status is None:
        return answer("error", "the child did not exit after SIGKILL")
    if os.WIFSIGNALED(seen.status) and "status" not in lines:
        return answer("crashed", describe_signal(os.WTERMSIG(seen.status), limits))
    if broken is not None:
        return answer("error", broken)
    if result is not None and result.get("fatal"):
        return answer("error", str(result["fatal"]))
    if "signal" in status:
        return answer("crashed", describe_signal(int(status["signal"]), limits))
    code = int(status.get("exit", 0))
    if code != 0 or result is None:
        return answer("exited", f"exit code {code}" + (" without a result" if code == 0 else ""))
    return classify_result(result, limits, answer)


def classify_result(
    result: dict[str, Any],
    limits: dict[str, int],
    answer: Callable[[str, str], dict[str, Any]],
) -> dict[str, Any]:
    """A clean result can still say the job was stopped by the sandbox: MemoryError is the data
    limit; SystemExit caught by job.run is an exit."""
    memory = f"memory limit (RLIMIT_DATA {limits['data_mb']} MB)"
    if result.get("memory_error"):
        return answer("crashed", f"{memory}: {result['memory_error']}")
    problem = result.get("import_error")
    if isinstance(problem, dict):
        kind, message = str(problem.get("type")), str(problem.get("message") or "")
        if kind == "SystemExit":
            code = message if message.lstrip("-").isdigit() else "1"
            if message in ("", "None"):
                code = "0"
            return answer("exited", f"exit code {int(code) & 0xFF} (sys.exit)")
        if kind == "MemoryError" or "can't allocate memory" in message:
            return answer("crashed", f"{memory}: {kind}: {message}".rstrip(": "))
    return answer("done", "")


# --- start-up -------------------------------------------------------------------------------


def protocol_stream() -> IO[bytes]:
    """Keep the real stdout for protocol lines only; fd 1 becomes stderr, so that anything
    torch, a preloaded package or a warning prints cannot corrupt the protocol."""
    proto = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    return proto


def import_torch() -> tuple[Any, float]:
    # Never initialise CUDA here (a forked child could not use it): torch.cuda.is_available()
    # in a preloaded package would, unless it is answered through NVML.
    os.environ.setdefault("PYTORCH_NVML_BASED_CUDA_CHECK", "1")
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's import-time warnings must not fail -W error
        import torch
    return torch, time.perf_counter() - started


def preload(names: list[str]) -> tuple[list[str], dict[str, str]]:
    loaded: list[str] = []
    failed: dict[str, str] = {}
    for name in names:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                importlib.import_module(name)
            loaded.append(name)
        except BaseException as exc:  # a package may sys.exit or worse at import
            failed[name] = f"{type(exc).__name__}: {exc}"
    return loaded, failed


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="worker.py")
    parser.add_argument("--preload", default=os.environ.get(PRELOAD_ENV, ""))
    parser.add_argument("--max-jobs", type=int, default=DEFAULT_MAX_JOBS)
    parser.add_argument("--job", default=None, help="job.py to use (tests)")
    parser.add_argument("--cgroup", default=None, help="a pids cgroup made for us")
    parser.add_argument("--no-learn", action="store_true", help="never import what jobs import")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    proto = protocol_stream()
    args = parse_args(argv)
    sys.dont_write_bytecode = True  # never write .pyc into the user's tree (and F5: stale .pyc)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the client decides when we stop
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # so that cleanup runs
    hello: dict[str, Any] = {"protocol": PROTOCOL, "python": platform.python_version()}
    try:
        torch, import_s = import_torch()
    except BaseException as exc:
        hello["error"] = f"cannot import torch: {type(exc).__name__}: {exc}"
        proto.write(json.dumps(hello).encode() + b"\n")
        proto.flush()
        return 2
    names = [n.strip() for n in args.preload.split(",") if n.strip()]
    loaded, failed = preload(names)
    child_mod = load_sibling("child")
    job = load_sibling("job", args.job)
    zygote = Zygote(proto, child_mod, job, max(1, args.max_jobs), args.cgroup, not args.no_learn)
    hello.update(
        torch=str(torch.__version__),
        pid=os.getpid(),
        layers=[],
        preloaded=loaded,
        preload_failed=failed,
        import_s=round(import_s, 3),
        cuda_initialized=cuda_initialized(),
        job=None if job is None else job.__file__,
        max_jobs=zygote.max_jobs,
    )
    try:
        zygote.send(hello)
        zygote.serve(sys.stdin.buffer)
    except BrokenPipeError:
        pass  # the client is gone
    finally:
        zygote.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
