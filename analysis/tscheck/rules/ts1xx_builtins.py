"""TS130-TS159: builtins, modules and Python values that TorchScript cannot use.

Calls that only make sense in Python (numpy, I/O, `open`, `.numpy()`) inside a helper that
forward merely calls are TS330's (ts3xx_python_only): there the fix is to keep the helper out
of the compiled model. The rules here report them in entry points (forward, exported
methods, scripted functions) and report everything else wherever it is compiled.
"""

from __future__ import annotations

import string

import libcst as cst

from tscheck.index import FunctionInfo
from tscheck.model import Family, Fix, Range, TextEdit
from tscheck.rules.base import FunctionContext, Rule, ex
from tscheck.rules.python_only import (
    PYTHON_BUILTINS,
    PYTHON_CLASSES,
    file_facts,
    import_line,
    in_param,
    is_builtin,
    is_load,
    local_names,
    module_call_kind,
    numpy_method_receiver,
    project_defines_method,
    python_object_call,
    resolve_call,
)

# -- small helpers ---------------------------------------------------------------------------


def _builtin_call(node: cst.Call, names: frozenset[str], ctx: FunctionContext) -> str:
    """The builtin's name when `node` calls one of `names` (and it is not shadowed), else ""."""
    func = node.func
    if isinstance(func, cst.Name) and func.value in names and is_builtin(func.value, ctx):
        return func.value
    return ""


def _is_str_literal(node: cst.BaseExpression) -> bool:
    """A plain string literal (no bytes, no f-string): what getattr/hasattr accept."""
    if isinstance(node, cst.SimpleString):
        return "b" not in node.prefix.lower()
    if isinstance(node, cst.ConcatenatedString):
        return _is_str_literal(node.left) and _is_str_literal(node.right)
    return False


def _is_str_value(node: cst.BaseExpression, ctx: FunctionContext) -> bool:
    """A string literal, an f-string, or a parameter annotated `str` that is never reassigned."""
    if isinstance(node, cst.FormattedString) or _is_str_literal(node):
        return True
    if isinstance(node, cst.ConcatenatedString):
        return _is_str_value(node.left, ctx) and _is_str_value(node.right, ctx)
    return isinstance(node, cst.Name) and _param_type(ctx, node.value) == "str"


def _param_type(ctx: FunctionContext, name: str) -> str:
    """The annotation of parameter `name` (spaces removed) when the body never rebinds it."""
    names = local_names(ctx.node)
    if name not in names.params or name in names.assigned:
        return ""
    params = ctx.node.params
    for p in (*params.posonly_params, *params.params, *params.kwonly_params):
        if p.name.value == name and p.annotation is not None:
            return "".join(ctx.code_for(p.annotation.annotation).split())
    return ""


def _is_list_type(annotation: str) -> bool:
    return annotation == "list" or annotation.startswith(("List[", "list[", "typing.List["))


# Parameter annotations whose values are never class instances (what `id()` needs).
_NON_CLASS_TYPES = frozenset({"int", "float", "str", "bool", "Tensor", "torch.Tensor"})


def _is_non_class_type(annotation: str) -> bool:
    if annotation in _NON_CLASS_TYPES:
        return True
    # Containers only: `Optional[Box]` may hold a class instance, which id() accepts.
    heads = ("List[", "list[", "Dict[", "dict[", "Tuple[", "tuple[")
    return annotation.removeprefix("typing.").startswith(heads)


def _keyword(node: cst.Call, name: str) -> cst.Arg | None:
    for arg in node.args:
        if arg.keyword is not None and arg.keyword.value == name:
            return arg
    return None


def _positional(node: cst.Call) -> list[cst.Arg]:
    return [a for a in node.args if a.keyword is None and not a.star]


# -- TS130 -----------------------------------------------------------------------------------

_MODULE_HINTS = {
    "numpy": "use the torch equivalent on tensors (`torch.zeros`, `torch.mean`, ...)",
    "scipy": "use the torch equivalent on tensors",
    "random": "use torch's generators (`torch.rand`, `torch.randint`, `torch.randperm`)",
    "time": "time the scripted model from the outside",
    "logging": "log outside the scripted model, or use `warnings.warn` / `print`",
}
_MATH_HINTS = {
    "log2": "`math.log(x) / math.log(2.0)`",
    "trunc": "`int(x)`",
    "prod": "a loop, or `torch.prod` on a tensor",
    "fsum": "`sum(xs)`",
    "isclose": "`abs(a - b) <= tol`",
    "hypot": "`math.sqrt(x * x + y * y)`",
    "exp2": "`2.0 ** x`",
    "cbrt": "`x ** (1.0 / 3.0)` (for x >= 0)",
    "isqrt": "`int(math.sqrt(n))` (exact only for small n)",
    "ldexp": "`x * 2.0 ** i`",
}


def _torch_hint(qualified: str) -> str:
    if qualified == "torch.Tensor":
        return "create tensors with `torch.tensor(data)` or `torch.empty(size)`"
    if qualified == "torch.is_tensor":
        return "use `isinstance(x, torch.Tensor)`"
    if qualified.startswith("torch.distributions."):
        return "sample with torch ops instead (`torch.normal`, `torch.multinomial`, ...)"
    if qualified.startswith("torch.utils.checkpoint."):
        return "call checkpoint only in eager mode (`if not torch.jit.is_scripting():`)"
    if qualified.startswith("torch.cuda."):
        return "query the device outside the model, or use `x.device` / `x.is_cuda`"
    if qualified.startswith("torch.distributed."):
        return "run collectives outside the scripted model"
    return "do this outside the scripted model"


