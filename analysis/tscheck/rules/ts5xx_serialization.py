"""TS500-TS529: serialization, failures of `torch.jit.save` / `torch.jit.load` themselves.

Ground truth: torch 2.13. `torch.jit.save(m, f, _extra_files=...)` hands `_extra_files` to a
pybind11 binding typed `Mapping[str, str]` (str or bytes keys and values convert; `None` is
replaced by `{}` in `torch.jit.save` but not in `ScriptModule.save`). Anything else raises
`TypeError: save(): incompatible function arguments` (`save_to_buffer()` for file objects)
before a byte is written. The failures that come from what the module compiled (ignored calls,
autograd Functions) are TS302 / TS304 / TS309 / TS310 at their cause; TS502 names them at the
save call that fails. `torch.save` / `pickle` refuse ScriptModules (no `__getstate__`);
`torch.jit.load` takes `map_location` as None, a str or a torch.device only, and restores every
tensor on the device it was saved from unless told otherwise.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Iterator

import libcst as cst

from tscheck import cstwalk
from tscheck.index import (
    JIT_SAVE,
    JIT_SCRIPT,
    JIT_TRACE,
    ClassInfo,
    FileSummary,
    FunctionInfo,
    JitSite,
)
from tscheck.model import ChainLink, Family, Fix, Range, Severity, TextEdit
from tscheck.reach import Compiled, Project, compiled_set, is_torch_module
from tscheck.rules import call_sites
from tscheck.rules.base import FileContext, Rule, dotted, ex

_EXTRA_FILES = "_extra_files"


def _kind(expr: cst.BaseExpression) -> str | None:
    """What a value visibly is when it is neither str nor bytes (a number, a list...), else
    None (a string, or something only run time knows)."""
    if isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, (cst.Minus, cst.Plus)):
        expr = expr.expression
    if isinstance(expr, (cst.Integer, cst.Float, cst.Imaginary)):
        return "a number"
    if isinstance(expr, cst.Name) and expr.value in ("True", "False"):
        return "a bool"
    if isinstance(expr, cst.Name) and expr.value == "None":
        return "None"
    if isinstance(expr, (cst.List, cst.ListComp)):
        return "a list"
    if isinstance(expr, (cst.Set, cst.SetComp)):
        return "a set"
    if isinstance(expr, cst.Tuple):
        return "a tuple"
    if isinstance(expr, (cst.Dict, cst.DictComp)):
        return "a dict"
    return None


def _not_a_mapping(expr: cst.BaseExpression, *, method: bool) -> str | None:
    """Why `expr`, passed as `_extra_files`, is visibly not a mapping of str to str/bytes."""
    if isinstance(expr, (cst.SimpleString, cst.ConcatenatedString, cst.FormattedString)):
        return "a string, not a dict"
    if isinstance(expr, cst.Dict):
        for element in expr.elements:
            if not isinstance(element, cst.DictElement):
                continue  # `**other`: only run time knows
            key = _kind(element.key)
            if key is not None:
                return f"a dict with {key} as a key"
            value = _kind(element.value)
            if value is not None:
                return f"a dict with {value} as a value"
        return None
    if isinstance(expr, cst.DictComp):
        key, value = _kind(expr.key), _kind(expr.value)
        if key is not None:
            return f"a dict with {key} as a key"
        return None if value is None else f"a dict with {value} as a value"
    kind = _kind(expr)
    if kind == "None":
        # torch.jit.save turns None into {}; ScriptModule.save passes it to the binding.
        return "None, not a dict" if method else None
    if kind is None or kind == "a dict":
        return None
    return f"{kind}, not a dict"


def _calls(root: cst.CSTNode) -> Iterator[cst.Call]:
    """Every call under `root`, nested functions included."""
    stack: list[cst.CSTNode] = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, cst.Call):
            yield node
        stack.extend(cstwalk.children(node))


class ExtraFilesTypeRule(Rule):
    code = "TS501"
    name = "extra-files-not-str-mapping"
    summary = "`_extra_files` is not a dict of str to str/bytes, so the save raises TypeError"
    family = Family.TYPE_CHECKING
    call_sites = True
    explanation = """
    **What it does.** Flags `torch.jit.save(m, f, _extra_files=...)` and
    `scripted.save(f, _extra_files=...)` where the value is visibly not a mapping from str to
    str or bytes: a list or set of file names, a string, a number, or a dict literal with a
    number, bool, None or container as a key or value (and `None` passed to `.save`).

    **Why it fails.** `_extra_files` goes to a C++ binding typed `Mapping[str, str]`: each key is
    the name of a file stored in the archive and each value is its content. Anything else is
    refused before the archive is written: `TypeError: save(): incompatible function
    arguments` (`save_to_buffer()` when `f` is a file object). The module scripted fine, so the
    failure shows only in the export step.

    **How to fix.** Pass a dict of names to contents, serializing structured data yourself:
    `_extra_files={"config.json": json.dumps(config)}`, and `str(version)` for numbers. To
    read files back, `torch.jit.load(f, _extra_files=files)` fills the values of a dict whose
    keys name them (`files = {"config.json": ""}`).
    """
    VALID = (
        ex(
            """
            import io
            import json

            import torch
            import torch.nn as nn


            class M(nn.Module):
                def forward(self, x: torch.Tensor):
                    return x + 1


            def export(m: torch.jit.ScriptModule) -> bytes:
                buffer = io.BytesIO()
                extra = {"config.json": json.dumps({"width": 4}), "raw.bin": b"\\x00\\x01"}
                torch.jit.save(m, buffer, _extra_files=extra)
                torch.jit.save(m, buffer, _extra_files={"version": str(2), "note": "v" + "2"})
                torch.jit.save(m, buffer, _extra_files=None)
                return buffer.getvalue()
            """,
            call="export(m)",
        ),
        ex(
            """
            import os
            import tempfile

            import torch
            import torch.nn as nn


            class M(nn.Module):
                def forward(self, x: torch.Tensor):
                    return x + 1


            def export(folder: str) -> None:
                scripted = torch.jit.script(M())
                scripted.save(os.path.join(folder, "m.pt"), _extra_files={"version": "2"})
            """,
            call="with tempfile.TemporaryDirectory() as d: export(d)",
        ),
    )
    INVALID = (
        ex(
            """
            import io

            import torch
            import torch.nn as nn


            class M(nn.Module):
                def forward(self, x: torch.Tensor):
                    return x + 1


            def export(m: torch.jit.ScriptModule) -> bytes:
                buffer = io.BytesIO()
                torch.jit.save(m, buffer, _extra_files=["config.json"])
                return buffer.getvalue()
            """,
            line=14,
            error="save_to_buffer(): incompatible function arguments",
            call="export(m)",
        ),
        ex(
            """
            import io

            import torch
            import torch.nn as nn


            class M(nn.Module):
                def forward(self, x: torch.Tensor):
                    return x + 1


            def export(m: torch.jit.ScriptModule) -> bytes:
                buffer = io.BytesIO()
                torch.jit.save(m, buffer, _extra_files={"version": 2})
                return buffer.getvalue()
            """,
            line=14,
            error="save_to_buffer(): incompatible function arguments",
            call="export(m)",
        ),
        ex(
            """
            import os
            import tempfile

            import torch
            import torch.nn as nn


            class M(nn.Module):
                def forward(self, x: torch.Tensor):
                    return x + 1


            def export(folder: str) -> None:
                scripted = torch.jit.script(M())
                scripted.save(os.path.join(folder, "m.pt"), _extra_files={"config.json", "v"})
            """,
            line=15,
            error="save(): incompatible function arguments",
            call="with tempfile.TemporaryDirectory() as d: export(d)",
        ),
    )
    CATALOG = ()

    def check_file(self, ctx: FileContext) -> None:
        for site in ctx.summary.jit_sites:
            if site.kind == "save":
                self._check_site(ctx, site)

    def _check_site(self, ctx: FileContext, site: JitSite) -> None:
        method = site.method == "save"
        module, start = ctx.blocks.module_for_line(site.line)
        ctx.use(module, start)
        for call in _calls(module):
            value = self._extra_files(ctx, call, method=method)
            if value is None or ctx.range(call).start.line != site.line:
                continue
            problem = _not_a_mapping(value, method=method)
            if problem is None:
                continue
            binding = "save()" if method else "save() / save_to_buffer()"
            ctx.report(
                value,
                f"`_extra_files` must map file names (str) to contents (str or bytes); this is "
                f"{problem}, so the save raises TypeError ({binding}: incompatible function "
                'arguments); pass e.g. `{"config.json": json.dumps(config)}`',
            )

    def _extra_files(
        self, ctx: FileContext, call: cst.Call, *, method: bool
    ) -> cst.BaseExpression | None:
        """The `_extra_files` argument of a save call of the site's form, if it has one."""
        if method:
            if not isinstance(call.func, cst.Attribute) or call.func.attr.value != "save":
                return None
            positional = None  # ScriptModule.save(f, **kwargs): keywords only
        else:
            name = dotted(call.func)
            if not name.endswith("save") or ctx.resolve(name) not in JIT_SAVE:
                return None
            positional = 2  # torch.jit.save(m, f, _extra_files=None)
        for index, arg in enumerate(call.args):
            if arg.star:
                return None
            if arg.keyword is not None:
                if arg.keyword.value == _EXTRA_FILES:
                    return arg.value
            elif index == positional:
                return arg.value
        return None


