"""Sandbox layers applied inside a verification child, after the zygote forked it.

Standard library only: worker.py loads this file by path in the user's interpreter, where tscheck
itself need not be installed. `apply(limits, tmpdir)` applies every layer the kernel allows and
returns the names of those that really took effect (each is checked after it is applied):

- `pids_cgroup`: the child joins a pids cgroup capped at `limits["nproc"]` tasks (root only: the
  kernel exempts uid 0 from RLIMIT_NPROC, so for root this is the only process-count limit).
- `private_tmp`: cwd, HOME, TMPDIR are a fresh temp dir that the zygote removes afterwards.
- `scrubbed_env`: only an allow-list of variables survives (see `KEEP`), minus anything that
  looks like a credential.
- `no_network`: a new network namespace (only a loopback that is down: connect() fails with
  ENETUNREACH); unprivileged users get one through a user namespace.
- `read_only_fs`: a mount namespace where every mount is read-only except the temp dir and a
  fresh /dev/shm.
- `pid_namespace`: the child's children live in a new PID namespace (worker.py then runs the job
  as pid 2 under a tiny init): user code can signal neither the zygote nor anything outside, and
  every process it leaves behind dies with that init.
- `rlimits`: CPU seconds, data size (not RLIMIT_AS: CUDA reserves huge address ranges), file
  size, no core dumps. `nproc`: RLIMIT_NPROC, reported only where the kernel enforces it (not
  for root, nor with CAP_SYS_RESOURCE / CAP_SYS_ADMIN).
- `drop_caps`: every capability dropped (bounding, ambient, effective, permitted), so that root
  cannot undo the namespaces or raise the limits again.
- `no_new_privs`: PR_SET_NO_NEW_PRIVS, so no setuid binary or file capability regains privileges.
"""

from __future__ import annotations

import ctypes
import os
import re
import resource
import signal
import tempfile
import time

# Linux constants (uapi headers); stable ABI, the same on x86_64 and aarch64.
CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 0x40000
AT_FDCWD = -100
AT_RECURSIVE = 0x8000
MOUNT_ATTR_RDONLY = 0x1
SYS_MOUNT_SETATTR = 442  # same number on every architecture (added after the tables merged)
PR_SET_PDEATHSIG = 1
PR_SET_NAME = 15
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_GET_NO_NEW_PRIVS = 39
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
LINUX_CAPABILITY_VERSION_3 = 0x20080522
CAP_SYS_ADMIN = 21
CAP_SYS_RESOURCE = 24

CGROUP_PREFIX = "tscheck-verify-"  # + the pid of the process that made it (stale ones swept)

# Environment: what user code may see. PYTHON* is dropped: the zygote runs with -I, so those
# variables never shaped it, and user subprocesses should match it. Thread counts, locale and
# the CUDA/torch runtime switches change behaviour, so they stay.
KEEP = frozenset(
    {
        "PATH",
        "LANG",
        "LANGUAGE",
        "TZ",
        "LD_LIBRARY_PATH",
        "VIRTUAL_ENV",
        "CONDA_PREFIX",
        "NVIDIA_VISIBLE_DEVICES",
        "NVIDIA_DRIVER_CAPABILITIES",
    }
)
KEEP_PREFIXES = ("LC_", "CUDA_", "CUDNN_", "PYTORCH_", "TORCH_", "OMP_", "MKL_", "OPENBLAS_")
SECRET = re.compile(r"TOKEN|SECRET|PASSW|CREDENTIAL|AUTH|COOKIE|SESSION|(^|_)KEY($|_)", re.I)

_libc = ctypes.CDLL(None, use_errno=True)


def apply(limits: dict[str, int], tmpdir: str, cgroup: str | None = None) -> list[str]:
    """Apply every layer the kernel allows, in the order their privileges require; return the
    names of the layers in effect. Never raises for a layer that is unavailable. `limits`: the
    full set (worker.DEFAULT_LIMITS with the request's changes)."""
    layers: list[str] = []
    if cgroup is not None and join_cgroup(cgroup):
        layers.append("pids_cgroup")
    nproc_enforced = not _nproc_exempt()  # read before namespaces change what caps mean
    if private_tmp(tmpdir):
        layers.append("private_tmp")
    if scrub_env(tmpdir):
        layers.append("scrubbed_env")
    layers.extend(namespaces(tmpdir, limits))
    layers.extend(set_rlimits(limits, nproc_enforced))
    if drop_caps():
        layers.append("drop_caps")
    if no_new_privs():
        layers.append("no_new_privs")
    return layers


