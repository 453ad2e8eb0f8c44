"""TS230-TS239: Optional values used before TorchScript refines them.

TorchScript types a value annotated `Optional[T]` as Optional until a test it understands
narrows it. This module follows the compiler's refinement rules (torch/csrc/jit/frontend/
ir_emitter.cpp, `RefinementSet`), checked one by one against torch 2.13:
- `x is not None` / `x is None` on a *local name*, and `isinstance(x, T)` /
  `torch.jit.isinstance(x, T)`, refine `x` in the branch where the test holds;
- `not` swaps the branches, `a and b` refines `b` with `a`'s true refinements (and the whole
  with both), `a or b` refines `b` with `a`'s false ones; ternaries refine their arms;
- `if` branches that end in `return` / `raise` (not `break` / `continue`) hand the other
  branch's refinements to the code after the `if`; `assert x is not None` refines what follows;
- `with` bodies share the enclosing scope; a `while` test does not refine the loop body;
  after a loop a name is its state before the loop joined with the body's (the loop may not
  run), and at every join an Optional meeting its refined `T` is Optional again;
- assignments replace the type (`x = 0` makes `x` an int); attributes (`self.bias`) are
  never refined.
What an Optional rejects (each checked): arithmetic and unary `-` / `~`, attributes and
methods, indexing, iteration and unpacking, `<`-style comparisons, `in`, `==` / `!=` (even
with None), use as a bool (`if x:`, `not x`, `x and y`), being returned as a plain `T` or
passed to a same-file callee's plain `T` parameter. Printing it, `len()` of an Optional
list, passing it to an Optional parameter and `is` tests are accepted.
The analysis only ever reports a name it knows to be Optional at that point: any assignment,
test or construct it does not model makes the name unknown, and unknown stays silent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import libcst as cst

from tscheck import cstwalk
from tscheck.cstwalk import children
from tscheck.index import ClassInfo
from tscheck.model import Family, Fix, Range, TextEdit
from tscheck.rules.base import FunctionContext, Rule, dotted, ex
from tscheck.rules.ts2xx_calls import typed_arguments
from tscheck.types import from_annotation, function_types
from tscheck.walk import scripting_split

_OPTIONAL = frozenset({"typing.Optional", "typing_extensions.Optional", "Optional"})
_UNION = frozenset({"typing.Union", "typing_extensions.Union", "Union"})
_ANNOTATE = frozenset({"torch.jit.annotate", "torch.jit._script.annotate"})
_ISINSTANCE = frozenset({"isinstance", "torch.jit.isinstance", "torch.jit._isinstance"})
# Operators TorchScript has no Optional overload for (each rejected with an Optional operand).
_ORDERING = (cst.LessThan, cst.LessThanEqual, cst.GreaterThan, cst.GreaterThanEqual)
_MEMBERSHIP = (cst.In, cst.NotIn)
_ARITH_UNARY = (cst.Minus, cst.BitInvert)
# Attribute types whose class annotation TorchScript reads as written (modules, interfaces
# and classes follow other paths in torch/jit/_recursive.py).
_PLAIN_TYPES = frozenset(
    {"int", "float", "bool", "str", "complex", "Tensor", "torch.Tensor", "List", "Dict", "Tuple"}
)


def optional_inner(annotation: cst.BaseExpression, resolve: Callable[[str], str]) -> str | None:
    """`T` for an annotation `Optional[T]`, `Union[T, None]` or `T | None`; None otherwise.
    Spelled as TorchScript does where the type model knows T, else as written."""
    known = from_annotation(annotation, resolve)
    if known is not None:
        return str(known.inner) if known.is_optional else None
    return _written_optional_inner(annotation, resolve)


def _written_optional_inner(
    annotation: cst.BaseExpression, resolve: Callable[[str], str]
) -> str | None:
    if isinstance(annotation, cst.BinaryOperation) and isinstance(annotation.operator, cst.BitOr):
        left, right = annotation.left, annotation.right
        if _is_none(right):
            return cst.Module([]).code_for_node(left)
        if _is_none(left):
            return cst.Module([]).code_for_node(right)
        return None
    if not isinstance(annotation, cst.Subscript):
        return None
    name = dotted(annotation.value)
    if not name:
        return None
    qualified = resolve(name)
    elements = [e.slice for e in annotation.slice]
    if not all(isinstance(e, cst.Index) for e in elements):
        return None
    values = [e.value for e in elements if isinstance(e, cst.Index)]
    code = cst.Module([]).code_for_node
    if qualified in _OPTIONAL and len(values) == 1:
        return code(values[0])
    if qualified in _UNION and any(_is_none(v) for v in values):
        rest = [code(v) for v in values if not _is_none(v)]
        if len(rest) == 1:
            return rest[0]
        return f"Union[{', '.join(rest)}]" if rest else None
    return None


def _is_none(node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.Name) and node.value == "None"


# -- the state: what each local name is at one point of the function ----------------------------


@dataclass
class _State:
    """`optional`: names known to be Optional here (name -> T); `refined`: names declared
    Optional and known to hold a T here. A name in neither is unknown, and never reported."""

    optional: dict[str, str] = field(default_factory=dict)
    refined: set[str] = field(default_factory=set)

    def copy(self) -> _State:
        return _State(dict(self.optional), set(self.refined))

    def forget(self, names: Iterable[str]) -> _State:
        out = self.copy()
        for name in names:
            out.optional.pop(name, None)
            out.refined.discard(name)
        return out

    def narrowed(self, refinement: dict[str, bool]) -> _State:
        """Apply a branch's refinements: True = not None there, False = unknown there."""
        out = self.copy()
        for name, not_none in refinement.items():
            if name in out.optional and not_none:
                del out.optional[name]
                out.refined.add(name)
            elif not not_none:
                out.optional.pop(name, None)
                out.refined.discard(name)
        return out