# -- what a save / load call is given -------------------------------------------------------------

JIT_LOAD = "torch.jit.load"
_SAVE = frozenset({"save"})
_LOAD = frozenset({"load"})
TORCH_SAVE = "torch.save"
# nn.Module methods that return the module itself: `Net().eval()` is still a Net.
_RETURNS_SELF = frozenset(
    {"eval", "train", "to", "cuda", "cpu", "float", "half", "double", "bfloat16", "requires_grad_"}
)


def _jit_call(ctx: FileContext, expr: cst.BaseExpression, kinds: frozenset[str]) -> bool:
    return isinstance(expr, cst.Call) and ctx.resolve(dotted(expr.func)) in kinds


def _jit_product(
    ctx: FileContext, expr: cst.BaseExpression, scope: cst.FunctionDef | None, kinds: frozenset[str]
) -> cst.Call | None:
    """The `torch.jit.script(...)` (or other `kinds`) call that `expr` visibly is: the call
    itself, or a local name only ever assigned such calls (the last one is returned)."""
    if _jit_call(ctx, expr, kinds):
        assert isinstance(expr, cst.Call)
        return expr
    if not isinstance(expr, cst.Name):
        return None
    values = call_sites.bound_values(ctx, scope, expr.value)
    if values is None or not all(_jit_call(ctx, v, kinds) for v in values):
        return None
    last = values[-1]
    assert isinstance(last, cst.Call)
    return last


def _constructed_module(
    ctx: FileContext, expr: cst.BaseExpression, scope: cst.FunctionDef | None
) -> tuple[FileSummary, ClassInfo] | None:
    """The project nn.Module class that `expr` visibly is an instance of: `Net(...)`,
    `Net(...).eval()`, or a local name only ever assigned such expressions (of one class)."""
    values: list[cst.BaseExpression] = [expr]
    if isinstance(expr, cst.Name):
        values = call_sites.bound_values(ctx, scope, expr.value) or []
    found: set[tuple[str, str]] = set()
    result: tuple[FileSummary, ClassInfo] | None = None
    for value in values:
        while (
            isinstance(value, cst.Call)
            and isinstance(value.func, cst.Attribute)
            and value.func.attr.value in _RETURNS_SELF
            and isinstance(value.func.value, cst.Call)
        ):
            value = value.func.value
        if not isinstance(value, cst.Call):
            return None
        hit = ctx.project.lookup_class(ctx.resolve(dotted(value.func)))
        if hit is None:
            return None
        qualified = ctx.project.qualified_class(hit[0], hit[1])
        if not ctx.project.is_module_class(qualified):
            return None
        found.add((hit[0].path, hit[1].name))
        result = hit
    return result if len(found) == 1 else None


