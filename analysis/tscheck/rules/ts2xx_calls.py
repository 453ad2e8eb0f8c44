"""TS240-TS249: calls from compiled code that do not fit the callee's compiled signature.

TorchScript binds every call to a project function at compile time (torch/csrc/jit/frontend/
schema_matching.cpp): too many positional arguments, an unknown or repeated keyword, a
parameter left without a value, or an argument whose type the parameter does not accept is a
compile error, even in a branch that never runs. Callees are found the way the rest of
tscheck follows calls (`self.m()`, `self.sub()` -> the submodule's `forward`, `self.sub.m()`,
project functions), and only when the callee's def is in the same file and is a plain def
(no decorator other than TorchScript's own and @staticmethod, no `*args` / `**kwargs`).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import libcst as cst

from tscheck import cstwalk
from tscheck.index import FunctionInfo
from tscheck.model import Family
from tscheck.rules.base import FunctionContext, Rule, dotted, ex
from tscheck.rules.ts3xx_decorators import resolve_callee
from tscheck.types import from_annotation, function_types, literal_type

# Decorators that leave the signature as written.
_PLAIN_DECORATORS = frozenset(
    {"torch.jit.ignore", "torch.jit.unused", "torch.jit.export", "staticmethod"}
)
_KINDS = frozenset({"int", "float", "bool", "str", "Tensor"})
# Argument type -> parameter types that reject it (each pair checked with torch 2.13: no
# implicit int -> float, nothing converts to str; a Tensor still passes for int and float).
_REJECTS: dict[str, frozenset[str]] = {
    "int": frozenset({"float", "bool", "str", "Tensor"}),
    "float": frozenset({"int", "str", "bool", "Tensor"}),
    "bool": frozenset({"str", "Tensor"}),
    "str": frozenset({"int", "float", "bool", "Tensor"}),
    "Tensor": frozenset({"str", "bool"}),
    "None": frozenset({"int", "float", "bool", "str", "Tensor"}),
}


@dataclass(frozen=True)
class _Param:
    name: str
    annotation: cst.BaseExpression | None
    has_default: bool
    keyword_only: bool


@dataclass(frozen=True)
class _Signature:
    name: str
    params: tuple[_Param, ...]  # without the bound `self`

    @property
    def positional(self) -> tuple[_Param, ...]:
        return tuple(p for p in self.params if not p.keyword_only)

    def text(self, module: cst.Module) -> str:
        parts = []
        for p in self.params:
            shown = p.name
            if p.annotation is not None:
                shown += f": {module.code_for_node(p.annotation)}"
            if p.has_default:
                shown += "=..."
            parts.append(shown)
        return f"{self.name}({', '.join(parts)})"


@dataclass(frozen=True)
class _Bound:
    """A call resolved to a signature, with the callee's module (to print annotations)."""

    signature: _Signature
    module: cst.Module


# The last call resolved: TS240 and TS241 visit the same call one after the other.
# Keyed by the context too: an unchanged block keeps its nodes from one analysis to the next,
# while the callee may have changed.
_LAST_CALL: list[tuple[cst.Call, FunctionContext, _Bound | None]] = []


def _signature(ctx: FunctionContext, call: cst.Call) -> _Bound | None:
    if _LAST_CALL and _LAST_CALL[0][0] is call and _LAST_CALL[0][1] is ctx:
        return _LAST_CALL[0][2]
    found = _resolve(ctx, call)
    _LAST_CALL[:] = [(call, ctx, found)]
    return found


def _resolve(ctx: FunctionContext, call: cst.Call) -> _Bound | None:
    if any(arg.star for arg in call.args):
        return None
    found = resolve_callee(call, ctx)
    if found is None or found.summary.path != ctx.summary.path:
        return None
    func = call.func
    if isinstance(func, cst.Name) and _shadowed(ctx, func.value):
        return None  # a local or parameter shadows the project function
    attr = _self_attribute(ctx, func)
    if attr and found.info.name != attr and not _one_submodule(ctx, attr):
        return None  # `self.sub(...)` where `self.sub` may hold another module
    info = found.info
    if not _plain(info) or _overloaded(ctx, info):
        return None
    module, _ = ctx.blocks.module_for_line(info.line)
    node = _def_at(ctx, module, info)
    if node is None or _type_comment(ctx, info):
        return None
    p = node.params
    if p.posonly_params or isinstance(p.star_arg, cst.Param) or p.star_kwarg is not None:
        return None
    params = [
        _Param(
            x.name.value, x.annotation.annotation if x.annotation else None, bool(x.default), False
        )
        for x in p.params
    ]
    params += [
        _Param(
            x.name.value, x.annotation.annotation if x.annotation else None, bool(x.default), True
        )
        for x in p.kwonly_params
    ]
    if found.bound:
        if not params or params[0].keyword_only:
            return None
        params = params[1:]
    return _Bound(_Signature(info.name, tuple(params)), module)


