"""Applying fixes: edits land exactly, overlapping fixes are left for the next pass, and an edit
two fixes share (the same import) is made once."""

from __future__ import annotations

import pytest

from tscheck.fix import apply_edits, safe_fixes
from tscheck.model import Diagnostic, Fix, Range, TextEdit

TEXT = "import torch\n\n\ndef f(x, y):\n    return x\n"
IMPORT = TextEdit(Range.of(1, 0, 1, 0), "from typing import Optional\n")


def diagnostic(line: int, *edits: TextEdit, safe: bool = True) -> Diagnostic:
    fix = Fix("annotate", tuple(edits), safe)
    return Diagnostic("m.py", Range.of(line, 0, line, 1), "TS201", "m", fixes=(fix,))


def test_a_shared_import_is_inserted_once_and_both_fixes_apply() -> None:
    x = TextEdit(Range.of(4, 7, 4, 7), ": Optional[int] = None")
    y = TextEdit(Range.of(4, 10, 4, 10), ": Optional[int] = None")
    fixes = safe_fixes([diagnostic(4, IMPORT, x), diagnostic(4, IMPORT, y)])
    assert len(fixes) == 2
    assert fixes[1].edits == (y,)
    out = apply_edits(TEXT, [e for f in fixes for e in f.edits])
    assert out.count("from typing import Optional") == 1
    assert "def f(x: Optional[int] = None, y: Optional[int] = None):" in out


def test_overlapping_fixes_keep_the_first_and_unsafe_ones_are_skipped() -> None:
    a = TextEdit(Range.of(5, 11, 5, 12), "y")
    b = TextEdit(Range.of(5, 11, 5, 12), "z")
    fixes = safe_fixes([diagnostic(5, a), diagnostic(5, b), diagnostic(4, IMPORT, safe=False)])
    assert [f.edits for f in fixes] == [(a,)]
    assert apply_edits(TEXT, fixes[0].edits).endswith("return y\n")
    with pytest.raises(ValueError):
        apply_edits(TEXT, [a, b])