def _agreed(a: _State, b: _State) -> _State:
    """What holds whichever of two states is the real one."""
    optional = {n: t for n, t in a.optional.items() if b.optional.get(n) == t}
    return _State(optional, a.refined & b.refined)


def _join(a: _State | None, b: _State | None) -> _State | None:
    """After an `if`: a branch that exits (None) hands over the other; otherwise Optional
    joined with its refined T is Optional again (TorchScript unifies T and Optional[T])."""
    if a is None:
        return b
    if b is None:
        return a
    out = _State()
    for name, inner in a.optional.items():
        if name in b.optional or name in b.refined:
            out.optional[name] = inner
    for name, inner in b.optional.items():
        if name in a.refined:
            out.optional[name] = inner
    out.refined = a.refined & b.refined
    return out


# Refinements of a test: name -> True (not None) / False (unknown: None, or not modelled).
_Refinement = dict[str, bool]


def _and(a: _Refinement, b: _Refinement) -> _Refinement:
    """Both hold: every refinement of either (an unknown wins)."""
    out = dict(a)
    for name, value in b.items():
        out[name] = out.get(name, True) and value
    return out


def _or(a: _Refinement, b: _Refinement) -> _Refinement:
    """One holds: what both agree on; a name only one side narrows is left as it was, unless
    that side makes it unknown."""
    out: _Refinement = {}
    for name in a.keys() | b.keys():
        if name in a and name in b:
            out[name] = a[name] and b[name]
        elif not a.get(name, True) or not b.get(name, True):
            out[name] = False
    return out


# -- the walk ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Use:
    """An operation TorchScript rejects on an Optional operand."""

    node: cst.CSTNode  # what to underline
    operand: cst.BaseExpression  # the Optional name or `self.attr`
    inner: str  # T of Optional[T]
    what: str  # the operation, in words
    statement: cst.CSTNode | None  # the statement to put an assert before, when safe
    refining_if: cst.If | None = None  # the `if self.a is not None:` around an attribute use


