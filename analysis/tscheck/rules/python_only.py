"""What TorchScript cannot run: Python-only modules, builtins and module-level values.

Shared by `ts1xx_builtins` (the calls themselves) and `ts3xx_python_only` (helpers that run
them). Every table entry was checked against the real compiler (torch 2.13): a call into
one of these is rejected at script time (or, for a few builtin classes called with tensors,
at save time).
"""

from __future__ import annotations

import ast
import dataclasses
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import libcst as cst

from tscheck.cstwalk import NODE, SKIPPED, kind_of
from tscheck.index import FileSummary, dotted_name
from tscheck.parse import ParsedBlocks, split_blocks
from tscheck.reach import Project
from tscheck.rules.base import FunctionContext, dotted

# Modules whose every function is plain Python or C that TorchScript cannot compile:
# "Python builtin <...> is currently not supported", "Can't get source for ...", or a
# frontend error inside the library's own source.
PYTHON_ONLY_MODULES = frozenset(
    {
        "array",
        "atexit",
        "bisect",
        "builtins",
        "copy",
        "csv",
        "ctypes",
        "datetime",
        "decimal",
        "fractions",
        "functools",
        "gc",
        "getpass",
        "glob",
        "hashlib",
        "heapq",
        "importlib",
        "inspect",
        "io",
        "itertools",
        "json",
        "logging",
        "numpy",
        "operator",
        "os",
        "pathlib",
        "pdb",
        "pickle",
        "platform",
        "pprint",
        "queue",
        "random",
        "re",
        "scipy",
        "secrets",
        "shutil",
        "signal",
        "socket",
        "statistics",
        "struct",
        "subprocess",
        "sys",
        "tempfile",
        "textwrap",
        "threading",
        "time",
        "traceback",
        "uuid",
        "weakref",
    }
)
# `math` is supported except for these (newer additions TorchScript never learnt).
UNSUPPORTED_MATH = frozenset(
    {
        "cbrt",
        "comb",
        "dist",
        "exp2",
        "fsum",
        "hypot",
        "isclose",
        "isqrt",
        "lcm",
        "ldexp",
        "log2",
        "nextafter",
        "perm",
        "prod",
        "trunc",
        "ulp",
    }
)
# `warnings.warn` compiles; the rest of the module does not.
UNSUPPORTED_WARNINGS = frozenset(
    {"catch_warnings", "filterwarnings", "resetwarnings", "simplefilter", "warn_explicit"}
)
# torch functions that exist only to bridge to numpy.
PYTHON_ONLY_TORCH = frozenset({"torch.from_numpy"})
# Parts of torch that TorchScript cannot compile ("Unknown builtin op: aten::Tensor",
# "Unknown builtin op: cuda::synchronize", varargs inside torch.distributions).
UNSCRIPTABLE_TORCH = frozenset(
    {
        "torch.Tensor",
        "torch.is_tensor",
        "torch.load",
        "torch.cuda.current_device",
        "torch.cuda.current_stream",
        "torch.cuda.device_count",
        "torch.cuda.empty_cache",
        "torch.cuda.is_available",
        "torch.cuda.synchronize",
    }
)
UNSCRIPTABLE_TORCH_PACKAGES = ("torch.distributions.", "torch.utils.checkpoint.")

# Builtin functions TorchScript has no equivalent for: "Python builtin <built-in function
# open> is currently not supported in Torchscript", whatever the arguments.
PYTHON_BUILTINS = frozenset(
    {
        "aiter",
        "anext",
        "ascii",
        "breakpoint",
        "callable",
        "compile",
        "delattr",
        "dir",
        "eval",
        "exec",
        "exit",
        "format",
        "globals",
        "help",
        "input",
        "issubclass",
        "iter",
        "locals",
        "next",
        "open",
        "quit",
        "repr",
        "setattr",
        "vars",
    }
)
# Builtin classes TorchScript treats as opaque Python classes: rejected at script time for
# non-tensor arguments and at save time ("Could not export Python function call") for tensors.
PYTHON_CLASSES = frozenset(
    {
        "bytearray",
        "bytes",
        "filter",
        "frozenset",
        "map",
        "memoryview",
        "object",
        "reversed",
        "set",
        "type",
    }
)