# --- small ctypes helpers -------------------------------------------------------------------


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _prctl(option: int, arg: int = 0) -> int:
    return int(_libc.prctl(option, ctypes.c_ulong(arg), 0, 0, 0))


def set_name(name: str) -> None:
    """The process name `ps` shows (15 bytes at most): tscheck-idle for a child forked ahead
    and waiting for its request, tscheck-job once it runs one."""
    _libc.prctl(PR_SET_NAME, ctypes.c_char_p(name.encode()[:15]), 0, 0, 0)


def set_parent_death_signal(sig: int = signal.SIGKILL) -> None:
    """Die with the parent (the zygote, or the PID-namespace init's parent)."""
    _prctl(PR_SET_PDEATHSIG, sig)


def _cap_effective() -> int:
    """This process's effective capability set, as seen in its own user namespace."""
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("CapEff:"):
                return int(line.split()[1], 16)
    return 0


def _has_cap(cap: int) -> bool:
    return bool(_cap_effective() >> cap & 1)


# --- cgroup (root's process-count limit) --------------------------------------------------


def create_cgroup(name: str) -> str | None:
    """A new pids cgroup below this process's own, or None where none can be made (no pids
    controller, not root, a read-only /sys as inside bubblewrap)."""
    for base in _pids_cgroup_bases():
        path = os.path.join(base, name)
        try:
            os.mkdir(path)
        except OSError:
            continue
        if os.path.exists(os.path.join(path, "pids.max")):
            return path
        remove_cgroup(path)
    return None


def _pids_cgroup_bases() -> list[str]:
    bases: list[str] = []
    try:
        with open("/proc/self/cgroup", encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return bases
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if "pids" in controllers.split(","):  # cgroup v1
            bases.append(os.path.join("/sys/fs/cgroup/pids", path.lstrip("/")))
        elif controllers == "":  # cgroup v2: usable only where pids is delegated
            bases.append(os.path.join("/sys/fs/cgroup", path.lstrip("/")))
    return bases


def sweep_cgroups(prefix: str) -> None:
    """Remove empty cgroups left by zygotes that were killed before they cleaned up."""
    for base in _pids_cgroup_bases():
        try:
            names = os.listdir(base)
        except OSError:
            continue
        for name in names:
            pid = name[len(prefix) :].split("-")[0]  # <prefix><pid> or <prefix><pid>-<n>
            if name.startswith(prefix) and pid.isdigit() and not _alive(int(pid)):
                remove_cgroup(os.path.join(base, name))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def set_cgroup_limit(path: str, nproc: int) -> None:
    with open(os.path.join(path, "pids.max"), "w", encoding="ascii") as fh:
        fh.write(str(nproc))


def join_cgroup(path: str) -> bool:
    try:
        with open(os.path.join(path, "cgroup.procs"), "w", encoding="ascii") as fh:
            fh.write("0")  # 0: the writing process itself, whatever PID namespace it is in
        with open("/proc/self/cgroup", encoding="utf-8") as fh:
            return os.path.basename(path) in fh.read()
    except OSError:
        return False


def kill_cgroup(path: str, wait_s: float = 2.0) -> None:
    """SIGKILL every task left in the cgroup (a job's escaped or forked processes), until it is
    empty or `wait_s` has passed."""
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        try:
            with open(os.path.join(path, "cgroup.procs"), encoding="ascii") as fh:
                pids = [int(p) for p in fh.read().split()]
        except OSError:
            return
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.005)


def remove_cgroup(path: str) -> None:
    kill_cgroup(path, 0.5)
    try:
        os.rmdir(path)
    except OSError:
        pass


# --- files and environment ----------------------------------------------------------------