class _Flow:
    """Walks one function's statements in order, carrying the refinement state."""

    def __init__(self, ctx: FunctionContext, attrs: dict[str, str], self_name: str) -> None:
        self.ctx = ctx
        self.attrs = attrs  # attribute -> T, for attributes annotated Optional on the class
        self.self_name = self_name
        self.uses: list[_Use] = []
        self.returns = _return_use(ctx)  # "" when returning an Optional is allowed
        self.seen: set[tuple[int, int]] = set()
        self.muted = 0  # > 0 inside a branch the compiler may skip
        self.constants = _constants(ctx) if self_name else frozenset()
        self.statement: cst.CSTNode | None = None
        # `if self.a is not None:` blocks we are inside: (the if, attributes it "tests").
        self.attr_tests: list[tuple[cst.If, frozenset[str]]] = []

    # -- statements --

    def block(self, statements: Sequence[cst.CSTNode], state: _State | None) -> _State | None:
        for statement in statements:
            if state is None:
                return None  # unreachable
            state = self.stmt(statement, state)
        return state

    def suite(self, body: cst.BaseSuite, state: _State | None) -> _State | None:
        if isinstance(body, cst.IndentedBlock):
            return self.block(body.body, state)
        if isinstance(body, cst.SimpleStatementSuite):
            if state is None:
                return None
            self.statement = None  # `if c: return x + 1`: no line of its own for an assert
            return self.smalls(body.body, state)
        return state

    def stmt(self, node: cst.CSTNode, state: _State) -> _State | None:
        if isinstance(node, cst.SimpleStatementLine):
            self.statement = node
            return self.smalls(node.body, state)
        self.statement = node
        if isinstance(node, cst.If):
            return self.if_(node, state)
        if isinstance(node, (cst.While, cst.For)):
            return self.loop(node, state)
        if isinstance(node, cst.With):
            for item in node.items:
                self.expr(item.item, state)
            bound = [n for item in node.items if item.asname for n in _bound(item.asname.name)]
            return self.suite(node.body, state.forget(bound))
        if isinstance(node, (cst.FunctionDef, cst.ClassDef)):
            return state.forget([node.name.value])
        # try / match and anything else TorchScript does not compile: forget what they touch.
        return state.forget(cstwalk.mentioned_names(node))

    def smalls(self, nodes: Sequence[cst.BaseSmallStatement], state: _State) -> _State | None:
        first = True
        for small in nodes:
            if not first:
                self.statement = None  # `a = 1; b = x + 1`: keep asserts on their own line
            first = False
            result = self.small(small, state)
            if result is None:
                return None
            state = result
        return state

    def small(self, node: cst.BaseSmallStatement, state: _State) -> _State | None:
        if isinstance(node, cst.Expr):
            self.expr(node.value, state)
            return state
        if isinstance(node, cst.Assign):
            self.expr(node.value, state)
            for assign_target in node.targets:
                state = self.assign(assign_target.target, node.value, state)
            return state
        if isinstance(node, cst.AnnAssign):
            if node.value is not None:
                self.expr(node.value, state)
            target = node.target
            if isinstance(target, cst.Name):
                inner = optional_inner(node.annotation.annotation, self.ctx.resolve)
                state = state.forget([target.value])
                if inner is not None:
                    state.optional[target.value] = inner
                return state
            self.expr(target, state)
            return state
        if isinstance(node, cst.AugAssign):
            self.expr(node.value, state)
            self.operand_use(node.target, node, "an augmented assignment", state)
            self.operand_use(node.value, node, "an augmented assignment", state)
            self.expr(node.target, state)
            return state.forget(_bound(node.target))
        if isinstance(node, cst.Return):
            if node.value is not None:
                self.expr(node.value, state)
                if self.returns:
                    self.operand_use(node.value, node.value, self.returns, state)
            return None
        if isinstance(node, cst.Raise):
            if node.exc is not None:
                self.expr(node.exc, state)
            return None
        if isinstance(node, cst.Assert):
            self.truth_use(node.test, state)
            self.expr(node.test, state)
            if node.msg is not None:
                self.expr(node.msg, state)
            true, _ = self.cond(node.test)
            return state.narrowed(true)
        if isinstance(node, (cst.Break, cst.Continue)):
            return state  # not an exit for refinement (checked: no refinement after it)
        if isinstance(node, cst.Del):
            return state.forget(_bound(node.target))
        if isinstance(node, (cst.Global, cst.Nonlocal)):
            return state.forget(n.name.value for n in node.names)
        return state

    def assign(
        self, target: cst.BaseExpression, value: cst.BaseExpression, state: _State
    ) -> _State:
        if isinstance(target, cst.Name):
            name = target.value
            was_declared = name in state.optional or name in state.refined
            source = value.value if isinstance(value, cst.Name) else None
            out = state.forget([name])
            declared = self.annotated(value)
            if declared is not None:
                out.optional[name] = declared  # `x = torch.jit.annotate(Optional[T], ...)`
            elif source is not None and source in state.optional:
                out.optional[name] = state.optional[source]
            elif self.optional_attr(value):
                out.optional[name] = self.attrs[self.optional_attr(value)]  # `b = self.bias`
            elif was_declared and (
                _never_none(value)
                or (source is not None and source in state.refined)
                or (source is not None and source not in state.optional and self.plain(source))
            ):
                out.refined.add(name)  # `x = 0`: the variable now holds an int
            return out
        if isinstance(target, (cst.Tuple, cst.List)):
            self.operand_use(value, value, "tuple unpacking", state)
        else:
            self.expr(target, state)
        return state.forget(_bound(target))

    def plain(self, name: str) -> bool:
        """A local the type model knows to hold a non-Optional value (`n: int`)."""
        found = function_types(self.ctx).name_type(name)
        return found is not None and not found.is_optional and found.kind not in ("None", "Any")

    def annotated(self, value: cst.BaseExpression) -> str | None:
        """T for `torch.jit.annotate(Optional[T], value)`."""
        if not isinstance(value, cst.Call) or len(value.args) != 2:
            return None
        callee = dotted(value.func)
        if not callee or self.ctx.resolve(callee) not in _ANNOTATE:
            return None
        return optional_inner(value.args[0].value, self.ctx.resolve)

    def if_(self, node: cst.If, state: _State) -> _State | None:
        split = scripting_split(node)
        if split is not None:  # `if torch.jit.is_scripting():` compiles one branch only
            return self.block(split[0], state)
        self.truth_use(node.test, state)
        self.expr(node.test, state)
        true, false = self.cond(node.test)
        tested = self.attr_refinements(node.test)
        if tested:
            self.attr_tests.append((node, tested))
        static = self.possibly_static(node.test, state)
        self.muted += static  # one branch may never be compiled: report in neither
        then = self.suite(node.body, state.narrowed(true))
        if tested:
            self.attr_tests.pop()
        other: _State | None = state.narrowed(false)
        orelse = node.orelse
        if isinstance(orelse, cst.If):
            self.statement = None  # no assert can go before an `elif`
            other = self.if_(orelse, state.narrowed(false))
        elif isinstance(orelse, cst.Else):
            other = self.suite(orelse.body, other)
        self.muted -= static
        if static:
            # Only one branch is compiled, which one is unknown: what is known after it is
            # what both branches agree on; if either exits, what follows may be dead code.
            return _agreed(then, other) if then is not None and other is not None else _State()
        return _join(then, other)

    def possibly_static(self, test: cst.BaseExpression, state: _State) -> bool:
        """A test TorchScript may decide while compiling, and then compile one branch only:
        a bool literal, a constant or Final attribute, `hasattr`, and `is None` /
        `isinstance` on anything not known to be Optional here (a non-Optional value, say
        an attribute that holds None or a Tensor, makes the test a constant)."""
        if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
            return self.possibly_static(test.expression, state)
        if isinstance(test, cst.BooleanOperation):
            return self.possibly_static(test.left, state) or self.possibly_static(test.right, state)
        if isinstance(test, cst.Name):
            return test.value in ("True", "False")
        subject = _none_test_subject(test)
        if subject is None and isinstance(test, cst.Call) and test.args:
            callee = self.ctx.resolve(dotted(test.func))
            if callee in ("hasattr", "getattr"):
                return True
            if callee in _ISINSTANCE:
                subject = test.args[0].value
        if subject is not None:
            return self.optional_type(subject, state) is None
        if (
            isinstance(test, cst.Attribute)
            and isinstance(test.value, cst.Name)
            and test.value.value == self.self_name
        ):
            return test.attr.value in self.constants
        return False

    def loop(self, node: cst.While | cst.For, state: _State) -> _State | None:
        """The body starts from the state before the loop, less what it assigns (a
        loop-carried variable's type is unknown here)."""
        assigned = cstwalk.bound_names(node.body)
        if isinstance(node, cst.For):
            self.expr(node.iter, state)
            self.operand_use(node.iter, node.iter, "a for loop", state)
            assigned |= set(_bound(node.target))
        inside = state.forget(assigned)
        if isinstance(node, cst.While):
            self.truth_use(node.test, inside)
            self.expr(node.test, inside)  # re-tested each iteration: the loop's state
        # The loop may run zero times: after it, a name is what it was before joined with
        # what the body leaves (an Optional refined only inside the body is Optional again).
        after = _join(inside, self.suite(node.body, inside)) or inside
        if node.orelse is not None:
            result = self.suite(node.orelse.body, after)
            after = result if result is not None else after.forget(after.optional)
        return after

    # -- tests --

    def cond(self, test: cst.BaseExpression) -> tuple[_Refinement, _Refinement]:
        """What `test` refines when it holds and when it does not."""
        if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
            true, false = self.cond(test.expression)
            return false, true
        if isinstance(test, cst.BooleanOperation):
            lt, lf = self.cond(test.left)
            rt, rf = self.cond(test.right)
            if isinstance(test.operator, cst.And):
                return _and(lt, rt), _or(lf, rf)
            return _or(lt, rt), _and(lf, rf)
        if isinstance(test, cst.Comparison) and len(test.comparisons) == 1:
            target = test.comparisons[0]
            left, right = test.left, target.comparator
            name = _name(left) if _is_none(right) else _name(right) if _is_none(left) else ""
            # Only the side where it is not None is refined; the other stays Optional.
            if name and isinstance(target.operator, cst.IsNot):
                return {name: True}, {}
            if name and isinstance(target.operator, cst.Is):
                return {}, {name: True}
            return {}, {}
        if isinstance(test, cst.Call) and test.args:
            callee = dotted(test.func)
            if callee and self.ctx.resolve(callee) in _ISINSTANCE:
                name = _name(test.args[0].value)
                if name:
                    return {name: True}, {name: False}
        if isinstance(test, cst.NamedExpr):
            name = _name(test.target)
            return ({name: False}, {name: False}) if name else ({}, {})
        return {}, {}

    def attr_refinements(self, test: cst.BaseExpression) -> frozenset[str]:
        """Attributes a test checks with `is not None` in its true branch (which TorchScript
        ignores): `self.a is not None`, possibly in an `and` chain."""
        if isinstance(test, cst.BooleanOperation) and isinstance(test.operator, cst.And):
            return self.attr_refinements(test.left) | self.attr_refinements(test.right)
        if isinstance(test, cst.Comparison) and len(test.comparisons) == 1:
            target = test.comparisons[0]
            attr = self.optional_attr(test.left)
            if attr and isinstance(target.operator, cst.IsNot) and _is_none(target.comparator):
                return frozenset({attr})
        return frozenset()

    # -- expressions --

    def optional_attr(self, node: cst.BaseExpression) -> str:
        if (
            isinstance(node, cst.Attribute)
            and isinstance(node.value, cst.Name)
            and node.value.value == self.self_name
            and node.attr.value in self.attrs
        ):
            return node.attr.value
        return ""

    def optional_type(self, node: cst.BaseExpression, state: _State) -> str | None:
        if isinstance(node, cst.Name):
            return state.optional.get(node.value)
        attr = self.optional_attr(node)
        return self.attrs[attr] if attr else None

    def operand_use(
        self, operand: cst.BaseExpression, node: cst.CSTNode, what: str, state: _State
    ) -> None:
        inner = self.optional_type(operand, state)
        if inner is None or self.muted or (id(node), id(operand)) in self.seen:
            return
        self.seen.add((id(node), id(operand)))
        refining_if = None
        attr = self.optional_attr(operand)
        if attr:
            for if_node, attrs in reversed(self.attr_tests):
                if attr in attrs:
                    refining_if = if_node
                    break
        self.uses.append(_Use(node, operand, inner, what, self.statement, refining_if))

    def truth_use(self, test: cst.BaseExpression, state: _State) -> None:
        """`if x:`, `not x`, `x and y`: TorchScript cannot cast an Optional to bool."""
        self.operand_use(test, test, "a truth test", state)

    def expr(self, node: cst.CSTNode, state: _State) -> None:
        """Report rejected operations on Optional operands anywhere in `node`."""
        if isinstance(node, cst.Attribute):
            self.operand_use(node.value, node, f"attribute `.{node.attr.value}`", state)
        elif isinstance(node, cst.BinaryOperation):
            for side in (node.left, node.right):
                self.operand_use(side, node, "an arithmetic operator", state)
        elif isinstance(node, cst.UnaryOperation) and isinstance(node.operator, _ARITH_UNARY):
            self.operand_use(node.expression, node, "a unary operator", state)
        elif isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Not):
            self.truth_use(node.expression, state)
        elif isinstance(node, cst.Subscript):
            self.operand_use(node.value, node, "indexing", state)
        elif isinstance(node, cst.Comparison):
            operands = [node.left, *(c.comparator for c in node.comparisons)]
            for i, c in enumerate(node.comparisons):
                if isinstance(c.operator, _ORDERING):
                    self.operand_use(operands[i], node, "a comparison", state)
                    self.operand_use(operands[i + 1], node, "a comparison", state)
                elif isinstance(c.operator, _MEMBERSHIP):
                    self.operand_use(operands[i + 1], node, "`in`", state)
                elif isinstance(c.operator, (cst.Equal, cst.NotEqual)):
                    # Even `x == None`: only `is` / `is not` compare an Optional with None.
                    self.operand_use(operands[i], node, "`==` / `!=`", state)
                    self.operand_use(operands[i + 1], node, "`==` / `!=`", state)
        elif isinstance(node, cst.BooleanOperation):
            self.truth_use(node.left, state)
            self.expr(node.left, state)
            true, false = self.cond(node.left)
            statement, self.statement = self.statement, None  # evaluated only sometimes
            both = isinstance(node.operator, cst.And)
            right = state.narrowed(true if both else false)
            self.truth_use(node.right, right)
            self.expr(node.right, right)
            self.statement = statement
            return
        elif isinstance(node, cst.IfExp):
            split = scripting_split(node)
            if split is not None:  # `a if torch.jit.is_scripting() else b`: one arm compiles
                for part in split[0]:
                    self.expr(part, state)
                return
            self.truth_use(node.test, state)
            self.expr(node.test, state)
            true, false = self.cond(node.test)
            statement, self.statement = self.statement, None
            static = self.possibly_static(node.test, state)
            self.muted += static
            self.expr(node.body, state.narrowed(true))
            self.expr(node.orelse, state.narrowed(false))
            self.muted -= static
            self.statement = statement
            return
        elif isinstance(node, (cst.ListComp, cst.SetComp, cst.GeneratorExp, cst.DictComp)):
            self.comprehension(node, state)
            return
        elif isinstance(node, (cst.Lambda, cst.FunctionDef, cst.ClassDef)):
            return
        elif isinstance(node, cst.Call) and any(
            isinstance(a.value, cst.Name) and a.value.value in state.optional for a in node.args
        ):
            for arg, param, kind in typed_arguments(self.ctx, node) or ():
                callee = self.ctx.code_for(node.func)
                what = f"passing it as `{param}: {kind}` of `{callee}()`"
                self.operand_use(arg, arg, what, state)
        for child in children(node):
            self.expr(child, state)

    def comprehension(
        self, node: cst.ListComp | cst.SetComp | cst.GeneratorExp | cst.DictComp, state: _State
    ) -> None:
        first = node.for_in
        self.expr(first.iter, state)
        self.operand_use(first.iter, first.iter, "a comprehension", state)
        statement, self.statement = self.statement, None
        inner = state
        level: cst.CompFor | None = first
        while level is not None:
            if level is not first:
                self.expr(level.iter, inner)
            inner = inner.forget(_bound(level.target))
            for cond in level.ifs:
                self.expr(cond.test, inner)
                inner = inner.narrowed(self.cond(cond.test)[0])
            level = level.inner_for_in
        parts: list[cst.BaseExpression] = (
            [node.key, node.value] if isinstance(node, cst.DictComp) else [node.elt]
        )
        for part in parts:
            self.expr(part, inner)
        self.statement = statement