def _scripted_root(
    ctx: FileContext, script: cst.Call, scope: cst.FunctionDef | None
) -> tuple[FileSummary, ClassInfo | FunctionInfo] | None:
    """What `torch.jit.script(arg)` scripts: a project nn.Module class it is given an
    instance of, or a project function it is given."""
    if not script.args or script.args[0].star or script.args[0].keyword is not None:
        return None
    arg = script.args[0].value
    module = _constructed_module(ctx, arg, scope)
    if module is not None:
        return module
    if isinstance(arg, (cst.Name, cst.Attribute)):
        if isinstance(arg, cst.Name) and call_sites.bound_values(ctx, scope, arg.value) is not None:
            return None  # a local variable: whatever it holds
        hit = ctx.project.lookup(ctx.resolve(dotted(arg)))
        if hit is not None and isinstance(hit[1], FunctionInfo) and "." not in hit[1].qualname:
            return hit[0], hit[1]
    return None


def _script_object(
    ctx: FileContext, expr: cst.BaseExpression, scope: cst.FunctionDef | None
) -> bool:
    """`expr` is visibly a ScriptModule or ScriptFunction: a trace, or the script of a
    project module instance or function (`torch.jit.script(SomeClass)` returns the class
    itself, which pickles and has no `save`)."""
    if _jit_product(ctx, expr, scope, JIT_SCRIPT | JIT_TRACE) is None:
        return False
    values = (
        [expr] if isinstance(expr, cst.Call) else call_sites.bound_values(ctx, scope, dotted(expr))
    )
    for value in values or []:
        assert isinstance(value, cst.Call)
        if _jit_call(ctx, value, JIT_SCRIPT) and _scripted_root(ctx, value, scope) is None:
            return False
    return True


_SAVE_CALL = re.compile(r"\bsave\s*\(")
_COMPILED: weakref.WeakKeyDictionary[Project, dict[str, dict[tuple[str, str], Compiled]]] = (
    weakref.WeakKeyDictionary()
)


def _compiled_for(
    project: Project, summary: FileSummary, obj: ClassInfo | FunctionInfo
) -> dict[tuple[str, str], Compiled]:
    """What scripting `obj` compiles (cached per project: every keystroke asks again)."""
    known = _COMPILED.get(project)
    if known is None:
        known = _COMPILED[project] = {}
    key = f"{summary.path}:{obj.name}"
    found = known.get(key)
    if found is None:
        found = known[key] = compiled_set(project, [(summary, obj, f"{obj.name} is saved")])
    return found


def _ignored_calls(compiled: dict[tuple[str, str], Compiled]) -> list[Compiled]:
    """@torch.jit.ignore functions that compiled code calls (not entry points: a submodule's
    ignored forward, or the root's own, are TS302 / TS304's business)."""
    found = [
        c
        for c in compiled.values()
        if c.mode == "signature" and c.info.modifier == "ignore" and not c.entry and c.chain
    ]
    return sorted(found, key=lambda c: (c.chain[-1].path, c.chain[-1].line))