class PythonModuleCallRule(Rule):
    code = "TS130"
    name = "python-module-call"
    summary = "TorchScript cannot call into Python-only modules (numpy, random, time, os, ...)"
    family = Family.UNSUPPORTED_CONSTRUCTS
    explanation = """
    **What it does.** Flags calls into modules TorchScript cannot compile, resolved through the
    file's imports (`np.zeros`, `from time import time`, `os.path.join`): numpy, scipy, random,
    time, os, sys, pdb, pickle, json, logging, subprocess, shutil, re, itertools, functools,
    copy and other standard-library modules, plus `torch.from_numpy`, the torch APIs that do
    not script (`torch.Tensor(...)`, `torch.load`, `torch.cuda.*` queries, `torch.distributed`
    collectives, `torch.distributions`, `torch.utils.checkpoint`), and the parts of `math`
    and `warnings` that TorchScript lacks (`math.prod`, `math.log2`, `warnings.catch_warnings`,
    a warning category).

    **Why it fails.** TorchScript compiles only torch operations, a fixed set of builtins,
    most of `math` and `warnings.warn`. Anything else is a "Python builtin ... is currently not
    supported in Torchscript", or TorchScript tries to compile the library's own source and
    fails inside it ("Can't get source", varargs, try blocks).

    **How to fix.** Use the torch equivalent (`torch.zeros`, `torch.rand`), do the Python work
    before or after calling the scripted model, or, in a helper method, keep that helper out
    of the compiled model (see TS330). `math.pi`, `sys.maxsize` and other module constants
    are fine.
    """
    VALID = (
        ex(
            """
            import math
            import sys
            import warnings

            import torch

            def f(x: torch.Tensor, n: int):
                if n > sys.maxsize:
                    warnings.warn("too large", stacklevel=2)
                return x * math.pi + math.sqrt(float(n)) + torch.zeros(3)
            """
        ),
        ex(
            """
            import numpy as np
            import torch

            def f(x: torch.Tensor):
                return x * np.pi
            """
        ),
    )
    INVALID = (
        ex(
            """
            import numpy as np
            import torch

            def f(x: torch.Tensor):
                return x + np.zeros(3)
            """,
            line=5,
            error="Python builtin <built-in function zeros> is currently not supported",
        ),
        ex(
            """
            import torch
            from time import perf_counter

            def f(x: torch.Tensor):
                t = perf_counter()
                return x
            """,
            line=5,
            error="Python builtin <built-in function perf_counter> is currently not supported",
        ),
        ex(
            """
            import os

            def f(a: str):
                return os.path.join(a, "b")
            """,
            line=4,
            error="Can't get source for <function join",
        ),
        ex(
            """
            import math

            def f(x: float):
                return math.log2(x)
            """,
            line=4,
            error="Python builtin <built-in function log2> is currently not supported",
        ),
        ex(
            """
            import logging

            import torch

            logger = logging.getLogger(__name__)

            def f(x: torch.Tensor):
                logger.info("forward")
                return x
            """,
            line=8,
            error="attribute lookup is not defined on python value of type 'Logger'",
        ),
        ex(
            """
            import warnings

            def f(x: int):
                if x < 0:
                    warnings.warn("negative", DeprecationWarning)
                return x
            """,
            line=5,
            error="Python exception cannot be used as a value",
        ),
        ex(
            """
            import torch

            def f(x: torch.Tensor):
                if torch.cuda.is_available():
                    return x + torch.Tensor([1.0])
                return x
            """,
            line=4,
            error="attribute lookup is not defined on python value of type 'module'",
        ),
    )
    CATALOG = (
        "numpy_function_call",
        "random_module",
        "time_module",
        "os_path_join",
        "torch_Tensor_constructor",
        "torch_distributions",
    )

    def visit_Call(self, node: cst.Call, ctx: FunctionContext) -> None:
        func = node.func
        if not isinstance(func, (cst.Name, cst.Attribute)):
            return
        qualified = resolve_call(func, ctx, _interesting)
        if not qualified:
            self._object_call(func, ctx)
            return
        if qualified == "warnings.warn":
            self._warn_category(node, ctx)
            return
        kind = module_call_kind(qualified)
        if kind is None or (kind == "python" and not ctx.compiled.entry):
            return  # a helper's Python-only call is TS330's
        shown = ctx.code_for(func)
        head, _, rest = qualified.partition(".")
        if kind == "math":
            hint = _MATH_HINTS.get(rest)
            instead = f"; write {hint} instead" if hint else ""
            message = f"TorchScript's `math` has no `{rest}`{instead}"
        elif kind == "warnings":
            message = f"TorchScript supports only `warnings.warn`, not `{shown}`"
        elif kind == "torch":
            message = f"TorchScript cannot compile `{shown}`; {_torch_hint(qualified)}"
        else:
            hint = _MODULE_HINTS.get(head, "do this work outside the scripted model")
            note = ""
            if shown.split(".")[0] != qualified.split(".")[0]:
                note = f" (`{qualified}`)"  # through an alias: `now` (`time.time`)
            message = (
                f"`{shown}`{note} calls into `{head}`, which TorchScript cannot compile; {hint}"
            )
        ctx.report(func, message)

    @staticmethod
    def _object_call(func: cst.Name | cst.Attribute, ctx: FunctionContext) -> None:
        """`logger.info(...)` where `logger = logging.getLogger(...)` at module level."""
        if not ctx.compiled.entry:
            return  # TS330's in a helper
        made_by = python_object_call(func, ctx)
        if not made_by:
            return
        shown = ctx.code_for(func)
        owner = shown.split(".", 1)[0]
        hint = _MODULE_HINTS.get(made_by.split(".", 1)[0], "do this work outside the model")
        ctx.report(
            func,
            f"`{shown}` calls a method of `{owner}`, a `{made_by}(...)` object that TorchScript "
            f"cannot use; {hint}",
        )

    @staticmethod
    def _warn_category(node: cst.Call, ctx: FunctionContext) -> None:
        """TorchScript's `warnings.warn(str message, int stacklevel=2)` has no category."""
        category = _keyword(node, "category")
        if category is None:
            positional = _positional(node)
            if len(positional) < 2 or isinstance(positional[1].value, cst.Integer):
                return
            category = positional[1]
        ctx.report(
            category.value,
            "TorchScript's `warnings.warn` takes only the message (and `stacklevel=`); drop the "
            "warning category",
        )


def _interesting(qualified: str) -> bool:
    return qualified == "warnings.warn" or module_call_kind(qualified) is not None


# -- TS131 -----------------------------------------------------------------------------------

_BUILTIN_HINTS = {
    "open": "read files before calling the model and pass the data in",
    "input": "pass the value in as an argument",
    "setattr": "assign the attribute directly: `self.name = value`",
    "delattr": "keep the attribute and reset it instead",
    "eval": "TorchScript cannot run dynamic code",
    "exec": "TorchScript cannot run dynamic code",
    "compile": "TorchScript cannot run dynamic code",
    "vars": "read the attributes by name",
    "globals": "pass the values in as arguments",
    "locals": "use the variables directly",
    "dir": "list the names yourself",
    "iter": "loop with `for` or index the container",
    "next": "loop with `for` or index the container (`xs[0]`)",
    "callable": "decide statically which function to call",
    "repr": "use `str(x)`",
    "format": 'use `str(x)`, an f-string, or `"{}".format(x)`',
    "ascii": "use `str(x)`",
    "issubclass": "use `isinstance` on a value",
    "breakpoint": "debug the eager model; scripted code cannot stop in a debugger",
}


