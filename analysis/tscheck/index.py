"""What a file defines and calls, as plain data.

The index is built from Python's `ast` (a C parser, ~13x faster than libcst, with positions for
free) and holds only facts that `reach` needs: classes, functions, decorators, imports, calls
made by each function, submodules assigned in `__init__`, and the `torch.jit` call sites.
It is pure data (frozen dataclasses), so it can be cached by file content.
libcst parses only the blocks that turn out to hold compiled code (see `parse` and `engine`).
"""

from __future__ import annotations

import ast
import dataclasses
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

# Decorators and calls that mark TorchScript intent, by resolved dotted name.
JIT_SCRIPT = frozenset({"torch.jit.script", "torch.jit.script_if_tracing"})
JIT_TRACE = frozenset({"torch.jit.trace", "torch.jit.trace_module"})
JIT_SAVE = frozenset({"torch.jit.save"})
MODIFIERS = {
    "torch.jit.export": "export",
    "torch.jit.ignore": "ignore",
    "torch.jit.unused": "unused",
    "torch.jit.script_method": "export",
    # Where torch.jit's decorators live (torch/nn/functional.py imports `unused` from there).
    "torch._jit_internal.export": "export",
    "torch._jit_internal.ignore": "ignore",
    "torch._jit_internal.unused": "unused",
}
NN_CONTAINERS = frozenset({"torch.nn.Sequential", "torch.nn.ModuleList", "torch.nn.ModuleDict"})


@dataclass(frozen=True)
class CallSite:
    """A call in a function body, in the shapes that reach can resolve.

    kind: "self" (self.name(...)), "self_attr" (self.owner.name(...)), "super"
    (super().name(...)), "name" (name(...)), "dotted" (a.b.name(...), `name` is the dotted text).
    """

    kind: str
    name: str
    line: int
    column: int
    owner: str = ""


@dataclass(frozen=True)
class FunctionInfo:
    name: str
    qualname: str
    line: int  # the `def` line
    column: int
    end_line: int
    first_line: int  # the first decorator's line, or the def line
    decorators: tuple[str, ...]  # resolved dotted names of the decorator callees
    modifier: str | None  # "export" | "ignore" | "unused" | "drop" (ignore(drop=True))
    params: tuple[str, ...]
    calls: tuple[CallSite, ...]
    is_async: bool = False
    # Declared but not implemented: @abstractmethod, or a body that only raises
    # NotImplementedError (after an optional docstring).
    abstract: bool = False
    # Dotted names in parameter and return annotations: classes there are compiled too.
    annotation_names: tuple[str, ...] = ()
    # How many earlier defs in the same scope share this name (a property's setter is 1).
    ordinal: int = 0
    # `self.X` attributes a `for` loop iterates (`for b in self.blocks:`, also through
    # `enumerate()` / `zip()`): the modules a ModuleList holds run there.
    iterates: tuple[str, ...] = ()
    # For a decorator factory defined in the project: "wraps" when its inner function is
    # decorated with functools.wraps, "plain" when it returns an inner *args wrapper without it.
    wrapper: str | None = None

    @property
    def is_property(self) -> bool:
        return "property" in self.decorators

    @property
    def is_staticmethod(self) -> bool:
        return "staticmethod" in self.decorators


@dataclass(frozen=True)
class Submodule:
    """`self.attr = ...` in `__init__` whose value constructs `target` (a resolved class name)."""

    attr: str
    target: str
    line: int
    in_container: str = ""  # "torch.nn.Sequential" etc. when nested in a container call


@dataclass(frozen=True)
class InitAttr:
    """`self.attr = value` in `__init__`: the value's shape, for rules about module attributes.

    shape: "list" | "dict" | "tuple" | "set" | "lambda" | "none" | "call" | "const" | "other";
    `modules` lists classes constructed inside a list/dict/tuple literal or comprehension.
    """

    attr: str
    shape: str
    line: int
    column: int
    modules: tuple[str, ...] = ()
    annotated: bool = False