class SaveBlockedByIgnoredCallRule(Rule):
    code = "TS502"
    name = "save-of-module-calling-ignored"
    summary = "This save fails: the scripted module calls a @torch.jit.ignore function"
    family = Family.DYNAMIC_BEHAVIORS
    call_sites = True
    explanation = """
    **What it does.** Flags `torch.jit.save(m, f)`, `m.save(f)` and
    `torch.jit.script(Net()).save(f)` where `m` is visibly the result of `torch.jit.script` on
    a project module (or function) whose compiled code calls a function marked
    `@torch.jit.ignore`. It names the ignored function and the call that compiles it; TS302
    reports the same call where it is made, this rule where the program fails.

    **Why it fails.** An ignored function stays a Python call inside the TorchScript graph. The
    module scripts and runs in this process, but the archive cannot hold Python code:
    `torch.jit.save` raises `Could not export Python function call 'helper'`. Scripted and
    frozen modules alike; a traced module saves (tracing ran the Python function and recorded
    its tensor operations), and `@torch.jit.unused` functions do not block the save (they are
    compiled as stubs that raise).

    **How to fix.** Mark the function `@torch.jit.unused` if the saved model never runs it,
    keep the call behind `if not torch.jit.is_scripting():`, or make the function scriptable
    and drop the decorator.
    """
    VALID = (
        ex(
            """
            import io

            import torch
            import torch.nn as nn


            class M(nn.Module):
                @torch.jit.unused
                def log(self, x: torch.Tensor) -> torch.Tensor:
                    print(sorted({int(v) for v in x.tolist()}))
                    return x

                @torch.jit.ignore
                def debug(self, x: torch.Tensor) -> None:
                    print(x)

                def forward(self, x: torch.Tensor):
                    if self.training:
                        x = self.log(x)
                    if not torch.jit.is_scripting():
                        self.debug(x)
                    return x + 1


            def export() -> bytes:
                buffer = io.BytesIO()
                torch.jit.save(torch.jit.script(M()), buffer)
                return buffer.getvalue()
            """,
            call="export()",
        ),
        ex(
            """
            import io

            import torch
            import torch.nn as nn


            class Inner(nn.Module):
                @torch.jit.ignore
                def log(self, x: torch.Tensor) -> torch.Tensor:
                    return x

                def forward(self, x: torch.Tensor):
                    return self.log(x) + 1


            class M(nn.Module):
                def forward(self, x: torch.Tensor):
                    return x + 1


            def export() -> bytes:
                buffer = io.BytesIO()
                traced = torch.jit.trace(Inner(), torch.ones(2))
                torch.jit.save(traced, buffer)
                scripted = torch.jit.script(M())
                torch.jit.save(scripted, buffer)
                return buffer.getvalue()
            """,
            call="export()",
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
                def log(self, x: torch.Tensor) -> torch.Tensor:
                    print(sorted({int(v) for v in x.tolist()}))
                    return x

                def forward(self, x: torch.Tensor):
                    if self.training:
                        x = self.log(x)
                    return x + 1


            def export() -> bytes:
                buffer = io.BytesIO()
                net = M().eval()
                scripted = torch.jit.script(net)
                torch.jit.save(scripted, buffer)
                return buffer.getvalue()
            """,
            line=23,
            error="Could not export Python function call 'log'",
            call="export()",
        ),
        ex(
            """
            import io

            import torch


            @torch.jit.ignore
            def to_numpy_and_back(x: torch.Tensor) -> torch.Tensor:
                return torch.from_numpy(x.numpy().copy())


            def f(x: torch.Tensor):
                return to_numpy_and_back(x)


            def export() -> bytes:
                buffer = io.BytesIO()
                torch.jit.save(torch.jit.script(f), buffer)
                return buffer.getvalue()
            """,
            line=17,
            error="Could not export Python function call 'to_numpy_and_back'",
            call="export()",
        ),
        ex(
            """
            import os
            import tempfile

            import torch
            import torch.nn as nn


            class Head(nn.Module):
                @torch.jit.ignore
                def decode(self, x: torch.Tensor) -> torch.Tensor:
                    return x.argmax(-1)

                def forward(self, x: torch.Tensor):
                    return self.decode(x)


            class Body(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.head = Head()

                def forward(self, x: torch.Tensor):
                    return self.head(x)


            def export(folder: str) -> None:
                torch.jit.script(Body()).save(os.path.join(folder, "m.pt"))
            """,
            line=27,
            error="Could not export Python function call 'decode'",
            target="Body()",
            call="with tempfile.TemporaryDirectory() as d: export(d)",
        ),
    )
    CATALOG = ()

    def check_file(self, ctx: FileContext) -> None:
        sites = {s.line for s in ctx.summary.jit_sites if s.kind in ("save", "script")}
        if not sites:
            return
        for item in call_sites.calls_on_lines(
            ctx, sites & call_sites.lines_with(ctx.text, _SAVE_CALL), _SAVE
        ):
            saved = self._saved(ctx, item.call)
            if saved is None:
                continue
            script = _jit_product(ctx, saved, item.scope, JIT_SCRIPT)
            root = _scripted_root(ctx, script, item.scope) if script is not None else None
            if root is None:
                continue
            ignored = _ignored_calls(_compiled_for(ctx.project, *root))
            if ignored:
                self._report(ctx, saved, root[1], ignored)

    def _saved(self, ctx: FileContext, call: cst.Call) -> cst.BaseExpression | None:
        """The module a save call saves: `torch.jit.save(m, ...)` or `m.save(...)`."""
        name = ctx.resolve(dotted(call.func))
        if name in JIT_SAVE:
            positional = call_sites.positional(call)
            return positional[0].value if positional and not call.args[0].keyword else None
        if name == TORCH_SAVE or not isinstance(call.func, cst.Attribute):
            return None
        return call.func.value if call.func.attr.value == "save" else None

    def _report(
        self,
        ctx: FileContext,
        saved: cst.BaseExpression,
        root: ClassInfo | FunctionInfo,
        ignored: list[Compiled],
    ) -> None:
        calls = []
        for c in ignored:
            link = c.chain[-1]
            where = f"line {link.line}"
            if link.path != ctx.summary.path:
                where = f"{link.path.replace(chr(92), '/').rsplit('/', 1)[-1]}:{link.line}"
            caller = c.chain[-2].function if len(c.chain) > 1 else ""
            by = f"from `{caller}` " if caller else ""
            calls.append(f"`{c.info.qualname}` (called {by}at {where})")
        names = " / ".join(f"'{c.info.name}'" for c in ignored)
        them = "them" if len(ignored) > 1 else "it"
        message = (
            f"This save fails: the scripted `{root.name}` keeps "
            f"{'Python calls' if len(ignored) > 1 else 'a Python call'} to "
            f"@torch.jit.ignore {', '.join(calls)}, which torch.jit.save cannot export (Could "
            f"not export Python function call {names}); mark {them} @torch.jit.unused if the "
            f"saved model never runs {them}, or make {them} scriptable"
        )
        related = [
            ChainLink(f"{c.chain[-1].text}: the ignored call", c.chain[-1].path, c.chain[-1].line)
            for c in ignored
        ]
        related.extend(
            ChainLink(f"{c.info.qualname} is marked @torch.jit.ignore", c.path, c.info.line)
            for c in ignored
        )
        ctx.report(saved, message, related=related)


# -- TS503: torch.jit.load without map_location in code that works with CUDA ----------------------

# The file moves things to CUDA: `.cuda(`, or a device string "cuda" / "cuda:N".
_CUDA = re.compile(r"""\.cuda\s*\(|["']cuda(?::\d+)?["']""")


def _load_calls(ctx: FileContext) -> Iterator[call_sites.CallIn]:
    """Every `torch.jit.load(...)` call of the file, found by text first: only lines where a
    name this file binds to torch.jit.load (or to torch.jit, `jit.load(`) is called get their
    block parsed, so a local `load()` in a large class costs nothing."""
    if "load" not in ctx.text:
        return
    pattern = _load_pattern(ctx)
    if pattern is None:
        return
    names = _LOAD | {local for local, full in ctx.summary.imports if full == JIT_LOAD}
    for item in call_sites.calls_on_lines(ctx, call_sites.lines_with(ctx.text, pattern), names):
        if ctx.resolve(dotted(item.call.func)) == JIT_LOAD:
            yield item


def _load_pattern(ctx: FileContext) -> re.Pattern[str] | None:
    """Calls that may be torch.jit.load: `<torch.jit alias>.load(` or `<load alias>(`."""
    shapes = []
    for local, full in ctx.summary.imports:
        if full == JIT_LOAD:
            shapes.append(rf"\b{re.escape(local)}\s*\(")
        elif full in ("torch", "torch.jit"):
            shapes.append(rf"\b{re.escape(local)}\s*\.\s*(?:jit\s*\.\s*)?load\s*\(")
    return re.compile("|".join(shapes)) if shapes else None


class LoadWithoutMapLocationRule(Rule):
    code = "TS503"
    name = "jit-load-without-map-location"
    summary = "torch.jit.load without map_location fails on a machine without CUDA"
    family = Family.DEFAULT_TYPES
    severity = Severity.WARNING
    fixable = True
    explanation = """
    **What it does.** Flags `torch.jit.load(f)` without `map_location` in a file that moves
    modules or tensors to CUDA (`.cuda()`, or a `"cuda"` / `"cuda:N"` device string): the
    archives this code loads may have been saved from a GPU.

    **Why it fails.** A TorchScript archive records the device of every tensor, and
    `torch.jit.load` restores each one there unless `map_location` says otherwise. An archive
    saved from a CUDA module then fails to load on a machine without CUDA: a CPU-only build
    raises `NotImplementedError: Could not run 'aten::empty_strided' with arguments from the
    'CUDA' backend`, a CUDA build without a GPU a RuntimeError. (The rule's examples are checked
    with an archive whose storages are rewritten to `cuda:0`, as a GPU machine writes them: this
    test machine has no GPU to save from.)

    **How to fix.** Pass the device to load onto: `torch.jit.load(f, map_location="cpu")`,
    then move the module where it should run (`.to(device)`). The fix adds
    `map_location="cpu"`; it is not marked safe, since on a GPU machine the tensors then load
    onto the CPU instead of the GPU they were saved from.
    """
    VALID = (
        ex(
            """
            import os
            import tempfile

            import torch
            import torch.nn as nn


            class M(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.scale = nn.Parameter(torch.ones(2))

                def forward(self, x: torch.Tensor):
                    return x * self.scale


            def export(path: str) -> None:
                device = "cuda" if torch.cuda.is_available() else "cpu"
                torch.jit.script(M().to(device)).save(path)


            def restore(path: str) -> torch.jit.ScriptModule:
                return torch.jit.load(path, map_location="cpu")
            """,
            call=(
                "with tempfile.TemporaryDirectory() as d: p = os.path.join(d, 'm.pt'); "
                "export(p); as_saved_on_cuda(p); restore(p)"
            ),
        ),
        ex(
            """
            import io

            import torch
            import torch.nn as nn


            class M(nn.Module):
                def forward(self, x: torch.Tensor):
                    return x + 1


            def roundtrip() -> None:
                buffer = io.BytesIO()
                torch.jit.save(torch.jit.script(M()), buffer)
                buffer.seek(0)
                torch.jit.load(buffer)
            """,
            call="roundtrip()",
        ),
    )
    INVALID = (
        ex(
            """
            import os
            import tempfile

            import torch
            import torch.nn as nn


            class M(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.scale = nn.Parameter(torch.ones(2))

                def forward(self, x: torch.Tensor):
                    return x * self.scale


            def export(path: str) -> None:
                device = "cuda" if torch.cuda.is_available() else "cpu"
                torch.jit.script(M().to(device)).save(path)


            def restore(path: str) -> torch.jit.ScriptModule:
                return torch.jit.load(path)
            """,
            line=23,
            error="from the 'CUDA' backend",
            call=(
                "with tempfile.TemporaryDirectory() as d: p = os.path.join(d, 'm.pt'); "
                "export(p); as_saved_on_cuda(p); restore(p)"
            ),
            fixed="""import os
import tempfile

import torch
import torch.nn as nn


class M(nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(2))

    def forward(self, x: torch.Tensor):
        return x * self.scale


def export(path: str) -> None:
    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.jit.script(M().to(device)).save(path)


def restore(path: str) -> torch.jit.ScriptModule:
    return torch.jit.load(path, map_location="cpu")
""",
        ),
    )
    CATALOG = ()

    def check_file(self, ctx: FileContext) -> None:
        if _CUDA.search(ctx.text) is None:
            return
        for item in _load_calls(ctx):
            call = item.call
            positional = call_sites.positional(call)
            if call_sites.has_star(call) or not positional or len(positional) > 1:
                continue  # map_location passed positionally, or only run time knows
            if call_sites.keyword(call, "map_location") is not None:
                continue
            end = ctx.range(call.args[-1].value).end
            edit = TextEdit(Range(end, end), ', map_location="cpu"')
            fix = Fix('Load onto the CPU: map_location="cpu"', (edit,), safe=False)
            ctx.report(
                call,
                "torch.jit.load restores every tensor on the device it was saved from: this "
                "file works with CUDA, and an archive saved from a GPU fails to load on a "
                'machine without CUDA; pass map_location="cpu" (then move the module with '
                "`.to(device)`)",
                fixes=(fix,),
            )


# -- TS504: torch.save / pickle of a ScriptModule ------------------------------------------------


class TorchSaveScriptModuleRule(Rule):
    code = "TS504"
    name = "torch-save-of-script-module"
    summary = "torch.save cannot pickle a ScriptModule: use torch.jit.save"
    family = Family.UNSUPPORTED_CONSTRUCTS
    call_sites = True
    fixable = True
    explanation = """
    **What it does.** Flags `torch.save(m, f)` where `m` is visibly the result of
    `torch.jit.script(...)` or `torch.jit.trace(...)`: the call itself, or a local variable
    only ever assigned such calls.

    **Why it fails.** `torch.save` pickles, and a ScriptModule has no `__getstate__`:
    `RuntimeError: Tried to serialize object __torch__.M which does not have a __getstate__
    method defined!` (a scripted function: `PickleError: ScriptFunction cannot be pickled`).

    **How to fix.** Save TorchScript with `torch.jit.save(m, f)` and read it back with
    `torch.jit.load` (the fix replaces `torch.save` when the call has just the two
    arguments), or save the eager module's `state_dict()` with `torch.save`.
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


            def export() -> None:
                net = M()
                scripted = torch.jit.script(net)
                torch.jit.save(scripted, io.BytesIO())
                torch.save(net.state_dict(), io.BytesIO())
                torch.save(net, io.BytesIO())
            """,
            call="export()",
        ),
    )
    INVALID = (
        ex(
            """
            import io

            import torch
            import torch.nn as nn


            class M(nn.Module):
                def forward(self, x: torch.Tensor):
                    return x + 1


            def export() -> None:
                scripted = torch.jit.script(M())
                torch.save(scripted, io.BytesIO())
            """,
            line=14,
            error="does not have a __getstate__ method defined",
            call="export()",
            fixed="""import io

import torch
import torch.nn as nn


class M(nn.Module):
    def forward(self, x: torch.Tensor):
        return x + 1


def export() -> None:
    scripted = torch.jit.script(M())
    torch.jit.save(scripted, io.BytesIO())
""",
        ),
        ex(
            """
            import io

            import torch
            import torch.nn as nn


            class M(nn.Module):
                def forward(self, x: torch.Tensor):
                    return x + 1


            def export() -> None:
                torch.save(torch.jit.trace(M(), torch.ones(2)), io.BytesIO(), pickle_protocol=2)
            """,
            line=13,
            error="does not have a __getstate__ method defined",
            call="export()",
        ),
    )
    CATALOG = ()

    def check_file(self, ctx: FileContext) -> None:
        if "save" not in ctx.text:
            return
        lines = {s.line for s in ctx.summary.jit_sites if s.kind in ("script", "trace")}
        if not lines:
            return
        for item in call_sites.calls_on_lines(
            ctx, call_sites.lines_with(ctx.text, _SAVE_CALL), _SAVE
        ):
            call = item.call
            if ctx.resolve(dotted(call.func)) != TORCH_SAVE:
                continue
            positional = call_sites.positional(call)
            if not positional or call.args[0].keyword is not None:
                continue
            saved = positional[0].value
            if not _script_object(ctx, saved, item.scope):
                continue
            fixes: tuple[Fix, ...] = ()
            func = call.func
            if len(call.args) == 2 and len(positional) == 2 and isinstance(func, cst.Attribute):
                edit = ctx.replace(func.attr, "jit.save")
                fixes = (Fix("Save it with torch.jit.save", (edit,)),)
            ctx.report(
                saved,
                "torch.save pickles, and a ScriptModule cannot be pickled (RuntimeError: ... "
                "does not have a __getstate__ method defined); save TorchScript with "
                "torch.jit.save and read it back with torch.jit.load",
                fixes=fixes,
            )


# -- TS505: map_location that torch.jit.load refuses ----------------------------------------------


def _cpu_lambda(value: cst.BaseExpression) -> bool:
    """`lambda storage, loc: storage`: torch.load's idiom for "load onto the CPU"."""
    if not isinstance(value, cst.Lambda) or len(value.params.params) != 2:
        return False
    if value.params.star_arg is not cst.MaybeSentinel.DEFAULT or value.params.kwonly_params:
        return False
    first = value.params.params[0].name.value
    return isinstance(value.body, cst.Name) and value.body.value == first


class MapLocationTypeRule(Rule):
    code = "TS505"
    name = "jit-load-map-location-type"
    summary = "torch.jit.load's map_location must be None, a str or a torch.device"
    family = Family.TYPE_CHECKING
    call_sites = True
    fixable = True
    explanation = """
    **What it does.** Flags `torch.jit.load(f, map_location=...)` given a lambda, a function
    literal or a dict: the forms `torch.load` accepts and `torch.jit.load` does not.

    **Why it fails.** `torch.jit.load` checks the type first: `ValueError: map_location should
    be either None, string or torch.device, but got type: <class 'function'>` (`<class
    'dict'>`). It cannot remap one device to another: it loads everything onto the one device.

    **How to fix.** Pass the device: `map_location="cpu"`, `map_location=torch.device("cuda",
    0)`. The fix turns torch.load's CPU idiom `lambda storage, loc: storage` into `"cpu"`.
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


            def roundtrip() -> None:
                buffer = io.BytesIO()
                torch.jit.save(torch.jit.script(M()), buffer)
                for location in ("cpu", torch.device("cpu"), None):
                    buffer.seek(0)
                    torch.jit.load(buffer, map_location=location)
                weights = io.BytesIO()
                torch.save(M().state_dict(), weights)
                weights.seek(0)
                torch.load(weights, map_location=lambda storage, loc: storage)
            """,
            call="roundtrip()",
        ),
    )
    INVALID = (
        ex(
            """
            import io

            import torch
            import torch.nn as nn


            class M(nn.Module):
                def forward(self, x: torch.Tensor):
                    return x + 1


            def roundtrip() -> None:
                buffer = io.BytesIO()
                torch.jit.save(torch.jit.script(M()), buffer)
                buffer.seek(0)
                torch.jit.load(buffer, map_location=lambda storage, loc: storage)
            """,
            line=16,
            error="map_location should be either None, string or torch.device",
            call="roundtrip()",
            fixed="""import io

import torch
import torch.nn as nn


class M(nn.Module):
    def forward(self, x: torch.Tensor):
        return x + 1


def roundtrip() -> None:
    buffer = io.BytesIO()
    torch.jit.save(torch.jit.script(M()), buffer)
    buffer.seek(0)
    torch.jit.load(buffer, map_location="cpu")
""",
        ),
        ex(
            """
            import io

            import torch
            import torch.nn as nn


            class M(nn.Module):
                def forward(self, x: torch.Tensor):
                    return x + 1


            def roundtrip() -> None:
                buffer = io.BytesIO()
                torch.jit.save(torch.jit.script(M()), buffer)
                buffer.seek(0)
                torch.jit.load(buffer, {"cuda:0": "cpu"})
            """,
            line=16,
            error="map_location should be either None, string or torch.device",
            call="roundtrip()",
        ),
    )
    CATALOG = ()

    def check_file(self, ctx: FileContext) -> None:
        for item in _load_calls(ctx):
            call = item.call
            positional = call_sites.positional(call)
            arg = call_sites.keyword(call, "map_location")
            if arg is None and len(positional) >= 2 and positional[1] is call.args[1]:
                arg = positional[1]
            if arg is None:
                continue
            value = arg.value
            if isinstance(value, cst.Lambda):
                kind = "a lambda"
            elif isinstance(value, (cst.Dict, cst.DictComp)):
                kind = "a dict"
            else:
                continue
            fixes: tuple[Fix, ...] = ()
            if _cpu_lambda(value):
                fixes = (Fix('Load onto the CPU: "cpu"', (ctx.replace(value, '"cpu"'),)),)
            ctx.report(
                value,
                f"torch.jit.load takes map_location as None, a str or a torch.device, not "
                f"{kind} (ValueError: map_location should be either None, string or "
                'torch.device); pass the device to load onto, e.g. "cpu"',
                fixes=fixes,
            )


# -- TS506: torch.jit.save of an eager module ---------------------------------------------------

_SAVE_METHODS = frozenset({"save", "save_to_buffer"})


def _plain_eager_module(project: Project, summary: FileSummary, cls: ClassInfo) -> bool:
    """Every base is a project class or torch.nn's, and nothing defines `save` /
    `save_to_buffer` (a class that does, or a base we cannot see, may be a ScriptModule)."""
    for s, c in project.mro(project.qualified_class(summary, cls)):
        names = {m.name for m in c.methods} | {a.attr for a in c.init_attrs}
        if _SAVE_METHODS & (names | set(c.class_attrs)):
            return False
        for base in c.bases:
            q = project.qualify(s, base)
            if project.lookup_class(q) is None and not is_torch_module(q):
                return False
    return True


class SaveEagerModuleRule(Rule):
    code = "TS506"
    name = "jit-save-of-eager-module"
    summary = "torch.jit.save is given an eager nn.Module, not a scripted or traced one"
    family = Family.TYPE_CHECKING
    call_sites = True
    fixable = True
    explanation = """
    **What it does.** Flags `torch.jit.save(m, f)` where `m` is visibly an instance of a project
    `nn.Module` subclass (`Net(...)`, `Net(...).eval()`, or a local variable only ever assigned
    such expressions) that nobody scripted or traced.

    **Why it fails.** `torch.jit.save` only forwards to the module's own `save` (a path) or
    `save_to_buffer` (a file object), which ScriptModules have and eager modules do not:
    `AttributeError: 'Net' object has no attribute 'save_to_buffer'` (`'save'`).

    **How to fix.** Script (or trace) it first: `torch.jit.save(torch.jit.script(net), f)`.
    The fix does this; it is not marked safe, since scripting can fail where the eager module
    ran, and tracing may be what was meant. To save the weights only, use
    `torch.save(net.state_dict(), f)`.
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


            def export() -> None:
                net = M()
                net = torch.jit.script(net)
                torch.jit.save(net, io.BytesIO())
                torch.jit.save(torch.jit.trace(M(), torch.ones(2)), io.BytesIO())
            """,
            call="export()",
        ),
    )
    INVALID = (
        ex(
            """
            import io

            import torch
            import torch.nn as nn


            class M(nn.Module):
                def forward(self, x: torch.Tensor):
                    return x + 1


            def export() -> None:
                torch.jit.save(M().eval(), io.BytesIO())
            """,
            line=13,
            error="object has no attribute 'save_to_buffer'",
            call="export()",
            fixed="""import io

import torch
import torch.nn as nn


class M(nn.Module):
    def forward(self, x: torch.Tensor):
        return x + 1


def export() -> None:
    torch.jit.save(torch.jit.script(M().eval()), io.BytesIO())
""",
        ),
        ex(
            """
            import os
            import tempfile

            import torch
            import torch.nn as nn


            class M(nn.Module):
                def forward(self, x: torch.Tensor):
                    return x + 1


            def export(folder: str) -> None:
                net = M()
                torch.jit.save(net, os.path.join(folder, "m.pt"))
            """,
            line=15,
            error="object has no attribute 'save'",
            call="with tempfile.TemporaryDirectory() as d: export(d)",
        ),
    )
    CATALOG = ()

    def check_file(self, ctx: FileContext) -> None:
        sites = {s.line for s in ctx.summary.jit_sites if s.kind == "save"}
        if not sites:
            return
        for item in call_sites.calls_on_lines(ctx, sites, _SAVE):
            call = item.call
            name = dotted(call.func)
            if ctx.resolve(name) not in JIT_SAVE:
                continue
            positional = call_sites.positional(call)
            if not positional or call.args[0].keyword is not None:
                continue
            saved = positional[0].value
            found = _constructed_module(ctx, saved, item.scope)
            if found is None or not _plain_eager_module(ctx.project, *found):
                continue
            fixes: tuple[Fix, ...] = ()
            if name.endswith(".save"):
                script = name.removesuffix("save") + "script"
                text = f"{script}({ctx.code_for(saved)})"
                fixes = (Fix("Script it first", (ctx.replace(saved, text),), safe=False),)
            ctx.report(
                saved,
                f"torch.jit.save saves ScriptModules, and this is an eager `{found[1].name}` "
                "(AttributeError: no attribute 'save' / 'save_to_buffer'); script or trace "
                "it first: torch.jit.save(torch.jit.script(model), f)",
                fixes=fixes,
            )


