"""TS201-TS229: local types TorchScript infers and then rejects.

Built on the type model (tscheck.types): a rule fires only on types the model knows; an
unknown type never reports. The flow-sensitive rules (a variable retyped inside a block, a
variable merged at the end of an `if`, return types) follow the compiler's emitter
(torch/csrc/jit/frontend/ir_emitter.cpp): straight-line rebinding is accepted, an assignment
in a nested block must keep the type the variable had outside it, an `if` merges the variables
its branches define and rejects a bad merge only where the variable is used afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import libcst as cst

from tscheck.index import ClassInfo
from tscheck.model import ChainLink, Family, Fix
from tscheck.rules.base import FunctionContext, Rule, dotted, ex
from tscheck.types import (
    BOOL,
    INT,
    NONE,
    STR,
    FunctionTypes,
    Resolve,
    TSType,
    element_type,
    from_annotation,
    function_types,
    literal_type,
    optional_of,
    type_of,
)
from tscheck.walk import scripting_value

# -- shared helpers ---------------------------------------------------------------------------


# Exact types: isinstance against libcst's ABC-based classes is slow on this hot path.
_COMPREHENSIONS = frozenset({cst.ListComp, cst.DictComp, cst.SetComp, cst.GeneratorExp})


def _in_comprehension(ctx: FunctionContext) -> bool:
    """Inside a comprehension, a name may be its own loop variable, which the function-wide
    model does not see: rules on expressions stay silent there."""
    return any(type(a) in _COMPREHENSIONS for a in ctx.ancestors)


def _params(node: cst.FunctionDef) -> list[cst.Param]:
    p = node.params
    return [*p.posonly_params, *p.params, *p.kwonly_params]


def _unbound_param(env: FunctionTypes, name: str) -> bool:
    """A parameter the body never rebinds: its type is its annotation everywhere."""
    return name in env.params and name not in env.bindings and name not in env.declared


def _spell(t: TSType, ctx: FunctionContext) -> str:
    """An annotation for `t` in the file's own style: typing names when imported, else the
    builtin generics (PEP 585) and `X | None`, which TorchScript reads without an import."""

    def imported(name: str) -> bool:
        return ctx.resolve(name) == f"typing.{name}"

    def go(t: TSType) -> str:
        if t.kind in ("List", "Dict", "Tuple"):
            inner = ", ".join(go(a) for a in t.args)
            head = t.kind if imported(t.kind) else t.kind.lower()
            return f"{head}[{inner}]"
        if t.kind == "Optional":
            return (
                f"Optional[{go(t.args[0])}]" if imported("Optional") else f"{go(t.args[0])} | None"
            )
        if t.kind == "Tensor":
            return "torch.Tensor" if ctx.resolve("torch") == "torch" else "Tensor"
        return t.kind

    return go(t)


_SIMPLE = frozenset({"int", "float", "bool", "str", "Tensor", "device", "None"})


def _simple(t: TSType) -> bool:
    if t.kind in _SIMPLE:
        return True
    if t.kind in ("List", "Tuple", "Dict"):
        return all(_simple(a) for a in t.args)
    return False


def assignable(value: TSType, target: TSType) -> bool | None:
    """Whether TorchScript accepts a `value` where `target` is expected (a return under an
    annotation, a variable assigned inside a block): True, False, or None when unsure.
    Mirrors tryConvertToType(allow_conversions=True) + isSubtypeOf, for the types checked
    against the compiler; everything else is None."""
    if value == target or target.kind == "Any":
        return True
    if value.kind == "Tensor" and target.kind in ("int", "float", "bool"):
        return True  # implicit tensor-to-number conversion
    if value.kind == "bool" and target.kind in ("int", "float"):
        return True
    if value.kind == "str" and target.kind == "device":
        return True
    if target.kind == "Optional":
        if value.kind == "None":
            return True
        if value.kind in ("int", "float", "bool", "str") and target.args[0].kind in (
            "int",
            "float",
            "bool",
            "str",
        ):
            return value == target.args[0]
        return True if value == target.args[0] else None
    if value.kind == "Tuple" and target.kind == "Tuple":
        if len(value.args) != len(target.args):
            return False if _simple(value) and _simple(target) else None
        each = [assignable(v, t) for v, t in zip(value.args, target.args, strict=True)]
        if all(e is True for e in each):
            return True
        return False if False in each and None not in each else None
    if value.kind == "List" and target.kind == "List":
        if _simple(value) and _simple(target):
            return value == target
        return None
    if value.kind == "None":
        return None  # None to Tensor and friends: conversions we did not check
    if _simple(value) and _simple(target) and value.kind != target.kind:
        return False
    return None


def unify(a: TSType, b: TSType) -> TSType | bool | None:
    """How TorchScript merges two types (returns, `if` joins): the merged type, False when it
    cannot merge them, None when the model is unsure."""
    if a == b:
        return a
    if a.kind == "None" and b.kind not in ("None", "Any", "Union"):
        return optional_of(b.inner)
    if b.kind == "None" and a.kind not in ("None", "Any", "Union"):
        return optional_of(a.inner)
    if a.kind == "Optional" and (b == a.args[0]):
        return a
    if b.kind == "Optional" and (a == b.args[0]):
        return b
    if _simple(a) and _simple(b):
        if a.kind == b.kind == "Tuple" and len(a.args) == len(b.args):
            parts = [unify(x, y) for x, y in zip(a.args, b.args, strict=True)]
            if all(isinstance(p, TSType) for p in parts):
                return TSType("Tuple", tuple(p for p in parts if isinstance(p, TSType)))
            return False if False in parts else None
        return False
    return None


def _has_container_literal(expr: cst.BaseExpression, none: bool = True) -> bool:
    """List / dict literals (and `None`, unless `none` is False) take their type from the
    context (annotation, variable): the model does not type them there."""
    if isinstance(expr, (cst.List, cst.Dict, cst.ListComp, cst.DictComp)):
        return True
    if isinstance(expr, cst.Tuple):
        return any(_has_container_literal(e.value, none) for e in expr.elements)
    if none and isinstance(expr, cst.Name) and expr.value == "None":
        return True
    return False


# -- TS201 unannotated parameters used as non-tensors -----------------------------------------

_DEFAULT_TYPES = {cst.Integer: "int", cst.Float: "float", cst.SimpleString: "str"}


def _default_type(default: cst.BaseExpression) -> TSType | None:
    if isinstance(default, cst.Name) and default.value in ("True", "False"):
        return BOOL
    if isinstance(default, cst.UnaryOperation) and isinstance(default.operator, cst.Minus):
        return _default_type(default.expression)
    for node_type, kind in _DEFAULT_TYPES.items():
        if isinstance(default, node_type):
            if isinstance(default, cst.SimpleString) and "b" in default.prefix.lower():
                return None
            return TSType(kind)
    return None


def _annotate_fix(param: cst.Param, t: TSType, ctx: FunctionContext) -> Fix:
    text = _spell(t, ctx)
    edits = [ctx.replace(param.name, f"{param.name.value}: {text}")]
    equal = param.equal
    if isinstance(equal, cst.AssignEqual) and ctx.code_for(equal) == "=":
        # `n=1` -> `n: int = 1` (PEP 8 spacing for annotated defaults)
        edits.append(ctx.replace(equal, " = "))
    return Fix(f"Annotate `{param.name.value}: {text}`", tuple(edits))


# Methods Tensor lacks ("'Tensor' object has no attribute or method"), checked one by one with
# torch 2.13: the str ones say the parameter is a str; the others only that it is a container.
STR_ONLY_METHODS = frozenset(
    "startswith endswith lower upper strip format join replace find isdigit".split()
)
CONTAINER_ONLY_METHODS = frozenset("append extend insert keys items get".split())


class UnannotatedNonTensorParamRule(Rule):
    code = "TS201"
    name = "unannotated-non-tensor-parameter"
    summary = "An unannotated parameter is a Tensor in TorchScript but is used as another type"
    family = Family.DEFAULT_TYPES
    fixable = True
    explanation = """
    **What it does.** Flags a parameter without annotation that the function uses as a
    non-Tensor: its default is a number, bool or string, it is passed to `range()`, compared
    to a string, it indexes a list, or it calls a str / list / dict method Tensor lacks
    (`.startswith`, `.append`, `.items`...).

    **Why it fails.** TorchScript assumes `Tensor` for every unannotated parameter
    ("Tensor (inferred)"). A default of another type is rejected when the function is
    compiled (`Expected a default value of type Tensor (inferred)`), `range(n)` is rejected
    (`all inputs of range must be ints`), and a list index compiles but every call that
    passes a Python int fails (`Expected a value of type 'Tensor (inferred)'`).

    With a default of `None` the parameter is still a `Tensor` (the default is an undefined
    tensor): the same uses fail, and the annotation to add is `Optional[...]`.

    **How to fix.** Annotate the parameter with the type it has: `n: int`,
    `reduction: str = "mean"`, `flag: bool = False`, `size: Optional[int] = None`.
    """
    VALID = (
        ex(
            """
            import torch
            from typing import List

            def f(x, n: int, xs: List[int], i: int, reduction: str = "mean", scale=None):
                for _ in range(n):
                    x = x + xs[i]
                return x
            """
        ),
        ex(
            """
            import torch

            def f(x, t):
                return x[t] + t
            """
        ),
    )
    INVALID = (
        ex(
            """
            import torch

            def f(x, n):
                for _ in range(n):
                    x = x + 1
                return x
            """,
            line=4,
            error="all inputs of range must be ints, found Tensor (inferred)",
            fixed="""import torch

