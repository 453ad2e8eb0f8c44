"""TS190-TS199: type annotations TorchScript cannot read.

TorchScript resolves the annotations of every compiled function (parameters, return, annotated
locals, `isinstance` targets) with its own small type language. These rules flag the spellings
it rejects; the type model of the TS2xx family (a later issue) handles everything that needs
inference.
"""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from tscheck.model import Family, Fix, Range, TextEdit
from tscheck.rules.base import FunctionContext, Rule, dotted, ex

# Generic constructors TorchScript does not know ("Unknown type constructor X"), checked with
# torch 2.13: each was rejected as a parameter annotation.
UNKNOWN_CONSTRUCTORS = frozenset(
    {
        "Sequence",
        "Iterable",
        "Iterator",
        "Generator",
        "Mapping",
        "Set",
        "FrozenSet",
        "set",
        "Type",
        "Callable",
        "Literal",
    }
)
# Plain names TorchScript does not know ("Unknown type name X").
UNKNOWN_NAMES = frozenset(
    {
        "set",
        "frozenset",
        "bytes",
        "dict",
        "object",
        "NoReturn",
        "Sequence",
        "torch.Size",
        "torch.nn.Module",
        "numpy.ndarray",
    }
)
# Containers that need their element types ("Attempted to use List without a contained type").
BARE_CONTAINERS = frozenset({"List", "Dict", "Tuple"})
# What to write instead, where the meaning carries over (a tuple or list argument still fits).
REPLACEMENTS = {"Sequence": "List", "Iterable": "List", "Mapping": "Dict"}


class UnsupportedAnnotationRule(Rule):
    code = "TS190"
    name = "unsupported-annotation"
    summary = "TorchScript cannot resolve this type annotation"
    family = Family.TYPE_CHECKING
    explanation = """
    **What it does.** Flags annotations in compiled code that TorchScript's type language
    does not have: abstract collections (`Sequence`, `Iterable`, `Mapping`, `Set`, `Callable`,
    `Literal`, `Type`...), `set`, `dict` or `bytes` as bare types, `torch.Size`, `np.ndarray`,
    `List` / `Dict` / `Tuple` without element types, and `Tuple[int, ...]`.

    **Why it fails.** TorchScript types every parameter, return value and annotated local
    statically, from a fixed set of types: `Tensor`, `int`, `float`, `bool`, `str`,
    `complex`, `torch.device`, `torch.dtype`, `List[T]`, `Dict[K, V]`, `Tuple[...]` of fixed
    length, `Optional[T]`, `Union[...]`, `Any`, NamedTuples, enums and TorchScript classes.
    Anything else fails with `Unknown type constructor` or `Unknown type name`.

    **How to fix.** Use the concrete container: `List[int]` for `Sequence[int]` or
    `Iterable[int]`, `Dict[str, int]` for `Mapping[str, int]`, `List[int]` for a
    variable-length `Tuple[int, ...]`, `List[int]` for `torch.Size`. Give `List`, `Dict` and
    `Tuple` their element types.
    """
    VALID = (
        ex(
            """
            import torch
            from typing import Dict, List, Optional, Tuple

            def f(xs: List[int], d: Dict[str, int], t: Tuple[int, int], o: Optional[int]) -> int:
                n: List[int] = [len(xs), len(d), t[0]]
                return len(n) + (o if o is not None else 0)
            """,
            call="assert m([1], {'a': 1}, (1, 2), None) == 3",
        ),
        ex(
            """
            import torch

            def f(x: "torch.Tensor", n: int, xs: list[int], d: dict[str, int]) -> bool:
                return isinstance(n, int) and len(xs) == len(d)
            """
        ),
    )
    INVALID = (
        ex(
            """
            from typing import Sequence

            def f(xs: Sequence[int]) -> int:
                return len(xs)
            """,
            line=3,
            error="Unknown type constructor Sequence",
            fixed="""from typing import Sequence

def f(xs: list[int]) -> int:
    return len(xs)
""",
        ),
        ex(
            """
            import torch

            def f(s: torch.Size) -> int:
                return s[0]
            """,
            line=3,
            error="Unknown type name 'torch.Size'",
        ),
        ex(
            """
            from typing import List

            def f(xs: List) -> int:
                return len(xs)
            """,
            line=3,
            error="Attempted to use List without a contained type",
        ),
        ex(
            """
            from typing import Tuple

            def f(t: Tuple[int, ...]) -> int:
                return len(t)
            """,
            line=3,
            error="Expression of type dots cannot be used in a type expression",
        ),
        ex(
            """
            from typing import List, Mapping

            def f(n: int) -> int:
                d: Mapping[str, int] = {"a": n}
                return d["a"]
            """,
            line=4,
            error="Unknown type constructor Mapping",
        ),
        ex(
            """
            import numpy as np
            import torch

            def f(x: torch.Tensor) -> bool:
                return isinstance(x, np.ndarray)
            """,
            line=5,
            error="Unknown type name 'np.ndarray'",
        ),
        ex(
            """
            from typing import Callable

            def f(fn: Callable[[int], int], x: int) -> int:
                return fn(x)
            """,
            line=3,
            error="Unknown type constructor Callable",
        ),
    )
    CATALOG = (
        "unknown_annotation_sequence",
        "unknown_annotation_set",
        "callable_param",
        "torch_size_annotation",
        "literal_annotation",
        "bare_list_annotation",
        "variadic_tuple_annotation",
        "isinstance_numpy_ndarray",
    )

    def check_function(self, ctx: FunctionContext) -> None:
        params = ctx.node.params
        for param in [*params.posonly_params, *params.params, *params.kwonly_params]:
            if param.annotation is not None:
                self._check(param.annotation.annotation, ctx)
        if ctx.node.returns is not None:
            self._check(ctx.node.returns.annotation, ctx)

    def check_signature(self, ctx: FunctionContext) -> None:
        # An ignored function's signature is still typed by TorchScript.
        self.check_function(ctx)

    def visit_AnnAssign(self, node: cst.AnnAssign, ctx: FunctionContext) -> None:
        self._check(node.annotation.annotation, ctx)

    def visit_Call(self, node: cst.Call, ctx: FunctionContext) -> None:
        name = dotted(node.func)
        if name == "isinstance" and len(node.args) == 2:
            self._check(node.args[1].value, ctx, in_isinstance=True)
        elif ctx.resolve(name) == "torch.jit.annotate" and node.args:
            self._check(node.args[0].value, ctx)

    def _check(
        self, annotation: cst.BaseExpression, ctx: FunctionContext, in_isinstance: bool = False
    ) -> None:
        for node, message, fix in _problems(annotation, ctx, in_isinstance):
            ctx.report(node, message, fixes=(fix,) if fix else ())