def _param(node: cst.Param, keyword_only: bool) -> _Param:
    annotation = node.annotation.annotation if node.annotation else None
    return _Param(node.name.value, annotation, node.default is not None, keyword_only)


# The names the function last asked about assigns in its body: computed once per function,
# not once per call.
_ASSIGNED: list[tuple[cst.FunctionDef, frozenset[str]]] = []


def _assigned(ctx: FunctionContext) -> frozenset[str]:
    if _ASSIGNED and _ASSIGNED[0][0] is ctx.node:
        return _ASSIGNED[0][1]
    found = frozenset(cstwalk.bound_names(ctx.node.body))
    _ASSIGNED[:] = [(ctx.node, found)]
    return found


def _shadowed(ctx: FunctionContext, name: str) -> bool:
    """A parameter or local of the caller with the name of the project function."""
    p = ctx.node.params
    params = (*p.posonly_params, *p.params, *p.kwonly_params)
    return any(x.name.value == name for x in params) or name in _assigned(ctx)


def _type_comment(ctx: FunctionContext, info: FunctionInfo) -> bool:
    """A `# type: (int) -> int` comment near the def types its parameters instead."""
    last = min(info.end_line, info.line + 12)
    for n in range(info.line, last + 1):
        text = ctx.line_text(n)
        if "# type:" in text and "# type: ignore" not in text:
            return True
    return False


def _self_attribute(ctx: FunctionContext, func: cst.BaseExpression) -> str:
    """`sub` for a call of `self.sub(...)` or `self.sub.method(...)`."""
    if isinstance(func, cst.Attribute) and isinstance(func.value, cst.Attribute):
        func = func.value
    if isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name):
        if func.value.value != "self":
            return ""
        return func.attr.value
    return ""


def _one_submodule(ctx: FunctionContext, attr: str) -> bool:
    """`self.<attr>` is built by one class in every `__init__` that assigns it, and nothing
    else is assigned to it there or annotated for it (an interface type, say)."""
    context = ctx.compiled.context
    if not context:
        return False
    targets: set[str] = set()
    for summary, cls in ctx.project.mro(context):
        if attr in cls.annotations:
            return False
        for sub in cls.submodules:
            if sub.attr == attr:
                targets.add(ctx.project.qualify(summary, sub.target))
        if any(a.attr == attr and a.shape != "call" for a in cls.init_attrs):
            return False
    return len(targets) == 1


def _in_static_branch(ctx: FunctionContext, node: cst.CSTNode) -> bool:
    """Inside a branch of an `if` or ternary whose test TorchScript may fold while compiling
    (then that branch may never be compiled): a bool literal, a Final / `__constants__`
    attribute, `hasattr`, or an `is None` / `isinstance` test of anything but a name typed
    Optional."""
    path = [*ctx.ancestors, node]
    for parent, child in itertools.pairwise(path):
        if isinstance(parent, (cst.If, cst.IfExp)) and child is not parent.test:
            if _may_fold(ctx, parent.test):
                return True
    return False


def _may_fold(ctx: FunctionContext, test: cst.BaseExpression) -> bool:
    if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
        return _may_fold(ctx, test.expression)
    if isinstance(test, cst.BooleanOperation):
        return _may_fold(ctx, test.left) or _may_fold(ctx, test.right)
    if isinstance(test, cst.Name):
        return test.value in ("True", "False")
    if isinstance(test, cst.Attribute) and dotted(test).startswith("self."):
        context = ctx.compiled.context
        for _, cls in ctx.project.mro(context) if context else ():
            if test.attr.value in cls.constants or test.attr.value in cls.finals:
                return True
        return False
    subject: cst.BaseExpression | None = None
    if isinstance(test, cst.Comparison) and len(test.comparisons) == 1:
        target = test.comparisons[0]
        if isinstance(target.operator, (cst.Is, cst.IsNot)):
            subject = test.left
    elif isinstance(test, cst.Call) and test.args:
        callee = ctx.resolve(dotted(test.func))
        if callee in ("hasattr", "getattr"):
            return True
        if callee in ("isinstance", "torch.jit.isinstance"):
            subject = test.args[0].value
    if subject is None:
        return False
    if isinstance(subject, cst.Name):
        found = function_types(ctx).name_type(subject.value)
        return found is None or not found.is_optional
    return True