def f(x, n: int):
    for _ in range(n):
        x = x + 1
    return x
""",
        ),
        ex(
            """
            import torch

            def f(x, scale=1.0):
                return x * scale
            """,
            line=3,
            error="Expected a default value of type Tensor (inferred)",
            fixed="""import torch

def f(x, scale: float = 1.0):
    return x * scale
""",
        ),
        ex(
            """
            from typing import List

            def f(xs: List[int], i):
                return xs[i]
            """,
            line=4,
            error="for argument 'i' but instead found type 'int'",
            call="m([1, 2], 1)",
        ),
        ex(
            """
            import torch

            def f(x, reduction):
                if reduction == "sum":
                    return x.sum()
                return x.mean()
            """,
            line=4,
            error="for argument 'other' but instead found type 'str'",
            fixed="""import torch

def f(x, reduction: str):
    if reduction == "sum":
        return x.sum()
    return x.mean()
""",
        ),
        ex(
            """
            import torch

            def f(x, prefix):
                if prefix.startswith("a"):
                    return x + 1
                return x
            """,
            line=4,
            error="'Tensor (inferred)' object has no attribute or method 'startswith'",
            fixed="""import torch

def f(x, prefix: str):
    if prefix.startswith("a"):
        return x + 1
    return x
""",
        ),
        ex(
            """
            import torch

            def f(x, outs):
                outs.append(x)
                return x
            """,
            line=4,
            error="'Tensor (inferred)' object has no attribute or method 'append'",
        ),
        ex(
            """
            import torch
            from typing import Optional

            def f(x, size=None):
                if size is not None:
                    for _ in range(size):
                        x = x + 1
                return x
            """,
            line=6,
            error="all inputs of range must be ints, found Tensor (inferred)",
            fixed="""import torch
from typing import Optional

def f(x, size: Optional[int] = None):
    if size is not None:
        for _ in range(size):
            x = x + 1
    return x