# -- small helpers ------------------------------------------------------------------------------


def _name(node: cst.BaseExpression) -> str:
    return node.value if isinstance(node, cst.Name) else ""


def _bound(target: cst.BaseExpression) -> Iterator[str]:
    """Names a target binds."""
    if isinstance(target, cst.Name):
        yield target.value
    elif isinstance(target, (cst.Tuple, cst.List)):
        for element in target.elements:
            yield from _bound(element.value)
    elif isinstance(target, cst.StarredElement):
        yield from _bound(target.value)


_NEVER_NONE = (
    cst.Integer,
    cst.Float,
    cst.Imaginary,
    cst.SimpleString,
    cst.ConcatenatedString,
    cst.FormattedString,
    cst.List,
    cst.Dict,
    cst.Tuple,
    cst.ListComp,
    cst.DictComp,
    cst.BinaryOperation,
)


def _never_none(value: cst.BaseExpression) -> bool:
    if isinstance(value, _NEVER_NONE):
        return True
    return isinstance(value, cst.Name) and value.value in ("True", "False")


_RETURN_KINDS = frozenset({"int", "float", "bool", "str", "Tensor", "List", "Dict", "Tuple"})


def _return_use(ctx: FunctionContext) -> str:
    """How to describe `return x` for an Optional `x`, when the function's annotated return
    type is a plain non-Optional one (TorchScript: "Return value was annotated as having type
    int but is actually of type Optional[int]"); "" otherwise."""
    returns = ctx.node.returns
    if returns is None:
        return ""
    found = from_annotation(returns.annotation, ctx.resolve)
    if found is None or found.kind not in _RETURN_KINDS:
        return ""
    return f"returning it from a function annotated `-> {found}`"