def _problems(
    node: cst.BaseExpression, ctx: FunctionContext, in_isinstance: bool
) -> Iterator[tuple[cst.CSTNode, str, Fix | None]]:
    if isinstance(node, cst.SimpleString):
        inner = _parse_string_annotation(node)
        if inner is not None and any(True for _ in _problems(inner, ctx, in_isinstance)):
            yield node, f"TorchScript cannot resolve the annotation {node.value}", None
        return
    if isinstance(node, cst.Tuple) and in_isinstance:
        for item in node.elements:
            yield from _problems(item.value, ctx, in_isinstance)
        return
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.BitOr):
        yield from _problems(node.left, ctx, in_isinstance)
        yield from _problems(node.right, ctx, in_isinstance)
        return
    if isinstance(node, cst.Subscript):
        written = dotted(node.value)
        short = _typing_name(written, ctx)
        if short in UNKNOWN_CONSTRUCTORS:
            yield node, _unknown_constructor(short, written), _replacement(node, short, ctx)
            return
        for element in node.slice:
            index = element.slice
            if isinstance(index, cst.Index):
                value = index.value
                if isinstance(value, cst.Ellipsis) and short in ("Tuple", "tuple"):
                    yield (
                        value,
                        "TorchScript tuples have a fixed length: `Tuple[T, ...]` is not "
                        "supported; use `List[T]`",
                        None,
                    )
                elif isinstance(value, cst.List):  # Callable's argument list
                    continue
                else:
                    yield from _problems(value, ctx, in_isinstance)
        return
    written = dotted(node)
    if not written:
        return
    qualified = ctx.resolve(written)
    short = _typing_name(written, ctx)
    if qualified in UNKNOWN_NAMES or (short in UNKNOWN_NAMES and "." not in written):
        yield node, f"TorchScript has no type `{written}`" + _advice(qualified, short), None
    elif short in BARE_CONTAINERS:
        yield (
            node,
            f"TorchScript needs the element types of `{written}` (e.g. `{written}[int]`)",
            None,
        )