TENSOR_FACTORIES = frozenset(
    {
        "arange",
        "as_tensor",
        "cat",
        "empty",
        "empty_like",
        "eye",
        "full",
        "full_like",
        "linspace",
        "logspace",
        "ones",
        "ones_like",
        "rand",
        "rand_like",
        "randint",
        "randn",
        "randn_like",
        "stack",
        "tensor",
        "zeros",
        "zeros_like",
    }
)
TORCH_DTYPES = frozenset(
    {
        "bfloat16",
        "bool",
        "cdouble",
        "cfloat",
        "complex128",
        "complex64",
        "double",
        "float",
        "float16",
        "float32",
        "float64",
        "half",
        "int",
        "int16",
        "int32",
        "int64",
        "int8",
        "long",
        "short",
        "uint8",
    }
)
# Module constants that compile as `math.pi` but not as a bare name imported with
# `from math import pi` ("python value of type 'float' cannot be used as a value").
# `inf` is missing on purpose: TorchScript recognises `math.inf` itself under any name.
IMPORTED_CONSTANTS = {
    "math.pi": "a float",
    "math.e": "a float",
    "math.tau": "a float",
    "math.nan": "a float",
    "numpy.pi": "a float",
    "numpy.e": "a float",
    "numpy.inf": "a float",
    "numpy.nan": "a float",
    "torch.pi": "a float",
    "torch.e": "a float",
    "torch.nan": "a float",
    "sys.maxsize": "an int",
    "sys.maxunicode": "an int",
}


def imported_constant_kind(qualified: str) -> str | None:
    """What `from <module> import <name>` binds, when TorchScript cannot read it by name."""
    kind = IMPORTED_CONSTANTS.get(qualified)
    if kind is None and qualified.startswith("torch.") and qualified[6:] in TORCH_DTYPES:
        kind = "a torch.dtype"
    return kind


_BUILTIN_CONVERSIONS = {
    "int": "an int",
    "float": "a float",
    "str": "a str",
    "bool": "a bool",
    "list": "a list",
    "dict": "a dict",
    "tuple": "a tuple",
    "set": "a set",
}


def module_call_kind(qualified: str) -> str | None:
    """ "python" for a call into a Python-only module, "torch"/"math"/"warnings" for the
    unsupported parts of supported modules, None for anything TorchScript may compile."""
    if qualified in PYTHON_ONLY_TORCH:
        return "python"
    if qualified in UNSCRIPTABLE_TORCH or qualified.startswith(UNSCRIPTABLE_TORCH_PACKAGES):
        return "torch"
    parts = qualified.split(".")
    if len(parts) == 3 and qualified.startswith("torch.distributed."):
        return "torch"  # collectives and queries (rpc lives one level deeper and compiles)
    head, _, rest = qualified.partition(".")
    if head in PYTHON_ONLY_MODULES:
        return "python"
    if head == "math" and rest in UNSUPPORTED_MATH:
        return "math"
    if head == "warnings" and rest in UNSUPPORTED_WARNINGS:
        return "warnings"
    return None


# -- names as the compiled function sees them --------------------------------------------------


@dataclass(frozen=True)
class LocalNames:
    """Names a function binds itself: parameters, assignment targets, loop and comprehension
    variables, `with ... as`, nested defs, and names it declares `global`/`nonlocal`."""

    params: frozenset[str]
    assigned: frozenset[str]

    @property
    def all(self) -> frozenset[str]:
        return self.params | self.assigned


_locals_cache: dict[int, tuple[cst.FunctionDef, LocalNames]] = {}