class PythonBuiltinRule(Rule):
    code = "TS131"
    name = "python-only-builtin"
    summary = "TorchScript does not support this Python builtin (open, setattr, eval, iter, ...)"
    family = Family.UNSUPPORTED_CONSTRUCTS
    fixable = True
    explanation = """
    **What it does.** Flags the builtins TorchScript has no version of, whatever their
    arguments: `open`, `input`, `setattr`, `delattr`, `eval`, `exec`, `compile`, `vars`,
    `globals`, `locals`, `dir`, `iter`, `next`, `callable`, `repr`, `format`, `ascii`,
    `issubclass`, `breakpoint`, `help`, `exit`, `quit` (unless the file rebinds the name).

    **Why it fails.** `Python builtin <built-in function open> is currently not supported in
    Torchscript`. TorchScript implements a fixed list of builtins (`len`, `range`, `zip`,
    `enumerate`, `min`, `max`, `sum`, `abs`, `isinstance`, `getattr` with a literal name, ...).

    **How to fix.** `setattr(self, "w", v)` becomes `self.w = v` (the fix does this). Do I/O
    before or after the scripted model; replace `iter`/`next` with a `for` loop or indexing,
    `repr`/`format` with `str`. In a helper method, keep the helper out of the compiled model
    (see TS330).
    """
    VALID = (
        ex(
            """
            import torch

            def f(xs: list[int]):
                total = 0
                for v in xs:
                    total += abs(v)
                return str(total) + str(len(xs)) + str(max(xs))
            """
        ),
        ex(
            """
            import torch

            def open(path: str) -> str:
                return path + "!"

            def f(path: str):
                return open(path)
            """
        ),
    )
    INVALID = (
        ex(
            """
            import torch

            def f(path: str):
                fh = open(path)
                return path
            """,
            line=4,
            error="Python builtin <built-in function open> is currently not supported",
        ),
        ex(
            """
            import torch
            import torch.nn as nn

            class M(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.w = 1

                def forward(self, x: torch.Tensor):
                    setattr(self, "w", 2)
                    return x * self.w
            """,
            line=10,
            error="Python builtin <built-in function setattr> is currently not supported",
            fixed="""import torch
import torch.nn as nn

class M(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = 1

    def forward(self, x: torch.Tensor):
        self.w = 2
        return x * self.w
""",
        ),
        ex(
            """
            from typing import List

            def f(xs: List[int]):
                return next(iter(xs))
            """,
            line=4,
            error="is currently not supported in Torchscript",
        ),
    )
    CATALOG = (
        "open_builtin_call",
        "setattr_builtin",
        "with_python_context_manager",
        "unknown_annotation_plain_class",
    )

    def visit_Name(self, node: cst.Name, ctx: FunctionContext) -> None:
        name = node.value
        if name not in PYTHON_BUILTINS or not is_load(node, ctx) or in_param(ctx):
            return
        if not is_builtin(name, ctx):
            return
        parent = ctx.parent()
        is_call = isinstance(parent, cst.Call) and parent.func is node
        if is_call and not ctx.compiled.entry:
            return  # a helper's Python-only call is TS330's
        hint = _BUILTIN_HINTS.get(name, "TorchScript has no equivalent")
        fixes: tuple[Fix, ...] = ()
        if name == "setattr" and isinstance(parent, cst.Call):
            fixes = self._setattr_fix(parent, ctx)
        ctx.report(node, f"TorchScript does not support the builtin `{name}`; {hint}", fixes=fixes)

    @staticmethod
    def _setattr_fix(call: cst.Call, ctx: FunctionContext) -> tuple[Fix, ...]:
        """`setattr(obj, "name", value)` as a statement -> `obj.name = value`."""
        statement = ctx.parent(2)
        args = call.args
        if not (isinstance(statement, cst.Expr) and statement.value is call and len(args) == 3):
            return ()
        if any(a.keyword is not None or a.star for a in args):
            return ()
        obj, attr, value = (a.value for a in args)
        if not isinstance(obj, (cst.Name, cst.Attribute)) or not isinstance(attr, cst.SimpleString):
            return ()
        text = attr.evaluated_value
        if not isinstance(text, str) or not text.isidentifier() or "b" in attr.prefix.lower():
            return ()
        new = f"{ctx.code_for(obj)}.{text} = {ctx.code_for(value)}"
        return (Fix(f"Replace with `{new}`", (ctx.replace(call, new),)),)


# -- TS132 -----------------------------------------------------------------------------------

_CLASS_HINTS = {
    "map": "use a list comprehension: `[fn(v) for v in xs]`",
    "filter": "build the list in a loop: `for v in xs: if keep(v): out.append(v)` "
    "(comprehension ifs are not supported either)",
    "reversed": "index backwards: `xs[::-1]` for lists and strings, `x.flip(0)` for tensors",
    "type": "test types with `isinstance(x, T)`",
    "id": "`id()` works only on class instances in TorchScript; compare values instead",
    "set": "TorchScript has no sets; use a `Dict[T, bool]` or a list with `in`",
    "frozenset": "TorchScript has no sets; use a `Dict[T, bool]` or a list with `in`",
    "bytes": "TorchScript has no bytes; use `str`, `List[int]` or a uint8 tensor",
    "bytearray": "TorchScript has no bytes; use `List[int]` or a uint8 tensor",
    "memoryview": "TorchScript has no buffers; use a tensor",
    "object": "TorchScript cannot create bare objects; use a TorchScript class",
}


