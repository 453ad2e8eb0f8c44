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


THREE_BROKEN = """
import torch
import torch.nn as nn


def pad(x: torch.Tensor) -> torch.Tensor:
    return x + "pad"  # E3


class Net(nn.Module):
    def first(self, x: torch.Tensor) -> torch.Tensor:
        return {1, 2}  # E1

    @staticmethod
    def second(x: torch.Tensor) -> torch.Tensor:
        y: int = x  # E2
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.first(x)
        x = self.second(x)
        return pad(x)
"""


def test_peeling_three_broken_functions_one_fresh_process_each(tmp_path: Path) -> None:
    path = write(tmp_path, "broken.py", THREE_BROKEN)
    ignore: list[str] = []
    errors = []
    for _ in range(5):  # bounded, as the client's peeling is
        result = only(verify(request_for(path, "Net", ignore=list(ignore))))
        if result["verdict"] != "compile_error":
            break
        error = result["error"]
        errors.append((error["function"], error["line"], error["column"], error["type"]))
        assert error["function"] not in ignore, "the same error came back: the ignore had no effect"
        ignore.append(error["function"])
    assert errors == [
        ("Net.first", line_of(path, "# E1"), 15, "UnsupportedNodeError"),
        ("Net.second", line_of(path, "# E2"), 8, "RuntimeError"),
        ("pad", line_of(path, "# E3"), 11, "RuntimeError"),
    ]
    # Everything broken is ignored now: it compiles, and the ignored calls block the export.
    assert result["verdict"] == "save_error"
    assert result["error"]["stage"] == "save"
    assert result["error"]["function"] in ignore
    assert result["warnings"] == [w for w in result["warnings"] if w["category"] != "tscheck"], (
        "every ignore mark applied"
    )


def test_unsaved_text_is_what_gets_verified(tmp_path: Path) -> None:
    on_disk = """
    import torch


    def f(x: torch.Tensor) -> torch.Tensor:
        return {1, 2}  # disk error
    """
    path = write(tmp_path, "edited.py", on_disk)
    text = textwrap.dedent("""
    import torch
    # three lines
    # added in the editor
    # and not saved


    def f(x: torch.Tensor) -> torch.Tensor:
        return x + "editor"  # editor error
    """).lstrip("\n")
    result = only(verify(request_for(path, "f", text=text)))
    error = result["error"]
    assert result["verdict"] == "compile_error"
    assert "Set aren't supported" not in error["message"]
    assert (error["line"], error["column"], error["function"]) == (
        line_of(text, "# editor error"),
        11,
        "f",
    )
    assert error["line"] != line_of(path, "# disk error")
    # And the other way round: a clean buffer over a broken file is clean.
    clean = text.replace('x + "editor"', "x + 1")
    assert only(verify(request_for(path, "f", text=clean)))["verdict"] == "ok"


def test_package_relative_import(tmp_path: Path) -> None:
    write(tmp_path, "pkg/__init__.py", "")
    write(
        tmp_path,
        "pkg/layers.py",
        """
        import torch
        import torch.nn as nn


        class Block(nn.Module):
            def forward(self, x: torch.Tensor) -> torch.Tensor:
                return x * 2


        class BadBlock(nn.Module):
            def forward(self, x: torch.Tensor) -> torch.Tensor:
                return x + "layers"  # layers error
        """,
    )
    model = write(
        tmp_path,
        "pkg/model.py",
        """
        import torch
        import torch.nn as nn

        from .layers import BadBlock, Block


        class Net(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.block = Block()

            def forward(self, x: torch.Tensor) -> torch.Tensor:
                return self.block(x)


        class Bad(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.block = BadBlock()

            def forward(self, x: torch.Tensor) -> torch.Tensor:
                return self.block(x)
        """,
    )
    request = request_for(model, "Net", "Bad", module="pkg.model", sys_path=[str(tmp_path)])
    answer = verify(request)
    assert answer["import_error"] is None
    net, bad = answer["results"]
    assert net["verdict"] == "ok"
    # The error is in another file of the package: located there, with no function of ours.
    error = bad["error"]
    assert bad["verdict"] == "compile_error"
    assert error["file"] == str(tmp_path / "pkg" / "layers.py")
    assert error["line"] == line_of(tmp_path / "pkg" / "layers.py", "# layers error")
    assert error["function"] is None