@dataclass(frozen=True)
class ClassInfo:
    name: str
    qualname: str
    line: int
    end_line: int
    first_line: int
    bases: tuple[str, ...]
    decorators: tuple[str, ...]
    methods: tuple[FunctionInfo, ...]
    submodules: tuple[Submodule, ...]
    init_attrs: tuple[InitAttr, ...]
    class_attrs: tuple[str, ...]  # names bound by plain assignment in the class body
    constants: tuple[str, ...]  # listed in __constants__
    finals: tuple[str, ...]  # annotated Final at class level
    annotations: tuple[str, ...]  # any class-level annotation (`x: int`)
    unused_properties: tuple[str, ...]  # listed in __jit_unused_properties__

    @property
    def abstract(self) -> bool:
        """A class that declares methods for subclasses to implement: never scripted itself."""
        return any(m.abstract for m in self.methods)

    def method(self, name: str) -> FunctionInfo | None:
        for m in self.methods:
            if m.name == name:
                return m
        return None


@dataclass(frozen=True)
class JitSite:
    """A call into torch.jit (or `.save` on its result) with what it was given.

    kind: "script" | "trace" | "save" | "method" (a method called on a scripted object).
    target: resolved dotted name of the class or function scripted, or "" when unknown.
    """

    kind: str
    target: str
    line: int
    column: int
    method: str = ""
    # The target is the callee of a call whose result was passed (`torch.jit.script(Net())`,
    # or `net = Net(); torch.jit.script(net)`): a class to instantiate, or a factory function.
    from_call: bool = False


@dataclass(frozen=True)
class SyntaxProblem:
    message: str
    line: int
    column: int


@dataclass(frozen=True)
class FileSummary:
    path: str
    module: str
    imports: tuple[tuple[str, str], ...]  # local name -> dotted name
    functions: tuple[FunctionInfo, ...]
    classes: tuple[ClassInfo, ...]
    jit_sites: tuple[JitSite, ...]
    global_names: tuple[str, ...]  # names bound by module-level assignments
    syntax_error: SyntaxProblem | None = None

    def function(self, name: str) -> FunctionInfo | None:
        for f in self.functions:
            if f.name == name:
                return f
        return None

    def cls(self, name: str) -> ClassInfo | None:
        for c in self.classes:
            if c.name == name:
                return c
        return None


def summarize(path: str, module: str, text: str) -> FileSummary:
    """Index one file. Never raises on user code: a syntax error is recorded in the summary."""
    text = text.removeprefix("\ufeff")  # a byte-order mark is not part of the source
    try:
        tree = ast.parse(text, filename=path)
    except SyntaxError as exc:
        problem = SyntaxProblem(
            message=f"SyntaxError: {exc.msg or 'invalid syntax'}",
            line=exc.lineno or 1,
            column=max((exc.offset or 1) - 1, 0),
        )
        return FileSummary(path, module, (), (), (), (), (), syntax_error=problem)
    except (ValueError, RecursionError, MemoryError) as exc:  # null bytes, absurd nesting
        reason = "nested too deeply for Python's parser" if isinstance(exc, RecursionError) else exc
        problem = SyntaxProblem(
            message=f"Python cannot parse this file: {reason}", line=1, column=0
        )
        return FileSummary(path, module, (), (), (), (), (), syntax_error=problem)
    jit_lines = frozenset(
        number for number, line in enumerate(text.splitlines(), start=1) if "jit" in line
    )
    return _Indexer(module).file(path, tree, jit_lines)