""",
        ),
    )
    CATALOG = ("unannotated_arg_is_tensor_range", "unannotated_arg_is_tensor_list_index")

    def check_function(self, ctx: FunctionContext) -> None:
        env = function_types(ctx)
        for param in _params(ctx.node):
            t = env.params.get(param.name.value)
            if t is None or not t.inferred or param.default is None:
                continue
            default = _default_type(param.default)
            if default is not None:
                ctx.report(
                    param.default,
                    f"`{param.name.value}` has no annotation, so TorchScript types it as Tensor "
                    f"and rejects its default `{ctx.code_for(param.default)}`; "
                    f"annotate it `{param.name.value}: {_spell(default, ctx)}`",
                    fixes=(_annotate_fix(param, default, ctx),),
                )

    def visit_Call(self, node: cst.Call, ctx: FunctionContext) -> None:
        if _in_comprehension(ctx):
            return
        if not (isinstance(node.func, cst.Name) and node.func.value == "range"):
            return
        if ctx.resolve("range") != "range" or function_types(ctx).is_local("range"):
            return
        for arg in node.args:
            self._use(arg.value, ctx, "is passed to `range()`, which needs ints")

    def visit_Attribute(self, node: cst.Attribute, ctx: FunctionContext) -> None:
        if _in_comprehension(ctx):
            return
        name = node.attr.value
        if name in STR_ONLY_METHODS:
            self._use(node.value, ctx, f"has `.{name}`, a str method Tensor lacks", wanted=STR)
        elif name in CONTAINER_ONLY_METHODS:
            self._use(
                node.value, ctx, f"has `.{name}`, a list / dict method Tensor lacks", wanted=None
            )

    def visit_Comparison(self, node: cst.Comparison, ctx: FunctionContext) -> None:
        if _in_comprehension(ctx):
            return
        left = node.left
        for comparison in node.comparisons:
            right = comparison.comparator
            if isinstance(comparison.operator, (cst.Equal, cst.NotEqual)):
                for name, other in ((left, right), (right, left)):
                    if isinstance(other, cst.SimpleString) and literal_type(other) == STR:
                        self._use(name, ctx, "is compared to a string", wanted=STR)
            left = right

    def visit_Subscript(self, node: cst.Subscript, ctx: FunctionContext) -> None:
        if _in_comprehension(ctx):
            return
        env = function_types(ctx)
        if len(node.slice) != 1 or not isinstance(node.slice[0].slice, cst.Index):
            return
        container = env.type_of(node.value)
        if container is None or container.kind != "List":
            return
        self._use(
            node.slice[0].slice.value,
            ctx,
            "indexes a list: the function compiles, but every call that passes an int fails",
            none_default=False,
        )

    def _use(
        self,
        value: cst.BaseExpression,
        ctx: FunctionContext,
        why: str,
        wanted: TSType | None = INT,
        none_default: bool = True,
    ) -> None:
        """Report an unannotated parameter used as `wanted` (None: some container type).
        `none_default`: also when its default is None (TorchScript: still a Tensor, whose
        default is an undefined Tensor)."""
        if not isinstance(value, cst.Name):
            return
        env = function_types(ctx)
        t = env.params.get(value.value)
        if t is None or not _unbound_param(env, value.value):
            return
        param = next(p for p in _params(ctx.node) if p.name.value == value.value)
        if param.annotation is not None:
            return
        default = param.default
        optional = isinstance(default, cst.Name) and default.value == "None"
        if optional and none_default and t.inferred:
            wanted = optional_of(wanted) if wanted is not None else None
            assumed = "Tensor (a default of None does not make it Optional)"
        elif default is None and t.inferred:
            assumed = "Tensor"
        else:
            return  # other defaults: reported (or typed by the default) in check_function
        if wanted is None:
            ctx.report(
                value,
                f"`{value.value}` has no annotation, so TorchScript types it as {assumed}; it "
                f"{why}. Annotate it with its type (`List[...]`, `Dict[...]`)",
            )
            return
        ctx.report(
            value,
            f"`{value.value}` has no annotation, so TorchScript types it as {assumed}; it "
            f"{why}. Annotate it `{value.value}: {_spell(wanted, ctx)}`",
            fixes=(_annotate_fix(param, wanted, ctx),),
        )


# -- TS202 range() over a non-int -------------------------------------------------------------


class RangeNotIntRule(Rule):
    code = "TS202"
    name = "range-argument-not-int"
    summary = "range() in TorchScript takes only ints"
    family = Family.TYPE_CHECKING
    explanation = """
    **What it does.** Flags `range()` called with a float, a string or a tensor the
    function annotated as such.

    **Why it fails.** TorchScript's `range` is defined for `int` arguments only and does not
    convert (`all inputs of range must be ints, found float`).

    **How to fix.** Convert explicitly: `range(int(x))`, or annotate the value as `int`.
    """
    VALID = (
        ex(
            """
            import torch

            def f(x: float, t: torch.Tensor) -> int:
                n = 0
                for i in range(int(x)):
                    n += i
                for j in range(t.size(0)):
                    n += j
                return n
            """
        ),
    )
    INVALID = (
        ex(
            """
            def f(x: float):
                n = 0
                for i in range(x):
                    n += i
                return n
            """,
            line=3,
            error="all inputs of range must be ints, found float in argument 0",
        ),
        ex(
            """
            import torch

            def f(t: torch.Tensor):
                n = 0
                for i in range(t):
                    n += i
                return n
            """,
            line=5,
            error="all inputs of range must be ints, found Tensor in argument 0",
        ),
    )
    CATALOG = ("range_float",)

    def visit_Call(self, node: cst.Call, ctx: FunctionContext) -> None:
        if _in_comprehension(ctx):
            return
        if not (isinstance(node.func, cst.Name) and node.func.value == "range"):
            return
        env = function_types(ctx)
        if ctx.resolve("range") != "range" or env.is_local("range"):
            return
        for arg in node.args:
            if not isinstance(arg.value, cst.Name):
                continue  # expressions: only names whose type is certain
            t = env.type_of(arg.value)
            if t is None or t.inferred or t.kind not in ("float", "str", "Tensor"):
                continue
            ctx.report(
                arg.value,
                f"`range()` takes ints in TorchScript, and `{arg.value.value}` is {t}; "
                f"convert it with `int(...)`",
            )


# -- TS203 tuple index / slice that is not a constant -----------------------------------------


class TupleIndexNotConstantRule(Rule):
    code = "TS203"
    name = "tuple-index-not-constant"
    summary = "A tuple is indexed or sliced with a value TorchScript cannot resolve statically"
    family = Family.TYPE_CHECKING
    explanation = """
    **What it does.** Flags `t[i]` on a tuple whose elements have different types, and
    `t[i:j]` on any tuple, when the index is a parameter rather than an integer literal.

    **Why it fails.** TorchScript types each tuple element separately. To type `t[i]` it
    must know `i` while compiling (`Cannot index into a Tuple[int, str] with a non-integer
    literal`); a slice of a tuple is a new tuple type, so its bounds must be constants
    (`tuple slice indices must be integer constants`).

    **How to fix.** Index with literals (`t[0]`, `t[1:]`), or use a `List` when the elements
    share a type.
    """
    VALID = (
        ex(
            """
            from typing import Tuple

            def f(t: Tuple[int, str], u: Tuple[int, int, int], i: int) -> int:
                return t[0] + u[i] + len(u[1:])
            """
        ),
    )
    INVALID = (
        ex(
            """
            from typing import Tuple

            def f(t: Tuple[int, str], i: int):
                return t[i]
            """,
            line=4,
            error="Cannot index into a Tuple[int, str] with a non-integer literal",
        ),
        ex(
            """
            from typing import Tuple

            def f(t: Tuple[int, int, int], i: int):
                return t[i:]
            """,
            line=4,
            error="tuple slice indices must be integer constants",
        ),
    )
    CATALOG = ("tuple_index_non_constant", "tuple_slice_non_constant")

    def visit_Subscript(self, node: cst.Subscript, ctx: FunctionContext) -> None:
        if _in_comprehension(ctx):
            return
        if len(node.slice) != 1:
            return
        env = function_types(ctx)
        t = env.type_of(node.value)
        if t is None or t.kind != "Tuple":
            return
        index = node.slice[0].slice
        if isinstance(index, cst.Index):
            if len(set(t.args)) <= 1 or not self._dynamic(index.value, env):
                return
            ctx.report(
                node,
                f"TorchScript cannot type `{ctx.code_for(node)}`: the elements of {t} have "
                f"different types, so the index must be an integer literal",
            )
        elif isinstance(index, cst.Slice):
            bounds = [b for b in (index.lower, index.upper, index.step) if b is not None]
            if any(self._dynamic(b, env) for b in bounds):
                ctx.report(
                    node,
                    f"TorchScript slices tuples only with integer literals: "
                    f"`{ctx.code_for(node)}` would have a type unknown while compiling",
                )

    @staticmethod
    def _dynamic(value: cst.BaseExpression, env: FunctionTypes) -> bool:
        # A parameter is never a compile-time constant (a local assigned a literal is).
        if not isinstance(value, cst.Name) or not _unbound_param(env, value.value):
            return False
        t = env.params.get(value.value)
        return t is not None and t.kind == "int"


# -- TS204 tuple item assignment --------------------------------------------------------------


class TupleItemAssignmentRule(Rule):
    code = "TS204"
    name = "tuple-item-assignment"
    summary = "Tuples are immutable: TorchScript rejects assigning to an element"
    family = Family.TYPE_CHECKING
    explanation = """
    **What it does.** Flags `t[i] = v` where `t` is a tuple.

    **Why it fails.** Tuples are immutable in TorchScript as in Python
    (`Tuple[int, int] does not support subscripted assignment`); eager Python fails the
    same way at run time.

    **How to fix.** Build a new tuple (`t = (v, t[1])`) or use a `List`.
    """
    VALID = (
        ex(
            """
            from typing import List, Tuple

            def f(t: Tuple[int, int], xs: List[int]) -> Tuple[int, int]:
                xs[0] = 1
                t = (1, t[1])
                return t
            """
        ),
    )
    INVALID = (
        ex(
            """
            from typing import Tuple

            def f(t: Tuple[int, int]):
                t[0] = 1
                return t
            """,
            line=4,
            error="does not support subscripted assignment",
        ),
    )
    CATALOG = ("tuple_item_assignment",)

    def visit_AssignTarget(self, node: cst.AssignTarget, ctx: FunctionContext) -> None:
        target = node.target
        if not isinstance(target, cst.Subscript):
            return
        t = function_types(ctx).type_of(target.value)
        if t is not None and t.kind == "Tuple":
            ctx.report(
                target,
                f"`{ctx.code_for(target.value)}` is a {t}; tuples are immutable, so "
                f"TorchScript rejects assigning to an element. Build a new tuple instead",
            )


# -- TS205 unpacking a tuple of another length ------------------------------------------------


class UnpackCountRule(Rule):
    code = "TS205"
    name = "unpack-count-mismatch"
    summary = "The number of names does not match the number of values unpacked"
    family = Family.TYPE_CHECKING
    explanation = """
    **What it does.** Flags `a, b = value` where `value` is a tuple of a known, different
    length.

    **Why it fails.** TorchScript checks tuple lengths while compiling (`too many values to
    unpack: need 2 but found 3`); Python would fail at run time.

    **How to fix.** Unpack as many names as the tuple has elements (use `_` for the rest).
    """
    VALID = (
        ex(
            """
            from typing import Tuple

            def f(x: int, t: Tuple[int, int]) -> int:
                a, b, _ = (x, x, x)
                c, d = t
                return a + b + c + d
            """
        ),
    )
    INVALID = (
        ex(
            """
            def f(x: int):
                a, b = (x, x, x)
                return a
            """,
            line=2,
            error="too many values to unpack: need 2 but found 3",
        ),
        ex(
            """
            from typing import Tuple

            def f(t: Tuple[int, int]):
                a, b, c = t
                return a
            """,
            line=4,
            error="need 3 values to unpack but found only 2",
        ),
    )
    CATALOG = ("tuple_unpack_count_mismatch",)

    def visit_Assign(self, node: cst.Assign, ctx: FunctionContext) -> None:
        found = self._length(node.value, ctx)
        if found is None:
            return
        for target in node.targets:
            names = target.target
            if not isinstance(names, (cst.Tuple, cst.List)):
                continue
            if any(isinstance(e, cst.StarredElement) for e in names.elements):
                continue
            need = len(names.elements)
            if need != found:
                ctx.report(
                    names,
                    f"unpacks {need} names from a tuple of {found} values; TorchScript checks "
                    f"tuple lengths while compiling",
                )

    @staticmethod
    def _length(value: cst.BaseExpression, ctx: FunctionContext) -> int | None:
        if isinstance(value, cst.Tuple):
            if any(isinstance(e, cst.StarredElement) for e in value.elements):
                return None
            return len(value.elements)
        t = function_types(ctx).type_of(value)
        return len(t.args) if t is not None and t.kind == "Tuple" else None


# -- TS206 methods that int / float / bool / str do not have in TorchScript -------------------

# Checked one by one against torch 2.13: numbers have no methods or attributes at all; these
# are the Python str methods TorchScript's str lacks.
MISSING_STR_METHODS = frozenset(
    {
        "casefold",
        "encode",
        "format_map",
        "isascii",
        "maketrans",
        "removeprefix",
        "removesuffix",
        "translate",
    }
)


class MissingBuiltinMethodRule(Rule):
    code = "TS206"
    name = "builtin-type-missing-method"
    summary = "TorchScript's int, float, bool and str lack this method or attribute"
    family = Family.TYPE_CHECKING
    explanation = """
    **What it does.** Flags a method or attribute of an `int`, `float` or `bool` (TorchScript
    gives them none: `bit_length`, `real`, `is_integer`...) and the `str` methods
    TorchScript's `str` does not implement (`encode`, `casefold`, `removeprefix`,
    `removesuffix`, `translate`, `isascii`, `format_map`).

    **Why it fails.** TorchScript implements its own builtin types; anything missing fails
    with `'int' object has no attribute or method 'bit_length'`.

    **How to fix.** Use the math form (`x.bit_length()` -> a loop or `math.log2`), slicing
    (`s.removeprefix(p)` -> `s[len(p):] if s.startswith(p) else s`), or move the code into a
    `@torch.jit.ignore` function.
    """
    VALID = (
        ex(
            """
            def f(s: str, n: int) -> str:
                return s.lower().strip() + str(n)
            """
        ),
    )
    INVALID = (
        ex(
            """
            def f(x: int):
                return x.bit_length()
            """,
            line=2,
            error="'int' object has no attribute or method 'bit_length'",
        ),
        ex(
            """
            def f(s: str):
                return s.encode()
            """,
            line=2,
            error="'str' object has no attribute or method 'encode'",
        ),
    )
    CATALOG = ("int_method_missing_attr", "str_method_missing")

    def visit_Attribute(self, node: cst.Attribute, ctx: FunctionContext) -> None:
        if _in_comprehension(ctx):
            return
        name = node.attr.value
        if name.startswith("__"):
            return
        t = function_types(ctx).type_of(node.value)
        if t is None:
            return
        if t.kind in ("int", "float", "bool") or (t.kind == "str" and name in MISSING_STR_METHODS):
            ctx.report(node, f"TorchScript's `{t}` has no attribute or method `{name}`")


# -- TS207 tolist() without a type ------------------------------------------------------------


class TolistWithoutAnnotationRule(Rule):
    code = "TS207"
    name = "tolist-needs-annotation"
    summary = "Tensor.tolist() needs the result's type: annotate the variable"
    family = Family.TYPE_CHECKING
    explanation = """
    **What it does.** Flags `tensor.tolist()` whose result has no declared type: not the
    value of an annotated assignment, of `torch.jit.annotate`, or of a `return` under a
    return annotation.

    **Why it fails.** The element type and nesting of `tolist()` depend on the tensor's
    dtype and rank, which TorchScript does not know while compiling (`Expected type hint
    for result of tolist()`).

    **How to fix.** Annotate: `values: List[float] = x.tolist()` (`List[List[int]]` for a
    2-d integer tensor).
    """
    VALID = (
        ex(
            """
            import torch
            from typing import List

            def f(x: torch.Tensor) -> List[float]:
                values: List[float] = x.tolist()
                return values
            """
        ),
        ex(
            """
            import torch
            from typing import List

            def f(x: torch.Tensor) -> List[int]:
                return x.tolist()
            """
        ),
    )
    INVALID = (
        ex(
            """
            import torch

            def f(x: torch.Tensor):
                return x.tolist()
            """,
            line=4,
            error="Expected type hint for result of tolist()",
        ),
        ex(
            """
            import torch

            def f(x: torch.Tensor):
                values = x.tolist()
                return len(values)
            """,
            line=4,
            error="Expected type hint for result of tolist()",
        ),
    )
    CATALOG = ("tolist_without_annotation",)

    def visit_Call(self, node: cst.Call, ctx: FunctionContext) -> None:
        if _in_comprehension(ctx):
            return
        func = node.func
        if not (isinstance(func, cst.Attribute) and func.attr.value == "tolist") or node.args:
            return
        env = function_types(ctx)
        receiver = env.type_of(func.value)
        if receiver is None or receiver.kind != "Tensor":
            return
        parent = ctx.parent()
        if isinstance(parent, cst.Assign) and any(
            isinstance(t.target, cst.Name) and t.target.value in env.declared
            for t in parent.targets
        ):
            return  # the variable's annotation elsewhere may type it: stay silent
        untyped = (
            (isinstance(parent, cst.Return) and not env.has_return_annotation)
            or (isinstance(parent, cst.Assign) and parent.value is node)
            or (isinstance(parent, cst.Expr))
            or (isinstance(parent, cst.For) and parent.iter is node)
        )
        if untyped:
            ctx.report(
                func,
                "TorchScript needs the type of `tolist()`'s result (it depends on the "
                "tensor's dtype and rank): annotate it, e.g. `values: List[float] = "
                f"{ctx.code_for(node)}`",
            )


# -- TS208 dict keys of unsupported types -----------------------------------------------------


class DictKeyTypeRule(Rule):
    code = "TS208"
    name = "unsupported-dict-key-type"
    summary = "TorchScript dicts take only int, float, complex, str, Tensor or device keys"
    family = Family.TYPE_CHECKING
    explanation = """
    **What it does.** Flags a `Dict[K, V]` annotation, or a dict literal, whose key type is a
    tuple, list or dict.

    **Why it fails.** TorchScript's dict is a hash map over a few key types only
    (`Cannot create dict for key type '(int, int)'`).

    **How to fix.** Key by a string (`f"{a},{b}"`) or an int computed from the tuple, or
    nest dicts (`Dict[int, Dict[int, V]]`).
    """
    VALID = (
        ex(
            """
            from typing import Dict

            def f(d: Dict[str, int], e: Dict[int, Dict[int, int]]) -> int:
                return len(d) + len(e)
            """
        ),
    )
    INVALID = (
        ex(
            """
            from typing import Dict, Tuple

            def f(d: Dict[Tuple[int, int], int]):
                return len(d)
            """,
            line=3,
            error="Cannot create dict for key type '(int, int)'",
        ),
        ex(
            """
            def f(x: int):
                d = {(1, 2): x}
                return d
            """,
            line=2,
            error="Cannot create dict for key type '(int, int)'",
        ),
    )
    CATALOG = ("dict_tuple_key",)

    def check_function(self, ctx: FunctionContext) -> None:
        for param in _params(ctx.node):
            if param.annotation is not None:
                self._annotation(param.annotation.annotation, ctx)
        if ctx.node.returns is not None:
            self._annotation(ctx.node.returns.annotation, ctx)

    def visit_AnnAssign(self, node: cst.AnnAssign, ctx: FunctionContext) -> None:
        self._annotation(node.annotation.annotation, ctx)

    def visit_Dict(self, node: cst.Dict, ctx: FunctionContext) -> None:
        if _in_comprehension(ctx):
            return
        env = function_types(ctx)
        for element in node.elements:
            if isinstance(element, cst.DictElement):
                key = env.type_of(element.key)
                if key is not None and key.kind in ("Tuple", "List", "Dict"):
                    ctx.report(element.key, _key_message(key))
                    return

    def _annotation(self, annotation: cst.BaseExpression, ctx: FunctionContext) -> None:
        for node in _subscripts(annotation):
            t = from_annotation(node, ctx.resolve)
            if t is not None and t.kind == "Dict" and t.args[0].kind in ("Tuple", "List", "Dict"):
                key_node = node.slice[0].slice
                target = key_node.value if isinstance(key_node, cst.Index) else node
                ctx.report(target, _key_message(t.args[0]))


def _key_message(key: TSType) -> str:
    return (
        f"TorchScript dicts cannot have {key} keys (only int, float, complex, str, Tensor "
        f"and device keys)"
    )


def _subscripts(node: cst.BaseExpression) -> Iterator[cst.Subscript]:
    if isinstance(node, cst.Subscript):
        yield node
        for element in node.slice:
            if isinstance(element.slice, cst.Index):
                yield from _subscripts(element.slice.value)
    elif isinstance(node, cst.BinaryOperation):
        yield from _subscripts(node.left)
        yield from _subscripts(node.right)


# -- TS209 arithmetic on Any or on a Union ----------------------------------------------------

_ARITH_OPS = (
    cst.Add,
    cst.Subtract,
    cst.Multiply,
    cst.Divide,
    cst.FloorDivide,
    cst.Modulo,
    cst.Power,
)


def _unrefined(t: TSType) -> bool:
    """Any, or a Union (without None: that is Optional, TS23x) holding a non-number."""
    if t.kind == "Any":
        return True
    if t.kind == "Union" and not any(a.kind == "None" for a in t.args):
        return any(a.kind in ("str", "Tensor", "List", "Dict", "Tuple") for a in t.args)
    return False


class ArithmeticOnUnrefinedRule(Rule):
    code = "TS209"
    name = "arithmetic-on-any-or-union"
    summary = "Arithmetic on a value typed Any or Union needs a refinement first"
    family = Family.TYPE_REFINEMENT
    explanation = """
    **What it does.** Flags `+`, `-`, `*`, `/`... on a value TorchScript types as `Any` (an
    `Any` annotation) or as a `Union` (an element of a list literal mixing types, such as
    `[x, "a"]`, or a `Union[...]` annotation).

    **Why it fails.** TorchScript picks an operator overload from the static types of its
    operands; none accepts `Any` or `Union[int, str]` (`Arguments for call are not valid`).

    **How to fix.** Annotate the precise type, keep lists homogeneous, or refine first:
    `assert isinstance(v, int)` before using `v`.
    """
    VALID = (
        ex(
            """
            from typing import Any, List

            def f(x: int, y: Any) -> int:
                xs = [x, 2]
                v = [x, "a"][0]
                assert isinstance(v, int)
                return xs[0] + v + 1
            """
        ),
    )
    INVALID = (
        ex(
            """
            from typing import Any

            def f(x: Any):
                return x + 1
            """,
            line=4,
            error="Arguments for call are not valid",
        ),
        ex(
            """
            def f(x: int):
                xs = [x, "a"]
                return xs[0] + 1
            """,
            line=3,
            error="found type 'Union[int, str]'",
        ),
    )
    CATALOG = ("any_arg_arith", "heterogeneous_list_element_used")

    def visit_BinaryOperation(self, node: cst.BinaryOperation, ctx: FunctionContext) -> None:
        if _in_comprehension(ctx):
            return
        if not isinstance(node.operator, _ARITH_OPS):
            return
        env = function_types(ctx)
        for operand in (node.left, node.right):
            if not isinstance(operand, (cst.Name, cst.Subscript)):
                continue
            t = env.type_of(operand)
            if t is not None and _unrefined(t) and not _refined_anywhere(operand, ctx):
                ctx.report(
                    operand,
                    f"`{ctx.code_for(operand)}` is {t} in TorchScript, which no arithmetic "
                    f"operator accepts: annotate a precise type or refine it with "
                    f"`assert isinstance(...)`",
                )
                return


def _refined_anywhere(operand: cst.BaseExpression, ctx: FunctionContext) -> bool:
    """Whether the function refines this name with isinstance anywhere (then stay silent)."""
    text = ctx.code_for(ctx.node)
    if not isinstance(operand, cst.Name):
        return "isinstance(" in text  # `xs[0]` is refined through a name: stay modest
    return f"isinstance({operand.value}" in text


# -- TS210 empty containers that default to Tensor elements -----------------------------------

_LIST_ADD = {"append": 0, "insert": 1}


class EmptyContainerDefaultRule(Rule):
    code = "TS210"
    name = "empty-container-needs-type"
    summary = "An unannotated empty list or dict holds Tensors in TorchScript"
    family = Family.DEFAULT_TYPES
    fixable = True
    explanation = """
    **What it does.** Flags `xs = []` later given a non-Tensor element (`xs.append(n)` with
    `n: int`), and `d = {}` later given a non-str key or a non-Tensor value.

    **Why it fails.** With no annotation TorchScript types `[]` as `List[Tensor]` and `{}` as
    `Dict[str, Tensor]`, so the later use does not match (`Could not match type int to t
    ... previously matched to type Tensor`).

    **How to fix.** Annotate the empty container: `xs: List[int] = []`,
    `d: Dict[str, int] = {}`.
    """
    VALID = (
        ex(
            """
            import torch
            from typing import Dict, List

            def f(n: int, x: torch.Tensor) -> int:
                xs: List[int] = []
                xs.append(n)
                ts = []
                ts.append(x)
                d: Dict[str, int] = {}
                d["a"] = n
                return len(xs) + len(ts) + len(d)
            """
        ),
    )
    INVALID = (
        ex(
            """
            from typing import List

            def f(n: int):
                xs = []
                xs.append(n)
                return xs
            """,
            line=5,
            error="previously matched to type Tensor is matched to type int",
            fixed="""from typing import List

