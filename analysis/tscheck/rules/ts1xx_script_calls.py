"""TS184-TS189: what `torch.jit.script(...)` is given, read at the call site.

Ground truth: torch 2.13, `torch/jit/_script.py` `_script_impl`. An nn.Module *class* is
refused (`cannot be compiled since it inherits from nn.Module, pass an instance instead`); any
other class is compiled as a TorchScript class (a plain class scripts fine). A function is
compiled from its source: `inspect.getsource` must find one top-level `def`, so a lambda fails
(`Expected a single top-level function`), a builtin has no source at all (`TypeError: <class
'builtin_function_or_method'> is a built-in class`: `len`, `math.sqrt`, and the C++ operators
of torch such as `torch.add` or `F.gelu`, while Python functions such as `F.relu` script), and a
function defined by `exec` has no source file (`Can't get source for <function f ...>`, or
`Could not get qualified name ... __module__ can't be None` when the namespace has no
`__name__`). These mistakes sit at the script call, not in compiled code, so the rules here are
call-site rules: they also run in export scripts that compile nothing themselves.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass

import libcst as cst

from tscheck import cstwalk
from tscheck.index import ClassInfo, FileSummary
from tscheck.model import Family, Fix
from tscheck.reach import is_torch_module
from tscheck.rules import call_sites
from tscheck.rules.base import FileContext, Rule, dotted, ex

_SCRIPT = "torch.jit.script"
_SCRIPT_CALL = re.compile(r"\bscript\s*\(")
_NAMES = frozenset({"script"})

# Python builtins that are functions (not classes: `int` fails otherwise, `range` is a class).
_BUILTINS = frozenset(
    "abs all any ascii bin callable chr delattr dir divmod eval exec format getattr globals "
    "hasattr hash hex id input isinstance issubclass iter len locals max min next oct open ord "
    "pow print repr round setattr sorted sum vars".split()
)
_MATH = frozenset(
    "acos acosh asin asinh atan atan2 atanh ceil comb copysign cos cosh degrees dist erf erfc "
    "exp expm1 fabs factorial floor fmod frexp fsum gamma gcd hypot isclose isfinite isinf "
    "isnan isqrt lcm ldexp lgamma log log10 log1p log2 modf perm pow prod radians remainder "
    "sin sinh sqrt tan tanh trunc".split()
)
# torch operators bound from C++ (builtin_function_or_method in torch 2.13, checked one by one).
_TORCH_OPS = frozenset(
    "add sub mul div matmul mm bmm cat stack relu sigmoid tanh exp log sqrt abs zeros ones "
    "zeros_like ones_like randn rand randint empty full arange linspace flatten clamp sum mean "
    "max min transpose reshape squeeze unsqueeze where softmax log_softmax argmax argmin topk "
    "sort tensor from_numpy conv1d conv2d pow neg floor ceil round eq gt lt ge le ne log1p sin "
    "cos allclose any all cumsum prod std var sign permute chunk narrow gather index_select "
    "masked_fill addmm baddbmm isnan isinf clone detach maximum minimum logsumexp".split()
)
_FUNCTIONAL_OPS = frozenset(
    "adaptive_avg_pool1d avg_pool1d avg_pool2d avg_pool3d bilinear conv1d conv2d conv3d "
    "conv_transpose1d conv_transpose2d conv_transpose3d cosine_similarity gelu hardshrink "
    "linear logsigmoid one_hot pairwise_distance pdist pixel_shuffle pixel_unshuffle prelu "
    "softplus softshrink".split()
)
# Tensor methods are method descriptors: the same TypeError (`<class 'method_descriptor'>`).
_TENSOR_METHODS = _TORCH_OPS - {
    "zeros",
    "ones",
    "zeros_like",
    "ones_like",
    "randn",
    "rand",
    "randint",
    "empty",
    "full",
    "arange",
    "linspace",
    "cat",
    "stack",
    "tensor",
    "from_numpy",
    "conv1d",
    "conv2d",
}


def _builtin(qualified: str) -> str | None:
    """The kind of builtin a resolved dotted name is (its type in the TypeError), or None."""
    if qualified in _BUILTINS or qualified.removeprefix("builtins.") in _BUILTINS:
        return "builtin_function_or_method"
    head, _, last = qualified.rpartition(".")
    if (head == "math" and last in _MATH) or (head == "torch" and last in _TORCH_OPS):
        return "builtin_function_or_method"
    if head == "torch.nn.functional" and last in _FUNCTIONAL_OPS:
        return "builtin_function_or_method"
    if head == "torch.Tensor" and last in _TENSOR_METHODS:
        return "method_descriptor"
    return None


# -- the script calls of a file and what their argument names ------------------------------------


def _script_args(ctx: FileContext) -> Iterator[tuple[call_sites.CallIn, cst.BaseExpression]]:
    """Each `torch.jit.script(arg)` of the file with its one positional argument; sets ctx's
    block to the call's."""
    lines = {s.line for s in ctx.summary.jit_sites if s.kind == "script"}
    if not lines:
        return
    for item in call_sites.calls_on_lines(
        ctx, lines & call_sites.lines_with(ctx.text, _SCRIPT_CALL), _NAMES
    ):
        call = item.call
        if ctx.resolve(dotted(call.func)) != _SCRIPT or call_sites.has_star(call):
            continue
        positional = call_sites.positional(call)
        if positional and call.args[0] is positional[0]:
            yield item, positional[0].value


