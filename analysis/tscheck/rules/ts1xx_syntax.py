"""TS100-TS129: Python syntax outside the TorchScript subset.

Most of these are errors of the Python frontend (torch/jit/frontend.py, `FrontendRule`), which
parses every statement of a compiled function, the eager-only branch of
`if torch.jit.is_scripting():` included. A few (star expansion, mutable defaults,
positional-only parameters, `...`, `del`) are the C++ compiler's, which skips that branch.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Iterator

import libcst as cst

from tscheck.model import Family, Fix, Range, TextEdit
from tscheck.reach import IGNORED
from tscheck.rules.base import FunctionContext, Rule, dotted, ex
from tscheck.rules.python_only import python_only_import


def in_default(ctx: FunctionContext) -> bool:
    """True inside a parameter's default: Python evaluates it, TorchScript never compiles it."""
    return len(ctx.ancestors) > 1 and isinstance(ctx.ancestors[1], cst.Parameters)


def kept_in_python(ctx: FunctionContext) -> bool:
    """True when TorchScript keeps the function as Python (`@ignore`/`@unused` outermost):
    it types the signature but never compiles the body."""
    return ctx.info.modifier in IGNORED


def short_code(ctx: FunctionContext, node: cst.CSTNode, limit: int = 40) -> str:
    """`node`'s source in backticks when it is short and on one line, else "it"."""
    code = ctx.code_for(node).strip()
    return f"`{code}`" if len(code) <= limit and "\n" not in code else "it"


def def_range(ctx: FunctionContext, node: cst.FunctionDef | cst.ClassDef) -> Range:
    """From the `def` / `async def` / `class` keyword to the end of the name."""
    return Range(ctx.range(node).start, ctx.range(node.name).end)


class FrontendRule(Rule):
    """A rule for an error of the Python frontend (torch/jit/frontend.py).

    The frontend turns the whole function into a tree before anything is compiled, so it
    also rejects what sits in the eager-only branch of `if torch.jit.is_scripting():`;
    `frontend = True` makes the walker visit that branch for these rules.
    """

    frontend = True


class LambdaRule(FrontendRule):
    code = "TS101"
    name = "lambda"
    summary = "TorchScript does not support lambda expressions"
    family = Family.UNSUPPORTED_CONSTRUCTS
    CATALOG = ("lambda_expr",)
    explanation = """
    **What it does.** Flags `lambda` in compiled code.

    **Why it fails.** TorchScript's frontend has no lambda: `Lambda aren't supported`.

    **How to fix.** Write a module-level function (annotated) and call it, or inline the
    expression.
    """
    VALID = (
        ex(
            """
            import torch

            def add_one(y: torch.Tensor) -> torch.Tensor:
                return y + 1

            def f(x: torch.Tensor):
                return add_one(x)
            """
        ),
        # A default is evaluated by Python when the def runs; TorchScript only sees its value.
        ex(
            """
            import torch

            def f(x: torch.Tensor, n: int = (lambda: 2)()):
                return x * n
            """
        ),
    )
    INVALID = (
        ex(
            """
            import torch

            def f(x: torch.Tensor):
                g = lambda y: y + 1
                return g(x)
            """,
            line=4,
            error="Lambda aren't supported",
        ),
    )

    def visit_Lambda(self, node: cst.Lambda, ctx: FunctionContext) -> None:
        if in_default(ctx):
            return
        ctx.report(node, "TorchScript does not support lambda; use a module-level function")


class TryRule(FrontendRule):
    code = "TS102"
    name = "try-statement"
    summary = "TorchScript does not support try/except/finally"
    family = Family.UNSUPPORTED_CONSTRUCTS
    CATALOG = ("try_except", "try_finally", "python_helper_with_unsupported_code")
    explanation = """
    **What it does.** Flags `try` statements in compiled code.

    **Why it fails.** TorchScript has no exception handling: `try blocks aren't supported`.
    It can `raise` and `assert`, but never catch.

    **How to fix.** Check the condition first (`if x.numel() == 0: ...`), or move the code
    into a method marked `@torch.jit.ignore` / `@torch.jit.unused`.
    """
    VALID = (
        ex(
            """
            import torch

            def f(x: torch.Tensor):
                if x.numel() == 0:
                    raise ValueError("empty input")
                return x + 1
            """
        ),
    )
    INVALID = (
        ex(
            """
            import torch

            def f(x: torch.Tensor):
                try:
                    x = x + 1
                except Exception:
                    pass
                return x
            """,
            line=4,
            error="try blocks aren't supported",
        ),
        # The frontend parses the eager-only branch too: it rejects the `try` there as well.
        ex(
            """
            import torch

            def f(x: torch.Tensor):
                if not torch.jit.is_scripting():
                    try:
                        print(x.numpy())
                    except RuntimeError:
                        pass
                return x
            """,
            line=5,
            error="try blocks aren't supported",
        ),
    )

    def visit_Try(self, node: cst.Try, ctx: FunctionContext) -> None:
        ctx.report(
            node, "TorchScript does not support try/except/finally", range=ctx.head_range(node, 3)
        )

    def visit_TryStar(self, node: cst.TryStar, ctx: FunctionContext) -> None:
        ctx.report(node, "TorchScript does not support try/except*", range=ctx.head_range(node, 3))


class FloorDivAugAssignRule(FrontendRule):
    code = "TS120"
    name = "unsupported-augmented-assignment"
    summary = "TorchScript does not support `//=` or `@=`"
    family = Family.UNSUPPORTED_CONSTRUCTS
    fixable = True
    CATALOG = ("floordiv_augassign", "matmul_augassign")
    explanation = """
    **What it does.** Flags the augmented assignments `x //= y` and `x @= y`.

    **Why it fails.** The frontend knows only `+= -= *= /= %= **= |= &= ^= <<= >>=`:
    `unsupported kind of augmented assignment: FloorDiv`.

    **How to fix.** Spell it out: `x = x // y`, `x = x @ y` (the fix does this).
    """
    VALID = (
        ex(
            """
            def f(n: int):
                n = n // 2
                return n
            """
        ),
    )
    INVALID = (
        ex(
            """
            def f(n: int):
                n //= 2
                return n
            """,
            line=2,
            error="unsupported kind of augmented assignment: FloorDiv",
            fixed="""def f(n: int):
    n = n // 2
    return n
""",
        ),
        ex(
            """
            import torch

            def f(x: torch.Tensor, y: torch.Tensor):
                x @= y
                return x
            """,
            line=4,
            error="unsupported kind of augmented assignment: MatMult",
        ),
    )

    def visit_AugAssign(self, node: cst.AugAssign, ctx: FunctionContext) -> None:
        op = node.operator
        if isinstance(op, cst.FloorDivideAssign):
            symbol = "//"
        elif isinstance(op, cst.MatrixMultiplyAssign):
            symbol = "@"
        else:
            return
        target = ctx.code_for(node.target)
        value = ctx.code_for(node.value)
        new = f"{target} = {target} {symbol} {_parenthesize(node.value, value)}"
        fix = Fix(f"Replace with `{target} = {target} {symbol} ...`", (ctx.replace(node, new),))
        ctx.report(
            node,
            f"TorchScript does not support `{symbol}=`; write `{target} = {target} {symbol} ...`",
            fixes=(fix,),
        )


class NestedDefRule(FrontendRule):
    code = "TS103"
    name = "nested-function"
    summary = "TorchScript does not support functions defined inside compiled functions"
    family = Family.UNSUPPORTED_CONSTRUCTS
    CATALOG = ("nested_def",)
    explanation = """
    **What it does.** Flags a `def` (or `async def`) inside a compiled function.

    **Why it fails.** The frontend compiles one function at a time and has no closures:
    `function definitions aren't supported`.

    **How to fix.** Move the inner function to module level (or make it a method) and pass
    what it used from the enclosing scope as arguments.
    """
    VALID = (
        ex(
            """
            import torch

            def inner(y: torch.Tensor) -> torch.Tensor:
                return y + 1

            def f(x: torch.Tensor):
                return inner(x)
            """
        ),
    )
    INVALID = (
        ex(
            """
            import torch

            def f(x: torch.Tensor):
                def inner(y: torch.Tensor):
                    return y + 1
                return inner(x)
            """,
            line=4,
            error="function definitions aren't supported",
        ),
        ex(
            """
            import torch
            import torch.nn as nn

            class M(nn.Module):
                def forward(self, x: torch.Tensor):
                    async def inner(y: torch.Tensor):
                        return y
                    return x
            """,
            line=6,
            error="async function definitions aren't supported",
        ),
    )

    def visit_FunctionDef(self, node: cst.FunctionDef, ctx: FunctionContext) -> None:
        name = node.name.value
        ctx.report(
            node,
            f"TorchScript cannot compile the nested function `{name}`; move it to module level "
            "and pass what it uses from this function as arguments",
            range=def_range(ctx, node),
        )