def f(n: int):
    xs: List[int] = []
    xs.append(n)
    return xs
""",
        ),
        ex(
            """
            def f(n: int):
                d = {}
                d["a"] = n
                return d
            """,
            line=3,
            error="Arguments for call are not valid",
            fixed="""def f(n: int):
    d: dict[str, int] = {}
    d["a"] = n
    return d
""",
        ),
    )
    CATALOG = ("empty_list_defaults_to_tensor_list", "empty_dict_defaults_to_str_tensor")

    def visit_Call(self, node: cst.Call, ctx: FunctionContext) -> None:
        if _in_comprehension(ctx):
            return
        func = node.func
        if not (isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name)):
            return
        position = _LIST_ADD.get(func.attr.value)
        if position is None or len(node.args) != position + 1 or node.args[-1].keyword:
            return
        assign = self._empty(func.value.value, cst.List, ctx)
        if assign is None:
            return
        element = function_types(ctx).type_of(node.args[-1].value)
        if element is None or element.kind in ("Tensor", "Any") or element.kind == "Union":
            return
        self._report(node, assign, TSType("List", (element,)), ctx)

    def visit_AssignTarget(self, node: cst.AssignTarget, ctx: FunctionContext) -> None:
        target = node.target
        if not (isinstance(target, cst.Subscript) and isinstance(target.value, cst.Name)):
            return
        if len(target.slice) != 1 or not isinstance(target.slice[0].slice, cst.Index):
            return
        assign = self._empty(target.value.value, cst.Dict, ctx)
        parent = ctx.parent()
        if assign is None or not isinstance(parent, cst.Assign) or len(parent.targets) != 1:
            return
        env = function_types(ctx)
        key = env.type_of(target.slice[0].slice.value)
        value = env.type_of(parent.value)
        if key is None or value is None or _has_container_literal(parent.value):
            return
        if key.kind not in ("str", "int", "float") or value.kind in ("Any", "Union"):
            return
        if key.kind == "str" and value.kind == "Tensor":
            return
        self._report(target, assign, TSType("Dict", (key, value)), ctx)

    @staticmethod
    def _empty(
        name: str, literal: type[cst.List] | type[cst.Dict], ctx: FunctionContext
    ) -> cst.Assign | None:
        """The `name = []` / `name = {}` statement when it is the name's only binding."""
        env = function_types(ctx)
        values = env.bindings.get(name)
        if not values or len(values) != 1 or name in env.declared or name in env.params:
            return None
        value = values[0]
        if not isinstance(value, literal) or value.elements:
            return None
        return _assign_of(ctx.node, value)

    def _report(
        self, node: cst.CSTNode, assign: cst.Assign, t: TSType, ctx: FunctionContext
    ) -> None:
        container = "[]" if t.kind == "List" else "{}"
        default = "List[Tensor]" if t.kind == "List" else "Dict[str, Tensor]"
        fixes: tuple[Fix, ...] = ()
        target = assign.targets[0].target if len(assign.targets) == 1 else None
        if isinstance(target, cst.Name):
            spelled = _spell(t, ctx)
            fixes = (
                Fix(
                    f"Annotate `{target.value}: {spelled}`",
                    (ctx.replace(assign, f"{target.value}: {spelled} = {container}"),),
                ),
            )
        ctx.report(
            node,
            f"the empty `{container}` has no annotation, so TorchScript types it {default}, "
            f"and this gives it a {t.args[-1]}: annotate it as `{_spell(t, ctx)}`",
            fixes=fixes,
        )