def _typing_name(written: str, ctx: FunctionContext) -> str:
    """`Sequence` for `Sequence`, `typing.Sequence`, `t.Sequence` or collections.abc's."""
    qualified = ctx.resolve(written)
    for prefix in ("typing.", "typing_extensions.", "collections.abc."):
        if qualified.startswith(prefix):
            return qualified[len(prefix) :]
    return written if "." not in written else ""


def _unknown_constructor(short: str, written: str) -> str:
    instead = REPLACEMENTS.get(short)
    hint = f"; use `{instead}[...]`" if instead else ""
    return f"TorchScript does not support the type constructor `{written}`{hint}"


def _advice(qualified: str, short: str) -> str:
    if qualified == "torch.Size":
        return "; annotate sizes as `List[int]`"
    if short in ("dict", "set", "frozenset"):
        return "; use `Dict[K, V]` or `List[T]` with element types"
    return ""


def _replacement(node: cst.Subscript, short: str, ctx: FunctionContext) -> Fix | None:
    """`Sequence[int]` -> `list[int]` (PEP 585 needs no import and TorchScript reads it)."""
    instead = {"List": "list", "Dict": "dict"}.get(REPLACEMENTS.get(short, ""))
    if instead is None:
        return None
    text = ctx.code_for(node)
    head = ctx.code_for(node.value)
    new = instead + text[len(head) :]
    # A caller may pass a tuple where a Sequence was accepted: not behaviour-preserving.
    return Fix(f"Annotate as `{new}`", (ctx.replace(node, new),), safe=False)


def _parse_string_annotation(node: cst.SimpleString) -> cst.BaseExpression | None:
    value = node.evaluated_value
    if not isinstance(value, str):
        return None
    try:
        return cst.parse_expression(value)
    except cst.ParserSyntaxError:
        return None


# -- TS191: postponed annotations on a Python-only function ------------------------------------

_FUTURE_ANNOTATIONS = ("annotations", "__future__.annotations")


class PostponedAnnotationsRule(Rule):
    code = "TS191"
    name = "postponed-annotations-on-python-function"
    summary = (
        "With `from __future__ import annotations`, TorchScript cannot read an ignored or "
        "unused function's annotations"
    )
    family = Family.TYPE_CHECKING
    fixable = True
    explanation = """
    **What it does.** In a file with `from __future__ import annotations`, flags the
    `@torch.jit.ignore` / `@torch.jit.unused` functions that compiled code calls, when their
    signature has annotations.

    **Why it fails.** TorchScript compiles a call to an ignored or unused function from its
    signature, which it reads from the live function's `__annotations__`, not from the source.
    Postponed annotations are strings there (`'int'`, `'torch.Tensor'`), which that path does
    not resolve: scripting fails where compiled code calls the function, with
    `Unknown type annotation: 'torch.Tensor'`. Compiled functions are not affected (their
    annotations are read from the source).

    **How to fix.** Write the signature as a type comment, which TorchScript reads from the
    source: `def helper(self, n):` then `# type: (int) -> int` as the first line of the body.
    The fix does this (an unannotated parameter or result becomes `torch.Tensor`, as
    TorchScript assumed; not offered when an unannotated parameter has a default). Or move the
    function to a module without the future import.
    """
    VALID = (
        ex(
            """
            from __future__ import annotations

            import torch
            import torch.nn as nn


            class M(nn.Module):
                def forward(self, x: torch.Tensor) -> torch.Tensor:
                    if self.training:
                        x = x * self.scale(3)
                    return x

                @torch.jit.unused
                def scale(self, n):
                    # type: (int) -> int
                    return n
            """,
        ),
        ex(
            """
            import torch
            import torch.nn as nn


            class M(nn.Module):
                def forward(self, x: torch.Tensor) -> torch.Tensor:
                    if self.training:
                        x = self.check(x)
                    return x

                @torch.jit.unused
                def check(self, x: torch.Tensor) -> torch.Tensor:
                    return x
            """,
        ),
    )
    INVALID = (
        ex(
            """
            from __future__ import annotations

            import torch
            import torch.nn as nn


            class M(nn.Module):
                def forward(self, x: torch.Tensor) -> torch.Tensor:
                    if self.training:
                        x = x * self.scale(3)
                    return x

                @torch.jit.unused
                def scale(self, n: int) -> int:
                    return n
            """,
            line=14,
            error="Unknown type annotation: 'int'",
            fixed="""from __future__ import annotations

import torch
import torch.nn as nn


class M(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            x = x * self.scale(3)
        return x

    @torch.jit.unused
    def scale(self, n):
        # type: (int) -> int
        return n
""",
        ),
        ex(
            """
            from __future__ import annotations

            import torch


            @torch.jit.unused
            def debug(x: torch.Tensor, label="x"):
                print(label, x)
                return x


            def f(x: torch.Tensor) -> torch.Tensor:
                if x.numel() > 100:
                    return debug(x)
                return x
            """,
            line=7,
            error="Unknown type annotation: 'torch.Tensor'",
        ),
    )

    def check_signature(self, ctx: FunctionContext) -> None:
        if _FUTURE_ANNOTATIONS not in ctx.summary.imports:
            return
        node = ctx.node
        params = [*node.params.posonly_params, *node.params.params, *node.params.kwonly_params]
        annotated = [p.annotation for p in params if p.annotation is not None]
        if node.returns is not None:
            annotated.append(node.returns)
        if not annotated:
            return
        first = ctx.code_for(annotated[0].annotation)
        modifier = "@torch.jit.unused" if ctx.info.modifier == "unused" else "@torch.jit.ignore"
        message = (
            f"`{ctx.qualname}` is {modifier} in a file with `from __future__ import annotations`: "
            "TorchScript reads its signature from the live annotations, which are strings it "
            f"cannot resolve, so scripting fails where compiled code calls it (Unknown type "
            f"annotation: '{first}'); write the types as a `# type:` comment"
        )
        fix = _type_comment_fix(ctx, params)
        related = ctx.chain[-1:] if ctx.chain else ()
        ctx.report(node.name, message, fixes=(fix,) if fix else (), related=related)


