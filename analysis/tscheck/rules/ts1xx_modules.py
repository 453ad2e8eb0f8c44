"""TS160-TS189: nn.Module structure that TorchScript rejects.

Attributes the compiler cannot type or does not see, containers of submodules used in ways the
compiler cannot unroll, module construction and mutation in compiled code, `super()`, the
nn.Module API, and Python-side checks on the module instance (`super().__init__()`,
`__constants__`, lambda hooks).

Most rules here need facts about the class `self` is: what `__init__` assigns, what the class
body declares, which names are `Final` or `__constants__`. `_facts(ctx)` gathers them once per
class (walking the MRO, so inherited attributes count) and caches them per project.
"""

from __future__ import annotations

import re
import weakref
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import libcst as cst

from tscheck import cstwalk
from tscheck.index import ClassInfo, FileSummary, FunctionInfo, InitAttr
from tscheck.model import ChainLink, Family, Fix, Range, TextEdit
from tscheck.reach import Project
from tscheck.rules.base import FileContext, FunctionContext, Rule, dotted, ex

# Attributes nn.Module.__init__ sets on every instance: always there for the compiler.
_NN_MODULE_ATTRS = frozenset(
    {
        "training",
        "_parameters",
        "_buffers",
        "_non_persistent_buffers_set",
        "_backward_pre_hooks",
        "_backward_hooks",
        "_is_full_backward_hook",
        "_forward_hooks",
        "_forward_hooks_with_kwargs",
        "_forward_hooks_always_called",
        "_forward_pre_hooks",
        "_forward_pre_hooks_with_kwargs",
        "_state_dict_hooks",
        "_state_dict_pre_hooks",
        "_load_state_dict_pre_hooks",
        "_load_state_dict_post_hooks",
        "_modules",
        "call_super_init",
        "_compiled_call_impl",
    }
)
_MODULE_BASES = frozenset({"torch.nn.Module", "torch.nn.modules.module.Module", "object"})
_CONTAINERS = ("ModuleList", "Sequential", "ModuleDict")
_LIST_CONTAINERS = ("ModuleList", "Sequential")
_FINAL_NAMES = frozenset({"typing.Final", "typing_extensions.Final", "torch.jit.Final"})
_FUTURE_ANNOTATIONS = ("annotations", "__future__.annotations")


# -- facts about the class `self` is ---------------------------------------------------------


@dataclass(frozen=True)
class _Init:
    """One `self.attr = value` in some class's `__init__`."""

    summary: FileSummary
    cls: ClassInfo
    attr: InitAttr


@dataclass
class _Facts:
    # A weak reference: _CACHE holds facts under their project as a weak key, and a strong
    # reference from the value would keep every project (and its summaries) alive forever.
    project_ref: weakref.ReferenceType[Project]
    classes: list[tuple[FileSummary, ClassInfo]]  # the MRO
    module: bool  # an nn.Module subclass
    # Every base outside the project is nn.Module (or object): no attribute is hidden in a
    # torch or third-party base class we cannot see.
    closed: bool
    inits: dict[str, list[_Init]] = field(default_factory=dict)
    # TorchScript reads class annotations (and so `Final`) from the first class in the MRO
    # that has any: a subclass with annotations of its own hides those of its bases.
    finals: set[str] = field(default_factory=set)
    annotations: set[str] = field(default_factory=set)
    annotations_owner: ClassInfo | None = None
    constants: set[str] = field(default_factory=set)  # the effective __constants__
    constants_owner: tuple[FileSummary, ClassInfo] | None = None
    methods: set[str] = field(default_factory=set)
    class_attrs: dict[str, tuple[FileSummary, ClassInfo]] = field(default_factory=dict)

    def in_file(self, path: str) -> bool:
        """Every class of the MRO is in `path`: its text shows every assignment."""
        return all(s.path == path for s, _ in self.classes)

    def declared_constant(self, name: str) -> bool:
        return name in self.finals or name in self.constants

    def defined_by_init(self, name: str) -> bool:
        return name in self.inits or name in _NN_MODULE_ATTRS

    def container(self, name: str) -> str | None:
        """ "ModuleList" / "Sequential" / "ModuleDict" when every assignment builds that."""
        inits = self.inits.get(name)
        if not inits:
            return None
        kinds = {_container_built(i) for i in inits}
        if len(kinds) != 1:
            return None
        return kinds.pop()

    def submodule_class(self, name: str) -> str | None:
        """The module class every `__init__` assignment of `name` constructs, if one."""
        inits = self.inits.get(name)
        if not inits:
            return None
        targets = {_outer_call(i) for i in inits}
        if len(targets) != 1:
            return None
        target = targets.pop()
        if target and _is_module_class(self.project, target):
            return target
        return None

    @property
    def project(self) -> Project:
        project = self.project_ref()
        assert project is not None, "facts outlived their project"
        return project


def _outer_call(init: _Init) -> str | None:
    """The class the value of an `__init__` assignment constructs (the outermost call)."""
    if init.attr.shape != "call":
        return None
    for sub in init.cls.submodules:
        if sub.attr == init.attr.attr and sub.line == init.attr.line and not sub.in_container:
            return sub.target
    return None


def _container_built(init: _Init) -> str | None:
    target = _outer_call(init)
    return _container_name(target) if target else None


def _container_name(qualified: str) -> str | None:
    parts = qualified.split(".")
    if len(parts) >= 3 and parts[:2] == ["torch", "nn"] and parts[-1] in _CONTAINERS:
        return parts[-1]
    return None


def _is_torch_nn_class(qualified: str) -> bool:
    prefix, _, last = qualified.rpartition(".")
    if not last[:1].isupper():
        return False
    return prefix in ("torch.nn", "torch.nn.parameter") or prefix.startswith("torch.nn.modules")


def _is_module_class(project: Project, qualified: str) -> bool:
    """A torch.nn module class, or a project class deriving from one."""
    if _is_torch_nn_class(qualified):
        return qualified.rpartition(".")[2] not in ("Parameter", "Buffer")
    return project.lookup_class(qualified) is not None and project.is_module_class(qualified)


_CACHE: weakref.WeakKeyDictionary[Project, dict[str, _Facts]] = weakref.WeakKeyDictionary()


def _facts(ctx: FunctionContext) -> _Facts | None:
    context = ctx.compiled.context
    if not context:
        return None
    table = _CACHE.setdefault(ctx.project, {})
    found = table.get(context)
    if found is None:
        found = _gather(ctx.project, context)
        table[context] = found
    return found


def _gather(project: Project, context: str) -> _Facts:
    mro = project.mro(context)
    closed = bool(mro)
    for summary, cls in mro:
        for base in cls.bases:
            q = project.qualify(summary, base)
            if q not in _MODULE_BASES and project.lookup_class(q) is None:
                closed = False
    facts = _Facts(weakref.ref(project), mro, project.is_module_class(context), closed)
    for summary, cls in mro:
        for attr in cls.init_attrs:
            facts.inits.setdefault(attr.attr, []).append(_Init(summary, cls, attr))
        if cls.annotations and facts.annotations_owner is None:
            facts.finals.update(cls.finals)
            facts.annotations.update(cls.annotations)
            facts.annotations_owner = cls
        facts.methods.update(m.name for m in cls.methods)
        for name in cls.class_attrs:
            facts.class_attrs.setdefault(name, (summary, cls))
        # The first class in the MRO that lists __constants__ hides those of its bases.
        if cls.constants and facts.constants_owner is None:
            facts.constants.update(cls.constants)
            facts.constants_owner = (summary, cls)
    return facts


# -- small helpers ---------------------------------------------------------------------------


def _self_name(ctx: FunctionContext) -> str | None:
    """The name the instance has in a compiled method (`self`), None outside methods."""
    info = ctx.compiled.info
    if ctx.compiled.owner is None or not ctx.compiled.context or not info.params:
        return None
    if info.is_staticmethod or "classmethod" in info.decorators:
        return None
    return info.params[0]


def _self_attr(node: cst.CSTNode, self_name: str | None) -> str | None:
    """`X` for `self.X`."""
    if (
        self_name is not None
        and isinstance(node, cst.Attribute)
        and isinstance(node.value, cst.Name)
        and node.value.value == self_name
    ):
        return node.attr.value
    return None


def _is_target(ctx: FunctionContext, node: cst.CSTNode) -> bool:
    """`node` is written to (an assignment target), not read."""
    parent = ctx.parent()
    if isinstance(parent, cst.AssignTarget) and parent.target is node:
        return True
    if isinstance(parent, (cst.AugAssign, cst.AnnAssign)) and parent.target is node:
        return True
    if isinstance(parent, (cst.Element, cst.StarredElement)):
        holder = ctx.parent(3)
        return isinstance(holder, cst.AssignTarget) or isinstance(ctx.parent(2), cst.AssignTarget)
    return False


def _future_annotations(summary: FileSummary) -> bool:
    return any(
        local == "annotations" and q.startswith("__future__") for local, q in summary.imports
    )


def _init_link(init: _Init, text: str) -> ChainLink:
    return ChainLink(text, init.summary.path, init.attr.line, f"{init.cls.name}.__init__")


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _mentions(text: str, name: str) -> Iterator[tuple[int, bool]]:
    """(line, is_assignment) for every `.name` in the text (comments and strings included)."""
    pattern = re.compile(
        rf"\.{re.escape(name)}\b(\s*(?::[^=\n]*)?(?:[-+*/%&|^@]|//|\*\*|<<|>>)?=(?!=))?"
    )
    for match in pattern.finditer(text):
        yield _line_of(text, match.start()), match.group(1) is not None


_REGISTER = r"(?:register_buffer|register_parameter|add_module|register_module)\(\s*"


def _set_dynamically(text: str, name: str) -> bool:
    """The file may set `name` without writing `.name =`: setattr, __dict__, register_*."""
    if "setattr(" in text or "__dict__" in text:
        return True
    quoted = rf"[\"']{re.escape(name)}[\"']"
    if re.search(_REGISTER + quoted, text):
        return True
    # register_buffer(some_variable, ...) with the name spelled somewhere as a string
    return bool(re.search(_REGISTER + r"[^\"'\s]", text)) and bool(re.search(quoted, text))


def _method_lines(facts: _Facts, path: str, exclude: set[str]) -> set[int]:
    """Lines of the MRO classes' methods (in `path`) whose names are not in `exclude`."""
    lines: set[int] = set()
    for summary, cls in facts.classes:
        if summary.path != path:
            continue
        for method in cls.methods:
            if method.name not in exclude:
                lines.update(range(method.first_line, method.end_line + 1))
    return lines


def _init_callees(facts: _Facts) -> set[str]:
    """`__init__` and every method it calls on self, transitively."""
    names = {"__init__"}
    todo = ["__init__"]
    while todo:
        current = todo.pop()
        for _, cls in facts.classes:
            method = cls.method(current)
            if method is None:
                continue
            for call in method.calls:
                if call.kind in ("self", "super") and call.name not in names:
                    names.add(call.name)
                    todo.append(call.name)
    return names


def _only_written_in(ctx: FunctionContext, facts: _Facts, name: str, lines: set[int]) -> bool:
    """Outside `lines` and compiled-only methods, nothing in the file writes `.name`."""
    text = ctx.blocks.text
    if _set_dynamically(text, name):
        return False
    return all(line in lines for line, assigned in _mentions(text, name) if assigned)


def _only_mentioned_in(ctx: FunctionContext, facts: _Facts, name: str, lines: set[int]) -> bool:
    """Outside `lines`, the file never mentions `.name` (so nothing fills it before scripting),
    `self.name` in the methods of a class outside the MRO aside: that is its own attribute."""
    text = ctx.blocks.text
    if _set_dynamically(text, name):
        return False
    others = _other_class_lines(ctx.summary, facts)
    own = _self_only_lines(text, name)
    return all(
        line in lines or (line in others and line in own) for line, _ in _mentions(text, name)
    )


def _other_class_lines(summary: FileSummary, facts: _Facts) -> set[int]:
    """Lines of the methods of this file's classes that are not in the MRO."""
    mro = {(s.path, c.qualname) for s, c in facts.classes}
    lines: set[int] = set()
    for cls in summary.classes:
        if (summary.path, cls.qualname) in mro:
            continue
        for method in cls.methods:
            lines.update(range(method.first_line, method.end_line + 1))
    return lines


def _self_only_lines(text: str, name: str) -> set[int]:
    """Lines where every `.name` is spelled `self.name`."""
    every = Counter(_line_of(text, m.start()) for m in re.finditer(rf"\.{re.escape(name)}\b", text))
    own = Counter(
        _line_of(text, m.start())
        for m in re.finditer(rf"(?<![\w.])self\.{re.escape(name)}\b", text)
    )
    return {line for line, count in every.items() if own.get(line) == count}


def _local_name(ctx: FunctionContext, qualified: str) -> str | None:
    """How this file spells `qualified` (`torch.nn.ModuleList` -> `nn.ModuleList`)."""
    imports = dict(ctx.summary.imports)
    best: str | None = None
    for local, target in imports.items():
        if qualified == target:
            return local
        if qualified.startswith(target + "."):
            candidate = local + qualified[len(target) :]
            if best is None or len(candidate) < len(best):
                best = candidate
    return best


# -- finding source nodes outside the compiled function ------------------------------------


@dataclass(frozen=True)
class _Source:
    """A libcst node in some block of this file, with what is needed to get its range."""

    node: cst.CSTNode
    module: cst.Module
    start: int


def _range(ctx: FunctionContext | FileContext, src: _Source, node: cst.CSTNode) -> Range:
    return ctx.blocks.range_of(node, src.module, src.start)


def _class_source(ctx: FunctionContext, summary: FileSummary, cls: ClassInfo) -> _Source | None:
    if summary.path != ctx.summary.path:
        return None
    module, start = ctx.blocks.module_for_line(cls.line)
    named = [
        stmt
        for stmt in _top_statements(module.body)
        if isinstance(stmt, cst.ClassDef) and stmt.name.value == cls.name
    ]
    if len(named) == 1:  # the usual case: no positions needed
        return _Source(named[0], module, start)
    for stmt in named:
        if ctx.blocks.range_of(stmt.name, module, start).start.line == cls.line:
            return _Source(stmt, module, start)
    return None


def _top_statements(body: Sequence[cst.CSTNode]) -> Iterator[cst.CSTNode]:
    for stmt in body:
        yield stmt
        if isinstance(stmt, cst.If):
            yield from _top_statements(stmt.body.body)
            orelse = stmt.orelse
            if isinstance(orelse, cst.Else):
                yield from _top_statements(orelse.body.body)
            elif isinstance(orelse, cst.If):
                yield from _top_statements([orelse])


def _class_body(class_src: _Source) -> Sequence[cst.BaseStatement]:
    node = class_src.node
    assert isinstance(node, cst.ClassDef)
    body = node.body
    return body.body if isinstance(body, cst.IndentedBlock) else ()


def _method_source(class_src: _Source, name: str) -> _Source | None:
    for stmt in _class_body(class_src):
        if isinstance(stmt, cst.FunctionDef) and stmt.name.value == name:
            return _Source(stmt, class_src.module, class_src.start)
    return None


# Every node under a node in source order, not entering nested defs, classes or lambdas.
_walk = _preorder = cstwalk.preorder


def _self_assignments(method: cst.CSTNode) -> list[tuple[cst.Attribute, cst.BaseExpression]]:
    """`self.X = value` targets in source order, as the index lists them (InitAttr).
    Memoized per node: every attribute rule asks for the same `__init__`."""
    found = _SELF_ASSIGNMENTS.get(method)
    if found is None:
        if len(_SELF_ASSIGNMENTS) > 512:  # bounded: a language server runs for days
            _SELF_ASSIGNMENTS.clear()
        found = list(_find_self_assignments(method))
        _SELF_ASSIGNMENTS[method] = found
    return found


# libcst nodes allow no weak references; nodes hash by identity.
_SELF_ASSIGNMENTS: dict[cst.CSTNode, list[tuple[cst.Attribute, cst.BaseExpression]]] = {}


def _find_self_assignments(
    method: cst.CSTNode,
) -> Iterator[tuple[cst.Attribute, cst.BaseExpression]]:
    for node in _preorder(method):
        if isinstance(node, cst.Assign):
            for target in node.targets:
                if _self_attr(target.target, "self") is not None:
                    assert isinstance(target.target, cst.Attribute)
                    yield target.target, node.value
        elif isinstance(node, cst.AnnAssign) and node.value is not None:
            if _self_attr(node.target, "self") is not None:
                assert isinstance(node.target, cst.Attribute)
                yield node.target, node.value


def _init_value(ctx: FunctionContext, init: _Init) -> _Source | None:
    """The value expression of an `__init__` assignment (in this file)."""
    class_src = _class_source(ctx, init.summary, init.cls)
    if class_src is None:
        return None
    method = _method_source(class_src, "__init__")
    if method is None:
        return None
    found = list(_self_assignments(method.node))
    if len(found) == len(init.cls.init_attrs):
        # Same assignments, same order as the index: match by position in the list.
        for (target, value), attr in zip(found, init.cls.init_attrs, strict=True):
            if attr is init.attr and target.attr.value == attr.attr:
                return _Source(value, method.module, method.start)
    for target, value in found:
        pos = _range(ctx, method, target).start
        if pos.line == init.attr.line and pos.column == init.attr.column:
            return _Source(value, method.module, method.start)
    return None