def private_tmp(tmpdir: str) -> bool:
    try:
        os.chdir(tmpdir)
    except OSError:
        return False
    tempfile.tempdir = tmpdir  # tempfile caches the zygote's choice
    return os.path.realpath(os.getcwd()) == os.path.realpath(tmpdir)


def scrubbed(environ: dict[str, str], tmpdir: str) -> dict[str, str]:
    """The environment user code gets: the allow-list, no credentials, a private home."""
    kept = {
        name: value
        for name, value in environ.items()
        if (name in KEEP or name.startswith(KEEP_PREFIXES)) and not SECRET.search(name)
    }
    for name in ("HOME", "TMPDIR", "TMP", "TEMP"):
        kept[name] = tmpdir
    kept["PYTHONDONTWRITEBYTECODE"] = "1"  # for user subprocesses; the zygote sets it in-process
    return kept


def scrub_env(tmpdir: str) -> bool:
    wanted = scrubbed(dict(os.environ), tmpdir)
    os.environ.clear()
    os.environ.update(wanted)
    return dict(os.environ) == wanted


# --- namespaces -----------------------------------------------------------------------------


def namespaces(tmpdir: str, limits: dict[str, int]) -> list[str]:
    """Network, mount (read-only) and PID namespaces; through a user namespace where the
    process lacks CAP_SYS_ADMIN (an ordinary user where the kernel allows it)."""
    if not _has_cap(CAP_SYS_ADMIN) and not _enter_user_namespace():
        return []
    layers: list[str] = []
    if _unshare_net():
        layers.append("no_network")
    if _read_only_fs(tmpdir, limits):
        layers.append("read_only_fs")
    if _unshare(CLONE_NEWPID):
        # Takes effect for the next fork: that child is pid 1 of the new namespace.
        layers.append("pid_namespace")
    return layers


def _unshare(flags: int) -> bool:
    return int(_libc.unshare(ctypes.c_int(flags))) == 0


def _enter_user_namespace() -> bool:
    uid, gid = os.getuid(), os.getgid()
    if not _unshare(CLONE_NEWUSER):
        return False
    try:
        # Map ourselves to ourselves: files we create keep our uid, and no id is unmapped.
        _write("/proc/self/setgroups", "deny")
        _write("/proc/self/uid_map", f"{uid} {uid} 1")
        _write("/proc/self/gid_map", f"{gid} {gid} 1")
    except OSError:
        return False
    return _has_cap(CAP_SYS_ADMIN)


def _write(path: str, text: str) -> None:
    with open(path, "w", encoding="ascii") as fh:
        fh.write(text)


def _net_namespace() -> int:
    return os.stat("/proc/self/ns/net").st_ino


def _unshare_net() -> bool:
    try:
        before = _net_namespace()
    except OSError:
        return False
    return _unshare(CLONE_NEWNET) and _net_namespace() != before


class _MountAttr(ctypes.Structure):
    _fields_ = [
        ("attr_set", ctypes.c_uint64),
        ("attr_clr", ctypes.c_uint64),
        ("propagation", ctypes.c_uint64),
        ("userns_fd", ctypes.c_uint64),
    ]