def _constants(ctx: FunctionContext) -> frozenset[str]:
    """`__constants__` and `Final` attributes of the class `self` is: TorchScript folds tests
    on them."""
    context = ctx.compiled.context
    found: set[str] = set()
    for _, cls in ctx.project.mro(context) if context else ():
        found |= set(cls.constants) | set(cls.finals)
    return frozenset(found)


def _self_name(ctx: FunctionContext) -> str:
    if ctx.owner is None or ctx.info.is_staticmethod:
        return ""
    params = ctx.node.params.posonly_params or ctx.node.params.params
    return params[0].name.value if params else ""


def _optional_params(ctx: FunctionContext) -> dict[str, str]:
    out: dict[str, str] = {}
    p = ctx.node.params
    for param in (*p.posonly_params, *p.params, *p.kwonly_params):
        if param.annotation is None:
            continue
        inner = optional_inner(param.annotation.annotation, ctx.resolve)
        if inner is not None:
            out[param.name.value] = inner
    return out


def _optional_attrs(ctx: FunctionContext) -> dict[str, str]:
    """Attributes of the module `self` is, annotated Optional[T] in the body of the nearest
    class of its MRO that annotates them (a class of this file), which TorchScript types from
    that annotation. Constants, Finals and submodules follow other paths and are left out."""
    context = ctx.compiled.context
    if ctx.owner is None or not context or not ctx.project.is_module_class(context):
        return {}
    mro = ctx.project.mro(context)
    annotator: dict[str, ClassInfo | None] = {}
    skipped: set[str] = set()
    for summary, cls in mro:
        skipped |= set(cls.constants) | set(cls.finals) | {s.attr for s in cls.submodules}
        same_file = summary.path == ctx.summary.path
        for name in cls.annotations:
            annotator.setdefault(name, cls if same_file else None)
    out: dict[str, str] = {}
    for cls in {id(c): c for c in annotator.values() if c is not None}.values():
        wanted = {n for n, c in annotator.items() if c is cls and n not in skipped}
        if wanted:
            out.update(_class_optionals(ctx, cls, wanted))
    return out