class PythonClassBuiltinRule(Rule):
    code = "TS132"
    name = "unsupported-builtin-class"
    summary = "TorchScript has no map, filter, reversed, type, id, set or bytes"
    family = Family.UNSUPPORTED_CONSTRUCTS
    fixable = True
    explanation = """
    **What it does.** Flags calls to the builtins `map`, `filter`, `reversed`, `type`, `set`,
    `frozenset`, `bytes`, `bytearray`, `memoryview`, `object`, and `id()` of a value that is
    not a class instance.

    **Why it fails.** TorchScript treats these builtin classes as opaque Python calls: with
    non-tensor arguments scripting fails (`reversed(Tensor 0) -> Tensor 0 ... Expected a value
    of type 'Tensor'`, `function cannot be used as a value` for `map(g, xs)`), and with tensor
    arguments the model scripts but `torch.jit.save` fails (`Could not export Python function
    call 'reversed'`). `id()` accepts only class instances.

    **How to fix.** `map` -> a list comprehension, `filter` -> a loop, `reversed(xs)` ->
    `xs[::-1]` (the fix does this for `for` loops over list or str parameters), `x.flip(0)`
    for tensors, `type(x)` -> `isinstance`, sets -> `Dict[T, bool]`.
    """
    VALID = (
        ex(
            """
            from typing import List

            def f(xs: List[int]):
                out: List[int] = []
                for v in xs[::-1]:
                    out.append(v)
                return [v + 1 for v in out], isinstance(xs, list)
            """
        ),
    )
    INVALID = (
        ex(
            """
            from typing import List

            def f(xs: List[int]):
                out: List[int] = []
                for v in reversed(xs):
                    out.append(v)
                return out
            """,
            line=5,
            error="reversed(Tensor 0) -> Tensor 0",
            call="m([1, 2, 3])",
            fixed="""from typing import List

def f(xs: List[int]):
    out: List[int] = []
    for v in xs[::-1]:
        out.append(v)
    return out
""",
        ),
        ex(
            """
            from typing import List

            def g(v: int) -> int:
                return v + 1

            def f(xs: List[int]):
                return list(map(g, xs))
            """,
            line=7,
            error="function cannot be used as a value",
        ),
        ex(
            """
            def f(x: int):
                return id(x)
            """,
            line=2,
            error="prim::id(AnyClassType? x) -> int",
        ),
        ex(
            """
            import torch

            def f(x: torch.Tensor):
                return type(x)
            """,
            line=4,
            error="Could not export Python function call 'type'",
        ),
    )
    CATALOG = ("map_builtin", "filter_builtin", "reversed_builtin", "type_builtin", "id_builtin")

    def visit_Call(self, node: cst.Call, ctx: FunctionContext) -> None:
        name = _builtin_call(node, PYTHON_CLASSES | {"id"}, ctx)
        if not name:
            return
        args = _positional(node)
        if name == "id" and not (len(args) == 1 and self._plain_value(args[0].value, ctx)):
            return  # id() of a class instance (or None) compiles
        where: cst.CSTNode = node.func
        if (
            name in ("map", "filter")
            and args
            and isinstance(args[0].value, (cst.Name, cst.Attribute))
        ):
            where = args[0].value  # the compiler rejects the function passed as a value
        fixes: tuple[Fix, ...] = ()
        if name == "reversed":
            fixes = self._reversed_fix(node, ctx)
        ctx.report(
            where, f"TorchScript does not support `{name}(...)`; {_CLASS_HINTS[name]}", fixes=fixes
        )

    @staticmethod
    def _plain_value(arg: cst.BaseExpression, ctx: FunctionContext) -> bool:
        if isinstance(arg, (cst.Integer, cst.Float, cst.SimpleString, cst.List, cst.Dict)):
            return True
        return isinstance(arg, cst.Name) and _is_non_class_type(_param_type(ctx, arg.value))

    @staticmethod
    def _reversed_fix(node: cst.Call, ctx: FunctionContext) -> tuple[Fix, ...]:
        """`for v in reversed(xs):` over a list/str parameter -> `for v in xs[::-1]:`."""
        loop = ctx.parent()
        args = node.args
        if not (isinstance(loop, cst.For) and loop.iter is node and len(args) == 1):
            return ()
        arg = args[0].value
        if args[0].keyword is not None or args[0].star or not isinstance(arg, cst.Name):
            return ()
        kind = _param_type(ctx, arg.value)
        if not (_is_list_type(kind) or kind == "str"):
            return ()
        # A reversed iterator sees later appends to the list; a slice copy does not.
        if _mentions(loop.body, arg.value) or loop.orelse is not None:
            return ()
        new = f"{arg.value}[::-1]"
        return (Fix(f"Replace with `{new}`", (ctx.replace(node, new),)),)


def _mentions(node: cst.CSTNode, name: str) -> bool:
    stack: list[cst.CSTNode] = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, cst.Name) and current.value == name:
            return True
        stack.extend(current.children)
    return False


# -- TS133 -----------------------------------------------------------------------------------


class DynamicGetattrRule(Rule):
    code = "TS133"
    name = "getattr-non-literal-name"
    summary = "getattr / hasattr need a string literal attribute name in TorchScript"
    family = Family.DYNAMIC_BEHAVIORS
    explanation = """
    **What it does.** Flags `getattr(obj, name)` and `hasattr(obj, name)` whose name is not a
    string literal (a variable, an attribute, an f-string).

    **Why it fails.** TorchScript resolves attributes while compiling, so it needs the name
    then: `getattr's second argument must be a string literal`. `getattr(self, "w", 1)` and
    `hasattr(self, "w")` with literals compile.

    **How to fix.** Write the name as a literal, or keep the alternatives in an
    `nn.ModuleDict` / `Dict[str, Tensor]` and index it with the runtime name.
    """
    VALID = (
        ex(
            """
            import torch
            import torch.nn as nn

            class M(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.w = 2

                def forward(self, x: torch.Tensor):
                    if hasattr(self, "w"):
                        return x * getattr(self, "w", 1)
                    return x
            """
        ),
    )
    INVALID = (
        ex(
            """
            import torch
            import torch.nn as nn

            class M(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.w = torch.ones(1)
                    self.name = "w"

                def forward(self, x: torch.Tensor):
                    return x + getattr(self, self.name)
            """,
            line=11,
            error="getattr's second argument must be a string literal",
        ),
        ex(
            """
            import torch
            import torch.nn as nn

            class M(nn.Module):
                def forward(self, x: torch.Tensor, name: str):
                    if hasattr(self, name):
                        return x + 1
                    return x
            """,
            line=6,
            error="hasattr's second argument must be a string literal",
        ),
    )
    CATALOG = ("getattr_non_constant_name", "hasattr_non_constant_name")

    def visit_Call(self, node: cst.Call, ctx: FunctionContext) -> None:
        name = _builtin_call(node, frozenset({"getattr", "hasattr"}), ctx)
        if not name or len(node.args) < 2:
            return
        attr = node.args[1]
        if attr.keyword is not None or attr.star or _is_str_literal(attr.value):
            return
        shown = ctx.code_for(attr.value)
        message = (
            f"`{name}` needs a string literal attribute name in TorchScript, not `{shown}`; "
            "write the name literally, or index an nn.ModuleDict / Dict with it"
        )
        # The compiler underlines getattr's whole call but only hasattr's name argument.
        ctx.report(node if name == "getattr" else attr.value, message)


# -- TS134 -----------------------------------------------------------------------------------


class RoundNdigitsRule(Rule):
    code = "TS134"
    name = "round-with-ndigits"
    summary = "TorchScript's round() takes no ndigits argument"
    family = Family.TYPE_CHECKING
    explanation = """
    **What it does.** Flags `round(x, n)` and `round(x, ndigits=n)`.

    **Why it fails.** TorchScript's `round` has only the one-argument forms (`round(float)`,
    `round(Tensor)`): `Arguments for call are not valid`.

    **How to fix.** For tensors, `torch.round(x, decimals=n)`; for floats,
    `round(x * 100.0) / 100.0` (for two digits).
    """
    VALID = (
        ex(
            """
            import torch

            def f(x: float, t: torch.Tensor):
                return round(x), torch.round(t, decimals=2)
            """
        ),
    )
    INVALID = (
        ex(
            """
            def f(x: float):
                return round(x, 2)
            """,
            line=2,
            error="Arguments for call are not valid",
        ),
    )
    CATALOG = ("round_with_ndigits",)

    def visit_Call(self, node: cst.Call, ctx: FunctionContext) -> None:
        if len(node.args) < 2 or not _builtin_call(node, frozenset({"round"}), ctx):
            return
        ctx.report(
            node.func,
            "TorchScript's `round` takes one argument; use `torch.round(x, decimals=n)` for "
            "tensors, or scale for floats: `round(x * 100.0) / 100.0`",
        )