class _Indexer:
    def __init__(self, module: str) -> None:
        self.module = module
        self.imports: dict[str, str] = {}
        self.local_defs: set[str] = set()

    # -- names -------------------------------------------------------------------------

    def resolve(self, dotted: str) -> str:
        """Resolve a dotted name as written in this file to its qualified name."""
        head, _, rest = dotted.partition(".")
        if head in self.imports:
            full = self.imports[head]
            return f"{full}.{rest}" if rest else full
        if head in self.local_defs:
            return f"{self.module}.{dotted}" if self.module else dotted
        return dotted

    def resolve_expr(self, node: ast.expr) -> str:
        dotted = dotted_name(node)
        return self.resolve(dotted) if dotted else ""

    def _import(self, node: ast.Import | ast.ImportFrom) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    self.imports[alias.asname] = alias.name
                else:
                    head = alias.name.split(".")[0]
                    self.imports[head] = head
            return
        base = node.module or ""
        if node.level:
            parts = self.module.split(".")
            # A module's package is its name minus the last part; each extra dot goes up one.
            package = parts[: max(len(parts) - node.level, 0)]
            base = ".".join([*package, base] if base else package)
        for alias in node.names:
            if alias.name == "*":
                continue
            self.imports[alias.asname or alias.name] = (
                f"{base}.{alias.name}" if base else alias.name
            )

    # -- file ----------------------------------------------------------------------------

    def file(self, path: str, tree: ast.Module, jit_lines: frozenset[int]) -> FileSummary:
        global_names = self.bind(tree.body)
        return self.assemble(
            path,
            self.definitions(tree.body),
            global_names,
            # Most files never mention torch.jit: skip the scan of every scope.
            tuple(self.jit_sites(tree, jit_lines)) if jit_lines else (),
        )

    def bind(self, body: Sequence[ast.stmt]) -> list[str]:
        """The first pass: imports and module-level names (what `resolve` needs); returns the
        names bound by module-level assignments, in order, repeats included."""
        global_names: list[str] = []
        for stmt in _module_level(body):
            if isinstance(stmt, (ast.Import, ast.ImportFrom)):
                self._import(stmt)
            elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                self.local_defs.add(stmt.name)
            elif isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                for t in targets:
                    for name in _bound_names(t):
                        global_names.append(name)
                        self.local_defs.add(name)
        return global_names

    def definitions(self, body: Sequence[ast.stmt]) -> list[FunctionInfo | ClassInfo]:
        """The second pass: module-level functions (ordinal 0) and classes, in order."""
        out: list[FunctionInfo | ClassInfo] = []
        for stmt in _module_level(body):
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                out.append(self.function(stmt, stmt.name))
            elif isinstance(stmt, ast.ClassDef):
                out.append(self.cls(stmt))
        return out

    def assemble(
        self,
        path: str,
        definitions: Sequence[FunctionInfo | ClassInfo],
        global_names: Sequence[str],
        jit_sites: tuple[JitSite, ...],
    ) -> FileSummary:
        functions: list[FunctionInfo] = []
        classes: list[ClassInfo] = []
        for item in definitions:
            if isinstance(item, FunctionInfo):
                ordinal = sum(1 for f in functions if f.name == item.name)
                functions.append(dataclasses.replace(item, ordinal=ordinal) if ordinal else item)
            else:
                classes.append(item)
        return FileSummary(
            path=path,
            module=self.module,
            imports=tuple(sorted(self.imports.items())),
            functions=tuple(functions),
            classes=tuple(classes),
            jit_sites=jit_sites,
            global_names=tuple(dict.fromkeys(global_names)),
        )

    # -- functions -----------------------------------------------------------------------

    def function(self, node: ast.FunctionDef | ast.AsyncFunctionDef, qualname: str) -> FunctionInfo:
        decorators = tuple(self.resolve_expr(_callee(d)) for d in node.decorator_list)
        modifier = None
        for deco, text in zip(node.decorator_list, decorators, strict=True):
            kind = MODIFIERS.get(text)
            if kind == "ignore" and isinstance(deco, ast.Call) and _drop_true(deco):
                kind = "drop"
            if kind and modifier is None:
                # The outermost decorator is applied last and wins (`@ignore` over `@export`).
                modifier = kind
        args = node.args
        params = tuple(a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs])
        first_line = min([node.lineno, *(d.lineno for d in node.decorator_list)])
        return FunctionInfo(
            name=node.name,
            qualname=qualname,
            line=node.lineno,
            column=node.col_offset,
            end_line=node.end_lineno or node.lineno,
            first_line=first_line,
            decorators=decorators,
            modifier=modifier,
            params=params,
            calls=tuple(sorted(self.calls(node.body), key=lambda c: (c.line, c.column))),
            is_async=isinstance(node, ast.AsyncFunctionDef),
            wrapper=_wrapper_kind(node, self),
            annotation_names=_annotation_names(node),
            abstract="abc.abstractmethod" in decorators or _raises_not_implemented(node.body),
            iterates=_iterated_self_attrs(node.body),
        )

    def calls(self, body: Sequence[ast.stmt]) -> Iterator[CallSite]:
        for node in walk_compiled(body):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            if isinstance(func, ast.Name):
                yield CallSite("name", func.id, node.lineno, node.col_offset)
            elif isinstance(func, ast.Attribute):
                value = func.value
                if isinstance(value, ast.Name) and value.id == "self":
                    yield CallSite("self", func.attr, node.lineno, node.col_offset)
                elif (
                    isinstance(value, ast.Attribute)
                    and isinstance(value.value, ast.Name)
                    and value.value.id == "self"
                ):
                    yield CallSite(
                        "self_attr", func.attr, node.lineno, node.col_offset, owner=value.attr
                    )
                elif (
                    isinstance(value, ast.Call)
                    and isinstance(value.func, ast.Name)
                    and value.func.id == "super"
                ):
                    yield CallSite("super", func.attr, node.lineno, node.col_offset)
                else:
                    dotted = dotted_name(func)
                    if dotted:
                        yield CallSite("dotted", dotted, node.lineno, node.col_offset)

    # -- classes -------------------------------------------------------------------------

    def cls(self, node: ast.ClassDef) -> ClassInfo:
        methods: list[FunctionInfo] = []
        class_attrs: list[str] = []
        constants: list[str] = []
        finals: list[str] = []
        annotations: list[str] = []
        unused_props: list[str] = []
        for stmt in node.body:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                method = self.function(stmt, f"{node.name}.{stmt.name}")
                ordinal = sum(1 for m in methods if m.name == stmt.name)
                methods.append(dataclasses.replace(method, ordinal=ordinal) if ordinal else method)
            elif isinstance(stmt, ast.Assign):
                for t in stmt.targets:
                    for name in _bound_names(t):
                        if name == "__constants__":
                            constants.extend(_string_items(stmt.value))
                        elif name == "__jit_unused_properties__":
                            unused_props.extend(_string_items(stmt.value))
                        else:
                            class_attrs.append(name)
            elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
                name = stmt.target.id
                annotations.append(name)
                if _is_final(stmt.annotation):
                    finals.append(name)
                if name == "__constants__" and stmt.value is not None:
                    constants.extend(_string_items(stmt.value))
                elif stmt.value is not None:
                    class_attrs.append(name)
        # The last def wins at run time (earlier ones may be @overload stubs).
        init = next((m for m in reversed(node.body) if _is_def(m, "__init__")), None)
        submodules: list[Submodule] = []
        init_attrs: list[InitAttr] = []
        if isinstance(init, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for target, value, annotated in _self_assignments(init.body):
                submodules.extend(self.submodules(target, value))
                init_attrs.append(self.init_attr(target, value, annotated))
        decorators = tuple(self.resolve_expr(_callee(d)) for d in node.decorator_list)
        return ClassInfo(
            name=node.name,
            qualname=node.name,
            line=node.lineno,
            end_line=node.end_lineno or node.lineno,
            first_line=min([node.lineno, *(d.lineno for d in node.decorator_list)]),
            bases=tuple(self.resolve_expr(b) for b in node.bases),
            decorators=decorators,
            methods=tuple(methods),
            submodules=tuple(submodules),
            init_attrs=tuple(init_attrs),
            class_attrs=tuple(class_attrs),
            constants=tuple(constants),
            finals=tuple(finals),
            annotations=tuple(annotations),
            unused_properties=tuple(unused_props),
        )

    def submodules(self, target: ast.Attribute, value: ast.expr) -> Iterator[Submodule]:
        """Every class constructed in `value`, noting containers (Sequential, ModuleList...)."""

        def visit(node: ast.AST, container: str) -> Iterator[Submodule]:
            if isinstance(node, ast.Call):
                callee = self.resolve_expr(node.func)
                if callee:
                    yield Submodule(target.attr, callee, node.lineno, container)
                inner = callee if callee in NN_CONTAINERS else container
                for child in ast.iter_child_nodes(node):
                    yield from visit(child, inner)
                return
            if isinstance(node, ast.Lambda):
                return
            for child in ast.iter_child_nodes(node):
                yield from visit(child, container)

        yield from visit(value, "")

    def init_attr(self, target: ast.Attribute, value: ast.expr, annotated: bool) -> InitAttr:
        modules: tuple[str, ...] = ()
        if isinstance(value, (ast.List, ast.ListComp)):
            shape = "list"
        elif isinstance(value, (ast.Dict, ast.DictComp)):
            shape = "dict"
        elif isinstance(value, ast.Tuple):
            shape = "tuple"
        elif isinstance(value, (ast.Set, ast.SetComp)):
            shape = "set"
        elif isinstance(value, ast.Lambda):
            shape = "lambda"
        elif isinstance(value, ast.Constant):
            shape = "none" if value.value is None else "const"
        elif isinstance(value, ast.Call):
            shape = "call"
        else:
            shape = "other"
        if shape in ("list", "dict", "tuple"):
            modules = tuple(
                self.resolve_expr(n.func) for n in ast.walk(value) if isinstance(n, ast.Call)
            )
        return InitAttr(target.attr, shape, target.lineno, target.col_offset, modules, annotated)

    # -- torch.jit call sites ------------------------------------------------------------

    def jit_sites(self, tree: ast.Module, jit_lines: frozenset[int]) -> Iterator[JitSite]:
        """torch.jit.script/trace/save calls, resolving variables assigned in the same scope.
        Only scopes with "jit" on one of their lines are read (`jit_lines`)."""
        for body in [tree.body, *nested_scopes(tree.body, jit_lines)]:
            yield from self._scope_sites(body)

    def module_sites(self, nodes: Sequence[ast.AST]) -> Iterator[JitSite]:
        """The sites of the module scope itself (variables span every top-level block), from
        its `scope_calls` (of every top-level statement, in order)."""
        return self._sites(nodes)

    def scope_sites(self, scopes: Sequence[Sequence[ast.stmt]]) -> Iterator[JitSite]:
        for body in scopes:
            yield from self._scope_sites(body)

    def _scope_sites(self, body: Sequence[ast.stmt]) -> Iterator[JitSite]:
        return self._sites(scope_calls(body))

    def _sites(self, nodes: Sequence[ast.AST]) -> Iterator[JitSite]:
        constructed: dict[str, str] = {}  # variable -> class constructed into it
        scripted: dict[str, str] = {}  # variable -> class or function scripted into it
        for node in nodes:
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target = node.targets[0]
                if isinstance(target, ast.Name) and isinstance(node.value, ast.Call):
                    callee = self.resolve_expr(node.value.func)
                    if callee in JIT_SCRIPT | JIT_TRACE and node.value.args:
                        scripted[target.id] = self._site_target(node.value.args[0], constructed)
                    elif callee:
                        constructed[target.id] = callee
        for node in nodes:
            if not isinstance(node, ast.Call):
                continue
            callee = self.resolve_expr(node.func)
            line, col = node.lineno, node.col_offset
            if callee in JIT_SCRIPT | JIT_TRACE and node.args:
                kind = "script" if callee in JIT_SCRIPT else "trace"
                arg = node.args[0]
                from_call = isinstance(arg, ast.Call) or (
                    isinstance(arg, ast.Name) and arg.id in constructed
                )
                scripted_name = self._site_target(arg, constructed)
                yield JitSite(kind, scripted_name, line, col, from_call=from_call)
            elif callee in JIT_SAVE and node.args:
                arg = node.args[0]
                what = scripted.get(arg.id, "") if isinstance(arg, ast.Name) else ""
                if isinstance(arg, ast.Call) and self.resolve_expr(arg.func) in JIT_SCRIPT:
                    what = self._site_target(arg.args[0], constructed) if arg.args else ""
                yield JitSite("save", what, line, col)
            elif (
                isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id in scripted
            ):
                what = scripted[node.func.value.id]
                kind = "save" if node.func.attr == "save" else "method"
                yield JitSite(kind, what, line, col, method=node.func.attr)

    def _site_target(self, arg: ast.expr, constructed: dict[str, str]) -> str:
        if isinstance(arg, ast.Call):
            return self.resolve_expr(arg.func)
        if isinstance(arg, ast.Name) and arg.id in constructed:
            return constructed[arg.id]
        return self.resolve_expr(arg)


# -- helpers ---------------------------------------------------------------------------------


def nested_scopes(body: Sequence[ast.stmt], jit_lines: frozenset[int]) -> list[list[ast.stmt]]:
    """Bodies of the functions under `body` with "jit" on one of their lines, in the order of
    a depth-first walk that takes the last statement first (the order of `jit_sites`)."""
    scopes: list[list[ast.stmt]] = []
    stack: list[ast.AST] = list(body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            end = node.end_lineno or node.lineno
            if not any(node.lineno <= line <= end for line in jit_lines):
                continue
            if not isinstance(node, ast.ClassDef):
                scopes.append(node.body)
            stack.extend(node.body)
        elif isinstance(node, (ast.If, ast.Try, ast.With, ast.For, ast.While)):
            stack.extend(_children(node))
    return scopes


def dotted_name(node: ast.expr) -> str:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return ""


def _callee(node: ast.expr) -> ast.expr:
    return node.func if isinstance(node, ast.Call) else node


def _drop_true(call: ast.Call) -> bool:
    values = [*call.args, *(k.value for k in call.keywords if k.arg == "drop")]
    return any(isinstance(v, ast.Constant) and v.value is True for v in values)


def _is_def(node: ast.stmt, name: str) -> bool:
    return isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name


def _is_final(annotation: ast.expr) -> bool:
    node = annotation.value if isinstance(annotation, ast.Subscript) else annotation
    return dotted_name(node).split(".")[-1] == "Final"


def _bound_names(target: ast.expr) -> Iterator[str]:
    if isinstance(target, ast.Name):
        yield target.id
    elif isinstance(target, (ast.Tuple, ast.List)):
        for elt in target.elts:
            yield from _bound_names(elt)
    elif isinstance(target, ast.Starred):
        yield from _bound_names(target.value)


def _string_items(node: ast.expr) -> Iterator[str]:
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        for elt in node.elts:
            if isinstance(elt, ast.Constant) and isinstance(elt.value, str):
                yield elt.value


def _module_level(body: Sequence[ast.stmt]) -> Iterator[ast.stmt]:
    """Module-level statements, looking inside `if`/`try` blocks (version guards)."""
    for stmt in body:
        yield stmt
        if isinstance(stmt, ast.If):
            yield from _module_level(stmt.body)
            yield from _module_level(stmt.orelse)
        elif isinstance(stmt, ast.Try):
            yield from _module_level(stmt.body)
            for handler in stmt.handlers:
                yield from _module_level(handler.body)
            yield from _module_level(stmt.orelse)


_OPAQUE = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)
_SKIP_FIELDS = frozenset({"ctx", "type_comment", "annotation", "returns", "decorator_list"})
_field_cache: dict[type[ast.AST], tuple[str, ...]] = {}


def _children(node: ast.AST) -> Iterator[ast.AST]:
    """Child nodes, faster than ast.iter_child_nodes: no Load/Store contexts, no annotations."""
    names = _field_cache.get(type(node))
    if names is None:
        names = tuple(f for f in node._fields if f not in _SKIP_FIELDS)
        _field_cache[type(node)] = names
    for name in names:
        value = getattr(node, name, None)
        if isinstance(value, list):
            for item in value:
                if isinstance(item, ast.AST):
                    yield item
        elif isinstance(value, ast.AST):
            yield value


def scope_calls(body: Sequence[ast.stmt]) -> list[ast.AST]:
    """The assignments and calls of a scope in source order (all that jit sites look at)."""
    return [n for n in _scope_nodes(body) if isinstance(n, (ast.Assign, ast.Call))]


def _scope_nodes(body: Sequence[ast.stmt]) -> Iterator[ast.AST]:
    """All nodes of a scope in source order, not entering nested functions or classes."""
    stack: list[ast.AST] = list(reversed(body))
    while stack:
        node = stack.pop()
        yield node
        below = [c for c in _children(node) if not isinstance(c, _OPAQUE[:3])]
        below.reverse()
        stack.extend(below)


def _self_assignments(body: Sequence[ast.stmt]) -> Iterator[tuple[ast.Attribute, ast.expr, bool]]:
    for node in _scope_nodes(body):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if _is_self_attr(target):
                    assert isinstance(target, ast.Attribute)
                    yield target, node.value, False
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            if _is_self_attr(node.target):
                assert isinstance(node.target, ast.Attribute)
                yield node.target, node.value, True


def _is_self_attr(node: ast.expr) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "self"
    )


