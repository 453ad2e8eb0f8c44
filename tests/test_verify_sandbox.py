"""The verifier's zygote and sandbox, with real subprocesses and the real torch.

Each hostile module below does its harm at import, which is the first thing a job does. After
each one the same zygote must still answer (no restart) and have no process left behind. Tests
that need a layer the machine lacks (a network namespace, a read-only mount, a process limit)
skip and say which.
"""

from __future__ import annotations

import json
import os
import platform
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tscheck.verify import sandbox
from tscheck.verify.client import VerifierUnavailable, Zygote

from zygote_idle import settle

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the verifier forks and uses Linux namespaces"
)

MODULES = {
    "ok": "print('hello from ok')\n",
    "hang": "import time\ntime.sleep(60)\n",
    "busy": "while True:\n    pass\n",
    "alloc": """\
chunks = []
for _ in range(64):  # 4 GB at most, should the limit not hold
    chunks.append(bytearray(64 << 20))
raise RuntimeError("allocation was not limited")
""",
    "segv": "import ctypes\nctypes.string_at(0)\n",
    "exit3": "import sys\nprint('leaving')\nsys.exit(3)\n",
    "exit4": "import os\nos._exit(4)\n",
    "loopback": """\
import socket
server = socket.socket()
server.bind(("127.0.0.1", 0))
server.listen()
socket.create_connection(server.getsockname(), timeout=2)
""",
    "flood": """\
import sys
block = "x" * (1 << 20)
for _ in range(50):
    sys.stdout.write(block)
sys.stdout.write("\\nEND\\n")
""",
    "forkbomb": """\
import os, time
children = 0
try:
    while children < 2000:  # bounded, should the limit not hold
        if os.fork() == 0:
            time.sleep(60)
            os._exit(0)
        children += 1
except OSError as exc:
    raise RuntimeError(f"fork refused after {children} children: {exc}")
raise RuntimeError("fork was not limited")
""",
    "killparent": "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n",
    "environment": """\
import os
print(sorted(os.environ))
print("HOME=" + os.environ.get("HOME", ""), "CWD=" + os.getcwd())
""",
}

SECRET_VAR = "TSCHECK_TEST_API_TOKEN"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("verify_sandbox")
    for name, source in MODULES.items():
        (root / f"{name}.py").write_text(source)
    return root


# Both ways the zygote can run here: plainly, and inside bubblewrap where it works.
MODES = ["none", *(["bwrap"] if sandbox.bwrap() else [])]


@pytest.fixture(scope="module", params=MODES)
def zygote(project: Path, request: pytest.FixtureRequest) -> Iterator[Zygote]:
    os.environ[SECRET_VAR] = "s3cret"  # the zygote inherits it; no job may see it
    try:
        started = Zygote(sandbox_mode=request.param, binds=[str(project)])
        started.start()
    finally:
        del os.environ[SECRET_VAR]
    with started:
        yield started


@pytest.fixture(scope="module")
def layers(zygote: Zygote, project: Path) -> list[str]:
    """The layers a job gets on this machine."""
    response = script(zygote, project, "ok")
    assert response["status"] == "done", response
    return list(response["layers"])


def script(
    zygote: Zygote,
    project: Path,
    name: str,
    timeout: float = 20.0,
    **limits: int,
) -> dict[str, Any]:
    message = {
        "op": "script",
        "file": str(project / f"{name}.py"),
        "module": name,
        "sys_path": [str(project)],
        "text": None,
        "roots": [],
        "ignore": [],
        "device": "cpu",
        "timeout_s": timeout,
        "limits": limits,
    }
    return zygote.request(message, timeout)