def _enclosing_ok(module: cst.Module, scope: cst.FunctionDef | None) -> bool:
    """The call's names resolve in its own scope and then the module's: it is at module level
    (not in a class body), in a top-level def, or in a method of a top-level class."""
    body = module.body
    if scope is None:
        return not any(isinstance(stmt, cst.ClassDef) for stmt in body)
    if any(stmt is scope for stmt in body):
        return True
    return any(
        isinstance(stmt, cst.ClassDef)
        and isinstance(stmt.body, cst.IndentedBlock)
        and any(inner is scope for inner in stmt.body.body)
        for stmt in body
    )


def _lambda_params(root: cst.CSTNode) -> set[str]:
    """Names that lambdas under `root` take as parameters (they shadow everything else)."""
    found: set[str] = set()
    stack: list[cst.CSTNode] = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, cst.Lambda):
            params = node.params
            every = [*params.posonly_params, *params.params, *params.kwonly_params]
            every.extend(
                p for p in (params.star_arg, params.star_kwarg) if isinstance(p, cst.Param)
            )
            found.update(p.name.value for p in every)
        stack.extend(cstwalk.children(node))
    return found


Values = list[cst.BaseExpression]


def _values_of(ctx: FileContext, item: call_sites.CallIn, name: str) -> Values | None:
    """What `name = value` statements bind `name` to where the call reads it: its scope's, else
    the module's; None when anything else binds it (a parameter, import, def, loop...)."""
    module = ctx.module
    if not _enclosing_ok(module, item.scope):
        return None
    values: Values | None = None
    local = call_sites.scope_bindings(ctx, item.scope) if item.scope is not None else {}
    values = local[name] if name in local else call_sites.scope_bindings(ctx, None).get(name)
    if not values or name in _lambda_params(module):
        return None
    if re.search(rf"\bglobal\b[^\n]*\b{re.escape(name)}\b", ctx.text):
        return None  # a function may rebind the module's name
    return values


def _unbound_here(ctx: FileContext, item: call_sites.CallIn, head: str) -> bool:
    """`head` is not bound by the call's scope nor by a module-level statement other than an
    import or a def: `ctx.resolve` says what it is."""
    module = ctx.module
    if not _enclosing_ok(module, item.scope) or head in _lambda_params(module):
        return False
    if item.scope is not None and head in call_sites.scope_bindings(ctx, item.scope):
        return False
    if head in ctx.summary.global_names or "import *" in ctx.text:
        return False
    return not re.search(rf"\bglobal\b[^\n]*\b{re.escape(head)}\b", ctx.text)


