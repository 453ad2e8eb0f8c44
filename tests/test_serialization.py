"""Serialization (TS5xx) beyond the rules' own examples: the verifier's save / load round trip
confirms the diagnostics that name the failing call, and a save failure nothing static
predicted (TS900) names the rule that describes it. Real compiler, real sandboxed verifier."""

from __future__ import annotations

import importlib.util
import io
import sys
from pathlib import Path

import pytest
from test_verify import run, write

from tscheck.config import Config
from tscheck.engine import check_source
from tscheck.model import CompilerError
from tscheck.verify.save_codes import failure_code

torch = pytest.importorskip("torch")

TWO_IGNORED = """
    import io

    import torch
    import torch.nn as nn


    def _plain(x: torch.Tensor) -> torch.Tensor:
        return x


    plain = torch.jit.ignore(_plain)


    class Net(nn.Module):
        @torch.jit.ignore
        def log(self, x: torch.Tensor) -> torch.Tensor:
            return x

        @torch.jit.ignore
        def other(self, x: torch.Tensor) -> torch.Tensor:
            return x

        def forward(self, x: torch.Tensor):
            return self.other(self.log(x))


    class Hidden(nn.Module):
        def forward(self, x: torch.Tensor):
            return plain(x)


    def export() -> bytes:
        buffer = io.BytesIO()
        torch.jit.save(torch.jit.script(Net()), buffer)
        return buffer.getvalue()
"""


def test_the_save_failure_confirms_the_diagnostics_naming_its_call(tmp_path: Path) -> None:
    write(tmp_path, {"net.py": TWO_IGNORED})
    code, doc, _ = run(tmp_path)
    assert code == 1
    by_key = {
        (d["code"], d["range"]["start"]["line"], d["message"][:20]): d for d in doc["diagnostics"]
    }
    got = sorted((c, line, d["verification"] or "") for (c, line, _), d in by_key.items())
    # The compiler stops at the first call it cannot export ('log', evaluated first): that
    # TS302 and the TS502 at the save call (which names every ignored call) are confirmed;
    # the TS302 on 'other' is neither confirmed nor dropped.
    assert got == [
        ("TS302", 24, ""),
        ("TS302", 24, "confirmed"),
        ("TS502", 34, "confirmed"),
        ("TS900", 7, "compiler"),
    ]
    confirmed = [d for d in doc["diagnostics"] if d["verification"] == "confirmed"]
    assert all("'log'" in d["message"] for d in confirmed)
    assert any(
        r["text"].startswith("torch.jit.save: Could not export Python function call 'log'")
        for d in confirmed
        for r in d["related"]
    )
    # `plain = torch.jit.ignore(_plain)` is invisible to static analysis: the compiler's save
    # failure is a TS900 that names the rule describing it.
    (hidden,) = [d for d in doc["diagnostics"] if d["code"] == "TS900"]
    assert "torch.jit.script(Hidden) fails at save" in hidden["message"]
    assert "[TS302 ignored-call-blocks-save:" in hidden["message"]


def test_a_save_that_succeeds_drops_nothing_and_confirms_nothing(tmp_path: Path) -> None:
    """@torch.jit.unused does not block the save: no TS302 / TS502, and the verifier agrees."""
    write(
        tmp_path,
        {
            "net.py": """
            import io

            import torch
            import torch.nn as nn


            class Net(nn.Module):
                @torch.jit.unused
                def log(self, x: torch.Tensor) -> torch.Tensor:
                    return x

                def forward(self, x: torch.Tensor):
                    if self.training:
                        x = self.log(x)
                    return x + 1


            def export() -> bytes:
                buffer = io.BytesIO()
                torch.jit.save(torch.jit.script(Net()), buffer)
                return buffer.getvalue()
            """
        },
    )
    code, doc, _ = run(tmp_path)
    assert (code, doc["diagnostics"]) == (0, [])


CAUSES = """
import torch


class Identity(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x

    @staticmethod
    def backward(ctx, grad):
        return grad


class CallsFunction(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return Identity.apply(x)


class CallsIgnored(torch.nn.Module):
    @torch.jit.ignore
    def helper(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.helper(x)
"""


def _save_error(module: object) -> CompilerError:
    """The real compiler's save failure for `module`, as the verifier reports it."""
    with pytest.raises(RuntimeError) as caught:
        torch.jit.save(torch.jit.script(module), io.BytesIO())
    message = str(caught.value)
    first = next(line for line in message.splitlines() if line.strip())
    return CompilerError(message=message, first_line=first, stage="save")