# -- TS135 -----------------------------------------------------------------------------------


class SortKeywordsRule(Rule):
    code = "TS135"
    name = "sort-keyword-arguments"
    summary = "TorchScript's sorted() takes no key= or reverse=, and list.sort() no key="
    family = Family.TYPE_CHECKING
    explanation = """
    **What it does.** Flags `sorted(xs, key=...)`, `sorted(xs, reverse=...)` and
    `xs.sort(key=...)`.

    **Why it fails.** TorchScript's `sorted` takes only the list (`Arguments for call are not
    valid`), and functions cannot be passed as values (`builtin cannot be used as a value`
    for `key=abs`). `xs.sort(reverse=True)` is supported.

    **How to fix.** Copy and sort in place: `ys = list(xs)` then `ys.sort(reverse=True)`.
    For a key, sort the keys (or `(key, index)` pairs built in a loop), or give a TorchScript
    class a `__lt__`.
    """
    VALID = (
        ex(
            """
            from typing import List

            def f(xs: List[int]):
                ys = list(xs)
                ys.sort(reverse=True)
                return sorted(xs), ys
            """
        ),
    )
    INVALID = (
        ex(
            """
            from typing import List

            def f(xs: List[int]):
                return sorted(xs, reverse=True)
            """,
            line=4,
            error="Arguments for call are not valid",
        ),
        ex(
            """
            from typing import List

            def f(xs: List[int]):
                return sorted(xs, key=abs)
            """,
            line=4,
            error="builtin cannot be used as a value",
        ),
        ex(
            """
            from typing import List

            def f(xs: List[int]):
                xs.sort(key=abs)
                return xs
            """,
            line=4,
            error="builtin cannot be used as a value",
        ),
    )
    CATALOG = ("sorted_with_key", "sorted_with_reverse_kwarg", "list_sort_with_key")

    def visit_Call(self, node: cst.Call, ctx: FunctionContext) -> None:
        func = node.func
        if isinstance(func, cst.Attribute):
            if func.attr.value != "sort":
                return
            key = _keyword(node, "key")
            if key is None or isinstance(key.value, cst.Lambda):
                return
            if project_defines_method(ctx, "sort"):
                return  # a project class may define sort(key=...)
            ctx.report(key.value, _KEY_MESSAGE)
            return
        if not any(a.keyword is not None for a in node.args):
            return
        if not _builtin_call(node, frozenset({"sorted"}), ctx):
            return
        key = _keyword(node, "key")
        if key is not None and isinstance(key.value, cst.Lambda):
            return  # TS101 reports the lambda, which the compiler rejects first
        if key is not None and not (isinstance(key.value, cst.Name) and key.value.value == "None"):
            ctx.report(key.value, _KEY_MESSAGE)
            return
        ctx.report(
            node.func,
            "TorchScript's `sorted` takes only the list; copy and sort in place instead: "
            "`ys = list(xs)` then `ys.sort(reverse=True)`",
        )


_KEY_MESSAGE = (
    "TorchScript cannot pass a function as `key=`; sort the keys themselves, or give a "
    "TorchScript class a `__lt__` and sort instances of it"
)


# -- TS136 -----------------------------------------------------------------------------------


class FormatKeywordsRule(Rule):
    code = "TS136"
    name = "str-format-keywords"
    summary = "TorchScript's str.format() takes no keyword arguments"
    family = Family.TYPE_CHECKING
    fixable = True
    explanation = """
    **What it does.** Flags `"{a}".format(a=...)`: `str.format` called with keyword arguments.

    **Why it fails.** TorchScript's `aten::format(str self, ...)` fills `{}` fields from
    positional arguments only: `Keyword argument a unknown`.

    **How to fix.** Use positional fields: `"{}".format(a)` (the fix rewrites a literal
    template whose fields are plain `{name}`s), or an f-string without format specs.
    """
    VALID = (
        ex(
            """
            def f(a: int, b: float):
                return "{} and {}".format(a, b) + f"{a}"
            """
        ),
    )
    INVALID = (
        ex(
            """
            def f(a: int, b: int):
                return "{a} and {b}, {a}".format(a=a, b=b)
            """,
            line=2,
            error="aten::format(str self, ...) -> str",
            call="assert m(1, 2) == '1 and 2, 1'",
            fixed="""def f(a: int, b: int):
    return "{} and {}, {}".format(a, b, a)
""",
        ),
        ex(
            """
            def f(a: int, template: str):
                return template.format(a=a)
            """,
            line=2,
            error="Keyword argument a unknown",
        ),
    )
    CATALOG = ("str_format_with_kwargs",)

    def visit_Call(self, node: cst.Call, ctx: FunctionContext) -> None:
        func = node.func
        if not isinstance(func, cst.Attribute) or func.attr.value != "format":
            return
        if not any(a.keyword is not None for a in node.args):
            return
        receiver = func.value
        if not _is_str_value(receiver, ctx) and project_defines_method(ctx, "format"):
            return  # the receiver may be an instance of a project class with its own format()
        fixes = _format_fix(node, receiver, ctx) if isinstance(receiver, cst.SimpleString) else ()
        names = ", ".join(a.keyword.value for a in node.args if a.keyword is not None)
        ctx.report(
            node,
            f"TorchScript's `str.format` takes no keyword arguments ({names}); "
            'use positional `{}` fields: `"{}".format(a)`',
            fixes=fixes,
        )