def _class_attr_statement(
    ctx: FunctionContext, summary: FileSummary, cls: ClassInfo, name: str
) -> tuple[_Source, cst.Assign | cst.AnnAssign] | None:
    """The class-body statement `name = value` / `name: T = value`."""
    class_src = _class_source(ctx, summary, cls)
    if class_src is None:
        return None
    for stmt in _class_body(class_src):
        if not isinstance(stmt, cst.SimpleStatementLine) or len(stmt.body) != 1:
            continue
        small = stmt.body[0]
        if isinstance(small, cst.Assign) and len(small.targets) == 1:
            target = small.targets[0].target
            if isinstance(target, cst.Name) and target.value == name:
                return _Source(stmt, class_src.module, class_src.start), small
        if isinstance(small, cst.AnnAssign) and small.value is not None:
            if isinstance(small.target, cst.Name) and small.target.value == name:
                return _Source(stmt, class_src.module, class_src.start), small
    return None


def _expr(src: _Source | None) -> cst.BaseExpression | None:
    return src.node if src is not None and isinstance(src.node, cst.BaseExpression) else None


# -- literal shapes --------------------------------------------------------------------------


def _scalar(node: cst.BaseExpression) -> bool:
    if isinstance(node, (cst.Integer, cst.Float, cst.SimpleString, cst.ConcatenatedString)):
        return True
    if isinstance(node, cst.Name):
        return node.value in ("True", "False", "None")
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus):
        return isinstance(node.expression, (cst.Integer, cst.Float))
    return False


def _literal_kind(node: cst.BaseExpression) -> str | None:
    """ "scalar", "tuple", "list" or "dict" for a literal of constants, else None."""
    if _scalar(node):
        return "scalar"
    if isinstance(node, (cst.Tuple, cst.List)):
        for el in node.elements:
            if not isinstance(el, cst.Element) or _literal_kind(el.value) in (None, "dict"):
                return None
        return "tuple" if isinstance(node, cst.Tuple) else "list"
    if isinstance(node, cst.Dict):
        for item in node.elements:
            if not isinstance(item, cst.DictElement) or not (
                _scalar(item.key) and _scalar(item.value)
            ):
                return None
        return "dict"
    return None


def _scalar_type(node: cst.BaseExpression) -> str | None:
    """The TorchScript type of a scalar literal."""
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus):
        node = node.expression
    if isinstance(node, cst.Integer):
        return "int"
    if isinstance(node, cst.Float):
        return "float"
    if isinstance(node, (cst.SimpleString, cst.ConcatenatedString)):
        if isinstance(node, cst.SimpleString) and node.prefix.lower().startswith("b"):
            return None
        return "str"
    if isinstance(node, cst.Name) and node.value in ("True", "False"):
        return "bool"
    return None


def _modules_built(ctx: FunctionContext, node: cst.BaseExpression | None) -> str | None:
    """ "list" / "dict" / "tuple" when `node` is a literal or comprehension whose every element
    constructs an nn.Module."""

    def builds(expr: cst.BaseExpression) -> bool:
        if not isinstance(expr, cst.Call):
            return False
        name = dotted(expr.func)
        return bool(name) and _is_module_class(ctx.project, ctx.resolve(name))

    if isinstance(node, (cst.List, cst.Tuple)):
        elements = node.elements
        if elements and all(isinstance(e, cst.Element) and builds(e.value) for e in elements):
            return "list" if isinstance(node, cst.List) else "tuple"
    elif isinstance(node, cst.ListComp) and builds(node.elt):
        return "list"
    elif isinstance(node, cst.Dict):
        items = node.elements
        if items and all(isinstance(e, cst.DictElement) and builds(e.value) for e in items):
            return "dict"
    elif isinstance(node, cst.DictComp) and builds(node.value):
        return "dict"
    return None


# == TS160 class attributes ==================================================================


class ClassAttributeRule(Rule):
    code = "TS160"
    name = "class-attribute"
    summary = "A class attribute is invisible to TorchScript unless it is Final or in __constants__"
    family = Family.DYNAMIC_BEHAVIORS
    fixable = True
    explanation = """
    **What it does.** Flags `self.X` in compiled module code where `X` is assigned only in the
    class body (`scale = 2.0`, `SIZES = [1, 2]`), not in `__init__`, and is neither annotated
    `Final` nor listed in `__constants__`.

    **Why it fails.** TorchScript builds a module's type from its *instance* attributes.
    A class attribute is not one, so the compiler reports `Module 'M' has no attribute 'scale'`.

    **How to fix.** Declare it a constant: `scale: Final = 2.0` (with `from typing import
    Final`), or list it in `__constants__ = ["scale"]` (the fix does one of these; a list
    constant becomes a tuple in compiled code). Or assign it in `__init__` (`self.scale = 2.0`).
    Note that `from __future__ import annotations` hides `Final` from TorchScript; use
    `__constants__` in such files.
    """
    CATALOG = ("class_attribute_constant", "class_attribute_list")
    VALID = (
        ex(
            """
            import torch
            import torch.nn as nn
            from typing import Final

            class M(nn.Module):
                __constants__ = ["dims"]
                scale: Final = 2.0
                dims = [1, 2]
                training = True

                def forward(self, x: torch.Tensor):
                    return x * self.scale + self.dims[0]
            """
        ),
        ex(
            """
            import torch
            import torch.nn as nn

            class M(nn.Module):
                scale = 2.0

                def __init__(self):
                    super().__init__()
                    self.scale = 3.0
                    self.s = M.scale

                def forward(self, x: torch.Tensor):
                    return x * self.scale * self.s
            """
        ),
    )
    INVALID = (
        ex(
            """
            import torch
            import torch.nn as nn

            class M(nn.Module):
                scale = 2.0

                def forward(self, x: torch.Tensor):
                    return x * self.scale
            """,
            line=8,
            error="Module 'M' has no attribute 'scale'",
            fixed="""import torch
import torch.nn as nn

class M(nn.Module):
    __constants__ = ["scale"]
    scale = 2.0

    def forward(self, x: torch.Tensor):
        return x * self.scale
""",
        ),
        ex(
            """
            import torch
            import torch.nn as nn
            from typing import Final

            class M(nn.Module):
                SIZES = [1, 2]

                def forward(self, x: torch.Tensor):
                    return x * self.SIZES[0]
            """,
            line=9,
            error="Module 'M' has no attribute 'SIZES'",
            fixed="""import torch
import torch.nn as nn
from typing import Final

class M(nn.Module):
    SIZES: Final = [1, 2]

    def forward(self, x: torch.Tensor):
        return x * self.SIZES[0]
""",
        ),
        ex(
            """
            import torch
            import torch.nn as nn

            class Base(nn.Module):
                __constants__ = ["scale"]
                scale = 2.0

            class M(Base):
                __constants__ = ["shift"]
                shift = 1.0

                def forward(self, x: torch.Tensor):
                    return x * self.scale + self.shift
            """,
            line=13,
            error="Module 'M' has no attribute 'scale'",
            fixed="""import torch
import torch.nn as nn

class Base(nn.Module):
    __constants__ = ["scale"]
    scale = 2.0

class M(Base):
    __constants__ = ["shift", "scale"]
    shift = 1.0

    def forward(self, x: torch.Tensor):
        return x * self.scale + self.shift
""",
        ),
        ex(
            """
            import torch
            import torch.nn as nn
            from typing import Final

            class Base(nn.Module):
                expansion: Final = 4

            class M(Base):
                width: int

                def __init__(self):
                    super().__init__()
                    self.width = 2

                def forward(self, x: torch.Tensor):
                    return x * self.expansion * self.width
            """,
            line=16,
            error="Module 'M' has no attribute 'expansion'",
            fixed="""import torch
import torch.nn as nn
from typing import Final

class Base(nn.Module):
    __constants__ = ["expansion"]
    expansion: Final = 4

class M(Base):
    width: int

    def __init__(self):
        super().__init__()
        self.width = 2

    def forward(self, x: torch.Tensor):
        return x * self.expansion * self.width
""",
        ),
    )

    def visit_Attribute(self, node: cst.Attribute, ctx: FunctionContext) -> None:
        name = _self_attr(node, _self_name(ctx))
        if name is None or _is_target(ctx, node):
            return
        facts = _facts(ctx)
        if facts is None or not facts.module or name not in facts.class_attrs:
            return
        if facts.declared_constant(name) or facts.defined_by_init(name) or name in facts.methods:
            return
        if not (facts.closed and facts.in_file(ctx.summary.path)):
            return
        summary, cls = facts.class_attrs[name]
        found = _class_attr_statement(ctx, summary, cls, name)
        if found is None:
            return
        src, statement = found
        value = statement.value
        kind = _literal_kind(value) if value is not None else None
        if kind is None or not _only_written_in(ctx, facts, name, set()):
            return
        line = _range(ctx, src, src.node).start.line
        related = (
            ChainLink(f"{cls.name}.{name} is assigned in the class body", summary.path, line),
        )
        fixes = (
            () if kind == "dict" else _constant_fixes(ctx, facts, cls, src, statement, name, kind)
        )
        hint = (
            f"assign it in __init__ (`self.{name} = ...`): a dict cannot be a constant"
            if kind == "dict"
            else f"annotate it `{name}: Final = ...` or list it in `__constants__`"
        )
        problem = "which TorchScript does not see on the module"
        owner = facts.annotations_owner
        if name in cls.finals and owner is not None and owner is not cls:
            # Final in a base class, hidden by a subclass's own annotations
            problem = (
                f"and its `Final` in {cls.name} is hidden: TorchScript reads annotations only "
                f"from {owner.name}, the first class with any"
            )
            hint = f'list it in `__constants__` instead (`__constants__ = ["{name}"]`)'
        ctx.report(
            node,
            f"`{name}` is a class attribute, {problem}; {hint}",
            fixes=fixes,
            related=related,
        )


def _constant_fixes(
    ctx: FunctionContext,
    facts: _Facts,
    holder_cls: ClassInfo,
    src: _Source,
    statement: cst.Assign | cst.AnnAssign,
    name: str,
    kind: str,
) -> tuple[Fix, ...]:
    # A list constant becomes a tuple in compiled code: eager code is unchanged, but code
    # that mutates the list would no longer compile. Only scalars and tuples are safe.
    safe = kind != "list"
    final = _final_spelling(ctx)
    owner = facts.classes[0][1]
    # TorchScript reads annotations from the first class in the MRO that has any, and
    # __constants__ from the first class that defines it.
    before = [c for _, c in facts.classes[: [c for _, c in facts.classes].index(holder_cls)]]
    if final is not None and not any(c.annotations for c in before):
        if isinstance(statement, cst.Assign):
            target = statement.targets[0].target
            end = _range(ctx, src, target).end
            edit = TextEdit(Range(end, end), f": {final}")
        else:
            annotation = statement.annotation.annotation
            text = src.module.code_for_node(annotation)
            edit = TextEdit(_range(ctx, src, annotation), f"{final}[{text}]")
        return (Fix(f"Annotate `{name}` as Final", (edit,), safe=safe),)
    holder = facts.constants_owner or (facts.classes[0][0], owner)
    existing = _constants_edit(ctx, holder[0], holder[1], name)
    if existing is not None:
        return (Fix(f'Add "{name}" to __constants__', (existing,), safe=safe),)
    if facts.constants_owner is not None:
        return ()
    # No class lists __constants__: declare it right above the attribute, in the same class.
    start = _range(ctx, src, src.node).start
    indent = ctx.indent_of(start.line)
    edit = TextEdit(Range.of(start.line, 0, start.line, 0), f'{indent}__constants__ = ["{name}"]\n')
    return (Fix(f'Declare `__constants__ = ["{name}"]`', (edit,), safe=safe),)


def _final_spelling(ctx: FunctionContext) -> str | None:
    """How to write Final in this file without a new import, or None."""
    if _future_annotations(ctx.summary):
        return None  # string annotations hide Final from TorchScript
    for local, target in ctx.summary.imports:
        if target in _FINAL_NAMES and "." not in local:
            return local
    for local, target in ctx.summary.imports:
        if target == "typing":
            return f"{local}.Final"
    return None


def _constants_edit(
    ctx: FunctionContext, summary: FileSummary, cls: ClassInfo, name: str
) -> TextEdit | None:
    """Append `"name"` to the class's `__constants__ = [...]` list, if it has one."""
    found = _class_attr_statement(ctx, summary, cls, "__constants__")
    if found is None:
        return None
    src, statement = found
    value = statement.value
    if not isinstance(value, (cst.List, cst.Tuple)) or not value.elements:
        return None
    if isinstance(value, cst.Tuple) and not value.lpar:
        return None
    last = value.elements[-1]
    end = _range(ctx, src, last.value).end
    if isinstance(last.comma, cst.Comma):
        # `("a",)`: insert after the trailing comma.
        end = Range.of(end.line, end.column + 1, end.line, end.column + 1).start
        return TextEdit(Range(end, end), f' "{name}",')
    return TextEdit(Range(end, end), f', "{name}"')


# == TS161 Python containers of submodules ===================================================


class ModuleContainerAttributeRule(Rule):
    code = "TS161"
    name = "python-container-of-modules"
    summary = "A Python list/dict/tuple of submodules cannot be used in compiled code"
    family = Family.DYNAMIC_BEHAVIORS
    fixable = True
    explanation = """
    **What it does.** Flags `self.X` in compiled module code when `__init__` assigns `X` a plain
    Python list, tuple or dict (or comprehension) of nn.Module constructions.

    **Why it fails.** TorchScript converts module attributes to typed values; a list of
    modules has no TorchScript type (`failed to convert Python type: 'list' to a TorchScript
    type ... Cannot infer concrete type of torch.nn.Module`). The modules are not registered
    as submodules either, so eager `.parameters()`, `.to()` and `state_dict()` miss them.

    **How to fix.** Wrap the value: `nn.ModuleList([...])` for a list or tuple,
    `nn.ModuleDict({...})` for a dict with string keys (the fix does this). This registers the
    submodules, which changes `state_dict()` keys and what an optimizer sees, so review it.
    """
    CATALOG = (
        "module_attr_python_list_of_modules",
        "module_attr_python_dict_of_modules",
        "module_attr_tuple_of_modules",
    )
    VALID = (
        ex(
            """
            import torch
            import torch.nn as nn

            class M(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.layers = nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 2)])
                    self.spare = [nn.Linear(2, 2)]
                    self.ps = [torch.ones(1), torch.zeros(1)]

                def forward(self, x: torch.Tensor):
                    for layer in self.layers:
                        x = layer(x)
                    return x + self.ps[0]
            """
        ),
        ex(
            """
            import torch
            import torch.nn as nn

            class M(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.layers = [nn.Linear(2, 2) for _ in range(2)]
                    self.layers = nn.ModuleList(self.layers)

                def forward(self, x: torch.Tensor):
                    return self.layers[0](x)
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
                    self.layers = [nn.Linear(2, 2), nn.Linear(2, 2)]

                def forward(self, x: torch.Tensor):
                    for layer in self.layers:
                        x = layer(x)
                    return x
            """,
            line=10,
            error="failed to convert Python type: 'list'",
            fixed="""import torch
import torch.nn as nn

class M(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 2)])

    def forward(self, x: torch.Tensor):
        for layer in self.layers:
            x = layer(x)
        return x
""",
        ),
        ex(
            """
            import torch
            import torch.nn as nn

            class M(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.heads = {"a": nn.Linear(2, 2), "b": nn.Linear(2, 2)}

                def forward(self, x: torch.Tensor):
                    return self.heads["a"](x)
            """,
            line=10,
            error="failed to convert Python type: 'dict'",
            fixed="""import torch
import torch.nn as nn

class M(nn.Module):
    def __init__(self):
        super().__init__()
        self.heads = nn.ModuleDict({"a": nn.Linear(2, 2), "b": nn.Linear(2, 2)})

    def forward(self, x: torch.Tensor):
        return self.heads["a"](x)
""",
        ),
        ex(
            """
            import torch
            from torch import nn

            class M(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.pair = (nn.Linear(2, 2), nn.ReLU())

                def forward(self, x: torch.Tensor):
                    return self.pair[1](self.pair[0](x))
            """,
            line=10,
            error="failed to convert Python type: 'tuple'",
        ),
        ex(
            """
            import torch
            import torch.nn

            class M(torch.nn.Module):
                def __init__(self):
                    super().__init__()
                    self.blocks = [torch.nn.Linear(2, 2) for _ in range(3)]

                def forward(self, x: torch.Tensor):
                    return x * len(self.blocks)
            """,
            line=10,
            error="failed to convert Python type: 'list'",
        ),
        ex(
            """
            import torch
            import torch.nn as nn
            from typing import List

            class M(nn.Module):
                def __init__(self, widths: List[int] = [2, 2]):
                    super().__init__()
                    self.stages = []
                    for w in widths:
                        self.stages.append(nn.Linear(w, w))

                def forward(self, x: torch.Tensor):
                    for stage in self.stages:
                        x = stage(x)
                    return x
            """,
            line=13,
            error="failed to convert Python type: 'list'",
            fixed="""import torch
import torch.nn as nn
from typing import List

class M(nn.Module):
    def __init__(self, widths: List[int] = [2, 2]):
        super().__init__()
        self.stages = nn.ModuleList()
        for w in widths:
            self.stages.append(nn.Linear(w, w))

    def forward(self, x: torch.Tensor):
        for stage in self.stages:
            x = stage(x)
        return x
""",
        ),
    )

    def visit_Attribute(self, node: cst.Attribute, ctx: FunctionContext) -> None:
        name = _self_attr(node, _self_name(ctx))
        if name is None or _is_target(ctx, node):
            return
        facts = _facts(ctx)
        if facts is None or not facts.module or name not in facts.inits:
            return
        inits = facts.inits[name]
        if any(i.attr.shape not in ("list", "dict", "tuple") for i in inits):
            return
        if facts.declared_constant(name) or not facts.in_file(ctx.summary.path):
            return
        values = [_init_value(ctx, i) for i in inits]
        kinds = [_modules_built(ctx, _expr(v)) for v in values]
        fixes: tuple[Fix, ...] = ()
        if len(inits) == 1 and kinds == [None] and _appends_modules(ctx, facts, inits[0]):
            # `self.blocks = []` filled by `self.blocks.append(Block(...))` in __init__
            value = values[0]
            assert value is not None
            kind, wrapper = "list", "ModuleList"
            spelled = _local_name(ctx, "torch.nn.ModuleList")
            if spelled is not None:
                edit = TextEdit(_range(ctx, value, value.node), f"{spelled}()")
                fixes = (Fix(f"Use {spelled}()", (edit,), safe=False),)
        else:
            if None in kinds:
                return
            if not _only_written_in(ctx, facts, name, {i.attr.line for i in inits}):
                return
            kind = kinds[0] or "list"
            wrapper = "ModuleDict" if kind == "dict" else "ModuleList"
            if len(values) == 1 and values[0] is not None:
                fixes = _wrap_fix(ctx, values[0], wrapper)
        related = tuple(_init_link(i, f"self.{name} is a Python {kind} of modules") for i in inits)
        ctx.report(
            node,
            f"`self.{name}` is a Python {kind} of submodules, which TorchScript cannot type; "
            f"build it as nn.{wrapper}(...) in __init__",
            fixes=fixes,
            related=related,
        )


