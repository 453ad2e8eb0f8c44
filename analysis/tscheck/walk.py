"""One walk over a compiled function's libcst tree serves every rule.

The walk reads dataclass fields directly (about 3x faster than libcst's visitor, which
rebuilds nodes) and skips whitespace and punctuation, type annotations, decorators, and the
bodies of nested defs, classes and lambdas (the node itself is still visited, so rules can
report it). TorchScript folds `torch.jit.is_scripting()` to True, so the branch of such a test
that runs only in eager Python is never compiled; but the Python frontend parses it, so rules
marked `frontend` still visit it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import libcst as cst

from tscheck.cstwalk import children, is_opaque
from tscheck.rules.base import FunctionContext, Rule, dotted
from tscheck.types import function_types, static_isinstance

Handler = Callable[[cst.CSTNode, FunctionContext], None]


class _Table:
    """Node type -> the (rule code, handler) pairs that want it, bases included."""

    def __init__(self, rules: Sequence[Rule]) -> None:
        self.handlers: dict[type[cst.CSTNode], list[tuple[str, Handler]]] = {}
        for rule in rules:
            for attr in dir(type(rule)):
                if not attr.startswith("visit_"):
                    continue
                node_type = getattr(cst, attr[len("visit_") :], None)
                if not (isinstance(node_type, type) and issubclass(node_type, cst.CSTNode)):
                    raise TypeError(f"{rule.code}: {attr} names no libcst node type")
                self.handlers.setdefault(node_type, []).append((rule.code, getattr(rule, attr)))
        self._by_type: dict[type[cst.CSTNode], list[tuple[str, Handler]]] = {}

    def for_type(self, node_type: type[cst.CSTNode]) -> list[tuple[str, Handler]]:
        found = self._by_type.get(node_type)
        if found is None:
            found = [pair for base in node_type.__mro__ for pair in self.handlers.get(base, ())]
            self._by_type[node_type] = found
        return found


class Dispatch:
    """The handlers of all rules, and of the frontend rules alone (for eager-only code)."""

    def __init__(self, rules: Sequence[Rule]) -> None:
        self.all = _Table(rules)
        frontend = [rule for rule in rules if rule.frontend]
        self.frontend = _Table(frontend) if frontend else None

    def for_type(self, node_type: type[cst.CSTNode]) -> list[tuple[str, Handler]]:
        return self.all.for_type(node_type)


_DISPATCHES: dict[tuple[Rule, ...], Dispatch] = {}


def dispatch_for(rules: Sequence[Rule]) -> Dispatch:
    """One Dispatch per rule selection (building one reads every rule class with dir())."""
    key = tuple(rules)
    found = _DISPATCHES.get(key)
    if found is None:
        found = _DISPATCHES[key] = Dispatch(rules)
    return found


def walk_function(node: cst.FunctionDef, ctx: FunctionContext, dispatch: Dispatch) -> list[str]:
    """Visit the compiled parts of `node` (parameters' defaults and body); returns crashes."""
    errors: list[str] = []
    ctx.ancestors = [node]
    walker = _Walker(ctx, errors)
    try:
        walker.children(node.params, dispatch.all, dispatch.frontend)
        walker.children(node.body, dispatch.all, dispatch.frontend)
    except RecursionError:
        errors.append(f"{ctx.summary.path}:{ctx.info.line}: {ctx.qualname} is nested too deeply")
    return errors


class _Walker:
    def __init__(self, ctx: FunctionContext, errors: list[str]) -> None:
        self.ctx = ctx
        self.errors = errors

    def visit(self, node: cst.CSTNode, table: _Table, frontend: _Table | None) -> None:
        ctx = self.ctx
        for code, handler in table.for_type(type(node)):
            ctx.rule_code = code
            try:
                handler(node, ctx)
            except Exception as exc:  # one rule's bug costs only that rule
                self.errors.append(
                    f"{ctx.summary.path}: rule {code} crashed: {type(exc).__name__}: {exc}"
                )
        node_type = type(node)
        if is_opaque(node_type):
            return
        if node_type is cst.If or node_type is cst.IfExp:
            split = scripting_split(node)  # type: ignore[arg-type]  # narrowed by exact type
            if split is None:
                split = static_split(node, ctx)  # type: ignore[arg-type]
            if split is not None:
                compiled, eager = split
                ctx.ancestors.append(node)
                self.visit_all(compiled, table, frontend)
                if frontend is not None:
                    self.visit_all(eager, frontend, frontend)
                ctx.ancestors.pop()
                return
        self.children(node, table, frontend)

    def visit_all(
        self, nodes: Sequence[cst.CSTNode], table: _Table, frontend: _Table | None
    ) -> None:
        for child in nodes:
            self.visit(child, table, frontend)

    def children(self, node: cst.CSTNode, table: _Table, frontend: _Table | None) -> None:
        self.ctx.ancestors.append(node)
        for child in children(node):
            self.visit(child, table, frontend)
        self.ctx.ancestors.pop()


# What the compiler takes these zero-argument calls to be while it compiles.
SCRIPTING_FLAGS = {"is_scripting": True, "_is_scripting": True}


def fold(
    test: cst.BaseExpression, leaf: Callable[[cst.BaseExpression], bool | None]
) -> bool | None:
    """The value of `test` through `not`, `and`, `or`, when `leaf` decides enough of its
    operands; None otherwise."""
    if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
        inner = fold(test.expression, leaf)
        return None if inner is None else not inner
    if isinstance(test, cst.BooleanOperation):
        left, right = fold(test.left, leaf), fold(test.right, leaf)
        decisive = isinstance(test.operator, cst.Or)
        if decisive in (left, right):
            return decisive
        if left is not None and left == right:
            return left
        return None
    return leaf(test)


def flag_value(test: cst.BaseExpression, flags: Mapping[str, bool]) -> bool | None:
    """The value of `test` when calls named in `flags` (`torch.jit.is_scripting()`, ...)
    decide it, folded through `not`, `and`, `or`; None otherwise."""

    def call(node: cst.BaseExpression) -> bool | None:
        if isinstance(node, cst.Call) and not node.args:
            return flags.get(dotted(node.func).split(".")[-1])
        return None

    return fold(test, call)


def scripting_value(test: cst.BaseExpression) -> bool | None:
    """The value of `test` while TorchScript compiles, when `torch.jit.is_scripting()` decides
    it; None otherwise. Mirrors index.is_scripting_test."""
    return flag_value(test, SCRIPTING_FLAGS)


def scripting_split(
    node: cst.If | cst.IfExp,
) -> tuple[Sequence[cst.CSTNode], Sequence[cst.CSTNode]] | None:
    """(compiled, eager-only) parts of an `if`/ternary that `is_scripting()` decides."""
    if not isinstance(node.test, (cst.Call, cst.UnaryOperation, cst.BooleanOperation)):
        return None  # the cheap test first: this runs for every `if`
    return _split(node, scripting_value(node.test))


def static_split(
    node: cst.If | cst.IfExp, ctx: FunctionContext
) -> tuple[Sequence[cst.CSTNode], Sequence[cst.CSTNode]] | None:
    """(compiled, dropped) parts of an `if`/ternary whose `isinstance()` test the static type
    of a parameter decides (`if not isinstance(x, torch.Tensor): raise ...` for `x: Tensor`):
    the compiler emits only the branch it takes; the frontend still parses the other."""
    test = node.test
    if not isinstance(test, (cst.Call, cst.UnaryOperation, cst.BooleanOperation)):
        return None
    if "isinstance" not in ctx.code_for(test):
        return None
    return _split(node, _static_value(test, ctx))


def _static_value(test: cst.BaseExpression, ctx: FunctionContext) -> bool | None:
    return fold(test, lambda node: _isinstance_value(node, ctx))


def _isinstance_value(test: cst.BaseExpression, ctx: FunctionContext) -> bool | None:
    if not (isinstance(test, cst.Call) and dotted(test.func) == "isinstance"):
        return None
    if len(test.args) != 2 or any(a.keyword is not None or a.star for a in test.args):
        return None
    value, classes = test.args[0].value, test.args[1].value
    if not isinstance(value, cst.Name):
        return None
    env = function_types(ctx)
    if value.value not in env.params or value.value in env.bindings:
        return None  # only parameters never rebound: their type is the signature's
    shapes = classes.elements if isinstance(classes, cst.Tuple) else [classes]
    names = [ctx.resolve(dotted(e.value if isinstance(e, cst.BaseElement) else e)) for e in shapes]
    if "" in names:
        return None
    return static_isinstance(env.params[value.value], names)


def _split(
    node: cst.If | cst.IfExp, value: bool | None
) -> tuple[Sequence[cst.CSTNode], Sequence[cst.CSTNode]] | None:
    """(taken, not taken) parts of an `if`/ternary whose test is `value`."""
    if value is None:
        return None
    if isinstance(node, cst.IfExp):
        body: Sequence[cst.CSTNode] = (node.body,)
        orelse: Sequence[cst.CSTNode] = (node.orelse,)
    else:
        body = node.body.body
        other = node.orelse
        if other is None:
            orelse = ()
        elif isinstance(other, cst.Else):
            orelse = other.body.body
        else:
            orelse = (other,)
    return (body, orelse) if value else (orelse, body)
