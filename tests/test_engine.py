"""The core call on odd input: exact positions, suppressions, and no crash on anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from tscheck.engine import check_source
from tscheck.model import Range

LAMBDA_MODULE = (
    "import torch.nn as nn\n"
    "class M(nn.Module):\n"
    "    def forward(self, x):\n"
    "        return (lambda y: y)(x)\n"
)


def lambda_range(text: str) -> Range:
    (d,) = check_source("t.py", text).diagnostics
    assert d.code == "TS101"
    return d.range


def test_range_covers_the_lambda_exactly() -> None:
    assert lambda_range(LAMBDA_MODULE) == Range.of(4, 16, 4, 27)


@pytest.mark.parametrize("newline", ["\r\n", "\r"])
def test_positions_are_the_same_with_other_line_endings(newline: str) -> None:
    assert lambda_range(LAMBDA_MODULE.replace("\n", newline)) == Range.of(4, 16, 4, 27)


def test_columns_count_code_points_not_bytes() -> None:
    text = LAMBDA_MODULE.replace("return (", 'é = "ü"; return (')
    assert lambda_range(text) == Range.of(4, 25, 4, 36)


def test_form_feed_does_not_shift_lines() -> None:
    text = LAMBDA_MODULE.replace("class M", "\x0c\nclass M")
    assert lambda_range(text).start.line == 5


def test_byte_order_mark_is_ignored() -> None:
    assert lambda_range("\ufeff" + LAMBDA_MODULE).start.line == 4


def test_column_zero_text_inside_a_string_does_not_break_block_splitting() -> None:
    text = LAMBDA_MODULE.replace(
        "    def forward", '    """\ndef not_a_function():\n    """\n    def forward'
    )
    assert lambda_range(text).start.line == 7


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("def f(:\n", "SyntaxError: invalid syntax; this file was not checked"),
        ("x = 1\x00\n", "SyntaxError: source code string cannot contain null bytes"),
        ("x = " + "+".join(["x"] * 3000) + "\n", "nested too deeply for Python's parser"),
    ],
)
def test_unparseable_input_is_one_ts001_diagnostic(text: str, message: str) -> None:
    (d,) = check_source("t.py", text).diagnostics
    assert d.code == "TS001" and message in d.message


def test_empty_file_is_clean() -> None:
    assert check_source("t.py", "").diagnostics == ()


def test_suppression_comment_silences_the_named_code_on_its_line() -> None:
    text = LAMBDA_MODULE.replace("(x)\n", "(x)  # tscheck: ignore[TS101]\n")
    assert check_source("t.py", text).diagnostics == ()


def test_bare_suppression_silences_every_code_on_its_line() -> None:
    text = LAMBDA_MODULE.replace("(x)\n", "(x)  # tscheck: ignore\n")
    assert check_source("t.py", text).diagnostics == ()


def test_suppression_of_another_code_does_not_silence() -> None:
    text = LAMBDA_MODULE.replace("(x)\n", "(x)  # tscheck: ignore[TS102]\n")
    assert [d.code for d in check_source("t.py", text).diagnostics] == ["TS101"]


def test_unknown_code_in_suppression_is_warned() -> None:
    text = LAMBDA_MODULE.replace("(x)\n", "(x)  # tscheck: ignore[TS101, TS999]\n")
    (d,) = check_source("t.py", text).diagnostics
    assert d.code == "TS002" and "TS999" in d.message
    assert d.range == Range.of(4, 58, 4, 63)


def test_docstrings_with_column_zero_text_keep_the_file_in_blocks() -> None:
    from tscheck.parse import split_blocks

    text = (
        '"""Title\n\nclass NotAClass:\n"""\n'
        "import torch\n\n\n"
        'def f():\n    x = """\ndef g():\n"""\n'
    )
    starts = [b.start_line for b in split_blocks(text)]
    assert starts == [1, 5, 8]


def test_an_export_script_that_compiles_nothing_gets_its_save_findings(tmp_path: Path) -> None:
    """export.py scripts and saves a model defined elsewhere: its own save calls are checked
    (call-site rules run in files without compiled code); other files cost nothing."""
    from tscheck.engine import SourceFile, check

    model = """\
