"""TS100-TS129: Python syntax outside the TorchScript subset (torch/jit/frontend.py rejects it)."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from tscheck.model import Family, Fix, Range
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
        ctx.report(node, "TorchScript does not support try/except/finally", range=ctx.head_range(node, 3))

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


def _parenthesize(node: cst.BaseExpression, code: str) -> str:
    simple = (cst.Name, cst.Attribute, cst.Integer, cst.Float, cst.Call, cst.Subscript)
    return code if isinstance(node, simple) else f"({code})"


RULES: tuple[type[Rule], ...] = (LambdaRule, TryRule, FloorDivAugAssignRule)