def _is_lambda(ctx: FileContext, item: call_sites.CallIn, arg: cst.BaseExpression) -> bool:
    if isinstance(arg, cst.Lambda):
        return True
    if not isinstance(arg, cst.Name):
        return False
    values = _values_of(ctx, item, arg.value)
    return bool(values) and all(isinstance(v, cst.Lambda) for v in values or ())


# -- TS184: a lambda ------------------------------------------------------------------------------


class ScriptLambdaRule(Rule):
    code = "TS184"
    name = "script-lambda"
    summary = "torch.jit.script cannot compile a lambda: it needs a `def`"
    family = Family.UNSUPPORTED_CONSTRUCTS
    call_sites = True
    explanation = """
    **What it does.** Flags `torch.jit.script(lambda ...: ...)`, and `torch.jit.script(g)`
    where `g` is only ever assigned lambdas.

    **Why it fails.** torch.jit.script compiles a function from its source, and the source
    of a lambda is the line it sits on, not a function definition: `RuntimeError: Expected a
    single top-level function`.

    **How to fix.** Define the function with `def` (with type annotations) and script that.
    """
    VALID = (
        ex(
            """
            import torch
            import torch.nn as nn


            class M(nn.Module):
                def forward(self, x: torch.Tensor):
                    return x + 1


            def add_one(x: torch.Tensor) -> torch.Tensor:
                return x + 1


            def export():
                return torch.jit.script(add_one)(torch.ones(1))
            """,
            call="export()",
        ),
    )
    INVALID = (
        ex(
            """
            import torch
            import torch.nn as nn


            class M(nn.Module):
                def forward(self, x: torch.Tensor):
                    return x + 1


            def export():
                return torch.jit.script(lambda x: x + 1)
            """,
            line=11,
            error="Expected a single top-level function",
            call="export()",
        ),
        ex(
            """
            import torch
            import torch.nn as nn


            class M(nn.Module):
                def forward(self, x: torch.Tensor):
                    return x + 1


            add_one = lambda x: x + 1  # noqa: E731


            def export():
                return torch.jit.script(add_one)
            """,
            line=14,
            error="Expected a single top-level function",
            call="export()",
        ),
    )
    CATALOG = ("script_lambda_directly",)

    def check_file(self, ctx: FileContext) -> None:
        for item, arg in _script_args(ctx):
            if _is_lambda(ctx, item, arg):
                ctx.report(
                    arg,
                    "torch.jit.script compiles a function from the source of its `def`, and a "
                    "lambda has none (RuntimeError: Expected a single top-level function); "
                    "define it with `def` and script that",
                )


# -- TS185: a builtin -----------------------------------------------------------------------------


