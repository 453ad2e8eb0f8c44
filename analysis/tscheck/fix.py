"""Applying text edits: fixes are data (ranges and new text) until someone asks to write them."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterable, Sequence

from tscheck.model import Diagnostic, Fix, Position, TextEdit
from tscheck.parse import source_lines


def offset_of(lines: Sequence[str], pos: Position) -> int:
    """Character offset of a (1-based line, 0-based column) position in the joined lines."""
    line = min(max(pos.line, 1), len(lines) + 1)
    return sum(len(text) for text in lines[: line - 1]) + pos.column


def apply_edits(text: str, edits: Iterable[TextEdit]) -> str:
    """Apply non-overlapping edits; raises ValueError if two overlap."""
    lines = source_lines(text)
    spans = sorted(
        (
            (offset_of(lines, e.range.start), offset_of(lines, e.range.end), e.new_text)
            for e in edits
        ),
        key=lambda s: (s[0], s[1]),
    )
    for (_, a_end, _), (b_start, _, _) in itertools.pairwise(spans):
        if b_start < a_end:
            raise ValueError("overlapping edits")
    out = text
    for start, end, new_text in reversed(spans):
        out = out[:start] + new_text + out[end:]
    return out


def safe_fixes(diagnostics: Iterable[Diagnostic]) -> list[Fix]:
    """The first safe fix of each diagnostic, dropping any that overlaps one already taken.

    An edit identical to one already taken (the same import inserted at the same place by two
    fixes) is shared, not a conflict: the second fix keeps its other edits only, so the import
    is added once."""
    taken: list[Fix] = []
    used: list[tuple[Position, Position]] = []
    seen: set[TextEdit] = set()
    for d in diagnostics:
        fix = next((f for f in d.fixes if f.safe), None)
        if fix is None:
            continue
        edits = tuple(e for e in fix.edits if e not in seen)
        spans = [(e.range.start, e.range.end) for e in edits]
        if any(_overlaps(s, u) for s in spans for u in used):
            continue
        taken.append(dataclasses.replace(fix, edits=edits) if edits != fix.edits else fix)
        used.extend(spans)
        seen.update(edits)
    return taken


def _overlaps(a: tuple[Position, Position], b: tuple[Position, Position]) -> bool:
    # Two insertions at the same point also conflict: their order would be arbitrary.
    if a[0] == a[1] == b[0] == b[1]:
        return True
    return a[0] < b[1] and b[0] < a[1]
