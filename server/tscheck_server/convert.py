"""Pure conversions between tscheck's model and LSP types; no I/O, no server state.

tscheck columns count code points (libcst); LSP columns count UTF-16 code units by default.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import unquote, urlparse

from lsprotocol import types

from tscheck.model import ChainLink, Diagnostic, Fix, Range, Severity

SOURCE = "tscheck"
FIX_ALL = "source.fixAll.tscheck"
IGNORE_COMMENT = re.compile(r"#\s*tscheck:\s*ignore\[(?P<codes>[^\]]*)\]", re.IGNORECASE)

_SEVERITY = {
    Severity.ERROR: types.DiagnosticSeverity.Error,
    Severity.WARNING: types.DiagnosticSeverity.Warning,
    Severity.INFO: types.DiagnosticSeverity.Information,
}


def split_lines(text: str) -> list[str]:
    """The document's lines without their line endings (what positions index into)."""
    return [line.rstrip("\r") for line in text.split("\n")]


def to_utf16(line: str, column: int) -> int:
    """A code-point column in `line` as a UTF-16 column (columns past the end keep counting)."""
    prefix = line[:column]
    return column + sum(1 for ch in prefix if ord(ch) > 0xFFFF)


def from_utf16(line: str, character: int) -> int:
    """A UTF-16 column in `line` as a code-point column."""
    units = 0
    for index, ch in enumerate(line):
        if units >= character:
            return index
        units += 2 if ord(ch) > 0xFFFF else 1
    return len(line) + max(0, character - units)


def _line(lines: Sequence[str], number: int) -> str:
    return lines[number] if 0 <= number < len(lines) else ""


def position(lines: Sequence[str], line: int, column: int) -> types.Position:
    """A 1-based line and code-point column as an LSP position."""
    index = max(line - 1, 0)
    return types.Position(line=index, character=to_utf16(_line(lines, index), max(column, 0)))


def lsp_range(lines: Sequence[str], rng: Range) -> types.Range:
    return types.Range(
        start=position(lines, rng.start.line, rng.start.column),
        end=position(lines, rng.end.line, rng.end.column),
    )


def path_to_uri(path: str) -> str:
    from pathlib import Path

    return Path(path).absolute().as_uri()


def uri_to_path(uri: str) -> str:
    parsed = urlparse(uri)
    if parsed.scheme != "file":
        return unquote(parsed.path) or uri
    return unquote(parsed.path)


def _link_location(link: ChainLink, here: str, uri: str) -> types.Location:
    target = uri if link.path == here else path_to_uri(link.path)
    start = types.Position(line=max(link.line - 1, 0), character=0)
    return types.Location(uri=target, range=types.Range(start=start, end=start))


def fix_data(fix: Fix, lines: Sequence[str]) -> dict[str, Any]:
    """A fix as JSON for Diagnostic.data: title, safe and LSP text edits."""
    return {
        "title": fix.title,
        "safe": fix.safe,
        "edits": [
            {
                "range": _range_json(lsp_range(lines, edit.range)),
                "newText": edit.new_text,
            }
            for edit in fix.edits
        ],
    }


def _range_json(rng: types.Range) -> dict[str, Any]:
    return {
        "start": {"line": rng.start.line, "character": rng.start.character},
        "end": {"line": rng.end.line, "character": rng.end.character},
    }


def _range_from_json(data: Mapping[str, Any]) -> types.Range:
    start, end = data["start"], data["end"]
    return types.Range(
        start=types.Position(line=int(start["line"]), character=int(start["character"])),
        end=types.Position(line=int(end["line"]), character=int(end["character"])),
    )


def to_lsp(
    diagnostic: Diagnostic,
    lines: Sequence[str],
    uri: str,
    urls: Mapping[str, str],
) -> types.Diagnostic:
    """One tscheck diagnostic as an LSP diagnostic; fixes travel in `data`."""
    related = [
        types.DiagnosticRelatedInformation(
            location=_link_location(link, diagnostic.path, uri), message=link.text
        )
        for link in (*diagnostic.chain, *diagnostic.related)
    ]
    url = urls.get(diagnostic.code)
    message = diagnostic.message
    if diagnostic.verification == "confirmed":
        message += " (confirmed by torch.jit.script)"
    return types.Diagnostic(
        range=lsp_range(lines, diagnostic.range),
        message=message,
        severity=_SEVERITY[diagnostic.severity],
        code=diagnostic.code,
        code_description=types.CodeDescription(href=url) if url else None,
        source=SOURCE,
        related_information=related or None,
        data={
            "fixes": [fix_data(fix, lines) for fix in diagnostic.fixes],
            **({"verification": diagnostic.verification} if diagnostic.verification else {}),
        },
    )