BUILDS = """
import torch
import torch.nn as nn


class Needs3(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        if width != 3:
            raise ValueError("only width 3 works")
        self.fc = nn.Linear(width, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x)


class Config:
    width = 4


class Annotated(nn.Module):
    def __init__(self, config: Config) -> None:
        super().__init__()
        self.fc = nn.Linear(config.width, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x)


class Returned(Annotated):
    pass


def make_annotated() -> Annotated:
    return Annotated(Config())


def train_and_return():
    model = Returned(Config())
    return model


class Synth(nn.Module):
    def __init__(self, in_channels: int, num_classes: int = 10) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, num_classes, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class Attention(nn.Module):
    def __init__(self, embed_dim, num_heads, dropout: float, kernel_size: Tuple[int, int]):
        super().__init__()
        self.attn = nn.MultiheadAttention(embed_dim, num_heads, dropout=dropout)
        self.conv = nn.Conv2d(embed_dim, embed_dim, kernel_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.attn(x, x, x)[0]


class Options(nn.Module):
    def __init__(
        self, hidden: int, norm: Literal["batch", "layer"], extra: int | None, sizes: Sequence[int]
    ) -> None:
        super().__init__()
        assert norm == "batch" and extra is None and list(sizes) == [hidden, hidden]
        self.fc = nn.Linear(hidden, sizes[0])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x)


class Unbuildable(nn.Module):
    def __init__(self, backbone: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone(x)
""".replace("import torch\n", "import torch\nfrom typing import Literal, Sequence, Tuple\n", 1)


def test_factory_expression_is_used(tmp_path: Path) -> None:
    path = write(tmp_path, "builds.py", BUILDS)
    request = request_for(path)
    request["roots"] = [
        {"name": "Needs3", "factory": "Needs3(width=3)"},
        {"name": "Synth", "factory": "Synth(2, num_classes=1 // 0)"},
        {"name": "Annotated", "factory": "make_annotated"},
    ]
    needs3, broken, called = verify(request)["results"]
    assert (needs3["verdict"], needs3["built_with"]) == ("ok", "Needs3(width=3)")
    # A factory that fails is reported as such, not replaced by a guess.
    assert broken["verdict"] == "unverified" and broken["built_with"] is None
    assert (
        "ZeroDivisionError" in broken["reason"]
        and "Synth(2, num_classes=1 // 0)" in (broken["reason"])
    )
    assert (called["verdict"], called["built_with"]) == ("ok", "make_annotated()")


def test_builder_functions_in_the_module(tmp_path: Path) -> None:
    path = write(tmp_path, "builds.py", BUILDS)
    annotated, returned = verify(request_for(path, "Annotated", "Returned"))["results"]
    assert (annotated["verdict"], annotated["built_with"]) == ("ok", "make_annotated()")
    assert (returned["verdict"], returned["built_with"]) == ("ok", "train_and_return()")


def test_arguments_synthesised_from_the_signature(tmp_path: Path) -> None:
    path = write(tmp_path, "builds.py", BUILDS)
    answer = verify(request_for(path, "Synth", "Attention", "Options", "Needs3"))
    synth, attention, options, needs3 = answer["results"]
    assert (synth["verdict"], synth["built_with"]) == ("ok", "Synth(in_channels=16)")
    assert attention["verdict"] == "ok"
    assert attention["built_with"] == (
        "Attention(embed_dim=16, num_heads=2, dropout=0.0, kernel_size=(3, 3))"
    )
    assert options["verdict"] == "ok", options["reason"]
    assert options["built_with"] == "Options(hidden=16, norm='batch', extra=None, sizes=[16, 16])"
    # Every way was tried and each failure is in the reason; never "ok".
    assert needs3["verdict"] == "unverified" and needs3["error"] is None
    assert "Needs3() needs width" in needs3["reason"]
    assert "Needs3(width=16) raised ValueError: only width 3 works" in needs3["reason"]