def _plain(info: FunctionInfo) -> bool:
    if info.is_async or info.is_property or info.name.startswith("__"):
        return False
    return all(d in _PLAIN_DECORATORS for d in info.decorators)


def _overloaded(ctx: FunctionContext, info: FunctionInfo) -> bool:
    """Several defs share the name (overloads, redefinitions): which one binds is unclear."""
    if info.ordinal:
        return True
    summary = ctx.summary
    if "." in info.qualname:
        cls = summary.cls(info.qualname.split(".")[0])
        defs = [m for m in cls.methods if m.name == info.name] if cls else []
    else:
        defs = [f for f in summary.functions if f.name == info.name]
    return len(defs) != 1


def _def_at(ctx: FunctionContext, module: cst.Module, info: FunctionInfo) -> cst.FunctionDef | None:
    for statement in module.body:
        if isinstance(statement, cst.FunctionDef) and statement.name.value == info.name:
            if "." not in info.qualname:
                return statement
        if isinstance(statement, cst.ClassDef) and "." in info.qualname:
            if statement.name.value != info.qualname.split(".")[0]:
                continue
            body = statement.body
            if not isinstance(body, cst.IndentedBlock):
                return None
            for member in body.body:
                if isinstance(member, cst.FunctionDef) and member.name.value == info.name:
                    return member
    return None


def _binding(signature: _Signature, call: cst.Call) -> tuple[str, dict[str, cst.BaseExpression]]:
    """(what is wrong, or "", the arguments bound to each parameter)."""
    positional = [a for a in call.args if a.keyword is None]
    keywords = [a for a in call.args if a.keyword is not None]
    slots = signature.positional
    bound: dict[str, cst.BaseExpression] = {}
    if len(positional) > len(slots):
        return (
            f"takes at most {len(slots)} positional argument"
            f"{'' if len(slots) == 1 else 's'} but this call passes {len(positional)}",
            bound,
        )
    for param, arg in zip(slots, positional, strict=False):
        bound[param.name] = arg.value
    names = {p.name for p in signature.params}
    for arg in keywords:
        assert arg.keyword is not None
        name = arg.keyword.value
        if name not in names:
            return f"has no parameter `{name}`", bound
        if name in bound:
            return f"gets `{name}` twice (by position and by keyword)", bound
        bound[name] = arg.value
    missing = [p.name for p in signature.params if not p.has_default and p.name not in bound]
    if missing:
        listed = ", ".join(f"`{m}`" for m in missing)
        return f"needs {listed}, which this call does not pass", bound
    return "", bound