class ListElementTypeRule(Rule):
    code = "TS214"
    name = "list-element-type-mismatch"
    summary = "An element of another type is added to a typed list"
    family = Family.TYPE_CHECKING
    explanation = """
    **What it does.** Flags `xs.append(v)` and `xs.insert(i, v)` where `xs` is a parameter or
    an annotated variable of type `List[T]` and `v` is known to have another type.

    **Why it fails.** TorchScript lists hold one element type, and `append` converts
    nothing: an `int` does not go into a `List[float]`, a tensor does not go into a
    `List[int]`, and a shape slice (`List[int]`) is not a `Tuple[int, int]`
    (`Could not match type int to t in argument 'el'`).

    **How to fix.** Convert the element (`float(n)`, `int(t)`, `(s[0], s[1])`) or annotate
    the list with the element type it really holds.
    """
    VALID = (
        ex(
            """
            import torch
            from typing import List, Optional, Tuple

            def f(xs: List[float], n: int, t: torch.Tensor) -> int:
                xs.append(float(n))
                sizes: List[Tuple[int, int]] = []
                sizes.append((t.shape[-2], t.shape[-1]))
                maybe: List[Optional[int]] = []
                maybe.append(n)
                maybe.append(None)
                return len(xs) + len(sizes) + len(maybe)
            """
        ),
    )
    INVALID = (
        ex(
            """
            from typing import List

            def f(xs: List[float]):
                xs.append(1)
                return xs
            """,
            line=4,
            error="Could not match type int to t in argument 'el'",
        ),
        ex(
            """
            import torch
            from typing import List, Tuple

            def f(images: List[torch.Tensor]) -> List[Tuple[int, int]]:
                sizes: List[Tuple[int, int]] = []
                for img in images:
                    sizes.append(img.shape[-2:])
                return sizes
            """,
            line=7,
            error="Could not match type List[int] to t in argument 'el'",
        ),
    )

    def visit_Call(self, node: cst.Call, ctx: FunctionContext) -> None:
        if _in_comprehension(ctx):
            return
        func = node.func
        if not (isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name)):
            return
        position = _LIST_ADD.get(func.attr.value)
        if position is None or len(node.args) != position + 1:
            return
        if any(arg.keyword is not None or arg.star for arg in node.args):
            return
        env = function_types(ctx)
        name = func.value.value
        if name not in env.declared and not _unbound_param(env, name):
            return  # only lists whose type is written down (TS210 covers bare `[]`)
        container = env.type_of(func.value)
        value = node.args[-1].value
        if container is None or container.kind != "List" or _has_container_literal(value):
            return
        element = env.type_of(value)
        if element is not None and _element_fits(element, container.args[0]) is False:
            ctx.report(
                value,
                f"`{name}` is a {container}, and TorchScript's `{func.attr.value}` does not "
                f"convert: this adds a {element}",
            )