def _appends_modules(ctx: FunctionContext, facts: _Facts, init: _Init) -> bool:
    """`self.X = []` in __init__, and every other mention of `self.X` there is
    `self.X.append(<module construction>)` (at least one)."""
    value = _init_value(ctx, init)
    if value is None or not (isinstance(value.node, cst.List) and not value.node.elements):
        return False
    class_src = _class_source(ctx, init.summary, init.cls)
    method = _method_source(class_src, "__init__") if class_src else None
    if method is None:
        return False
    name = init.attr.attr
    mentions = appends = 0
    for node in _walk(method.node):
        if isinstance(node, cst.Attribute) and node.attr.value == name:
            mentions += 1
        if (
            isinstance(node, cst.Call)
            and isinstance(node.func, cst.Attribute)
            and node.func.attr.value == "append"
            and isinstance(node.func.value, cst.Attribute)
            and node.func.value.attr.value == name
            and len(node.args) == 1
        ):
            built = node.args[0].value
            callee = dotted(built.func) if isinstance(built, cst.Call) else ""
            if not (callee and _is_module_class(ctx.project, ctx.resolve(callee))):
                return False
            appends += 1
    if not appends or mentions != appends + 1:
        return False
    # Nothing outside __init__ and compiled-only methods touches it.
    allowed = _method_lines(facts, ctx.summary.path, _init_callees(facts) - {"__init__"})
    return _only_mentioned_in(ctx, facts, name, allowed)


_MODULEDICT_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Keys nn.ModuleDict refuses: they clash with attributes of the container itself.
_RESERVED_KEYS = frozenset(
    {"training", "forward", "keys", "items", "values", "pop", "clear", "update", "to", "type"}
)


def _wrap_fix(ctx: FunctionContext, value: _Source, wrapper: str) -> tuple[Fix, ...]:
    spelled = _local_name(ctx, f"torch.nn.{wrapper}")
    if spelled is None:
        return ()
    node = value.node
    if wrapper == "ModuleDict":
        if not isinstance(node, cst.Dict):
            return ()
        for el in node.elements:
            key = el.key if isinstance(el, cst.DictElement) else None
            if not isinstance(key, cst.SimpleString):
                return ()
            text = key.evaluated_value
            if not (isinstance(text, str) and _MODULEDICT_KEY.fullmatch(text)):
                return ()
            if text in _RESERVED_KEYS:
                return ()
    where = _range(ctx, value, node)
    # A tuple's range excludes its parentheses: `(a, b)` -> `(nn.ModuleList([a, b]))`.
    opening, closing = ("([", "])") if isinstance(node, cst.Tuple) else ("(", ")")
    edits = (
        TextEdit(Range(where.start, where.start), f"{spelled}{opening}"),
        TextEdit(Range(where.end, where.end), closing),
    )
    # Registering the submodules changes state_dict() keys and .parameters(): not "safe".
    return (Fix(f"Wrap in {spelled}(...)", edits, safe=False),)


# == TS162 empty containers without a type ===================================================


class EmptyContainerAttributeRule(Rule):
    code = "TS162"
    name = "untyped-empty-container-attribute"
    summary = "An attribute initialised to an empty list/dict needs a class-level annotation"
    family = Family.TYPE_CHECKING
    explanation = """
    **What it does.** Flags `self.X` in compiled module code when `__init__` sets `X` to an
    empty list or dict (`[]`, `{}`, `list()`, `dict()`) and the class body has no annotation
    for `X`.

    **Why it fails.** TorchScript infers an attribute's type from its value when the module is
    scripted, and an empty container has no element type: `List trace inputs must have
    elements` / `Dictionary inputs must have entries`. An annotation *inside* `__init__`
    (`self.hist: List[int] = []`) does not help: only class-level annotations are read.

    **How to fix.** Annotate the attribute in the class body: `hist: List[int]` (keep the
    assignment in `__init__`). Files with `from __future__ import annotations` cannot use
    class-level annotations on modules at all; remove that import from the file.
    """
    CATALOG = ("module_attr_empty_list", "module_attr_empty_dict")
    VALID = (
        ex(
            """
            import torch
            import torch.nn as nn
            from typing import Dict, List

            class M(nn.Module):
                hist: List[int]

                def __init__(self):
                    super().__init__()
                    self.hist = []
                    self.seen = {}
                    self.filled = []
                    self.filled.append(1)

                def forward(self, x: int):
                    self.hist.append(x)
                    return x + self.filled[0]
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
                    self.hist = []

                def forward(self, x: int):
                    self.hist.append(x)
                    return x
            """,
            line=10,
            error="List trace inputs must have elements",
        ),
        ex(
            """
            import torch
            import torch.nn as nn
            from typing import Dict

            class M(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.cache: Dict[str, torch.Tensor] = {}

                def forward(self, k: str, x: torch.Tensor):
                    self.cache[k] = x
                    return x
            """,
            line=11,
            error="Dictionary inputs must have entries",
        ),
        ex(
            """
            import torch
            import torch.nn as nn
            from typing import Dict

            class M(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.cache = {}

                def forward(self, x: torch.Tensor):
                    return self.cache["a"] if "a" in self.cache else x

            class Other(nn.Module):  # an attribute of its own, not M's
                def __init__(self):
                    super().__init__()
                    self.cache: Dict[str, torch.Tensor] = {}

                def forward(self, x: torch.Tensor):
                    return x
            """,
            line=11,
            error="Dictionary inputs must have entries",
        ),
    )

    def visit_Attribute(self, node: cst.Attribute, ctx: FunctionContext) -> None:
        name = _self_attr(node, _self_name(ctx))
        if name is None or _is_target(ctx, node):
            return
        facts = _facts(ctx)
        if facts is None or not facts.module or name not in facts.inits:
            return
        if name in facts.annotations or facts.declared_constant(name):
            return
        inits = facts.inits[name]
        if any(i.attr.shape not in ("list", "dict", "call") for i in inits):
            return
        if not (facts.closed and facts.in_file(ctx.summary.path)):
            return
        kinds = set()
        for init in inits:
            kind = _empty_container(ctx, _expr(_init_value(ctx, init)))
            if kind is None:
                return
            kinds.add(kind)
        # Anything outside compiled-only methods that touches `.name` may fill it before
        # scripting (then its type is inferred from the elements).
        allowed = _method_lines(facts, ctx.summary.path, _init_callees(facts))
        allowed.update(i.attr.line for i in inits)
        if not _only_mentioned_in(ctx, facts, name, allowed):
            return
        kind = kinds.pop() if len(kinds) == 1 else "container"
        example = "List[int]" if kind == "list" else "Dict[str, torch.Tensor]"
        related = tuple(_init_link(i, f"self.{name} starts as an empty {kind}") for i in inits)
        ctx.report(
            node,
            f"`self.{name}` starts as an empty {kind}, so TorchScript cannot infer its type; "
            f"annotate it in the class body (`{name}: {example}`), not in __init__",
            related=related,
        )


def _empty_container(ctx: FunctionContext, node: cst.BaseExpression | None) -> str | None:
    if isinstance(node, cst.List) and not node.elements:
        return "list"
    if isinstance(node, cst.Dict) and not node.elements:
        return "dict"
    if isinstance(node, cst.Call) and not node.args and isinstance(node.func, cst.Name):
        name = node.func.value
        if name in ("list", "dict") and ctx.resolve(name) == name:
            return name
    return None


# == TS163 attributes of types TorchScript has no equivalent for ===============================


class UnsupportedAttributeValueRule(Rule):
    code = "TS163"
    name = "unsupported-attribute-value"
    summary = (
        "A module attribute holding a set, a lambda or a Python-only object cannot be used in "
        "compiled code"
    )
    family = Family.UNSUPPORTED_CONSTRUCTS
    explanation = """
    **What it does.** Flags `self.X` in compiled module code when every `__init__` assignment
    of `X` is a set (`{"a", "b"}`, `set(...)`, `frozenset(...)`), a lambda, or a call that
    makes a Python-only object: `argparse.Namespace`, `types.SimpleNamespace`,
    `collections.deque` / `defaultdict`, `pathlib.Path`, `logging.getLogger`, locks,
    `random.Random`, `re.compile`, NumPy arrays (`np.array`, `np.zeros`, ...).

    **Why it fails.** Module attributes become typed TorchScript values. There is no set type
    (`failed to convert Python type: 'set'`), a lambda has no source the compiler can
    compile (`This function exists as an attribute on the Python module, but we failed to
    compile it`), and the objects above have no TorchScript type at all (`failed to convert
    Python type: 'argparse.Namespace'`). Unused attributes of these kinds are fine: the error
    appears only where compiled code reads them.

    **How to fix.** Use a list (`["a", "b"]`; `in` works on lists) or a dict with dummy
    values; replace the lambda with a method, a module-level function, or a submodule
    (`nn.ReLU()`); store the plain values compiled code needs (`self.scale = cfg.scale`) and
    tensors instead of NumPy arrays (`torch.from_numpy(...)`, or a registered buffer).
    """
    CATALOG = ("module_attr_set", "module_attr_lambda")
    VALID = (
        ex(
            """
            import collections
            import logging

            import torch
            import torch.nn as nn
            import torch.nn.functional as F

            class M(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.names = ["a", "b"]
                    self.act = F.relu
                    self.unused = {"a", "b"}
                    self.hook = lambda t: t * 2
                    self.log = logging.getLogger("m")
                    self.counts = collections.Counter({"a": 1})

                def forward(self, x: torch.Tensor, s: str):
                    if s in self.names:
                        return self.act(x)
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
                    self.names = {"a", "b"}

                def forward(self, s: str):
                    return s in self.names
            """,
            line=10,
            error="failed to convert Python type: 'set'",
        ),
        ex(
            """
            import torch
            import torch.nn as nn

            class M(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.act = lambda t: t * 2

                def forward(self, x: torch.Tensor):
                    return self.act(x)
            """,
            line=10,
            error="we failed to compile it to a TorchScript function",
        ),
        ex(
            """
            import argparse

            import torch
            import torch.nn as nn

            class M(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.cfg = argparse.Namespace(scale=2.0)

                def forward(self, x: torch.Tensor):
                    return x * self.cfg.scale
            """,
            line=12,
            error="failed to convert Python type: 'argparse.Namespace'",
        ),
        ex(
            """
            import numpy as np
            import torch
            import torch.nn as nn

            class M(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.mean = np.array([0.5, 0.5, 0.5])

                def forward(self, x: torch.Tensor):
                    return x - torch.as_tensor(self.mean)
            """,
            line=11,
            error="failed to convert Python type: 'numpy.ndarray'",
        ),
    )

    def visit_Attribute(self, node: cst.Attribute, ctx: FunctionContext) -> None:
        name = _self_attr(node, _self_name(ctx))
        if name is None or _is_target(ctx, node):
            return
        facts = _facts(ctx)
        if facts is None or not facts.module or name not in facts.inits:
            return
        inits = facts.inits[name]
        kinds = {_unsupported_kind(i) for i in inits}
        if None in kinds or len(kinds) != 1 or facts.declared_constant(name):
            return
        if not facts.in_file(ctx.summary.path):
            return
        if not _only_written_in(ctx, facts, name, {i.attr.line for i in inits}):
            return
        kind = kinds.pop()
        assert kind is not None
        shown = kind if kind in ("set", "lambda") else f"value of type `{kind}`"
        related = tuple(_init_link(i, f"self.{name} is set to a {shown} here") for i in inits)
        if kind == "set":
            advice = "use a list or a dict instead"
        elif kind == "lambda":
            advice = "use a method, a module-level function or a submodule instead"
        elif kind == "numpy.ndarray":
            advice = "store a tensor (`torch.from_numpy(...)`, or a buffer) instead"
        else:
            advice = (
                "keep it outside the scripted module, or store the plain values compiled code "
                "needs (ints, floats, strs, lists, dicts, tensors) as attributes"
            )
        ctx.report(
            node,
            f"`self.{name}` holds a {shown}, which TorchScript cannot convert; {advice}",
            related=related,
        )


# Calls whose result TorchScript cannot convert to any of its types, by the type its error
# names (each checked with torch 2.13: `failed to convert Python type: 'argparse.Namespace'`).
_PYTHON_OBJECTS = {
    "argparse.Namespace": "argparse.Namespace",
    "types.SimpleNamespace": "types.SimpleNamespace",
    "collections.deque": "collections.deque",
    "collections.defaultdict": "collections.defaultdict",
    "pathlib.Path": "pathlib.Path",
    "logging.getLogger": "logging.Logger",
    "threading.Lock": "threading.Lock",
    "threading.RLock": "threading.RLock",
    "random.Random": "random.Random",
    "re.compile": "re.Pattern",
    "numpy.array": "numpy.ndarray",
    "numpy.asarray": "numpy.ndarray",
    "numpy.zeros": "numpy.ndarray",
    "numpy.ones": "numpy.ndarray",
    "numpy.empty": "numpy.ndarray",
    "numpy.full": "numpy.ndarray",
    "numpy.arange": "numpy.ndarray",
    "numpy.linspace": "numpy.ndarray",
}


def _unsupported_kind(init: _Init) -> str | None:
    if init.attr.shape == "set":
        return "set"
    if init.attr.shape == "lambda":
        return "lambda"
    if init.attr.shape == "call":
        called = _outer_call(init)
        if called in ("set", "frozenset"):
            return "set"
        if called in _PYTHON_OBJECTS:
            return _PYTHON_OBJECTS[called]
    return None


# -- module containers in compiled code --------------------------------------------------------


def _container_of(ctx: FunctionContext, node: cst.CSTNode) -> tuple[str, str] | None:
    """(attribute, container kind) when `node` is `self.X` and X is a ModuleList/Sequential/
    ModuleDict in every `__init__` assignment."""
    name = _self_attr(node, _self_name(ctx))
    if name is None:
        return None
    facts = _facts(ctx)
    if facts is None or not facts.module:
        return None
    kind = facts.container(name)
    return (name, kind) if kind else None


def _single_index(node: cst.Subscript) -> cst.BaseExpression | None:
    """`i` in `x[i]` (not a slice, not `x[i, j]`)."""
    if len(node.slice) != 1:
        return None
    element = node.slice[0].slice
    return element.value if isinstance(element, cst.Index) else None


def _is_slice(node: cst.Subscript) -> bool:
    return len(node.slice) == 1 and isinstance(node.slice[0].slice, cst.Slice)


