"""The sandbox around the whole zygote: which layers this machine allows, and the command line.

bubblewrap, where it exists and works (probed once per process): new namespaces for everything
(network, PID, IPC, UTS, user where possible), the whole filesystem read-only, a private /tmp,
the GPU's device nodes passed through. `--tmpfs /tmp` hides whatever lives under /tmp, so a
venv, a tscheck install or a project there is bound back, read-only. Without bubblewrap the
zygote runs plainly and each job still gets child.py's layers.
"""

from __future__ import annotations

import functools
import glob
import os
import shutil
import subprocess
from collections.abc import Iterable, Sequence

WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "worker.py")
TMP = "/tmp"
BWRAP_BASE = (
    "--unshare-all",
    "--die-with-parent",
    "--ro-bind",
    "/",
    "/",
    "--dev",
    "/dev",
    "--proc",
    "/proc",
)
PROBE_TIMEOUT_S = 10.0
MODES = ("auto", "bwrap", "none")


@functools.lru_cache(maxsize=1)
def bwrap() -> str | None:
    """The bwrap binary, if it exists and can build our sandbox here (Docker's default
    profile, for one, forbids the namespaces it needs)."""
    path = shutil.which("bwrap")
    if path is None:
        return None
    probe = [path, *BWRAP_BASE, "--tmpfs", TMP, "true"]
    try:
        done = subprocess.run(
            probe,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=PROBE_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return path if done.returncode == 0 else None


def interpreter_roots(python: str) -> list[str]:
    """Folders the interpreter needs: its prefix (a venv) and, through symlinks, its base."""
    found = shutil.which(python) or python
    roots = []
    for path in (os.path.abspath(found), os.path.realpath(found)):
        folder = os.path.dirname(path)
        roots.append(os.path.dirname(folder) if os.path.basename(folder) == "bin" else folder)
    return roots


def tmp_binds(paths: Iterable[str]) -> set[str]:
    """The top-level entries of /tmp holding `paths` (one bind per entry keeps the command
    short: pytest's /tmp/pytest-of-<user> covers every test's folder), or /tmp itself."""
    binds: set[str] = set()
    for path in paths:
        for candidate in {os.path.abspath(path), os.path.realpath(path)}:
            if candidate == TMP:
                binds.add(TMP)
            elif candidate.startswith(TMP + os.sep):
                top = candidate[len(TMP) + 1 :].split(os.sep, 1)[0]
                binds.add(os.path.join(TMP, top))
    return binds


def gpu_devices() -> list[str]:
    return sorted(glob.glob("/dev/nvidia*"))


def bwrap_command(
    binary: str, argv: Sequence[str], binds: Iterable[str], cgroup: str | None = None
) -> list[str]:
    command = [binary, *BWRAP_BASE, "--new-session"]  # new session: no TIOCSTI, no Ctrl-C
    binds = sorted(set(binds))
    if TMP in binds:
        # Code in /tmp itself: keep /tmp visible (read-only); jobs write under /dev/shm,
        # which --dev makes a private tmpfs.
        command += ["--ro-bind", TMP, TMP, "--setenv", "TMPDIR", "/dev/shm"]
    else:
        command += ["--tmpfs", TMP, "--setenv", "TMPDIR", TMP]
        for path in binds:
            command += ["--ro-bind", path, path]
    for device in gpu_devices():
        command += ["--dev-bind-try", device, device]
    if cgroup is not None:
        command += ["--bind", cgroup, cgroup]
        argv = [*argv, "--cgroup", cgroup]
    return [*command, "--chdir", "/", "--", *argv]


def worker_argv(python: str, preload: Sequence[str], extra: Sequence[str] = ()) -> list[str]:
    argv = [python, "-I", "-X", "utf8", WORKER]
    if preload:
        argv += ["--preload", ",".join(preload)]
    return [*argv, *extra]


def launch(
    python: str,
    preload: Sequence[str],
    mode: str,
    binds: Iterable[str],
    extra: Sequence[str] = (),
    cgroup: str | None = None,
) -> tuple[list[str], list[str]]:
    """The command that starts the zygote, and the outer layers it will run under. `cgroup`:
    a pids cgroup for the jobs, bound into bubblewrap (root's only process-count limit)."""
    if mode not in MODES:
        raise ValueError(f"sandbox mode {mode!r}: expected one of {', '.join(MODES)}")
    argv = worker_argv(python, preload, extra)
    binary = bwrap() if mode != "none" else None
    if binary is None:
        if mode == "bwrap":
            raise OSError("bubblewrap (bwrap) is not installed or cannot create namespaces here")
        return argv, []
    needed = tmp_binds([*interpreter_roots(python), os.path.dirname(WORKER), *binds])
    return bwrap_command(binary, argv, needed, cgroup), ["bubblewrap"]