def local_names(fn: cst.FunctionDef) -> LocalNames:
    """The names `fn` binds (cached: libcst trees are shared for unchanged blocks)."""
    hit = _locals_cache.get(id(fn))
    if hit is not None and hit[0] is fn:
        return hit[1]
    params = frozenset(_param_names(fn.params))
    assigned = frozenset(_assigned_names(fn.body))
    result = LocalNames(params, assigned)
    if len(_locals_cache) > 512:
        _locals_cache.clear()
    _locals_cache[id(fn)] = (fn, result)
    return result


def _param_names(params: cst.Parameters) -> Iterator[str]:
    for p in (*params.posonly_params, *params.params, *params.kwonly_params):
        yield p.name.value
    for star in (params.star_arg, params.star_kwarg):
        if isinstance(star, cst.Param):
            yield star.name.value


def _assigned_names(node: cst.CSTNode) -> Iterator[str]:
    stack: list[cst.CSTNode] = [node]
    kinds = _binding_kinds
    while stack:
        current = stack.pop()
        kind = kinds.get(type(current))
        if kind is None:
            kind = _binding_kind(type(current))
        if kind == _DESCEND:
            stack.extend(_children(current))
        elif kind == _TARGET:
            yield from target_names(current.target)  # type: ignore[attr-defined]
            stack.extend(_children(current))
        elif kind == _AS_NAME:
            yield from target_names(current.name)  # type: ignore[attr-defined]
            stack.extend(_children(current))
        elif kind == _IMPORT_ALIAS:
            assert isinstance(current, cst.ImportAlias)
            if current.asname is None:  # `import a.b` binds `a`
                yield dotted(current.name).split(".", 1)[0]
            else:
                yield from target_names(current.asname.name)
        elif kind == _NAMES:
            yield from (item.name.value for item in current.names)  # type: ignore[attr-defined]
            stack.extend(_children(current))
        elif kind == _SCOPE:
            yield current.name.value  # type: ignore[attr-defined]  # its body is another scope


# How _assigned_names treats a node, by exact type (isinstance against libcst's ABC-based
# classes dominated the walk).
_DESCEND, _TARGET, _AS_NAME, _IMPORT_ALIAS, _NAMES, _SCOPE, _LEAF = range(7)
_binding_kinds: dict[type, int] = {}
_TARGET_TYPES = (
    cst.AssignTarget,
    cst.AnnAssign,
    cst.AugAssign,
    cst.For,
    cst.CompFor,
    cst.NamedExpr,
    cst.Del,
)


def _binding_kind(node_type: type) -> int:
    if issubclass(node_type, _TARGET_TYPES):
        kind = _TARGET
    elif issubclass(node_type, cst.AsName):
        kind = _AS_NAME
    elif issubclass(node_type, cst.ImportAlias):
        kind = _IMPORT_ALIAS
    elif issubclass(node_type, (cst.Global, cst.Nonlocal)):
        kind = _NAMES
    elif issubclass(node_type, (cst.FunctionDef, cst.ClassDef)):
        kind = _SCOPE
    elif issubclass(node_type, _LEAVES):
        kind = _LEAF
    else:
        kind = _DESCEND
    _binding_kinds[node_type] = kind
    return kind


# Nodes that bind nothing and hold no statements: not worth descending into.
_LEAVES = (cst.Name, cst.SimpleString, cst.Integer, cst.Float, cst.Imaginary, cst.Comment)
_child_fields: dict[type[cst.CSTNode], tuple[str, ...]] = {}


def _node_type(value_type: type) -> bool:
    return kind_of(value_type) in (NODE, SKIPPED)