def _int_literal(node: cst.BaseExpression) -> bool:
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus):
        node = node.expression
    return isinstance(node, cst.Integer)


def _locals(ctx: FunctionContext) -> set[str]:
    """Names the compiled function binds: parameters, assignment and loop targets."""
    fn = ctx.node
    names = {p.name.value for p in [*fn.params.posonly_params, *fn.params.params]}
    names.update(p.name.value for p in fn.params.kwonly_params)
    for node in _walk(fn.body):
        targets: list[cst.BaseExpression] = []
        if isinstance(node, cst.Assign):
            targets = [t.target for t in node.targets]
        elif isinstance(node, (cst.AugAssign, cst.AnnAssign)):
            targets = [node.target]
        elif isinstance(node, (cst.For, cst.CompFor)):
            targets = [node.target]
        elif isinstance(node, cst.WithItem) and node.asname is not None:
            targets = [node.asname.name]
        for target in targets:
            names.update(_bound(target))
    return names


def _bound(target: cst.BaseExpression) -> Iterator[str]:
    if isinstance(target, cst.Name):
        yield target.value
    elif isinstance(target, (cst.Tuple, cst.List)):
        for el in target.elements:
            yield from _bound(el.value)


def _runtime_value(ctx: FunctionContext, node: cst.BaseExpression, local: set[str]) -> bool:
    """`node` is certainly not a literal constant: a local, arithmetic on one, a call."""
    if isinstance(node, cst.Name):
        return node.value in local
    if isinstance(node, cst.BinaryOperation):
        parts = (node.left, node.right)
        return all(_int_literal(p) or _runtime_value(ctx, p, local) for p in parts)
    if isinstance(node, cst.FormattedString):
        return True
    if isinstance(node, cst.Call):
        return isinstance(node.func, cst.Name) and node.func.value in ("len", "int", "str")
    name = _self_attr(node, _self_name(ctx))
    if name is not None:
        facts = _facts(ctx)
        # A plain attribute is a runtime value; a Final / __constants__ one is inlined.
        return (
            facts is not None
            and name in facts.inits
            and not facts.declared_constant(name)
            and facts.container(name) is None
        )
    return False


def _container_link(ctx: FunctionContext, name: str, kind: str) -> tuple[ChainLink, ...]:
    facts = _facts(ctx)
    if facts is None:
        return ()
    return tuple(_init_link(i, f"self.{name} is an nn.{kind}") for i in facts.inits.get(name, []))


# == TS164 ModuleList / Sequential index ======================================================


class ModuleListIndexRule(Rule):
    code = "TS164"
    name = "modulelist-non-literal-index"
    summary = "nn.ModuleList / nn.Sequential can only be indexed with an integer literal"
    family = Family.DYNAMIC_BEHAVIORS
    explanation = """
    **What it does.** Flags `self.layers[i]` in compiled code when `self.layers` is an
    `nn.ModuleList` or `nn.Sequential` and the index is a variable or an expression.

    **Why it fails.** Each submodule may have a different type, so TorchScript must know at
    compile time which one an index picks: `Expected integer literal for index but got a
    variable or non-integer. ModuleList/Sequential indexing is only supported with integer
    literals`.

    **How to fix.** Iterate instead: `for i, layer in enumerate(self.layers): if i == k:
    x = layer(x)` (the loop is unrolled, so `i` is a constant in each copy). Literal indices
    (`self.layers[0]`, `self.layers[-1]`) and `Final` int attributes work.
    """
    CATALOG = ("modulelist_index_non_constant", "modulelist_len_as_range_then_index")
    VALID = (
        ex(
            """
            import torch
            import torch.nn as nn
            from typing import Final

            class M(nn.Module):
                k: Final[int]

                def __init__(self):
                    super().__init__()
                    self.k = 1
                    self.layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
                    self.ws = [1.0, 2.0]

                def forward(self, x: torch.Tensor, n: int):
                    for i, layer in enumerate(self.layers):
                        if i == n:
                            x = layer(x)
                    y = self.layers[0](x) + self.layers[-1](x)
                    return y + self.layers[self.k](x) * self.ws[n]
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
                    self.layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])

                def forward(self, x: torch.Tensor):
                    for i in range(3):
                        x = self.layers[i](x)
                    return x
            """,
            line=11,
            error="Expected integer literal for index",
        ),
        ex(
            """
            import torch
            import torch.nn as nn

            class M(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.body = nn.Sequential(nn.Linear(2, 2), nn.ReLU())

                def forward(self, x: torch.Tensor):
                    n = len(self.body)
                    return self.body[n - 1](x)
            """,
            line=11,
            error="Expected integer literal for index",
        ),
    )

    def visit_Subscript(self, node: cst.Subscript, ctx: FunctionContext) -> None:
        index = _single_index(node)
        if index is None or _int_literal(index):
            return
        found = _container_of(ctx, node.value)
        if found is None or found[1] not in _LIST_CONTAINERS:
            return
        if not _runtime_value(ctx, index, _locals(ctx)):
            return
        name, kind = found
        ctx.report(
            node,
            f"nn.{kind} `self.{name}` can only be indexed with an integer literal; iterate "
            f"with `for i, layer in enumerate(self.{name}):` and test `i` instead",
            related=_container_link(ctx, name, kind),
        )


# == TS165 ModuleDict key ======================================================================


class ModuleDictKeyRule(Rule):
    code = "TS165"
    name = "moduledict-non-literal-key"
    summary = "nn.ModuleDict can only be indexed with a string literal"
    family = Family.DYNAMIC_BEHAVIORS
    explanation = """
    **What it does.** Flags `self.heads[k]` in compiled code when `self.heads` is an
    `nn.ModuleDict` and the key is a variable, an f-string or an expression.

    **Why it fails.** The compiler must know which submodule (and so which type) a key picks:
    `Unable to extract string literal index. ModuleDict indexing is only supported with string
    literals`.

    **How to fix.** Iterate and compare: `for name, head in self.heads.items(): if name == k:
    x = head(x)`, or index with a literal (`self.heads["a"]`).
    """
    CATALOG = ("moduledict_non_literal_key",)
    VALID = (
        ex(
            """
            import torch
            import torch.nn as nn

            class M(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.heads = nn.ModuleDict({"a": nn.Linear(2, 2), "b": nn.Linear(2, 2)})
                    self.scales = {"a": 1.0}

                def forward(self, x: torch.Tensor, k: str):
                    for name, head in self.heads.items():
                        if name == k:
                            x = head(x)
                    if k in self.heads:
                        x = x * self.scales[k]
                    return self.heads["a"](x)
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
                    self.heads = nn.ModuleDict({"a": nn.Linear(2, 2)})

                def forward(self, x: torch.Tensor, k: str):
                    return self.heads[k](x)
            """,
            line=10,
            error="Unable to extract string literal index",
        ),
        ex(
            """
            import torch
            import torch.nn as nn

            class M(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.heads = nn.ModuleDict({"h0": nn.Linear(2, 2)})

                def forward(self, x: torch.Tensor, i: int):
                    return self.heads[f"h{i}"](x)
            """,
            line=10,
            error="Unable to extract string literal index",
        ),
    )

    def visit_Subscript(self, node: cst.Subscript, ctx: FunctionContext) -> None:
        index = _single_index(node)
        if index is None or isinstance(index, (cst.SimpleString, cst.ConcatenatedString)):
            return
        found = _container_of(ctx, node.value)
        if found is None or found[1] != "ModuleDict":
            return
        if not _runtime_value(ctx, index, _locals(ctx)):
            return
        name, kind = found
        ctx.report(
            node,
            f"nn.ModuleDict `self.{name}` can only be indexed with a string literal; loop over "
            f"`self.{name}.items()` and compare the key instead",
            related=_container_link(ctx, name, kind),
        )


# == TS166 break / continue in an unrolled loop ===============================================


class BreakInModuleLoopRule(Rule):
    code = "TS166"
    name = "break-in-module-loop"
    summary = "`break` / `continue` inside a loop over a ModuleList, ModuleDict or tuple"
    family = Family.UNSUPPORTED_CONSTRUCTS
    explanation = """
    **What it does.** Flags `break` and `continue` whose loop iterates over an
    `nn.ModuleList`, `nn.Sequential` or `nn.ModuleDict` (directly, through `enumerate`/`zip`,
    or `.items()`/`.keys()`/`.values()`), or over a parameter typed `Tuple[...]`.

    **Why it fails.** Such loops are unrolled at compile time, one copy per element, so there
    is no loop to leave: `Because we emit iteration over modulelists or tuples as unrolled
    loops, we do not support break or continue inside the body of these loops`.

    **How to fix.** Use a flag: `done = False` before the loop, `if not done: ...` around the
    body, and set `done = True` where you would `break`. `break` in an inner `for`/`while`
    loop over a list or range is fine.
    """
    CATALOG = ("break_in_modulelist_loop",)
    VALID = (
        ex(
            """
            import torch
            import torch.nn as nn

            class M(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])

                def forward(self, x: torch.Tensor):
                    done = False
                    for layer in self.layers:
                        for j in range(3):
                            if j == 1:
                                break
                        if not done:
                            x = layer(x)
                            done = bool(x.sum() > 0)
                    for v in [1, 2]:
                        if v == 1:
                            continue
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
                    self.layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])

                def forward(self, x: torch.Tensor):
                    for layer in self.layers:
                        x = layer(x)
                        if x.sum() > 0:
                            break
                    return x
            """,
            line=13,
            error="we do not support break or continue",
        ),
        ex(
            """
            import torch
            import torch.nn as nn

            class M(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.heads = nn.ModuleDict({"a": nn.Linear(2, 2), "b": nn.Linear(2, 2)})

                def forward(self, x: torch.Tensor):
                    for name, head in self.heads.items():
                        if name == "b":
                            continue
                        x = head(x)
                    return x
            """,
            line=12,
            error="we do not support break or continue",
        ),
        ex(
            """
            from typing import Tuple

            def f(t: Tuple[int, int, int]):
                total = 0
                for v in t:
                    if v < 0:
                        break
                    total += v
                return total
            """,
            line=7,
            error="we do not support break or continue",
        ),
    )

    def visit_Break(self, node: cst.Break, ctx: FunctionContext) -> None:
        self._check(node, "break", ctx)

    def visit_Continue(self, node: cst.Continue, ctx: FunctionContext) -> None:
        self._check(node, "continue", ctx)

    def _check(self, node: cst.CSTNode, word: str, ctx: FunctionContext) -> None:
        loop = _enclosing_loop(ctx)
        if loop is None:
            return
        what = _unrolled(ctx, loop.iter)
        if what is None:
            return
        ctx.report(
            node,
            f"`{word}` inside a loop over {what}: TorchScript unrolls that loop, so it cannot "
            f"`{word}`; use a flag and `if` instead",
        )


def _enclosing_loop(ctx: FunctionContext) -> cst.For | None:
    """The `for` whose body holds the node being visited (None for `while` or no loop)."""
    ancestors = ctx.ancestors
    for i in range(len(ancestors) - 1, -1, -1):
        node = ancestors[i]
        if isinstance(node, (cst.FunctionDef, cst.While)):
            return None
        if isinstance(node, cst.For):
            inner = ancestors[i + 1] if i + 1 < len(ancestors) else None
            return node if inner is node.body else None
    return None


def _unrolled(ctx: FunctionContext, iterable: cst.BaseExpression) -> str | None:
    """What the loop iterates over when TorchScript unrolls it, else None."""
    found = _container_of(ctx, iterable)
    if found is not None:
        return f"nn.{found[1]} `self.{found[0]}`"
    if isinstance(iterable, cst.Call):
        func = iterable.func
        if isinstance(func, cst.Name) and func.value in ("enumerate", "zip"):
            if ctx.resolve(func.value) != func.value:
                return None
            for arg in iterable.args:
                inner = _unrolled(ctx, arg.value)
                if inner is not None:
                    return inner
            return None
        if isinstance(func, cst.Attribute) and func.attr.value in ("items", "keys", "values"):
            found = _container_of(ctx, func.value)
            if found is not None and found[1] == "ModuleDict":
                return f"nn.ModuleDict `self.{found[0]}`"
        return None
    if isinstance(iterable, cst.Name) and _tuple_param(ctx, iterable.value):
        return f"the tuple `{iterable.value}`"
    return None


def _param_annotation(ctx: FunctionContext, name: str) -> cst.BaseExpression | None:
    params = ctx.node.params
    for param in [*params.posonly_params, *params.params, *params.kwonly_params]:
        if param.name.value == name and param.annotation is not None:
            return param.annotation.annotation
    return None


def _annotation_base(ctx: FunctionContext, annotation: cst.BaseExpression) -> str:
    base = annotation.value if isinstance(annotation, cst.Subscript) else annotation
    name = dotted(base)
    return ctx.resolve(name) if name else ""


def _reassigned(ctx: FunctionContext, name: str) -> bool:
    for node in _walk(ctx.node.body):
        if isinstance(node, cst.Assign):
            if any(name in set(_bound(t.target)) for t in node.targets):
                return True
        elif isinstance(node, (cst.AugAssign, cst.AnnAssign, cst.For)):
            if name in set(_bound(node.target)):
                return True
    return False


def _tuple_param(ctx: FunctionContext, name: str) -> bool:
    annotation = _param_annotation(ctx, name)
    if annotation is None or not isinstance(annotation, cst.Subscript):
        return False
    if _annotation_base(ctx, annotation) not in ("typing.Tuple", "tuple"):
        return False
    return not _reassigned(ctx, name)


def _list_param(ctx: FunctionContext, name: str) -> bool:
    annotation = _param_annotation(ctx, name)
    if annotation is None:
        return False
    if _annotation_base(ctx, annotation) not in ("typing.List", "list"):
        return False
    return not _reassigned(ctx, name)


# == TS167 zip of a ModuleList with a list ====================================================


class ModuleZipWithListRule(Rule):
    code = "TS167"
    name = "module-zip-with-list"
    summary = "zip() of a ModuleList with a list or range cannot be unrolled"
    family = Family.DYNAMIC_BEHAVIORS
    explanation = """
    **What it does.** Flags `for ... in zip(self.layers, xs)` in compiled code when
    `self.layers` is an `nn.ModuleList` / `nn.Sequential` and another argument is a list
    (a literal, a comprehension, a `List[...]` parameter, a list attribute) or a `range`.

    **Why it fails.** A loop over a ModuleList is unrolled, so every zipped iterable needs a
    length known at compile time: `Can not iterate over a module list or tuple with a value
    that does not have a statically determinable length`.

    **How to fix.** Zip with another ModuleList or a tuple (`Tuple[float, float]`, or a
    `Final` / `__constants__` attribute, which becomes a tuple), or use
    `for i, layer in enumerate(self.layers):` and index the list with `xs[i]`.
    """
    CATALOG = ("modulelist_zip_with_list",)
    VALID = (
        ex(
            """
            import torch
            import torch.nn as nn
            from typing import List, Tuple

            class M(nn.Module):
                __constants__ = ["scales"]

                def __init__(self):
                    super().__init__()
                    self.a = nn.ModuleList([nn.Linear(2, 2) for _ in range(2)])
                    self.b = nn.ModuleList([nn.ReLU() for _ in range(2)])
                    self.scales = [1.0, 2.0]

                def forward(self, x: torch.Tensor, t: Tuple[float, float], ws: List[float]):
                    for la, lb in zip(self.a, self.b):
                        x = lb(la(x))
                    for la, s, w in zip(self.a, self.scales, t):
                        x = la(x) * s * w
                    for i, la in enumerate(self.a):
                        x = la(x) * ws[i]
                    return x
            """
        ),
    )
    INVALID = (
        ex(
            """
            import torch
            import torch.nn as nn
            from typing import List

            class M(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(2)])

                def forward(self, x: torch.Tensor, scales: List[float]):
                    for layer, s in zip(self.layers, scales):
                        x = layer(x) * s
                    return x
            """,
            line=11,
            error="does not have a statically determinable length",
        ),
        ex(
            """
            import torch
            import torch.nn as nn

            class M(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(2)])
                    self.scales = [1.0, 2.0]

                def forward(self, x: torch.Tensor):
                    for i, (layer, s) in enumerate(zip(self.layers, self.scales)):
                        x = layer(x) * s * i
                    for layer, j in zip(self.layers, range(2)):
                        x = layer(x) * j
                    return x
            """,
            line=11,
            error="does not have a statically determinable length",
        ),
    )

    def visit_For(self, node: cst.For, ctx: FunctionContext) -> None:
        call = node.iter
        if isinstance(call, cst.Call) and _builtin_call(ctx, call, "enumerate") and call.args:
            call = call.args[0].value
        if not isinstance(call, cst.Call) or not _builtin_call(ctx, call, "zip"):
            return
        containers = [_container_of(ctx, a.value) for a in call.args]
        found = next((c for c in containers if c and c[1] in _LIST_CONTAINERS), None)
        if found is None:
            return
        listy = next((d for a in call.args if (d := _list_like(ctx, a.value))), None)
        if listy is None:
            return
        name, kind = found
        ctx.report(
            call,
            f"zip() of nn.{kind} `self.{name}` with {listy}: the unrolled loop needs a length "
            f"known at compile time; zip with a tuple or use enumerate(self.{name}) and index",
            related=_container_link(ctx, name, kind),
        )