class ContainerLiteralTypeRule(Rule):
    code = "TS215"
    name = "container-literal-type-mismatch"
    summary = "A list or dict literal holds an element its declared type does not allow"
    family = Family.TYPE_CHECKING
    explanation = """
    **What it does.** Flags an element of a list or dict literal written under a type (an
    annotated assignment, a `return` under a return annotation, `torch.jit.annotate`) whose
    type differs: an `int` in a `List[float]`, `None` in a `Dict[str, Tensor]`, a `str` key in
    a `Dict[int, int]`.

    **Why it fails.** TorchScript types the literal from the annotation and converts nothing
    (`List type annotation `List[float]` did not match the types of the given list
    elements`; `the type of values given by the dict literal is Optional[Tensor]`).

    **How to fix.** Convert the element (`float(n)`), or widen the annotation
    (`Dict[str, Optional[Tensor]]`, `List[Optional[int]]`).
    """
    VALID = (
        ex(
            """
            import torch
            from typing import Dict, List, Optional

            def f(n: int, t: torch.Tensor) -> Dict[str, Optional[torch.Tensor]]:
                xs: List[float] = [float(n), 1.0]
                ys: List[Optional[int]] = [n, None]
                zs: List[List[int]] = [[n], [1, 2]]
                return {"t": t, "none": None}
            """
        ),
    )
    INVALID = (
        ex(
            """
            import torch
            from typing import Dict

            def f(boxes: torch.Tensor) -> Dict[str, torch.Tensor]:
                return {"boxes": boxes, "masks": None}
            """,
            line=5,
            error="the type of values given by the dict literal is Optional[Tensor]",
        ),
        ex(
            """
            from typing import List

            def f(n: int):
                xs: List[float] = [n, 1.0]
                return xs
            """,
            line=4,
            error="List type annotation `List[float]` did not match the types of the given",
        ),
    )

    def visit_AnnAssign(self, node: cst.AnnAssign, ctx: FunctionContext) -> None:
        if node.value is not None:
            declared = from_annotation(node.annotation.annotation, ctx.resolve)
            self._check(node.value, declared, ctx)

    def visit_Return(self, node: cst.Return, ctx: FunctionContext) -> None:
        env = function_types(ctx)
        if node.value is not None and env.has_return_annotation:
            self._check(node.value, env.returns, ctx)

    def visit_Call(self, node: cst.Call, ctx: FunctionContext) -> None:
        if _in_comprehension(ctx):
            return
        name = dotted(node.func)
        if name and len(node.args) == 2 and ctx.resolve(name) == "torch.jit.annotate":
            declared = from_annotation(node.args[0].value, ctx.resolve)
            self._check(node.args[1].value, declared, ctx)

    def _check(
        self, value: cst.BaseExpression, declared: TSType | None, ctx: FunctionContext
    ) -> None:
        if declared is None:
            return
        env = function_types(ctx)
        if isinstance(value, cst.List) and declared.kind == "List":
            for element in value.elements:
                if isinstance(element, cst.Element):
                    if self._misfit(element.value, declared.args[0], env, ctx, declared):
                        return
        elif isinstance(value, cst.Dict) and declared.kind == "Dict":
            key_type, value_type = declared.args
            for item in value.elements:
                if isinstance(item, cst.DictElement):
                    if self._misfit(item.key, key_type, env, ctx, declared):
                        return
                    if self._misfit(item.value, value_type, env, ctx, declared):
                        return

    @staticmethod
    def _misfit(
        node: cst.BaseExpression,
        wanted: TSType,
        env: FunctionTypes,
        ctx: FunctionContext,
        declared: TSType,
    ) -> bool:
        if _has_container_literal(node, none=False):
            return False  # nested literals take their own type from the annotation
        found = env.type_of(node)
        if found is None or _element_fits(found, wanted) is not False:
            return False
        ctx.report(
            node,
            f"`{ctx.code_for(node)}` is a {found}, but the literal is declared {declared}; "
            f"TorchScript converts nothing here: convert it or widen the annotation",
        )
        return True


def _element_fits(value: TSType, element: TSType) -> bool | None:
    """Whether `value` may be stored as `element` with no conversion (list methods)."""
    if value == element or element.kind == "Any":
        return True
    if element.kind == "Optional":
        return True if value.kind == "None" or value == element.args[0] else None
    if _simple(value) and _simple(element):
        return False
    return None


def _assign_of(function: cst.FunctionDef, value: cst.BaseExpression) -> cst.Assign | None:
    """The Assign statement whose value is `value` (found by identity, in statement order)."""
    stack: list[cst.CSTNode] = list(function.body.body)
    while stack:
        stmt = stack.pop()
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                if isinstance(small, cst.Assign) and small.value is value:
                    return small
        elif isinstance(stmt, cst.BaseCompoundStatement):
            body = stmt.body
            stack.extend(getattr(body, "body", ()))
            orelse = getattr(stmt, "orelse", None)
            if orelse is not None:
                stack.append(orelse)
        elif isinstance(stmt, (cst.Else, cst.Finally)):
            stack.extend(stmt.body.body)
    return None


# -- the flow walk: TS211 returns, TS212 retyping inside a block, TS213 merges ---------------


@dataclass(frozen=True)
class _Merge:
    """A variable that an `if` defines badly: an error on its first use."""

    message: str
    at: cst.If


@dataclass
class _Events:
    returns: list[tuple[cst.Return, str]] = field(default_factory=list)
    retypes: list[tuple[cst.Name, str]] = field(default_factory=list)
    merges: list[tuple[cst.If, str, cst.Name]] = field(default_factory=list)


Entry = TSType | _Merge | None


class _FlowEnv:
    """type_of's view of the names at one point of the walk (flow-sensitive)."""

    def __init__(self, flow: _Flow) -> None:
        self.flow = flow

    @property
    def resolve(self) -> Resolve:
        return self.flow.env.resolve

    @property
    def owner(self) -> ClassInfo | None:
        return self.flow.env.owner

    def name_type(self, name: str) -> TSType | None:
        found = self.flow.lookup(name)
        return found[1] if found is not None and isinstance(found[1], TSType) else None

    def is_local(self, name: str) -> bool:
        return self.flow.lookup(name) is not None


# `assert` too: TorchScript treats `assert False` as a raise, so the branch exits.
_EXITS = (cst.Return, cst.Raise, cst.Break, cst.Continue, cst.Assert)


def _may_exit(nodes: Sequence[cst.CSTNode]) -> bool:
    for node in nodes:
        if isinstance(node, cst.SimpleStatementLine):
            if any(isinstance(s, _EXITS) for s in node.body):
                return True
        elif isinstance(node, (cst.FunctionDef, cst.ClassDef)):
            continue
        elif isinstance(node, cst.BaseCompoundStatement) or isinstance(
            node, (cst.Else, cst.Finally, cst.ExceptHandler)
        ):
            if _may_exit(_sub_statements(node)):
                return True
    return False


def _sub_statements(node: cst.CSTNode) -> list[cst.CSTNode]:
    out: list[cst.CSTNode] = []
    body = getattr(node, "body", None)
    if isinstance(body, cst.BaseSuite):
        out.extend(body.body)
    for name in ("orelse", "finalbody"):
        part = getattr(node, name, None)
        if part is not None:
            out.append(part)
    out.extend(getattr(node, "handlers", ()))
    return out


def _assigned_names(nodes: Sequence[cst.CSTNode]) -> set[str]:
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, cst.SimpleStatementLine):
            for small in node.body:
                targets: list[cst.BaseExpression] = []
                if isinstance(small, cst.Assign):
                    targets = [t.target for t in small.targets]
                elif isinstance(small, (cst.AnnAssign, cst.AugAssign)):
                    targets = [small.target]
                for t in targets:
                    found.update(_names_in_target(t))
        elif isinstance(node, (cst.FunctionDef, cst.ClassDef)):
            found.add(node.name.value)
        else:
            if isinstance(node, cst.For):
                found.update(_names_in_target(node.target))
            if isinstance(node, cst.With):
                for item in node.items:
                    if item.asname is not None:
                        found.update(_names_in_target(item.asname.name))
            found |= _assigned_names(_sub_statements(node))
    return found


def _names_in_target(t: cst.BaseExpression) -> Iterator[str]:
    if isinstance(t, cst.Name):
        yield t.value
    elif isinstance(t, (cst.Tuple, cst.List)):
        for e in t.elements:
            yield from _names_in_target(e.value)
    elif isinstance(t, cst.StarredElement):
        yield from _names_in_target(t.value)


def _reads(expr: cst.CSTNode) -> Iterator[cst.Name]:
    """Names an expression reads (not attribute names, keywords, or inside comprehensions)."""
    if isinstance(expr, cst.Name):
        yield expr
        return
    if isinstance(expr, (cst.Lambda, cst.ListComp, cst.DictComp, cst.SetComp, cst.GeneratorExp)):
        return
    if isinstance(expr, cst.Attribute):
        yield from _reads(expr.value)
        return
    if isinstance(expr, cst.Arg):
        yield from _reads(expr.value)
        return
    from tscheck.cstwalk import children

    for child in children(expr):
        yield from _reads(child)