# -- TS507: ScriptModule.save given a file object -------------------------------------------------

_FILE_OBJECTS = frozenset({"io.BytesIO", "open", "builtins.open", "io.open"})


def _file_object(
    ctx: FileContext, expr: cst.BaseExpression, scope: cst.FunctionDef | None
) -> str | None:
    """What file object `expr` visibly is ("a BytesIO", "an open file"): `io.BytesIO()`, or
    a local name bound only to such calls or by `with open(...) as name`."""
    values: list[cst.BaseExpression] = [expr]
    if isinstance(expr, cst.Name):
        values = [*_with_targets(ctx, scope, expr.value)]
        if not values:
            values = call_sites.bound_values(ctx, scope, expr.value) or []
    kinds: set[str] = set()
    for value in values:
        name = ctx.resolve(dotted(value.func)) if isinstance(value, cst.Call) else ""
        if name not in _FILE_OBJECTS:
            return None
        kinds.add("a BytesIO" if name == "io.BytesIO" else "an open file")
    return kinds.pop() if len(kinds) == 1 else None


def _with_targets(ctx: FileContext, scope: cst.FunctionDef | None, name: str) -> list[cst.Call]:
    """The calls `with <call> as name` binds `name` to in `scope`, when `name` has no other
    binding there ([] otherwise)."""
    if scope is None:
        return []  # module level: leave it
    found: list[cst.Call] = []
    others = False
    stack: list[cst.CSTNode] = [scope.body]
    while stack:
        node = stack.pop()
        if isinstance(node, cst.WithItem) and node.asname is not None:
            if name in call_sites.target_names(node.asname.name):
                if isinstance(node.item, cst.Call) and isinstance(node.asname.name, cst.Name):
                    found.append(node.item)
                else:
                    others = True
            stack.append(node.item)
            continue
        if isinstance(node, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
            continue
        stack.extend(cstwalk.children(node))
    if not found or others:
        return []
    # Any other binding of the name (assignment, loop, parameter...) makes it unknown.
    params = scope.params
    every = [*params.posonly_params, *params.params, *params.kwonly_params]
    if (
        any(p.name.value == name for p in every)
        or call_sites.bound_values(ctx, scope, name) is not None
    ):
        return []
    return found


class SaveToFileObjectRule(Rule):
    code = "TS507"
    name = "script-module-save-to-file-object"
    summary = "ScriptModule.save takes a path: a file object makes it write a stray file"
    family = Family.TYPE_CHECKING
    call_sites = True
    fixable = True
    explanation = """
    **What it does.** Flags `m.save(f)` where `m` is visibly a scripted or traced module and
    `f` visibly a file object: an `io.BytesIO()`, or the file of `with open(...) as f`.

    **Why it fails.** `ScriptModule.save` takes a file *name*: it calls `str(f)` and writes the
    archive to a file called `<_io.BytesIO object at 0x7f...>` (or `<_io.BufferedWriter
    name='m.pt'>`) in the working directory. No error is raised; the buffer or the opened
    file stays empty, and loading it fails later (`torch.jit.load`: `istream reader failed`).
    A file opened by a path with a folder in it gives a name with a `/`: then the save
    raises `RuntimeError: Parent directory <_io.BufferedWriter name='/... does not exist`.

    **How to fix.** `torch.jit.save(m, f)` takes a path or a file object (the fix rewrites the
    call to it), or pass the path itself to `m.save(path)`.
    """
    VALID = (
        ex(
            """
            import io
            import os
            import tempfile

            import torch
            import torch.nn as nn


            class M(nn.Module):
                def forward(self, x: torch.Tensor):
                    return x + 1


            def export(folder: str) -> bytes:
                scripted = torch.jit.script(M())
                scripted.save(os.path.join(folder, "m.pt"))
                buffer = io.BytesIO()
                torch.jit.save(scripted, buffer)
                return buffer.getvalue()
            """,
            call="with tempfile.TemporaryDirectory() as d: torch.jit.load(io.BytesIO(export(d)))",
        ),
    )
    INVALID = (
        ex(
            """
            import io

            import torch
            import torch.nn as nn


            class M(nn.Module):
                def forward(self, x: torch.Tensor):
                    return x + 1


            def export() -> bytes:
                buffer = io.BytesIO()
                scripted = torch.jit.script(M())
                scripted.save(buffer)
                return buffer.getvalue()
            """,
            line=15,
            error="istream reader failed",
            call="torch.jit.load(io.BytesIO(export()))",
            fixed="""import io

import torch
import torch.nn as nn


class M(nn.Module):
    def forward(self, x: torch.Tensor):
        return x + 1


def export() -> bytes:
    buffer = io.BytesIO()
    scripted = torch.jit.script(M())
    torch.jit.save(scripted, buffer)
    return buffer.getvalue()
""",
        ),
        ex(
            """
            import os
            import tempfile

            import torch
            import torch.nn as nn


            class M(nn.Module):
                def forward(self, x: torch.Tensor):
                    return x + 1


            def export(path: str) -> None:
                traced = torch.jit.trace(M(), torch.ones(2))
                with open(path, "wb") as f:
                    traced.save(f, _extra_files={"version": "2"})
            """,
            line=16,
            error="RuntimeError: Parent directory <_io.BufferedWriter name=",
            call=(
                "with tempfile.TemporaryDirectory() as d: p = os.path.join(d, 'm.pt'); "
                "export(p); torch.jit.load(p)"
            ),
        ),
    )
    CATALOG = ()

    def check_file(self, ctx: FileContext) -> None:
        sites = {s.line for s in ctx.summary.jit_sites if s.kind in ("save", "script", "trace")}
        if not sites:
            return
        for item in call_sites.calls_on_lines(
            ctx, sites & call_sites.lines_with(ctx.text, _SAVE_CALL), _SAVE
        ):
            call = item.call
            func = call.func
            if not isinstance(func, cst.Attribute) or func.attr.value != "save":
                continue
            if ctx.resolve(dotted(func)) in (TORCH_SAVE, *JIT_SAVE):
                continue
            positional = call_sites.positional(call)
            if (
                len(positional) != 1
                or call.args[0] is not positional[0]
                or call_sites.has_star(call)
            ):
                continue
            if not _script_object(ctx, func.value, item.scope):
                continue
            target = positional[0].value
            kind = _file_object(ctx, target, item.scope)
            if kind is None:
                continue
            ctx.report(
                target,
                f"ScriptModule.save takes a path, and this is {kind}: it writes the archive to "
                "a file named after str() of it (in the working directory, or fails when that "
                "name holds a '/') and leaves this one empty; use torch.jit.save(module, f), "
                "which takes a file object",
                fixes=self._fix(ctx, call, func),
            )

    def _fix(self, ctx: FileContext, call: cst.Call, func: cst.Attribute) -> tuple[Fix, ...]:
        torch = next((local for local, full in ctx.summary.imports if full == "torch"), None)
        if torch is None:
            return ()
        args = [ctx.code_for(func.value)]
        for arg in call.args:
            value = ctx.code_for(arg.value)
            args.append(f"{arg.keyword.value}={value}" if arg.keyword is not None else value)
        text = f"{torch}.jit.save({', '.join(args)})"
        return (Fix("Save it with torch.jit.save", (ctx.replace(call, text),)),)


RULES: tuple[type[Rule], ...] = (
    ExtraFilesTypeRule,
    SaveBlockedByIgnoredCallRule,
    LoadWithoutMapLocationRule,
    TorchSaveScriptModuleRule,
    MapLocationTypeRule,
    SaveEagerModuleRule,
    SaveToFileObjectRule,
)