def _builtin_call(ctx: FunctionContext, node: cst.BaseExpression, name: str) -> bool:
    return (
        isinstance(node, cst.Call)
        and isinstance(node.func, cst.Name)
        and node.func.value == name
        and ctx.resolve(name) == name
    )


def _list_like(ctx: FunctionContext, node: cst.BaseExpression) -> str | None:
    """A description when `node` is certainly a list or a range (no static length)."""
    if isinstance(node, (cst.List, cst.ListComp)):
        return "a list"
    if _builtin_call(ctx, node, "range"):
        return "range(...)"
    if isinstance(node, cst.Name) and _list_param(ctx, node.value):
        return f"the list `{node.value}`"
    name = _self_attr(node, _self_name(ctx))
    facts = _facts(ctx)
    if name is not None and facts is not None and name in facts.inits:
        inits = facts.inits[name]
        if all(i.attr.shape == "list" for i in inits) and not facts.declared_constant(name):
            return f"the list `self.{name}`"
    return None


# == TS168 calling elements of a sliced ModuleList ============================================


class SlicedModuleListCallRule(Rule):
    code = "TS168"
    name = "sliced-modulelist-call"
    summary = "Submodules taken from a slice of a ModuleList / Sequential cannot be called"
    family = Family.DYNAMIC_BEHAVIORS
    explanation = """
    **What it does.** Flags calls of submodules obtained from a slice of an `nn.ModuleList` or
    `nn.Sequential`: `for layer in self.layers[1:]: x = layer(x)`, `self.body[:2](x)`.

    **Why it fails.** A slice becomes a tuple of module values, and TorchScript cannot call
    them: `object has no attribute or method '__call__'` (or `cannot call a value of type
    'Tuple[...]'` for a sliced Sequential). Slicing itself and `len()` of a slice compile.

    **How to fix.** Loop over the whole container and skip by position:
    `for i, layer in enumerate(self.layers): if i >= 1: x = layer(x)`.
    """
    CATALOG = ("modulelist_slice_and_negative_index",)
    VALID = (
        ex(
            """
            import torch
            import torch.nn as nn

            class M(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])

                def forward(self, x: torch.Tensor):
                    for i, layer in enumerate(self.layers):
                        if i >= 1:
                            x = layer(x)
                    return self.layers[-1](x) * len(self.layers[1:])
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
                    self.layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])

                def forward(self, x: torch.Tensor):
                    for layer in self.layers[1:]:
                        x = layer(x)
                    return x
            """,
            line=11,
            error="has no attribute or method '__call__'",
        ),
        ex(
            """
            import torch
            import torch.nn as nn

            class M(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.body = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 2))

                def forward(self, x: torch.Tensor):
                    return self.body[:2](x)
            """,
            line=10,
            error="cannot call a value of type 'Tuple",
        ),
    )

    def visit_For(self, node: cst.For, ctx: FunctionContext) -> None:
        sliced = node.iter
        if not (isinstance(sliced, cst.Subscript) and _is_slice(sliced)):
            return
        if not isinstance(node.target, cst.Name):
            return
        found = _container_of(ctx, sliced.value)
        if found is None or found[1] not in _LIST_CONTAINERS:
            return
        loop_var = node.target.value
        for inner in _walk(node.body):
            if (
                isinstance(inner, cst.Call)
                and isinstance(inner.func, cst.Name)
                and inner.func.value == loop_var
            ):
                self._report(ctx, inner.func, found)

    def visit_Call(self, node: cst.Call, ctx: FunctionContext) -> None:
        func = node.func
        if not isinstance(func, cst.Subscript):
            return
        sliced = func.value if _single_index(func) is not None else func
        if not (isinstance(sliced, cst.Subscript) and _is_slice(sliced)):
            return
        found = _container_of(ctx, sliced.value)
        if found is not None and found[1] in _LIST_CONTAINERS:
            self._report(ctx, func, found)

    def _report(self, ctx: FunctionContext, node: cst.CSTNode, found: tuple[str, str]) -> None:
        name, kind = found
        ctx.report(
            node,
            f"submodules from a slice of nn.{kind} `self.{name}` cannot be called in "
            f"TorchScript; loop over enumerate(self.{name}) and skip by index instead",
            related=_container_link(ctx, name, kind),
        )


# == TS169 changing a module container in compiled code ========================================

_MUTATORS = frozenset(
    {"append", "extend", "insert", "pop", "clear", "update", "add_module", "register_module"}
)


class ModuleContainerMutationRule(Rule):
    code = "TS169"
    name = "module-container-mutation"
    summary = "A ModuleList / ModuleDict / Sequential cannot be changed in compiled code"
    family = Family.DYNAMIC_BEHAVIORS
    explanation = """
    **What it does.** Flags `self.layers.append(...)` (and `extend`, `insert`, `pop`,
    `clear`, `update`), item assignment `self.heads["b"] = ...` and `del self.layers[0]` in
    compiled code, where the attribute is an `nn.ModuleList`, `nn.ModuleDict` or
    `nn.Sequential`.

    **Why it fails.** A scripted module's submodules are fixed when it is compiled; the
    container methods that change them are Python-only (`Unknown type name 'Module'`,
    `object has no attribute or method '__setitem__'`, `Class does not define __delitem__`).

    **How to fix.** Build the whole container in `__init__`. To switch submodules on and off
    at run time, keep them all and select with a flag or an index loop.
    """
    CATALOG = ("modulelist_append_in_forward",)
    VALID = (
        ex(
            """
            import torch
            import torch.nn as nn

            class M(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.layers = nn.ModuleList()
                    self.layers.append(nn.Linear(2, 2))
                    self.outs = [torch.ones(1)]

                def forward(self, x: torch.Tensor):
                    self.outs.append(x)
                    for layer in self.layers:
                        x = layer(x)
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
                    self.layers = nn.ModuleList()
                    self.extra = nn.Identity()

                def forward(self, x: torch.Tensor):
                    self.layers.append(self.extra)
                    return x
            """,
            line=11,
            error="Unknown type name 'Module'",
        ),
        ex(
            """
            import torch
            import torch.nn as nn

            class M(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.heads = nn.ModuleDict({"a": nn.Linear(2, 2)})
                    self.spare = nn.Identity()

                def forward(self, x: torch.Tensor):
                    self.heads["b"] = self.spare
                    return x
            """,
            line=11,
            error="has no attribute or method '__setitem__'",
        ),
        ex(
            """
            import torch
            import torch.nn as nn

            class M(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.layers = nn.ModuleList([nn.Linear(2, 2), nn.ReLU()])

                def forward(self, x: torch.Tensor):
                    del self.layers[0]
                    return x
            """,
            line=10,
            error="Class does not define __delitem__",
        ),
    )

    def visit_Call(self, node: cst.Call, ctx: FunctionContext) -> None:
        func = node.func
        if not isinstance(func, cst.Attribute) or func.attr.value not in _MUTATORS:
            return
        found = _container_of(ctx, func.value)
        if found is None:
            return
        name, kind = found
        ctx.report(
            node,
            f"nn.{kind} `self.{name}` cannot be changed in compiled code "
            f"(`.{func.attr.value}()`); build it completely in __init__",
            related=_container_link(ctx, name, kind),
        )

    def visit_Subscript(self, node: cst.Subscript, ctx: FunctionContext) -> None:
        parent = ctx.parent()
        written = isinstance(parent, cst.AssignTarget) and parent.target is node
        deleted = isinstance(parent, cst.Del) and parent.target is node
        if not (written or deleted):
            return
        found = _container_of(ctx, node.value)
        if found is None:
            return
        name, kind = found
        action = "assigned to" if written else "deleted from"
        ctx.report(
            node,
            f"nn.{kind} `self.{name}` cannot be {action} in compiled code; build it completely "
            f"in __init__",
            related=_container_link(ctx, name, kind),
        )


# == TS170 constructing a module in compiled code =============================================


class ModuleConstructionRule(Rule):
    code = "TS170"
    name = "module-constructed-in-compiled-code"
    summary = "nn.Module classes (and nn.Parameter) cannot be instantiated in compiled code"
    family = Family.UNSUPPORTED_CONSTRUCTS
    explanation = """
    **What it does.** Flags calls that construct an nn.Module (`nn.Linear(2, 2)`,
    `nn.ReLU()`, a project module class) or an `nn.Parameter` inside compiled code.

    **Why it fails.** A scripted module's submodules and parameters are fixed when it is
    compiled; compiled code cannot create new ones: `Cannot instantiate class 'Linear' in a
    script function`.

    **How to fix.** Create the module in `__init__` (`self.act = nn.ReLU()`) and call
    `self.act(x)`, or use the functional form (`F.relu(x)`, `F.linear(x, w, b)`).
    """
    CATALOG = ("construct_nn_module_in_forward",)
    VALID = (
        ex(
            """
            import torch
            import torch.nn as nn
            import torch.nn.functional as F

            class M(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.act = nn.ReLU()
                    self.w = nn.Parameter(torch.ones(2, 2))

                def forward(self, x: torch.Tensor):
                    nn.init.zeros_(x)
                    return self.act(x) + F.linear(x, self.w)
            """
        ),
    )
    INVALID = (
        ex(
            """
            import torch
            import torch.nn as nn

            def f(x: torch.Tensor):
                return nn.Linear(2, 2)(x)
            """,
            line=5,
            error="Cannot instantiate class 'Linear' in a script function",
        ),
        ex(
            """
            import torch
            import torch.nn as nn

            class Block(nn.Module):
                def forward(self, x: torch.Tensor):
                    return x

            class M(nn.Module):
                def forward(self, x: torch.Tensor):
                    w = nn.Parameter(x)
                    return Block()(w)
            """,
            line=10,
            error="Cannot instantiate class 'Parameter' in a script function",
        ),
    )

    def visit_Call(self, node: cst.Call, ctx: FunctionContext) -> None:
        name = dotted(node.func)
        if not name or not name.rpartition(".")[2][:1].isupper():
            return
        qualified = ctx.resolve(name)
        if not (_is_torch_nn_class(qualified) or _is_module_class(ctx.project, qualified)):
            return
        short = name.rpartition(".")[2]
        if short in ("Parameter", "Buffer"):
            advice = f"create it in __init__ (`self.w = {name}(...)`)"
        else:
            advice = f"create it in __init__ (`self.m = {name}(...)`) and call `self.m(...)` here"
        ctx.report(
            node.func,
            f"TorchScript cannot instantiate `{name}` in compiled code; {advice}",
        )


# == TS171 / TS172 / TS173 / TS174 attribute assignments ======================================


def _assigned_attrs(
    ctx: FunctionContext, node: cst.Assign | cst.AugAssign
) -> Iterator[tuple[str, cst.CSTNode]]:
    """(attribute, node to report) for each `self.X` the statement writes."""
    self_name = _self_name(ctx)
    if self_name is None:
        return
    if isinstance(node, cst.AugAssign):
        name = _self_attr(node.target, self_name)
        if name is not None:
            yield name, node
        return
    for target in node.targets:
        name = _self_attr(target.target, self_name)
        if name is not None:
            # A single target: the compiler points at the whole statement.
            yield name, node if len(node.targets) == 1 else target.target
            continue
        if isinstance(target.target, (cst.Tuple, cst.List)):
            for el in target.target.elements:
                name = _self_attr(el.value, self_name)
                if name is not None:
                    yield name, el.value


def _runs_in_init(ctx: FunctionContext, facts: _Facts) -> bool:
    """The compiled method also runs in Python from __init__ (it may create the attribute)."""
    return ctx.compiled.info.name in _init_callees(facts)


def _function_lines(ctx: FunctionContext) -> set[int]:
    info = ctx.compiled.info
    return set(range(info.first_line, info.end_line + 1))


class NewAttributeRule(Rule):
    code = "TS171"
    name = "new-attribute-in-compiled-code"
    summary = "Compiled code cannot create a module attribute that __init__ never set"
    family = Family.DYNAMIC_BEHAVIORS
    explanation = """
    **What it does.** Flags `self.X = ...` (and `self.X += ...`) in compiled module code
    when no `__init__` in the class hierarchy assigns `self.X`.

    **Why it fails.** A scripted module's attributes and their types are fixed when it is
    compiled, from the attributes the instance has after `__init__`: `Tried to set
    nonexistent attribute: X. Did you forget to initialize it in __init__()?`. A class-level
    annotation (`cache: torch.Tensor`) alone does not create the attribute.

    **How to fix.** Initialise it in `__init__` with a value of the right type
    (`self.cache = torch.zeros(1)`), or `None` with a class-level annotation
    (`cache: Optional[torch.Tensor]`).
    """
    CATALOG = ("new_attribute_in_forward",)
    VALID = (
        ex(
            """
            import torch
            import torch.nn as nn

            class M(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.cache = torch.zeros(1)
                    self.count = 0

                def forward(self, x: torch.Tensor):
                    self.cache = x
                    self.count += 1
                    self.training = False
                    return x
            """
        ),
        ex(
            """
            import torch
            import torch.nn as nn

            class M(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.register_buffer("running", torch.zeros(1))
                    self.reset()

                def reset(self):
                    self.steps = 0

                def forward(self, x: torch.Tensor):
                    self.running = x.detach()
                    self.steps = self.steps + 1
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
                def forward(self, x: torch.Tensor):
                    self.cache = x
                    return x
            """,
            line=6,
            error="Tried to set nonexistent attribute: cache",
        ),
        ex(
            """
            import torch
            import torch.nn as nn

            class M(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.k = 1

                def reset(self):
                    self.steps = 0

                def forward(self, x: torch.Tensor):
                    self.reset()
                    return x * self.k
            """,
            line=10,
            error="Tried to set nonexistent attribute: steps",
        ),
        ex(
            """
            import torch
            import torch.nn as nn

            class M(nn.Module):
                def forward(self, x: torch.Tensor):
                    self.count += 1
                    return x
            """,
            line=6,
            error="Module 'M' has no attribute 'count'",
        ),
    )

    def visit_Assign(self, node: cst.Assign, ctx: FunctionContext) -> None:
        self._check(node, ctx)

    def visit_AugAssign(self, node: cst.AugAssign, ctx: FunctionContext) -> None:
        self._check(node, ctx)

    def _check(self, node: cst.Assign | cst.AugAssign, ctx: FunctionContext) -> None:
        for name, where in _assigned_attrs(ctx, node):
            facts = _facts(ctx)
            if facts is None or not facts.module or facts.defined_by_init(name):
                return
            if name in facts.methods or facts.declared_constant(name):
                continue
            if not (facts.closed and facts.in_file(ctx.summary.path)):
                return
            if _runs_in_init(ctx, facts):
                return
            if not _only_written_in(ctx, facts, name, _function_lines(ctx)):
                continue
            owner = facts.classes[0][1].name
            extra = (
                " (a class attribute is not a module attribute)"
                if (name in facts.class_attrs)
                else ""
            )
            ctx.report(
                where,
                f"`self.{name}` is not set in {owner}.__init__{extra}, so compiled code "
                f"cannot assign it; initialise it in __init__",
            )


class FinalReassignedRule(Rule):
    code = "TS172"
    name = "final-attribute-reassigned"
    summary = "A Final / __constants__ attribute cannot be assigned in compiled code"
    family = Family.DYNAMIC_BEHAVIORS
    explanation = """
    **What it does.** Flags `self.X = ...` in compiled module code when `X` is annotated
    `Final` in the class body or listed in `__constants__`.

    **Why it fails.** Constants are inlined into the compiled code and are not attributes of
    the scripted module, so there is nothing to assign: `Tried to set nonexistent attribute:
    X`.

    **How to fix.** If the value must change, make it a plain attribute: drop `Final` (or
    remove it from `__constants__`) and annotate it with its type (`k: int`).
    """
    CATALOG = ("final_attribute_reassigned",)
    VALID = (
        ex(
            """
            import torch
            import torch.nn as nn
            from typing import Final

            class M(nn.Module):
                k: Final[int]
                n: int

                def __init__(self):
                    super().__init__()
                    self.k = 2
                    self.n = 0

                def forward(self, x: torch.Tensor):
                    self.n = self.k + 1
                    return x * self.n
            """
        ),
        ex(
            """
            import torch
            import torch.nn as nn
            from typing import Final

            class Base(nn.Module):
                k: Final[int]

            class M(Base):
                width: int

                def __init__(self):
                    super().__init__()
                    self.k = 1
                    self.width = 2

                def forward(self, x: torch.Tensor):
                    self.k = 2  # M's own annotations hide Base's Final: k is a plain int
                    return x * self.k * self.width
            """
        ),
    )
    INVALID = (
        ex(
            """
            import torch
            import torch.nn as nn
            from typing import Final

            class M(nn.Module):
                k: Final[int]

                def __init__(self):
                    super().__init__()
                    self.k = 2

                def forward(self, x: torch.Tensor):
                    self.k = 3
                    return x
            """,
            line=13,
            error="Tried to set nonexistent attribute: k",
        ),
        ex(
            """
            import torch
            import torch.nn as nn

            class M(nn.Module):
                __constants__ = ["steps"]

                def __init__(self):
                    super().__init__()
                    self.steps = 0

                def forward(self, x: torch.Tensor):
                    self.steps += 1
                    return x
            """,
            line=12,
            error="Tried to set nonexistent attribute: steps",
        ),
    )

    def visit_Assign(self, node: cst.Assign, ctx: FunctionContext) -> None:
        self._check(node, ctx)

    def visit_AugAssign(self, node: cst.AugAssign, ctx: FunctionContext) -> None:
        self._check(node, ctx)

    def _check(self, node: cst.Assign | cst.AugAssign, ctx: FunctionContext) -> None:
        for name, where in _assigned_attrs(ctx, node):
            facts = _facts(ctx)
            if facts is None or not facts.module:
                return
            if not facts.declared_constant(name):
                continue
            how = "annotated Final" if name in facts.finals else "listed in __constants__"
            related = tuple(
                _init_link(i, f"self.{name} is set here") for i in facts.inits.get(name, [])
            )
            ctx.report(
                where,
                f"`self.{name}` is {how}, so TorchScript inlines it and compiled code cannot "
                f"assign it; make it a plain attribute if it must change",
                related=related,
            )