def _children(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """Child nodes read straight from the dataclass fields (libcst's `children` property
    is an order of magnitude slower)."""
    names = _child_fields.get(type(node))
    if names is None:
        names = tuple(
            f.name
            for f in dataclasses.fields(node)
            if not f.name.startswith("whitespace") and f.name not in ("lpar", "rpar")
        )
        _child_fields[type(node)] = names
    for name in names:
        value = getattr(node, name)
        if _node_type(type(value)):
            yield value
        elif isinstance(value, (tuple, list)):
            yield from (v for v in value if _node_type(type(v)))


def target_names(target: cst.CSTNode) -> Iterator[str]:
    if isinstance(target, cst.Name):
        yield target.value
    elif isinstance(target, (cst.Tuple, cst.List)):
        for element in target.elements:
            yield from target_names(element.value)
    elif isinstance(target, cst.StarredElement):
        yield from target_names(target.value)


def is_load(node: cst.Name, ctx: FunctionContext) -> bool:
    """A Name read as a value (not an attribute's name, a keyword, or a parameter)."""
    parent = ctx.parent()
    if isinstance(parent, cst.Attribute):
        return parent.value is node
    if isinstance(parent, cst.Arg):
        return parent.keyword is not node
    return not isinstance(parent, (cst.Param, cst.NameItem, cst.ImportAlias, cst.AsName))


def in_param(ctx: FunctionContext) -> bool:
    """Inside a parameter (its default is evaluated by Python, not compiled)."""
    return any(isinstance(a, cst.Param) for a in ctx.ancestors)


# -- file-level facts --------------------------------------------------------------------------


class FileFacts:
    """What a file binds at module level, computed lazily: most files need only `imports`.

    `data_globals`: names bound only by assignments of plain data, with a description.
    `python_objects`: names bound only to results of Python-only calls
    (`logger = logging.getLogger(...)`), with the call as written.
    `tree`: the whole file's ast (parsed only when a rule needs it).
    """

    def __init__(self, summary: FileSummary, text: str, qualify: Qualify) -> None:
        self.summary = summary
        self.text = text
        self.qualify = qualify
        self.imports = dict(summary.imports)
        # Module-level names bound by def/class/import: never "values" in TorchScript's sense.
        names = {f.name for f in summary.functions} | {c.name for c in summary.classes}
        self.definitions = frozenset(names | set(self.imports))
        self.global_names = frozenset(summary.global_names)
        # `from math import pi` -> {"pi": ("math.pi", "a float")}
        self.imported_constants = {
            local: (qualified, kind)
            for local, qualified in self.imports.items()
            if local != qualified and (kind := imported_constant_kind(qualified)) is not None
        }
        self._globals: tuple[dict[str, str], dict[str, str]] | None = None
        self._tree: ast.Module | None = None
        self._tree_done = False
        self._star: bool | None = None
        # The run's blocks (set by `file_facts`): what the text-dependent facts read is
        # recorded in its `reads`, on every use (the facts themselves are memoized).
        self.blocks: ParsedBlocks | None = None
        self._statements: list[ast.stmt] | None = None
        self._statements_fell_back = False

    def _read_statements(self) -> None:
        reads = self.blocks.reads if self.blocks is not None else None
        if reads is not None:
            reads.read_statements(self.text)
            if self._statements_fell_back:
                reads.read_whole(self.text)

    def _read_whole(self) -> None:
        reads = self.blocks.reads if self.blocks is not None else None
        if reads is not None:
            reads.read_whole(self.text)

    @property
    def data_globals(self) -> dict[str, str]:
        found = self._module_globals()[0]
        self._read_statements()
        return found

    @property
    def python_objects(self) -> dict[str, str]:
        found = self._module_globals()[1]
        self._read_statements()
        return found

    @property
    def star_import(self) -> bool:
        """`from m import *` at module level: any name may have been rebound."""
        has = "import *" in self.text
        if self._star is None:
            self._star = has and any(
                isinstance(s, ast.ImportFrom) and any(a.name == "*" for a in s.names)
                for s in self._module_statements()
            )
        reads = self.blocks.reads if self.blocks is not None else None
        if reads is not None:
            reads.contains["import *"] = has
            if has:
                self._read_statements()
        return self._star

    @property
    def tree(self) -> ast.Module | None:
        self._read_whole()
        if not self._tree_done:
            self._tree_done = True
            try:
                self._tree = ast.parse(self.text)
            except (SyntaxError, ValueError, RecursionError, MemoryError):
                self._tree = None
        return self._tree

    def _module_statements(self) -> list[ast.stmt]:
        """Module-level statements outside defs and classes, parsing only those blocks."""
        if self._statements is not None:
            return self._statements
        out: list[ast.stmt] = []
        for block in split_blocks(self.text):
            head = block.text.lstrip()
            if head.startswith(("def ", "async def ", "class ", "@")):
                continue
            try:
                out.extend(ast.parse(block.text).body)
            except (SyntaxError, ValueError, RecursionError, MemoryError):
                self._statements_fell_back = True
                tree = self.tree  # a block split inside a string: read the whole file
                self._statements = list(tree.body) if tree is not None else []
                return self._statements
        self._statements = out
        return out

    def _module_globals(self) -> tuple[dict[str, str], dict[str, str]]:
        if self._globals is not None:
            return self._globals
        data: dict[str, str] = {}
        objects: dict[str, str] = {}
        spoiled: set[str] = set(self.definitions)
        if self.summary.global_names:
            for name, value in _module_assignments(self._module_statements()):
                kind = data_kind(value, self.imports, self.qualify)
                callee = _python_only_callee(value, self.imports, self.qualify)
                if kind is not None:
                    data.setdefault(name, kind)
                elif callee:
                    objects.setdefault(name, callee)
                else:
                    spoiled.add(name)
        spoiled |= set(data) & set(objects)
        self._globals = (
            {k: v for k, v in data.items() if k not in spoiled},
            {k: v for k, v in objects.items() if k not in spoiled},
        )
        return self._globals


# Per file of the run being checked: (project, summary, text, facts). The project is held
# weakly (the facts' qualify closure too), so that a language server's old projects die with
# their run; the bound keeps a few files' facts (one may hold a whole file's ast).
_facts_cache: dict[int, tuple[weakref.ReferenceType[Project], FileSummary, str, FileFacts]] = {}
_FACTS_CACHE_SIZE = 8


def file_facts(ctx: FunctionContext) -> FileFacts:
    summary = ctx.summary
    text = ctx.blocks.untracked_text
    project = ctx.project
    hit = _facts_cache.get(id(summary))
    if hit is not None and hit[0]() is project and hit[1] is summary and hit[2] is text:
        hit[3].blocks = ctx.blocks
        return hit[3]
    ref = weakref.ref(project)
    facts = FileFacts(summary, text, lambda d: _alive(ref).qualify(summary, d))
    facts.blocks = ctx.blocks
    if len(_facts_cache) >= _FACTS_CACHE_SIZE:
        _facts_cache.clear()
    _facts_cache[id(summary)] = (ref, summary, text, facts)
    return facts


def _alive(ref: weakref.ReferenceType[Project]) -> Project:
    project = ref()
    assert project is not None, "file facts outlived their project"
    return project


def _python_only_callee(value: ast.expr | None, imports: dict[str, str], qualify: Qualify) -> str:
    """`logging.getLogger` for `logging.getLogger(__name__)`: a call into a Python-only module."""
    if not isinstance(value, ast.Call):
        return ""
    name = dotted_name(value.func)
    if not name or name.split(".", 1)[0] not in imports:
        return ""
    return name if module_call_kind(qualify(name)) == "python" else ""


def _module_assignments(body: list[ast.stmt]) -> Iterator[tuple[str, ast.expr | None]]:
    """(name, value) for module-level assignments, looking into if/try blocks; value None
    for targets that are not plain names (a spoiled name) or have no value."""
    for stmt in body:
        if isinstance(stmt, ast.Assign):
            for target in stmt.targets:
                if isinstance(target, ast.Name):
                    yield target.id, stmt.value
                else:
                    for node in ast.walk(target):
                        if isinstance(node, ast.Name):
                            yield node.id, None
        elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            if stmt.value is not None:
                yield stmt.target.id, stmt.value
        elif isinstance(stmt, (ast.For, ast.AsyncFor, ast.With, ast.AsyncWith)):
            targets = (
                [stmt.target]
                if isinstance(stmt, (ast.For, ast.AsyncFor))
                else [item.optional_vars for item in stmt.items if item.optional_vars is not None]
            )
            for target in targets:
                for node in ast.walk(target):
                    if isinstance(node, ast.Name):
                        yield node.id, None
            yield from _module_assignments(stmt.body)
        elif isinstance(stmt, ast.If):
            yield from _module_assignments(stmt.body)
            yield from _module_assignments(stmt.orelse)
        elif isinstance(stmt, ast.Try):
            yield from _module_assignments(stmt.body)
            for handler in stmt.handlers:
                if handler.name:
                    yield handler.name, None
                yield from _module_assignments(handler.body)
            yield from _module_assignments(stmt.orelse)
            yield from _module_assignments(stmt.finalbody)


Qualify = Callable[[str], str]


def data_kind(value: ast.expr | None, imports: dict[str, str], qualify: Qualify) -> str | None:
    """A description ("an int", "a tensor") when `value` is plain data TorchScript cannot
    read from a global; None for functions, classes, modules, type aliases and unknowns."""
    if value is None:
        return None
    if isinstance(value, ast.Constant):
        return _constant_kind(value.value)
    if isinstance(value, (ast.List, ast.ListComp)):
        return "a list"
    if isinstance(value, ast.Tuple):
        return "a tuple"
    if isinstance(value, (ast.Dict, ast.DictComp)):
        return "a dict"
    if isinstance(value, (ast.Set, ast.SetComp)):
        return "a set"
    if isinstance(value, ast.JoinedStr):
        return "a str"
    if isinstance(value, (ast.Compare, ast.BoolOp)):
        return "a bool"
    if isinstance(value, ast.UnaryOp):
        if not _numeric_leaf(value.operand, imports):
            return None
        return data_kind(value.operand, imports, qualify) or "a number"
    if isinstance(value, ast.BinOp):
        return _binop_kind(value, imports, qualify)
    if isinstance(value, ast.Call):
        return _call_kind(value, qualify)
    if isinstance(value, ast.Attribute):
        name = qualify(dotted_name(value))
        if name.startswith("torch.") and name[6:] in TORCH_DTYPES:
            return "a torch.dtype"
    return None


def _constant_kind(value: object) -> str | None:
    if value is None:
        return "None"
    if isinstance(value, bool):
        return "a bool"
    if isinstance(value, int):
        return "an int"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a str"
    if isinstance(value, bytes):
        return "a bytes object"
    if isinstance(value, complex):
        return "a complex"
    return None


def _numeric_leaf(node: ast.expr, imports: dict[str, str]) -> bool:
    """A literal, or an attribute of an imported module (`math.pi`), inside arithmetic."""
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.UnaryOp):
        return _numeric_leaf(node.operand, imports)
    if isinstance(node, ast.BinOp):
        return _numeric_leaf(node.left, imports) and _numeric_leaf(node.right, imports)
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        return node.value.id in imports  # `math.pi`, `sys.maxsize`
    return False