def _type_comment_fix(ctx: FunctionContext, params: list[cst.Param]) -> Fix | None:
    """The annotations moved into a `# type: (...) -> R` comment on the body's first line
    (TorchScript reads it from the source); None where that cannot be done faithfully."""
    node = ctx.node
    if isinstance(node.params.star_arg, cst.Param):  # *args
        return None
    if node.params.star_kwarg is not None or node.params.kwonly_params:
        return None
    if not isinstance(node.body, cst.IndentedBlock) or not node.body.body:
        return None
    if ("torch", "torch") not in ctx.summary.imports or "# type:" in ctx.code_for(node):
        return None
    if any(dotted(d.decorator) in ("staticmethod", "classmethod") for d in node.decorators):
        return None
    if any(p.default is not None and p.annotation is None for p in params[1:]):
        return None  # `label="x"` would become a Tensor parameter with a str default
    typed = params[1:] if ctx.owner is not None else params  # self
    names = [
        ctx.code_for(p.annotation.annotation) if p.annotation is not None else "torch.Tensor"
        for p in typed
    ]
    returns = ctx.code_for(node.returns.annotation) if node.returns else "torch.Tensor"
    edits = [
        TextEdit(Range(ctx.range(p.name).end, ctx.range(p.annotation).end), "")
        for p in params
        if p.annotation is not None
    ]
    if node.returns is not None:
        # From the end of `)` (the spaces and `->` before the annotation go too).
        end = ctx.range(node.returns).end
        start = ctx.range(node.returns.annotation).start
        head = ctx.line_text(start.line)[: start.column]
        arrow = head.rfind("->")
        if arrow < 0:
            return None
        column = len(head[:arrow].rstrip())
        edits.append(TextEdit(Range.of(start.line, column, end.line, end.column), ""))
    first = node.body.body[0]
    line = ctx.range(first).start.line
    indent = ctx.indent_of(line)
    comment = f"{indent}# type: ({', '.join(names)}) -> {returns}\n"
    edits.append(TextEdit(Range.of(line, 0, line, 0), comment))
    return Fix(f"Move the annotations of `{ctx.info.name}` into a `# type:` comment", tuple(edits))


RULES: tuple[type[Rule], ...] = (UnsupportedAnnotationRule, PostponedAnnotationsRule)