_TENSOR_METHODS = frozenset(
    {
        "detach", "clone", "contiguous", "float", "double", "half", "to", "cpu", "cuda",
        "view", "reshape", "flatten", "squeeze", "unsqueeze", "permute", "transpose", "t",
        "abs", "exp", "sigmoid", "tanh", "relu", "softmax", "mean", "sum",
    }
)  # fmt: skip


def _value_type(ctx: FunctionContext, node: cst.BaseExpression) -> str | None:
    """The TorchScript type a value certainly has ("" when non-None but unknown), or None."""
    scalar = _scalar_type(node)
    if scalar is not None:
        return scalar
    if isinstance(node, (cst.List, cst.ListComp, cst.Dict, cst.DictComp, cst.Tuple)):
        return ""
    if isinstance(node, cst.Name):
        if node.value not in _param_names(ctx) or _reassigned(ctx, node.value):
            return None
        annotation = _param_annotation(ctx, node.value)
        if annotation is None:
            return "Tensor"  # an unannotated parameter is a Tensor
        base = _annotation_base(ctx, annotation)
        if base in ("torch.Tensor", "int", "float", "str", "bool"):
            return "Tensor" if base == "torch.Tensor" else base
        if base in ("typing.List", "typing.Dict", "typing.Tuple", "list", "dict", "tuple"):
            return ""
        return None
    if isinstance(node, cst.Call):
        name = dotted(node.func)
        if name and ctx.resolve(name).startswith("torch.") and name.count(".") == 1:
            resolved = ctx.resolve(name)
            if resolved.rpartition(".")[0] == "torch" and resolved.rpartition(".")[2].islower():
                return "Tensor"
        func = node.func
        if isinstance(func, cst.Attribute) and func.attr.value in _TENSOR_METHODS:
            if _value_type(ctx, func.value) == "Tensor":
                return "Tensor"
        return None
    if isinstance(node, cst.BinaryOperation):
        sides = (_value_type(ctx, node.left), _value_type(ctx, node.right))
        return "Tensor" if "Tensor" in sides else None
    return None


def _param_names(ctx: FunctionContext) -> set[str]:
    params = ctx.node.params
    return {p.name.value for p in [*params.posonly_params, *params.params, *params.kwonly_params]}


class NoneAttributeAssignedRule(Rule):
    code = "TS173"
    name = "none-attribute-assigned"
    summary = "An attribute initialised to None without an annotation is typed NoneType"
    family = Family.TYPE_CHECKING
    fixable = True
    explanation = """
    **What it does.** Flags `self.X = value` in compiled module code when every `__init__`
    sets `self.X = None`, the class body has no annotation for `X`, and the value is certainly
    not None (a Tensor parameter, a number, a `torch.*` call, ...).

    **Why it fails.** TorchScript infers the attribute's type from its value when the module
    is scripted: `None` gives `NoneType`, and nothing else fits: `Wrong type for attribute
    assignment. Expected NoneType but got Tensor`. An annotation inside `__init__`
    (`self.cache: Optional[torch.Tensor] = None`) is not read for modules.

    **How to fix.** Annotate the attribute in the class body: `cache: Optional[torch.Tensor]`
    (the fix adds it). Files with `from __future__ import annotations` cannot use class-level
    annotations on modules; remove that import.
    """
    CATALOG = ("none_attribute_assigned_tensor",)
    VALID = (
        ex(
            """
            import torch
            import torch.nn as nn
            from typing import Optional

            class M(nn.Module):
                cache: Optional[torch.Tensor]

                def __init__(self):
                    super().__init__()
                    self.cache = None
                    self.other = None

                def forward(self, x: torch.Tensor):
                    self.cache = x
                    self.other = None
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
                def __init__(self):
                    super().__init__()
                    self.cache = None

                def forward(self, x: torch.Tensor):
                    self.cache = x.detach()
                    return x
            """,
            line=11,
            error="Expected NoneType but got Tensor",
            fixed="""import torch
import torch.nn as nn
from typing import Optional

class M(nn.Module):
    cache: Optional[torch.Tensor]
    def __init__(self):
        super().__init__()
        self.cache = None

    def forward(self, x: torch.Tensor):
        self.cache = x.detach()
        return x
""",
        ),
        ex(
            """
            import torch
            import torch.nn as nn
            import typing

            class M(nn.Module):
                \"\"\"Counts calls.\"\"\"

                def __init__(self):
                    super().__init__()
                    self.calls: typing.Optional[int] = None

                def forward(self, x: torch.Tensor, n: int):
                    self.calls = n
                    return x
            """,
            line=13,
            error="Expected NoneType but got int",
        ),
    )

    def visit_Assign(self, node: cst.Assign, ctx: FunctionContext) -> None:
        if len(node.targets) != 1:
            return
        name = _self_attr(node.targets[0].target, _self_name(ctx))
        if name is None:
            return
        facts = _facts(ctx)
        if facts is None or not facts.module or name in facts.annotations:
            return
        inits = facts.inits.get(name)
        if not inits or any(i.attr.shape != "none" for i in inits):
            return
        if facts.declared_constant(name) or not facts.closed:
            return
        kind = _value_type(ctx, node.value)
        if kind is None or not facts.in_file(ctx.summary.path) or _runs_in_init(ctx, facts):
            return
        if not _only_written_in(ctx, facts, name, _function_lines(ctx) | _lines(inits)):
            return
        shown = _a(kind or "value")
        spelled = _optional_annotation(ctx, kind)
        suggestion = f"`{name}: {spelled}`" if spelled else f"`{name}: Optional[...]`"
        fixes = _annotation_fix(ctx, facts, inits, name, spelled) if spelled else ()
        related = tuple(_init_link(i, f"self.{name} = None here") for i in inits)
        ctx.report(
            node,
            f"`self.{name}` is None after __init__ and has no class-level annotation, so "
            f"TorchScript types it NoneType and cannot assign {shown}; annotate it in the "
            f"class body: {suggestion}",
            fixes=fixes,
            related=related,
        )


def _a(word: str) -> str:
    return f"an {word}" if word[:1] in "aeiou" else f"a {word}"


def _lines(inits: Sequence[_Init]) -> set[int]:
    return {i.attr.line for i in inits}


def _optional_annotation(ctx: FunctionContext, kind: str) -> str | None:
    """`Optional[torch.Tensor]` as this file can spell it without new imports."""
    if not kind:
        return None
    optional = _local_name(ctx, "typing.Optional")
    if optional is None:
        return None
    inner = kind
    if kind == "Tensor":
        tensor = _local_name(ctx, "torch.Tensor")
        if tensor is None:
            return None
        inner = tensor
    return f"{optional}[{inner}]"


def _annotation_fix(
    ctx: FunctionContext, facts: _Facts, inits: Sequence[_Init], name: str, annotation: str
) -> tuple[Fix, ...]:
    """Insert `name: annotation` at the top of the class body (after a docstring)."""
    summary, cls = facts.classes[0]
    if _future_annotations(ctx.summary) or any(i.cls is not cls for i in inits):
        return ()
    if facts.annotations_owner not in (None, cls):
        return ()  # annotating this class would hide its bases' annotations (and Finals)
    class_src = _class_source(ctx, summary, cls)
    if class_src is None:
        return ()
    body = list(_class_body(class_src))
    if not body:
        return ()
    first = body[0]
    if cstwalk.is_docstring(first) and len(body) > 1:
        first = body[1]
    line = _range(ctx, class_src, first).start.line
    indent = ctx.indent_of(line)
    edit = TextEdit(Range.of(line, 0, line, 0), f"{indent}{name}: {annotation}\n")
    return (Fix(f"Annotate `{name}: {annotation}` in the class body", (edit,)),)


class AttributeTypeChangeRule(Rule):
    code = "TS174"
    name = "attribute-type-changed"
    summary = "Compiled code assigns a module attribute a literal of another type"
    family = Family.TYPE_CHECKING
    explanation = """
    **What it does.** Flags `self.X = <literal>` in compiled module code when `__init__` sets
    `X` to a literal of a different type (`self.count = 0` in `__init__`, `self.count = 1.5`
    in `forward`) and the class body does not annotate `X`.

    **Why it fails.** The attribute's type is inferred from its `__init__` value and fixed:
    `Wrong type for attribute assignment. Expected int but got float`. TorchScript does not
    convert between int, float and bool here.

    **How to fix.** Initialise it with the type it will hold (`self.count = 0.0`), or annotate
    it in the class body (`count: float`).
    """
    CATALOG = ("attribute_type_change_in_forward",)
    VALID = (
        ex(
            """
            import torch
            import torch.nn as nn

            class M(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.count = 0.0
                    self.flag = False

                def forward(self, x: torch.Tensor):
                    self.count = 1.5
                    self.flag = True
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
                    self.count = 0

                def forward(self, x: torch.Tensor):
                    self.count = 1.5
                    return x
            """,
            line=10,
            error="Expected int but got float",
        ),
        ex(
            """
            import torch
            import torch.nn as nn

            class M(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.scale = 1.0

                def forward(self, x: torch.Tensor):
                    self.scale = 2
                    return x * self.scale
            """,
            line=10,
            error="Expected float but got int",
        ),
    )

    def visit_Assign(self, node: cst.Assign, ctx: FunctionContext) -> None:
        if len(node.targets) != 1:
            return
        new = _scalar_type(node.value)
        if new is None:
            return
        name = _self_attr(node.targets[0].target, _self_name(ctx))
        if name is None:
            return
        facts = _facts(ctx)
        if facts is None or not facts.module or name in facts.annotations:
            return
        inits = facts.inits.get(name)
        if not inits or any(i.attr.shape != "const" for i in inits):
            return
        if facts.declared_constant(name) or not facts.closed:
            return
        if not facts.in_file(ctx.summary.path) or _runs_in_init(ctx, facts):
            return
        old = {_scalar_type(v) if v is not None else None for v in map(_expr_of(ctx), inits)}
        if len(old) != 1:
            return
        before = old.pop()
        if before is None or before == new:
            return
        if not _only_written_in(ctx, facts, name, _function_lines(ctx) | _lines(inits)):
            return
        related = tuple(_init_link(i, f"self.{name} starts as {before} here") for i in inits)
        ctx.report(
            node,
            f"`self.{name}` is typed {before} from its __init__ value, so it cannot be "
            f"assigned {_a(new)}; initialise it as {_a(new)} or annotate it in the class body",
            related=related,
        )


def _expr_of(ctx: FunctionContext) -> Callable[[_Init], cst.BaseExpression | None]:
    return lambda init: _expr(_init_value(ctx, init))


# == TS175 super() ===========================================================================


class SuperCallRule(Rule):
    code = "TS175"
    name = "super-call"
    summary = "TorchScript does not support super() or calling a base class method directly"
    family = Family.UNSUPPORTED_CONSTRUCTS
    fixable = True
    explanation = """
    **What it does.** Flags `super().method(...)` / `super(Cls, self).method(...)` and
    `Base.method(self, ...)` in compiled code (module methods and TorchScript classes).

    **Why it fails.** TorchScript has no `super`: it is looked up as an unknown value, and the
    call fails with `'Tensor' object has no attribute or method 'forward'` (or
    `Python type cannot be used as a value`, `attribute lookup is not defined on python
    value of type 'type'`).

    **How to fix.** Give the base class's logic its own method name (`def _base_forward(self,
    x)` in the base, with the base's `forward` calling it) and call `self._base_forward(x)`;
    for torch layers call the functional form (`F.linear(x, self.weight, self.bias)`). In a
    TorchScript class, drop `super().__init__()` (the fix does this when the class has no
    base).
    """
    CATALOG = ("super_forward_call", "script_class_super_init")
    VALID = (
        ex(
            """
            import torch
            import torch.nn as nn
            import torch.nn.functional as F

            class Base(nn.Module):
                def _base_forward(self, x: torch.Tensor):
                    return x + 1

                def forward(self, x: torch.Tensor):
                    return self._base_forward(x)

            class M(Base):
                def __init__(self):
                    super().__init__()
                    self.lin = nn.Linear(2, 2)

                def forward(self, x: torch.Tensor):
                    y = F.linear(x, self.lin.weight, self.lin.bias)
                    return self._base_forward(y) * 2
            """
        ),
    )
    INVALID = (
        ex(
            """
            import torch
            import torch.nn as nn

            class M(nn.Linear):
                def __init__(self):
                    super().__init__(2, 2)

                def forward(self, x: torch.Tensor):
                    return super().forward(x) * 2
            """,
            line=9,
            error="'Tensor' object has no attribute or method 'forward'",
        ),
        ex(
            """
            import torch
            import torch.nn as nn

            class Base(nn.Module):
                def forward(self, x: torch.Tensor):
                    return x + 1

            class M(Base):
                def forward(self, x: torch.Tensor):
                    return Base.forward(self, x) * 2
            """,
            line=10,
            error="attribute lookup is not defined on python value of type 'type'",
        ),
        ex(
            """
            class Box:
                def __init__(self, v: int):
                    super().__init__()
                    self.v = v

            def f(x: int):
                return Box(x).v
            """,
            line=3,
            error="'Tensor' object has no attribute or method '__init__'",
            fixed="""class Box:
    def __init__(self, v: int):
        self.v = v

def f(x: int):
    return Box(x).v
""",
        ),
    )

    def visit_Call(self, node: cst.Call, ctx: FunctionContext) -> None:
        func = node.func
        if not isinstance(func, cst.Attribute):
            return
        receiver = func.value
        method = func.attr.value
        if isinstance(receiver, cst.Call) and _builtin_call(ctx, receiver, "super"):
            fixes = _drop_super_init(ctx, node, method)
            ctx.report(
                node,
                f"TorchScript does not support super(); {self._advice(ctx, method)}",
                fixes=fixes,
            )
            return
        self_name = _self_name(ctx)
        if self_name is None or not node.args:
            return
        first = node.args[0].value
        if not (isinstance(first, cst.Name) and first.value == self_name):
            return
        base = dotted(receiver)
        if not base:
            return
        qualified = ctx.resolve(base)
        found = ctx.project.lookup_class(qualified)
        if found is None and not _is_torch_nn_class(qualified):
            return
        if found is not None:
            defined = next(
                (c.method(method) for _, c in ctx.project.mro(qualified) if c.method(method)),
                None,
            )
            if defined is not None and defined.is_staticmethod:
                return  # `Utils.helper(self, ...)`: a static method taking the instance
        ctx.report(
            node,
            f"TorchScript cannot call `{base}.{method}(self, ...)` (a class is not a value in "
            f"compiled code); {self._advice(ctx, method)}",
        )

    @staticmethod
    def _advice(ctx: FunctionContext, method: str) -> str:
        if method == "__init__":
            return "remove the call: a TorchScript class has no base to initialise"
        return (
            f"move the base class's `{method}` logic into a method with its own name and "
            f"call that through self"
        )


def _drop_super_init(ctx: FunctionContext, node: cst.Call, method: str) -> tuple[Fix, ...]:
    """Delete `super().__init__()` from a TorchScript class that has no base class."""
    owner = ctx.compiled.owner
    if method != "__init__" or owner is None or ctx.compiled.info.name != "__init__":
        return ()
    if node.args or (owner.bases and owner.bases != ("object",)):
        return ()
    facts = _facts(ctx)
    if facts is not None and facts.module:
        return ()
    expr, line_node, block = ctx.parent(1), ctx.parent(2), ctx.parent(3)
    if not (
        isinstance(expr, cst.Expr)
        and isinstance(line_node, cst.SimpleStatementLine)
        and len(line_node.body) == 1
        and isinstance(block, cst.IndentedBlock)
        and len(block.body) > 1
    ):
        return ()
    line = ctx.range(line_node).start.line
    edit = TextEdit(Range.of(line, 0, line + 1, 0), "")
    return (Fix("Remove `super().__init__()`", (edit,)),)