class CallArgumentsMismatchRule(Rule):
    code = "TS240"
    name = "call-arguments-mismatch"
    summary = "The call's arguments do not bind to the compiled callee's parameters"
    family = Family.TYPE_CHECKING
    CATALOG = ("wrong_arg_count_to_helper",)
    explanation = """
    **What it does.** Flags a call in compiled code to a function or method of this file —
    a helper, `self.method(...)`, a submodule `self.block(...)` (its `forward`) — that passes
    too many positional arguments, a keyword the callee does not have, the same parameter
    twice, or leaves a parameter without a default unset.

    **Why it fails.** TorchScript matches every call against the callee's compiled schema
    when it compiles the caller, even in a branch that never runs; a mismatch is a compile
    error (`Argument b not provided`, `Keyword argument c unknown`, `Expected at most 2
    arguments`). Python would fail too, but only when the line runs.

    **How to fix.** Pass the arguments the callee declares, or give the parameter a default
    (`b: int = 0`). Keyword-only parameters must be passed by keyword.
    """
    VALID = (
        ex(
            """
            import torch

            def g(a: int, b: int = 1, scale: int = 2) -> int:
                return (a + b) * scale

            def f(x: int) -> int:
                return g(x) + g(x, 2) + g(b=3, a=x) + g(x, scale=4)
            """,
            call="assert m(1) == 4 + 6 + 8 + 8",
        ),
        ex(
            """
            import torch
            import torch.nn as nn

            class Block(nn.Module):
                def forward(self, x: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
                    return x * scale

            class M(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.block = Block()

                @staticmethod
                def shift(x: torch.Tensor, by: float) -> torch.Tensor:
                    return x + by

                def forward(self, x: torch.Tensor) -> torch.Tensor:
                    return self.shift(self.block(x, scale=2.0), 1.0)
            """,
            call="m(torch.ones(1))",
        ),
    )
    INVALID = (
        ex(
            """
            def g(a: int, b: int):
                return a + b

            def f(x: int):
                return g(x)
            """,
            line=5,
            error="Argument b not provided",
        ),
        ex(
            """
            import torch
            import torch.nn as nn

            class Block(nn.Module):
                def forward(self, x: torch.Tensor) -> torch.Tensor:
                    return x

            class M(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.block = Block()

                def forward(self, x: torch.Tensor) -> torch.Tensor:
                    return self.block(x, mask=x)
            """,
            line=14,
            error="Keyword argument mask unknown",
        ),
        ex(
            """
            import torch
            import torch.nn as nn

            class M(nn.Module):
                def scale(self, x: torch.Tensor, by: float = 2.0) -> torch.Tensor:
                    return x * by

                def forward(self, x: torch.Tensor) -> torch.Tensor:
                    if x.sum() > 0:
                        return self.scale(x, 2.0, 3.0)
                    return x
            """,
            line=10,
            error="Expected at most 3 arguments but found 4 positional arguments",
        ),
    )

    def visit_Call(self, node: cst.Call, ctx: FunctionContext) -> None:
        found = _signature(ctx, node)
        if found is None or _in_static_branch(ctx, node):
            return
        problem, _ = _binding(found.signature, node)
        if not problem:
            return
        ctx.report(
            node.func,
            f"`{found.signature.text(found.module)}` {problem}; TorchScript rejects the call "
            "when it compiles this function",
        )


class CallArgumentTypeRule(Rule):
    code = "TS241"
    name = "call-argument-type-mismatch"
    summary = "An argument's type is one the compiled callee's parameter does not accept"
    family = Family.TYPE_CHECKING
    CATALOG = ("wrong_arg_type_to_helper",)
    explanation = """
    **What it does.** Flags an argument whose type is known — a literal, or a parameter of
    the calling function that is never reassigned — passed to a parameter of a function of
    this file whose type rejects it: a `str` to an `int`, an `int` to a `float` (TorchScript
    does not widen it), a number to a `Tensor`, None to a non-Optional parameter.
    A parameter without an annotation is a `Tensor` to TorchScript, so `g(x, 3)` fails
    for `def g(x, n)`.

    **Why it fails.** TorchScript checks each argument against the callee's compiled schema
    (`Expected a value of type 'float' for argument 'a' but instead found type 'int'`).

    **How to fix.** Annotate the parameter with the type it is given (`n: int`), convert
    the argument (`float(n)`, `2.0` for `2`), or make the parameter `Optional[T]` when None
    is meant.
    """
    VALID = (
        ex(
            """
            import torch

            def g(x: torch.Tensor, n: int, scale: float, name: str) -> torch.Tensor:
                return x * n * scale

            def f(x: torch.Tensor, k: int) -> torch.Tensor:
                return g(x, k, 2.0, "a") + g(x, True, float(k), name="b")
            """,
            call="m(torch.ones(1), 2)",
        ),
    )
    INVALID = (
        ex(
            """
            def g(a: int):
                return a

            def f(x: str):
                return g(x)
            """,
            line=5,
            error="Expected a value of type 'int' for argument 'a' but instead found type 'str'",
        ),
        ex(
            """
            import torch

            def g(x, n):
                return x * n

            def f(x: torch.Tensor):
                return g(x, 3)
            """,
            line=7,
            error="for argument 'n' but instead found type 'int'",
        ),
        ex(
            """
            import torch

            def g(x: torch.Tensor, scale: float) -> torch.Tensor:
                return x * scale

            def f(x: torch.Tensor):
                return g(x, scale=2)
            """,
            line=7,
            error="Expected a value of type 'float' for argument 'scale' but instead found type",
        ),
    )

    def visit_Call(self, node: cst.Call, ctx: FunctionContext) -> None:
        found = _signature(ctx, node)
        if found is None or _in_static_branch(ctx, node):
            return
        problem, bound = _binding(found.signature, node)
        if problem:
            return  # TS240's
        params = {p.name: p for p in found.signature.params}
        for name, arg in bound.items():
            expected = _param_type(ctx, params[name])
            if expected is None:
                continue
            given = _arg_type(ctx, arg)
            if given is None or expected not in _REJECTS.get(given, frozenset()):
                continue
            why = " (unannotated, so a Tensor)" if params[name].annotation is None else ""
            ctx.report(
                arg,
                f"`{ctx.code_for(arg)}` is {given}, but parameter `{name}` of "
                f"`{found.signature.text(found.module)}` is {expected}{why}: TorchScript "
                "does not convert it",
            )