class ScriptBuiltinRule(Rule):
    code = "TS185"
    name = "script-builtin-function"
    summary = "torch.jit.script cannot compile a builtin function: it has no Python source"
    family = Family.UNSUPPORTED_CONSTRUCTS
    call_sites = True
    explanation = """
    **What it does.** Flags `torch.jit.script(f)` where `f` is a function implemented in C:
    a Python builtin (`len`, `abs`, `max`), a `math` function, or a torch operator bound from
    C++ (`torch.add`, `torch.relu`, `torch.cat`, `F.gelu`, `F.linear`, `torch.Tensor.add`).

    **Why it fails.** torch.jit.script compiles a function from its Python source, and a
    builtin has none: `TypeError: <class 'builtin_function_or_method'> is a built-in class`
    (`method_descriptor` for a Tensor method). Compiled code can *call* these functions; they
    just cannot be the thing scripted. (torch functions written in Python, such as
    `F.relu` or `F.softmax`, do script.)

    **How to fix.** Script a `def` that calls the builtin:
    `def f(x: torch.Tensor) -> torch.Tensor: return torch.relu(x)`.
    """
    VALID = (
        ex(
            """
            import math

            import torch
            import torch.nn as nn
            import torch.nn.functional as F


            class M(nn.Module):
                def forward(self, x: torch.Tensor):
                    return x + 1


            def root(x: float) -> float:
                return math.sqrt(x)


            def export():
                return torch.jit.script(root)(4.0), torch.jit.script(F.relu)(torch.ones(1))
            """,
            call="export()",
        ),
    )
    INVALID = (
        ex(
            """
            import math

            import torch
            import torch.nn as nn


            class M(nn.Module):
                def forward(self, x: torch.Tensor):
                    return x + 1


            def export():
                return torch.jit.script(math.sqrt)
            """,
            line=13,
            error="<class 'builtin_function_or_method'> is a built-in class",
            call="export()",
        ),
        ex(
            """
            import torch
            import torch.nn as nn


            class M(nn.Module):
                def forward(self, x: torch.Tensor):
                    return x + 1


            def export():
                return torch.jit.script(torch.add)
            """,
            line=11,
            error="<class 'builtin_function_or_method'> is a built-in class",
            call="export()",
        ),
        ex(
            """
            import torch
            import torch.nn as nn


            class M(nn.Module):
                def forward(self, x: torch.Tensor):
                    return x + 1


            def export():
                return torch.jit.script(len)
            """,
            line=11,
            error="<class 'builtin_function_or_method'> is a built-in class",
            call="export()",
        ),
    )
    CATALOG = ("script_builtin_function",)

    def check_file(self, ctx: FileContext) -> None:
        for item, arg in _script_args(ctx):
            name = dotted(arg)
            kind = _builtin(ctx.resolve(name)) if name else None
            if kind is None or not _unbound_here(ctx, item, name.split(".")[0]):
                continue
            ctx.report(
                arg,
                f"`{name}` is a builtin with no Python source, so torch.jit.script cannot "
                f"compile it (TypeError: <class '{kind}'> is a built-in class); script a `def` "
                "that calls it",
            )


# -- TS186: an nn.Module class --------------------------------------------------------------------

_NN_MODULE = "torch.nn.Module"