# == TS176 __dict__ / __class__ ================================================================


class ModuleIntrospectionRule(Rule):
    code = "TS176"
    name = "module-introspection"
    summary = "`self.__dict__` and `self.__class__` are not available in compiled code"
    family = Family.UNSUPPORTED_CONSTRUCTS
    explanation = """
    **What it does.** Flags `self.__dict__` and `self.__class__` (also on a submodule,
    `self.sub.__dict__`) in compiled code.

    **Why it fails.** A scripted module is not a Python object with a `__dict__`: `Module 'M'
    has no attribute '__dict__'`. `self.__class__` crashes the frontend with an error that
    has no source location (`type object 'type' has no attribute '__globals__'`).

    **How to fix.** Read attributes by name. For the class name, use a constant
    (`name: Final = "M"`) or a string literal.
    """
    CATALOG = ("module_method_uses_self_dict", "self_class_name")
    VALID = (
        ex(
            """
            import torch
            import torch.nn as nn
            from typing import Final

            class M(nn.Module):
                kind: Final = "M"

                def forward(self, x: torch.Tensor):
                    return self.kind

                @torch.jit.unused
                def describe(self) -> str:
                    return self.__class__.__name__ + str(len(self.__dict__))
            """
        ),
    )
    INVALID = (
        ex(
            """
            import torch
            import torch.nn as nn

            class M(nn.Module):
                def forward(self, x: torch.Tensor):
                    return x + len(self.__dict__)
            """,
            line=6,
            error="Module 'M' has no attribute '__dict__'",
        ),
        ex(
            """
            import torch
            import torch.nn as nn

            class M(nn.Module):
                def forward(self, x: torch.Tensor):
                    return self.__class__.__name__
            """,
            line=6,
            error="has no attribute '__globals__'",
        ),
    )

    def visit_Attribute(self, node: cst.Attribute, ctx: FunctionContext) -> None:
        special = node.attr.value
        if special not in ("__dict__", "__class__"):
            return
        self_name = _self_name(ctx)
        value = node.value
        facts = _facts(ctx)
        if facts is None:
            return
        if isinstance(value, cst.Name) and value.value == self_name:
            if not facts.module and special == "__class__":
                return  # only checked on modules
        else:
            sub = _self_attr(value, self_name)
            if sub is None or not facts.module or facts.submodule_class(sub) is None:
                return
        shown = ctx.code_for(node)
        advice = (
            "read attributes by name instead"
            if special == "__dict__"
            else "use a string constant (`name: Final = ...`) instead"
        )
        ctx.report(node, f"`{shown}` is not available in compiled code; {advice}")


# == TS177 the nn.Module API =================================================================

_PYTHON_ONLY_API = frozenset(
    {
        "parameters", "named_parameters", "buffers", "state_dict", "load_state_dict",
        "train", "eval", "to", "cpu", "cuda", "xpu", "float", "double", "half", "bfloat16",
        "type", "share_memory", "zero_grad", "requires_grad_", "register_buffer",
        "register_parameter", "add_module", "register_module", "register_forward_hook",
        "register_forward_pre_hook", "register_full_backward_hook", "apply",
        "get_submodule", "get_parameter", "get_buffer",
    }
)  # fmt: skip


class ModuleApiCallRule(Rule):
    code = "TS177"
    name = "nn-module-api-call"
    summary = "This nn.Module method is Python-only and cannot be called from compiled code"
    family = Family.UNSUPPORTED_CONSTRUCTS
    explanation = """
    **What it does.** Flags calls of nn.Module methods that TorchScript cannot compile, on
    `self` or on a submodule: `parameters()`, `named_parameters()`, `buffers()`,
    `state_dict()`, `train()`, `eval()`, `to()`, `cuda()`, `float()`, `zero_grad()`,
    `register_buffer()`, `apply()`, `get_submodule()`, and similar.

    **Why it fails.** TorchScript compiles these methods from torch's own source, which uses
    generators, lambdas, `*args` and annotations it does not support; the error points into
    `torch/nn/modules/module.py` (`Yield aren't supported`, `Unknown type name 'Self'`, ...).
    `modules()`, `children()`, `named_children()`, `named_modules()` and `named_buffers()`
    do compile.

    **How to fix.** Call these methods from Python before or after scripting, or in a method
    marked `@torch.jit.unused`. Read parameters directly (`self.lin.weight`) and use
    `self.training` for the mode.
    """
    CATALOG = ("nn_module_api_call_in_forward",)
    VALID = (
        ex(
            """
            import torch
            import torch.nn as nn

            class M(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.lin = nn.Linear(2, 2)

                def parameters(self, recurse: bool = True):
                    return super().parameters(recurse)

                def forward(self, x: torch.Tensor):
                    n = 0
                    for m in self.modules():
                        n += 1
                    for name, c in self.lin.named_children():
                        n += 1
                    if self.training:
                        x = x * 2
                    return self.lin(x) + self.lin.weight.sum() + n

                @torch.jit.unused
                def count(self) -> int:
                    return len(list(self.parameters()))
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
                    self.lin = nn.Linear(2, 2)

                def forward(self, x: torch.Tensor):
                    n = 0
                    for p in self.lin.parameters():
                        n += 1
                    return x * n
            """,
            line=11,
            error="Yield aren't supported",
        ),
        ex(
            """
            import torch
            import torch.nn as nn

            class M(nn.Module):
                def forward(self, x: torch.Tensor):
                    self.eval()
                    return x
            """,
            line=6,
            error="Unknown type name 'Self'",
        ),
    )

    def visit_Call(self, node: cst.Call, ctx: FunctionContext) -> None:
        func = node.func
        if not isinstance(func, cst.Attribute) or func.attr.value not in _PYTHON_ONLY_API:
            return
        method = func.attr.value
        self_name = _self_name(ctx)
        facts = _facts(ctx)
        if facts is None or not facts.module or self_name is None:
            return
        receiver = func.value
        if isinstance(receiver, cst.Name) and receiver.value == self_name:
            if method in facts.methods:
                return  # the class defines its own
            shown = "self"
        else:
            sub = _self_attr(receiver, self_name)
            target = facts.submodule_class(sub) if sub else None
            if target is None or _defines(ctx.project, target, method):
                return
            shown = f"self.{sub}"
        ctx.report(
            node,
            f"`{shown}.{method}()` is Python-only nn.Module API that TorchScript cannot "
            f"compile; call it outside the scripted code or in a @torch.jit.unused method",
        )


def _defines(project: Project, qualified: str, method: str) -> bool:
    return any(cls.method(method) is not None for _, cls in project.mro(qualified))


# == TS178 super().__init__() never called ===================================================


class ModuleNotInitializedRule(Rule):
    code = "TS178"
    name = "module-not-initialized"
    summary = "An nn.Module whose __init__ never calls super().__init__() cannot be scripted"
    family = Family.INVALID_CUSTOM_CLASS
    fixable = True
    explanation = """
    **What it does.** Flags the `__init__` of a scripted nn.Module subclass when it never
    calls `super().__init__()` (nor `nn.Module.__init__(self)` / `Base.__init__(self)`),
    directly or through a method it calls.

    **Why it fails.** `torch.jit.script` checks the instance before compiling anything:
    `'M' has not been initialized, did you forget to call 'super()'?`. The error has no
    source location, so it is reported on the `__init__` definition.

    **How to fix.** Call `super().__init__()` as the first statement of `__init__` (the fix
    inserts it when the class derives directly from nn.Module).
    """
    CATALOG = ("module_not_initialized",)
    VALID = (
        ex(
            """
            import torch
            import torch.nn as nn

            class Base(nn.Module):
                def __init__(self):
                    nn.Module.__init__(self)

            class M(Base):
                def __init__(self):
                    self.setup()
                    self.k = 1

                def setup(self):
                    super().__init__()

                def forward(self, x: torch.Tensor):
                    return x * self.k
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
                    \"\"\"A module that forgets to initialise nn.Module.\"\"\"
                    self.k = 1

                def forward(self, x: torch.Tensor):
                    return x * self.k
            """,
            line=5,
            error="has not been initialized, did you forget to call 'super()'?",
            fixed="""import torch
import torch.nn as nn

class M(nn.Module):
    def __init__(self):
        \"\"\"A module that forgets to initialise nn.Module.\"\"\"
        super().__init__()
        self.k = 1

    def forward(self, x: torch.Tensor):
        return x * self.k
""",
        ),
    )

    def check_function(self, ctx: FunctionContext) -> None:
        if not ctx.compiled.entry:
            return
        facts = _facts(ctx)
        if facts is None or not facts.module:
            return
        found = _real_init(facts)
        if found is None:
            return
        summary, cls, init = found
        if summary.path != ctx.summary.path or _initializes(facts, init):
            return
        if _raises_first(ctx, summary, cls):
            return
        ctx.report(
            ctx.node,
            f"{cls.name}.__init__ never calls super().__init__(), so torch.jit.script "
            f"rejects the module ('has not been initialized'); call it first in __init__",
            range=Range.of(init.line, init.column, init.line, init.column + 3),
            fixes=_super_init_fix(ctx, summary, cls),
        )


def _real_init(facts: _Facts) -> tuple[FileSummary, ClassInfo, FunctionInfo] | None:
    """The `__init__` that runs: the last definition in the first class that has one,
    skipping `@typing.overload` stubs."""
    for summary, cls in facts.classes:
        defs = [
            m
            for m in cls.methods
            if m.name == "__init__" and not any(d.endswith("overload") for d in m.decorators)
        ]
        if defs:
            return summary, cls, defs[-1]
    return None


def _initializes(facts: _Facts, init: FunctionInfo) -> bool:
    """`init`, or a method it calls on self / super() / a base class, calls some base
    `__init__`. A call into a method the project does not define counts as one (unknown)."""
    seen: set[str] = set()
    todo = [init]
    while todo:
        fn = todo.pop()
        for call in fn.calls:
            name = call.name.rpartition(".")[2]
            if name == "__init__":
                return True
            if call.kind not in ("self", "super", "dotted") or name in seen:
                continue
            seen.add(name)
            method = next((c.method(name) for _, c in facts.classes if c.method(name)), None)
            if method is not None:
                todo.append(method)
            elif call.kind in ("self", "super"):
                return True  # defined outside the project: it may initialise
    return False


def _raises_first(ctx: FunctionContext, summary: FileSummary, cls: ClassInfo) -> bool:
    """An `__init__` whose body raises unconditionally (an abstract base): never run."""
    class_src = _class_source(ctx, summary, cls)
    method = _method_source(class_src, "__init__") if class_src else None
    node = method.node if method else None
    if not isinstance(node, cst.FunctionDef) or not isinstance(node.body, cst.IndentedBlock):
        return True
    for stmt in node.body.body:
        if isinstance(stmt, cst.SimpleStatementLine) and any(
            isinstance(small, cst.Raise) for small in stmt.body
        ):
            return True
    return False


def _super_init_fix(ctx: FunctionContext, summary: FileSummary, cls: ClassInfo) -> tuple[Fix, ...]:
    """Insert `super().__init__()` first in `__init__` when the base is nn.Module itself."""
    bases = [ctx.project.qualify(summary, b) for b in cls.bases]
    if not bases or any(
        b not in ("torch.nn.Module", "torch.nn.modules.module.Module") for b in bases
    ):
        return ()
    class_src = _class_source(ctx, summary, cls)
    method = _method_source(class_src, "__init__") if class_src else None
    if method is None:
        return ()
    node = method.node
    assert isinstance(node, cst.FunctionDef)
    if not isinstance(node.body, cst.IndentedBlock):
        return ()
    body = list(node.body.body)
    if cstwalk.is_docstring(body[0]):
        if len(body) == 1:
            return ()
        body = body[1:]
    line = _range(ctx, method, body[0]).start.line
    indent = ctx.indent_of(line)
    edit = TextEdit(Range.of(line, 0, line, 0), f"{indent}super().__init__()\n")
    return (Fix("Call super().__init__() first", (edit,)),)


# == TS179 lambda hooks =======================================================================

_HOOK_METHODS = frozenset({"register_forward_hook", "register_forward_pre_hook"})


class LambdaHookRule(Rule):
    code = "TS179"
    name = "lambda-forward-hook"
    summary = "A forward hook or pre-hook given as a lambda cannot be compiled"
    family = Family.UNSUPPORTED_CONSTRUCTS
    explanation = """
    **What it does.** Flags `register_forward_hook(lambda ...)` and
    `register_forward_pre_hook(lambda ...)` on a module: `self` or `self.sub` in a module's
    method, or a variable holding a newly constructed module.

    **Why it fails.** TorchScript compiles a scripted module's forward hooks and pre-hooks,
    and it needs a function's own source to do so; a lambda has none it can use:
    `Expected a single top-level function`. The error has no source location.

    **How to fix.** Define the hook as a module-level function with annotated parameters
    (`def log_hook(m: nn.Module, inp: Tuple[torch.Tensor], out: torch.Tensor) -> None`),
    or register it only on the eager model you do not script.
    """
    CATALOG = ("forward_hook_lambda",)
    VALID = (
        ex(
            """
            import torch
            import torch.nn as nn

            class M(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.lin = nn.Linear(2, 2)
                    self.register_full_backward_hook(lambda mod, gi, go: None)

                def forward(self, x: torch.Tensor):
                    return self.lin(x)

            handlers = {"a": lambda v: v}
            """
        ),
    )
    INVALID = (
        ex(
            """
            import torch
            import torch.nn as nn

            class M(nn.Module):
                def forward(self, x: torch.Tensor):
                    return x

            def make():
                m = M()
                m.register_forward_hook(lambda mod, inp, out: None)
                return m
            """,
            line=10,
            error="Expected a single top-level function",
            target="make()",
        ),
        ex(
            """
            import torch
            import torch.nn as nn

            class M(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.lin = nn.Linear(2, 2)
                    self.lin.register_forward_pre_hook(lambda mod, inp: None)

                def forward(self, x: torch.Tensor):
                    return self.lin(x)
            """,
            line=8,
            error="Expected a single top-level function",
        ),
    )

    def check_file(self, ctx: FileContext) -> None:
        text = ctx.text
        if "lambda" not in text or "register_forward" not in text:
            return
        # Parse only the top-level blocks that mention a hook registration.
        hits = {_line_of(text, m.start()) for m in re.finditer("register_forward", text)}
        done: set[int] = set()
        for line in sorted(hits):
            module, start = ctx.blocks.module_for_line(line)
            if start in done:
                continue
            done.add(start)
            ctx.use(module, start)
            for stmt in module.body:
                if isinstance(stmt, cst.ClassDef):
                    self._class(ctx, stmt, hits)
                elif isinstance(stmt, cst.FunctionDef):
                    self._scope(ctx, stmt.body, None)
                else:
                    self._scope(ctx, stmt, None)

    def _class(self, ctx: FileContext, node: cst.ClassDef, hits: set[int]) -> None:
        info = ctx.summary.cls(node.name.value)
        if info is None:
            return
        if not ctx.project.is_module_class(ctx.project.qualified_class(ctx.summary, info)):
            return
        body = node.body.body if isinstance(node.body, cst.IndentedBlock) else ()
        defs = [stmt for stmt in body if isinstance(stmt, cst.FunctionDef)]
        # The index lists the same direct methods in the same order: use its line ranges.
        spans = [(m.first_line, m.end_line) for m in info.methods]
        if len(spans) != len(defs):
            spans = [(0, 1 << 30)] * len(defs)
        for stmt, (first, last) in zip(defs, spans, strict=True):
            if stmt.params.params and any(first <= h <= last for h in hits):
                self._scope(ctx, stmt.body, stmt.params.params[0].name.value)

    def _scope(self, ctx: FileContext, body: cst.CSTNode, self_name: str | None) -> None:
        nodes = [body, *_walk(body)]
        modules: set[str] = set()
        for node in nodes:
            if isinstance(node, cst.Assign) and isinstance(node.value, cst.Call):
                callee = dotted(node.value.func)
                if callee and _is_module_class(ctx.project, ctx.resolve(callee)):
                    for target in node.targets:
                        if isinstance(target.target, cst.Name):
                            modules.add(target.target.value)
        for node in nodes:
            if not isinstance(node, cst.Call) or not isinstance(node.func, cst.Attribute):
                continue
            if node.func.attr.value not in _HOOK_METHODS:
                continue
            if not _is_module_receiver(node.func.value, self_name, modules):
                continue
            hook = _hook_argument(node)
            if isinstance(hook, cst.Lambda):
                ctx.report(
                    hook,
                    f"TorchScript compiles forward hooks and cannot compile a lambda "
                    f"({node.func.attr.value}); define the hook as a module-level function "
                    f"with annotated parameters",
                )