def descendants(pid: int) -> set[int]:
    """Every live process below `pid` (the zygote's jobs and anything they left behind), less
    the child the zygote forks ahead for the next job (named tscheck-idle until it gets one)."""
    parents: dict[int, int] = {}
    idle: set[int] = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8", errors="replace") as fh:
                stat = fh.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] != "Z":
            parents[int(entry)] = int(fields[1])
        if stat[stat.index("(") + 1 : stat.rindex(")")] == "tscheck-idle":
            idle.add(int(entry))
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {p for p, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found - idle


@pytest.fixture
def checker(zygote: Zygote, layers: list[str]) -> Iterator[Zygote]:
    """The zygote, checked after the test: same process, answers a ping, nothing left over."""
    pid = zygote.pid
    assert pid is not None
    settle(zygote, 20)
    before = descendants(pid)
    yield zygote
    assert zygote.ping(), "the zygote stopped answering"
    assert zygote.pid == pid and zygote.restarts == 0, "the zygote was restarted"
    settle(zygote, 20)
    deadline = time.monotonic() + 3
    while descendants(pid) != before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert descendants(pid) == before, "a job left processes behind"


def test_hello_names_versions_and_a_job_runs(zygote: Zygote, layers: list[str]) -> None:
    hello = zygote.hello
    assert hello["protocol"] == 1
    assert hello["python"] == platform.python_version()
    assert hello["torch"] == torch.__version__
    assert hello["import_s"] > 0 and hello["cuda_initialized"] is False
    assert (
        hello["layers"]
        == zygote.layers
        == (["bubblewrap"] if zygote.sandbox_mode == "bwrap" else [])
    )
    for layer in ("private_tmp", "scrubbed_env", "rlimits"):
        assert layer in layers
    assert zygote.request({"op": "ping"})["layers"] == zygote.layers


def test_ok_job_output_is_returned(checker: Zygote, project: Path) -> None:
    response = script(checker, project, "ok")
    assert response["status"] == "done", response
    assert response["stdout"] == "hello from ok\n"
    assert response["import_error"] is None and response["results"] == []


def test_hang_is_killed_at_the_timeout(checker: Zygote, project: Path) -> None:
    started = time.monotonic()
    response = script(checker, project, "hang", timeout=1.0)
    assert response["status"] == "timeout", response
    assert response["detail"] == "killed after 1 s"
    assert time.monotonic() - started < 2.5


def test_busy_loop_hits_the_cpu_limit(checker: Zygote, project: Path) -> None:
    response = script(checker, project, "busy", timeout=15.0, cpu_s=1)
    assert response["status"] == "crashed", response
    assert "SIGXCPU" in response["detail"]


def test_unbounded_allocation_hits_the_data_limit(checker: Zygote, project: Path) -> None:
    response = script(checker, project, "alloc", data_mb=768)
    assert response["status"] in ("crashed", "error"), response
    assert "memory" in response["detail"].lower()


def test_segfault_is_a_crash(checker: Zygote, project: Path) -> None:
    response = script(checker, project, "segv")
    assert response["status"] == "crashed", response
    assert response["detail"] == "signal 11 (SIGSEGV)"


@pytest.mark.parametrize(("name", "code"), [("exit3", 3), ("exit4", 4)])
def test_exits_report_their_code(checker: Zygote, project: Path, name: str, code: int) -> None:
    response = script(checker, project, name)
    assert response["status"] == "exited", response
    assert response["detail"].startswith(f"exit code {code}")
    if name == "exit3":
        assert response["stdout"] == "leaving\n"  # flushed before the exit


def network_layer(layers: list[str]) -> None:
    if "no_network" not in layers and "bubblewrap" not in layers:
        pytest.skip(f"no network isolation on this machine (layers: {layers})")


def test_connect_to_a_listening_port_is_blocked(
    checker: Zygote, project: Path, layers: list[str]
) -> None:
    network_layer(layers)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        source = f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2)\n"
        (project / "connect.py").write_text(source)
        response = script(checker, project, "connect")
        listener.setblocking(False)
        with pytest.raises(BlockingIOError):
            listener.accept()  # nothing got through
    assert response["status"] == "done", response
    assert response["import_error"]["type"] == "OSError"
    assert "unreachable" in response["import_error"]["message"].lower()


def test_loopback_inside_the_job_is_blocked(
    checker: Zygote, project: Path, layers: list[str]
) -> None:
    network_layer(layers)
    response = script(checker, project, "loopback")
    assert response["status"] == "done", response
    assert "unreachable" in response["import_error"]["message"].lower()