def _class_optionals(ctx: FunctionContext, cls: ClassInfo, wanted: set[str]) -> dict[str, str]:
    module, _ = ctx.blocks.module_for_line(cls.line)
    class_def = _class_def(module, cls.name)
    if class_def is None or not isinstance(class_def.body, cst.IndentedBlock):
        return {}
    out: dict[str, str] = {}
    for line in class_def.body.body:
        if not isinstance(line, cst.SimpleStatementLine):
            continue
        for small in line.body:
            if not isinstance(small, cst.AnnAssign) or not isinstance(small.target, cst.Name):
                continue
            name = small.target.value
            if name not in wanted:
                continue
            inner = optional_inner(small.annotation.annotation, ctx.resolve)
            if inner is not None and _plain(inner):
                out[name] = inner
    return out


def _plain(inner: str) -> bool:
    head = inner.split("[")[0].strip()
    return head in _PLAIN_TYPES


def _class_def(module: cst.Module, name: str) -> cst.ClassDef | None:
    for statement in module.body:
        if isinstance(statement, cst.ClassDef) and statement.name.value == name:
            return statement
    return None


def _flow(ctx: FunctionContext) -> _Flow | None:
    params = _optional_params(ctx)
    attrs = _optional_attrs(ctx)
    if not params and not attrs and not _may_annotate_optional(ctx):
        return None
    flow = _Flow(ctx, attrs, _self_name(ctx))
    body = ctx.node.body
    if isinstance(body, cst.IndentedBlock):
        flow.block(body.body, _State(optional=params))
    elif isinstance(body, cst.SimpleStatementSuite):
        flow.smalls(body.body, _State(optional=params))
    return flow


def _may_annotate_optional(ctx: FunctionContext) -> bool:
    """Whether the function might declare an Optional local (`x: Optional[T] = ...`): a
    text test on its lines, so most functions skip the walk."""
    info = ctx.info
    return any(
        "Optional" in line or "None" in line
        for line in (ctx.line_text(n) for n in range(info.line, info.end_line + 1))
    )


# The last analysis, shared by TS230 and TS231 (they run one after the other on one context).
_LAST: list[tuple[FunctionContext, cst.FunctionDef, _Flow | None]] = []


def _flow_for(ctx: FunctionContext) -> _Flow | None:
    if _LAST and _LAST[0][0] is ctx and _LAST[0][1] is ctx.node:
        return _LAST[0][2]
    flow = _flow(ctx)
    _LAST[:] = [(ctx, ctx.node, flow)]
    return flow


def _quote(text: str, limit: int = 40) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