def _is_module_receiver(node: cst.BaseExpression, self_name: str | None, modules: set[str]) -> bool:
    if isinstance(node, cst.Name):
        return node.value == self_name or node.value in modules
    return self_name is not None and _self_attr(node, self_name) is not None


def _hook_argument(call: cst.Call) -> cst.BaseExpression | None:
    for arg in call.args:
        if arg.keyword is None and arg.star == "":
            return arg.value
        if arg.keyword is not None and arg.keyword.value == "hook":
            return arg.value
    return None


# == TS180 invalid constants ===================================================================

_TENSOR_FACTORIES = frozenset(
    {"tensor", "ones", "zeros", "empty", "rand", "randn", "arange", "full", "eye", "linspace"}
)


class InvalidConstantRule(Rule):
    code = "TS180"
    name = "invalid-constant"
    summary = "A Final / __constants__ attribute holds a value that cannot be a constant"
    family = Family.TYPE_CHECKING
    explanation = """
    **What it does.** Flags an attribute listed in `__constants__` or annotated `Final`
    whose value is a dict, a set, a lambda, a Tensor, or (a list/tuple of) nn.Modules.

    **Why it fails.** Constants are baked into the compiled code, and only `None`, `bool`,
    `int`, `float`, `str`, `torch.device`, `torch.dtype` and tuples/lists of these qualify.
    `torch.jit.script` checks this before compiling: `'dict' object in attribute 'M.cfg' is
    not a valid constant`. The error has no source location, so it is reported where the
    value is assigned.

    **How to fix.** Drop `Final` / remove the name from `__constants__`: the attribute then
    becomes a normal typed attribute (`Dict[str, int]`, a Tensor, a submodule).
    """
    CATALOG = ("constants_with_invalid_type",)
    VALID = (
        ex(
            """
            import torch
            import torch.nn as nn
            from typing import Final

            class M(nn.Module):
                __constants__ = ["dims", "mode"]
                eps: Final[float]

                def __init__(self):
                    super().__init__()
                    self.dims = [1, 2]
                    self.mode = "a"
                    self.eps = 1e-5
                    self.cfg = {"a": 1}

                def forward(self, x: torch.Tensor):
                    return x * self.dims[0] + self.eps + self.cfg["a"]
            """
        ),
    )
    INVALID = (
        ex(
            """
            import torch
            import torch.nn as nn

            class M(nn.Module):
                __constants__ = ["cfg"]

                def __init__(self):
                    super().__init__()
                    self.cfg = {"a": 1}

                def forward(self, x: torch.Tensor):
                    return x
            """,
            line=9,
            error="'dict' object in attribute 'M.cfg' is not a valid constant",
        ),
        ex(
            """
            import torch
            import torch.nn as nn
            from typing import Final

            class M(nn.Module):
                table: Final[torch.Tensor]

                def __init__(self):
                    super().__init__()
                    self.table = torch.ones(3)

                def forward(self, x: torch.Tensor):
                    return x
            """,
            line=10,
            error="'torch.Tensor' object in attribute 'M.table' is not a valid constant",
        ),
    )

    def check_function(self, ctx: FunctionContext) -> None:
        if not ctx.compiled.entry or ctx.compiled.owner is None:
            return
        facts = _facts(ctx)
        if facts is None or not facts.module:
            return
        for name in sorted(facts.constants | facts.finals):
            for init in facts.inits.get(name, []):
                if init.summary.path != ctx.summary.path:
                    continue
                what = _non_constant(ctx, init)
                if what is None:
                    continue
                how = "annotated Final" if name in facts.finals else "listed in __constants__"
                attr = init.attr
                ctx.report(
                    ctx.node,
                    f"`{name}` is {how}, but {what} is not a valid TorchScript constant; drop "
                    f"Final / __constants__ for it so it becomes a normal attribute",
                    range=Range.of(attr.line, attr.column, attr.line, attr.column + 5 + len(name)),
                )


def _non_constant(ctx: FunctionContext, init: _Init) -> str | None:
    shape = init.attr.shape
    if shape in ("dict", "set"):
        return f"a {shape}"
    if shape == "lambda":
        return "a lambda"
    if shape in ("list", "tuple"):
        if any(m and _is_module_class(ctx.project, m) for m in init.attr.modules):
            return f"a {shape} of modules"
        return None
    target = _outer_call(init)
    if not target:
        return None
    if target in ("set", "dict", "frozenset"):
        return f"a {target}"
    if _is_module_class(ctx.project, target):
        return "an nn.Module"
    prefix, _, last = target.rpartition(".")
    if prefix == "torch" and last in _TENSOR_FACTORIES:
        return "a Tensor"
    return None


# == TS181 / TS182 TorchScript classes and inheritance ========================================


def _script_class(ctx: FunctionContext, qualified: str) -> tuple[FileSummary, ClassInfo] | None:
    """A project class TorchScript compiles as a class: not a module, enum, NamedTuple..."""
    found = ctx.project.lookup_class(qualified)
    if found is None or ctx.project.is_module_class(qualified):
        return None
    if ctx.project.is_special_class(*found):
        return None
    return found


def _project_bases(ctx: FunctionContext, summary: FileSummary, cls: ClassInfo) -> list[str]:
    """Qualified names of the class's bases other than `object`."""
    return [ctx.project.qualify(summary, b) for b in cls.bases if b not in ("object", "")]


class ScriptClassInheritanceRule(Rule):
    code = "TS181"
    name = "script-class-inheritance"
    summary = "A class scripted explicitly must derive directly from object"
    family = Family.INVALID_CUSTOM_CLASS
    explanation = """
    **What it does.** Flags a class passed to `torch.jit.script` (or decorated with
    `@torch.jit.script`) that has a base class other than `object`.

    **Why it fails.** TorchScript classes have no inheritance: `TorchScript classes does not
    support inheritance yet. Please directly inherit from 'object'`. (A subclass compiled only
    because a scripted function uses it is accepted, but it loses its inherited methods; see
    TS182.)

    **How to fix.** Copy the base's fields and methods into the class, or compose: hold the
    base as an attribute instead of deriving from it.
    """
    CATALOG = ("script_class_inheritance",)
    VALID = (
        ex(
            """
            class Box(object):
                def __init__(self, v: int):
                    self.v = v

            class Pair:
                def __init__(self, a: int, b: int):
                    self.box = Box(a)
                    self.b = b

            def f(x: int):
                return Pair(x, 1).box.v
            """
        ),
    )
    INVALID = (
        ex(
            """
            class Base:
                def __init__(self):
                    self.a = 1

            class Child(Base):
                def __init__(self):
                    self.a = 2
            """,
            line=5,
            error="TorchScript classes does not support inheritance yet",
            target="Child",
        ),
    )

    def check_function(self, ctx: FunctionContext) -> None:
        owner = ctx.compiled.owner
        if owner is None or ctx.compiled.info.name != "__init__":
            return
        qualified = f"{ctx.summary.module}.{owner.name}"
        if qualified not in ctx.compiled.roots or ctx.compiled.context != qualified:
            return
        if _script_class(ctx, qualified) is None:
            return
        bases = _project_bases(ctx, ctx.summary, owner)
        if not bases:
            return
        text = ctx.line_text(owner.line)
        column = max(text.find("class"), 0)
        shown = ", ".join(b.rpartition(".")[2] for b in bases)
        ctx.report(
            ctx.node,
            f"{owner.name} is scripted as a TorchScript class but derives from {shown}; "
            f"TorchScript classes must derive directly from object",
            range=Range.of(owner.line, column, owner.line, column + 5),
        )


class InheritedMethodRule(Rule):
    code = "TS182"
    name = "script-class-inherited-method"
    summary = "A TorchScript class does not have the methods of its base classes"
    family = Family.INVALID_CUSTOM_CLASS
    explanation = """
    **What it does.** Flags calls of a method that a TorchScript class only inherits
    (`Child().get()`, `c.get()`, `self.get()` inside the class) when the method is defined
    in a base class, not in the class itself.

    **Why it fails.** TorchScript compiles only the methods written in the class body; base
    classes are ignored: `object has no attribute or method 'get'`.

    **How to fix.** Define the method in the class itself (it may call a module-level
    function holding the shared code), or hold the base as an attribute.
    """
    CATALOG = ("script_class_inherited_method_missing",)
    VALID = (
        ex(
            """
            class Base:
                def get(self) -> int:
                    return 1

            class Child(Base):
                def __init__(self):
                    self.a = 2

                def get(self) -> int:
                    return self.a

            def f(x: int):
                c = Child()
                return c.get() + Child().get() + x
            """
        ),
    )
    INVALID = (
        ex(
            """
            class Base:
                def get(self) -> int:
                    return 1

            class Child(Base):
                def __init__(self):
                    self.a = 2

            def f(x: int):
                return Child().get() + x
            """,
            line=10,
            error="object has no attribute or method 'get'",
        ),
        ex(
            """
            class Base:
                def get(self) -> int:
                    return 1

            class Child(Base):
                def __init__(self):
                    self.a = 2

                def total(self) -> int:
                    return self.get() + self.a

            def f(x: int):
                return Child().total() + x
            """,
            line=10,
            error="object has no attribute or method 'get'",
        ),
    )

    def visit_Call(self, node: cst.Call, ctx: FunctionContext) -> None:
        func = node.func
        if not isinstance(func, cst.Attribute):
            return
        receiver = func.value
        qualified = self._receiver_class(ctx, receiver)
        if qualified is None:
            return
        found = _script_class(ctx, qualified)
        if found is None:
            return
        summary, cls = found
        method = func.attr.value
        if cls.method(method) is not None or not _project_bases(ctx, summary, cls):
            return
        owner = next(
            (c for _, c in ctx.project.mro(qualified)[1:] if c.method(method) is not None), None
        )
        if owner is None:
            return
        ctx.report(
            func if isinstance(receiver, cst.Call) else node,
            f"`{method}` is inherited from {owner.name}, but TorchScript compiles only the "
            f"methods written in {cls.name}; define `{method}` in {cls.name} itself",
        )

    # The locals of the function being walked (libcst caches blocks by text, so the same
    # node can come back in another file or run: the key includes those).
    _key: tuple[object, ...] = ()
    _constructed: dict[str, str] = {}

    def _receiver_class(self, ctx: FunctionContext, receiver: cst.BaseExpression) -> str | None:
        if isinstance(receiver, cst.Call):
            name = dotted(receiver.func)
            return ctx.resolve(name) if name else None
        if not isinstance(receiver, cst.Name):
            return None
        if receiver.value == _self_name(ctx):
            return ctx.compiled.context or None
        key = (id(ctx.node), ctx.node, ctx.summary.path, id(ctx.project), ctx.compiled.key)
        if self._key != key:  # one walk per function, not per call
            self._key = key
            self._constructed = _constructed_locals(ctx) if _constructs_subclass(ctx) else {}
        return self._constructed.get(receiver.value)


_SUBCLASSES: weakref.WeakKeyDictionary[Project, frozenset[str]] = weakref.WeakKeyDictionary()


def _constructs_subclass(ctx: FunctionContext) -> bool:
    """The function calls (constructs) a project class that has a base class: only then can a
    local hold an instance whose methods are inherited."""
    found = _SUBCLASSES.get(ctx.project)
    if found is None:
        names = set()
        for summary in ctx.project.files.values():
            for cls in summary.classes:
                if any(b not in ("object", "") for b in cls.bases):
                    names.add(ctx.project.qualified_class(summary, cls))
        found = _SUBCLASSES[ctx.project] = frozenset(names)
    if not found:
        return False
    return any(
        c.kind in ("name", "dotted") and ctx.resolve(c.name) in found
        for c in ctx.compiled.info.calls
    )


def _constructed_locals(ctx: FunctionContext) -> dict[str, str]:
    """Locals bound exactly once, to `SomeClass(...)`: name -> qualified class."""
    bound: dict[str, list[cst.BaseExpression]] = {}
    for node in _walk(ctx.node.body):
        if isinstance(node, cst.Assign):
            for target in node.targets:
                for name in _bound(target.target):
                    bound.setdefault(name, []).append(node.value)
        elif isinstance(node, (cst.AugAssign, cst.AnnAssign, cst.For)):
            for name in _bound(node.target):
                bound.setdefault(name, []).append(node.target)
    out: dict[str, str] = {}
    params = _param_names(ctx)
    for name, values in bound.items():
        if len(values) == 1 and isinstance(values[0], cst.Call) and name not in params:
            callee = dotted(values[0].func)
            if callee:
                out[name] = ctx.resolve(callee)
    return out


# == TS183 methods of traced submodules =======================================================

_TRACE = frozenset({"torch.jit.trace", "torch.jit.trace_module"})


class TracedSubmoduleMethodRule(Rule):
    code = "TS183"
    name = "traced-submodule-method"
    summary = "A traced submodule has only forward (and exported methods)"
    family = Family.DYNAMIC_BEHAVIORS
    explanation = """
    **What it does.** Flags `self.sub.method(...)` in compiled code when `self.sub` was built
    with `torch.jit.trace(...)` and `method` is not `forward` or an `@torch.jit.export`
    method of the traced class.

    **Why it fails.** Tracing records `forward` only; the module's other Python methods are
    not part of the traced module: `Module 'Sub' has no attribute 'helper'`.

    **How to fix.** Mark the method `@torch.jit.export` in the submodule's class, script the
    submodule instead of tracing it, or keep the submodule as a plain nn.Module and let the
    parent's scripting compile it.
    """
    CATALOG = ("traced_submodule_extra_method",)
    VALID = (
        ex(
            """
            import torch
            import torch.nn as nn

            class Sub(nn.Module):
                @torch.jit.export
                def helper(self, x: torch.Tensor):
                    return x + 1

                def forward(self, x: torch.Tensor):
                    return x * 2

            class M(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.sub = torch.jit.trace(Sub(), torch.ones(1))

                def forward(self, x: torch.Tensor):
                    return self.sub.helper(x) + self.sub(x) + self.sub.forward(x)
            """
        ),
    )
    INVALID = (
        ex(
            """
            import torch
            import torch.nn as nn

            class Sub(nn.Module):
                def helper(self, x: torch.Tensor):
                    return x + 1

                def forward(self, x: torch.Tensor):
                    return x * 2

            class M(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.sub = torch.jit.trace(Sub(), torch.ones(1))

                def forward(self, x: torch.Tensor):
                    return self.sub.helper(x)
            """,
            line=17,
            error="Module 'Sub' has no attribute 'helper'",
        ),
    )

    def visit_Call(self, node: cst.Call, ctx: FunctionContext) -> None:
        func = node.func
        if not isinstance(func, cst.Attribute) or func.attr.value in ("forward", "__call__"):
            return
        sub = _self_attr(func.value, _self_name(ctx))
        if sub is None:
            return
        facts = _facts(ctx)
        if facts is None or not facts.module:
            return
        inits = facts.inits.get(sub)
        if not inits or any(_outer_call(i) not in _TRACE for i in inits):
            return
        traced = {_traced_class(ctx, i) for i in inits}
        if None in traced or len(traced) != 1:
            return
        qualified = traced.pop()
        assert qualified is not None
        method = func.attr.value
        for _, cls in ctx.project.mro(qualified):
            defined = cls.method(method)
            if defined is not None and defined.modifier == "export":
                return
        short = qualified.rpartition(".")[2]
        ctx.report(
            func,
            f"`self.{sub}` is traced, so it has only forward and exported methods; mark "
            f"{short}.{method} @torch.jit.export or script the submodule instead of tracing it",
            related=tuple(_init_link(i, f"self.{sub} is traced here") for i in inits),
        )


def _traced_class(ctx: FunctionContext, init: _Init) -> str | None:
    """The project module class whose instance `torch.jit.trace(Cls(...), ...)` traces."""
    value = _init_value(ctx, init)
    call = value.node if value else None
    if not isinstance(call, cst.Call) or not call.args:
        return None
    first = call.args[0].value
    if not isinstance(first, cst.Call):
        return None
    name = dotted(first.func)
    qualified = ctx.resolve(name) if name else ""
    if ctx.project.lookup_class(qualified) is None:
        return None
    return qualified if ctx.project.is_module_class(qualified) else None


RULES: tuple[type[Rule], ...] = (
    ClassAttributeRule,
    ModuleContainerAttributeRule,
    EmptyContainerAttributeRule,
    UnsupportedAttributeValueRule,
    ModuleListIndexRule,
    ModuleDictKeyRule,
    BreakInModuleLoopRule,
    ModuleZipWithListRule,
    SlicedModuleListCallRule,
    ModuleContainerMutationRule,
    ModuleConstructionRule,
    NewAttributeRule,
    FinalReassignedRule,
    NoneAttributeAssignedRule,
    AttributeTypeChangeRule,
    SuperCallRule,
    ModuleIntrospectionRule,
    ModuleApiCallRule,
    ModuleNotInitializedRule,
    LambdaHookRule,
    InvalidConstantRule,
    ScriptClassInheritanceRule,
    InheritedMethodRule,
    TracedSubmoduleMethodRule,
)
