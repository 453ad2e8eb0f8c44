"""TS100-TS129: Python syntax outside the TorchScript subset (torch/jit/frontend.py rejects it)."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from tscheck.model import Family, Fix, Range, TextEdit
from tscheck.rules.base import FunctionContext, Rule, ex


def in_default(ctx: FunctionContext) -> bool:
    """True inside a parameter's default: Python evaluates it, TorchScript never compiles it."""
    return len(ctx.ancestors) > 1 and isinstance(ctx.ancestors[1], cst.Parameters)


def def_range(ctx: FunctionContext, node: cst.FunctionDef | cst.ClassDef) -> Range:
    """From the `def` / `async def` / `class` keyword to the end of the name."""
    return Range(ctx.range(node).start, ctx.range(node.name).end)


class LambdaRule(Rule):
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


class TryRule(Rule):
    code = "TS102"
    name = "try-statement"
    summary = "TorchScript does not support try/except/finally"
    family = Family.UNSUPPORTED_CONSTRUCTS
    CATALOG = ("try_except", "try_finally")
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
    )

    def visit_Try(self, node: cst.Try, ctx: FunctionContext) -> None:
        ctx.report(
            node, "TorchScript does not support try/except/finally", range=ctx.head_range(node, 3)
        )

    def visit_TryStar(self, node: cst.TryStar, ctx: FunctionContext) -> None:
        ctx.report(node, "TorchScript does not support try/except*", range=ctx.head_range(node, 3))


class FloorDivAugAssignRule(Rule):
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


class NestedDefRule(Rule):
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


class NestedClassRule(Rule):
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


class ImportInFunctionRule(Rule):
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
        self._report(node, "import", ctx)

    def visit_ImportFrom(self, node: cst.ImportFrom, ctx: FunctionContext) -> None:
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


class GlobalStatementRule(Rule):
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


class YieldRule(Rule):
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
        if node.asynchronous is None:
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


class SetRule(Rule):
    code = "TS109"
    name = "set-literal"
    summary = "TorchScript has no set type: set literals and set comprehensions fail"
    family = Family.UNSUPPORTED_CONSTRUCTS
    CATALOG = ("set_literal", "set_comprehension")
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
            node, "TorchScript has no set type; use a List for membership tests or a Dict[T, bool]"
        )

    def visit_SetComp(self, node: cst.SetComp, ctx: FunctionContext) -> None:
        if in_default(ctx):
            return
        ctx.report(
            node,
            "TorchScript has no set type; build a Dict[T, bool] (keys are unique) or a List",
        )


class ComprehensionRule(Rule):
    code = "TS110"
    name = "comprehension-filter-or-nested-loop"
    summary = "TorchScript comprehensions take one `for` and no `if`"
    family = Family.UNSUPPORTED_CONSTRUCTS
    CATALOG = ("listcomp_with_if", "listcomp_two_generators", "dictcomp_with_if")
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


class FStringFormatRule(Rule):
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


class WalrusRule(Rule):
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
    FloorDivAugAssignRule,
)