class OptionalNotRefinedRule(Rule):
    code = "TS230"
    name = "optional-not-refined"
    summary = "An Optional value is used where TorchScript needs it refined to its type"
    family = Family.TYPE_REFINEMENT
    fixable = True
    CATALOG = ("optional_not_refined_arith", "optional_tensor_method")
    explanation = """
    **What it does.** Flags a local variable or parameter typed `Optional[T]` (also written
    `Union[T, None]` or `T | None`) that is used as a `T` — arithmetic, a method or attribute,
    indexing, iteration, comparison, `in` — at a point where TorchScript has not narrowed it.

    **Why it fails.** TorchScript is statically typed: `Optional[int]` has no `+`, and
    `Optional[Tensor]` has no `.relu()`. The compiler narrows ("refines") a local name only
    with tests it understands: `x is not None` / `x is None` (not `x != None`, not `if x:`),
    `isinstance(x, T)`, combined with `not`, `and`, `or`, in `if`, ternaries and `assert`.
    A branch ending in `return` or `raise` passes its refinement on to the code after it;
    `break` and `continue` do not, and a refinement made inside a loop ends with the loop.
    Reassigning the variable drops the refinement.

    **How to fix.** Test it first: `if x is not None: ...`, `if x is None: return ...`,
    or `assert x is not None` before the use (the quick fix; it raises if `x` is None).
    """
    VALID = (
        ex(
            """
            from typing import Optional

            def f(x: Optional[int], y: Optional[int]) -> int:
                if x is None or y is None:
                    return 0
                z = x + y
                return z if x is not None and x > 1 else -z
            """,
            call="assert m(2, 3) == 5 and m(None, 1) == 0",
        ),
        ex(
            """
            import torch
            from typing import Optional

            def f(x: torch.Tensor, mask: Optional[torch.Tensor] = None) -> torch.Tensor:
                if mask is None:
                    mask = torch.ones_like(x)
                assert isinstance(mask, torch.Tensor)
                print(mask)
                return x * mask
            """
        ),
        ex(
            """
            import torch
            from typing import List, Optional

            def f(xs: List[int], scale: Optional[int]) -> List[int]:
                out: List[int] = []
                if scale is not None:
                    for x in xs:
                        out.append(x * scale)
                    return out
                if scale is None:
                    scale = 1
                return [x + scale for x in xs]
            """
        ),
    )
    INVALID = (
        ex(
            """
            from typing import Optional

            def f(x: Optional[int]):
                return x + 1
            """,
            line=4,
            error="found type 'Optional[int]'",
            fixed="""from typing import Optional

def f(x: Optional[int]):
    assert x is not None
    return x + 1
""",
        ),
        ex(
            """
            import torch
            from typing import Optional

            def f(x: torch.Tensor, mask: Optional[torch.Tensor]):
                if mask is not None:
                    x = x * mask
                return x + mask.sum()
            """,
            line=7,
            error="'Optional[Tensor]' object has no attribute or method 'sum'",
        ),
        ex(
            """
            from typing import Optional

            def f(x: Optional[int], n: int) -> int:
                total = 0
                for i in range(n):
                    if x is None:
                        continue
                    total += x
                return total
            """,
            line=8,
            error="found type 'Optional[int]'",
        ),
        ex(
            """
            import torch

            def f(x: torch.Tensor, scale: float | None = None):
                if scale != None:
                    return x * scale
                return x
            """,
            line=4,
            error="found type 'Optional[float]'",
            fixed="""import torch

def f(x: torch.Tensor, scale: float | None = None):
    if scale is not None:
        return x * scale
    return x
""",
        ),
        ex(
            """
            from typing import Optional

            def scale(x: int, by: int) -> int:
                return x * by

            def f(x: int, by: Optional[int]) -> int:
                if by is not None and by > 1:
                    x = scale(x, by)
                return scale(x, by)
            """,
            line=9,
            error="for argument 'by' but instead found type 'Optional[int]'",
        ),
        ex(
            """
            from typing import Optional

            def f(x: Optional[int]) -> int:
                if x is None:
                    print("no x")
                return x
            """,
            line=6,
            error="annotated as having type int but is actually of type Optional[int]",
        ),
        ex(
            """
            import torch
            from typing import Optional

            def f(x: torch.Tensor, mask: Optional[torch.Tensor] = None):
                if mask:
                    x = x + 1
                return x
            """,
            line=5,
            error="Could not cast value of type Optional[Tensor] to bool",
        ),
        ex(
            """
            import torch
            from typing import Optional

            def f(x: torch.Tensor, scale: Optional[float], shift: Optional[float]):
                if scale is None:
                    return x
                scale = shift
                return x * scale
            """,
            line=8,
            error="found type 'Optional[float]'",
        ),
    )

    def check_function(self, ctx: FunctionContext) -> None:
        flow = _flow_for(ctx)
        if flow is None:
            return
        for use in flow.uses:
            if not isinstance(use.operand, cst.Name):
                continue
            name = use.operand.value
            shown = _quote(ctx.code_for(use.node))
            none_test = _none_comparison(use.node)
            if none_test is not None:
                better = f"{name} {none_test}"
                message = (
                    f"`{name}` is Optional[{use.inner}]: TorchScript compares an Optional with "
                    f"None only with `is` / `is not` (`{shown}` is rejected); write `{better}`"
                )
                edit = TextEdit(ctx.range(use.node), better)
                fixes: tuple[Fix, ...] = (Fix(f"Write `{better}`", (edit,), safe=False),)
            elif use.what == "a truth test":
                message = (
                    f"`{name}` is Optional[{use.inner}] here: TorchScript cannot use it as a "
                    f"bool (`{shown}`); test `{name} is not None` (and its value separately, "
                    "if that was meant)"
                )
                fixes = ()
            else:
                on = "" if use.what.startswith(("returning", "passing")) else " on it"
                message = (
                    f"`{name}` is Optional[{use.inner}] here: TorchScript rejects {use.what}{on} "
                    f"(`{shown}`) until a test such as `if {name} is not None:` or "
                    f"`assert {name} is not None` refines it"
                )
                fixes = _assert_fix(ctx, use, name)
            ctx.report(use.node, message, fixes=fixes)


def _none_test_subject(test: cst.BaseExpression) -> cst.BaseExpression | None:
    """`x` for `x is None` / `x is not None` (either side)."""
    if not isinstance(test, cst.Comparison) or len(test.comparisons) != 1:
        return None
    target = test.comparisons[0]
    if not isinstance(target.operator, (cst.Is, cst.IsNot)):
        return None
    if _is_none(target.comparator):
        return test.left
    return target.comparator if _is_none(test.left) else None


def _none_comparison(node: cst.CSTNode) -> str | None:
    """`is None` / `is not None` for `x == None` / `x != None`; None for anything else."""
    if not isinstance(node, cst.Comparison) or len(node.comparisons) != 1:
        return None
    target = node.comparisons[0]
    if not (_is_none(target.comparator) and isinstance(node.left, cst.Name)):
        return None
    if isinstance(target.operator, cst.Equal):
        return "is None"
    return "is not None" if isinstance(target.operator, cst.NotEqual) else None


def _assert_fix(ctx: FunctionContext, use: _Use, name: str) -> tuple[Fix, ...]:
    statement = use.statement
    if statement is None:
        return ()
    start = ctx.range(statement).start
    indent = ctx.indent_of(start.line)
    if start.column != len(indent):
        return ()
    edit = TextEdit(Range.of(start.line, 0, start.line, 0), f"{indent}assert {name} is not None\n")
    return (Fix(f"Insert `assert {name} is not None`", (edit,), safe=False),)