def _binop_kind(value: ast.BinOp, imports: dict[str, str], qualify: Qualify) -> str | None:
    if not (_numeric_leaf(value.left, imports) and _numeric_leaf(value.right, imports)):
        # `"a" + "b"` and `[0] * 3` are data too; `int | None` (a type) is not.
        left = data_kind(value.left, imports, qualify)
        right = data_kind(value.right, imports, qualify)
        if left is not None and right is not None:
            return left if left == right else "a value"
        return None
    kinds = {_constant_kind(n.value) for n in ast.walk(value) if isinstance(n, ast.Constant)}
    leaves = [n for n in ast.walk(value) if isinstance(n, ast.Attribute)]
    if len(kinds) == 1 and not leaves:
        return kinds.pop() or "a number"
    return "a number"


def _call_kind(value: ast.Call, qualify: Qualify) -> str | None:
    name = dotted_name(value.func)
    if not name:
        return None
    full = qualify(name)
    if full.startswith("torch.") and full[6:] in TENSOR_FACTORIES:
        return "a tensor"
    if full == "torch.device":
        return "a torch.device"
    if full == name and name in _BUILTIN_CONVERSIONS:
        return _BUILTIN_CONVERSIONS[name]
    return None


def is_builtin(name: str, ctx: FunctionContext) -> bool:
    """`name` refers to the Python builtin: not bound locally, imported or defined in the file
    (and no `from ... import *` could have rebound it)."""
    if name in local_names(ctx.node).all:
        return False
    facts = file_facts(ctx)
    if name in facts.definitions or name in ctx.summary.global_names:
        return False
    return not facts.star_import