def test_unconstructible_root_is_unverified_with_the_reason(tmp_path: Path) -> None:
    path = write(tmp_path, "builds.py", BUILDS)
    result = only(verify(request_for(path, "Unbuildable")))
    assert result["verdict"] == "unverified"
    assert result["built_with"] is None and result["error"] is None
    assert "backbone" in result["reason"] and "Module" in result["reason"]
    assert "[tool.tscheck.factories]" in result["reason"]
    missing = only(verify(request_for(path, "NoSuchRoot")))
    assert missing["verdict"] == "unverified" and "NoSuchRoot" in missing["reason"]


IGNORED = """
import torch
import torch.nn as nn


def pad(x: torch.Tensor) -> torch.Tensor:
    return {1: x}[1] if len({1, 2}) else x  # set literal


class Net(nn.Module):
    @torch.jit.ignore
    def helper(self, x: torch.Tensor) -> torch.Tensor:
        import pdb  # noqa

        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.helper(x)


class Padded(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return pad(x) * 2


class WithProperty(nn.Module):
    @property
    def shape(self) -> int:
        return len({1, 2})  # property error

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x
"""


def test_ignored_helper_blocks_save_and_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, "ignored.py", IGNORED)
    result = only(verify(request_for(path, "Net")))
    error = result["error"]
    assert result["verdict"] == "save_error"
    assert "Could not export Python function call 'helper'" in error["first_line"]
    # Located at the ignored def (what blocks the export), not at the call in forward.
    assert (error["function"], error["line"], error["stage"]) == (
        "Net.helper",
        line_of(path, "def helper"),
        "save",
    )
    assert (error["column"], error["end_column"]) == (4, len("    def helper"))


def test_ignoring_a_free_function_called_from_forward(tmp_path: Path) -> None:
    """`ignore: ["pad"]` replaces the module-level function: forward's call to it resolves the
    global at compile time and becomes a Python call, which then blocks the export."""
    path = write(tmp_path, "ignored.py", IGNORED)
    before = only(verify(request_for(path, "Padded")))
    assert before["verdict"] == "compile_error"
    assert (before["error"]["function"], before["error"]["line"]) == (
        "pad",
        line_of(path, "# set literal"),
    )
    after = only(verify(request_for(path, "Padded", ignore=["pad"])))
    assert after["verdict"] == "save_error"
    assert (after["error"]["function"], after["error"]["line"]) == ("pad", line_of(path, "def pad"))


def test_ignoring_a_property_and_unknown_names(tmp_path: Path) -> None:
    path = write(tmp_path, "ignored.py", IGNORED)
    before = only(verify(request_for(path, "WithProperty")))
    assert before["verdict"] == "compile_error"
    assert before["error"]["function"] == "WithProperty.shape"
    assert before["error"]["line"] == line_of(path, "# property error")
    after = only(verify(request_for(path, "WithProperty", ignore=["WithProperty.shape", "nope"])))
    assert after["verdict"] == "ok"
    notes = [w["message"] for w in after["warnings"] if w["category"] == "tscheck"]
    assert len(notes) == 1 and "'nope'" in notes[0]


EXAMPLES = """
import functools

import torch
import torch.nn as nn


def times_100(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return fn(*args, **kwargs) * 100

    return wrapper


class Good(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(3, 2)
        self.drop = nn.Dropout(0.5)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
        y = self.drop(self.fc(x)) + torch.rand(1)
        return y, {"sum": y.sum()}


class NoGrad(nn.Module):
    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 2


class Wrapped(nn.Module):
    @times_100
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + 1


@times_100
def f(x: int) -> int:
    return x + 1


class Unannotated(nn.Module):
    def forward(self, x, n):
        return x * n


class Count(nn.Module):
    def helper(self, x: torch.Tensor) -> int:
        return x * 2  # a tensor where an int is declared

    def forward(self, x: torch.Tensor) -> int:
        return self.helper(x) + 1


class Shared(nn.Module):
    # One submodule under two names, a tied weight, a buffer the forward changes in place.

    def __init__(self) -> None:
        super().__init__()
        block = nn.Linear(3, 3)
        self.a = block
        self.b = block
        self.c = nn.Linear(3, 3)
        self.c.weight = self.a.weight
        self.register_buffer("calls", torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return self.c(self.b(self.a(x))) + self.calls


class Raises(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[10]  # out of range
""".replace("import torch\n", "import torch\nfrom typing import Dict, Tuple\n", 1)