def _format_fix(
    node: cst.Call, template: cst.SimpleString, ctx: FunctionContext
) -> tuple[Fix, ...]:
    """`"{a} {b}".format(a=x, b=y)` -> `"{} {}".format(x, y)` when every field is a plain
    `{name}` and reordering or repeating the arguments cannot change what runs."""
    if any(a.star or a.keyword is None for a in node.args) or "b" in template.prefix.lower():
        return ()
    raw = template.value
    value = template.evaluated_value
    if not isinstance(value, str) or "{{" in raw or "}}" in raw or "\\N" in raw:
        return ()
    kwargs = {a.keyword.value: a.value for a in node.args if a.keyword is not None}
    try:
        fields = list(string.Formatter().parse(value))
    except ValueError:
        return ()
    order: list[str] = []
    for _, field, spec, conversion in fields:
        if field is None:
            continue
        if field not in kwargs or spec or conversion:
            return ()
        order.append(field)
    if not order or set(order) != set(kwargs):
        return ()
    simple = (cst.Name, cst.Attribute, cst.Integer, cst.Float, cst.SimpleString)
    reordered = order != list(kwargs)
    if (reordered or len(order) != len(kwargs)) and not all(
        isinstance(v, simple) for v in kwargs.values()
    ):
        return ()
    new_raw = raw
    for field in dict.fromkeys(order):
        new_raw = new_raw.replace("{" + field + "}", "{}")
    if new_raw.count("{}") != len(order) or "{" in new_raw.replace("{}", ""):
        return ()
    args = ", ".join(ctx.code_for(kwargs[f]) for f in order)
    new = f"{new_raw}.format({args})"
    return (Fix("Use positional `{}` fields", (ctx.replace(node, new),)),)


# -- TS137 -----------------------------------------------------------------------------------


class StrRepeatRule(Rule):
    code = "TS137"
    name = "str-repeat"
    summary = "TorchScript cannot multiply a str by an int"
    family = Family.TYPE_CHECKING
    fixable = True
    explanation = """
    **What it does.** Flags `"ab" * n` and `n * "ab"` (a string literal, f-string or `str`
    parameter times a number).

    **Why it fails.** TorchScript has `list * int` but no `str * int`: `Arguments for call are
    not valid`.

    **How to fix.** `"".join(["ab"] * n)` gives the same string (the fix does this).
    """
    VALID = (
        ex(
            """
            def f(n: int):
                return "".join(["ab"] * n), [0] * n
            """
        ),
    )
    INVALID = (
        ex(
            """
            def f(n: int):
                return "ab" * n
            """,
            line=2,
            error="Arguments for call are not valid",
            call="assert m(3) == 'ababab'",
            fixed="""def f(n: int):
    return "".join(["ab"] * n)
""",
        ),
        ex(
            """
            def f(s: str, n: int):
                return (n + 1) * s
            """,
            line=2,
            error="Arguments for call are not valid",
            call="assert m('x', 2) == 'xxx'",
            fixed="""def f(s: str, n: int):
    return "".join([s] * (n + 1))
""",
        ),
    )
    CATALOG = ("str_mul_int",)

    def visit_BinaryOperation(self, node: cst.BinaryOperation, ctx: FunctionContext) -> None:
        if not isinstance(node.operator, cst.Multiply):
            return
        left_str, right_str = _is_str_value(node.left, ctx), _is_str_value(node.right, ctx)
        if left_str == right_str:
            return
        text, count = (node.left, node.right) if left_str else (node.right, node.left)
        new = f'"".join([{ctx.code_for(text)}] * {ctx.code_for(count)})'
        fix = Fix(f"Replace with `{new}`", (ctx.replace(node, new),))
        ctx.report(
            node,
            'TorchScript cannot multiply a str by an int; write `"".join([s] * n)`',
            fixes=(fix,),
        )


# -- TS138 -----------------------------------------------------------------------------------


class PrintKeywordsRule(Rule):
    code = "TS138"
    name = "print-keyword-arguments"
    summary = "TorchScript's print() takes no keyword arguments (end=, sep=, file=, flush=)"
    family = Family.TYPE_CHECKING
    explanation = """
    **What it does.** Flags `print(...)` with keyword arguments.

    **Why it fails.** `print doesn't accept any keyword arguments`; with `file=sys.stderr`
    the stream itself is a Python object (`python value of type 'TextIOWrapper' cannot be
    used as a value`). Plain `print(a, b)` compiles and writes to stdout.

    **How to fix.** Build the text yourself (`print(a + "," + b)`, an f-string) and drop the
    keywords; log to a stream outside the scripted model.
    """
    VALID = (
        ex(
            """
            def f(x: int):
                print(x, "items")
                print(f"{x},{x}")
                return x
            """
        ),
    )
    INVALID = (
        ex(
            """
            def f(x: int):
                print(x, end="")
                return x
            """,
            line=2,
            error="print doesn't accept any keyword arguments",
        ),
        ex(
            """
            import sys

            def f(x: int):
                print(x, file=sys.stderr)
                return x
            """,
            line=4,
            error="python value of type 'TextIOWrapper' cannot be used as a value",
        ),
    )
    CATALOG = ("print_with_file_kwarg", "print_with_end_kwarg")

    def visit_Call(self, node: cst.Call, ctx: FunctionContext) -> None:
        if not any(a.keyword is not None for a in node.args):
            return
        if not _builtin_call(node, frozenset({"print"}), ctx):
            return
        stream = _keyword(node, "file")
        if stream is not None and not ctx.compiled.entry:
            return  # printing to a stream is Python-only: TS330's in a helper
        names = ", ".join(f"{a.keyword.value}=" for a in node.args if a.keyword is not None)
        where: cst.CSTNode = node.func
        if stream is not None and resolve_call(stream.value, ctx):
            where = stream.value  # the compiler rejects the imported stream object first
        ctx.report(
            where,
            f"TorchScript's `print` takes no keyword arguments ({names}); build the text "
            'yourself (`print(f"{a},{b}")`) and print to stdout',
        )


# -- TS139 -----------------------------------------------------------------------------------


class TensorNumpyRule(Rule):
    code = "TS139"
    name = "tensor-numpy"
    summary = "Tensors have no .numpy() in TorchScript"
    family = Family.UNSUPPORTED_CONSTRUCTS
    explanation = """
    **What it does.** Flags `x.numpy()` in compiled code (in an entry point; in a helper that
    forward calls, TS330 reports it).

    **Why it fails.** TorchScript has no numpy arrays: `'Tensor' object has no attribute or
    method 'numpy'`.

    **How to fix.** Keep the value a tensor inside the model and convert the model's output
    with `.numpy()` after calling it; for Python numbers use `.item()` or an annotated
    `.tolist()`.
    """
    VALID = (
        ex(
            """
            from typing import List

            import torch

            def f(x: torch.Tensor):
                ys: List[float] = x.tolist()
                return ys, x.sum().item()
            """
        ),
    )
    INVALID = (
        ex(
            """
            import torch

            def f(x: torch.Tensor):
                return x.detach().cpu().numpy()
            """,
            line=4,
            error="'Tensor' object has no attribute or method 'numpy'",
        ),
    )
    CATALOG = ("tensor_numpy_method",)

    def visit_Call(self, node: cst.Call, ctx: FunctionContext) -> None:
        func = node.func
        if not isinstance(func, cst.Attribute) or func.attr.value != "numpy":
            return
        if not ctx.compiled.entry or not numpy_method_receiver(func, ctx):
            return
        ctx.report(
            func,
            "TorchScript tensors have no `.numpy()`; return the tensor and convert it after "
            "calling the scripted model (or use `.item()` / an annotated `.tolist()`)",
        )