def test_printing_megabytes_gives_a_small_response(checker: Zygote, project: Path) -> None:
    response = script(checker, project, "flood")
    assert response["status"] in ("done", "error"), response
    assert len(json.dumps(response)) < 16 * 1024
    assert len(response["stdout"]) <= 4096
    if response["status"] == "done":
        assert response["stdout"].endswith("x\nEND\n")


def test_writing_outside_the_temp_dir_is_blocked(
    checker: Zygote, project: Path, layers: list[str]
) -> None:
    if "read_only_fs" not in layers and "bubblewrap" not in layers:
        pytest.skip(f"no read-only filesystem layer on this machine (layers: {layers})")
    outside = project / "escaped.txt"
    source = f"open('inside.txt', 'w').write('ok')\nopen({str(outside)!r}, 'w').write('no')\n"
    (project / "writer.py").write_text(source)
    response = script(checker, project, "writer")
    assert response["status"] == "done", response
    assert "escaped.txt" in response["import_error"]["message"]  # the first write worked
    assert "Read-only file system" in response["import_error"]["message"]
    assert not outside.exists()


def test_fork_bomb_is_limited(checker: Zygote, project: Path, layers: list[str]) -> None:
    if "pids_cgroup" not in layers and "nproc" not in layers:
        pytest.skip(f"no process-count limit on this machine (layers: {layers})")
    response = script(checker, project, "forkbomb", nproc=32)
    assert response["status"] == "done", response
    found = re.search(r"fork refused after (\d+) children", response["import_error"]["message"])
    assert found is not None, response["import_error"]
    assert int(found.group(1)) < 40


def test_environment_is_scrubbed_and_home_is_private(checker: Zygote, project: Path) -> None:
    response = script(checker, project, "environment")
    assert response["status"] == "done", response
    names, where = response["stdout"].splitlines()
    assert SECRET_VAR not in names
    home, cwd = (part.split("=", 1)[1] for part in where.split())
    assert home == cwd and "tscheck-job-" in cwd


def test_a_job_cannot_kill_the_zygote(zygote: Zygote, project: Path, layers: list[str]) -> None:
    if "pid_namespace" not in layers:
        pytest.skip(f"no PID namespace on this machine (layers: {layers})")
    pid = zygote.pid
    response = script(zygote, project, "killparent")
    assert response["status"] == "done", response  # its parent is the namespace's init
    assert zygote.ping() and zygote.pid == pid and zygote.restarts == 0


def test_recycles_after_max_jobs_without_bubblewrap(project: Path) -> None:
    with Zygote(sandbox_mode="none", max_jobs=2) as plain:
        assert plain.layers == []
        first = plain.pid
        for _ in range(3):
            response = script(plain, project, "ok")
            assert response["status"] == "done", response
            assert "bubblewrap" not in response["layers"] and "rlimits" in response["layers"]
        assert plain.restarts == 1 and plain.pid != first


@pytest.mark.skipif("bwrap" not in MODES, reason="bubblewrap is not available here")
def test_code_in_a_new_tmp_folder_is_bound_into_bubblewrap(project: Path) -> None:
    """--tmpfs /tmp hides the real /tmp: the client binds a request's folder and restarts."""
    with tempfile.TemporaryDirectory(dir="/tmp") as folder:
        (Path(folder) / "fresh.py").write_text("print('seen')\n")
        with Zygote(sandbox_mode="bwrap") as jailed:
            response = script(jailed, Path(folder), "fresh")
            assert response["status"] == "done", response
            assert response["import_error"] is None and response["stdout"] == "seen\n"
            assert jailed.restarts == 1 and folder in jailed.binds
            assert script(jailed, Path(folder), "fresh")["status"] == "done"
            assert jailed.restarts == 1