class ScriptModuleClassRule(Rule):
    code = "TS186"
    name = "script-module-class"
    summary = "torch.jit.script is given an nn.Module class: it needs an instance"
    family = Family.TYPE_CHECKING
    call_sites = True
    fixable = True
    explanation = """
    **What it does.** Flags `torch.jit.script(Net)` where `Net` is an nn.Module subclass (of
    the project or of torch) rather than an instance of it.

    **Why it fails.** torch.jit.script compiles a module from an instance (its attributes and
    submodules are part of the compiled type), and refuses the class: `RuntimeError: Type
    '<class 'Net'>' cannot be compiled since it inherits from nn.Module, pass an instance
    instead`. Other classes are different: `torch.jit.script(SomeClass)` compiles a plain
    class as a TorchScript class.

    **How to fix.** Pass an instance: `torch.jit.script(Net(...))`. Where `Net.__init__` takes
    no arguments, the fix writes `Net()` (not applied by `--fix`: constructing the module runs
    its `__init__`).
    """
    VALID = (
        ex(
            """
            import torch
            import torch.nn as nn


            class M(nn.Module):
                def forward(self, x: torch.Tensor):
                    return x + 1


            class Box:
                def __init__(self, value: int):
                    self.value = value


            def export():
                box = torch.jit.script(Box)
                return torch.jit.script(M()), box(2)
            """,
            call="export()",
        ),
    )
    INVALID = (
        ex(
            """
            import torch
            import torch.nn as nn


            class M(nn.Module):
                def forward(self, x: torch.Tensor):
                    return x + 1


            def export():
                return torch.jit.script(M)
            """,
            line=11,
            error="cannot be compiled since it inherits from nn.Module, pass an instance instead",
            call="export()",
            fixed="""import torch
import torch.nn as nn


class M(nn.Module):
    def forward(self, x: torch.Tensor):
        return x + 1


def export():
    return torch.jit.script(M())
""",
        ),
        ex(
            """
            import torch
            import torch.nn as nn


            class M(nn.Module):
                def forward(self, x: torch.Tensor):
                    return x + 1


            class Scaled(M):
                def __init__(self, scale: float):
                    super().__init__()
                    self.scale = scale


            def export():
                return torch.jit.script(Scaled)
            """,
            line=17,
            error="cannot be compiled since it inherits from nn.Module, pass an instance instead",
            call="export()",
        ),
    )
    CATALOG = ("script_nn_module_class_not_instance",)

    def check_file(self, ctx: FileContext) -> None:
        for item, arg in _script_args(ctx):
            name = dotted(arg)
            if not name:
                continue
            qualified = ctx.resolve(name)
            hit = ctx.project.lookup_class(qualified)
            if hit is not None:
                if not ctx.project.is_module_class(ctx.project.qualified_class(*hit)):
                    continue
            elif not is_torch_module(qualified):
                continue
            if not _unbound_here(ctx, item, name.split(".")[0]):
                continue
            fixes: tuple[Fix, ...] = ()
            if hit is not None and self._no_init_args(ctx, *hit):
                edit = ctx.replace(arg, f"{ctx.code_for(arg)}()")
                fixes = (Fix(f"Script an instance: {name}()", (edit,), safe=False),)
            ctx.report(
                arg,
                f"`{name}` is an nn.Module class, and torch.jit.script needs an instance of it "
                "(RuntimeError: ... cannot be compiled since it inherits from nn.Module, pass "
                f"an instance instead); script `{name}(...)`",
                fixes=fixes,
            )

    def _no_init_args(self, ctx: FileContext, summary: FileSummary, cls: ClassInfo) -> bool:
        """`cls()` constructs it: no `__init__` up to nn.Module takes a required argument (the
        `__init__`s read must be in this file, where their defaults can be seen)."""
        for _ in range(8):
            if cls.method("__init__") is not None:
                if summary.path != ctx.summary.path:
                    return False
                return self._init_takes_nothing(ctx, cls)
            if len(cls.bases) != 1:
                return False
            base = ctx.project.qualify(summary, cls.bases[0])
            if base == _NN_MODULE:
                return True
            hit = ctx.project.lookup_class(base)
            if hit is None:
                return False
            summary, cls = hit
        return False

    def _init_takes_nothing(self, ctx: FileContext, cls: ClassInfo) -> bool:
        try:
            tree = ast.parse(ctx.text)
        except SyntaxError:
            return False
        for stmt in tree.body:
            if isinstance(stmt, ast.ClassDef) and stmt.lineno == cls.line:
                for node in stmt.body:
                    if isinstance(node, ast.FunctionDef) and node.name == "__init__":
                        args = node.args
                        positional = [*args.posonlyargs, *args.args][1:]  # after self
                        required = len(positional) - len(args.defaults)
                        kw_required = [d for d in args.kw_defaults if d is None]
                        return required <= 0 and not kw_required
        return False


# -- TS187: a function defined by exec ------------------------------------------------------------


@dataclass(frozen=True)
class _ExecDef:
    """`fn = ns["f"]` after `exec(<source defining f>, ns)`: what the rule needs to report."""

    key: str
    named: bool | None  # the exec globals visibly have `__name__` (True), visibly not (False)


def _literal_string(node: cst.BaseExpression) -> str | None:
    if not isinstance(node, (cst.SimpleString, cst.ConcatenatedString)):
        return None
    value = node.evaluated_value
    return value if isinstance(value, str) else None


def _fresh_dict(node: cst.BaseExpression) -> cst.Dict | None:
    return node if isinstance(node, cst.Dict) else None


