"""TS300-TS329: decorators, recursive compilation, and failures that wait for save or call time.

Ground truth: catalog group 5 and fact F2. TorchScript compiles `forward`, `@torch.jit.export`
methods and what they call; `@torch.jit.ignore` keeps a Python call (scripts and runs, but
`torch.jit.save` refuses it); `@torch.jit.unused` and the deprecated `ignore(drop=True)` replace
the body with a raise; decorators are not interpreted (`inspect` follows `__wrapped__`, so a
`functools.wraps` decorator is silently dropped and one without it compiles its `*args` wrapper).
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import libcst as cst

from tscheck import cstwalk
from tscheck.index import JIT_SCRIPT, ClassInfo, FileSummary, FunctionInfo, JitSite
from tscheck.model import ChainLink, Family, Fix, Range, Severity, TextEdit
from tscheck.reach import IGNORED, Compiled, Project, compiled_set
from tscheck.rules.base import FileContext, FunctionContext, Rule, dotted, ex

# Either context: helpers that only read ranges and text take both.
_Ctx = FunctionContext | FileContext

# -- what the project holds, computed once per Project -----------------------------------------


class _Facts:
    """Project-wide facts the handlers of this family look up on every call node."""

    def __init__(self, project: Project) -> None:
        ignored_names: set[str] = set()
        scripted: set[str] = set()
        self.saves: dict[str, list[tuple[str, int]]] = {}
        for summary in project.files.values():
            for fn in _all_functions(summary):
                if fn.modifier in IGNORED:
                    ignored_names.add(fn.name)
                if "." not in fn.qualname and set(fn.decorators) & JIT_SCRIPT:
                    scripted.add(f"{summary.module}.{fn.qualname}")
            for cls in summary.classes:
                if set(cls.decorators) & JIT_SCRIPT:
                    scripted.add(f"{summary.module}.{cls.name}")
            for site in summary.jit_sites:
                if site.kind in ("script", "save") and site.target:
                    scripted.add(site.target)
                if site.kind == "save" and site.target:
                    self.saves.setdefault(site.target, []).append((summary.path, site.line))
        if "forward" in ignored_names:
            # `self.sub(x)` reaches Sub.forward through the submodule's attribute name.
            for summary in project.files.values():
                for cls in summary.classes:
                    ignored_names.update(sub.attr for sub in cls.submodules)
        self.ignored_names = frozenset(ignored_names)
        self.scripted = frozenset(scripted)
        self._compiled: dict[str, dict[tuple[str, str], Compiled]] = {}

    def compiled_for(self, project: Project, root: str) -> dict[tuple[str, str], Compiled]:
        """What `torch.jit.script(<root>())` compiles, whatever roots the run was given."""
        found = self._compiled.get(root)
        if found is None:
            cls = project.lookup_class(root)
            roots = [(cls[0], cls[1], f"torch.jit.script({cls[1].name}(...))")] if cls else []
            found = compiled_set(project, roots)
            self._compiled[root] = found
        return found


_FACTS: weakref.WeakKeyDictionary[Project, _Facts] = weakref.WeakKeyDictionary()


def _facts(project: Project) -> _Facts:
    facts = _FACTS.get(project)
    if facts is None:
        facts = _FACTS[project] = _Facts(project)
    return facts


def _all_functions(summary: FileSummary) -> Iterator[FunctionInfo]:
    yield from summary.functions
    for cls in summary.classes:
        yield from cls.methods


# -- calls from compiled code to project functions -----------------------------------------------


@dataclass(frozen=True)
class _Callee:
    summary: FileSummary
    info: FunctionInfo
    owner: ClassInfo | None
    bound: bool  # called through an instance: the first parameter is `self`


def _call_name(call: cst.Call) -> str:
    func = call.func
    if isinstance(func, cst.Attribute):
        return func.attr.value
    return func.value if isinstance(func, cst.Name) else ""


def resolve_callee(call: cst.Call, ctx: FunctionContext) -> _Callee | None:
    """The project function a call in compiled code runs, in the shapes reach follows."""
    func = call.func
    project = ctx.project
    if isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name):
        if func.value.value == "self":
            return _self_call(ctx, func.attr.value)
    if (
        isinstance(func, cst.Attribute)
        and isinstance(func.value, cst.Attribute)
        and isinstance(func.value.value, cst.Name)
        and func.value.value.value == "self"
    ):
        target = _submodule_class(ctx, func.value.attr.value)
        found = project.find_method(target, func.attr.value) if target else None
        if found is None:
            return None
        return _Callee(found[0], found[2], found[1], not found[2].is_staticmethod)
    name = dotted(func)
    hit = project.lookup(ctx.resolve(name)) if name else None
    if hit is None:
        return None
    summary, fn = hit
    if not isinstance(fn, FunctionInfo):
        return None
    owner = summary.cls(fn.qualname.split(".")[0]) if "." in fn.qualname else None
    return _Callee(summary, fn, owner, False)


def _self_call(ctx: FunctionContext, name: str) -> _Callee | None:
    context = ctx.compiled.context
    if not context:
        return None
    found = ctx.project.find_method(context, name)
    if found is not None:
        return _Callee(found[0], found[2], found[1], not found[2].is_staticmethod)
    # `self.sub(x)` calls the submodule's forward.
    target = _submodule_class(ctx, name)
    found = ctx.project.find_method(target, "forward") if target else None
    return _Callee(found[0], found[2], found[1], True) if found else None


def _submodule_class(ctx: FunctionContext, attr: str) -> str:
    project = ctx.project
    for summary, cls in project.mro(ctx.compiled.context) if ctx.compiled.context else ():
        for sub in cls.submodules:
            if sub.attr == attr and not sub.in_container:
                target = project.qualify(summary, sub.target)
                return target if project.is_module_class(target) else ""
    return ""


# -- libcst lookups outside the function being walked ----------------------------------------------


def _postponed(summary: FileSummary) -> bool:
    """`from __future__ import annotations`: every annotation is a string at run time."""
    return ("annotations", "__future__.annotations") in summary.imports


def typed_by_comment(node: cst.FunctionDef) -> bool:
    """Whether the def's signature is a `# type: (...) -> ...` comment (PEP 484), on the def
    line or the first lines of its body, which TorchScript reads instead of annotations."""
    body = node.body
    if not isinstance(body, cst.IndentedBlock):
        return False
    comments = [body.header.comment]
    if body.body:
        leading: Sequence[cst.EmptyLine] = getattr(body.body[0], "leading_lines", ())
        comments += [line.comment for line in leading]
    return any(
        c is not None and c.value.startswith("# type:") and "ignore" not in c.value
        for c in comments
    )


@dataclass(frozen=True)
class _Def:
    """A def found in some block of the current file, with what its ranges need."""

    node: cst.FunctionDef
    module: cst.Module
    start: int

    def range(self, ctx: _Ctx, node: cst.CSTNode) -> Range:
        return ctx.blocks.range_of(node, self.module, self.start)


def _find_def(ctx: _Ctx, summary: FileSummary, info: FunctionInfo) -> _Def | None:
    """The libcst def of `info` when it lives in the file being checked."""
    if summary.path != ctx.summary.path:
        return None
    module, start = ctx.blocks.module_for_line(info.line)
    for node in _iter_nodes(module, (cst.FunctionDef,)):
        if isinstance(node, cst.FunctionDef) and node.name.value == info.name:
            found = _Def(node, module, start)
            if found.range(ctx, node.name).start.line == info.line:
                return found
    return None


_CONTAINERS = (
    cst.Module,
    cst.ClassDef,
    cst.IndentedBlock,
    cst.If,
    cst.Else,
    cst.Try,
    cst.ExceptHandler,
    cst.Finally,
    cst.With,
    cst.For,
    cst.While,
)


def _iter_nodes(
    root: cst.CSTNode, stop: tuple[type[cst.CSTNode], ...] = (), containers: bool = True
) -> Iterator[cst.CSTNode]:
    """Nodes under `root`, depth first, not entering `stop` types. With `containers`, only
    statement containers are entered (enough to find defs, and cheap)."""
    stack: list[cst.CSTNode] = [root]
    while stack:
        node = stack.pop()
        yield node
        if node is not root and isinstance(node, stop):
            continue
        if containers and not isinstance(node, _CONTAINERS):
            continue
        stack.extend(reversed(node.children))


def _decorator_name(ctx: _Ctx, decorator: cst.Decorator) -> str:
    """The resolved dotted name a decorator calls (`torch.no_grad` for `@torch.no_grad()`)."""
    expr = decorator.decorator
    if isinstance(expr, cst.Call):
        expr = expr.func
    name = dotted(expr)
    return ctx.project.qualify(ctx.summary, name) if name else ""


def _find_decorator(
    ctx: _Ctx, node: cst.FunctionDef, names: frozenset[str]
) -> cst.Decorator | None:
    for decorator in node.decorators:
        if _decorator_name(ctx, decorator) in names:
            return decorator
    return None


_IGNORE = frozenset({"torch.jit.ignore", "torch._jit_internal.ignore"})
_UNUSED = frozenset({"torch.jit.unused", "torch._jit_internal.unused"})


def _unused_fix(ctx: _Ctx, found: _Def, decorator: cst.Decorator, *, safe: bool) -> Fix | None:
    """Rewrite `@torch.jit.ignore` / `@torch.jit.ignore(drop=True)` to `@torch.jit.unused`,
    keeping the prefix as the file spells it (`jit.ignore` -> `jit.unused`)."""
    expr = decorator.decorator
    func = expr.func if isinstance(expr, cst.Call) else expr
    if not isinstance(func, cst.Attribute) or not dotted(func):
        return None  # `from torch.jit import ignore`: `unused` may not be imported
    prefix = found.module.code_for_node(func.value)
    edit = TextEdit(found.range(ctx, expr), f"{prefix}.unused")
    return Fix(f"Replace with `@{prefix}.unused`", (edit,), safe=safe)


def _torch_jit(summary: FileSummary, member: str) -> str:
    """How this file spells `torch.jit.<member>`, or "" when it cannot without a new import."""
    for local, full in summary.imports:
        if full == "torch":
            return f"{local}.jit.{member}"
    for local, full in summary.imports:
        if full == "torch.jit":
            return f"{local}.{member}"
    return ""


def _link(text: str, summary: FileSummary, info: FunctionInfo) -> ChainLink:
    return ChainLink(text, summary.path, info.line, info.qualname)


# -- TS301 ----------------------------------------------------------------------------------------

# Attributes every RecursiveScriptModule has (nn.Module's and ScriptModule's, torch 2.13):
# calling one of these never raises AttributeError, whatever the user's class defines.
_SCRIPT_MODULE_ATTRS = frozenset(
    """T_destination add_module apply bfloat16 buffers call_super_init children code
    code_with_constants compile cpu cuda define double dump_patches eval extra_repr float forward
    forward_magic_method get_buffer get_debug_state get_extra_state get_parameter get_submodule
    graph graph_for half inlined_graph ipu load_state_dict modules mtia named_buffers
    named_children named_modules named_parameters original_name parameters register_backward_hook
    register_buffer register_forward_hook register_forward_pre_hook register_full_backward_hook
    register_full_backward_pre_hook register_load_state_dict_post_hook
    register_load_state_dict_pre_hook register_module register_parameter
    register_state_dict_post_hook register_state_dict_pre_hook requires_grad_ save save_to_buffer
    set_extra_state set_submodule share_memory state_dict to to_empty train type xpu zero_grad
    _apply _call_impl _compiled_call_impl _constants_set _construct _disable_script_meta
    _finalize_scriptmodule _get_backward_hooks _get_backward_pre_hooks _get_name
    _load_from_state_dict _maybe_warn_non_full_backward_hook _methods _named_members _reconstruct
    _register_load_state_dict_pre_hook _register_state_dict_hook _replicate_for_data_parallel
    _save_for_lite_interpreter _save_to_buffer_for_lite_interpreter _save_to_state_dict
    _slow_forward _version _wrapped_call_impl""".split()
)


class MissingExportRule(Rule):
    code = "TS301"
    name = "method-not-exported"
    summary = "A method called on a scripted module is not compiled, so the call fails"
    family = Family.DYNAMIC_BEHAVIORS
    fixable = True
    explanation = """
    **What it does.** Flags `sm.helper(...)` where `sm = torch.jit.script(Net())` and
    `Net.helper` is neither `forward`, nor `@torch.jit.export`, nor called from compiled code.

    **Why it fails.** Scripting compiles only `forward`, exported methods and what they call
    (everything else is left out without a word), so the scripted module has no `helper`:
    `AttributeError: 'RecursiveScriptModule' object has no attribute 'helper'`, raised only when
    the line runs. A `@staticmethod` is never copied to the scripted module, even when exported.

    **How to fix.** Mark the method `@torch.jit.export` (the fix does this), so it is compiled
    and kept, also in a saved archive. For a `@staticmethod`, call it on the class (`Net.helper`).
    """
    VALID = (
        ex(
            """
            import torch
            import torch.nn as nn


            class M(nn.Module):
                @torch.jit.export
                def helper(self, x: torch.Tensor):
                    return x + 1

                def forward(self, x: torch.Tensor):
                    return x


            sm = torch.jit.script(M())
            y = sm.helper(torch.ones(1))
            """,
            call="m.helper(torch.ones(1))",
        ),
        ex(
            """
            import torch
            import torch.nn as nn


            class M(nn.Module):
                def helper(self, x: torch.Tensor):
                    return x + 1

                @torch.jit.ignore
                def describe(self) -> str:
                    return type(self).__name__

                def forward(self, x: torch.Tensor):
                    return self.helper(x)


            sm = torch.jit.script(M())
            y = sm.helper(torch.ones(1))
            name = sm.describe()
            sm.eval()
            """
        ),
    )
    INVALID = (
        ex(
            """
            import torch
            import torch.nn as nn


            class M(nn.Module):
                def helper(self, x: torch.Tensor):
                    return x + 1

                def forward(self, x: torch.Tensor):
                    return x


            sm = torch.jit.script(M())
            y = sm.helper(torch.ones(1))
            """,
            line=14,
            error="object has no attribute 'helper'",
            fixed="""import torch