# -- TS140 -----------------------------------------------------------------------------------


class TupleFromListRule(Rule):
    code = "TS140"
    name = "tuple-from-iterable"
    summary = "TorchScript cannot build a tuple from a list or generator"
    family = Family.TYPE_CHECKING
    explanation = """
    **What it does.** Flags `tuple(...)` of a generator expression, a list comprehension, a
    list literal or a `List` parameter.

    **Why it fails.** A TorchScript tuple's length is part of its type, fixed at compile time;
    a list's is not: `cannot statically infer the expected size of a list in this context`.

    **How to fix.** Keep the list, or write the tuple out: `(xs[0], xs[1])`.
    """
    VALID = (
        ex(
            """
            from typing import List, Tuple

            def f(xs: List[int], t: Tuple[int, int]):
                return [v + 1 for v in xs], tuple(t), (xs[0], xs[1])
            """
        ),
    )
    INVALID = (
        ex(
            """
            from typing import List

            def f(xs: List[int]):
                return tuple(v + 1 for v in xs)
            """,
            line=4,
            error="cannot statically infer the expected size of a list",
        ),
        ex(
            """
            from typing import List

            def f(xs: List[int]):
                return tuple(xs)
            """,
            line=4,
            error="cannot statically infer the expected size of a list",
        ),
    )
    CATALOG = ("tuple_from_generator",)

    def visit_Call(self, node: cst.Call, ctx: FunctionContext) -> None:
        if len(node.args) != 1 or not _builtin_call(node, frozenset({"tuple"}), ctx):
            return
        arg = node.args[0]
        if arg.keyword is not None or arg.star:
            return
        value = arg.value
        listy = isinstance(value, (cst.GeneratorExp, cst.ListComp, cst.List))
        if not listy and isinstance(value, cst.Name):
            listy = _is_list_type(_param_type(ctx, value.value))
        if not listy:
            return
        ctx.report(
            node,
            "TorchScript needs a tuple's length at compile time, so `tuple(...)` of a list or "
            "generator fails; keep the list, or write the tuple out: `(xs[0], xs[1])`",
        )


# -- TS141 -----------------------------------------------------------------------------------


class GlobalValueRule(Rule):
    code = "TS141"
    name = "global-python-value"
    summary = "Compiled code cannot read module-level globals by name"
    family = Family.DYNAMIC_BEHAVIORS
    fixable = True
    explanation = """
    **What it does.** Flags a bare name in compiled code that refers to a module-level variable
    holding data: a number, string, bool, None, list, dict, tuple, tensor, dtype or device.
    Names of functions, classes and imported modules are fine, and so are attributes of
    imported modules (`math.pi`, `sys.maxsize`).

    **Why it fails.** TorchScript does not capture Python globals, whatever their type and
    even when annotated `Final`: `python value of type 'int' cannot be used as a value.
    Perhaps it is a closed over global variable?` (`undefined value` for `None`).

    Constants imported by name (`from math import pi`, `from torch import float32`) are
    globals too; TorchScript reads them only as module attributes (`math.pi`).

    **How to fix.** Pass the value in as an argument, or store it on the module in
    `__init__` (`self.k = K`, listed in `__constants__` or annotated `Final` if it never
    changes), or write the literal. For an imported constant, write the module attribute:
    `math.pi` (the fix does this, importing the module if needed).
    """
    VALID = (
        ex(
            """
            import math

            import torch
            import torch.nn as nn
            import torch.nn.functional as F

            K = 3
            relu = F.relu

            def helper(x: torch.Tensor) -> torch.Tensor:
                return x + 1

            class M(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.k = K

                def forward(self, x: torch.Tensor, K: int = K):
                    return relu(helper(x)) * self.k * K * math.pi
            """
        ),
    )
    INVALID = (
        ex(
            """
            K = 3

            def f(x: int):
                return x + K
            """,
            line=4,
            error="python value of type 'int' cannot be used as a value",
        ),
        ex(
            """
            from typing import Final

            import torch

            SCALE: Final[float] = 2.0 * 3
            DEVICE = torch.device("cpu")

            def f(x: torch.Tensor):
                return (x * SCALE).to(DEVICE)
            """,
            line=9,
            error="python value of type 'float' cannot be used as a value",
        ),
        ex(
            """
            import torch
            import torch.nn as nn

            SIZES = [1, 2, 3]

            class M(nn.Module):
                def forward(self, x: torch.Tensor):
                    return x * SIZES[0]
            """,
            line=8,
            error="python value of type 'list' cannot be used as a value",
        ),
        ex(
            """
            from math import pi

            import torch

            def f(x: torch.Tensor):
                return x * pi
            """,
            line=6,
            error="python value of type 'float' cannot be used as a value",
            fixed="""import math
from math import pi

import torch

def f(x: torch.Tensor):
    return x * math.pi
""",
        ),
        ex(
            """
            import torch
            from torch import float16

            def f(x: torch.Tensor):
                return x.to(float16)
            """,
            line=5,
            error="python value of type 'dtype' cannot be used as a value",
            fixed="""import torch
from torch import float16

def f(x: torch.Tensor):
    return x.to(torch.float16)
""",
        ),
    )
    CATALOG = (
        "global_tensor_value",
        "global_list_value",
        "global_dict_value",
        "global_int_constant",
        "global_final_and_str_constants",
    )

    def visit_Name(self, node: cst.Name, ctx: FunctionContext) -> None:
        name = node.value
        facts = file_facts(ctx)
        imported = facts.imported_constants.get(name)
        if imported is None and name not in facts.global_names:
            return
        kind = imported[1] if imported else facts.data_globals.get(name)
        if kind is None or not is_load(node, ctx) or in_param(ctx):
            return
        if name in local_names(ctx.node).all:
            return
        if imported is not None:
            self._report_imported(node, imported[0], kind, ctx)
            return
        if ctx.owner is not None and ctx.compiled.context:
            instead = (
                f"store it on the module in `__init__` (`self.{name.lower()} = {name}`, "
                "annotated `Final` if it never changes) or pass it in"
            )
        else:
            instead = "pass it in as an argument or write the value literally"
        what = "is None at module level" if kind == "None" else f"is a module-level global ({kind})"
        ctx.report(node, f"`{name}` {what}; TorchScript cannot read Python globals: {instead}")

    @staticmethod
    def _report_imported(node: cst.Name, qualified: str, kind: str, ctx: FunctionContext) -> None:
        """`pi` from `from math import pi`: TorchScript reads `math.pi`, not the copied name."""
        module, _, attr = qualified.rpartition(".")
        facts = file_facts(ctx)
        alias = next((k for k, v in facts.imports.items() if v == module), "")
        edits: list[TextEdit] = []
        if not alias and module not in facts.definitions | facts.global_names:
            alias = module
            line = import_line(facts.tree, module)
            edits.append(TextEdit(Range.of(line, 0, line, 0), f"import {module}\n"))
        fixes: tuple[Fix, ...] = ()
        if alias and alias not in local_names(ctx.node).all:
            new = f"{alias}.{attr}"
            edits.append(ctx.replace(node, new))
            fixes = (Fix(f"Replace with `{new}`", tuple(edits)),)
        ctx.report(
            node,
            f"`{node.value}` is `{qualified}` ({kind}) copied into a global by `from {module} "
            f"import`; TorchScript reads module attributes, not Python globals: write "
            f"`{module}.{attr}`",
            fixes=fixes,
        )