class OptionalAttributeNotRefinedRule(Rule):
    code = "TS231"
    name = "optional-attribute-not-refined"
    summary = "TorchScript never refines a module attribute: copy it to a local first"
    family = Family.TYPE_REFINEMENT
    fixable = True
    CATALOG = ("optional_attribute_not_refined",)
    explanation = """
    **What it does.** Flags `self.<attr>` used as its `T`, where the class body annotates
    the attribute `Optional[T]`, even inside `if self.<attr> is not None:`.

    **Why it fails.** TorchScript types a module attribute from its class-level annotation,
    and refines only local variables: another method could set the attribute to None between
    the test and the use, so `self.bias is not None` tells the compiler nothing about the
    next `self.bias`. (An annotation written inside `__init__` is ignored by TorchScript: the
    attribute then gets the type of its value, and this rule does not apply.)

    **How to fix.** Copy the attribute to a local and test the local:
    `bias = self.bias` then `if bias is not None: return x + bias`. The quick fix does this
    for uses inside `if self.<attr> is not None:`.
    """
    VALID = (
        ex(
            """
            import torch
            import torch.nn as nn
            from typing import Optional

            class M(nn.Module):
                bias: Optional[torch.Tensor]

                def __init__(self):
                    super().__init__()
                    self.bias = None

                def forward(self, x: torch.Tensor):
                    bias = self.bias
                    if bias is not None:
                        return x + bias
                    return x
            """,
            call="m(torch.ones(1))",
        ),
        ex(
            """
            import torch
            import torch.nn as nn
            from typing import Optional

            class M(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.bias: Optional[torch.Tensor] = None

                def forward(self, x: torch.Tensor):
                    if self.bias is not None:
                        return x + self.bias
                    return x
            """
        ),
    )
    INVALID = (
        ex(
            """
            import torch
            import torch.nn as nn
            from typing import Optional

            class M(nn.Module):
                bias: Optional[torch.Tensor]

                def __init__(self):
                    super().__init__()
                    self.bias = None

                def forward(self, x: torch.Tensor):
                    if self.bias is not None:
                        return x + self.bias
                    return x
            """,
            line=14,
            error="found type 'Optional[Tensor]'",
            fixed="""import torch
import torch.nn as nn
from typing import Optional

class M(nn.Module):
    bias: Optional[torch.Tensor]

    def __init__(self):
        super().__init__()
        self.bias = None

    def forward(self, x: torch.Tensor):
        bias = self.bias
        if bias is not None:
            return x + bias
        return x
""",
        ),
        ex(
            """
            import torch
            import torch.nn as nn
            from typing import Optional

            class M(nn.Module):
                scale: Optional[int]

                def __init__(self):
                    super().__init__()
                    self.scale = 2

                def forward(self, x: torch.Tensor):
                    return x * self.scale
            """,
            line=13,
            error="found type 'Optional[int]'",
        ),
    )

    def check_function(self, ctx: FunctionContext) -> None:
        flow = _flow_for(ctx)
        if flow is None:
            return
        for use in flow.uses:
            attr = flow.optional_attr(use.operand)
            if not attr:
                continue
            where = (
                f"; `if {flow.self_name}.{attr} is not None:` does not refine it"
                if use.refining_if is not None
                else ""
            )
            ctx.report(
                use.node,
                f"`{flow.self_name}.{attr}` is Optional[{use.inner}] (its class annotation) and "
                f"TorchScript never refines attributes{where}: copy it to a local "
                f"(`{attr} = {flow.self_name}.{attr}`) and test the local",
                fixes=_local_copy_fix(ctx, flow, use, attr),
            )


def _local_copy_fix(ctx: FunctionContext, flow: _Flow, use: _Use, attr: str) -> tuple[Fix, ...]:
    """`bias = self.bias` before the `if self.bias is not None:`, and `bias` for every
    `self.bias` in its test and body; only when `bias` is a fresh name and nothing in the
    function assigns `self.bias` (then the copy always equals the attribute)."""
    if_node = use.refining_if
    if if_node is None:
        return ()
    if attr in cstwalk.mentioned_names(ctx.node.body) or attr in cstwalk.mentioned_names(
        ctx.node.params
    ):
        return ()
    occurrences: list[cst.CSTNode] = []
    for part in (if_node.test, if_node.body):
        occurrences.extend(_attr_nodes(part, flow, attr))
    if _assigns_attr(ctx.node.body, flow.self_name, attr):
        return ()
    start = ctx.range(if_node).start
    indent = ctx.indent_of(start.line)
    if start.column != len(indent):
        return ()
    copy = f"{indent}{attr} = {flow.self_name}.{attr}\n"
    edits = [TextEdit(Range.of(start.line, 0, start.line, 0), copy)]
    edits.extend(TextEdit(ctx.range(node), attr) for node in occurrences)
    return (Fix(f"Copy `{flow.self_name}.{attr}` to a local `{attr}`", tuple(edits)),)


def _attr_nodes(node: cst.CSTNode, flow: _Flow, attr: str) -> Iterator[cst.CSTNode]:
    stack: list[cst.CSTNode] = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, cst.Attribute) and flow.optional_attr(current) == attr:
            yield current
            continue
        if isinstance(current, (cst.Lambda, cst.FunctionDef, cst.ClassDef)):
            continue
        stack.extend(children(current))


def _assigns_attr(node: cst.CSTNode, self_name: str, attr: str) -> bool:
    stack: list[cst.CSTNode] = [node]
    while stack:
        current = stack.pop()
        targets: list[cst.BaseExpression] = []
        if isinstance(current, cst.Assign):
            targets = [t.target for t in current.targets]
        elif isinstance(current, (cst.AnnAssign, cst.AugAssign)):
            targets = [current.target]
        for target in targets:
            if dotted(target) == f"{self_name}.{attr}":
                return True
        stack.extend(children(current))
    return False


RULES = (OptionalNotRefinedRule, OptionalAttributeNotRefinedRule)