def test_examples_compare_eager_with_scripted(tmp_path: Path) -> None:
    path = write(tmp_path, "examples.py", EXAMPLES)
    examples = {
        "Good": "(torch.randn(4, 3),)",
        "NoGrad": "(torch.ones(2, requires_grad=True),)",
        "Wrapped": "(torch.ones(2),)",
        "f": "(1,)",
        "Unannotated": "(torch.ones(2), 3)",
        "Count": "(torch.ones(3),)",
        "Shared": "(torch.ones(2, 3),)",
        "Raises": "(torch.ones(2),)",
    }
    answer = verify(request_for(path, *examples, examples=examples))
    good, no_grad, wrapped, f, unannotated, count, shared, raises = answer["results"]
    assert good["verdict"] == "ok"
    assert good["compare"] == {"equal": True, "detail": "outputs match"}
    # The scripted module runs with its own copy of the weights and buffers, as after a load.
    assert shared["verdict"] == "ok", shared
    # Catalog rows 210/211: TorchScript silently drops these decorators.
    assert no_grad["verdict"] == "mismatch"
    assert "requires_grad: eager False, scripted True" in no_grad["compare"]["detail"]
    assert wrapped["verdict"] == "mismatch"
    assert wrapped["compare"]["detail"].startswith("output: values differ")
    assert f["verdict"] == "mismatch" and f["compare"]["detail"] == "output: eager 200, scripted 2"
    # Eager accepts the int, the scripted forward (x, n inferred Tensor) does not.
    assert unannotated["verdict"] == "run_error" and unannotated["error"]["stage"] == "run"
    assert "Expected a value of type 'Tensor" in unannotated["error"]["message"]
    # Accepted by the compiler (catalog F7), fails when run: located in the callee, the
    # innermost frame of the interpreter's traceback, with the original exception's line.
    assert count["verdict"] == "run_error"
    assert (count["error"]["function"], count["error"]["line"], count["error"]["column"]) == (
        "Count.helper",
        line_of(path, "# a tensor where an int is declared"),
        8,
    )
    assert count["error"]["first_line"].startswith("RuntimeError: Cannot input a tensor")
    # Both fail: the eager run is reported, at the user's line.
    assert raises["verdict"] == "run_error"
    assert (raises["error"]["stage"], raises["error"]["line"]) == (
        "eager",
        line_of(path, "# out of range"),
    )
    assert raises["error"]["function"] == "Raises.forward"


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is present")
def test_cuda_request_without_cuda_runs_on_cpu_with_a_note(tmp_path: Path) -> None:
    path = write(tmp_path, "examples.py", EXAMPLES)
    examples = {"Good": "(torch.randn(4, 3),)"}
    result = only(verify(request_for(path, "Good", device="cuda", examples=examples)))
    assert result["verdict"] == "ok" and result["compare"]["equal"]
    assert result["device"] == "cpu" and "CUDA" in result["note"]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_request_moves_module_and_inputs(tmp_path: Path) -> None:
    path = write(tmp_path, "examples.py", EXAMPLES)
    examples = {"Good": "(torch.randn(4, 3),)", "NoGrad": "(torch.ones(2, requires_grad=True),)"}
    good, no_grad = verify(request_for(path, *examples, device="cuda", examples=examples))[
        "results"
    ]
    assert (good["verdict"], good["device"], good["note"]) == ("ok", "cuda", None)
    assert good["compare"]["equal"]
    assert no_grad["verdict"] == "mismatch" and no_grad["device"] == "cuda"


def test_deprecation_warning_is_recorded_not_raised_under_W_error(tmp_path: Path) -> None:
    path = write(tmp_path, "clean.py", CLEAN)
    result = only(verify(request_for(path, "Net"), "-W", "error"))
    assert result["verdict"] == "ok"
    deprecations = [w for w in result["warnings"] if w["category"] == "DeprecationWarning"]
    assert any("torch.jit.script` is deprecated" in w["message"] for w in deprecations)