def _mount_setattr(path: str, flags: int, attr_set: int, attr_clr: int) -> None:
    attr = _MountAttr(attr_set, attr_clr, 0, 0)
    result = _libc.syscall(
        SYS_MOUNT_SETATTR,
        ctypes.c_int(AT_FDCWD),
        os.fsencode(path),
        ctypes.c_uint(flags),
        ctypes.byref(attr),
        ctypes.c_size_t(ctypes.sizeof(attr)),
    )
    _check(int(result), f"mount_setattr {path}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str) -> None:
    result = _libc.mount(
        None if source is None else os.fsencode(source),
        os.fsencode(target),
        None if fstype is None else os.fsencode(fstype),
        ctypes.c_ulong(flags),
        data.encode() if data else None,
    )
    _check(int(result), f"mount {target}")


def _read_only_fs(tmpdir: str, limits: dict[str, int]) -> bool:
    """Everything read-only but the temp dir and a private /dev/shm (multiprocessing needs it).
    Device nodes stay usable (a read-only mount forbids changing inodes, not device I/O), so
    /dev/null and /dev/nvidia* still work."""
    if not _unshare(CLONE_NEWNS):
        return False
    try:
        # Private first: otherwise our mounts would propagate back to the host's namespace.
        _mount(None, "/", None, MS_REC | MS_PRIVATE, "")
        _mount(tmpdir, tmpdir, None, MS_BIND | MS_REC, "")
        writable = [tmpdir]
        if os.path.isdir("/dev/shm"):
            size = f"size={limits['fsize_mb']}m,mode=1777"
            _mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, size)
            writable.append("/dev/shm")
        _mount_setattr("/", AT_RECURSIVE, MOUNT_ATTR_RDONLY, 0)
        for path in writable:
            _mount_setattr(path, 0, 0, MOUNT_ATTR_RDONLY)
        # The cwd still points into the mount below the new bind, now read-only: re-enter.
        os.chdir(tmpdir)
    except OSError:
        return False
    root = os.statvfs("/").f_flag & os.ST_RDONLY
    own = os.statvfs(".").f_flag & os.ST_RDONLY
    return bool(root) and not own


# --- limits and privileges ------------------------------------------------------------------


def _nproc_exempt() -> bool:
    """The kernel skips RLIMIT_NPROC for uid 0 and for CAP_SYS_RESOURCE / CAP_SYS_ADMIN."""
    return os.getuid() == 0 or _has_cap(CAP_SYS_RESOURCE) or _has_cap(CAP_SYS_ADMIN)


def _user_tasks(uid: int) -> int:
    """Tasks (threads count) of this uid: RLIMIT_NPROC is per user, not per process tree."""
    count = 0
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            if os.stat(f"/proc/{name}").st_uid == uid:
                count += len(os.listdir(f"/proc/{name}/task"))
        except OSError:
            continue
    return count


def set_rlimits(limits: dict[str, int], nproc_enforced: bool) -> list[str]:
    mb = 1024 * 1024
    wanted = {
        resource.RLIMIT_CPU: (limits["cpu_s"], limits["cpu_s"] + 1),  # soft: SIGXCPU first
        resource.RLIMIT_DATA: (limits["data_mb"] * mb,) * 2,
        resource.RLIMIT_FSIZE: (limits["fsize_mb"] * mb,) * 2,
        resource.RLIMIT_CORE: (0, 0),
    }
    layers: list[str] = []
    if _set_all(wanted):
        layers.append("rlimits")
    if nproc_enforced:
        # Per user: leave room for what the user already runs, plus `nproc` for the job.
        total = _user_tasks(os.getuid()) + limits["nproc"]
        if _set_all({resource.RLIMIT_NPROC: (total, total)}):
            layers.append("nproc")
    return layers


def _set_all(wanted: dict[int, tuple[int, int]]) -> bool:
    try:
        for which, (soft, hard) in wanted.items():
            _, current_hard = resource.getrlimit(which)
            if current_hard != resource.RLIM_INFINITY:
                hard = min(hard, current_hard)  # only privileged processes may raise it
                soft = min(soft, hard)
            resource.setrlimit(which, (soft, hard))
        return all(resource.getrlimit(which)[0] <= soft for which, (soft, _) in wanted.items())
    except (OSError, ValueError):
        return False


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


def drop_caps() -> bool:
    """Drop every capability, the bounding set first (so exec cannot regain them, not even as
    uid 0); True when the process holds none afterwards and held some before."""
    if _cap_effective() == 0:
        return False  # nothing to drop: not a layer worth reporting
    try:
        with open("/proc/sys/kernel/cap_last_cap", encoding="ascii") as fh:
            last = int(fh.read())
    except (OSError, ValueError):
        last = 40
    for cap in range(last + 1):
        _prctl(PR_CAPBSET_DROP, cap)
    _prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
    header = _CapHeader(LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    if int(_libc.capset(ctypes.byref(header), ctypes.byref(data))) != 0:
        return False
    return _cap_effective() == 0


def no_new_privs() -> bool:
    _prctl(PR_SET_NO_NEW_PRIVS, 1)
    return _prctl(PR_GET_NO_NEW_PRIVS) == 1
