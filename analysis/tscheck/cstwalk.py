"""Fast traversal of libcst trees for rules: reads dataclass fields directly.

libcst's `node.children` and visitors rebuild every node they pass (about 3x slower); these
helpers only read. Whitespace, punctuation, annotations and decorators are skipped.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import libcst as cst

SKIPPED_FIELDS = frozenset(
    {
        "lpar",
        "rpar",
        "leading_lines",
        "lines_after_decorators",
        "header",
        "footer",
        "semicolon",
        "comma",
        "equal",
        "star_tok",
        "annotation",
        "returns",
        "decorators",
    }
)
SKIPPED_TYPES = (
    cst.BaseParenthesizableWhitespace,
    cst.Comma,
    cst.Newline,
    cst.Comment,
    cst.EmptyLine,
    cst.TrailingWhitespace,
    cst.LeftParen,
    cst.RightParen,
    cst.LeftSquareBracket,
    cst.RightSquareBracket,
    cst.LeftCurlyBrace,
    cst.RightCurlyBrace,
    cst.Semicolon,
    cst.Colon,
    cst.AssignEqual,
    cst.Dot,
    cst.ImportStar,
)
OPAQUE = (cst.FunctionDef, cst.ClassDef, cst.Lambda)
_fields: dict[type[cst.CSTNode], tuple[str, ...]] = {}


def field_names(node_type: type[cst.CSTNode]) -> tuple[str, ...]:
    names = _fields.get(node_type)
    if names is None:
        names = tuple(
            f.name
            for f in dataclasses.fields(node_type)
            if f.name not in SKIPPED_FIELDS and not f.name.startswith("whitespace")
        )
        _fields[node_type] = names
    return names


def children(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """The meaningful child nodes, in source order."""
    for name in field_names(type(node)):
        value = getattr(node, name)
        if isinstance(value, cst.CSTNode):
            if not isinstance(value, SKIPPED_TYPES):
                yield value
        elif isinstance(value, (tuple, list)):
            for child in value:
                if isinstance(child, cst.CSTNode) and not isinstance(child, SKIPPED_TYPES):
                    yield child


def is_docstring(statement: cst.CSTNode) -> bool:
    """A statement that is only a string literal (a docstring where it stands first)."""
    return (
        isinstance(statement, cst.SimpleStatementLine)
        and len(statement.body) == 1
        and isinstance(statement.body[0], cst.Expr)
        and isinstance(statement.body[0].value, (cst.SimpleString, cst.ConcatenatedString))
    )


def preorder(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """Every node below `node` in source order, not entering nested defs, classes, lambdas."""
    stack = list(children(node))
    stack.reverse()
    while stack:
        current = stack.pop()
        yield current
        if not isinstance(current, OPAQUE):
            below = list(children(current))
            below.reverse()
            stack.extend(below)