# -- TS142 -----------------------------------------------------------------------------------


class RecursionRule(Rule):
    code = "TS142"
    name = "recursive-call"
    summary = "TorchScript does not support recursion"
    family = Family.UNSUPPORTED_CONSTRUCTS
    explanation = """
    **What it does.** Flags a compiled function that calls itself: `f(...)` inside `def f`,
    or `self.m(...)` inside method `m`, and the call that closes a longer cycle
    (`a -> b -> a`) on the chain that makes the function compiled.

    **Why it fails.** TorchScript inlines and type-checks callees while compiling the caller,
    so a call cycle has no end: `function 'f' is called recursively. Recursive calls are not
    supported`.

    **How to fix.** Rewrite the recursion as a loop (with an explicit stack if needed).
    """
    VALID = (
        ex(
            """
            def f(n: int) -> int:
                out = 1
                while n > 1:
                    out *= n
                    n -= 1
                return out
            """
        ),
        ex(
            """
            import torch
            import torch.nn as nn

            class Sub(nn.Module):
                def step(self, x: torch.Tensor) -> torch.Tensor:
                    return x + 1

                def forward(self, x: torch.Tensor) -> torch.Tensor:
                    return x

            class M(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.sub = Sub()

                def step(self, x: torch.Tensor) -> torch.Tensor:
                    return self.sub.step(x) * 2

                def forward(self, x: torch.Tensor) -> torch.Tensor:
                    return self.step(x)
            """
        ),
    )
    INVALID = (
        ex(
            """
            def f(n: int) -> int:
                if n <= 1:
                    return 1
                return n * f(n - 1)
            """,
            line=4,
            error="function 'f' is called recursively",
        ),
        ex(
            """
            import torch
            import torch.nn as nn

            class M(nn.Module):
                def fact(self, n: int) -> int:
                    if n <= 1:
                        return 1
                    return n * self.fact(n - 1)

                def forward(self, x: torch.Tensor):
                    return x * self.fact(3)
            """,
            line=8,
            error="method 'fact' is called recursively",
        ),
        ex(
            """
            import torch
            import torch.nn as nn

            class M(nn.Module):
                def walk(self, n: int) -> int:
                    if n <= 0:
                        return 0
                    return self.step(n - 1)

                def step(self, n: int) -> int:
                    return self.walk(n)

                def forward(self, x: torch.Tensor):
                    return x * self.walk(3)
            """,
            line=11,
            error="method 'walk' is called recursively",
        ),
        ex(
            """
            def even(n: int) -> bool:
                if n == 0:
                    return True
                return odd(n - 1)

            def odd(n: int) -> bool:
                return not even(n)

            def f(n: int):
                return even(n)
            """,
            line=7,
            error="maximum recursion depth exceeded",
        ),
    )
    CATALOG = ("recursive_function",)

    def visit_Call(self, node: cst.Call, ctx: FunctionContext) -> None:
        func = node.func
        if isinstance(func, cst.Name):
            name = func.value
        elif isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name):
            name = func.attr.value
        else:
            return
        chain = ctx.compiled.chain
        if name != ctx.info.name and not any(link.function.endswith(name) for link in chain):
            return  # cheap pre-check: only a function on the why-chain can close a cycle
        target = self._callee(func, ctx)
        if target is None:
            return
        here = (ctx.summary.path, ctx.info.qualname)
        if target == here:
            what = "method" if isinstance(func, cst.Attribute) else "function"
            ctx.report(
                func,
                f"{what} `{ctx.info.name}` calls itself; TorchScript does not support "
                "recursion: rewrite it as a loop",
            )
            return
        cycle = self._cycle(target, ctx)
        if cycle:
            ctx.report(
                func,
                f"`{ctx.code_for(func)}` calls back into {target[1]}, which is still being "
                f"compiled ({' -> '.join(cycle)}); TorchScript does not support recursion: "
                "rewrite it as a loop",
            )

    @staticmethod
    def _callee(func: cst.Name | cst.Attribute, ctx: FunctionContext) -> tuple[str, str] | None:
        """(path, qualname) of the project function a call reaches, if it can be told."""
        project, info = ctx.project, ctx.info
        if isinstance(func, cst.Name):
            if func.value in local_names(ctx.node).all:
                return None
            found = project.lookup(project.qualify(ctx.summary, func.value))
            if found is None or not isinstance(found[1], FunctionInfo):
                return None
            return found[0].path, found[1].qualname
        receiver = func.value
        if not (
            isinstance(receiver, cst.Name) and info.params and receiver.value == info.params[0]
        ):
            return None
        if ctx.owner is None or info.is_staticmethod or not ctx.compiled.context:
            return None
        if receiver.value in local_names(ctx.node).assigned:
            return None
        method = project.find_method(ctx.compiled.context, func.attr.value)
        return (method[0].path, method[2].qualname) if method is not None else None

    @staticmethod
    def _cycle(target: tuple[str, str], ctx: FunctionContext) -> list[str]:
        """The why-chain from `target` down to this function, when `target` is on it."""
        chain = ctx.compiled.chain
        # A link's function lives in the file where the next link's call happens.
        files = [link.path for link in chain[1:]] + [ctx.summary.path]
        for index, (link, path) in enumerate(zip(chain, files, strict=True)):
            if (path, link.function) == target:
                names = [step.function for step in chain[index:]]
                return [*names, target[1]] if names[-1] == ctx.info.qualname else []
        return []


RULES: tuple[type[Rule], ...] = (
    PythonModuleCallRule,
    PythonBuiltinRule,
    PythonClassBuiltinRule,
    DynamicGetattrRule,
    RoundNdigitsRule,
    SortKeywordsRule,
    FormatKeywordsRule,
    StrRepeatRule,
    PrintKeywordsRule,
    TensorNumpyRule,
    TupleFromListRule,
    GlobalValueRule,
    RecursionRule,
)