def test_save_failures_are_classified_by_their_cause(tmp_path: Path) -> None:
    # A file of its own: torch reads the source, and this one's annotations are strings.
    path = tmp_path / "causes.py"
    path.write_text(CAUSES)
    spec = importlib.util.spec_from_file_location("tscheck_causes", path)
    assert spec is not None and spec.loader is not None
    causes = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = causes  # inspect finds a class's source through its module
    try:
        spec.loader.exec_module(causes)
        by_function = failure_code(_save_error(causes.CallsFunction()))
        by_ignored = failure_code(_save_error(causes.CallsIgnored()))
    finally:
        del sys.modules[spec.name]
    assert (by_function, by_ignored) == ("TS309", "TS302")
    assert failure_code(_save_error(causes.CallsFunction())) == "TS309"
    assert failure_code(_save_error(causes.CallsIgnored())) == "TS302"
    script_error = CompilerError(
        message="Python builtin <built-in function hasattr>", first_line=""
    )
    assert failure_code(script_error) is None


def test_ts502_names_a_model_defined_in_another_file_at_its_save() -> None:
    """The save call and the ignored call in different files: TS502 needs the project, and
    names the file of the call (diagnostics of check_source's single file only)."""
    from tscheck.engine import SourceFile, check

    model = (
        "import torch\nimport torch.nn as nn\n\n\nclass Net(nn.Module):\n"
        "    @torch.jit.ignore\n    def log(self, x: torch.Tensor) -> torch.Tensor:\n"
        "        return x\n\n    def forward(self, x: torch.Tensor):\n        return self.log(x)\n"
    )
    export = (
        "import io\n\nimport torch\nimport torch.nn as nn\n\nfrom pkg.model import Net\n\n\n"
        "class Unrelated(nn.Module):\n"
        "    def forward(self, x: torch.Tensor):\n        return x\n\n\n"
        "def export() -> None:\n    torch.jit.save(torch.jit.script(Net()), io.BytesIO())\n"
    )
    result = check(
        [SourceFile("pkg/export.py", "pkg.export", export)],
        context=[SourceFile("pkg/model.py", "pkg.model", model)],
    )
    found = [(d.code, d.range.start.line) for d in result.diagnostics]
    assert found == [("TS502", 15)]
    (diag,) = result.diagnostics
    assert "(called from `Net.forward` at model.py:11)" in diag.message
    assert check_source("pkg/export.py", export).diagnostics == ()


SCRIPTED_CLASS = """
import io

import torch


class Pair:
    def __init__(self, a: int):
        self.a = a


def export() -> bytes:
    buffer = io.BytesIO()
    torch.save(torch.jit.script(Pair), buffer)
    return buffer.getvalue()
"""


def test_torch_save_of_a_scripted_class_is_not_flagged(tmp_path: Path) -> None:
    """torch.jit.script(SomeClass) returns the class itself, which pickles: no TS504."""
    path = tmp_path / "scripted_class.py"
    path.write_text(SCRIPTED_CLASS)
    spec = importlib.util.spec_from_file_location("tscheck_scripted_class", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
        assert module.export()  # the real torch.save succeeds
    finally:
        del sys.modules[spec.name]
    config = Config(roots=("scripted_class.py:Pair",))
    assert check_source("scripted_class.py", SCRIPTED_CLASS, config).diagnostics == ()


def test_jit_load_found_under_its_aliases_and_not_in_a_local_load() -> None:
    """`from torch.jit import load as jload` and `import torch.jit as J` are torch.jit.load;
    a method's own `load()` helper is not (and its class is not even parsed for it)."""
    text = """\
import torch
from torch import nn
from torch.jit import load as jload
import torch.jit as J


class Net(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x

    @torch.jit.ignore
    def restore(self, state: dict) -> None:
        def load(module: nn.Module) -> None:
            module.cuda()

        load(self)


def restore(path: str):
    a = torch.jit.load(path)
    b = jload(path)
    c = J.load(path, map_location=lambda s, l: s)
    return a.cuda(), b, c
"""
    found = [(d.code, d.range.start.line) for d in check_source("m.py", text).diagnostics]
    assert found == [("TS503", 20), ("TS503", 21), ("TS505", 22)]