RANGES = """
import torch
from typing import List


class Sets(torch.nn.Module):
    def forward(self, x: torch.Tensor):
        return {1, 2}  # set literal


def norm(x: torch.Tensor) -> torch.Tensor:
    s = "é€" ; y = x + "a"  # callee error
    return y


def caller(x: torch.Tensor) -> torch.Tensor:
    return norm(x)  # call site


def branches(x: torch.Tensor):
    if x.sum() > 0:  # range starts
        y = 1

    else:
        y = "a"  # range ends
    return y


def generators(xs: List[int]):
    return [a for a in xs for b in xs]  # zero width


def while_else(n: int) -> int:
    while n > 0:
        n -= 1
    else:
        n = 5
    return n
"""


def compile_error(tmp_path: Path, root: str) -> dict[str, Any]:
    path = write(tmp_path, "ranges.py", RANGES)
    result = only(verify(request_for(path, root)))
    assert result["verdict"] == "compile_error"
    error: dict[str, Any] = result["error"]
    assert error["stage"] == "script"
    return error


def test_frontend_error_is_parsed_with_its_column(tmp_path: Path) -> None:
    error = compile_error(tmp_path, "Sets")
    assert error["type"] == "UnsupportedNodeError"  # a FrontendError: not a RuntimeError
    assert error["first_line"] == "Set aren't supported:"
    assert error["file"] == str(tmp_path / "ranges.py")
    line = line_of(RANGES.lstrip("\n"), "# set literal")
    position = (error["line"], error["column"], error["end_line"], error["end_column"])
    assert position == (line, 15, line, 16)
    assert error["function"] == "Sets.forward"


def test_callee_error_is_located_in_the_callee_in_code_points(tmp_path: Path) -> None:
    error = compile_error(tmp_path, "caller")
    assert "is being compiled since it was called from 'caller'" in error["message"]
    assert error["first_line"] == "Arguments for call are not valid."
    # The first File/line is the error site; the compiler's tildes count UTF-8 bytes ("é€" is
    # 5 bytes, 2 code points), the protocol counts code points.
    line = line_of(RANGES.lstrip("\n"), "# callee error")
    source = RANGES.lstrip("\n").split("\n")[line - 1]
    assert (error["line"], error["column"]) == (line, source.index('x + "a"'))
    assert (error["end_line"], error["end_column"]) == (line, source.index('x + "a"') + 6)
    assert error["function"] == "norm"


def test_multi_line_range_with_a_blank_line_inside(tmp_path: Path) -> None:
    error = compile_error(tmp_path, "branches")
    text = RANGES.lstrip("\n")
    assert error["first_line"].startswith("Type mismatch: y is set to type int")
    assert (error["line"], error["column"]) == (line_of(text, "# range starts"), 4)
    assert (error["end_line"], error["end_column"]) == (line_of(text, "# range ends"), 14)
    assert error["function"] == "branches"


def test_zero_width_and_missing_ranges(tmp_path: Path) -> None:
    zero = compile_error(tmp_path, "generators")
    assert (zero["line"], zero["column"], zero["end_line"]) == (
        line_of(RANGES.lstrip("\n"), "# zero width"),
        None,
        None,
    )
    assert zero["function"] == "generators"
    # The while-else frontend bug raises a TypeError with no source range at all.
    none = compile_error(tmp_path, "while_else")
    assert none["type"] == "TypeError"
    assert (none["file"], none["line"], none["column"], none["function"]) == (None,) * 4


def test_a_failed_root_does_not_poison_the_next(tmp_path: Path) -> None:
    """A failed compile leaves the class half-defined (catalog F5): scripting a module that
    holds it again would say `Can't redefine method`. Both roots get the real error."""
    path = write(
        tmp_path,
        "poison.py",
        """
        import torch
        import torch.nn as nn


        class Block(nn.Module):
            def forward(self, x: torch.Tensor) -> torch.Tensor:
                return x + "block"  # block error


        class Net(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.block = Block()

            def forward(self, x: torch.Tensor) -> torch.Tensor:
                return self.block(x)
        """,
    )
    block, net = verify(request_for(path, "Block", "Net"))["results"]
    for result in (block, net):
        assert result["verdict"] == "compile_error"
        assert "redefine" not in result["error"]["message"]
        assert (result["error"]["function"], result["error"]["line"]) == (
            "Block.forward",
            line_of(path, "# block error"),
        )