def resolve_call(
    func: cst.BaseExpression, ctx: FunctionContext, want: Callable[[str], bool] | None = None
) -> str:
    """The qualified name of a call's target when it goes through an import (and `want`
    accepts it), else "". The import's name must not be rebound in the function."""
    name = dotted(func)
    if not name:
        return ""
    head = name.split(".", 1)[0]
    if head not in file_facts(ctx).imports:
        return ""
    qualified = ctx.resolve(name)
    if want is not None and not want(qualified):
        return ""
    # Checked last: collecting a function's local names costs a walk of its body.
    return "" if head in local_names(ctx.node).all else qualified


# -- the Python-only calls TS330 moves out of compiled helpers --------------------------------


@dataclass(frozen=True)
class PythonOnlyCall:
    """A call that can only ever run in Python (I/O, numpy, the interpreter's own state).

    kind: "module" (numpy, time, os, ...), "object" (a method of a module-level
    `logging.getLogger(...)` and the like), "builtin" (open, eval, setattr, ...),
    "numpy" (`tensor.numpy()`), "print" (`print(..., file=...)`).
    """

    kind: str
    name: str  # what to show: "np.zeros", "open", ".numpy()", "print(..., file=...)"
    node: cst.CSTNode  # where the compiler points
    note: str = ""  # after the name: " (`numpy.zeros`)" when called through an alias