class _Flow:
    def __init__(self, ctx: FunctionContext, env: FunctionTypes) -> None:
        self.ctx = ctx
        self.env = env
        self.view = _FlowEnv(self)
        self.frames: list[dict[str, Entry]] = [dict(env.params)]
        self.events = _Events()
        self.merged_return: TSType | None = None
        self.returns_blocked = False
        self.reported_merges: set[int] = set()
        self.merges_pending = False  # some frame holds a _Merge

    def lookup(self, name: str) -> tuple[int, Entry] | None:
        for depth in range(len(self.frames) - 1, -1, -1):
            if name in self.frames[depth]:
                return depth, self.frames[depth][name]
        return None

    def type_of(self, expr: cst.BaseExpression) -> TSType | None:
        return type_of(expr, self.view)

    # -- statements --

    def block(self, nodes: Sequence[cst.CSTNode]) -> None:
        for node in nodes:
            if not self.statement(node):
                return  # the rest of the block is dead code

    def statement(self, node: cst.CSTNode) -> bool:
        """Walk one statement; False when it always leaves the block."""
        if isinstance(node, cst.SimpleStatementLine):
            for small in node.body:
                if not self.small(small):
                    return False
            return True
        if isinstance(node, cst.If):
            self.if_(node)
        elif isinstance(node, (cst.For, cst.While)):
            self.loop(node)
        elif isinstance(node, (cst.FunctionDef, cst.ClassDef)):
            self.frames[-1][node.name.value] = None
        else:
            self.opaque([node])
        return True

    def opaque(self, nodes: Sequence[cst.CSTNode]) -> None:
        """Code the walk does not follow: what it assigns becomes unknown; its returns stop
        the return check."""
        for name in _assigned_names(nodes):
            self.frames[-1][name] = None
        if _may_exit(nodes):
            self.returns_blocked = True

    def small(self, small: cst.BaseSmallStatement) -> bool:
        if isinstance(small, cst.Assign):
            self.read(small.value)
            literal = _has_container_literal(small.value, none=False)
            value_type = None if literal else self.type_of(small.value)
            for target in small.targets:
                self.assign(target.target, value_type)
        elif isinstance(small, cst.AnnAssign):
            if small.value is not None:
                self.read(small.value)
            for name in _names_in_target(small.target):
                self.frames[-1][name] = from_annotation(
                    small.annotation.annotation, self.env.resolve
                )
        elif isinstance(small, cst.AugAssign):
            self.read(small.value)
            self.read(small.target)
            for name in _names_in_target(small.target):
                self.frames[-1][name] = None if self.lookup(name) is None else self._keep(name)
        elif isinstance(small, cst.Return):
            if small.value is not None:
                self.read(small.value)
            self.return_(small)
            return False
        elif isinstance(small, (cst.Raise, cst.Break, cst.Continue)):
            return False
        elif isinstance(small, cst.Expr):
            self.read(small.value)
        elif isinstance(small, cst.Assert):
            self.read(small.test)
            if isinstance(small.test, cst.Name) and small.test.value == "False":
                return False
            if _refines(small.test):
                # `assert x is not None` / `isinstance` refine: types change, stay unsure
                for read in _reads(small.test):
                    if self.lookup(read.value) is not None:
                        self.frames[-1][read.value] = None
        return True

    def _keep(self, name: str) -> Entry:
        found = self.lookup(name)
        if found is None or found[0] != len(self.frames) - 1:
            return found[1] if found is not None and isinstance(found[1], TSType) else None
        return None  # rebinding in the same frame: `+=` may change the type (int -> float)

    def assign(self, target: cst.BaseExpression, value_type: TSType | None) -> None:
        if not isinstance(target, cst.Name):
            for name in _names_in_target(target):
                self.frames[-1][name] = None
            if not isinstance(target, (cst.Tuple, cst.List, cst.StarredElement)):
                self.read(target)
            return
        name = target.value
        found = self.lookup(name)
        if found is None or found[0] == len(self.frames) - 1:
            self.frames[-1][name] = value_type  # new, or straight-line rebinding
            return
        previous = found[1]
        if isinstance(previous, TSType) and value_type is not None:
            if assignable(value_type, previous) is False:
                self.events.retypes.append(
                    (
                        target,
                        f"`{name}` had type {previous} before this block, and TorchScript "
                        f"keeps a variable's type across `if`/loop bodies: assigning a "
                        f"{value_type} here is rejected. Use a new name, or declare "
                        f"`{name}` with a type that holds both",
                    )
                )
        self.frames[-1][name] = previous if isinstance(previous, TSType) else None

    def read(self, expr: cst.CSTNode) -> None:
        if not self.merges_pending:
            return  # nothing to find: the common case, and the walk's only full scan
        for name in _reads(expr):
            found = self.lookup(name.value)
            if found is None or not isinstance(found[1], _Merge):
                continue
            merge = found[1]
            if id(merge) in self.reported_merges:
                continue
            self.reported_merges.add(id(merge))
            self.events.merges.append((merge.at, merge.message, name))

    def return_(self, node: cst.Return) -> None:
        if self.returns_blocked:
            return
        value = node.value
        if self.env.has_return_annotation:
            declared = self.env.returns
            if declared is None or value is None or _has_container_literal(value):
                return
            actual = self.type_of(value)
            if actual is not None and _simple(actual) and _simple(declared):
                if assignable(actual, declared) is False:
                    self.events.returns.append(
                        (
                            node,
                            f"the return annotation says {declared}, but this returns a "
                            f"{actual}; TorchScript does not convert it",
                        )
                    )
            return
        actual = NONE if value is None else self.type_of(value)
        if actual is None or (value is not None and _has_container_literal(value)):
            self.returns_blocked = True
            return
        if self.merged_return is None:
            self.merged_return = actual
            return
        merged = unify(self.merged_return, actual)
        if merged is False:
            self.events.returns.append(
                (
                    node,
                    f"an earlier return gives a {self.merged_return} and this one a {actual}; "
                    f"a TorchScript function has one return type. Annotate the return type "
                    f"(`Optional[...]`, `Union[...]`) or return the same type",
                )
            )
            self.returns_blocked = True
        elif isinstance(merged, TSType):
            self.merged_return = merged
        else:
            self.returns_blocked = True

    def if_(self, node: cst.If) -> None:
        self.read(node.test)
        if not _dynamic(node.test, self.env):
            self.opaque([node])
            return
        body = list(node.body.body)
        orelse: list[cst.CSTNode] = []
        if isinstance(node.orelse, cst.Else):
            orelse = list(node.orelse.body.body)
        elif isinstance(node.orelse, cst.If):
            orelse = [node.orelse]
        self.frames.append({})
        self.block(body)
        true_frame = self.frames.pop()
        self.frames.append({})
        self.block(orelse)
        false_frame = self.frames.pop()
        if _may_exit(body) or _may_exit(orelse):
            for name in true_frame.keys() | false_frame.keys():
                self.frames[-1][name] = None
            return
        for name in true_frame.keys() | false_frame.keys():
            if self.lookup(name) is not None:
                previous = self.lookup(name)
                self.frames[-1][name] = (
                    previous[1]
                    if previous is not None and isinstance(previous[1], TSType)
                    else None
                )
                continue
            merged = self._merge(name, true_frame, false_frame, node)
            self.frames[-1][name] = merged
            self.merges_pending = self.merges_pending or isinstance(merged, _Merge)

    def _merge(
        self, name: str, true_frame: dict[str, Entry], false_frame: dict[str, Entry], at: cst.If
    ) -> Entry:
        if name not in false_frame or name not in true_frame:
            missing = "false" if name not in false_frame else "true"
            return _Merge(
                f"`{name}` is defined only in one branch of this `if` (not in the {missing} "
                f"branch), and TorchScript rejects its use after the `if`: define it before "
                f"the `if` or in both branches",
                at,
            )
        a, b = true_frame[name], false_frame[name]
        if not (isinstance(a, TSType) and isinstance(b, TSType)):
            return None
        merged = unify(a, b)
        if merged is False:
            return _Merge(
                f"`{name}` is a {a} in the true branch of this `if` and a {b} in the false "
                f"branch; TorchScript cannot merge them and rejects its use after the `if`",
                at,
            )
        return merged if isinstance(merged, TSType) else None

    def loop(self, node: cst.For | cst.While) -> None:
        if isinstance(node, cst.For):
            self.read(node.iter)
        else:
            self.read(node.test)
        if node.orelse is not None:
            self.opaque([node])
            return
        frame: dict[str, Entry] = {}
        if isinstance(node, cst.For):
            target_type = self._iter_type(node.iter)
            if target_type is None:
                # Loops over tuples, ModuleLists and the like are unrolled: each iteration
                # is straight-line code, where rebinding to another type is allowed.
                self.opaque([node])
                return
            for name in _names_in_target(node.target):
                frame[name] = target_type if isinstance(node.target, cst.Name) else None
        self.frames.append(frame)
        self.block(list(node.body.body))
        self.frames.pop()
        # Names first defined in the loop body are undefined after it ("undefined value"):
        # another error, left to the compiler; they stay out of the frames.

    def _iter_type(self, iterable: cst.BaseExpression) -> TSType | None:
        return element_type(iterable, self.view)


def _refines(test: cst.BaseExpression) -> bool:
    if isinstance(test, cst.Comparison):
        return any(isinstance(c.operator, (cst.Is, cst.IsNot)) for c in test.comparisons)
    if isinstance(test, cst.Call):
        return dotted(test.func) == "isinstance"
    if isinstance(test, cst.BooleanOperation):
        return _refines(test.left) or _refines(test.right)
    return False


def _dynamic(test: cst.BaseExpression, env: FunctionTypes) -> bool:
    """Whether an `if` test is certainly not folded while compiling. TorchScript emits only
    one branch for `isinstance`, `hasattr`, `is None` on non-Optionals, `is_scripting()` and
    constants (Final attributes, globals, literals); only tests over parameters are safe."""
    if scripting_value(test) is not None:
        return False
    if isinstance(test, cst.BooleanOperation):
        return _dynamic(test.left, env) and _dynamic(test.right, env)
    if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
        return _dynamic(test.expression, env)
    if isinstance(test, cst.Name):
        return _param_value(test, env)
    if isinstance(test, cst.Attribute):
        return _plain_attribute(test, env)
    if isinstance(test, cst.Comparison):
        if any(
            isinstance(c.operator, (cst.Is, cst.IsNot, cst.In, cst.NotIn)) for c in test.comparisons
        ):
            return False
        operands = [test.left, *(c.comparator for c in test.comparisons)]
        return any(_mentions_param(o, env) for o in operands) and not any(
            _mentions_call(o) for o in operands
        )
    return False