import torch.nn as nn


class M(nn.Module):
    @torch.jit.export
    def helper(self, x: torch.Tensor):
        return x + 1

    def forward(self, x: torch.Tensor):
        return x


sm = torch.jit.script(M())
y = sm.helper(torch.ones(1))
""",
        ),
        ex(
            """
            import torch
            import torch.nn as nn


            class M(nn.Module):
                @staticmethod
                def scale(x: torch.Tensor):
                    return x * 2

                def forward(self, x: torch.Tensor):
                    return x


            def main():
                sm = torch.jit.script(M())
                return sm.scale(torch.ones(1))


            main()
            """,
            line=16,
            error="object has no attribute 'scale'",
        ),
    )
    CATALOG = ("non_exported_method_called_on_scripted",)

    def check_file(self, ctx: FileContext) -> None:
        sites = [s for s in ctx.summary.jit_sites if s.kind == "method"]
        if not sites:
            return
        # A traced module keeps only what was traced: not this rule's model of compilation.
        traced = {s.target for s in ctx.summary.jit_sites if s.kind == "trace"}
        for site in sites:
            name = site.method
            if site.target in traced or name.startswith("__") or name in _SCRIPT_MODULE_ATTRS:
                continue
            missing = self._missing(ctx.project, site)
            if missing is not None:
                self._report(ctx, site, *missing)

    def _missing(
        self, project: Project, site: JitSite
    ) -> tuple[FileSummary, ClassInfo, FunctionInfo] | None:
        """The method a call on a scripted module names, when scripting leaves it out."""
        if not project.is_module_class(site.target) or project.lookup_class(site.target) is None:
            return None
        found = project.find_method(site.target, site.method)
        if found is None:
            return None
        summary, _, method = found
        if method.modifier in IGNORED or method.is_property or "classmethod" in method.decorators:
            return None  # ignored methods are copied onto the scripted module as Python
        compiled = _facts(project).compiled_for(project, site.target)
        hit = compiled.get((summary.path, method.qualname))
        return None if hit is not None and hit.mode == "compiled" else found

    def _report(
        self,
        ctx: FileContext,
        site: JitSite,
        summary: FileSummary,
        cls: ClassInfo,
        method: FunctionInfo,
    ) -> None:
        call = self._call_node(ctx, site)
        if call is None:
            return
        where = _link(f"{cls.name}.{method.name} is defined here", summary, method)
        variable = ctx.code_for(call.func)
        if method.is_staticmethod:
            message = (
                f"`{variable}(...)` fails: `{cls.name}.{method.name}` is a @staticmethod, which "
                "the scripted module does not have ('RecursiveScriptModule' object has no "
                f"attribute '{method.name}'), even with @torch.jit.export; call "
                f"`{cls.name}.{method.name}(...)` instead"
            )
            ctx.report(call.func, message, related=(where,))
            return
        message = (
            f"`{variable}(...)` fails: scripting compiles only `forward`, @torch.jit.export "
            f"methods and what they call, so the scripted `{cls.name}` has no `{method.name}` "
            f"('RecursiveScriptModule' object has no attribute '{method.name}'); mark "
            f"`{cls.name}.{method.name}` with @torch.jit.export"
        )
        ctx.report(call.func, message, fixes=self._fix(ctx, summary, method), related=(where,))

    def _call_node(self, ctx: FileContext, site: JitSite) -> cst.Call | None:
        module, start = ctx.blocks.module_for_line(site.line)
        ctx.use(module, start)
        for node in _iter_nodes(module, containers=False):
            if (
                isinstance(node, cst.Call)
                and isinstance(node.func, cst.Attribute)
                and node.func.attr.value == site.method
                and ctx.range(node).start.line == site.line
            ):
                return node
        return None

    def _fix(self, ctx: FileContext, summary: FileSummary, method: FunctionInfo) -> tuple[Fix, ...]:
        export = _torch_jit(ctx.summary, "export")
        if summary.path != ctx.summary.path or not export:
            return ()
        indent = ctx.indent_of(method.line)
        line = method.first_line
        edit = TextEdit(Range.of(line, 0, line, 0), f"{indent}@{export}\n")
        return (Fix(f"Mark `{method.qualname}` with @{export}", (edit,)),)


# -- TS302 / TS303 / TS305: calls from compiled code into ignored functions ----------------------


class IgnoreBlocksSaveRule(Rule):
    code = "TS302"
    name = "ignored-call-blocks-save"
    summary = "Compiled code calls a @torch.jit.ignore function, so torch.jit.save fails"
    family = Family.DYNAMIC_BEHAVIORS
    fixable = True
    explanation = """
    **What it does.** Flags calls from compiled code to a function marked `@torch.jit.ignore`.

    **Why it fails.** An ignored function stays a Python call inside the TorchScript graph. The
    module scripts and runs in this process, but it cannot be serialized: `torch.jit.save` (and
    `ScriptModule.save`) raises `Could not export Python function call 'helper'`.

    **How to fix.** If the scripted model never runs the call (a debugging or training-only
    branch), use `@torch.jit.unused`: the function is compiled as a stub that raises, and the
    module saves. The fix does this, but it is not marked safe: a scripted model that does reach
    the call then fails at run time. Otherwise make the function scriptable and drop the
    decorator, or keep it out of compiled code behind `if not torch.jit.is_scripting():`.
    """
    VALID = (
        ex(
            """
            import torch
            import torch.nn as nn


            class M(nn.Module):
                @torch.jit.ignore
                def log(self, x: torch.Tensor) -> None:
                    print(sorted({int(v) for v in x.tolist()}))

                def forward(self, x: torch.Tensor):
                    if not torch.jit.is_scripting():
                        self.log(x)
                    return x + 1
            """,
            call="m(torch.ones(1))",
        ),
        ex(
            """
            import torch
            import torch.nn as nn


            class M(nn.Module):
                @torch.jit.unused
                def log(self, x: torch.Tensor) -> torch.Tensor:
                    print(sorted({int(v) for v in x.tolist()}))
                    return x

                def forward(self, x: torch.Tensor):
                    if self.training:
                        x = self.log(x)
                    return x + 1
            """
        ),
    )
    INVALID = (
        ex(
            """
            import torch
            import torch.nn as nn


            class M(nn.Module):
                @torch.jit.ignore
                def log(self, x: torch.Tensor) -> torch.Tensor:
                    print(sorted({int(v) for v in x.tolist()}))
                    return x

                def forward(self, x: torch.Tensor):
                    if self.training:
                        x = self.log(x)
                    return x + 1
            """,
            line=13,
            error="Could not export Python function call 'log'",
            fixed="""import torch