def overlaps(a: types.Range, b: types.Range) -> bool:
    """Whether two ranges touch (an empty range at a diagnostic's edge counts)."""
    a_start, a_end = (a.start.line, a.start.character), (a.end.line, a.end.character)
    b_start, b_end = (b.start.line, b.start.character), (b.end.line, b.end.character)
    return a_start <= b_end and b_start <= a_end


def fix_actions(diagnostic: types.Diagnostic, uri: str) -> list[types.CodeAction]:
    """The quickfixes carried in a tscheck diagnostic's data."""
    data = diagnostic.data if isinstance(diagnostic.data, Mapping) else {}
    fixes = data.get("fixes") or []
    actions = []
    for index, fix in enumerate(fixes):
        try:
            edits = [
                types.TextEdit(range=_range_from_json(e["range"]), new_text=str(e["newText"]))
                for e in fix["edits"]
            ]
            title = str(fix["title"])
        except (KeyError, TypeError, ValueError):
            continue
        actions.append(
            types.CodeAction(
                title=f"tscheck ({diagnostic.code}): {title}",
                kind=types.CodeActionKind.QuickFix,
                diagnostics=[diagnostic],
                edit=types.WorkspaceEdit(changes={uri: edits}),
                is_preferred=index == 0 and bool(fix.get("safe", True)),
            )
        )
    return actions


def ignore_action(
    diagnostic: types.Diagnostic, uri: str, lines: Sequence[str]
) -> types.CodeAction | None:
    """The "Ignore CODE for this line" action: a `# tscheck: ignore[CODE]` comment at the
    line's end, or CODE added to one already there."""
    code = diagnostic.code
    if not isinstance(code, str) or not code:
        return None
    number = diagnostic.range.start.line
    text = _line(lines, number)
    existing = IGNORE_COMMENT.search(text)
    if existing is not None:
        codes = [c.strip().upper() for c in existing.group("codes").split(",") if c.strip()]
        if code.upper() in codes:
            return None
        at = existing.end("codes")
        new_text = ", " + code if codes else code
        start = end = types.Position(line=number, character=to_utf16(text, at))
    else:
        body = text.rstrip()
        new_text = f"  # tscheck: ignore[{code}]"
        start = types.Position(line=number, character=to_utf16(text, len(body)))
        end = types.Position(line=number, character=to_utf16(text, len(text)))
    edit = types.TextEdit(range=types.Range(start=start, end=end), new_text=new_text)
    return types.CodeAction(
        title=f"Ignore {code} for this line",
        kind=types.CodeActionKind.QuickFix,
        diagnostics=[diagnostic],
        edit=types.WorkspaceEdit(changes={uri: [edit]}),
    )


def describe_chain(chain: Iterable[ChainLink], here: str) -> list[str]:
    """The why-chain as markdown list items, root first."""
    out = []
    for number, link in enumerate(chain, start=1):
        where = f"line {link.line}" if link.path == here else f"{link.path}:{link.line}"
        out.append(f"{number}. {link.text} ({where})")
    return out


def wanted(kind: str, only: Sequence[str] | None) -> bool:
    """Whether a code action of `kind` answers a request limited to `only` (LSP: a kind
    matches when a requested kind is a dot-separated prefix of it)."""
    if not only:
        return True
    return any(kind == k or kind.startswith(k + ".") for k in only)


def _strictly_overlap(a: types.Range, b: types.Range) -> bool:
    a_start, a_end = (a.start.line, a.start.character), (a.end.line, a.end.character)
    b_start, b_end = (b.start.line, b.start.character), (b.end.line, b.end.character)
    if a_start == b_start:
        return True  # two edits at one place: their order would matter
    return a_start < b_end and b_start < a_end


def fix_all_action(diagnostics: Iterable[types.Diagnostic], uri: str) -> types.CodeAction | None:
    """`source.fixAll.tscheck`: the first safe fix of every diagnostic, skipping a fix whose
    edits overlap one already taken (a second run picks it up)."""
    taken: list[types.TextEdit] = []
    for diagnostic in diagnostics:
        data = diagnostic.data if isinstance(diagnostic.data, Mapping) else {}
        safe = [f for f in data.get("fixes") or [] if f.get("safe", True)]
        if not safe:
            continue
        try:
            edits = [
                types.TextEdit(range=_range_from_json(e["range"]), new_text=str(e["newText"]))
                for e in safe[0]["edits"]
            ]
        except (KeyError, TypeError, ValueError):
            continue
        # An edit another fix already makes (the same `import torch`) is shared, not a clash.
        edits = [e for e in edits if e not in taken]
        if any(_strictly_overlap(e.range, t.range) for e in edits for t in taken):
            continue
        taken.extend(edits)
    if not taken:
        return None
    return types.CodeAction(
        title="tscheck: fix all safely fixable problems",
        kind=FIX_ALL,
        edit=types.WorkspaceEdit(changes={uri: taken}),
    )