def _plain_attribute(node: cst.Attribute, env: FunctionTypes) -> bool:
    """`self.flag` where `flag` is an ordinary attribute set in `__init__` of a class that
    derives from nn.Module directly: never a constant (those are Final or in __constants__)."""
    owner = env.owner
    if owner is None or not isinstance(node.value, cst.Name):
        return False
    module_params = [n for n, t in env.params.items() if t is not None and t.kind == "Module"]
    if node.value.value not in module_params[:1] or node.value.value in env.bindings:
        return False
    if owner.bases != ("torch.nn.Module",):
        return False  # a base class may declare it constant
    name = node.attr.value
    if name in (*owner.constants, *owner.finals, *owner.class_attrs, *owner.annotations):
        return False
    if any(sub.attr == name for sub in owner.submodules):
        return False
    inits = [a for a in owner.init_attrs if a.attr == name]
    return bool(inits) and all(not a.annotated and a.shape == "other" for a in inits)


def _param_value(name: cst.Name, env: FunctionTypes) -> bool:
    t = env.params.get(name.value)
    return (
        _unbound_param(env, name.value)
        and t is not None
        and t.kind in ("bool", "int", "float", "Tensor")
    )


def _mentions_param(expr: cst.BaseExpression, env: FunctionTypes) -> bool:
    if isinstance(expr, cst.Name):
        return _param_value(expr, env)
    if isinstance(expr, cst.BinaryOperation):
        return _mentions_param(expr.left, env) or _mentions_param(expr.right, env)
    return False


def _mentions_call(expr: cst.BaseExpression) -> bool:
    return isinstance(expr, cst.Call) and dotted(expr.func) in ("isinstance", "hasattr")


_FLOW_ATTR = "_tscheck_flow"


def flow_events(ctx: FunctionContext) -> _Events:
    """The flow walk of the function `ctx` compiles, once for all three rules."""
    found = getattr(ctx, _FLOW_ATTR, None)
    if isinstance(found, tuple) and found[0] is ctx.node:
        events: _Events = found[1]
        return events
    flow = _Flow(ctx, function_types(ctx))
    flow.block(list(ctx.node.body.body))
    setattr(ctx, _FLOW_ATTR, (ctx.node, flow.events))
    return flow.events


class ReturnTypeMismatchRule(Rule):
    code = "TS211"
    name = "return-type-mismatch"
    summary = "A return statement's type does not match the function's return type"
    family = Family.TYPE_CHECKING
    explanation = """
    **What it does.** Flags a `return` whose value's type differs from the return annotation,
    or, without an annotation, from the type an earlier `return` gave (`int` then `str`,
    `List[int]` then `List[float]`).

    **Why it fails.** A TorchScript function has one static return type. With an annotation
    every return must match it (`int` is not converted to `float`); without one, each return
    must unify with the earlier ones (`None` and `T` give `Optional[T]`, nothing else mixes).

    **How to fix.** Return the same type on every path (`float(x)`), or annotate a return
    type that holds both (`Optional[int]`, `Union[int, str]`).
    """
    VALID = (
        ex(
            """
            import torch
            from typing import Optional

            def f(c: bool, x: int) -> float:
                if c:
                    return float(x)
                return 1.0

            def g(c: bool, t: torch.Tensor):
                if c:
                    return None
                return t
            """
        ),
    )
    INVALID = (
        ex(
            """
            def f(c: bool):
                if c:
                    return 1
                else:
                    return "one"
            """,
            line=5,
            error="Previous return statement returned a value of type int",
        ),
        ex(
            """
            def f(x: int) -> str:
                return x
            """,
            line=2,
            error="Return value was annotated as having type str but is actually of type int",
        ),
    )
    CATALOG = ("branch_return_type_mismatch", "return_annotation_mismatch")

    def check_function(self, ctx: FunctionContext) -> None:
        for node, message in flow_events(ctx).returns:
            ctx.report(node, message)


class VariableRetypedInBlockRule(Rule):
    code = "TS212"
    name = "variable-retyped-in-block"
    summary = "A variable assigned inside an if/loop body must keep its earlier type"
    family = Family.TYPE_CHECKING
    explanation = """
    **What it does.** Flags an assignment inside an `if`, `for` or `while` body that gives a
    variable defined before the block a value of another type (`y = 0` then `y = "s"` in a
    loop; `out = None` then `out = x` in a loop).

    **Why it fails.** TorchScript lets straight-line code rebind a name to another type, but
    a variable that flows out of a block has one type: the one it had before
    (`Variable 'y' previously had type int but is now being assigned to a value of type
    str`). A tensor assigned to an `int` or `float` variable is converted; nothing else is.

    **How to fix.** Declare the variable with a type that holds both values before the
    block (`out: Optional[torch.Tensor] = None`), or use a new name.
    """
    VALID = (
        ex(
            """
            import torch
            from typing import List, Optional

            def f(xs: List[torch.Tensor]) -> Optional[torch.Tensor]:
                out: Optional[torch.Tensor] = None
                y = 0
                y = "s"
                for x in xs:
                    out = x
                return out
            """
        ),
        ex(
            """
            import torch
            import torch.nn as nn

            class M(nn.Module):
                def __init__(self) -> None:
                    super().__init__()
                    self.layers = nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 2)])

                def forward(self, x: torch.Tensor) -> float:
                    scale = 0
                    for layer in self.layers:  # unrolled: each iteration is straight-line
                        x = layer(x)
                        scale = 1.5
                    return scale
            """
        ),
    )
    INVALID = (
        ex(
            """
            def f(n: int):
                y = 0
                for i in range(n):
                    y = "s"
                return y
            """,
            line=4,
            error="Variable 'y' previously had type int but is now being assigned to a value "
            "of type str",
        ),
        ex(
            """
            import torch
            from typing import List

            def f(xs: List[torch.Tensor]):
                out = None
                for x in xs:
                    out = x
                return out
            """,
            line=7,
            error="Variable 'out' previously had type NoneType",
        ),
    )
    CATALOG = ("variable_type_change_in_loop", "none_then_tensor_in_loop")

    def check_function(self, ctx: FunctionContext) -> None:
        for node, message in flow_events(ctx).retypes:
            ctx.report(node, message)


class BranchMergeRule(Rule):
    code = "TS213"
    name = "branch-variable-mismatch"
    summary = "A variable used after an `if` is defined in one branch only, or with two types"
    family = Family.TYPE_CHECKING
    explanation = """
    **What it does.** Flags an `if` whose branches define a variable (not defined before
    the `if`) that is used afterwards, when one branch does not define it, or the two
    branches give it types that do not merge (`int` and `str`).

    **Why it fails.** At the end of an `if` TorchScript merges the variables of both
    branches into one typed value. A variable missing from one branch (`y is not defined in
    the false branch`) or typed differently (`Type mismatch: y is set to type int in the
    true branch and type str in the false branch`) has no merged value, which fails where it
    is used. `None` and `T` merge to `Optional[T]`.

    **How to fix.** Define the variable before the `if` with a type that holds every
    branch's value, or give it the same type in both branches.
    """
    VALID = (
        ex(
            """
            def f(c: bool) -> int:
                if c:
                    y = 1
                    z = "a"
                else:
                    y = 2
                    z = 3
                return y
            """
        ),
    )
    INVALID = (
        ex(
            """
            def f(c: bool):
                if c:
                    y = 1
                return y
            """,
            line=2,
            error="y is not defined in the false branch",
        ),
        ex(
            """
            def f(c: bool):
                if c:
                    y = 1
                else:
                    y = "one"
                return y
            """,
            line=2,
            error="Type mismatch: y is set to type int in the true branch and type str",
        ),
        ex(
            """
            import torch
            import torch.nn as nn

            class M(nn.Module):
                def __init__(self, num_classes: int = 0) -> None:
                    super().__init__()
                    self.use_head = num_classes > 0
                    self.fc = nn.Linear(8, 2)

                def forward(self, x: torch.Tensor) -> torch.Tensor:
                    if self.use_head:
                        out = self.fc(x)
                    return out
            """,
            line=11,
            error="out is not defined in the false branch",
        ),
    )
    CATALOG = ("variable_defined_in_one_branch", "branch_var_type_mismatch")

    def check_function(self, ctx: FunctionContext) -> None:
        for at, message, use in flow_events(ctx).merges:
            use_line = ctx.range(use).start.line
            ctx.report(
                at,
                f"{message} (line {use_line})",
                range=ctx.head_range(at, _keyword_length(at, ctx)),
                related=(ChainLink(f"`{use.value}` is used here", ctx.summary.path, use_line),),
            )


def _keyword_length(node: cst.If, ctx: FunctionContext) -> int:
    """`elif` or `if`: an elif's node starts at its keyword."""
    start = ctx.range(node).start
    return 4 if ctx.line_text(start.line)[start.column :].startswith("elif") else 2


RULES: tuple[type[Rule], ...] = (
    UnannotatedNonTensorParamRule,
    RangeNotIntRule,
    TupleIndexNotConstantRule,
    TupleItemAssignmentRule,
    UnpackCountRule,
    MissingBuiltinMethodRule,
    TolistWithoutAnnotationRule,
    DictKeyTypeRule,
    ArithmeticOnUnrefinedRule,
    EmptyContainerDefaultRule,
    ListElementTypeRule,
    ContainerLiteralTypeRule,
    ReturnTypeMismatchRule,
    VariableRetypedInBlockRule,
    BranchMergeRule,
)