def typed_arguments(
    ctx: FunctionContext, call: cst.Call
) -> list[tuple[cst.BaseExpression, str, str]] | None:
    """For a call that binds to a same-file callee: each argument with the parameter it
    binds to and that parameter's kind (int / float / bool / str / Tensor; parameters of
    any other type are left out); None when the callee or the binding is unknown."""
    found = _signature(ctx, call)
    if found is None:
        return None
    problem, bound = _binding(found.signature, call)
    if problem:
        return None
    params = {p.name: p for p in found.signature.params}
    out = []
    for name, arg in bound.items():
        kind = _param_type(ctx, params[name])
        if kind is not None:
            out.append((arg, name, kind))
    return out


def _param_type(ctx: FunctionContext, param: _Param) -> str | None:
    """int / float / bool / str / Tensor for a parameter typed exactly that."""
    if param.annotation is None:
        return None if param.has_default else "Tensor"
    return _simple_type(ctx, param.annotation)


def _simple_type(ctx: FunctionContext, annotation: cst.BaseExpression) -> str | None:
    """The kind of an annotation that is exactly int, float, bool, str or Tensor."""
    found = from_annotation(annotation, ctx.resolve)
    if found is None or found.args or found.kind not in _KINDS:
        return None
    return found.kind


def _arg_type(ctx: FunctionContext, arg: cst.BaseExpression) -> str | None:
    """The type of a literal (a negative number too), or of a parameter of the caller that
    is never rebound."""
    if isinstance(arg, cst.UnaryOperation) and isinstance(arg.operator, cst.Minus):
        arg = arg.expression
        if not isinstance(arg, (cst.Integer, cst.Float)):
            return None
    if isinstance(arg, cst.Name) and arg.value not in ("True", "False", "None"):
        return _param_of_caller(ctx, arg.value)
    found = literal_type(arg)
    return found.kind if found is not None and found.kind in _REJECTS else None


def _param_of_caller(ctx: FunctionContext, name: str) -> str | None:
    if _overloaded(ctx, ctx.info):
        return None  # an overloaded implementation is compiled once per overload's types
    params = ctx.node.params
    for param in (*params.params, *params.kwonly_params):
        if param.name.value != name:
            continue
        if param.annotation is None:
            untyped = param.default is not None or _is_self(ctx, param)
            kind = None if untyped or _type_comment(ctx, ctx.info) else "Tensor"
        else:
            kind = _simple_type(ctx, param.annotation.annotation)
        if kind is None or name in _assigned(ctx):
            return None
        return kind
    return _local_type(ctx, name)


def _local_type(ctx: FunctionContext, name: str) -> str | None:
    """A local's kind when the type model knows it: every binding in the function agrees
    (`n = x.size(0)` is an int however often it is rebound that way)."""
    if name not in _assigned(ctx):
        return None  # a global or a builtin, not a local
    found = function_types(ctx).name_type(name)
    if found is None or found.args or found.kind not in _KINDS:
        return None
    return found.kind


def _is_self(ctx: FunctionContext, param: cst.Param) -> bool:
    params: Sequence[cst.Param] = ctx.node.params.params
    return ctx.owner is not None and bool(params) and params[0] is param


RULES = (CallArgumentsMismatchRule, CallArgumentTypeRule)