def python_only_call(node: cst.Call, ctx: FunctionContext) -> PythonOnlyCall | None:
    func = node.func
    if isinstance(func, cst.Name):
        name = func.value
        if name in PYTHON_BUILTINS and is_builtin(name, ctx):
            return PythonOnlyCall("builtin", name, func)
        if name == "print" and _print_file_arg(node) is not None and is_builtin(name, ctx):
            arg = _print_file_arg(node)
            assert arg is not None
            return PythonOnlyCall("print", "print(..., file=...)", _print_target(arg))
        if name not in file_facts(ctx).imports:
            return None
    elif isinstance(func, cst.Attribute):
        if func.attr.value == "numpy" and numpy_method_receiver(func, ctx):
            return PythonOnlyCall("numpy", ".numpy()", func)
    else:
        return None
    qualified = resolve_call(func, ctx, _is_python_only)
    if qualified:
        shown = ctx.code_for(func)
        note = ""
        if shown.split(".")[0] != qualified.split(".")[0]:
            note = f" (`{qualified}`)"  # through an alias: `now` (`time.time`)
        return PythonOnlyCall("module", shown, func, note)
    if python_object_call(func, ctx):
        return PythonOnlyCall("object", ctx.code_for(func), func)
    return None


def _is_python_only(qualified: str) -> bool:
    return module_call_kind(qualified) == "python"