import torch
from torch import nn


class Net(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.log(x)
        return x

    @torch.jit.ignore
    def log(self, x: torch.Tensor) -> None:
        print(x)
"""
    export = """\
import io

import torch

from pkg.model import Net

scripted = torch.jit.script(Net())
torch.jit.save(scripted, "net.pt")
torch.save(scripted, "net.pkl")
scripted.save(io.BytesIO())
"""
    plain = "def add(a, b):\n    return a + b\n"
    files = [
        SourceFile(str(tmp_path / "pkg" / "model.py"), "pkg.model", model),
        SourceFile(str(tmp_path / "pkg" / "export.py"), "pkg.export", export),
        SourceFile(str(tmp_path / "pkg" / "plain.py"), "pkg.plain", plain),
    ]
    result = check(files)
    found = sorted(
        (d.path.rsplit("/", 1)[-1], d.range.start.line, d.code) for d in result.diagnostics
    )
    assert ("export.py", 8, "TS502") in found
    assert ("export.py", 9, "TS504") in found
    assert ("export.py", 10, "TS507") in found
    assert not [f for f in found if f[0] == "plain.py"]


def test_a_module_the_project_only_traces_is_not_a_default_scripting_root() -> None:
    """torch.jit.trace runs forward as Python: its try/except is fine there. The same code in a
    module that is scripted too, or in one nobody traces, is reported."""
    body = """
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        try:
            return x + 1
        except RuntimeError:
            return x
"""
    text = (
        "import torch\nfrom torch import nn\n\n"
        + "".join(f"\nclass {name}(nn.Module):{body}\n" for name in ("Traced", "Both", "Plain"))
        + "\nt = torch.jit.trace(Traced(), torch.ones(1))\n"
        + "b = torch.jit.trace(Both(), torch.ones(1))\n"
        + "s = torch.jit.script(Both())\n"
    )
    result = check_source("m.py", text)
    owners = {c.info.qualname for c in result.compiled if c.mode == "compiled"}
    assert owners == {"Both.forward", "Plain.forward"}
    assert [d.code for d in result.diagnostics] == ["TS102", "TS102"]


def test_no_annotation_fix_where_annotations_are_postponed() -> None:
    """TS305's fix adds annotations; under `from __future__ import annotations` they would be
    strings TorchScript cannot read (TS191), so it is not offered there."""
    body = """\
import torch
import torch.nn as nn


class M(nn.Module):
    @torch.jit.unused
    def scale(self, x, n=2):
        return x * n

    def forward(self, x: torch.Tensor):
        if self.training:
            return self.scale(x, 3)
        return x
"""
    plain = [d for d in check_source("m.py", body).diagnostics if d.code == "TS305"]
    future = "from __future__ import annotations\n" + body
    postponed = [d for d in check_source("m.py", future).diagnostics if d.code == "TS305"]
    assert len(plain) == 1 and plain[0].fixes
    assert len(postponed) == 1 and not postponed[0].fixes


STATIC_ISINSTANCE = """\
import torch
from typing import List


def f(x: torch.Tensor, xs: List[int], n: int) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"expected a tensor, not {type(x).__name__}")
    if isinstance(xs, (tuple, list)):
        n = n + len(xs)
    else:
        n = len(map(int, xs))
    y = x if isinstance(n, int) else x.numpy()
    return y * n
"""


def test_branches_an_isinstance_of_a_typed_parameter_rules_out_are_not_compiled() -> None:
    """The compiler decides `isinstance(x, torch.Tensor)` for `x: Tensor` and emits only the
    branch taken: Python-only code in the other is fine (the real compiler accepts this). A
    rebound parameter (`n`) is not decided, so that ternary's branches are both checked."""
    from compiler import Job, compile_all

    (verdict,) = compile_all([Job(STATIC_ISINSTANCE, "f", "m(torch.ones(1), [1, 2], 3)")])
    assert verdict.accepted, verdict.error
    from tscheck.config import Config

    result = check_source("m.py", STATIC_ISINSTANCE, Config(roots=("m.py:f",)))
    assert [(d.code, d.range.start.line) for d in result.diagnostics] == [("TS139", 12)]
