"""tscheck's side of the verifier: starts the zygote (worker.py) and talks to it.

    with Zygote(python="/venv/bin/python", preload=["timm"]) as zygote:
        response = zygote.request({"op": "script", "file": ..., ...}, timeout=30)

The zygote runs in the configured interpreter (default: this one), inside bubblewrap where the
machine allows (sandbox.py). Every response carries the sandbox layers: the outer ones
(bubblewrap) and those the job's child applied (child.py). A zygote that died (a recycle after
`max_jobs` jobs, or anything else) is restarted once per request; one that cannot start raises
VerifierUnavailable naming the interpreter and the reason. Not thread-safe: one request at a time.
"""

from __future__ import annotations

import itertools
import json
import os
import select
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Iterable, Mapping, Sequence
from types import TracebackType
from typing import IO, Any

from tscheck.verify import child, sandbox

PROTOCOL = 1
START_TIMEOUT_S = 60.0  # import torch: ~1 s warm, far more from a cold disk or a network FS
GRACE_S = 15.0  # on top of the job's own timeout, which the zygote enforces
DEFAULT_JOB_TIMEOUT_S = 30.0
STDERR_TAIL = 2000


_CGROUPS = itertools.count(1)


# How often a wait for an answer looks at `Zygote.interrupt`.
CANCEL_POLL_S = 0.05


class VerifierUnavailable(RuntimeError):
    """The verifier cannot run: the interpreter is missing, lacks torch, or fails to start."""


class _Died(Exception):
    """The zygote closed its stdout or answered something that is not protocol."""