def _defines(source: str, key: str) -> bool:
    """The exec'd source binds `key` only by one undecorated top-level `def key`."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return False
    defs = 0
    for stmt in tree.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)) and stmt.name == key:
            if stmt.decorator_list:
                return False
            defs += 1
        elif key in _identifiers(stmt):
            return False  # anything else that names it may bind it (import, assignment, if...)
    return defs == 1


def _identifiers(root: ast.AST) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(root):
        if isinstance(node, ast.Name):
            found.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found.add(node.name)
        elif isinstance(node, ast.alias):
            found.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            found.update(node.names)
    return found


def _name_uses(module: cst.Module, name: str) -> Iterator[tuple[cst.Name, cst.CSTNode | None]]:
    """Every Name `name` in `module` with its parent node."""
    stack: list[tuple[cst.CSTNode, cst.CSTNode | None]] = [(module, None)]
    while stack:
        node, parent = stack.pop()
        if isinstance(node, cst.Name) and node.value == name:
            yield node, parent
        stack.extend((child, node) for child in cstwalk.children(node))


def _exec_def(
    ctx: FileContext, item: call_sites.CallIn, arg: cst.BaseExpression
) -> _ExecDef | None:
    """What `arg` is when it is visibly a function that an `exec` call defined: a name bound
    only to `ns["key"]`, where `ns` is bound only to one dict literal in the same scope, used
    nowhere but in `ns[...]` reads and one `exec(source, ns)` (or `exec(source, g, ns)`) of that
    scope, and `source` is a string literal (or a name bound to one) whose only binding of
    `key` is a top-level `def`."""
    if not isinstance(arg, cst.Name):
        return None
    values = _values_of(ctx, item, arg.value)
    if not values or len(values) != 1:
        return None
    taken = values[0]
    if not (
        isinstance(taken, cst.Subscript)
        and isinstance(taken.value, cst.Name)
        and len(taken.slice) == 1
        and isinstance(taken.slice[0].slice, cst.Index)
    ):
        return None
    key = _literal_string(taken.slice[0].slice.value)
    ns = taken.value.value
    if key is None or ns in (arg.value, "exec"):
        return None
    scope = item.scope
    if scope is not None and ns not in call_sites.scope_bindings(ctx, scope):
        scope = None
        if arg.value in call_sites.scope_bindings(ctx, item.scope):
            return None  # fn local, ns global: keep it simple
    bound = call_sites.scope_bindings(ctx, scope).get(ns)
    if not bound or len(bound) != 1 or _fresh_dict(bound[0]) is None:
        return None
    if not _unbound_here(ctx, item, "exec"):
        return None
    # Every use of `ns`: its binding, `ns[...]` reads, the one exec call.
    execs: list[cst.Call] = []
    for module, _ in ctx.modules():
        calls = {id(c.call): c for c in call_sites.block_calls(ctx, module)}
        for name, parent in _name_uses(module, ns):
            if isinstance(parent, cst.Subscript) and parent.value is name:
                continue  # a read, or a store the binding check below refuses
            if isinstance(parent, cst.AssignTarget) or isinstance(parent, cst.Arg):
                continue
            return None
        for found in calls.values():
            if found.scope is not scope:
                if any(isinstance(n, cst.Name) and n.value == ns for n in _arg_names(found.call)):
                    return None
                continue
            if _arg_names(found.call) and any(
                isinstance(n, cst.Name) and n.value == ns for n in _arg_names(found.call)
            ):
                if not (isinstance(found.call.func, cst.Name) and found.call.func.value == "exec"):
                    return None  # handed to something that may change it
                execs.append(found.call)
    stored = rf"\b{re.escape(ns)}\s*\[[^\]]*\]\s*=[^=]|\bdel\b[^\n]*\b{re.escape(ns)}\b"
    if len(execs) != 1 or re.search(stored, ctx.text):
        return None
    call = execs[0]
    # exec runs before `fn = ns[...]` (else that read raises KeyError before any script).
    taken_at = re.search(rf"\b{re.escape(arg.value)}\s*=\s*{re.escape(ns)}\s*\[", ctx.text)
    exec_at = re.search(rf"\bexec\s*\([^\n]*\b{re.escape(ns)}\b", ctx.text)
    if taken_at is None or exec_at is None or exec_at.start() > taken_at.start():
        return None
    positional = call_sites.positional(call)
    if (
        call_sites.has_star(call)
        or len(positional) != len(call.args)
        or len(positional) not in (2, 3)
    ):
        return None
    if not (isinstance(positional[-1].value, cst.Name) and positional[-1].value.value == ns):
        return None
    source_node = positional[0].value
    source = _literal_string(source_node)
    if source is None and isinstance(source_node, cst.Name):
        sources = _values_of(ctx, item, source_node.value)
        if sources and len(sources) == 1:
            source = _literal_string(sources[0])
    if source is None or not _defines(source, key):
        return None
    globals_dict = _fresh_dict(bound[0]) if len(positional) == 2 else None
    return _ExecDef(key, _has_name_key(globals_dict) if globals_dict is not None else None)


def _arg_names(call: cst.Call) -> list[cst.BaseExpression]:
    return [a.value for a in call.args]


def _has_name_key(node: cst.Dict) -> bool | None:
    keys: list[str] = []
    for element in node.elements:
        if not isinstance(element, cst.DictElement):
            return None  # `**other`: unknown
        key = _literal_string(element.key)
        if key is None:
            return None
        keys.append(key)
    return "__name__" in keys


class ScriptExecFunctionRule(Rule):
    code = "TS187"
    name = "script-exec-function"
    summary = "torch.jit.script cannot compile a function defined by exec: it has no source file"
    family = Family.UNSUPPORTED_CONSTRUCTS
    call_sites = True
    explanation = """
    **What it does.** Flags `torch.jit.script(fn)` where `fn = ns["f"]` is visibly the function
    that `exec(source, ns)` defined: `source` is a string literal whose `def f` is the only
    binding of `f`, and `ns` a dict literal used only by that `exec` call and `ns[...]` reads.

    **Why it fails.** torch.jit.script compiles a function from its source, which it reads
    from the function's file with `inspect`. Code run by `exec` has no file:
    `OSError: Can't get source for <function f ...>. TorchScript requires source access`, or,
    when the namespace has no `__name__`, `RuntimeError: Could not get qualified name for class
    'f': __module__ can't be None` first.

    **How to fix.** Write the function into a `.py` file and import it (generated code too:
    write it to a module on `sys.path`, then import that module), and script the imported
    function.
    """
    VALID = (
        ex(
            """
            import torch
            import torch.nn as nn


            class M(nn.Module):
                def forward(self, x: torch.Tensor):
                    return x + 1


            def add_one(x: torch.Tensor):
                return x + 1


            def export():
                ns = {"torch": torch, "add_one": add_one}
                exec("y = 1", ns)
                fn = ns["add_one"]
                return torch.jit.script(fn)(torch.ones(1))
            """,
            call="export()",
        ),
    )
    INVALID = (
        ex(
            """
            import torch
            import torch.nn as nn


            class M(nn.Module):
                def forward(self, x: torch.Tensor):
                    return x + 1


            def export():
                ns = {"torch": torch, "__name__": "generated"}
                exec("def f(x: torch.Tensor):\\n    return x + 1\\n", ns)
                fn = ns["f"]
                return torch.jit.script(fn)
            """,
            line=14,
            error="Can't get source for <function f",
            call="export()",
        ),
        ex(
            """
            import torch
            import torch.nn as nn


            class M(nn.Module):
                def forward(self, x: torch.Tensor):
                    return x + 1


            SOURCE = "def f(x: torch.Tensor):\\n    return x + 1\\n"
            ns = {"torch": torch}
            exec(SOURCE, ns)
            fn = ns["f"]


            def export():
                return torch.jit.script(fn)
            """,
            line=17,
            error="__module__ can't be None",
            call="export()",
        ),
    )
    CATALOG = ("exec_defined_function_no_source", "exec_defined_function_with_module_name")

    def check_file(self, ctx: FileContext) -> None:
        if "exec" not in ctx.text:
            return
        for item, arg in _script_args(ctx):
            found = _exec_def(ctx, item, arg)
            if found is None:
                continue
            if found.named is False:
                error = "RuntimeError: Could not get qualified name ... __module__ can't be None"
            else:
                error = f"OSError: Can't get source for <function {found.key} ...>"
            ctx.report(
                arg,
                f"`{ctx.code_for(arg)}` is the function `{found.key}` that exec defined, and "
                "exec'd code has no source file for torch.jit.script to read "
                f"({error}); write it into a .py module, import it and script that",
            )


RULES: tuple[type[Rule], ...] = (
    ScriptLambdaRule,
    ScriptBuiltinRule,
    ScriptModuleClassRule,
    ScriptExecFunctionRule,
)
