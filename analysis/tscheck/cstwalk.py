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


# What a field value is, by its exact type: isinstance against CSTNode (an ABC) was a third of
# a rule walk's time. NODE: a meaningful node; SKIPPED: a node of SKIPPED_TYPES; MANY: a
# tuple or list of values; OTHER: anything else (str, None, ...).
OTHER, NODE, SKIPPED, MANY = 0, 1, 2, 3
_kinds: dict[type, int] = {}


def kind_of(value_type: type) -> int:
    kind = _kinds.get(value_type)
    if kind is None:
        if issubclass(value_type, cst.CSTNode):
            kind = SKIPPED if issubclass(value_type, SKIPPED_TYPES) else NODE
        elif issubclass(value_type, (tuple, list)):
            kind = MANY
        else:
            kind = OTHER
        _kinds[value_type] = kind
    return kind


_opaque: dict[type, bool] = {}


def is_opaque(node_type: type) -> bool:
    """A def, class or lambda: a scope of its own that walks do not enter."""
    known = _opaque.get(node_type)
    if known is None:
        known = _opaque[node_type] = issubclass(node_type, OPAQUE)
    return known


def children(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """The meaningful child nodes, in source order."""
    kinds = _kinds
    for name in field_names(type(node)):
        value = getattr(node, name)
        kind = kinds.get(type(value))
        if kind is None:
            kind = kind_of(type(value))
        if kind == NODE:
            yield value
        elif kind == MANY:
            for child in value:
                sub = kinds.get(type(child))
                if sub is None:
                    sub = kind_of(type(child))
                if sub == NODE:
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
        if not is_opaque(type(current)):
            below = list(children(current))
            below.reverse()
            stack.extend(below)


def dotted(node: cst.BaseExpression) -> str:
    """`a.b.c` for a Name/Attribute chain, "" for anything else."""
    parts: list[str] = []
    while isinstance(node, cst.Attribute):
        parts.append(node.attr.value)
        node = node.value
    if isinstance(node, cst.Name):
        parts.append(node.value)
        return ".".join(reversed(parts))
    return ""


def mentioned_names(node: cst.CSTNode) -> set[str]:
    """Every name a piece of code mentions (attribute names after a dot are not names)."""
    out: set[str] = set()
    stack: list[cst.CSTNode] = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, cst.Name):
            out.add(current.value)
        elif isinstance(current, cst.Attribute):
            stack.append(current.value)
            continue
        stack.extend(children(current))
    return out


def bound_names(node: cst.CSTNode) -> set[str]:
    """Names a piece of code binds (any target shape, loops, with, nested defs)."""
    assigned: set[str] = set()
    stack: list[cst.CSTNode] = [node]
    while stack:
        current = stack.pop()
        targets: list[cst.BaseExpression] = []
        if isinstance(current, cst.Assign):
            targets = [t.target for t in current.targets]
        elif isinstance(current, (cst.AnnAssign, cst.AugAssign, cst.NamedExpr)):
            targets = [current.target]
        elif isinstance(current, (cst.For, cst.CompFor)):
            targets = [current.target]
        elif isinstance(current, cst.AsName):
            targets = [current.name] if isinstance(current.name, cst.BaseExpression) else []
        elif isinstance(current, cst.Del):
            targets = [current.target]
        elif isinstance(current, (cst.Global, cst.Nonlocal)):
            assigned.update(n.name.value for n in current.names)
        elif isinstance(current, (cst.FunctionDef, cst.ClassDef)):
            assigned.add(current.name.value)
        for target in targets:
            assigned |= mentioned_names(target)
        stack.extend(children(current))
    return assigned