def test_import_errors(tmp_path: Path) -> None:
    missing = write(tmp_path, "missing.py", "import torch\nimport no_such_module_here\n")
    answer = verify(request_for(missing, "f"))
    assert answer["results"] == []
    assert answer["import_error"]["type"] == "ModuleNotFoundError"
    assert answer["import_error"]["blocked"] is False
    assert answer["import_error"]["line"] == 2
    syntax = write(tmp_path, "syntax.py", "import torch\n\n\ndef f(:\n    pass\n")
    error = verify(request_for(syntax, "f"))["import_error"]
    assert (error["type"], error["line"], error["file"]) == ("SyntaxError", 4, str(syntax))
    refused = write(
        tmp_path,
        "refused.py",
        """
        import errno

        try:
            # What connect() raises where the sandbox has taken the network away.
            raise OSError(errno.ENETUNREACH, "Network is unreachable")
        except OSError as exc:
            raise RuntimeError("could not download the weights") from exc
        """,
    )
    error = verify(request_for(refused, "f"))["import_error"]
    assert (error["type"], error["blocked"]) == ("RuntimeError", True)


def test_system_exit_during_import_is_not_swallowed(tmp_path: Path) -> None:
    path = write(tmp_path, "exits.py", "import sys\nsys.exit(3)\n")
    proc = run_job(request_for(path, "f"))
    assert proc.returncode == 3
    assert "import_error" not in proc.stdout


def test_running_out_of_memory_escapes_as_memory_error(tmp_path: Path) -> None:
    """The worker turns a MemoryError out of job.run into its "crashed" verdict (the sandbox's
    data limit); torch's allocator failure, a RuntimeError, is raised as one too."""
    path = write(
        tmp_path,
        "hungry.py",
        """
        import torch
        import torch.nn as nn


        class Hungry(nn.Module):
            def forward(self, x: torch.Tensor) -> torch.Tensor:
                return torch.empty(1 << 60, dtype=torch.uint8)  # int in TorchScript
        """,
    )
    examples = {"Hungry": "(torch.ones(1),)"}
    proc = run_job(request_for(path, "Hungry", examples=examples))
    assert proc.returncode == 1
    assert "MemoryError: " in proc.stderr and "can't allocate memory" in proc.stderr


def test_save_hook_reading_weights_still_saves(tmp_path: Path) -> None:
    """Without examples the round trip first runs with the weights swapped for empty tensors
    (fast); a __getstate__ that reads them fails that way, and must not become a save_error."""
    path = write(
        tmp_path,
        "stateful.py",
        """
        import torch
        import torch.nn as nn
        from typing import Tuple


        class Stateful(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.w = nn.Parameter(torch.ones(3))

            @torch.jit.export
            def __getstate__(self) -> Tuple[torch.Tensor, float, bool]:
                return (self.w, float(self.w[2]), self.training)

            @torch.jit.export
            def __setstate__(self, state: Tuple[torch.Tensor, float, bool]) -> None:
                self.w = state[0]
                self.training = state[2]

            def forward(self, x: torch.Tensor) -> torch.Tensor:
                return x * self.w
        """,
    )
    assert only(verify(request_for(path, "Stateful")))["verdict"] == "ok"
    examples = {"Stateful": "(torch.ones(3),)"}
    with_examples = only(verify(request_for(path, "Stateful", examples=examples)))
    assert with_examples["verdict"] == "ok" and with_examples["compare"]["equal"]


def test_a_user_file_named_like_a_loaded_stdlib_module(tmp_path: Path) -> None:
    """A user `inspect.py` must not replace the real inspect in sys.modules (TorchScript calls
    it for every source it reads): it is loaded under a private name instead."""
    path = write(tmp_path, "inspect.py", CLEAN)
    answer = verify(request_for(path, "Net", "double"))
    assert [r["verdict"] for r in answer["results"]] == ["ok", "ok"], answer