def python_object_call(func: cst.BaseExpression, ctx: FunctionContext) -> str:
    """For `logger.info` where `logger = logging.getLogger(...)` at module level: the call
    that made the object (`logging.getLogger`), else ""."""
    if not isinstance(func, cst.Attribute):
        return ""
    head = func.value
    while isinstance(head, cst.Attribute):
        head = head.value
    if not isinstance(head, cst.Name) or head.value not in ctx.summary.global_names:
        return ""
    made_by = file_facts(ctx).python_objects.get(head.value, "")
    if made_by and head.value in local_names(ctx.node).all:
        return ""
    return made_by


def _print_file_arg(node: cst.Call) -> cst.Arg | None:
    for arg in node.args:
        if arg.keyword is not None and arg.keyword.value == "file":
            return arg
    return None


def _print_target(arg: cst.Arg) -> cst.CSTNode:
    # The compiler points at the stream (`sys.stderr`) when it is a Python value.
    return arg.value


def numpy_method_receiver(func: cst.Attribute, ctx: FunctionContext) -> bool:
    """`x.numpy()`: TorchScript tensors have no `numpy`; stay silent on `self.numpy()` and
    when a project class defines its own `numpy` method."""
    receiver = func.value
    if isinstance(receiver, cst.Name) and receiver.value == "self":
        return False
    return not _project_defines_method(ctx, "numpy")


def _project_defines_method(ctx: FunctionContext, name: str) -> bool:
    key = (id(ctx.project), name)
    hit = _method_cache.get(key)
    if hit is not None and hit[0]() is ctx.project:
        return hit[1]
    found = any(
        cls.method(name) is not None
        for summary in ctx.project.files.values()
        for cls in summary.classes
    )
    if len(_method_cache) > 64:
        _method_cache.clear()
    _method_cache[key] = (weakref.ref(ctx.project), found)
    return found


# The project is held weakly: a language server's old projects must die with their run.
_method_cache: dict[tuple[int, str], tuple[weakref.ReferenceType[Project], bool]] = {}


def project_defines_method(ctx: FunctionContext, name: str) -> bool:
    return _project_defines_method(ctx, name)


def import_line(tree: ast.Module | None, module: str = "torch") -> int:
    """Where `import <module>` goes: before the first import from that package, else before
    the first import after the docstring and `from __future__` imports, else before the
    first statement."""
    if tree is None:
        return 1
    body = tree.body
    index = 0
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        index = 1  # the module docstring
    while (
        index < len(body)
        and isinstance(body[index], ast.ImportFrom)
        and getattr(body[index], "module", None) == "__future__"
    ):
        index += 1
    imports = [s for s in body[index:] if isinstance(s, (ast.Import, ast.ImportFrom))]
    for stmt in imports:  # next to `import torch.nn as nn` / `from torch import Tensor`
        names = [a.name for a in stmt.names] if isinstance(stmt, ast.Import) else [stmt.module]
        if any(n and n.split(".")[0] == module for n in names):
            return stmt.lineno
    if imports:
        return imports[0].lineno
    return body[index].lineno if index < len(body) else 1


def python_only_import(node: cst.Import | cst.ImportFrom, ctx: FunctionContext) -> str:
    """The module when a compiled helper (not an entry point) imports a Python-only module
    (`import pdb` in a debugging method): TS330 reports it, with the fix that keeps the
    helper out of the model; "" otherwise. An import rule can skip what this returns."""
    if ctx.compiled.entry:
        return ""
    if isinstance(node, cst.Import):
        names = [dotted(alias.name) for alias in node.names]
    elif node.relative or node.module is None:
        return ""
    else:
        names = [dotted(node.module)]
    for name in names:
        if name.split(".", 1)[0] in PYTHON_ONLY_MODULES:
            return name
    return ""