def is_scripting_test(test: ast.expr) -> bool | None:
    """The value of `test` while TorchScript compiles, when `torch.jit.is_scripting()` decides it.

    TorchScript folds `is_scripting()` to True, and with it `not`, `and` and `or` around it
    (verified: `if flag and not torch.jit.is_scripting():` is never compiled); None otherwise.
    """
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        inner = is_scripting_test(test.operand)
        return None if inner is None else not inner
    if isinstance(test, ast.BoolOp):
        values = [is_scripting_test(v) for v in test.values]
        decisive = isinstance(test.op, ast.Or)  # any True decides `or`, any False `and`
        if decisive in values:
            return decisive
        if None not in values:  # every operand agrees
            return not decisive
        return None
    if isinstance(test, ast.Call) and not test.args:
        if dotted_name(test.func).split(".")[-1] in ("is_scripting", "_is_scripting"):
            return True
    return None


def walk_compiled(body: Sequence[ast.stmt]) -> Iterator[ast.AST]:
    """The nodes TorchScript compiles in a body: skips nested defs/classes/lambdas and the
    branch of a `torch.jit.is_scripting()` test that runs only in eager mode."""
    stack: list[ast.AST] = list(body)
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, (ast.If, ast.IfExp)):
            scripting = is_scripting_test(node.test)
            if scripting is not None:
                kept = node.body if scripting else node.orelse
                stack.extend(kept if isinstance(kept, list) else [kept])
                continue
        stack.extend(c for c in _children(node) if not isinstance(c, _OPAQUE))