import torch.nn as nn


class M(nn.Module):
    @torch.jit.unused
    def log(self, x: torch.Tensor) -> torch.Tensor:
        print(sorted({int(v) for v in x.tolist()}))
        return x

    def forward(self, x: torch.Tensor):
        if self.training:
            x = self.log(x)
        return x + 1
""",
        ),
        ex(
            """
            import torch


            @torch.jit.ignore
            def to_numpy_and_back(x: torch.Tensor) -> torch.Tensor:
                return torch.from_numpy(x.numpy().copy())


            def f(x: torch.Tensor):
                return to_numpy_and_back(x)
            """,
            line=10,
            error="Could not export Python function call 'to_numpy_and_back'",
        ),
        ex(
            """
            import torch
            import torch.nn as nn


            class Debug(nn.Module):
                @torch.jit.ignore
                def forward(self, x: torch.Tensor) -> torch.Tensor:
                    return x


            class M(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.debug = Debug()

                def forward(self, x: torch.Tensor):
                    return self.debug(x)
            """,
            line=17,
            error="Could not export Python function call 'forward'",
        ),
    )
    CATALOG = ("ignored_method_blocks_save",)

    def visit_Call(self, node: cst.Call, ctx: FunctionContext) -> None:
        if _call_name(node) not in _facts(ctx.project).ignored_names:
            return
        callee = resolve_callee(node, ctx)
        if callee is None or callee.info.modifier != "ignore":
            return
        name = callee.info.qualname
        message = (
            f"`{name}` is @torch.jit.ignore: this call stays a Python call, so the scripted "
            f"module cannot be saved (torch.jit.save: Could not export Python function call "
            f"'{callee.info.name}'); use @torch.jit.unused if scripted code never runs it, "
            "or make it scriptable"
        )
        fixes: tuple[Fix, ...] = ()
        found = _find_def(ctx, callee.summary, callee.info)
        if found is not None:
            decorator = _find_decorator(ctx, found.node, _IGNORE)
            fix = _unused_fix(ctx, found, decorator, safe=False) if decorator else None
            fixes = (fix,) if fix else ()
        where = _link(f"{name} is marked @torch.jit.ignore", callee.summary, callee.info)
        ctx.report(node.func, message, fixes=fixes, related=(where,))


class IgnoreDropRule(Rule):
    code = "TS303"
    name = "ignore-drop-deprecated"
    summary = "`@torch.jit.ignore(drop=True)` is deprecated; calls to the function raise"
    family = Family.DYNAMIC_BEHAVIORS
    refuted_by_clean_compile = False  # it fails when called, not when scripted
    severity = Severity.WARNING
    # The fix (`@torch.jit.unused`) keeps behaviour exactly, so it cannot turn an example the
    # compiler rejects into one it accepts, which is what the test of fixable rules demands.
    fixable = False
    explanation = """
    **What it does.** Flags calls from compiled code to a function marked
    `@torch.jit.ignore(drop=True)`.

    **Why it fails.** `ignore(drop=True)` is the deprecated spelling of `@torch.jit.unused`
    (FutureWarning: `ignore(True) has been deprecated`): the function is not kept as Python, it
    is replaced by a stub that raises. Scripting and saving succeed, and the call fails only
    when the scripted model runs it: `This Python function is annotated to be ignored and cannot
    be run`.

    **How to fix.** Write `@torch.jit.unused` (the fix, which changes nothing else) and make
    sure the scripted model never runs the call (guard it with `if self.training:` and script
    an eval-mode model, or with `if not torch.jit.is_scripting():`). To run the Python in the
    scripted model, use `@torch.jit.ignore` (the module then cannot be saved).
    """
    VALID = (
        ex(
            """
            import torch
            import torch.nn as nn


            class M(nn.Module):
                @torch.jit.unused
                def check(self, x: torch.Tensor) -> torch.Tensor:
                    assert x.isfinite().all().item()
                    return x

                def forward(self, x: torch.Tensor):
                    if not torch.jit.is_scripting():
                        x = self.check(x)
                    return x * 2
            """,
            call="m(torch.ones(1))",
        ),
    )
    INVALID = (
        ex(
            """
            import torch
            import torch.nn as nn


            class M(nn.Module):
                @torch.jit.ignore(drop=True)
                def check(self, x: torch.Tensor) -> torch.Tensor:
                    assert x.isfinite().all().item()
                    return x

                def forward(self, x: torch.Tensor):
                    if self.training:
                        x = self.check(x)
                    return x * 2
            """,
            line=13,
            error="annotated to be ignored and cannot be run",
            call="m(torch.ones(1))",
        ),
    )
    CATALOG = ("ignore_drop_true_deprecated",)

    def visit_Call(self, node: cst.Call, ctx: FunctionContext) -> None:
        if _call_name(node) not in _facts(ctx.project).ignored_names:
            return
        callee = resolve_callee(node, ctx)
        if callee is None or callee.info.modifier != "drop":
            return
        name = callee.info.qualname
        message = (
            f"`{name}` is marked @torch.jit.ignore(drop=True), the deprecated spelling of "
            "@torch.jit.unused: TorchScript replaces it with a stub, so this call raises "
            "('annotated to be ignored and cannot be run') if the scripted model runs it; "
            "write @torch.jit.unused and keep the call off the scripted path"
        )
        fixes: tuple[Fix, ...] = ()
        found = _find_def(ctx, callee.summary, callee.info)
        if found is not None:
            decorator = _find_decorator(ctx, found.node, _IGNORE)
            fix = _unused_fix(ctx, found, decorator, safe=True) if decorator else None
            fixes = (fix,) if fix else ()
        where = _link(f"{name} is marked @torch.jit.ignore(drop=True)", callee.summary, callee.info)
        ctx.report(node.func, message, fixes=fixes, related=(where,))


def _modifier_text(modifier: str | None) -> str:
    return {
        "ignore": "@torch.jit.ignore",
        "unused": "@torch.jit.unused",
        "drop": "@torch.jit.ignore(drop=True)",
    }.get(modifier or "", "@torch.jit.ignore")


# -- TS304 ----------------------------------------------------------------------------------------


class IgnoredForwardSavedRule(Rule):
    code = "TS304"
    name = "ignored-forward-saved"
    summary = "A saved module's `forward` is @torch.jit.ignore: the archive has no forward"
    family = Family.DYNAMIC_BEHAVIORS
    explanation = """
    **What it does.** Flags `@torch.jit.ignore` / `@torch.jit.unused` on the `forward` of a
    module that the code scripts and passes to `torch.jit.save` (or `.save(...)`).

    **Why it fails.** An ignored `forward` is not compiled at all. Scripting succeeds, the
    scripted module still runs `forward` as Python in this process, and saving succeeds, but the
    archive holds no methods: after `torch.jit.load`, calling the module raises
    `AttributeError: 'RecursiveScriptModule' object has no attribute 'forward'`.
    (Not flagged: modules that are never saved, where the decorator only makes scripting a
    no-op, and modules with `@torch.jit.export` methods, which the archive keeps.)

    **How to fix.** Remove the decorator and make `forward` scriptable; move the Python-only
    parts into helpers that `forward` does not need in the deployed model.
    """
    VALID = (
        ex(
            """
            import io

            import torch
            import torch.nn as nn


            class M(nn.Module):
                def forward(self, x: torch.Tensor):
                    return x + 1


            torch.jit.save(torch.jit.script(M()), io.BytesIO())
            """,
            call="m(torch.ones(1))",
        ),
        ex(
            """
            import io

            import torch
            import torch.nn as nn


            class M(nn.Module):
                @torch.jit.ignore
                def forward(self, x):
                    return {"eager": x}

                @torch.jit.export
                def infer(self, x: torch.Tensor) -> torch.Tensor:
                    return x + 1


            torch.jit.save(torch.jit.script(M()), io.BytesIO())
            """,
            call="m.infer(torch.ones(1))",
        ),
    )
    INVALID = (
        ex(
            """
            import io

            import torch
            import torch.nn as nn


            class M(nn.Module):
                @torch.jit.ignore
                def forward(self, x):
                    return x + 1


            torch.jit.save(torch.jit.script(M()), io.BytesIO())
            """,
            line=8,
            error="object has no attribute 'forward'",
            call="m(torch.ones(1))",
        ),
        ex(
            """
            import torch
            import torch.nn as nn


            class M(nn.Module):
                @torch.jit.unused
                def forward(self, x):
                    return x + 1


            def export(path: str) -> None:
                scripted = torch.jit.script(M())
                scripted.save(path)
            """,
            line=6,
            error="object has no attribute 'forward'",
            call="m(torch.ones(1))",
        ),
    )
    CATALOG = ()

    def check_signature(self, ctx: FunctionContext) -> None:
        info = ctx.info
        if info.name != "forward" or not ctx.compiled.entry or ctx.owner is None:
            return
        saves = _facts(ctx.project).saves
        for root in sorted(ctx.compiled.roots):
            if root not in saves:
                continue
            found = ctx.project.find_method(root, "forward")
            if found is None or found[0].path != ctx.summary.path:
                continue
            if found[2].qualname != info.qualname:
                continue  # the saved root has its own forward; this one is a submodule's
            if _has_exports(ctx.project, root):
                continue  # the archive keeps the exported methods: forward is Python on purpose
            self._report(ctx, root, saves[root])
            return

    def _report(self, ctx: FunctionContext, root: str, saves: list[tuple[str, int]]) -> None:
        decorator = _find_decorator(ctx, ctx.node, _IGNORE | _UNUSED)
        target: cst.CSTNode = decorator if decorator is not None else ctx.node.name
        path, line = saves[0]
        name = root.split(".")[-1]
        message = (
            f"`{ctx.qualname}` is {_modifier_text(ctx.info.modifier)}, so scripting compiles "
            f"no `forward`: the archive saved at {path}:{line} has no methods, and calling the "
            f"loaded `{name}` raises AttributeError ('RecursiveScriptModule' object has no "
            "attribute 'forward'); remove the decorator and make `forward` scriptable"
        )
        related = tuple(ChainLink(f"{name} is saved here", p, n) for p, n in saves)
        ctx.report(target, message, related=related)


def _has_exports(project: Project, root: str) -> bool:
    return any(
        method.modifier == "export" or method.is_property
        for _, cls in project.mro(root)
        for method in cls.methods
    )


# -- TS305 ----------------------------------------------------------------------------------------

_SCALARS = frozenset({"int", "float", "bool", "str"})
_CONTAINER_TYPES = frozenset(
    {"List", "Dict", "Tuple", "list", "dict", "tuple", "typing.List", "typing.Dict", "typing.Tuple"}
)


def _non_tensor_type(expr: cst.BaseExpression, *, optional: bool) -> bool:
    """An annotation that a `Tensor` value can never satisfy (int, List[...], Optional[int])."""
    if isinstance(expr, cst.Name):
        return expr.value in _SCALARS
    if not isinstance(expr, cst.Subscript):
        return False
    base = dotted(expr.value)
    if base in _CONTAINER_TYPES:
        return True
    if optional and base in ("Optional", "typing.Optional") and len(expr.slice) == 1:
        inner = expr.slice[0].slice
        return (
            isinstance(inner, cst.Index)
            and isinstance(inner.value, cst.Name)
            and inner.value.value in _SCALARS
        )
    return False


def _literal_type(expr: cst.BaseExpression) -> str | None:
    """int / float / str / bool for a literal (signed numbers included), else None."""
    if isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, (cst.Minus, cst.Plus)):
        expr = expr.expression
    if isinstance(expr, cst.Integer):
        return "int"
    if isinstance(expr, cst.Float):
        return "float"
    if isinstance(expr, cst.SimpleString):
        return None if "b" in expr.prefix.lower() else "str"
    if isinstance(expr, (cst.ConcatenatedString, cst.FormattedString)):
        return "str"
    if isinstance(expr, cst.Name) and expr.value in ("True", "False"):
        return "bool"
    return None


def _bind(
    call: cst.Call, callee: _Callee, node: cst.FunctionDef
) -> list[tuple[cst.Param, cst.BaseExpression]] | None:
    """Pair each argument of `call` with the parameter it binds, or None when unsure."""
    positional = [*node.params.posonly_params, *node.params.params]
    if callee.bound:
        positional = positional[1:]
    by_name = {p.name.value: p for p in [*node.params.params, *node.params.kwonly_params]}
    pairs: list[tuple[cst.Param, cst.BaseExpression]] = []
    for index, arg in enumerate(call.args):
        if arg.star:
            return None
        if arg.keyword is None:
            if index >= len(positional):
                return None
            pairs.append((positional[index], arg.value))
        else:
            param = by_name.get(arg.keyword.value)
            if param is None:
                return None
            pairs.append((param, arg.value))
    return pairs


def _rebinds(fn: cst.FunctionDef, name: str) -> bool:
    """Does the body assign `name` anywhere (so its declared type may not hold at a call)?"""
    for node in _iter_nodes(fn.body, containers=False):
        target: cst.CSTNode | None = None
        if isinstance(node, (cst.AssignTarget, cst.AnnAssign, cst.AugAssign)):
            target = node.target
        elif isinstance(node, (cst.For, cst.CompFor)):
            target = node.target
        elif isinstance(node, cst.AsName):
            target = node.name
        elif isinstance(node, cst.NamedExpr):
            target = node.target
        if target is not None and any(
            isinstance(n, cst.Name) and n.value == name
            for n in _iter_nodes(target, containers=False)
        ):
            return True
    return False


@dataclass(frozen=True)
class _Untyped:
    """An unannotated parameter of an ignored function and the non-Tensor value it gets."""

    param: cst.Param
    shown: str  # how the message names the value
    literal: str | None  # the annotation a literal argument proves, for the fix


def _argument_kind(arg: cst.BaseExpression, ctx: FunctionContext) -> tuple[str, str | None] | None:
    """How to name a provably non-Tensor argument, and its annotation when a literal gives it."""
    literal = _literal_type(arg)
    if literal is not None:
        return f"`{ctx.code_for(arg)}` ({literal})", literal
    if isinstance(arg, cst.Name) and arg.value == "None":
        return "`None`", None
    if isinstance(arg, (cst.List, cst.ListComp)):
        return "a list", None
    if isinstance(arg, cst.Tuple):
        return "a tuple", None
    if isinstance(arg, (cst.Dict, cst.DictComp)):
        return "a dict", None
    if isinstance(arg, cst.Name):
        params = ctx.node.params
        for param in [*params.posonly_params, *params.params, *params.kwonly_params]:
            if param.name.value != arg.value or param.annotation is None:
                continue
            annotation = param.annotation.annotation
            if _non_tensor_type(annotation, optional=False) and not _rebinds(ctx.node, arg.value):
                return f"`{arg.value}` ({ctx.code_for(annotation)})", None
    return None


def _after_params(ctx: _Ctx, found: _Def) -> tuple[int, int] | None:
    """Line and column just after the `)` that closes a def's parameters."""
    end = found.range(ctx, found.node.params).end
    last = found.range(ctx, found.node.body).start.line
    line, column = end.line, end.column
    while line <= last:
        text = ctx.line_text(line)
        while column < len(text):
            char = text[column]
            if char == ")":
                return line, column + 1
            if char == "#" or char == "\\":
                break
            if not (char.isspace() or char == ","):
                return None
            column += 1
        line, column = line + 1, 0
    return None


class IgnoredSignatureRule(Rule):
    code = "TS305"
    name = "ignored-function-untyped-signature"
    summary = "An ignored function's unannotated parameter or result is typed Tensor"
    family = Family.DEFAULT_TYPES
    fixable = True
    explanation = """
    **What it does.** Flags calls from compiled code to a `@torch.jit.ignore` /
    `@torch.jit.unused` function when an unannotated parameter receives a value that is surely
    not a Tensor (a literal, `None`, a list/tuple/dict display, or a parameter annotated `int`,
    `float`, `bool`, `str` or a container), and assignments like `n: int = self.count(x)` when
    the ignored function has no return annotation.

    **Why it fails.** TorchScript does not compile the body of an ignored function, but it
    compiles a call to it, from its signature alone, where every missing annotation means
    `Tensor`, even with a default value: `Expected a value of type 'Tensor' for argument 'n'
    but instead found type 'int'`, or `Variable 'n' is annotated with type int but is being
    assigned to a value of type Tensor (inferred)`.

    **How to fix.** Annotate the ignored function's parameters and return type. The fix adds
    the annotation a literal argument proves (`n: int` for `3`), or the return annotation when
    every `return` of the function is a literal of the assigned type.
    """
    VALID = (
        ex(
            """
            import torch
            import torch.nn as nn


            class M(nn.Module):
                @torch.jit.unused
                def scale(self, x, n: int) -> torch.Tensor:
                    return x * n

                def forward(self, x: torch.Tensor):
                    if self.training:
                        return self.scale(x, 3)
                    return x
            """
        ),
        ex(
            """
            import torch


            @torch.jit.unused
            def count(x: torch.Tensor) -> int:
                return 3


            @torch.jit.unused
            def double(x):
                return x * 2


            def f(x: torch.Tensor, k: int):
                if k > 100:
                    n: int = count(x)
                    k = n
                    y = double(x)
                return x * k
            """
        ),
    )
    INVALID = (
        ex(
            """
            import torch
            import torch.nn as nn


            class M(nn.Module):
                @torch.jit.unused
                def scale(self, x, n=2):
                    return x * n

                def forward(self, x: torch.Tensor):
                    if self.training:
                        return self.scale(x, 3)
                    return x
            """,
            line=12,
            error="Expected a value of type 'Tensor' for argument 'n' but instead found type 'int'",
            fixed="""import torch
import torch.nn as nn


class M(nn.Module):
    @torch.jit.unused
    def scale(self, x, n: int = 2):
        return x * n

    def forward(self, x: torch.Tensor):
        if self.training:
            return self.scale(x, 3)
        return x
""",
        ),
        ex(
            """
            import torch


            @torch.jit.unused
            def count(x: torch.Tensor):
                return 3


            def f(x: torch.Tensor):
                n: int = count(x)
                return x * n
            """,
            line=10,
            error="Variable 'n' is annotated with type int but is being assigned",
            fixed="""import torch


@torch.jit.unused
def count(x: torch.Tensor) -> int:
    return 3


def f(x: torch.Tensor):
    n: int = count(x)
    return x * n
""",
        ),
        ex(
            """
            import torch


            @torch.jit.unused
            def show(x, label):
                return x


            def f(x: torch.Tensor, label: str):
                return show(x, label)
            """,
            line=10,
            error="for argument 'label' but instead found type 'str'",
        ),
        ex(
            """
            import torch


            @torch.jit.unused
            def mask(x, m):
                return x


            def f(x: torch.Tensor):
                return mask(x, None)
            """,
            line=10,
            error="but instead found type 'NoneType'",
        ),
    )
    CATALOG = (
        "ignored_helper_unannotated_int_arg",
        "ignored_helper_unannotated_return_used_as_int",
    )

    def visit_Call(self, node: cst.Call, ctx: FunctionContext) -> None:
        if not node.args or _call_name(node) not in _facts(ctx.project).ignored_names:
            return
        callee = resolve_callee(node, ctx)
        if callee is None or callee.info.modifier not in IGNORED:
            return
        found = _find_def(ctx, callee.summary, callee.info)
        if found is not None and typed_by_comment(found.node):
            return  # `# type: (int) -> int` types the signature (TorchScript reads it)
        pairs = _bind(node, callee, found.node) if found else None
        if found is None or pairs is None:
            return
        untyped: list[_Untyped] = []
        for param, arg in pairs:
            kind = _argument_kind(arg, ctx) if param.annotation is None else None
            if kind is not None:
                untyped.append(_Untyped(param, *kind))
        if untyped:
            self._report_args(node, ctx, callee, found, untyped)

    def _report_args(
        self,
        node: cst.Call,
        ctx: FunctionContext,
        callee: _Callee,
        found: _Def,
        untyped: list[_Untyped],
    ) -> None:
        name = callee.info.qualname
        values = ", ".join(f"`{u.param.name.value}` gets {u.shown}" for u in untyped)
        message = (
            f"`{name}` is {_modifier_text(callee.info.modifier)}, so TorchScript types its "
            f"unannotated parameters as Tensor, but here {values}; annotate them in `{name}`"
        )
        edits = [self._annotate(ctx, found, u.param, u.literal) for u in untyped if u.literal]
        shown = ", ".join(f"{u.param.name.value}: {u.literal}" for u in untyped if u.literal)
        if _postponed(callee.summary):
            edits = []  # annotations there would be strings TorchScript cannot read (TS191)
        fixes = (Fix(f"Annotate `{shown}` in `{name}`", tuple(edits)),) if edits else ()
        where = _link(f"{name} is defined here", callee.summary, callee.info)
        ctx.report(node.func, message, fixes=fixes, related=(where,))

    def _annotate(self, ctx: _Ctx, found: _Def, param: cst.Param, kind: str) -> TextEdit:
        name = found.range(ctx, param.name)
        if param.default is None:
            return TextEdit(Range(name.end, name.end), f": {kind}")
        default = found.range(ctx, param.default)
        return TextEdit(Range(name.start, default.start), f"{param.name.value}: {kind} = ")

    def visit_AnnAssign(self, node: cst.AnnAssign, ctx: FunctionContext) -> None:
        value = node.value
        if not isinstance(value, cst.Call):
            return
        if _call_name(value) not in _facts(ctx.project).ignored_names:
            return
        annotation = node.annotation.annotation
        if not _non_tensor_type(annotation, optional=True):
            return
        callee = resolve_callee(value, ctx)
        if callee is None or callee.info.modifier not in IGNORED:
            return
        found = _find_def(ctx, callee.summary, callee.info)
        if found is None or found.node.returns is not None or typed_by_comment(found.node):
            return
        name = callee.info.qualname
        wanted = ctx.code_for(annotation)
        message = (
            f"`{name}` is {_modifier_text(callee.info.modifier)} without a return annotation, so "
            f"TorchScript types its result as Tensor, which `{ctx.code_for(node.target)}: "
            f"{wanted}` cannot hold; annotate `-> {wanted}` on `{name}`"
        )
        fixes = self._returns_fix(ctx, found, annotation, name)
        where = _link(f"{name} is defined here", callee.summary, callee.info)
        ctx.report(node.target, message, fixes=fixes, related=(where,))

    def _returns_fix(
        self, ctx: FunctionContext, found: _Def, annotation: cst.BaseExpression, name: str
    ) -> tuple[Fix, ...]:
        """`-> int` when every `return` of the ignored function returns an int literal."""
        if not isinstance(annotation, cst.Name) or annotation.value not in _SCALARS:
            return ()
        if _postponed(ctx.summary):
            return ()  # an annotation there would be a string TorchScript cannot read (TS191)
        kind = annotation.value
        stop = (cst.FunctionDef, cst.ClassDef, cst.Lambda)
        returns = [
            n
            for n in _iter_nodes(found.node.body, stop, containers=False)
            if isinstance(n, cst.Return)
        ]
        if not returns or any(r.value is None or _literal_type(r.value) != kind for r in returns):
            return ()
        where = _after_params(ctx, found)
        if where is None:
            return ()
        line, column = where
        edit = TextEdit(Range.of(line, column, line, column), f" -> {kind}")
        return (Fix(f"Annotate `{name}` with `-> {kind}`", (edit,)),)


# -- TS306 / TS307 / TS308: decorators on compiled functions ---------------------------------------

# Context-manager decorators TorchScript drops (it compiles `__wrapped__`), by resolved name.
_GRAD_MODES = {
    "torch.no_grad": "no_grad",
    "torch.autograd.no_grad": "no_grad",
    "torch.autograd.grad_mode.no_grad": "no_grad",
    "torch.enable_grad": "enable_grad",
    "torch.autograd.enable_grad": "enable_grad",
    "torch.autograd.grad_mode.enable_grad": "enable_grad",
    "torch.inference_mode": "inference_mode",
    "torch.autograd.inference_mode": "inference_mode",
    "torch.autograd.grad_mode.inference_mode": "inference_mode",
    "torch.autocast": "autocast",
    "torch.amp.autocast": "autocast",
    "torch.cpu.amp.autocast": "autocast",
    "torch.cuda.amp.autocast": "autocast",
}
_STRING_NODES = (cst.SimpleString, cst.FormattedString)


def _scripted_here(ctx: FunctionContext) -> bool:
    """Does the project script (or save) a root that compiles this function? Behaviour that
    differs from eager matters only where the scripted module is used."""
    return bool(_facts(ctx.project).scripted & ctx.compiled.roots)


def _project_decorator(ctx: FunctionContext, name: str) -> tuple[FileSummary, FunctionInfo] | None:
    hit = ctx.project.lookup(name) if name else None
    if hit is None:
        return None
    summary, fn = hit
    return (summary, fn) if isinstance(fn, FunctionInfo) else None


class DroppedDecoratorRule(Rule):
    code = "TS306"
    name = "decorator-dropped-by-script"
    summary = "TorchScript ignores this decorator: the scripted function behaves differently"
    family = Family.DYNAMIC_BEHAVIORS
    severity = Severity.WARNING
    fixable = True
    explanation = """
    **What it does.** Flags, on a function the project scripts, `@torch.no_grad()`,
    `@torch.enable_grad()`, `@torch.inference_mode()`, `@torch.autocast(...)` and project
    decorators built with `functools.wraps`. Functions only compiled because their module is a
    default root are not flagged: the difference matters where a scripted module is used, so
    the rule waits for a `torch.jit.script(...)` / `torch.jit.save(...)` of the root or a
    `@torch.jit.script` decorator.

    **Why it fails.** TorchScript does not run decorators: it reads the source of the function
    (`inspect` follows `__wrapped__`) and compiles the undecorated body. Scripting succeeds, but
    the scripted code skips what the decorator does: a `no_grad` forward records gradients,
    a `wraps` decorator's extra work never happens.

    **How to fix.** Put the behaviour inside the body. For `no_grad` the fix wraps the body in
    `with torch.no_grad():`, which TorchScript supports. TorchScript supports neither
    `with torch.enable_grad()` nor `with torch.inference_mode()`: set those modes around the
    call to the scripted module instead. Move a custom decorator's logic into the function or
    into a function it calls.
    """
    VALID = (
        ex(
            """
            import torch
            import torch.nn as nn


            class M(nn.Module):
                def forward(self, x: torch.Tensor):
                    with torch.no_grad():
                        return x * 2


            scripted = torch.jit.script(M())
            """,
            call="assert not m(torch.ones(1, requires_grad=True)).requires_grad",
        ),
        ex(
            """
            import functools

            import torch


            def times100(fn):
                @functools.wraps(fn)
                def wrapper(*args, **kwargs):
                    return fn(*args, **kwargs) * 100

                return wrapper


            @times100
            def eager_only(x: int):
                return x + 1


            def f(x: int):
                return (x + 1) * 100


            scripted = torch.jit.script(f)
            """,
            call="assert m(1) == eager_only(1) == 200",
        ),
    )
    INVALID = (
        ex(
            """
            import torch
            import torch.nn as nn


            class M(nn.Module):
                @torch.no_grad()
                def forward(self, x: torch.Tensor):
                    \"\"\"Doubles x.\"\"\"
                    y = x * 2
                    return y


            scripted = torch.jit.script(M())
            """,
            line=6,
            error="scripted forward records gradients",
            call=(
                "assert not m(torch.ones(1, requires_grad=True)).requires_grad, "
                "'scripted forward records gradients'"
            ),
            fixed="""import torch
import torch.nn as nn


class M(nn.Module):
    def forward(self, x: torch.Tensor):
        \"\"\"Doubles x.\"\"\"
        with torch.no_grad():
            y = x * 2
            return y


scripted = torch.jit.script(M())
""",
        ),
        ex(
            """
            import functools

            import torch


            def times100(fn):
                @functools.wraps(fn)
                def wrapper(*args, **kwargs):
                    return fn(*args, **kwargs) * 100

                return wrapper


            @times100
            def f(x: int):
                return x + 1


            scripted = torch.jit.script(f)
            """,
            line=14,
            error="the decorator was dropped",
            call="assert m(1) == 200, 'the decorator was dropped'",
        ),
        ex(
            """
            import torch
            import torch.nn as nn


            class M(nn.Module):
                @torch.inference_mode()
                def forward(self, x: torch.Tensor):
                    return x * 2


            def export(path: str) -> None:
                torch.jit.script(M()).save(path)
            """,
            line=6,
            error="scripted forward records gradients",
            call=(
                "assert not m(torch.ones(1, requires_grad=True)).requires_grad, "
                "'scripted forward records gradients'"
            ),
        ),
    )
    CATALOG = ()

    def check_function(self, ctx: FunctionContext) -> None:
        if not ctx.node.decorators:
            return
        for decorator in ctx.node.decorators:
            name = _decorator_name(ctx, decorator)
            mode = _GRAD_MODES.get(name)
            if mode is None:
                found = _project_decorator(ctx, name)
                if found is None or found[1].wrapper != "wraps":
                    continue
            if not _scripted_here(ctx):
                return
            if mode is None:
                self._report_custom(ctx, decorator)
            else:
                self._report_mode(ctx, decorator, mode)

    def _report_mode(self, ctx: FunctionContext, decorator: cst.Decorator, mode: str) -> None:
        shown = ctx.code_for(decorator.decorator)
        effect = {
            "no_grad": "records gradients that eager code does not",
            "enable_grad": "does not enable gradients",
            "inference_mode": "runs outside inference mode and records gradients",
            "autocast": "runs without autocast, in the inputs' dtypes",
        }[mode]
        if mode in ("no_grad", "autocast"):
            advice = f"write `with {_called(decorator, shown)}:` inside the body"
        else:
            advice = (
                f"TorchScript has no `with {_called(decorator, shown)}:` either: set the mode "
                "around the call to the scripted module"
            )
        message = (
            f"TorchScript drops `@{shown}` and compiles `{ctx.qualname}` undecorated, so the "
            f"scripted code {effect}; {advice}"
        )
        fix = (
            _with_block_fix(ctx, decorator, _called(decorator, shown))
            if mode == "no_grad"
            else None
        )
        ctx.report(decorator, message, fixes=(fix,) if fix else ())

    def _report_custom(self, ctx: FunctionContext, decorator: cst.Decorator) -> None:
        shown = ctx.code_for(decorator.decorator)
        message = (
            f"`@{shown}` uses functools.wraps, so TorchScript follows `__wrapped__` and compiles "
            f"`{ctx.qualname}` without the decorator: whatever `{shown}` adds does not happen in "
            "the scripted code; move that logic into the function (or a function it calls)"
        )
        ctx.report(decorator, message)


def _called(decorator: cst.Decorator, shown: str) -> str:
    return shown if isinstance(decorator.decorator, cst.Call) else f"{shown}()"


def _with_block_fix(ctx: FunctionContext, decorator: cst.Decorator, manager: str) -> Fix | None:
    """Delete the decorator line and run the body (after a docstring) inside `with manager:`.

    Done with line edits that keep every byte of the body except the added indentation;
    lines inside multi-line strings are left as they are (their text is the string's value).
    """
    node = ctx.node
    body = node.body
    if not isinstance(body, cst.IndentedBlock):
        return None
    where = ctx.range(decorator)
    line = where.start.line
    if where.end.line != line or ctx.line_text(line).strip() != ctx.code_for(decorator).strip():
        return None  # a decorator sharing its line with something else
    statements = list(body.body)
    if statements and cstwalk.is_docstring(statements[0]):
        statements = statements[1:]
    if not statements:
        return None
    first = ctx.range(statements[0]).start.line
    def_indent = ctx.line_text(ctx.range(node).start.line)[: ctx.range(node).start.column]
    body_indent = ctx.indent_of(first)
    unit = body_indent[len(def_indent) :]
    if not body_indent.startswith(def_indent) or not unit or len(set(unit)) != 1:
        return None
    protected = _string_continuation_lines(ctx, statements)
    edits = [
        TextEdit(Range.of(line, 0, line + 1, 0), ""),
        TextEdit(Range.of(first, 0, first, 0), f"{body_indent}with {manager}:\n{unit}"),
    ]
    for number in range(first + 1, ctx.range(node).end.line + 1):
        if number not in protected and ctx.line_text(number).strip():
            edits.append(TextEdit(Range.of(number, 0, number, 0), unit))
    return Fix(f"Replace `@{ctx.code_for(decorator.decorator)}` with a `with` block", tuple(edits))


def _string_continuation_lines(
    ctx: FunctionContext, statements: list[cst.BaseStatement]
) -> set[int]:
    lines: set[int] = set()
    for statement in statements:
        for node in _iter_nodes(statement, containers=False):
            if isinstance(node, _STRING_NODES):
                where = ctx.range(node)
                lines.update(range(where.start.line + 1, where.end.line + 1))
    return lines


class DecoratorWithoutWrapsRule(Rule):
    code = "TS307"
    name = "decorator-without-wraps"
    summary = "A decorator without functools.wraps makes TorchScript compile its *args wrapper"
    family = Family.UNSUPPORTED_CONSTRUCTS
    explanation = """
    **What it does.** Flags a compiled function decorated with a project decorator whose
    wrapper takes `*args` / `**kwargs` and is not marked `@functools.wraps(fn)`.

    **Why it fails.** The decorated name is bound to the wrapper, so TorchScript compiles the
    wrapper: `Compiled functions can't take variable number of arguments or use keyword-only
    arguments with defaults`, pointing at the wrapper's parameters.

    **How to fix.** Do not decorate compiled functions with runtime wrappers: call the extra
    logic from the function, or apply the decorator to an eager-only entry point. Adding
    `@functools.wraps(fn)` makes scripting succeed, but TorchScript then compiles the
    undecorated function and silently skips the wrapper's logic (TS306).
    """
    VALID = (
        ex(
            """
            import torch


            def logged(fn):
                def wrapper(*args, **kwargs):
                    print("calling", fn.__name__)
                    return fn(*args, **kwargs)

                return wrapper


            @logged
            def eager_entry(x: torch.Tensor):
                return f(x)


            def f(x: torch.Tensor):
                return x + 1
            """
        ),
    )
    INVALID = (
        ex(
            """
            import torch


            def logged(fn):
                def wrapper(*args, **kwargs):
                    print("calling", fn.__name__)
                    return fn(*args, **kwargs)

                return wrapper


            @logged
            def f(x: torch.Tensor):
                return x + 1
            """,
            line=5,
            error="Compiled functions can't take variable number of arguments",
        ),
        ex(
            """
            import torch
            import torch.nn as nn


            def logged(fn):
                def wrapper(*args, **kwargs):
                    return fn(*args, **kwargs)

                return wrapper


            class M(nn.Module):
                @logged
                def forward(self, x: torch.Tensor):
                    return x + 1
            """,
            line=6,
            error="Compiled functions can't take variable number of arguments",
        ),
    )
    CATALOG = ("custom_decorator_without_wraps",)

    def check_function(self, ctx: FunctionContext) -> None:
        if not ctx.node.decorators:
            return
        for decorator in ctx.node.decorators:
            found = _project_decorator(ctx, _decorator_name(ctx, decorator))
            if found is not None and found[1].wrapper == "plain":
                self._report(ctx, decorator, *found)

    def _report(
        self,
        ctx: FunctionContext,
        decorator: cst.Decorator,
        summary: FileSummary,
        deco: FunctionInfo,
    ) -> None:
        shown = ctx.code_for(decorator.decorator)
        message = (
            f"`@{shown}` replaces `{ctx.qualname}` with a wrapper that takes *args/**kwargs and "
            "has no functools.wraps, so TorchScript compiles the wrapper and rejects it "
            "(Compiled functions can't take variable number of arguments); keep runtime "
            "wrappers off compiled functions"
        )
        use = ChainLink(
            f"{ctx.qualname} is decorated with @{shown}",
            ctx.summary.path,
            ctx.range(decorator).start.line,
            ctx.qualname,
        )
        star = _wrapper_star(ctx, summary, deco)
        if star is None:  # the decorator lives in another file: report where it is applied
            ctx.report(
                decorator, message, related=(_link(f"{deco.name} is defined here", summary, deco),)
            )
        else:
            ctx.report(decorator, message, range=star, related=(use,))


def _wrapper_star(ctx: FunctionContext, summary: FileSummary, deco: FunctionInfo) -> Range | None:
    """The wrapper's `**kwargs` (or `*args`), where the compiler points, if in this file."""
    found = _find_def(ctx, summary, deco)
    if found is None or not isinstance(found.node.body, cst.IndentedBlock):
        return None
    for statement in found.node.body.body:
        if not isinstance(statement, cst.FunctionDef):
            continue
        params = statement.params
        star: cst.CSTNode | None = params.star_kwarg
        if star is None and isinstance(params.star_arg, cst.Param):
            star = params.star_arg
        if star is not None:
            return found.range(ctx, star)
    return None


_CACHES = frozenset({"functools.lru_cache", "functools.cache"})


class CacheDecoratorRule(Rule):
    code = "TS308"
    name = "cache-decorator"
    summary = "functools.lru_cache / functools.cache on a compiled function"
    family = Family.UNSUPPORTED_CONSTRUCTS
    explanation = """
    **What it does.** Flags `@functools.lru_cache` and `@functools.cache` on a function or
    method that TorchScript compiles.

    **Why it fails.** The cache wrapper is a C object with no Python source: scripting it
    fails with `Can't get source for <class 'functools._lru_cache_wrapper'>`; a cached method
    called from `forward` fails with `'functools._lru_cache_wrapper' object has no attribute
    '__globals__'`; a cached free function called from compiled code becomes a Python call that
    `torch.jit.save` refuses (`Could not export Python function call`).

    **How to fix.** Keep caches out of compiled code: precompute the values (in `__init__`, as
    a buffer or a `Final` constant), or cache in an eager-only wrapper around a plain function
    that compiled code calls.
    """
    VALID = (
        ex(
            """
            import functools

            import torch


            def table(n: int) -> int:
                return n * n


            @functools.lru_cache(maxsize=None)
            def cached_table(n: int) -> int:
                return table(n)


            def f(x: torch.Tensor, n: int):
                return x * table(n)
            """
        ),
    )
    INVALID = (
        ex(
            """
            import functools


            @functools.lru_cache(maxsize=None)
            def f(n: int):
                return n + 1
            """,
            line=4,
            error="Can't get source for <class 'functools._lru_cache_wrapper'>",
        ),
        ex(
            """
            from functools import lru_cache

            import torch
            import torch.nn as nn


            class M(nn.Module):
                @lru_cache
                def scale(self, n: int) -> int:
                    return n * 2

                def forward(self, x: torch.Tensor):
                    return x * self.scale(3)
            """,
            line=8,
            error="has no attribute '__globals__'",
        ),
        ex(
            """
            import functools

            import torch


            @functools.cache
            def table(n: int) -> int:
                return n * n


            def f(x: torch.Tensor, n: int):
                return x * table(n)
            """,
            line=6,
            error="Could not export Python function call 'table'",
        ),
    )
    CATALOG = ("lru_cache_decorated",)

    def check_function(self, ctx: FunctionContext) -> None:
        if not ctx.node.decorators:
            return
        decorator = _find_decorator(ctx, ctx.node, _CACHES)
        if decorator is None:
            return
        shown = ctx.code_for(decorator.decorator)
        if ctx.owner is not None and not ctx.info.is_staticmethod:
            why = "compiling it fails ('functools._lru_cache_wrapper' has no '__globals__')"
        elif ctx.compiled.entry and ctx.owner is None:
            why = "scripting cannot read the cache wrapper's source (Can't get source)"
        else:
            why = "calls to it stay Python calls, which torch.jit.save refuses"
        message = (
            f"`@{shown}` on `{ctx.qualname}`, which TorchScript compiles: {why}; precompute "
            "the values or cache outside compiled code"
        )
        ctx.report(decorator, message)


# -- TS309 / TS310: other Python calls that torch.jit.save refuses ---------------------------------

_AUTOGRAD_FUNCTION = frozenset({"torch.autograd.Function", "torch.autograd.function.Function"})


def _is_autograd_function(project: Project, qualified: str) -> bool:
    for summary, cls in project.mro(qualified):
        if any(project.qualify(summary, base) in _AUTOGRAD_FUNCTION for base in cls.bases):
            return True
    return False


class AutogradFunctionApplyRule(Rule):
    code = "TS309"
    name = "autograd-function-blocks-save"
    summary = "A custom autograd.Function called from compiled code blocks torch.jit.save"
    family = Family.DYNAMIC_BEHAVIORS
    explanation = """
    **What it does.** Flags `MyFunction.apply(...)` in compiled code, where `MyFunction` is a
    project subclass of `torch.autograd.Function`.

    **Why it fails.** TorchScript cannot compile a custom autograd Function; it keeps
    `apply` as an opaque Python call. The module scripts and runs in this process, but
    `torch.jit.save` raises `Could not export Python function call 'MyFunction'`.

    **How to fix.** Express the computation with differentiable torch ops so autograd derives
    the backward, or register a custom C++ operator with an autograd kernel
    (`torch.library`). To keep the Function in eager mode only, call it under
    `if not torch.jit.is_scripting():` with a scriptable fallback in the other branch.
    """
    VALID = (
        ex(
            """
            import torch


            class Square(torch.autograd.Function):
                @staticmethod
                def forward(ctx, x):
                    ctx.save_for_backward(x)
                    return x * x

                @staticmethod
                def backward(ctx, g):
                    (x,) = ctx.saved_tensors
                    return 2 * x * g


            def f(x: torch.Tensor):
                if not torch.jit.is_scripting():
                    return Square.apply(x)
                return x * x
            """,
            call="m(torch.ones(1))",
        ),
    )
    INVALID = (
        ex(
            """
            import torch


            class Square(torch.autograd.Function):
                @staticmethod
                def forward(ctx, x):
                    ctx.save_for_backward(x)
                    return x * x

                @staticmethod
                def backward(ctx, g):
                    (x,) = ctx.saved_tensors
                    return 2 * x * g


            def f(x: torch.Tensor):
                return Square.apply(x)
            """,
            line=17,
            error="Could not export Python function call 'Square'",
        ),
    )
    CATALOG = ("autograd_function_apply",)

    def visit_Call(self, node: cst.Call, ctx: FunctionContext) -> None:
        func = node.func
        if not isinstance(func, cst.Attribute) or func.attr.value != "apply":
            return
        name = dotted(func.value)
        qualified = ctx.resolve(name) if name else ""
        if not qualified or ctx.project.lookup_class(qualified) is None:
            return
        if not _is_autograd_function(ctx.project, qualified):
            return
        message = (
            f"`{name}` is a custom torch.autograd.Function: TorchScript keeps `{name}.apply` as "
            f"a Python call, so torch.jit.save fails (Could not export Python function call "
            f"'{name.split('.')[-1]}'); use differentiable torch ops or a torch.library operator"
        )
        ctx.report(func, message)


class IgnoreContextManagerRule(Rule):
    code = "TS310"
    name = "ignore-context-manager-blocks-save"
    summary = "A `torch.jit._IgnoreContextManager` block blocks torch.jit.save"
    family = Family.DYNAMIC_BEHAVIORS
    explanation = """
    **What it does.** Flags `with torch.jit._IgnoreContextManager(...):` in compiled code. The
    diagnostic sits on the enclosing function, where the compiler points.

    **Why it fails.** The block is turned into a call to a generated Python function. The
    function scripts and runs, but `torch.jit.save` raises `Could not export Python function
    call 'func_ignore_...'`.

    **How to fix.** Make the block's code scriptable, or move it into a function marked
    `@torch.jit.unused` that the scripted model never runs.
    """
    VALID = (
        ex(
            """
            import torch


            def f(x: int):
                y = x + 1
                return y
            """,
            call="assert m(1) == 2",
        ),
    )
    INVALID = (
        ex(
            """
            import torch


            def f(x: int):
                with torch.jit._IgnoreContextManager(x="inp:int", y="out:int"):
                    y = x + 1
                return y
            """,
            line=4,
            error="Could not export Python function call 'func_ignore_",
        ),
    )
    CATALOG = ("ignore_context_manager",)

    def visit_With(self, node: cst.With, ctx: FunctionContext) -> None:
        for item in node.items:
            call = item.item
            if not isinstance(call, cst.Call):
                continue
            name = dotted(call.func)
            if not name.endswith("_IgnoreContextManager"):
                continue
            if not ctx.resolve(name).startswith("torch.jit"):
                continue
            where = ctx.range(node).start.line
            message = (
                f"the `with {name}(...)` block at line {where} becomes a Python call inside "
                f"`{ctx.qualname}`, so torch.jit.save fails (Could not export Python function "
                "call 'func_ignore_...'); make the block scriptable or move it into an "
                "@torch.jit.unused function"
            )
            link = ChainLink(f"the {name} block", ctx.summary.path, where, ctx.qualname)
            ctx.report(ctx.node.name, message, related=(link,))
            return


# -- TS311 ----------------------------------------------------------------------------------------

# Nodes whose every child is evaluated whenever the node is (no short-circuit, no branch).
_ALWAYS_EVALUATED = (
    cst.Expr,
    cst.Return,
    cst.Assign,
    cst.AssignTarget,
    cst.AnnAssign,
    cst.AugAssign,
    cst.Call,
    cst.Arg,
    cst.Attribute,
    cst.BinaryOperation,
    cst.UnaryOperation,
    cst.Subscript,
    cst.SubscriptElement,
    cst.Index,
    cst.Tuple,
    cst.List,
    cst.Element,
    cst.Dict,
    cst.DictElement,
)


def _always_runs(ctx: FunctionContext) -> bool:
    """Is the node being visited evaluated on every run of the function that reaches its
    statement, and is that statement reached on every run (a top-level simple statement after
    no `return` / `raise`)?"""
    ancestors = ctx.ancestors
    if len(ancestors) < 3 or ancestors[1] is not ctx.node.body:
        return False
    statement = ancestors[2]
    if not isinstance(statement, cst.SimpleStatementLine):
        return False
    if not all(isinstance(a, _ALWAYS_EVALUATED) for a in ancestors[3:]):
        return False
    body = ctx.node.body
    if not isinstance(body, cst.IndentedBlock):
        return False
    for earlier in body.body:
        if earlier is statement:
            return True
        exits = (cst.Return, cst.Raise)
        stop = (cst.FunctionDef, cst.ClassDef, cst.Lambda)
        if any(isinstance(n, exits) for n in _iter_nodes(earlier, stop, containers=False)):
            return False
    return False


class UnusedAlwaysCalledRule(Rule):
    code = "TS311"
    name = "unused-function-always-called"
    summary = "An entry point always calls a @torch.jit.unused function, so it always raises"
    family = Family.DYNAMIC_BEHAVIORS
    refuted_by_clean_compile = False  # it fails when called, not when scripted
    explanation = """
    **What it does.** Flags a call to a `@torch.jit.unused` function made on every run of
    `forward` or of an `@torch.jit.export` method: a top-level statement of the body, not under
    `if`, a loop, `and`/`or` or a conditional expression, and after no `return`.

    **Why it fails.** `@torch.jit.unused` replaces the function with a stub that raises. Script
    and save succeed, and every call of the entry point then fails: `This Python function is
    annotated to be ignored and cannot be run`.

    **How to fix.** Guard the call so the scripted model skips it (`if self.training:` for a
    training-only step, `if not torch.jit.is_scripting():` for eager-only code), or make the
    function scriptable and remove the decorator.
    """
    VALID = (
        ex(
            """
            import torch
            import torch.nn as nn


            class M(nn.Module):
                @torch.jit.unused
                def check(self, x: torch.Tensor) -> torch.Tensor:
                    assert bool(x.isfinite().all())
                    return x

                def forward(self, x: torch.Tensor):
                    if not torch.jit.is_scripting():
                        x = self.check(x)
                    return x * 2
            """,
            call="m(torch.ones(1))",
        ),
        ex(
            """
            import torch
            import torch.nn as nn


            class M(nn.Module):
                @torch.jit.unused
                def check(self, x: torch.Tensor) -> torch.Tensor:
                    assert bool(x.isfinite().all())
                    return x

                def forward(self, x: torch.Tensor):
                    if x.numel() == 0:
                        return x
                    return self.check(x) * 2 if self.training else x * 2
            """,
            call="m.eval(); m(torch.ones(1))",
        ),
    )
    INVALID = (
        ex(
            """
            import torch
            import torch.nn as nn


            class M(nn.Module):
                @torch.jit.unused
                def check(self, x: torch.Tensor) -> torch.Tensor:
                    assert bool(x.isfinite().all())
                    return x

                def forward(self, x: torch.Tensor):
                    y = self.check(x) * 2
                    return y
            """,
            line=12,
            error="annotated to be ignored and cannot be run",
            call="m(torch.ones(1))",
        ),
    )
    CATALOG = ("unused_method_raises_at_call",)

    def visit_Call(self, node: cst.Call, ctx: FunctionContext) -> None:
        if not ctx.compiled.entry or _call_name(node) not in _facts(ctx.project).ignored_names:
            return
        callee = resolve_callee(node, ctx)
        if callee is None or callee.info.modifier != "unused" or not _always_runs(ctx):
            return
        name = callee.info.qualname
        message = (
            f"`{name}` is @torch.jit.unused, so TorchScript compiles it as a stub that raises, "
            f"and `{ctx.qualname}` calls it on every run: the scripted `{ctx.qualname}` always "
            "fails ('annotated to be ignored and cannot be run'); guard the call (e.g. "
            "`if not torch.jit.is_scripting():`) or make it scriptable"
        )
        where = _link(f"{name} is marked @torch.jit.unused", callee.summary, callee.info)
        ctx.report(node.func, message, related=(where,))


RULES: tuple[type[Rule], ...] = (
    MissingExportRule,
    IgnoreBlocksSaveRule,
    IgnoreDropRule,
    IgnoredForwardSavedRule,
    IgnoredSignatureRule,
    DroppedDecoratorRule,
    DecoratorWithoutWrapsRule,
    CacheDecoratorRule,
    AutogradFunctionApplyRule,
    IgnoreContextManagerRule,
    UnusedAlwaysCalledRule,
)
