"""TS330-TS339: helpers that run Python-only code but are compiled because compiled code calls them.

In an entry point (forward, an exported method, a scripted function) a numpy call or `open`
is simply unsupported (TS13x). In a helper that forward merely calls, the usual intent is
"debugging / logging that should not be part of the scripted model": the fix is to keep the
helper out of compilation with `@torch.jit.unused` (when its calls only run under a flag) or
`@torch.jit.ignore` (keeps it a Python call, at the price of `torch.jit.save`).
"""

from __future__ import annotations

import ast
import weakref
from collections.abc import Iterator

import libcst as cst

from tscheck.index import is_scripting_test
from tscheck.model import Family, Fix, Range, TextEdit
from tscheck.reach import Project
from tscheck.rules.base import FunctionContext, Rule, ex
from tscheck.rules.python_only import (
    file_facts,
    import_line,
    python_only_call,
    python_only_import,
)


class PythonOnlyHelperRule(Rule):
    code = "TS330"
    name = "python-only-helper"
    summary = "A helper compiled because compiled code calls it runs Python-only code"
    family = Family.UNSUPPORTED_CONSTRUCTS
    fixable = True
    explanation = """
    **What it does.** Flags Python-only code (calls into numpy and other Python-only modules,
    or imports of them, `open`, `eval`, `setattr` and similar builtins, `tensor.numpy()`,
    `print(..., file=...)`, methods of a module-level `logging.getLogger(...)`) in a
    function that is compiled only because compiled code calls it, such as a debugging or
    logging method that `forward` calls. The diagnostic names the chain that makes it
    compiled (`Net.debug_stats is compiled because Net.forward calls self.debug_stats()`).

    **Why it fails.** TorchScript compiles every function that compiled code calls, and these
    calls have no TorchScript version ("Python builtin ... is currently not supported",
    `'Tensor' object has no attribute or method 'numpy'`).

    **How to fix.** Keep the helper out of the compiled model:
    - `@torch.jit.unused` when every call to it sits under a flag test (`if self.training:`,
      `if self.debug:`, a `bool` argument): the scripted model keeps only a stub that raises
      if it ever runs, and it saves and loads normally (the fix adds it);
    - otherwise `@torch.jit.ignore`, which keeps it a Python call: the model scripts and
      runs, but `torch.jit.save` fails ("Could not export Python function call");
    - or move the work out of the model, or guard the call with
      `if not torch.jit.is_scripting():`.
    """
    VALID = (
        ex(
            """
            import numpy as np
            import torch
            import torch.nn as nn

            class M(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.debug = False

                @torch.jit.unused
                def debug_stats(self, x: torch.Tensor) -> None:
                    print(np.mean(x.detach().numpy()))

                def forward(self, x: torch.Tensor):
                    if self.debug:
                        self.debug_stats(x)
                    return x + 1
            """,
            call="m(torch.ones(2))",
        ),
        ex(
            """
            import time

            import torch

            def stamp(x: torch.Tensor) -> torch.Tensor:
                if not torch.jit.is_scripting():
                    print(time.time())
                return x

            def f(x: torch.Tensor):
                return stamp(x) + 1
            """,
            call="m(torch.ones(2))",
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
                    self.debug = False

                def debug_stats(self, x: torch.Tensor) -> None:
                    print(x.detach().numpy())

                def forward(self, x: torch.Tensor):
                    if self.debug:
                        self.debug_stats(x)
                    return x + 1
            """,
            line=10,
            error="'Tensor' object has no attribute or method 'numpy'",
            call="m(torch.ones(2))",
            fixed="""import torch
import torch.nn as nn

class M(nn.Module):
    def __init__(self):
        super().__init__()
        self.debug = False

    @torch.jit.unused
    def debug_stats(self, x: torch.Tensor) -> None:
        print(x.detach().numpy())

    def forward(self, x: torch.Tensor):
        if self.debug:
            self.debug_stats(x)
        return x + 1
""",
        ),
        ex(
            """
            import time

            import torch.nn as nn
            from torch import Tensor

            class M(nn.Module):
                def log_time(self) -> None:
                    print("step at", time.time())

                def forward(self, x: Tensor):
                    if self.training:
                        self.log_time()
                    return x * 2
            """,
            line=8,
            error="Python builtin <built-in function time> is currently not supported",
            call="m.eval(); m(torch.ones(2))",
            fixed="""import time

import torch
import torch.nn as nn
from torch import Tensor

class M(nn.Module):
    @torch.jit.unused
    def log_time(self) -> None:
        print("step at", time.time())

    def forward(self, x: Tensor):
        if self.training:
            self.log_time()
        return x * 2
""",
        ),
        ex(
            """
            import sys

            import torch

            def report(x: torch.Tensor) -> None:
                print(x.sum().item(), file=sys.stderr)

            def f(x: torch.Tensor, verbose: bool):
                if verbose:
                    report(x)
                return x + 1
            """,
            line=6,
            error="python value of type 'TextIOWrapper' cannot be used as a value",
            call="m(torch.ones(2), False)",
        ),
        ex(
            """
            import torch
            import torch.nn as nn

            class M(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.debug = False

                def inspect(self, x: torch.Tensor) -> None:
                    import pdb
                    pdb.set_trace()

                def forward(self, x: torch.Tensor):
                    if self.debug:
                        self.inspect(x)
                    return x + 1
            """,
            line=10,
            error="import statements aren't supported",
            call="m(torch.ones(2))",
        ),
    )
    CATALOG = ("free_function_calls_numpy_via_chain", "forward_calls_python_only_method")

    def visit_Import(self, node: cst.Import, ctx: FunctionContext) -> None:
        module = python_only_import(node, ctx)
        if module:
            self._report(node, f"import {module}", "", ctx, ctx.head_range(node, 6))

    def visit_ImportFrom(self, node: cst.ImportFrom, ctx: FunctionContext) -> None:
        module = python_only_import(node, ctx)
        if module:
            self._report(node, f"from {module} import ...", "", ctx, ctx.head_range(node, 4))

    def visit_Call(self, node: cst.Call, ctx: FunctionContext) -> None:
        if ctx.compiled.entry:
            return  # entry points cannot be left out of the model: TS13x reports there
        found = python_only_call(node, ctx)
        if found is None:
            return
        self._report(found.node, found.name, found.note, ctx)

    def _report(
        self,
        node: cst.CSTNode,
        name: str,
        note: str,
        ctx: FunctionContext,
        where: Range | None = None,
    ) -> None:
        helper = ctx.qualname
        chain = ctx.compiled.chain
        reason = chain[-1].text if chain else "compiled code calls it"
        guarded = self._guarded(ctx)
        fixes = (_decorator_fix(ctx, "unused" if guarded else "ignore"),)
        if guarded:
            advice = (
                "every call to it sits under a flag test, so mark it `@torch.jit.unused` to "
                "leave it out of the scripted model"
            )
        else:
            advice = (
                "mark it `@torch.jit.ignore` to keep it a Python call (the model then scripts "
                "but `torch.jit.save` fails), or move this work out of the model"
            )
        ctx.report(
            node,
            f"`{name}`{note} can only run in Python, but {helper} is compiled because "
            f"{reason}; {advice}",
            fixes=fixes,
            related=chain[-1:],
            range=where,
        )

    def __init__(self) -> None:
        # One answer per helper for the project being checked (a helper often has several
        # Python-only calls); a new project starts afresh.
        # Held weakly, so that the rule does not keep the last project alive.
        self._memo_project: weakref.ReferenceType[Project] | None = None
        self._memo: dict[tuple[str, str], bool] = {}

    def _guarded(self, ctx: FunctionContext) -> bool:
        if self._memo_project is None or self._memo_project() is not ctx.project:
            self._memo_project, self._memo = weakref.ref(ctx.project), {}
        key = (ctx.summary.path, ctx.qualname)
        if key not in self._memo:
            self._memo[key] = _calls_all_guarded(ctx)
        return self._memo[key]


# -- which decorator: are all calls to the helper behind a flag? -------------------------------


def _calls_all_guarded(ctx: FunctionContext) -> bool:
    """Every call to the helper in the project runs only under a flag test (`if self.training:`,
    `if self.debug:`, `if verbose:` with `verbose: bool`) or outside scripting."""
    name = ctx.info.name
    for summary in ctx.project.files.values():
        if summary is ctx.summary:
            continue
        for info in [*summary.functions, *(m for c in summary.classes for m in c.methods)]:
            if any(c.name == name or c.name.endswith("." + name) for c in info.calls):
                return False  # another file calls it: judged conservatively
    tree = file_facts(ctx).tree
    if tree is None:
        return False
    flags = {"training"} | {
        a.attr for c in ctx.summary.classes for a in c.init_attrs if a.shape == "const"
    }
    seen = False
    for fn in ast.walk(tree):
        if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)) or _kept_python(fn):
            continue
        bools = {
            a.arg
            for a in [*fn.args.posonlyargs, *fn.args.args, *fn.args.kwonlyargs]
            if isinstance(a.annotation, ast.Name) and a.annotation.id == "bool"
        }
        for guarded in _call_sites(fn.body, False, name, flags | {f"arg:{b}" for b in bools}):
            if not guarded:
                return False
            seen = True
    return seen


def _kept_python(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """Decorated @torch.jit.ignore / @torch.jit.unused: its body is never compiled."""
    for deco in fn.decorator_list:
        target = deco.func if isinstance(deco, ast.Call) else deco
        if isinstance(target, ast.Attribute) and target.attr in ("ignore", "unused"):
            return True
        if isinstance(target, ast.Name) and target.id in ("ignore", "unused"):
            return True
    return False


def _call_sites(body: list[ast.stmt], guarded: bool, name: str, flags: set[str]) -> Iterator[bool]:
    """For each call to `name` in `body` (not in nested defs), whether a flag guards it."""
    for stmt in body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        if isinstance(stmt, ast.If):
            yield from _expr_sites(stmt.test, guarded, name)
            scripting = is_scripting_test(stmt.test)
            if scripting is not None:
                # The eager-only branch is never compiled: calls there do not matter.
                body_guard = guarded if scripting else True
                else_guard = True if scripting else guarded
            else:
                body_guard = guarded or _is_flag(stmt.test, flags)
                else_guard = guarded
            yield from _call_sites(stmt.body, body_guard, name, flags)
            yield from _call_sites(stmt.orelse, else_guard, name, flags)
            continue
        for child in ast.iter_child_nodes(stmt):
            if isinstance(child, ast.stmt):
                yield from _call_sites([child], guarded, name, flags)
            else:
                yield from _expr_sites(child, guarded, name)


def _expr_sites(node: ast.AST, guarded: bool, name: str) -> Iterator[bool]:
    for sub in ast.walk(node):
        if isinstance(sub, ast.Call):
            func = sub.func
            if (isinstance(func, ast.Name) and func.id == name) or (
                isinstance(func, ast.Attribute) and func.attr == name
            ):
                yield guarded


def _is_flag(test: ast.expr, flags: set[str]) -> bool:
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        return _is_flag(test.operand, flags)
    if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.And):
        return any(_is_flag(v, flags) for v in test.values)
    if isinstance(test, ast.Attribute) and isinstance(test.value, ast.Name):
        return test.value.id == "self" and test.attr in flags
    return isinstance(test, ast.Name) and f"arg:{test.id}" in flags


# -- the fix -----------------------------------------------------------------------------------


def _decorator_fix(ctx: FunctionContext, which: str) -> Fix:
    """Insert `@torch.jit.<which>` right above the helper's `def` (importing torch if needed)."""
    decorator, edits = _jit_name(ctx, which)
    info = ctx.info
    indent = ctx.line_text(info.line)[: info.column]
    at = Range.of(info.line, info.column, info.line, info.column)
    edits = (*edits, TextEdit(at, f"@{decorator}\n{indent}"))
    if which == "unused":
        title = f"Mark {ctx.qualname} @torch.jit.unused (it only runs under a flag)"
        return Fix(title, edits)
    title = f"Mark {ctx.qualname} @torch.jit.ignore (stays Python; torch.jit.save will fail)"
    return Fix(title, edits, safe=False)


def _jit_name(ctx: FunctionContext, which: str) -> tuple[str, tuple[TextEdit, ...]]:
    imports = ctx.summary.imports
    for local, qualified in imports:
        if qualified == "torch":
            return f"{local}.jit.{which}", ()
    for local, qualified in imports:
        if qualified == "torch.jit":
            return f"{local}.{which}", ()
        if qualified == f"torch.jit.{which}":
            return local, ()
    line = import_line(file_facts(ctx).tree)
    return f"torch.jit.{which}", (TextEdit(Range.of(line, 0, line, 0), "import torch\n"),)


RULES: tuple[type[Rule], ...] = (PythonOnlyHelperRule,)