class NestedClassRule(FrontendRule):
    code = "TS104"
    name = "nested-class"
    summary = "TorchScript does not support classes defined inside compiled functions"
    family = Family.UNSUPPORTED_CONSTRUCTS
    CATALOG = ("nested_class_def",)
    explanation = """
    **What it does.** Flags a `class` statement inside a compiled function.

    **Why it fails.** `class definitions aren't supported` inside a function: TorchScript
    classes must be defined at module level so the compiler can find their source.

    **How to fix.** Move the class to module level.
    """
    VALID = (
        ex(
            """
            import torch

            class Box:
                def __init__(self, v: torch.Tensor):
                    self.v = v

            def f(x: torch.Tensor):
                return Box(x).v
            """
        ),
    )
    INVALID = (
        ex(
            """
            import torch

            def f(x: torch.Tensor):
                class Box:
                    pass
                return x
            """,
            line=4,
            error="class definitions aren't supported",
        ),
    )

    def visit_ClassDef(self, node: cst.ClassDef, ctx: FunctionContext) -> None:
        ctx.report(
            node,
            f"TorchScript cannot compile the class `{node.name.value}` defined inside a function; "
            "move it to module level",
            range=def_range(ctx, node),
        )


class ImportInFunctionRule(FrontendRule):
    code = "TS105"
    name = "import-in-function"
    summary = "TorchScript does not support import statements inside compiled functions"
    family = Family.UNSUPPORTED_CONSTRUCTS
    CATALOG = ("import_in_function",)
    explanation = """
    **What it does.** Flags `import` and `from ... import` inside a compiled function.

    **Why it fails.** `import statements aren't supported`: the frontend has no import.

    **How to fix.** Import at the top of the file. Compiled code can then use the module's
    functions (`math.sqrt`, `torch.nn.functional.relu`) through the global name.
    """
    VALID = (
        ex(
            """
            import math

            import torch

            def f(x: torch.Tensor):
                return x * math.pi
            """
        ),
    )
    INVALID = (
        ex(
            """
            import torch

            def f(x: torch.Tensor):
                import math
                return x * math.pi
            """,
            line=4,
            error="import statements aren't supported",
        ),
        ex(
            """
            import torch

            def f(x: torch.Tensor):
                from math import pi
                return x * pi
            """,
            line=4,
            error="import statements aren't supported",
        ),
    )

    def visit_Import(self, node: cst.Import, ctx: FunctionContext) -> None:
        if not python_only_import(node, ctx):  # TS330 reports it, with a better fix
            self._report(node, "import", ctx)

    def visit_ImportFrom(self, node: cst.ImportFrom, ctx: FunctionContext) -> None:
        if not python_only_import(node, ctx):
            self._report(node, "from", ctx)

    def _report(
        self, node: cst.Import | cst.ImportFrom, keyword: str, ctx: FunctionContext
    ) -> None:
        ctx.report(
            node,
            f"TorchScript cannot compile `{ctx.code_for(node)}` inside a function; "
            "import at the top of the file",
            range=ctx.head_range(node, len(keyword)),
        )


class GlobalStatementRule(FrontendRule):
    code = "TS106"
    name = "global-statement"
    summary = "TorchScript does not support `global` or `nonlocal`"
    family = Family.UNSUPPORTED_CONSTRUCTS
    CATALOG = ("global_stmt", "nonlocal_stmt")
    explanation = """
    **What it does.** Flags `global` and `nonlocal` statements in compiled code, including
    those in a function nested in compiled code (a closure that TorchScript would have to
    compile on its own).

    **Why it fails.** `global variables aren't supported` / `nonlocal variables aren't
    supported`: compiled code cannot rebind names outside its own frame.

    **How to fix.** Pass the value in and return the new value, or keep the state in a
    module attribute (`self.counter`) or a buffer.
    """
    VALID = (
        ex(
            """
            import torch

            def f(x: torch.Tensor, counter: int):
                counter += 1
                return x, counter
            """
        ),
    )
    INVALID = (
        ex(
            """
            import torch

            COUNTER = 0

            def f(x: torch.Tensor):
                global COUNTER
                COUNTER += 1
                return x
            """,
            line=6,
            error="global variables aren't supported",
        ),
        # The catalog's closure: scripting make() compiles the inner function f.
        ex(
            """
            import torch

            def make():
                n = 0
                def f(x: torch.Tensor):
                    nonlocal n
                    n += 1
                    return x
                return f
            """,
            line=6,
            error="nonlocal variables aren't supported",
            target="make()",
        ),
    )

    def visit_Global(self, node: cst.Global, ctx: FunctionContext) -> None:
        _report_scope_statement(node, ctx)

    def visit_Nonlocal(self, node: cst.Nonlocal, ctx: FunctionContext) -> None:
        _report_scope_statement(node, ctx)

    def visit_FunctionDef(self, node: cst.FunctionDef, ctx: FunctionContext) -> None:
        # The walker does not enter nested defs; a closure's global/nonlocal can never compile.
        for stmt in _statements_in(node.body):
            if isinstance(stmt, (cst.Global, cst.Nonlocal)):
                _report_scope_statement(stmt, ctx)


def _report_scope_statement(node: cst.Global | cst.Nonlocal, ctx: FunctionContext) -> None:
    keyword = "global" if isinstance(node, cst.Global) else "nonlocal"
    names = ", ".join(f"`{item.name.value}`" for item in node.names)
    ctx.report(
        node,
        f"TorchScript does not support `{keyword}` ({names}); pass the value in and return "
        "the new value, or keep it in a module attribute",
        range=ctx.head_range(node, len(keyword)),
    )


