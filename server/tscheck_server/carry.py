"""Keeping the last good analysis while the file does not parse.

Mid-typing, a file is often not valid Python for a moment. The engine then reports one TS001;
everything else the user was shown would vanish and come back a keystroke later. Instead, the
diagnostics of the last analysis that parsed are kept wherever their lines are unchanged,
moved to where those lines are now. Their fixes are dropped: edits computed for another text
must not be applied to this one.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence

from lsprotocol import types

from tscheck.engine import SYNTAX_ERROR


def carry_over(
    old_lines: Sequence[str],
    new_lines: Sequence[str],
    old: Sequence[types.Diagnostic],
    uri: str,
) -> list[types.Diagnostic]:
    """The diagnostics in `old` whose lines survive unchanged in `new_lines`, moved there."""
    moved = _line_map(old_lines, new_lines)
    out = []
    for diagnostic in old:
        if diagnostic.code == SYNTAX_ERROR:
            continue
        rng = _move(diagnostic.range, moved)
        if rng is None:
            continue
        related = [_move_related(info, moved, uri) for info in diagnostic.related_information or ()]
        out.append(
            types.Diagnostic(
                range=rng,
                message=diagnostic.message,
                severity=diagnostic.severity,
                code=diagnostic.code,
                code_description=diagnostic.code_description,
                source=diagnostic.source,
                related_information=related or None,
                tags=diagnostic.tags,
                data={"fixes": []},
            )
        )
    return out


def _line_map(old_lines: Sequence[str], new_lines: Sequence[str]) -> dict[int, int]:
    """Old line index -> new line index, for the lines the edit left alone."""
    matcher = difflib.SequenceMatcher(a=list(old_lines), b=list(new_lines), autojunk=False)
    moved: dict[int, int] = {}
    for tag, i1, i2, j1, _ in matcher.get_opcodes():
        if tag == "equal":
            for k in range(i2 - i1):
                moved[i1 + k] = j1 + k
    return moved


def _move(rng: types.Range, moved: dict[int, int]) -> types.Range | None:
    first, last = rng.start.line, rng.end.line
    if any(line not in moved for line in range(first, last + 1)):
        return None  # the flagged code was edited: its diagnostic may no longer hold
    shift = moved[first] - first
    if moved[last] - last != shift:
        return None
    return types.Range(
        start=types.Position(line=first + shift, character=rng.start.character),
        end=types.Position(line=last + shift, character=rng.end.character),
    )


def _move_related(
    info: types.DiagnosticRelatedInformation, moved: dict[int, int], uri: str
) -> types.DiagnosticRelatedInformation:
    if info.location.uri != uri:
        return info
    rng = _move(info.location.range, moved) or info.location.range
    return types.DiagnosticRelatedInformation(
        location=types.Location(uri=uri, range=rng), message=info.message
    )