def _raises_not_implemented(body: Sequence[ast.stmt]) -> bool:
    statements = list(body)
    if statements and isinstance(statements[0], ast.Expr):
        value = statements[0].value
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            statements = statements[1:]
    if len(statements) != 1 or not isinstance(statements[0], ast.Raise):
        return False
    exc = statements[0].exc
    if isinstance(exc, ast.Call):
        exc = exc.func
    return exc is not None and dotted_name(exc).split(".")[-1] == "NotImplementedError"


def _annotation_names(node: ast.FunctionDef | ast.AsyncFunctionDef) -> tuple[str, ...]:
    args = node.args
    annotations = [
        a.annotation
        for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]
        if a.annotation is not None and a.arg != "self"
    ]
    if node.returns is not None:
        annotations.append(node.returns)
    names: list[str] = []
    for annotation in annotations:
        for sub in ast.walk(annotation):
            if isinstance(sub, (ast.Name, ast.Attribute)):
                name = dotted_name(sub)
                if name and name not in names:
                    names.append(name)
    return tuple(names)


def _wrapper_kind(node: ast.FunctionDef | ast.AsyncFunctionDef, indexer: _Indexer) -> str | None:
    """Classify a decorator factory: does it return an inner function, wrapped or not?"""
    inner = [s for s in node.body if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef))]
    returned = {
        s.value.id for s in node.body if isinstance(s, ast.Return) and isinstance(s.value, ast.Name)
    }
    for fn in inner:
        if fn.name not in returned:
            continue
        names = {indexer.resolve_expr(_callee(d)) for d in fn.decorator_list}
        if names & {"functools.wraps", "wraps"}:
            return "wraps"
        if fn.args.vararg or fn.args.kwarg:
            return "plain"
    return None


def _iterated_self_attrs(body: Sequence[ast.stmt]) -> tuple[str, ...]:
    """`X` for every `for ... in self.X` / `enumerate(self.X)` / `zip(self.X, ...)` loop."""
    found: list[str] = []
    for node in walk_compiled(body):
        if not isinstance(node, (ast.For, ast.comprehension)):
            continue
        sources = [node.iter]
        if isinstance(node.iter, ast.Call) and isinstance(node.iter.func, ast.Name):
            if node.iter.func.id in ("enumerate", "zip", "reversed"):
                sources = list(node.iter.args)
        for source in sources:
            if (
                isinstance(source, ast.Attribute)
                and isinstance(source.value, ast.Name)
                and source.value.id == "self"
                and source.attr not in found
            ):
                found.append(source.attr)
    return tuple(found)