def _statements_in(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """Every statement (simple or compound) below `node`, not looking into expressions."""
    for child in node.children:
        if isinstance(child, cst.BaseExpression):
            continue
        if isinstance(child, (cst.BaseSmallStatement, cst.BaseCompoundStatement)):
            yield child
        yield from _statements_in(child)


class YieldRule(FrontendRule):
    code = "TS107"
    name = "generator-function"
    summary = "TorchScript does not support `yield` (generator functions)"
    family = Family.UNSUPPORTED_CONSTRUCTS
    CATALOG = ("yield_generator_function",)
    explanation = """
    **What it does.** Flags `yield` and `yield from` in compiled code.

    **Why it fails.** TorchScript has no generators: `Yield aren't supported`.

    **How to fix.** Build and return a `List[T]` instead of yielding its items.
    """
    VALID = (
        ex(
            """
            from typing import List

            import torch

            def f(x: torch.Tensor):
                out: List[torch.Tensor] = []
                for row in x:
                    out.append(row)
                return out
            """
        ),
    )
    INVALID = (
        ex(
            """
            import torch

            def f(x: torch.Tensor):
                yield x
            """,
            line=4,
            error="Yield aren't supported",
        ),
        ex(
            """
            from typing import List

            def f(xs: List[int]):
                yield from xs
            """,
            line=4,
            error="YieldFrom aren't supported",
        ),
    )

    def visit_Yield(self, node: cst.Yield, ctx: FunctionContext) -> None:
        kind = "yield from" if isinstance(node.value, cst.From) else "yield"
        ctx.report(
            node,
            f"TorchScript does not support `{kind}` (generators); build and return a List instead",
        )


class AsyncDefRule(Rule):
    code = "TS108"
    name = "async-function"
    summary = "TorchScript cannot compile `async def` functions"
    family = Family.UNSUPPORTED_CONSTRUCTS
    fixable = True
    CATALOG = ("async_def", "async_method_called_from_forward")
    explanation = """
    **What it does.** Flags a compiled function (a scripted function, `forward`, or a method
    that compiled code calls) declared with `async def`.

    **Why it fails.** TorchScript compiles only plain functions; for a coroutine it fails
    before parsing the body: `Expected a single top-level function`.

    **How to fix.** Make it a plain `def`. The fix removes `async` when the body does not
    await anything (it is marked unsafe: eager callers then get a value, not a coroutine).
    """
    VALID = (
        ex(
            """
            import torch

            def f(x: torch.Tensor):
                return x
            """
        ),
    )
    INVALID = (
        ex(
            """
            import torch

            async def f(x: torch.Tensor):
                return x
            """,
            line=3,
            error="Expected a single top-level function",
            fixed="""import torch

def f(x: torch.Tensor):
    return x
""",
        ),
        ex(
            """
            import torch
            import torch.nn as nn

            class M(nn.Module):
                async def helper(self, x: torch.Tensor):
                    return x

                def forward(self, x: torch.Tensor):
                    return self.helper(x)
            """,
            line=5,
            error="Expected a single top-level function",
        ),
    )

    def check_function(self, ctx: FunctionContext) -> None:
        node = ctx.node
        if node.asynchronous is None or kept_in_python(ctx):
            return
        fixes = []
        body = ctx.code_for(node.body)
        if "await" not in body and "async" not in body:
            # `async` and the space after it: the def then starts where `async` did.
            start = ctx.range(node).start
            end = ctx.range(node.asynchronous).end
            gap = len(node.asynchronous.whitespace_after.value)
            edit = TextEdit(Range.of(start.line, start.column, end.line, end.column + gap), "")
            fixes.append(Fix("Remove `async`", (edit,), safe=False))
        ctx.report(
            node,
            f"TorchScript cannot compile `async def {node.name.value}`; make it a plain `def`",
            fixes=fixes,
            range=def_range(ctx, node),
        )


class SetRule(FrontendRule):
    code = "TS109"
    name = "set-literal"
    summary = "TorchScript has no set type: set literals and set comprehensions fail"
    family = Family.UNSUPPORTED_CONSTRUCTS
    CATALOG = ("set_literal", "set_comprehension", "exported_method_with_unsupported_code")
    explanation = """
    **What it does.** Flags `{a, b}` and `{x for x in xs}` in compiled code.

    **Why it fails.** TorchScript has no `set`: `Set aren't supported` /
    `SetComp aren't supported`.

    **How to fix.** For membership tests use a list (`x in [1, 2]`); to deduplicate use a
    `Dict[T, bool]` and its keys.
    """
    VALID = (
        ex(
            """
            def f(x: int):
                s = [1, 2]
                return x in s
            """
        ),
        ex(
            """
            from typing import Dict

            def f(n: int):
                seen: Dict[int, bool] = {}
                for i in range(n):
                    seen[i % 3] = True
                return len(seen)
            """
        ),
    )
    INVALID = (
        ex(
            """
            def f(x: int):
                s = {1, 2}
                return x in s
            """,
            line=2,
            error="Set aren't supported",
        ),
        ex(
            """
            def f(n: int):
                s = {i for i in range(n)}
                return len(s)
            """,
            line=2,
            error="SetComp aren't supported",
        ),
    )

    def visit_Set(self, node: cst.Set, ctx: FunctionContext) -> None:
        if in_default(ctx):
            return
        ctx.report(
            node,
            f"TorchScript has no set type ({short_code(ctx, node)}); use a List for membership "
            "tests or a Dict[T, bool]",
        )

    def visit_SetComp(self, node: cst.SetComp, ctx: FunctionContext) -> None:
        if in_default(ctx):
            return
        ctx.report(
            node,
            "TorchScript has no set type; build a Dict[T, bool] (keys are unique) or a List",
        )


class ComprehensionRule(FrontendRule):
    code = "TS110"
    name = "comprehension-filter-or-nested-loop"
    summary = "TorchScript comprehensions take one `for` and no `if`"
    family = Family.UNSUPPORTED_CONSTRUCTS
    CATALOG = (
        "listcomp_with_if",
        "listcomp_two_generators",
        "dictcomp_with_if",
        "property_with_unsupported_code",
    )
    explanation = """
    **What it does.** Flags list and dict comprehensions and generator expressions with an
    `if` filter or more than one `for`.

    **Why it fails.** The frontend compiles only `[expr for target in iterable]` (and the dict
    form): `Comprehension ifs are not supported yet` / `Only a single generator is currently
    supported`. Simple comprehensions and generator expressions (`any(v > 0 for v in xs)`)
    are fine.

    **How to fix.** Write the loop out: start with an annotated empty list
    (`out: List[int] = []`), loop, test, and `append`.
    """
    VALID = (
        ex(
            """
            from typing import List

            def f(xs: List[int]):
                ys = [v * 2 for v in xs]
                return any(v > 0 for v in ys) and all([v > -5 for v in xs])
            """
        ),
        ex(
            """
            from typing import List

            def f(n: int):
                out: List[int] = []
                for i in range(n):
                    if i % 2 == 0:
                        out.append(i)
                return [[j for j in range(i)] for i in out]
            """
        ),
    )
    INVALID = (
        ex(
            """
            def f(n: int):
                return [i for i in range(n) if i % 2 == 0]
            """,
            line=2,
            error="Comprehension ifs are not supported yet",
        ),
        ex(
            """
            def f(n: int):
                return [i * j for i in range(n) for j in range(n)]
            """,
            line=2,
            error="Only a single generator is currently supported",
        ),
        ex(
            """
            def f(n: int):
                return {str(i): i for i in range(n) if i > 0}
            """,
            line=2,
            error="Comprehension ifs are not supported yet",
        ),
        ex(
            """
            from typing import List

            def f(xs: List[int]):
                return any(v > 0
                           for v in xs if v != 3)
            """,
            line=4,
            error="Comprehension ifs are not supported yet",
        ),
    )

    def visit_ListComp(self, node: cst.ListComp, ctx: FunctionContext) -> None:
        self._check(node, node.for_in, "list comprehension", ctx)

    def visit_GeneratorExp(self, node: cst.GeneratorExp, ctx: FunctionContext) -> None:
        self._check(node, node.for_in, "generator expression", ctx)

    def visit_DictComp(self, node: cst.DictComp, ctx: FunctionContext) -> None:
        self._check(node, node.for_in, "dict comprehension", ctx)

    def _check(
        self, node: cst.BaseExpression, for_in: cst.CompFor, kind: str, ctx: FunctionContext
    ) -> None:
        if for_in.inner_for_in is None and not for_in.ifs:
            return
        if in_default(ctx):
            return
        # The frontend checks the number of generators first; it gives no column.
        if for_in.inner_for_in is not None:
            problem = "more than one `for`"
        else:
            problem = "an `if` filter"
        ctx.report(
            node,
            f"TorchScript does not support a {kind} with {problem}; write the loop out "
            "(an annotated empty list, `for`, `if`, `append`)",
        )


class FStringFormatRule(FrontendRule):
    code = "TS111"
    name = "fstring-format-spec"
    summary = "TorchScript f-strings take no format spec (`:.2f`) or conversion (`!r`)"
    family = Family.UNSUPPORTED_CONSTRUCTS
    fixable = True
    CATALOG = ("fstring_format_spec", "fstring_conversion")
    explanation = """
    **What it does.** Flags f-string fields with a format spec (`{x:.2f}`), a conversion
    (`{x!r}`, `{x!s}`) or the debug form (`{x=}`).

    **Why it fails.** TorchScript turns an f-string into `"{}".format(...)`, which has no
    format mini-language: `Don't support formatting in JoinedStr` / `Don't support
    conversion in JoinedStr`. Plain fields (`f"{s}={x}"`) are fine.

    **How to fix.** Drop the spec, or format with `%` (`"%.2f" % x` compiles). `!s` is
    redundant: the fix removes it.
    """
    VALID = (
        ex(
            """
            def f(x: int, s: str):
                return f"{s}={x}"
            """
        ),
        ex(
            """
            def f(x: float):
                return "%.2f" % x
            """
        ),
    )
    INVALID = (
        ex(
            """
            def f(x: float):
                return f"{x:.2f}"
            """,
            line=2,
            error="Don't support formatting in JoinedStr",
        ),
        ex(
            """
            def f(x: int):
                return f"{x!r}"
            """,
            line=2,
            error="Don't support conversion in JoinedStr",
        ),
        ex(
            """
            def f(x: int):
                return f"value {x!s}"
            """,
            line=2,
            error="Don't support conversion in JoinedStr",
            fixed="""def f(x: int):
    return f"value {x}"
""",
        ),
        ex(
            """
            def f(x: int):
                return f"{x=}"
            """,
            line=2,
            error="Don't support conversion in JoinedStr",
        ),
    )

    def visit_FormattedString(self, node: cst.FormattedString, ctx: FunctionContext) -> None:
        bad = [
            part
            for part in node.parts
            if isinstance(part, cst.FormattedStringExpression)
            and (part.conversion is not None or part.format_spec is not None or part.equal)
        ]
        if not bad or in_default(ctx):
            return
        first = bad[0]
        field = ctx.code_for(first)
        if first.equal:
            what = f"the debug form `{field}`"
        elif first.conversion is not None:
            what = f"the conversion `!{first.conversion}` in `{field}`"
        else:
            what = f"the format spec in `{field}`"
        fixes = []
        if all(p.conversion == "s" and p.format_spec is None and not p.equal for p in bad):
            edits = tuple(ctx.replace(p, _without_conversion(p, ctx)) for p in bad)
            fixes.append(Fix("Remove the redundant `!s`", edits))
            hint = "drop `!s` (f-strings already use str())"
        else:
            hint = 'format with `%` instead (`"%.2f" % x` compiles) or drop the spec'
        ctx.report(node, f"TorchScript f-strings do not support {what}; {hint}", fixes=fixes)


def _without_conversion(part: cst.FormattedStringExpression, ctx: FunctionContext) -> str:
    return (
        "{"
        + ctx.code_for(part.whitespace_before_expression)
        + ctx.code_for(part.expression)
        + ctx.code_for(part.whitespace_after_expression)
        + "}"
    )


class WalrusRule(FrontendRule):
    code = "TS112"
    name = "walrus-operator"
    summary = "TorchScript does not support assignment expressions (`:=`)"
    family = Family.UNSUPPORTED_CONSTRUCTS
    CATALOG = ("walrus",)
    explanation = """
    **What it does.** Flags the walrus operator `name := value` in compiled code.

    **Why it fails.** `NamedExpr aren't supported`.

    **How to fix.** Assign on its own line first (`y = x + 1`), then use `y`.
    """
    VALID = (
        ex(
            """
            def f(x: int):
                y = x + 1
                if y > 0:
                    return y
                return 0
            """
        ),
    )
    INVALID = (
        ex(
            """
            def f(x: int):
                if (y := x + 1) > 0:
                    return y
                return 0
            """,
            line=2,
            error="NamedExpr aren't supported",
        ),
    )

    def visit_NamedExpr(self, node: cst.NamedExpr, ctx: FunctionContext) -> None:
        if in_default(ctx):
            return
        target = ctx.code_for(node.target)
        ctx.report(
            node,
            f"TorchScript does not support `:=`; assign `{target} = ...` on its own line first",
        )


# -- what a name or expression statically is (for star expansion) -------------------------

# Annotations (resolved) that prove a value is not a tuple.
_ANNOTATION_KINDS = {
    "typing.List": "list",
    "list": "list",
    "typing.Dict": "dict",
    "dict": "dict",
    "torch.Tensor": "Tensor",
    "str": "str",
}
_bindings_cache: weakref.WeakKeyDictionary[FunctionContext, dict[str, set[str | None]]] = (
    weakref.WeakKeyDictionary()
)


def value_kind(expr: cst.BaseExpression, ctx: FunctionContext) -> str | None:
    """ "list" / "dict" / "str" / "Tensor" when `expr` provably is one (never a tuple)."""
    if isinstance(expr, (cst.List, cst.ListComp, cst.GeneratorExp)):
        return "list"  # the frontend compiles a generator expression as a list comprehension
    if isinstance(expr, (cst.Dict, cst.DictComp)):
        return "dict"
    if isinstance(expr, cst.Name):
        kinds = _bindings(ctx).get(expr.value)
        if kinds is not None and len(kinds) == 1:
            return next(iter(kinds))
    return None


def _annotation_kind(annotation: cst.Annotation | None, ctx: FunctionContext) -> str | None:
    if annotation is None:
        return None
    expr = annotation.annotation
    base = expr.value if isinstance(expr, cst.Subscript) else expr
    name = dotted(base)
    return _ANNOTATION_KINDS.get(ctx.resolve(name)) if name else None


def _bindings(ctx: FunctionContext) -> dict[str, set[str | None]]:
    """Each name bound in the compiled function -> the kinds of all its bindings (None: unknown).

    A name whose bindings all have one kind has that type everywhere: TorchScript types
    are static, and every binding is counted, wherever it is.
    """
    found = _bindings_cache.get(ctx)
    if found is None:
        collector = _BindingCollector(ctx)
        params = ctx.node.params
        for param in (*params.posonly_params, *params.params, *params.kwonly_params):
            collector.add(param.name.value, _annotation_kind(param.annotation, ctx))
        for star in (params.star_arg, params.star_kwarg):
            if isinstance(star, cst.Param):
                collector.add(star.name.value, None)
        ctx.node.body.visit(collector)
        found = collector.kinds
        _bindings_cache[ctx] = found
    return found


class _BindingCollector(cst.CSTVisitor):
    def __init__(self, ctx: FunctionContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.kinds: dict[str, set[str | None]] = {}

    def add(self, name: str, kind: str | None) -> None:
        self.kinds.setdefault(name, set()).add(kind)

    def add_target(self, target: cst.BaseExpression) -> None:
        if isinstance(target, cst.Name):
            self.add(target.value, None)
        elif isinstance(target, (cst.Tuple, cst.List)):
            for element in target.elements:
                self.add_target(element.value)

    def visit_Assign(self, node: cst.Assign) -> None:
        for target in node.targets:
            if isinstance(target.target, cst.Name):
                kind = value_kind(node.value, self.ctx) if _is_literal(node.value) else None
                self.add(target.target.value, kind)
            else:
                self.add_target(target.target)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if isinstance(node.target, cst.Name):
            self.add(node.target.value, _annotation_kind(node.annotation, self.ctx))

    def visit_For(self, node: cst.For) -> None:
        self.add_target(node.target)

    def visit_CompFor(self, node: cst.CompFor) -> None:
        self.add_target(node.target)

    def visit_AsName(self, node: cst.AsName) -> None:  # with-as, except-as, import-as
        if isinstance(node.name, (cst.Name, cst.Tuple, cst.List)):
            self.add_target(node.name)

    def visit_ImportAlias(self, node: cst.ImportAlias) -> None:
        if node.asname is None:
            self.add(dotted(node.name).split(".")[0], None)

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        self.add_target(node.target)

    def visit_Global(self, node: cst.Global) -> None:
        for item in node.names:
            self.add(item.name.value, None)

    def visit_Nonlocal(self, node: cst.Nonlocal) -> None:
        for item in node.names:
            self.add(item.name.value, None)

    def visit_MatchAs(self, node: cst.MatchAs) -> None:
        if node.name is not None:
            self.add(node.name.value, None)

    def visit_MatchStar(self, node: cst.MatchStar) -> None:
        if node.name is not None:
            self.add(node.name.value, None)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        self.add(node.name.value, None)
        return False

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        self.add(node.name.value, None)
        return False

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False


def _is_literal(expr: cst.BaseExpression) -> bool:
    return isinstance(expr, (cst.List, cst.ListComp, cst.GeneratorExp, cst.Dict, cst.DictComp))


class StarredNonTupleRule(Rule):
    code = "TS113"
    name = "star-expansion-of-list"
    summary = "Only tuples can be expanded with `*` in compiled code"
    family = Family.UNSUPPORTED_CONSTRUCTS
    CATALOG = ("starred_assignment_target", "starred_list_in_call", "starred_in_list_literal")
    explanation = """
    **What it does.** Flags `*value` in a call (`g(*xs)`), in a list or tuple literal
    (`[*xs, 1]`) and in a starred assignment (`a, *rest = xs`) when `value` is provably a
    list, a dict, a string or a Tensor: a list literal or comprehension, or a name whose every
    binding (parameter annotation, assignment) says so.

    **Why it fails.** TorchScript expands `*` at compile time, so it must know the number of
    items: it can expand a tuple (`g(*t)` with `t: Tuple[int, int]` compiles) but not a list:
    `cannot statically infer the expected size of a list in this context`
    (`Tensor cannot be used as a tuple`, ...).

    **How to fix.** Index explicitly (`g(xs[0], xs[1])`), slice (`rest = xs[1:]`), concatenate
    lists (`xs + [1]`), or pass a tuple.
    """
    VALID = (
        ex(
            """
            from typing import Tuple

            def g(a: int, b: int):
                return a + b

            def f(t: Tuple[int, int]):
                a, *rest = (t[0], 2, 3)
                return g(*t) + len([*t, a])
            """
        ),
        ex(
            """
            from typing import List

            def g(a: int, b: int):
                return a + b

            def f(xs: List[int]):
                a, b = xs
                rest = xs[1:]
                return g(xs[0], xs[1]) + len(xs + [1]) + len(rest)
            """
        ),
        # The C++ compiler never sees the eager-only branch (the frontend does: see TS102).
        ex(
            """
            from typing import List

            import torch

            def g(a: int, b: int):
                return a + b

            def f(xs: List[int]):
                if not torch.jit.is_scripting():
                    return g(*xs)
                return 0
            """
        ),
    )
    INVALID = (
        ex(
            """
            from typing import List

            def f(xs: List[int]):
                a, *rest = xs
                return a
            """,
            line=4,
            error="cannot statically infer the expected size of a list",
        ),
        ex(
            """
            from typing import List

            def g(a: int, b: int):
                return a + b

            def f(xs: List[int]):
                return g(*xs)
            """,
            line=7,
            error="cannot statically infer the expected size of a list",
        ),
        ex(
            """
            from typing import List

            def f(xs: List[int]):
                return [*xs, 1]
            """,
            line=4,
            error="cannot statically infer the expected size of a list",
        ),
        ex(
            """
            def g(a: int, b: int):
                return a + b

            def f(x: int):
                ys = [x, 1]
                return g(*ys)
            """,
            line=6,
            error="cannot statically infer the expected size of a list",
        ),
        ex(
            """
            import torch

            def g(a: torch.Tensor, b: torch.Tensor):
                return a + b

            def f(x: torch.Tensor):
                return g(*x)
            """,
            line=7,
            error="Tensor cannot be used as a tuple",
        ),
        ex(
            """
            from typing import List

            def f(xs: List[int]):
                print(*[v + 1 for v in xs])
                return xs
            """,
            line=4,
            error="cannot statically infer the expected size of a list",
        ),
    )

    def visit_Arg(self, node: cst.Arg, ctx: FunctionContext) -> None:
        if node.star != "*" or in_default(ctx):
            return
        kind = value_kind(node.value, ctx)
        if kind is not None:
            self._report(node, node.value, kind, ctx)

    def visit_StarredElement(self, node: cst.StarredElement, ctx: FunctionContext) -> None:
        container = ctx.parent()
        if not isinstance(container, (cst.List, cst.Tuple)) or in_default(ctx):
            return
        holder = ctx.parent(2)
        if isinstance(holder, cst.AssignTarget):
            # `a, *rest = value`: the compiler points at the value being unpacked.
            assign = ctx.parent(3)
            if isinstance(assign, cst.Assign):
                kind = value_kind(assign.value, ctx)
                if kind is not None:
                    self._report(assign.value, assign.value, kind, ctx, unpack=True)
            return
        if _is_target(container, holder):
            return  # `for a, *b in ...` and other targets unpack tuples
        kind = value_kind(node.value, ctx)
        if kind is not None:
            self._report(node, node.value, kind, ctx)

    def _report(
        self,
        node: cst.CSTNode,
        value: cst.BaseExpression,
        kind: str,
        ctx: FunctionContext,
        unpack: bool = False,
    ) -> None:
        shown = short_code(ctx, value)
        how = "unpack" if unpack else "expand"
        if kind == "list":
            advice = "index or slice it (`xs[0]`, `xs[1:]`), or concatenate lists (`xs + [1]`)"
        else:
            advice = "index it explicitly, or pass a tuple"
        ctx.report(
            node,
            f"TorchScript cannot {how} {shown} with `*`: it is a {kind}, and only tuples have "
            f"a size known at compile time; {advice}",
        )


def _is_target(container: cst.CSTNode, holder: cst.CSTNode | None) -> bool:
    if isinstance(holder, cst.For):
        return holder.target is container
    if isinstance(holder, cst.CompFor):
        return holder.target is container
    if isinstance(holder, cst.AsName):
        return True
    return False


class DoubleStarExpansionRule(FrontendRule):
    code = "TS114"
    name = "double-star-expansion"
    summary = "TorchScript does not support `**` expansion in calls or dict literals"
    family = Family.UNSUPPORTED_CONSTRUCTS
    CATALOG = ("kwargs_expansion_in_call", "dict_unpack_literal")
    explanation = """
    **What it does.** Flags `g(**d)` and `{**d, ...}` in compiled code.

    **Why it fails.** Keyword arguments must be known at compile time:
    `keyword-arg expansion is not supported`; `Dict expansion (e.g. {**dict}) is not
    supported`.

    **How to fix.** Pass the keywords explicitly (`g(a=d["a"], b=d["b"])`); copy a dict with
    `d.copy()` and merge with `update`.
    """
    VALID = (
        ex(
            """
            from typing import Dict

            def g(a: int, b: int):
                return a + b

            def f(d: Dict[str, int]):
                e = d.copy()
                e.update({"x": 1})
                return g(a=d["a"], b=d["b"]) + len(e)
            """
        ),
    )
    INVALID = (
        ex(
            """
            from typing import Dict

            def g(a: int, b: int):
                return a + b

            def f(d: Dict[str, int]):
                return g(**d)
            """,
            line=7,
            error="keyword-arg expansion is not supported",
        ),
        ex(
            """
            from typing import Dict

            def f(d: Dict[str, int]):
                return {**d}
            """,
            line=4,
            error="Dict expansion (e.g. `{**dict}`) is not supported",
        ),
    )

    def visit_Arg(self, node: cst.Arg, ctx: FunctionContext) -> None:
        if node.star != "**" or in_default(ctx):
            return
        ctx.report(
            node.value,
            f"TorchScript does not support `**` expansion of {short_code(ctx, node.value)} in a "
            "call; pass the keyword arguments explicitly",
        )

    def visit_Dict(self, node: cst.Dict, ctx: FunctionContext) -> None:
        if in_default(ctx):
            return
        if not any(isinstance(e, cst.StarredDictElement) for e in node.elements):
            return
        ctx.report(
            node,
            "TorchScript does not support `**` inside a dict literal; copy with `.copy()` "
            "and merge with `.update(...)`",
        )


class LoopElseRule(FrontendRule):
    code = "TS115"
    name = "loop-else"
    summary = "TorchScript does not support `else` on `for` or `while` loops"
    family = Family.UNSUPPORTED_CONSTRUCTS
    CATALOG = ("for_else", "while_else")
    explanation = """
    **What it does.** Flags `for ... else` and `while ... else`.

    **Why it fails.** `else branches of for loops aren't supported`. For `while ... else`
    the frontend even crashes while reporting it (`TypeError: __init__(): incompatible
    constructor arguments`, with no line number).

    **How to fix.** Use a flag: set `found = False` before the loop, `found = True` before
    `break`, and test `if not found:` after the loop.
    """
    VALID = (
        ex(
            """
            def f(n: int):
                found = False
                for i in range(n):
                    if i == 3:
                        found = True
                        break
                if not found:
                    return -1
                return n
            """
        ),
    )
    INVALID = (
        ex(
            """
            def f(n: int):
                for i in range(n):
                    if i == 3:
                        break
                else:
                    return -1
                return n
            """,
            line=2,
            error="else branches of for loops aren't supported",
        ),
        ex(
            """
            def f(n: int):
                while n > 0:
                    n -= 1
                else:
                    n = 7
                return n
            """,
            line=2,
            error="incompatible constructor arguments",
        ),
    )

    def visit_For(self, node: cst.For, ctx: FunctionContext) -> None:
        if node.orelse is not None:
            self._report(node, "for", node.orelse, ctx)

    def visit_While(self, node: cst.While, ctx: FunctionContext) -> None:
        if node.orelse is not None:
            self._report(node, "while", node.orelse, ctx)

    def _report(
        self, node: cst.For | cst.While, keyword: str, orelse: cst.Else, ctx: FunctionContext
    ) -> None:
        line = ctx.range(orelse).start.line
        ctx.report(
            node,
            f"TorchScript does not support `{keyword} ... else` (the `else` on line {line}); "
            "track the loop's exit with a flag and test it after the loop",
            range=ctx.head_range(node, len(keyword)),
        )


class UnaryPlusRule(FrontendRule):
    code = "TS116"
    name = "unary-plus"
    summary = "TorchScript does not support unary `+`"
    family = Family.UNSUPPORTED_CONSTRUCTS
    fixable = True
    CATALOG = ("unary_plus",)
    explanation = """
    **What it does.** Flags the unary plus operator (`+x`).

    **Why it fails.** The frontend has no unary `+` and crashes while reporting it
    (`AttributeError: 'UnaryOp' object has no attribute 'range'`, with no line number).

    **How to fix.** Drop the `+` (the fix does this); `+x` is `x` for numbers and tensors.
    """
    VALID = (
        ex(
            """
            import torch

            def f(x: torch.Tensor, n: int = +1):
                return -x + n
            """
        ),
    )
    INVALID = (
        ex(
            """
            import torch

            def f(x: torch.Tensor):
                return +x
            """,
            line=4,
            error="'UnaryOp' object has no attribute 'range'",
            fixed="""import torch

def f(x: torch.Tensor):
    return x
""",
        ),
        ex(
            """
            def f(x: int):
                return x - (+ 1)
            """,
            line=2,
            error="'UnaryOp' object has no attribute 'range'",
            fixed="""def f(x: int):
    return x - (1)
""",
        ),
    )

    def visit_UnaryOperation(self, node: cst.UnaryOperation, ctx: FunctionContext) -> None:
        if not isinstance(node.operator, cst.Plus) or in_default(ctx):
            return
        start = ctx.range(node.operator).start
        end = ctx.range(node.expression).start
        fix = Fix("Remove the unary `+`", (TextEdit(Range(start, end), ""),))
        ctx.report(
            node,
            "TorchScript does not support unary `+`; drop it and write "
            f"{short_code(ctx, node.expression)} alone",
            fixes=(fix,),
        )


class BareAnnotationRule(FrontendRule):
    code = "TS117"
    name = "annotation-without-value"
    summary = "TorchScript does not support a variable annotation without a value (`y: int`)"
    family = Family.UNSUPPORTED_CONSTRUCTS
    fixable = True
    CATALOG = ("annassign_without_value",)
    explanation = """
    **What it does.** Flags a bare declaration such as `y: int` (an annotation with no `=`).

    **Why it fails.** `annotated assignments without assigned value aren't supported`:
    TorchScript types a variable where it is first assigned.

    **How to fix.** Annotate the first assignment instead (`y: int = x`). When the next
    statement that mentions the variable assigns it, the fix moves the annotation there.
    """
    VALID = (
        ex(
            """
            def f(x: int):
                y: int = x
                return y
            """
        ),
    )
    INVALID = (
        ex(
            """
            def f(x: int):
                y: int
                y = x
                return y
            """,
            line=2,
            error="annotated assignments without assigned value aren't supported",
            fixed="""def f(x: int):
    y: int = x
    return y
""",
        ),
        ex(
            """
            from typing import Optional

            def f(x: int, c: bool):
                y: Optional[int]
                if c:
                    y = x
                else:
                    y = None
                return y
            """,
            line=4,
            error="annotated assignments without assigned value aren't supported",
        ),
    )

    def visit_AnnAssign(self, node: cst.AnnAssign, ctx: FunctionContext) -> None:
        if node.value is not None:
            return
        target = ctx.code_for(node.target)
        annotation = ctx.code_for(node.annotation.annotation)
        fix = _merge_declaration(node, ctx)
        ctx.report(
            node,
            f"TorchScript does not support the bare declaration `{target}: {annotation}`; "
            f"annotate the first assignment instead (`{target}: {annotation} = ...`)",
            fixes=(fix,) if fix else (),
        )


def _merge_declaration(node: cst.AnnAssign, ctx: FunctionContext) -> Fix | None:
    """`y: T` followed (in the same block) by `y = v` as the next mention of y -> `y: T = v`."""
    if not isinstance(node.target, cst.Name):
        return None
    line, block = ctx.parent(), ctx.parent(2)
    if not isinstance(line, cst.SimpleStatementLine) or len(line.body) != 1:
        return None
    if line.trailing_whitespace.comment is not None or not isinstance(block, cst.IndentedBlock):
        return None
    where = ctx.range(line)
    if where.start.line != where.end.line:
        return None
    name = node.target.value
    mention = re.compile(rf"\b{re.escape(name)}\b")
    siblings = list(block.body)
    for stmt in siblings[siblings.index(line) + 1 :]:
        if not mention.search(ctx.code_for(stmt)):
            continue
        if not isinstance(stmt, cst.SimpleStatementLine) or len(stmt.body) != 1:
            return None
        assign = stmt.body[0]
        if (
            not isinstance(assign, cst.Assign)
            or len(assign.targets) != 1
            or not isinstance(assign.targets[0].target, cst.Name)
            or assign.targets[0].target.value != name
            or mention.search(ctx.code_for(assign.value))
        ):
            return None
        end = ctx.range(assign.targets[0].target).end
        annotation = ctx.code_for(node.annotation.annotation)
        edits = (
            TextEdit(Range.of(where.start.line, 0, where.start.line + 1, 0), ""),
            TextEdit(Range(end, end), f": {annotation}"),
        )
        return Fix(f"Annotate the assignment: `{name}: {annotation} = ...`", edits)
    return None


class VariadicParametersRule(Rule):
    code = "TS118"
    name = "variadic-parameters"
    summary = (
        "Compiled functions cannot take `*args`, `**kwargs` or keyword-only parameters "
        "with defaults"
    )
    family = Family.UNSUPPORTED_CONSTRUCTS
    fixable = True
    CATALOG = (
        "varargs_param",
        "kwargs_param",
        "kwonly_param_with_default",
        "submodule_forward_with_kwargs",
        "export_method_with_varargs",
    )
    explanation = """
    **What it does.** Flags `*args`, `**kwargs` and keyword-only parameters with a default
    (`def f(x, *, scale=2.0)`) in the signature of a compiled function. It also flags
    `*args`, `**kwargs` and any keyword-only parameter of an `@torch.jit.ignore` /
    `@torch.jit.unused` function that compiled code calls.

    **Why it fails.** A compiled function has a fixed schema: `Compiled functions can't take
    variable number of arguments or use keyword-only arguments with defaults`. Keyword-only
    parameters without a default are fine. For an ignored function called from compiled
    code, binding the call fails inside the compiler (`INTERNAL ASSERT FAILED ...
    python_sugared_value.cpp`).

    **How to fix.** Name the parameters (or take a `List[T]` / `Dict[str, T]`). For a
    keyword-only parameter with a default, the fix removes the `*` so it becomes an ordinary
    parameter with a default.
    """
    VALID = (
        ex(
            """
            import torch

            def f(x: torch.Tensor, *, scale: float):
                return x * scale
            """,
            call="m(torch.ones(1), scale=2.0)",
        ),
        ex(
            """
            import torch
            import torch.nn as nn

            class M(nn.Module):
                @torch.jit.ignore
                def forward(self, *xs: torch.Tensor):
                    return xs[0]
            """
        ),
    )
    INVALID = (
        ex(
            """
            def f(*args: int):
                return len(args)
            """,
            line=1,
            error="Compiled functions can't take variable number of arguments",
        ),
        ex(
            """
            import torch

            def f(x: torch.Tensor,
                  **kwargs: int):
                return x
            """,
            line=4,
            error="Compiled functions can't take variable number of arguments",
        ),
        ex(
            """
            import torch

            def f(x: torch.Tensor, *, scale: float = 2.0):
                return x * scale
            """,
            line=3,
            error="use keyword-only arguments with defaults",
            fixed="""import torch

def f(x: torch.Tensor, scale: float = 2.0):
    return x * scale
""",
        ),
        ex(
            """
            import torch
            import torch.nn as nn

            class M(nn.Module):
                @torch.jit.ignore
                def helper(self, *xs: int) -> int:
                    return len(xs)

                def forward(self, x: torch.Tensor):
                    return x + self.helper(1)
            """,
            line=6,
            error="INTERNAL ASSERT FAILED",
        ),
    )

    def check_function(self, ctx: FunctionContext) -> None:
        if not kept_in_python(ctx):
            self._check(ctx, ignored=False)

    def check_signature(self, ctx: FunctionContext) -> None:
        owner = ctx.owner
        if owner is not None and "torch.jit.interface" in owner.decorators:
            self._check(ctx, ignored=False)  # interface methods go through the frontend
        elif ctx.info.modifier in ("ignore", "unused", "drop") and not ctx.compiled.entry:
            self._check(ctx, ignored=True)

    def _check(self, ctx: FunctionContext, ignored: bool) -> None:
        params = ctx.node.params
        fn = ctx.info.name
        if ignored:
            why = (
                f"compiled code calls `{fn}` (kept in Python) through a fixed schema, and "
                "binding the call fails inside the compiler"
            )
        else:
            why = f"compiled functions have a fixed signature; give `{fn}` named parameters"
        if isinstance(params.star_kwarg, cst.Param):
            name = params.star_kwarg.name.value
            ctx.report(params.star_kwarg, f"TorchScript cannot take `**{name}`: {why}")
        if isinstance(params.star_arg, cst.Param):
            name = params.star_arg.name.value
            ctx.report(params.star_arg, f"TorchScript cannot take `*{name}`: {why}")
        for param in params.kwonly_params:
            name = param.name.value
            if ignored:
                ctx.report(
                    param,
                    f"TorchScript cannot call `{fn}` with the keyword-only parameter `{name}`: "
                    f"{why}; make `{name}` an ordinary parameter",
                )
            elif param.default is not None:
                fix = _remove_bare_star(ctx)
                ctx.report(
                    param.default,
                    f"TorchScript rejects a default on the keyword-only parameter `{name}`; "
                    "remove the `*` to make it an ordinary parameter, or drop the default",
                    fixes=(fix,) if fix else (),
                )


def _remove_bare_star(ctx: FunctionContext) -> Fix | None:
    """Delete a bare `*, ` when the parameters stay valid Python as positional ones."""
    params = ctx.node.params
    star = params.star_arg
    if not isinstance(star, cst.ParamStar):
        return None
    seen_default = False
    for param in (*params.posonly_params, *params.params, *params.kwonly_params):
        if param.default is not None:
            seen_default = True
        elif seen_default:
            return None  # `def f(a=1, *, b)`: b cannot follow a default positionally
    return Fix("Remove the `*` (make the parameters ordinary)", (ctx.replace(star, ""),))


class MatchStatementRule(FrontendRule):
    code = "TS119"
    name = "match-statement"
    summary = "TorchScript does not support `match` statements"
    family = Family.UNSUPPORTED_CONSTRUCTS
    CATALOG = ("match_statement",)
    explanation = """
    **What it does.** Flags `match` statements in compiled code.

    **Why it fails.** The frontend predates structural pattern matching:
    `Match aren't supported`.

    **How to fix.** Use an `if` / `elif` chain.
    """
    VALID = (
        ex(
            """
            def f(x: int):
                if x == 1:
                    return 10
                return 0
            """
        ),
    )
    INVALID = (
        ex(
            """
            def f(x: int):
                match x:
                    case 1:
                        return 10
                    case _:
                        return 0
            """,
            line=2,
            error="Match aren't supported",
        ),
    )

    def visit_Match(self, node: cst.Match, ctx: FunctionContext) -> None:
        ctx.report(
            node,
            "TorchScript does not support `match`; use an `if` / `elif` chain",
            range=ctx.head_range(node, len("match")),
        )


_reported_names: weakref.WeakKeyDictionary[FunctionContext, set[str]] = weakref.WeakKeyDictionary()


class ReservedJitNameRule(FrontendRule):
    code = "TS121"
    name = "reserved-jit-name"
    summary = "Names starting with `__jit` are reserved in compiled code"
    family = Family.UNSUPPORTED_CONSTRUCTS
    CATALOG = ("reserved_jit_prefix_name",)
    explanation = """
    **What it does.** Flags a variable (local or global) whose name starts with `__jit`,
    once per name and function.

    **Why it fails.** The compiler uses that prefix for its own temporaries: `names of
    variables used in JIT-ed functions can't start with __jit`. Attribute and keyword names
    are not affected.

    **How to fix.** Rename the variable.
    """
    VALID = (
        ex(
            """
            def g(__jit_a: int):
                return __jit_a if False else 1

            def f(x: int):
                jit_tmp = x
                return jit_tmp
            """
        ),
    )
    INVALID = (
        ex(
            """
            def f(x: int):
                __jit_tmp = x
                return __jit_tmp
            """,
            line=2,
            error="names of variables used in JIT-ed functions can't start with __jit",
        ),
        ex(
            """
            from typing import List

            def f(xs: List[int]):
                return [__jitv for __jitv in xs]
            """,
            line=4,
            error="can't start with __jit",
        ),
    )

    def visit_Name(self, node: cst.Name, ctx: FunctionContext) -> None:
        if not node.value.startswith("__jit"):
            return
        parent = ctx.parent()
        if isinstance(parent, cst.Attribute) and parent.attr is node:
            return
        if isinstance(parent, cst.Arg) and parent.keyword is node:
            return
        if isinstance(parent, (cst.Param, cst.NameItem, cst.ImportAlias)) or in_default(ctx):
            return
        seen = _reported_names.setdefault(ctx, set())
        if node.value in seen:
            return
        seen.add(node.value)
        ctx.report(
            node,
            f"TorchScript reserves names starting with `__jit`; rename `{node.value}`",
        )


class BytesLiteralRule(FrontendRule):
    code = "TS122"
    name = "bytes-literal"
    summary = "TorchScript has no bytes type"
    family = Family.UNSUPPORTED_CONSTRUCTS
    CATALOG = ("bytes_literal",)
    explanation = """
    **What it does.** Flags bytes literals (`b"abc"`, `rb"..."`) in compiled code.

    **Why it fails.** The frontend knows numbers, strings, booleans, `None` and `...`:
    `Unknown Constant expression type`.

    **How to fix.** Use a `str`, or a `List[int]` of byte values.
    """
    VALID = (
        ex(
            """
            def f(x: int):
                s = "abc"
                codes = [97, 98, 99]
                return len(s) + len(codes) + x
            """
        ),
    )
    INVALID = (
        ex(
            """
            def f(x: int):
                b = b"abc"
                return x
            """,
            line=2,
            error="Unknown Constant expression type",
        ),
        ex(
            """
            def f(x: int):
                print(rb"a" b"c")
                return x
            """,
            line=2,
            error="Unknown Constant expression type",
        ),
    )

    def visit_SimpleString(self, node: cst.SimpleString, ctx: FunctionContext) -> None:
        if "b" not in node.prefix.lower() or isinstance(ctx.parent(), cst.ConcatenatedString):
            return
        if not in_default(ctx):
            self._report(node, ctx)

    def visit_ConcatenatedString(self, node: cst.ConcatenatedString, ctx: FunctionContext) -> None:
        left = node.left
        if isinstance(ctx.parent(), cst.ConcatenatedString) or not isinstance(
            left, cst.SimpleString
        ):
            return
        if "b" in left.prefix.lower() and not in_default(ctx):
            self._report(node, ctx)

    def _report(self, node: cst.BaseExpression, ctx: FunctionContext) -> None:
        ctx.report(
            node,
            "TorchScript has no bytes type; use a str, or a List[int] of byte values",
        )


class MutableDefaultRule(Rule):
    code = "TS123"
    name = "mutable-default-argument"
    summary = "TorchScript rejects list and dict default arguments"
    family = Family.DEFAULT_TYPES
    CATALOG = ("default_arg_mutable_list",)
    explanation = """
    **What it does.** Flags a compiled function whose parameter defaults to a list or dict
    (`[]`, `[1, 2]`, `{}`, a comprehension, `list()`, `dict()`).

    **Why it fails.** Python creates the default once and shares it between calls; TorchScript
    refuses to copy that behaviour: `Mutable default parameters are not supported because
    Python binds them to the function and they persist across function calls`. The compiler
    points at the whole function.

    **How to fix.** Default to `None` (annotate `Optional[List[int]]`) and create the list in
    the body: `if acc is None: acc = []`. A tuple default is fine.
    """
    VALID = (
        ex(
            """
            from typing import List, Optional, Tuple

            def f(x: int, acc: Optional[List[int]] = None, t: Tuple[int, int] = (1, 2)):
                if acc is None:
                    acc = []
                acc.append(x + t[0])
                return acc
            """
        ),
    )
    INVALID = (
        ex(
            """
            from typing import List

            def f(x: int, acc: List[int] = []):
                acc.append(x)
                return acc
            """,
            line=3,
            error="Mutable default parameters are not supported",
        ),
        ex(
            """
            from typing import Dict

            import torch
            import torch.nn as nn

            class M(nn.Module):
                @torch.jit.export
                def g(self,
                      x: int,
                      d: Dict[str, int] = dict()):
                    return x

                def forward(self, x: torch.Tensor):
                    return x
            """,
            line=8,
            error="Found <class 'dict'> on parameter d",
        ),
    )

    def check_function(self, ctx: FunctionContext) -> None:
        if kept_in_python(ctx):
            return
        params = ctx.node.params
        for param in params.params:
            default = param.default
            if default is None:
                continue
            kind = _mutable_kind(default, ctx)
            if kind is None:
                continue
            name = param.name.value
            ctx.report(
                param,
                f"TorchScript rejects the mutable default `{ctx.code_for(default)}` of `{name}` "
                f"(Python shares one {kind} between calls); default to None and create the "
                f"{kind} in the body (`if {name} is None: {name} = ...`)",
                range=def_range(ctx, ctx.node),
            )


def _mutable_kind(default: cst.BaseExpression, ctx: FunctionContext) -> str | None:
    if isinstance(default, (cst.List, cst.ListComp)):
        return "list"
    if isinstance(default, (cst.Dict, cst.DictComp)):
        return "dict"
    if isinstance(default, cst.Call) and isinstance(default.func, cst.Name):
        builtin = ctx.resolve(default.func.value)
        if builtin in ("list", "dict"):
            return builtin
    return None


class AnnotatedAttributeRule(FrontendRule):
    code = "TS124"
    name = "attribute-annotation-outside-init"
    summary = "Attribute annotations (`self.x: T = ...`) are allowed only in `__init__`"
    family = Family.TYPE_CHECKING
    fixable = True
    CATALOG = ("annotated_self_attr_outside_init",)
    explanation = """
    **What it does.** Flags an annotated assignment to `self.<attr>` outside `__init__`, and
    an annotated assignment to a nested attribute (`self.a.b: int = ...`) anywhere.

    **Why it fails.** TorchScript fixes an object's attribute types in `__init__`: `Type
    annotations on instance attributes must be declared in __init__, not 'forward'`. For a
    nested attribute target the frontend crashes (`AttributeError: 'Attribute' object has no
    attribute 'id'`).

    **How to fix.** Annotate the attribute where `__init__` creates it and assign without
    the annotation elsewhere (the fix drops the annotation).
    """
    VALID = (
        ex(
            """
            import torch
            import torch.nn as nn

            class M(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.y: int = 0

                def forward(self, x: torch.Tensor):
                    self.y = 1
                    return x
            """
        ),
        ex(
            """
            class Box:
                def __init__(self, v: int):
                    self.v: int = v

            def f(x: int):
                b = Box(x)
                b.v: int = 3
                return b.v
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
                    self.y = 0

                def forward(self, x: torch.Tensor):
                    self.y: int = 1
                    return x
            """,
            line=10,
            error="Type annotations on instance attributes must be declared in __init__",
            fixed="""import torch
import torch.nn as nn

class M(nn.Module):
    def __init__(self):
        super().__init__()
        self.y = 0

    def forward(self, x: torch.Tensor):
        self.y = 1
        return x
""",
        ),
        ex(
            """
            import torch
            import torch.nn as nn

            class Box:
                def __init__(self, v: int):
                    self.v = v

            class M(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.b = Box(1)

                def forward(self, x: torch.Tensor):
                    self.b.v: int = 3
                    return x
            """,
            line=14,
            error="'Attribute' object has no attribute 'id'",
        ),
    )

    def visit_AnnAssign(self, node: cst.AnnAssign, ctx: FunctionContext) -> None:
        target = node.target
        if not isinstance(target, cst.Attribute) or node.value is None:
            return
        shown = ctx.code_for(target)
        if isinstance(target.value, cst.Name):
            function = ctx.info.name
            if target.value.value != "self" or function == "__init__":
                return
            message = (
                f"TorchScript allows annotating `{shown}` only in `__init__`, not in "
                f"`{function}`; annotate it where `__init__` creates it and drop the "
                "annotation here"
            )
        else:
            message = (
                f"TorchScript cannot compile an annotation on the nested attribute `{shown}`; "
                "drop the annotation"
            )
        start = ctx.range(target)
        end = ctx.range(node.annotation).end
        edit = TextEdit(Range(start.end, end), "")
        ctx.report(
            node,
            message,
            fixes=(Fix("Remove the annotation", (edit,)),),
            range=Range(start.start, end),
        )


class BareRaiseRule(FrontendRule):
    code = "TS126"
    name = "bare-raise"
    summary = "TorchScript does not support a bare `raise`"
    family = Family.UNSUPPORTED_CONSTRUCTS
    CATALOG = ()
    explanation = """
    **What it does.** Flags `raise` without an exception outside an `except` block.

    **Why it fails.** The frontend expects an exception to raise and crashes without one
    (`AttributeError: 'NoneType' object has no attribute 'lineno'`, with no line number).

    **How to fix.** Raise a specific exception: `raise RuntimeError("...")`.
    """
    VALID = (
        ex(
            """
            def f(x: int):
                if x < 0:
                    raise ValueError("negative")
                return x
            """
        ),
    )
    INVALID = (
        ex(
            """
            def f(x: int):
                if x < 0:
                    raise
                return x
            """,
            line=3,
            error="'NoneType' object has no attribute 'lineno'",
        ),
    )

    def visit_Raise(self, node: cst.Raise, ctx: FunctionContext) -> None:
        if node.exc is not None:
            return
        if any(isinstance(a, (cst.ExceptHandler, cst.ExceptStarHandler)) for a in ctx.ancestors):
            return  # re-raising belongs to the `try`, which TS102 reports
        ctx.report(
            node,
            "TorchScript cannot compile a bare `raise`; raise an exception, e.g. "
            '`raise RuntimeError("...")`',
            range=ctx.head_range(node, len("raise")),
        )


class PositionalOnlyRule(Rule):
    code = "TS127"
    name = "positional-only-parameter"
    summary = "TorchScript drops positional-only parameters (before `/`)"
    family = Family.UNSUPPORTED_CONSTRUCTS
    fixable = True
    CATALOG = ()
    explanation = """
    **What it does.** Flags the first use of a positional-only parameter (one declared before
    `/`) in a compiled function that never assigns it.

    **Why it fails.** The frontend builds the signature from the ordinary and keyword-only
    parameters only: positional-only ones silently vanish, so their first use fails with
    `undefined value x`, and callers get a schema with fewer arguments.

    **How to fix.** Remove the `/` (the fix does this): the parameters become ordinary ones.
    """
    VALID = (
        ex(
            """
            import torch

            def f(x: torch.Tensor, y: int):
                return x * y
            """
        ),
    )
    INVALID = (
        ex(
            """
            import torch

            def f(x: torch.Tensor, /, y: int):
                return x * y
            """,
            line=4,
            error="undefined value x",
            fixed="""import torch

def f(x: torch.Tensor, y: int):
    return x * y
""",
        ),
    )

    def check_function(self, ctx: FunctionContext) -> None:
        params = ctx.node.params
        if not params.posonly_params or kept_in_python(ctx):
            return
        slash = params.posonly_ind
        fixes = []
        if isinstance(slash, cst.ParamSlash):
            fixes.append(Fix("Remove the `/`", (ctx.replace(slash, ""),)))
        if _is_method(ctx) and not params.params and not params.kwonly_params:
            # Every parameter, `self` included, is dropped: the compiler stops at the def.
            ctx.report(
                ctx.node,
                f"`{ctx.info.name}` declares all its parameters, `self` included, "
                "positional-only (before `/`); TorchScript drops such parameters and then "
                "finds no `self`; remove the `/`",
                fixes=fixes,
                range=def_range(ctx, ctx.node),
            )
            return
        names = {p.name.value for p in params.posonly_params}
        bound = _BindingCollector(ctx)
        ctx.node.body.visit(bound)
        names -= set(bound.kinds)  # assigned somewhere: the compiler may define it first
        if not names:
            return
        finder = _FirstUse(names)
        ctx.node.body.visit(finder)
        if finder.first is None:
            return
        name = finder.first.value
        ctx.report(
            finder.first,
            f"`{name}` is positional-only (declared before `/`); TorchScript drops such "
            f"parameters, so `{name}` is undefined here; remove the `/`",
            fixes=fixes,
        )


def _is_method(ctx: FunctionContext) -> bool:
    return ctx.owner is not None and not ctx.info.is_staticmethod


class _FirstUse(cst.CSTVisitor):
    """The first Name, in source order, that reads one of `names`."""

    def __init__(self, names: set[str]) -> None:
        super().__init__()
        self.names = names
        self.first: cst.Name | None = None

    def on_visit(self, node: cst.CSTNode) -> bool:
        return self.first is None and super().on_visit(node)

    def visit_Attribute(self, node: cst.Attribute) -> bool:
        node.value.visit(self)
        return False

    def visit_Arg(self, node: cst.Arg) -> bool:
        node.value.visit(self)
        return False

    def visit_Name(self, node: cst.Name) -> None:
        if node.value in self.names:
            self.first = node

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        return False

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False


class EllipsisValueRule(Rule):
    code = "TS128"
    name = "ellipsis-value"
    summary = "TorchScript cannot use `...` as a value or statement"
    family = Family.UNSUPPORTED_CONSTRUCTS
    fixable = True
    CATALOG = ()
    explanation = """
    **What it does.** Flags `...` used as a statement (a stub body), an assigned or returned
    value, or a call argument in compiled code. `x[..., 0]` is fine.

    **Why it fails.** The compiler parses `...` but cannot emit it as a value:
    `Cannot emit expr for: (dots)`.

    **How to fix.** Write `pass` for an empty body (the fix does this), and `None` or a real
    value elsewhere.
    """
    VALID = (
        ex(
            """
            import torch

            def f(x: torch.Tensor):
                y = x[..., 0]
                pass
                return y
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
                    ...

                def forward(self, x: torch.Tensor):
                    self.helper(x)
                    return x
            """,
            line=6,
            error="Cannot emit expr for: (dots)",
            fixed="""import torch
import torch.nn as nn

class M(nn.Module):
    def helper(self, x: torch.Tensor):
        pass

    def forward(self, x: torch.Tensor):
        self.helper(x)
        return x
""",
        ),
        ex(
            """
            def f(x: int):
                return ...
            """,
            line=2,
            error="Cannot emit expr for: (dots)",
        ),
    )

    def visit_Ellipsis(self, node: cst.Ellipsis, ctx: FunctionContext) -> None:
        parent = ctx.parent()
        if isinstance(parent, cst.Expr):
            if any(d.rsplit(".", 1)[-1] == "overload" for d in ctx.info.decorators):
                return  # a typing.overload stub
            fixes = (
                ()
                if node.lpar
                else (Fix("Replace `...` with `pass`", (ctx.replace(node, "pass"),)),)
            )
            ctx.report(
                node,
                "TorchScript cannot compile `...` as a statement; write `pass`",
                fixes=fixes,
            )
        elif isinstance(parent, (cst.Assign, cst.AnnAssign, cst.Return, cst.Arg)):
            if in_default(ctx):
                return
            ctx.report(
                node,
                "TorchScript cannot use `...` as a value; use None or a real value",
            )


class DelRule(Rule):
    code = "TS129"
    name = "unsupported-del"
    summary = "TorchScript can `del` variables and single list/dict items only"
    family = Family.UNSUPPORTED_CONSTRUCTS
    CATALOG = ()
    explanation = """
    **What it does.** Flags `del obj.attr` and `del xs[a:b]` in compiled code. `del x` (a
    local), `del xs[0]` and `del d["key"]` are fine.

    **Why it fails.** `del statements are only supported for deleting list and dict items
    and variables`; `del statements only support deletion at a single index, slicing is not
    supported`.

    **How to fix.** Set the attribute to `None` (typed `Optional`) instead of deleting it;
    delete slice items one index at a time, or rebuild the list (`xs = xs[:a] + xs[b:]`).
    """
    VALID = (
        ex(
            """
            from typing import Dict, List

            def f(x: int, xs: List[int], d: Dict[str, int]):
                y = x + 1
                del y
                del xs[0]
                del d["a"]
                return len(xs) + len(d)
            """
        ),
    )
    INVALID = (
        ex(
            """
            from typing import List

            def f(xs: List[int]):
                del xs[0:1]
                return xs
            """,
            line=4,
            error="slicing is not supported",
        ),
        ex(
            """
            import torch
            import torch.nn as nn

            class M(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.y = 1

                def forward(self, x: torch.Tensor):
                    del self.y
                    return x
            """,
            line=10,
            error="del statements are only supported for deleting list and dict items",
        ),
    )

    def visit_Del(self, node: cst.Del, ctx: FunctionContext) -> None:
        target = node.target
        targets: list[cst.BaseExpression] = [target]
        if isinstance(target, (cst.Tuple, cst.List)):
            targets = [e.value for e in target.elements]
        for item in targets:
            shown = ctx.code_for(item)
            if isinstance(item, cst.Attribute):
                ctx.report(
                    item,
                    f"TorchScript cannot `del {shown}` (attributes cannot be deleted); set it "
                    "to None (typed Optional) instead",
                )
            elif isinstance(item, cst.Subscript) and any(
                isinstance(e.slice, cst.Slice) for e in item.slice
            ):
                ctx.report(
                    item,
                    f"TorchScript cannot `del {shown}` (only single items can be deleted); "
                    "delete one index at a time or rebuild the list",
                )


def _parenthesize(node: cst.BaseExpression, code: str) -> str:
    simple = (cst.Name, cst.Attribute, cst.Integer, cst.Float, cst.Call, cst.Subscript)
    return code if isinstance(node, simple) else f"({code})"


RULES: tuple[type[Rule], ...] = (
    LambdaRule,
    TryRule,
    NestedDefRule,
    NestedClassRule,
    ImportInFunctionRule,
    GlobalStatementRule,
    YieldRule,
    AsyncDefRule,
    SetRule,
    ComprehensionRule,
    FStringFormatRule,
    WalrusRule,
    StarredNonTupleRule,
    DoubleStarExpansionRule,
    LoopElseRule,
    UnaryPlusRule,
    BareAnnotationRule,
    VariadicParametersRule,
    MatchStatementRule,
    FloorDivAugAssignRule,
    ReservedJitNameRule,
    BytesLiteralRule,
    MutableDefaultRule,
    AnnotatedAttributeRule,
    BareRaiseRule,
    PositionalOnlyRule,
    EllipsisValueRule,
    DelRule,
)