class Zygote:
    def __init__(
        self,
        python: str | None = None,
        *,
        preload: Sequence[str] = (),
        sandbox_mode: str = "auto",
        binds: Iterable[str] = (),
        max_jobs: int | None = None,
        start_timeout: float = START_TIMEOUT_S,
        worker_args: Sequence[str] = (),
    ) -> None:
        """`python`: the interpreter to verify with (default: this one). `sandbox_mode`:
        "auto" (bubblewrap when it works), "bwrap" (required) or "none". `binds`: paths the
        jobs will read that may live under /tmp (found from requests too, at the cost of a
        restart). `worker_args`: extra worker.py arguments (tests: `--job PATH`)."""
        self.python = python or sys.executable
        self.preload = tuple(preload)
        self.sandbox_mode = sandbox_mode
        self.binds = set(sandbox.tmp_binds(binds))
        self.start_timeout = start_timeout
        self.worker_args = list(worker_args)
        if max_jobs is not None:
            self.worker_args += ["--max-jobs", str(max_jobs)]
        self.hello: dict[str, Any] = {}
        self.layers: list[str] = []  # outer layers of the running zygote
        self.restarts = 0  # zygotes started after the first (deaths, recycles, new binds)
        self.bwrap_error = ""  # why "auto" fell back to running without bubblewrap
        # The zygote imports what jobs imported from installed packages (PROTOCOL.md); after
        # it died or stopped answering, its successors do not, in case that import was why.
        self.learn = True
        # Set by the thread that uses this zygote to a verification's cancel flag: once the
        # flag is set, a job in flight is killed and further script requests are not sent.
        self.interrupt: threading.Event | None = None
        self._cancel_sent = False
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None
        self._buffer = bytearray()
        self._ids = itertools.count(1)
        self._cgroup: str | None = None
        self._drop_cgroup: weakref.finalize[[str], Zygote] | None = None

    # --- life cycle ---------------------------------------------------------------------------

    def __enter__(self) -> Zygote:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def pid(self) -> int | None:
        """The process tscheck started (bwrap's, under bubblewrap); None when not running."""
        return self._proc.pid if self.alive() and self._proc is not None else None

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> dict[str, Any]:
        """Start the zygote unless it runs; return its hello. Raises VerifierUnavailable."""
        if self.alive():
            return self.hello
        if self.hello:
            self.restarts += 1
        self.hello = {}
        mode = self.sandbox_mode
        try:
            return self._start(mode)
        except VerifierUnavailable as error:
            if mode != "auto" or self.layers != ["bubblewrap"]:
                raise
            # bubblewrap probed fine but this start failed in it: try once without, say why.
            self.bwrap_error = str(error)
            return self._start("none")

    def _start(self, mode: str) -> dict[str, Any]:
        self._stop()
        try:
            cgroup = self._pids_cgroup() if mode != "none" else None
            argv, self.layers = sandbox.launch(
                self.python,
                self.preload,
                mode,
                self.binds,
                self.worker_args + ([] if self.learn else ["--no-learn"]),
                cgroup,
            )
        except OSError as exc:
            raise VerifierUnavailable(f"cannot sandbox the verifier: {exc}") from exc
        self._stderr = tempfile.TemporaryFile(prefix="tscheck-zygote-")
        try:
            self._proc = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._stderr,
                bufsize=0,
                cwd="/",
                start_new_session=True,  # a Ctrl-C in tscheck's terminal is tscheck's to handle
            )
        except OSError as exc:
            self._stop()
            raise VerifierUnavailable(
                f"cannot start the verifier with {self.python}: {exc}"
            ) from exc
        self.hello = self._read_hello(time.monotonic() + self.start_timeout)
        self.hello["layers"] = list(self.layers)
        return self.hello

    def _read_hello(self, deadline: float) -> dict[str, Any]:
        try:
            line = self._read_line(deadline)
        except TimeoutError:
            self._stop()
            raise VerifierUnavailable(
                f"{self.python} did not start the verifier within {self.start_timeout:g} s"
                f"{self._stderr_tail()}"
            ) from None
        except _Died:
            code = self._proc.wait() if self._proc is not None else None
            tail = self._stderr_tail()
            self._stop()
            raise VerifierUnavailable(
                f"{self.python} exited (code {code}) before the verifier started{tail}"
            ) from None
        try:
            hello = json.loads(line)
        except ValueError:
            hello = None
        if not isinstance(hello, dict):
            self._stop()
            raise VerifierUnavailable(f"{self.python}: not a verifier hello: {line[:200]!r}")
        if hello.get("error"):
            self._stop()
            raise VerifierUnavailable(f"{self.python} cannot run the verifier: {hello['error']}")
        if hello.get("protocol") != PROTOCOL:
            self._stop()
            raise VerifierUnavailable(
                f"{self.python}: verifier protocol {hello.get('protocol')}, expected {PROTOCOL}"
            )
        return hello

    def _pids_cgroup(self) -> str | None:
        """Root is exempt from RLIMIT_NPROC, and bubblewrap leaves /sys read-only: so the
        client makes the jobs' pids cgroup (once per Zygote) and binds it in."""
        if self._cgroup is not None or os.geteuid() != 0 or sandbox.bwrap() is None:
            return self._cgroup
        child.sweep_cgroups(child.CGROUP_PREFIX)
        name = f"{child.CGROUP_PREFIX}{os.getpid()}-{next(_CGROUPS)}"
        self._cgroup = child.create_cgroup(name)
        if self._cgroup is not None:
            # Removed by close(), or when this object is collected, or at exit.
            self._drop_cgroup = weakref.finalize(self, child.remove_cgroup, self._cgroup)
        return self._cgroup

    def close(self) -> None:
        """Ask the zygote to exit; kill it if it does not within 2 s."""
        if self.alive() and self._proc is not None and self._proc.stdin is not None:
            try:
                self._proc.stdin.write(b'{"op": "exit"}\n')
                self._proc.stdin.close()
                self._proc.wait(2.0)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self._stop()
        if self._drop_cgroup is not None:
            self._drop_cgroup()  # runs once, here or at collection
            self._cgroup = self._drop_cgroup = None

    def _stop(self) -> None:
        proc, self._proc = self._proc, None
        self._buffer.clear()
        if proc is not None:
            if proc.poll() is None:
                proc.kill()  # bwrap --die-with-parent takes the sandbox down with it
            proc.wait()
            for stream in (proc.stdin, proc.stdout):
                if stream is not None:
                    try:
                        stream.close()
                    except OSError:
                        pass
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    # --- requests -----------------------------------------------------------------------------

    def ping(self, timeout: float = 10.0) -> bool:
        return self.request({"op": "ping"}, timeout).get("status") == "pong"

    def request(self, message: Mapping[str, Any], timeout: float | None = None) -> dict[str, Any]:
        """Send one request, return its response (with "layers"). For a script request,
        `timeout` is the job's wall-clock limit unless the message sets `timeout_s`; the answer
        is awaited that long plus a grace period. Raises VerifierUnavailable if no zygote starts."""
        msg = dict(message)
        msg.setdefault("id", next(self._ids))
        op = msg.get("op")
        if op == "exit":
            self.close()
            return {"id": msg["id"], "status": "exited", "layers": list(self.layers)}
        if op == "script":
            if self.interrupt is not None and self.interrupt.is_set():
                return {**self._error(msg, "cancelled before it started"), "status": "cancelled"}
            if msg.get("timeout_s") is None:
                msg["timeout_s"] = timeout or DEFAULT_JOB_TIMEOUT_S
            wait = max(float(msg["timeout_s"]), timeout or 0.0) + GRACE_S
            self._cover([str(msg.get("file") or ""), *map(str, msg.get("sys_path") or [])])
        else:
            wait = timeout or GRACE_S
        return self._exchange(msg, wait)

    def _exchange(self, msg: dict[str, Any], wait: float) -> dict[str, Any]:
        line = json.dumps(msg).encode() + b"\n"
        for attempt in range(2):
            self.start()
            try:
                self._cancel_sent = False
                self._send(line)
                response = self._receive(msg["id"], time.monotonic() + wait)
            except _Died:
                tail = self._stderr_tail()
                self.learn = self.learn and self._recycled(tail)
                self._stop()
                if attempt == 0:
                    continue
                detail = f"the verifier died twice while serving this request{tail}"
                return self._error(msg, detail)
            except TimeoutError:
                self.learn = False
                self._stop()  # a zygote that stopped answering is replaced by the next request
                return self._error(msg, f"no answer from the verifier within {wait:g} s")
            response["layers"] = list(dict.fromkeys([*self.layers, *response.get("layers", [])]))
            return response
        raise AssertionError("unreachable")

    def _recycled(self, tail: str) -> bool:
        """Whether the zygote ended on purpose (after max_jobs): exit status 0, nothing on
        stderr about CUDA."""
        proc = self._proc
        code = proc.poll() if proc is not None else None
        if code is None and proc is not None:
            try:
                code = proc.wait(1.0)
            except subprocess.TimeoutExpired:
                return False
        return code == 0 and "initialised CUDA" not in tail

    def _error(self, msg: Mapping[str, Any], detail: str) -> dict[str, Any]:
        return {
            "id": msg.get("id"),
            "status": "error",
            "detail": detail,
            "layers": list(self.layers),
            "import_error": None,
            "results": [],
        }

    def _cover(self, paths: Sequence[str]) -> None:
        """Under bubblewrap, code under /tmp is invisible unless bound: bind it and restart."""
        needed = sandbox.tmp_binds(p for p in paths if p) - self.binds
        if needed:
            self.binds |= needed
            if "bubblewrap" in self.layers and self.alive():
                self._stop()  # the next exchange starts a zygote that sees them

    def _send(self, line: bytes) -> None:
        assert self._proc is not None and self._proc.stdin is not None
        try:
            self._proc.stdin.write(line)
            self._proc.stdin.flush()
        except OSError as exc:  # BrokenPipeError: it exited (a recycle, or a crash)
            raise _Died from exc

    def _receive(self, wanted: Any, deadline: float) -> dict[str, Any]:
        while True:
            raw = self._read_line(deadline)
            try:
                response = json.loads(raw)
            except ValueError as exc:
                raise _Died from exc
            if isinstance(response, dict) and response.get("id") == wanted:
                return response
            # Anything else is a stale answer to an abandoned request: skip it.

    def _read_line(self, deadline: float) -> bytes:
        """One line from the zygote's stdout, or TimeoutError at the deadline; _Died at EOF."""
        assert self._proc is not None and self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            interrupt = self.interrupt
            if interrupt is not None and not self._cancel_sent:
                if interrupt.is_set():
                    # The zygote kills the job and answers it with status "cancelled".
                    self._cancel_sent = True
                    self._send(b'{"op": "cancel"}\n')
                    continue
                remaining = min(remaining, CANCEL_POLL_S)
            ready, _, _ = select.select([fd], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                raise _Died
            self._buffer += chunk
        line, _, rest = bytes(self._buffer).partition(b"\n")
        self._buffer[:] = rest
        return line

    def _stderr_tail(self) -> str:
        if self._stderr is None:
            return ""
        try:
            self._stderr.seek(0, os.SEEK_END)
            self._stderr.seek(max(0, self._stderr.tell() - STDERR_TAIL))
            text = self._stderr.read().decode("utf-8", "replace").strip()
        except (OSError, ValueError):
            return ""
        return f": {text}" if text else ""
