"""What the zygote does between jobs, with real subprocesses and the real torch: it imports what
earlier jobs imported from installed packages (never the project's own code), compiles torch's
common layers once, and forks the next job's sandboxed child ahead. None of it may change a
verdict: a job must see what a fresh `python -c "import torch, mod; torch.jit.script(...)"` sees.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
import venv
from pathlib import Path
from typing import Any

import pytest

from tscheck.verify.client import Zygote
from tscheck.verify.sandbox import WORKER

from zygote_idle import settle

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the verifier forks and uses Linux namespaces"
)

JOB_PY = str(Path(WORKER).with_name("job.py"))


def script(zygote: Zygote, file: Path, module: str, roots: list[str]) -> dict[str, Any]:
    message = {
        "op": "script",
        "file": str(file),
        "module": module,
        "sys_path": [str(file.parent)],
        "roots": [{"name": name, "factory": None} for name in roots],
    }
    response = zygote.request(message, 60)
    assert response["status"] == "done", response
    return response


@pytest.fixture(scope="module")
def site_python(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """An interpreter (a venv over this one's packages, torch included) with a site-packages
    of its own, where the tests install a package that takes a while to import."""
    root = tmp_path_factory.mktemp("venv")
    venv.EnvBuilder(system_site_packages=True, with_pip=False, symlinks=True).create(root)
    python = root / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    package = Path(purelib) / "slowpkg_for_tscheck"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("import time\ntime.sleep(0.3)\nSCALE = 2.0\n")
    return str(python), Path(purelib)


def test_learns_installed_imports_and_never_the_project(
    site_python: tuple[str, Path], tmp_path: Path
) -> None:
    python, _ = site_python
    (tmp_path / "helpers.py").write_text("OFFSET = 1.0\n")
    model = tmp_path / "model.py"
    model.write_text(
        textwrap.dedent(
            """
            import sys
            print("preloaded:", "slowpkg_for_tscheck" in sys.modules, "helpers" in sys.modules)
            import torch
            import slowpkg_for_tscheck
            import helpers


            class Net(torch.nn.Module):
                def forward(self, x: torch.Tensor) -> torch.Tensor:
                    return x * slowpkg_for_tscheck.SCALE + helpers.OFFSET
            """
        )
    )
    with Zygote(python=python) as zygote:
        first = script(zygote, model, "model", ["Net"])
        assert first["stdout"] == "preloaded: False False\n"
        assert first["results"][0]["verdict"] == "ok", first
        # Installed packages are reported; the module itself and its project helper are not.
        assert "slowpkg_for_tscheck" in first["imported"]
        assert not {"model", "helpers"} & set(first["imported"])
        state = settle(zygote)
        assert "slowpkg_for_tscheck" in state["learned"]
        assert not {"model", "helpers"} & set(state["learned"])
        # The next job finds the package loaded, and still imports the project afresh.
        model.write_text(model.read_text().replace("+ helpers.OFFSET", "- helpers.OFFSET"))
        second = script(zygote, model, "model", ["Net"])
        assert second["stdout"] == "preloaded: True False\n"
        assert second["results"][0]["verdict"] == "ok", second
        assert "slowpkg_for_tscheck" not in second["imported"]


def test_learning_can_be_turned_off(site_python: tuple[str, Path], tmp_path: Path) -> None:
    python, _ = site_python
    model = tmp_path / "model.py"
    model.write_text("import sys\nimport slowpkg_for_tscheck\n")
    with Zygote(python=python, worker_args=["--no-learn"]) as zygote:
        assert "slowpkg_for_tscheck" in script(zygote, model, "model", [])["imported"]
        state = settle(zygote)
        assert state["learned"] == [] and "slowpkg_for_tscheck" not in state["idle_pending"]


PATCHED = """
import torch
import torch.nn as nn


def forward(self, x: torch.Tensor) -> torch.Tensor:
    return x + "a"  # a type error: found while compiling, not while parsing


{patch}


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(x)
"""


@pytest.mark.parametrize("patched", [False, True])
def test_a_patched_torch_layer_is_compiled_afresh(tmp_path: Path, patched: bool) -> None:
    """The zygote compiled nn.ReLU while idle. A module that patches ReLU.forward must get the
    compiler's verdict on the patched code, as a fresh process gives it (checked here too).
    torch itself would reuse the compiled ReLU in a warm process and call this code fine."""
    source = PATCHED.format(patch="nn.ReLU.forward = forward" if patched else "")
    model = tmp_path / "patched.py"
    model.write_text(source)
    fresh = subprocess.run(
        [sys.executable, "-c", "import torch, patched; torch.jit.script(patched.Net())"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert (fresh.returncode != 0) == patched, fresh.stderr
    with Zygote() as zygote:
        assert "layers" in settle(zygote)["warmed"]
        (result,) = script(zygote, model, "patched", ["Net"])["results"]
    assert result["verdict"] == ("compile_error" if patched else "ok"), result
    if patched:
        assert result["error"]["line"] == 7 and result["error"]["function"] == "forward", result


SOURCE_CACHE_CHECK = """
import importlib.util, inspect, linecache, sys
import torch, torch.nn as nn, torch.nn.functional as F
from torch._sources import get_source_lines_and_file as original
spec = importlib.util.spec_from_file_location("job_under_test", {job!r})
job = importlib.util.module_from_spec(spec)
spec.loader.exec_module(job)
objects = [nn.Conv2d, nn.Conv2d.forward, F.interpolate, nn.ReLU().forward, torch.jit.annotations]
expected = [original(obj) for obj in objects]
job.cache_torch_sources()
import torch.jit.frontend as frontend
cached = frontend.get_source_lines_and_file
assert cached is not original and cached is torch._sources.get_source_lines_and_file
assert [cached(obj) for obj in objects] == expected == [cached(obj) for obj in objects]
lines = cached(F.interpolate)[0]
lines.clear()  # a caller editing the list must not edit the cache
assert cached(F.interpolate) == original(F.interpolate)
# The user's code is looked up every time: an edit (new linecache text) is seen.
path = "/virtual/user_model.py"
def install(text):
    linecache.cache[path] = (len(text), None, text.splitlines(True), path)
    namespace = {{}}
    exec(compile(text, path, "exec"), namespace)
    return namespace["f"]
f = install("def f(x):\\n    return x\\n")
assert cached(f)[0] == ["def f(x):\\n", "    return x\\n"]
install("def f(x):\\n    return x + 1\\n")
assert cached(f)[0] == ["def f(x):\\n", "    return x + 1\\n"]
job.cache_torch_sources()  # twice: not wrapped twice
assert frontend.get_source_lines_and_file is cached
print("ok")
"""


def test_torch_source_cache_answers_as_torch_does() -> None:
    code = SOURCE_CACHE_CHECK.format(job=JOB_PY)
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=120
    )
    assert done.returncode == 0 and done.stdout == "ok\n", done.stderr


def test_the_child_forked_ahead_serves_the_next_job(tmp_path: Path) -> None:
    """After an answer the zygote forks the next child; a job with other limits gets a fresh
    one; both answer, and what was printed is what this job printed."""
    model = tmp_path / "ahead.py"
    with Zygote(binds=[str(tmp_path)]) as zygote:
        for run in range(3):
            assert settle(zygote)["ahead"]
            model.write_text(f"print('run {run}')\n")
            assert script(zygote, model, "ahead", [])["stdout"] == f"run {run}\n"
        message = {"op": "script", "file": str(model), "module": "ahead", "limits": {"cpu_s": 9}}
        response = zygote.request(message, 30)
        assert response["status"] == "done" and response["stdout"] == "run 2\n", response
        assert zygote.restarts == 0


def test_a_job_cancelled_by_the_client_is_killed_and_the_zygote_serves_on(tmp_path: Path) -> None:
    """An editor cancels a verification when the text changes: the job in flight must stop
    at once (not run to its timeout) and the zygote must answer the next request."""
    slow = tmp_path / "slow.py"
    slow.write_text("import time\nprint('started', flush=True)\ntime.sleep(60)\n")
    quick = tmp_path / "quick.py"
    quick.write_text("def f(x: int) -> int:\n    return x + 1\n")
    with Zygote(binds=[str(tmp_path)]) as zygote:  # started: the timer runs from the request
        cancel = threading.Event()
        zygote.interrupt = cancel
        threading.Timer(1.5, cancel.set).start()
        started = time.monotonic()
        message = {
            "op": "script",
            "file": str(slow),
            "module": "slow",
            "sys_path": [str(tmp_path)],
            "roots": [{"name": "f", "factory": None}],
        }
        response = zygote.request(message, 60)
        elapsed = time.monotonic() - started
        assert response["status"] == "cancelled", response
        assert "started" in response["stdout"]  # it really was running
        assert elapsed < 10, elapsed
        # Once cancelled, further script requests of that verification are not even sent.
        again = zygote.request(message, 60)
        assert again["status"] == "cancelled" and "before it started" in again["detail"]
        zygote.interrupt = None
        assert zygote.ping()
        done = script(zygote, quick, "quick", ["f"])
        assert done["results"][0]["verdict"] == "ok", done
        assert zygote.restarts == 0  # the same zygote served on