def test_worker_under_w_error_without_job_py(project: Path) -> None:
    """-W error must not stop the zygote (torch's import warnings, fork's DeprecationWarning);
    a missing job.py is an error answer, not a crash."""
    requests = [
        {"id": 1, "op": "ping"},
        {"id": 2, "op": "script", "file": str(project / "ok.py"), "module": "ok"},
        {"id": 3, "op": "nonsense"},
    ]
    stdin = "".join(json.dumps(r) + "\n" for r in requests) + "not json\n"
    argv = [sys.executable, "-I", "-W", "error", sandbox.WORKER, "--job", "/nonexistent/job.py"]
    argv += ["--preload", "json,no_such_package_for_tscheck"]
    done = subprocess.run(argv, input=stdin.encode(), capture_output=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr.decode()
    hello, pong, missing, unknown, bad = (json.loads(line) for line in done.stdout.splitlines())
    assert hello["protocol"] == 1 and hello["job"] is None
    assert hello["preloaded"] == ["json"]
    assert "ModuleNotFoundError" in hello["preload_failed"]["no_such_package_for_tscheck"]
    assert pong["id"] == 1 and pong["status"] == "pong"
    assert pong["warmed"] == [] and pong["learned"] == []  # no job.py: nothing to warm
    assert missing["status"] == "error" and missing["detail"] == "job.py missing"
    assert unknown["status"] == "error" and bad["status"] == "error"


def test_interpreter_without_torch_is_a_clear_error(tmp_path: Path) -> None:
    python = tmp_path / "python-without-torch"
    python.write_text(f'#!/bin/sh\nexec {sys.executable} -S "$@"\n')  # -S: no site-packages
    python.chmod(0o755)
    with pytest.raises(VerifierUnavailable, match="cannot import torch") as raised:
        Zygote(str(python), sandbox_mode="none").start()
    assert str(python) in str(raised.value)


def test_missing_interpreter_is_a_clear_error(tmp_path: Path) -> None:
    missing = str(tmp_path / "no-such-python")
    with pytest.raises(VerifierUnavailable, match="cannot start the verifier") as raised:
        Zygote(missing, sandbox_mode="none").start()
    assert missing in str(raised.value)


def test_interpreter_that_never_says_hello_times_out(tmp_path: Path) -> None:
    python = tmp_path / "python-that-hangs"
    python.write_text("#!/bin/sh\nexec sleep 30\n")
    python.chmod(0o755)
    started = time.monotonic()
    zygote = Zygote(str(python), sandbox_mode="none", start_timeout=1.0)
    with pytest.raises(VerifierUnavailable, match="did not start the verifier within 1 s"):
        zygote.start()
    assert time.monotonic() - started < 5 and not zygote.alive()


def test_tmp_binds_and_the_bubblewrap_command() -> None:
    assert sandbox.tmp_binds(["/tmp/pytest-of-x/a/b.py", "/tmp/venv/bin/python", "/usr/lib"]) == {
        "/tmp/pytest-of-x",
        "/tmp/venv",
    }
    command = sandbox.bwrap_command("bwrap", ["python", "w.py"], {"/tmp/venv"})
    assert command[-3:] == ["--", "python", "w.py"]
    assert ["--tmpfs", "/tmp"] == command[command.index("--tmpfs") : command.index("--tmpfs") + 2]
    assert "--ro-bind" in command and "/tmp/venv" in command
    assert "--unshare-all" in command and "--die-with-parent" in command
    for device in sandbox.gpu_devices():
        assert device in command
    code_in_tmp = sandbox.bwrap_command("bwrap", ["python"], {"/tmp"})
    assert "--tmpfs" not in code_in_tmp and "/dev/shm" in code_in_tmp


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_works_in_the_sandboxed_child(zygote: Zygote, project: Path) -> None:
    """The zygote never initialises CUDA, so a forked child can; /dev/nvidia* pass through."""
    source = "import torch\nassert torch.ones(4, device='cuda').sum().item() == 4.0\n"
    (project / "gpu.py").write_text(source)
    response = script(zygote, project, "gpu", timeout=60.0)
    assert response["status"] == "done", response
    assert response["import_error"] is None, response["import_error"]
    assert zygote.hello["cuda_initialized"] is False
