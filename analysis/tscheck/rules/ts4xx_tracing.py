"""TS401-TS429: tracing hazards, in code that `torch.jit.trace` runs (see `trace_reach`).

Ground truth: torch 2.13. A trace runs the Python once on the example inputs and records
tensor operations; everything Python computes along the way is a constant of the graph.
Measured with `warnings.catch_warnings(record=True)` around `torch.jit.trace`:
- `bool(t)` (an `if` / `while` / `assert` / `and` / `or` / `not` on a tensor), `t.item()`,
  `int(t)`, `float(t)`, `t.tolist()`, `t.numpy()`, `len(t)` and `for v in t` emit a
  `TracerWarning` at their line; so does a comparison of a size in a condition
  (`if x.shape[0] > 2:`) or `int(x.size(0))`, because sizes are traced as 0-dim tensors.
- Sizes used in arithmetic or passed to tensor ops (`x.view(x.shape[0], -1)`,
  `torch.zeros(x.size(0))`) are recorded dynamically: not a hazard. `x.dim()` / `x.ndim` are
  plain ints (a trace is specialised to the rank anyway).
- No warning, but a baked value: `range(x.shape[0])` (the loop is unrolled for the example's
  size), `self.training` (the mode at trace time), `random.*` / `np.random.*` (one draw).
Code under `torch.jit.is_tracing()` decides which branch runs; `@torch.jit.script` and
`@torch.jit.script_if_tracing` functions are compiled, not traced (`trace_reach` skips them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import libcst as cst

from tscheck import cstwalk
from tscheck.model import Family, Severity
from tscheck.rules.base import FunctionContext, Rule, dotted, ex
from tscheck.walk import flag_value

TENSOR = "tensor"  # a traced tensor
LIKE = "like"  # a traced input: a tensor or a tuple/list/dict of tensors
SIZE = "size"  # a torch.Size of a tensor
DIM = "dim"  # one size of a tensor: a 0-dim tensor while tracing
COMPARED = "compared"  # a comparison of a size: a 0-dim bool tensor while tracing
TENSORS = "tensors"  # a tuple of tensors (`x.chunk(3)`)
NUMBER = "number"  # a Python int or float (a literal, a range() loop variable)

# Tensor methods that return a tensor (never a tuple, a Python number or None).
_TENSOR_METHODS = frozenset(
    """abs add all any argmax argmin argsort bmm bool byte ceil clamp clamp_min clamp_max clone
    contiguous cos count_nonzero cpu cuda cumsum detach div double eq exp expand expand_as
    flatten flip float floor gather ge gt half index_select int isnan isinf isfinite le log
    log_softmax logical_and logical_not logical_or long lt masked_fill matmul mean mm mul
    ne neg nonzero norm permute pow prod reciprocal relu repeat reshape round rsqrt sigmoid
    sign sin softmax sqrt square squeeze std sub sum t tanh to transpose type_as unsqueeze
    var view view_as""".split()
)
# ... those that return a tuple of tensors ...
_SPLITS = frozenset({"chunk", "split", "unbind", "tensor_split", "topk", "sort"})
# ... and those that return a tuple when given a dimension.
_REDUCTIONS = frozenset({"max", "min", "median"})
# torch.<name> functions that return a tensor.
_TORCH_FUNCTIONS = frozenset(
    """abs add addmm all any arange argmax argmin as_tensor baddbmm bmm cat ceil clamp clone
    cos count_nonzero cumprod cumsum div dropout einsum empty empty_like eq erf exp expm1
    flatten flip floor fmod full full_like ge gelu gt index_select isfinite isinf isnan le
    linspace log log1p log_softmax logical_and logical_not logical_or lt masked_fill matmul
    maximum mean minimum mm mul narrow ne neg norm ones ones_like outer permute pow prod rand
    rand_like randint randn randn_like relu remainder repeat_interleave reshape roll round
    rsqrt sigmoid sign silu sin softmax sqrt square squeeze stack std sub sum tanh tensor
    transpose tril triu unsqueeze var where zeros zeros_like""".split()
)
_FUNCTIONAL = frozenset(
    """dropout gelu linear log_softmax normalize pad relu sigmoid silu softmax tanh""".split()
)
_CONVERSIONS = {
    "int": "a Python int",
    "float": "a Python float",
    "bool": "a Python bool",
    "complex": "a Python complex",
}
_LEAVING = {"item": "a Python number", "tolist": "a Python list", "numpy": "a NumPy array"}
_SCRIPT_IT = (
    "Move the part that depends on the value into a function decorated with "
    "`@torch.jit.script_if_tracing` (the trace keeps a call to the compiled function), or "
    "script that submodule (`torch.jit.script(sub)`), since traced and scripted code mix."
)


# -- what a value is --------------------------------------------------------------------------


@dataclass
class _Binding:
    """A name bound at `position` (where the binding takes effect, in preorder) inside the
    loops `loops` (ids of their nodes), to `value` (None when unknown)."""

    position: int
    loops: frozenset[int]
    value: cst.BaseExpression | None


@dataclass
class _Facts:
    """Where each name of one traced function is bound, and what to, so that a use sees the
    bindings before it (and those of a loop that holds both)."""

    node: cst.FunctionDef
    summary: object  # the file's index, which names resolve against
    params: dict[str, str | None]
    bindings: dict[str, list[_Binding]]
    starts: dict[int, int]  # id(node) -> preorder index
    loops: dict[int, frozenset[int]]  # id(node) -> ids of the loops around it
    memo: dict[int, str | None]  # id(binding) -> kind
    busy: set[int]

    @property
    def names(self) -> set[str]:
        """Every name the function binds, parameters included."""
        return set(self.params) | set(self.bindings)

    def name_kind(self, node: cst.Name, ctx: FunctionContext) -> str | None:
        name = node.value
        found = self.bindings.get(name, [])
        start = self.starts.get(id(node))
        around = self.loops.get(id(node), frozenset())
        kinds: set[str | None] = {self.params[name]} if name in self.params else set()
        for binding in found:
            if start is not None and binding.position > start and not (binding.loops & around):
                continue  # bound after this use, and not by a loop that repeats it
            key = id(binding)
            if key in self.busy:
                continue  # its own value refers back to it (`x = x + 1` in a loop)
            if key not in self.memo:
                self.busy.add(key)
                value = binding.value
                self.memo[key] = _kind(value, self, ctx) if value is not None else None
                self.busy.discard(key)
            kinds.add(self.memo[key])
        if not kinds:
            return None
        return _join(kinds)


_last: list[_Facts] = []  # the facts of the function being walked (one walk at a time)
_LOOPS = (cst.For, cst.While)


def _facts(ctx: FunctionContext) -> _Facts:
    last = _last[0] if _last else None  # one read: another thread may replace it
    if last is not None and last.node is ctx.node and last.summary is ctx.summary:
        return last
    facts = _Facts(ctx.node, ctx.summary, _param_kinds(ctx), {}, {}, {}, {}, set())
    # One depth-first pass: each node's preorder index and loops; each binding's position is
    # the index after its statement's value (the body's, for a for loop's target).
    counter = 0
    stack: list[tuple[cst.CSTNode, frozenset[int], bool]] = [(ctx.node.body, frozenset(), False)]
    while stack:
        node, loops, done = stack.pop()
        if done:
            for name, value in _bindings(node):
                at = facts.starts[id(node.body)] if isinstance(node, cst.For) else counter
                facts.bindings.setdefault(name, []).append(_Binding(at, loops, value))
            continue
        facts.starts[id(node)] = counter
        facts.loops[id(node)] = loops
        counter += 1
        if cstwalk.is_opaque(type(node)):
            continue
        inner = loops | {id(node)} if isinstance(node, _LOOPS) else loops
        stack.append((node, loops, True))
        below = list(cstwalk.children(node))
        below.reverse()
        stack.extend((child, inner, False) for child in below)
    _last[:] = [facts]
    return facts


def _join(kinds: set[str | None]) -> str | None:
    """The kind of a name bound several times: one kind, or LIKE for tensors and traced
    values mixed (`x = self.block(x)` over a tensor `x`); None otherwise."""
    if len(kinds) == 1:
        return next(iter(kinds))
    return LIKE if kinds == {TENSOR, LIKE} else None


def _param_kinds(ctx: FunctionContext) -> dict[str, str | None]:
    """Parameters annotated Tensor are tensors; unannotated ones without a default that a
    trace passes along are traced inputs (a tensor, or a container of tensors)."""
    params = ctx.node.params
    out: dict[str, str | None] = {}
    for param in [*params.posonly_params, *params.params, *params.kwonly_params]:
        name = param.name.value
        if param.annotation is not None:
            text = ctx.resolve(dotted(param.annotation.annotation))
            out[name] = TENSOR if text == "torch.Tensor" else None
        elif param.default is None and name != "self":
            out[name] = LIKE
        else:
            out[name] = None
    return out


def _bindings(node: cst.CSTNode) -> list[tuple[str, cst.BaseExpression | None]]:
    """(name, value) for each plain name a statement binds (value None when unknown)."""
    if isinstance(node, cst.Assign):
        out: list[tuple[str, cst.BaseExpression | None]] = []
        for target in node.targets:
            if isinstance(target.target, cst.Name):
                out.append((target.target.value, node.value))
            elif isinstance(target.target, (cst.Tuple, cst.List)) and all(
                isinstance(e.value, cst.Name) for e in target.target.elements
            ):
                # `B, T, C = x.shape`: each name is an element of the value.
                item = cst.Subscript(
                    node.value, [cst.SubscriptElement(cst.Index(cst.Integer("0")))]
                )
                out.extend((name, item) for name in _names(target.target))
            else:
                out.extend((name, None) for name in _names(target.target))
        return out
    if isinstance(node, cst.AnnAssign) and isinstance(node.target, cst.Name):
        return [(node.target.value, node.value)]
    if isinstance(node, cst.AugAssign) and isinstance(node.target, cst.Name):
        value = cst.BinaryOperation(node.target, cst.Add(), node.value)
        return [(node.target.value, value)]
    if isinstance(node, (cst.For, cst.CompFor)):
        it = node.iter
        if (
            isinstance(node.target, cst.Name)
            and isinstance(it, cst.Call)
            and isinstance(it.func, cst.Name)
            and it.func.value == "range"
        ):
            return [(node.target.value, cst.Integer("0"))]  # a Python int
        return [(name, None) for name in _names(node.target)]
    if isinstance(node, cst.NamedExpr) and isinstance(node.target, cst.Name):
        return [(node.target.value, node.value)]
    if isinstance(node, (cst.WithItem,)) and node.asname is not None:
        return [(name, None) for name in _names(node.asname.name)]
    return []


def _names(target: cst.CSTNode) -> list[str]:
    if isinstance(target, cst.Name):
        return [target.value]
    if isinstance(target, (cst.Tuple, cst.List)):
        return [n for e in target.elements for n in _names(e.value)]
    if isinstance(target, cst.StarredElement):
        return _names(target.value)
    return []


def _kind(expr: cst.BaseExpression, facts: _Facts, ctx: FunctionContext) -> str | None:
    """TENSOR, LIKE, SIZE, DIM, COMPARED, or None (anything else, or unknown)."""
    if isinstance(expr, cst.Name):
        return facts.name_kind(expr, ctx)
    if isinstance(expr, cst.Attribute):
        base = _kind(expr.value, facts, ctx)
        if base in (TENSOR, LIKE):
            if expr.attr.value == "shape":
                return SIZE
            if expr.attr.value in ("T", "mT", "data", "real", "imag"):
                return TENSOR
        return None
    if isinstance(expr, cst.Subscript):
        base = _kind(expr.value, facts, ctx)
        if base in (TENSOR, TENSORS):
            return TENSOR
        if base == SIZE and len(expr.slice) == 1 and isinstance(expr.slice[0].slice, cst.Index):
            return DIM
        return None
    if isinstance(expr, cst.Call):
        return _call_kind(expr, facts, ctx)
    if isinstance(expr, cst.BinaryOperation):
        left, right = _kind(expr.left, facts, ctx), _kind(expr.right, facts, ctx)
        if TENSOR in (left, right):
            return TENSOR
        if left == right == LIKE:
            return LIKE  # tensors, or containers joined
        if LIKE in (left, right):
            if NUMBER not in (left, right):
                return None
            if isinstance(expr.operator, (cst.Add, cst.Subtract, cst.Divide, cst.Power)):
                return TENSOR  # a tuple or list plus a number raises: this is a tensor
            if isinstance(expr.operator, cst.Multiply):
                return LIKE  # a tensor, or a container repeated
        if DIM in (left, right) and LIKE not in (left, right) and SIZE not in (left, right):
            return DIM
        return NUMBER if left == right == NUMBER else None
    if isinstance(expr, (cst.Integer, cst.Float)):
        return NUMBER
    if isinstance(expr, cst.UnaryOperation) and isinstance(
        expr.operator, (cst.Minus, cst.BitInvert)
    ):
        inner = _kind(expr.expression, facts, ctx)
        return inner if inner in (TENSOR, DIM) else None
    if isinstance(expr, cst.Comparison):
        return _comparison_kind(expr, facts, ctx)
    return None


def _comparison_kind(expr: cst.Comparison, facts: _Facts, ctx: FunctionContext) -> str | None:
    operators = [target.operator for target in expr.comparisons]
    if any(isinstance(op, (cst.Is, cst.IsNot, cst.In, cst.NotIn)) for op in operators):
        return None
    kinds = [
        _kind(expr.left, facts, ctx),
        *(_kind(t.comparator, facts, ctx) for t in expr.comparisons),
    ]
    if TENSOR in kinds:
        return TENSOR
    ordering = all(
        isinstance(op, (cst.LessThan, cst.LessThanEqual, cst.GreaterThan, cst.GreaterThanEqual))
        for op in operators
    )
    if LIKE in kinds and ordering:
        return TENSOR  # `<` on a tuple and a number raises, so this one is a tensor
    if DIM in kinds and LIKE not in kinds and SIZE not in kinds:
        return COMPARED
    return None


def _call_kind(call: cst.Call, facts: _Facts, ctx: FunctionContext) -> str | None:
    func = call.func
    if any(arg.keyword is not None and arg.keyword.value == "as_tuple" for arg in call.args):
        return TENSORS if _call_kind_plain(call, facts, ctx) == TENSOR else None
    found = _call_kind_plain(call, facts, ctx)
    if found == TENSOR and ctx.resolve(dotted(func)) == "torch.where" and len(call.args) == 1:
        return TENSORS  # torch.where(condition) is nonzero(as_tuple=True)
    return found


def _call_kind_plain(call: cst.Call, facts: _Facts, ctx: FunctionContext) -> str | None:
    func = call.func
    if isinstance(func, cst.Attribute):
        receiver = _kind(func.value, facts, ctx)
        method = func.attr.value
        if receiver in (TENSOR, LIKE):
            if method in _TENSOR_METHODS:
                return TENSOR
            if method in _REDUCTIONS:
                return TENSORS if call.args else TENSOR  # (values, indices) along a dim
            if method in _SPLITS:
                return TENSORS
            if method == "size":
                return DIM if call.args else SIZE
            return None
    name = dotted(func)
    if not name:
        return None
    owner = ctx.owner
    head, _, attr = name.partition(".")
    if head == "self" and owner is not None and any(s.attr == attr for s in owner.submodules):
        return LIKE  # a submodule's output: a tensor, or a container of tensors
    resolved = ctx.resolve(name)
    head, _, last = resolved.rpartition(".")
    if head == "torch" and last in _TORCH_FUNCTIONS:
        return TENSOR
    if head == "torch" and last in _SPLITS:
        return TENSORS
    if head == "torch.nn.functional" and last in _FUNCTIONAL:
        return TENSOR
    return None


# -- where the trace does not go ---------------------------------------------------------------


# While tracing, `torch.jit.is_tracing()` is True and `torch.jit.is_scripting()` False.
_TRACING_FLAGS = {
    "is_tracing": True,
    "_is_tracing": True,
    "is_scripting": False,
    "_is_scripting": False,
}


def _tracing_value(test: cst.BaseExpression) -> bool | None:
    """The value of `test` while tracing, when `torch.jit.is_tracing()` (True) or
    `torch.jit.is_scripting()` (False) decides it, through `not`, `and`, `or`."""
    return flag_value(test, _TRACING_FLAGS)


def _skipped(node: cst.CSTNode, ctx: FunctionContext) -> bool:
    """Whether `node` is in a branch that tracing never runs (decided by is_tracing /
    is_scripting), or in the test that decides it."""
    path = [*ctx.ancestors, node]
    for i, above in enumerate(path[:-1]):
        if _after_tracing_return(above, path[i + 1]):
            return True
        if not isinstance(above, (cst.If, cst.IfExp)):
            continue
        value = _tracing_value(above.test)
        if value is None:
            continue
        child = path[i + 1]
        if child is above.test:
            return True
        if _in_body(above, child) != value:
            return True
    return False


def _after_tracing_return(block: cst.CSTNode, child: cst.CSTNode) -> bool:
    """Whether an earlier statement of `block` returns whenever tracing
    (`if torch.jit.is_tracing(): return ...`), so that `child` never runs in a trace."""
    if not isinstance(block, cst.IndentedBlock):
        return False
    for statement in block.body:
        if statement is child:
            return False
        if (
            isinstance(statement, cst.If)
            and _tracing_value(statement.test) is True
            and _ends_in_exit(statement.body)
        ):
            return True
    return False


def _ends_in_exit(body: cst.BaseSuite) -> bool:
    last = body.body[-1] if isinstance(body, cst.IndentedBlock) and body.body else None
    return isinstance(last, cst.SimpleStatementLine) and any(
        isinstance(s, (cst.Return, cst.Raise)) for s in last.body
    )


def _in_body(node: cst.If | cst.IfExp, child: cst.CSTNode) -> bool:
    if isinstance(node, cst.IfExp):
        return child is node.body
    return child is node.body or any(child is s for s in node.body.body)


# -- the rules ---------------------------------------------------------------------------------


class TracingRule(Rule):
    """A rule about code a trace runs: the engine runs these on the traced set only."""

    family = Family.DYNAMIC_BEHAVIORS
    severity = Severity.WARNING
    # They also see the branch of `torch.jit.is_scripting()` that scripting skips, which is
    # the branch a trace runs; `_skipped` decides.
    frontend = True


def _conditions(test: cst.BaseExpression) -> list[cst.BaseExpression]:
    """The parts of a condition that Python converts to bool: both sides of `and` / `or`,
    the operand of `not`."""
    if isinstance(test, cst.BooleanOperation):
        return [*_conditions(test.left), *_conditions(test.right)]
    if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
        return _conditions(test.expression)
    return [test]


class TensorConditionRule(TracingRule):
    code = "TS401"
    name = "tensor-condition"
    summary = "Python control flow on a tensor value: the trace keeps only the branch taken"
    explanation = f"""
    **What it does.** In code that `torch.jit.trace` runs, flags an `if`, `while`, ternary or
    `assert` whose condition (or a side of its `and` / `or` / `not`) is a tensor, such as
    `x.sum() > 0`, or a comparison of a tensor's size (`x.shape[0] > 2`).

    **Why it is a hazard.** The trace calls `bool()` on the value once, with the example
    inputs (`TracerWarning: Converting a tensor to a Python boolean might cause the trace to
    be incorrect`), runs the branch it chose and records only that branch. The traced module
    takes the same branch for every later input, whatever its values or shape; a `while`
    loop is unrolled as many times as it ran.

    **How to fix.** Express the choice with tensor operations (`torch.where(x.sum() > 0,
    a, b)`), or keep the control flow compiled: {_SCRIPT_IT}
    """
    VALID = (
        ex(
            """
            import torch
            import torch.nn as nn


            @torch.jit.script_if_tracing
            def positive_part(x: torch.Tensor) -> torch.Tensor:
                if bool(x.sum() > 0):
                    return x * 2
                return x


            class M(nn.Module):
                def forward(self, x: torch.Tensor, flag: bool = True):
                    if flag:
                        x = x + 1
                    y = torch.where(x.sum() > 0, x * 2, x)
                    if x.dim() == 2:
                        y = y.view(x.shape[0], -1)
                    return positive_part(y)
            """,
            trace_inputs="(torch.ones(2, 3),)",
            second_inputs="(-torch.ones(4, 3),)",
        ),
        ex(
            """
            import torch
            import torch.nn as nn


            class M(nn.Module):
                def forward(self, x):
                    if torch.jit.is_tracing():
                        return torch.relu(x)
                    if x.sum() > 0:
                        return x
                    return torch.zeros_like(x)
            """,
            trace_inputs="(torch.ones(2, 3),)",
            second_inputs="(-torch.ones(2, 3),)",
        ),
    )
    INVALID = (
        ex(
            """
            import torch
            import torch.nn as nn


            class M(nn.Module):
                def forward(self, x):
                    if x.sum() > 0:
                        return x * 2
                    return x
            """,
            line=7,
            error="Converting a tensor to a Python boolean",
            trace_inputs="(torch.ones(2, 3),)",
            second_inputs="(-torch.ones(2, 3),)",
        ),
        ex(
            """
            import torch
            import torch.nn as nn


            class Pad(nn.Module):
                def forward(self, x: torch.Tensor) -> torch.Tensor:
                    n = x.shape[0]
                    if n < 4:
                        x = torch.cat([x, torch.zeros(4 - n, x.shape[1])])
                    return x


            class M(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.pad = Pad()

                def forward(self, x):
                    return self.pad(x) + 1
            """,
            line=8,
            error="Converting a tensor to a Python boolean",
            trace_inputs="(torch.ones(2, 3),)",
            second_inputs="(torch.ones(5, 3),)",
        ),
    )

    def visit_If(self, node: cst.If, ctx: FunctionContext) -> None:
        self._check(node, node.test, "if", ctx)

    def visit_While(self, node: cst.While, ctx: FunctionContext) -> None:
        self._check(node, node.test, "while", ctx)

    def visit_IfExp(self, node: cst.IfExp, ctx: FunctionContext) -> None:
        self._check(node, node.test, "ternary", ctx)

    def visit_Assert(self, node: cst.Assert, ctx: FunctionContext) -> None:
        self._check(node, node.test, "assert", ctx)

    def _check(
        self, node: cst.CSTNode, test: cst.BaseExpression, where: str, ctx: FunctionContext
    ) -> None:
        if _tracing_value(test) is not None or _skipped(node, ctx):
            return
        facts = _facts(ctx)
        for part in _conditions(test):
            kind = _kind(part, facts, ctx)
            if kind not in (TENSOR, COMPARED):
                continue
            code = ctx.code_for(part)
            if where == "while":
                baked = "the loop is unrolled as many times as it ran for the example inputs"
            elif where == "assert":
                baked = "the check is not part of the traced graph"
            else:
                baked = "only the branch taken for the example inputs is recorded"
            if kind == COMPARED:
                what = f"`{code}` compares a tensor size, which tracing treats as a tensor"
            else:
                what = f"`{code}` is a tensor"
            ctx.report(
                part,
                f"{what}: tracing converts it to a Python bool once (TracerWarning), and "
                f"{baked}; later inputs get the same result. Use torch.where, or move this "
                "into a @torch.jit.script_if_tracing function",
            )


class TensorToPythonRule(TracingRule):
    code = "TS402"
    name = "tensor-to-python-value"
    summary = "A tensor converted to a Python value: the trace records it as a constant"
    explanation = f"""
    **What it does.** In code that `torch.jit.trace` runs, flags `t.item()`, `t.tolist()`,
    `t.numpy()`, `int(t)`, `float(t)`, `bool(t)` and `len(t)` on a tensor, and
    `int(x.size(0))` / `float(x.shape[1])` / `math.sqrt(x.size(-1))` on a tensor's size.

    **Why it is a hazard.** The trace can only record tensor operations. Converting a tensor
    (or a size, which tracing treats as a 0-dim tensor) to a Python number, list or NumPy
    array gives a value the trace cannot follow: it emits `TracerWarning: Converting a tensor
    to a Python number might cause the trace to be incorrect` and stores the value it saw as
    a constant, so every later input reuses the example inputs' number.

    **How to fix.** Keep values as tensors (`x.sum()` instead of `x.sum().item()`, pass
    `x.size(0)` itself to tensor ops, which records it dynamically), or: {_SCRIPT_IT}
    """
    VALID = (
        ex(
            """
            import torch
            import torch.nn as nn


            class M(nn.Module):
                def forward(self, x: torch.Tensor):
                    total = x.sum()
                    rows = torch.zeros(x.size(0), 1)
                    return x / total + rows
            """,
            trace_inputs="(torch.ones(2, 3),)",
            second_inputs="(torch.full((4, 3), 2.0),)",
        ),
    )
    INVALID = (
        ex(
            """
            import torch
            import torch.nn as nn


            class M(nn.Module):
                def forward(self, x):
                    scale = x.abs().max().item()
                    return x / scale
            """,
            line=7,
            error="Converting a tensor to a Python number",
            trace_inputs="(torch.ones(2, 3),)",
            second_inputs="(torch.full((2, 3), 4.0),)",
        ),
        ex(
            """
            import torch


            def f(x: torch.Tensor):
                n = int(x.shape[0])
                return torch.ones(n) * x.sum()
            """,
            line=5,
            error="Converting a tensor to a Python integer",
            trace_inputs="(torch.ones(2, 3),)",
            second_inputs="(torch.ones(5, 3),)",
        ),
        ex(
            """
            import torch


            def f(x: torch.Tensor):
                values = x.tolist()
                return torch.tensor(values) + 1
            """,
            line=5,
            error="Converting a tensor to a Python list",
            trace_inputs="(torch.ones(2),)",
            second_inputs="(torch.zeros(2),)",
        ),
        ex(
            """
            import math

            import torch


            def f(x: torch.Tensor):
                batch, width = x.shape
                return x / math.sqrt(width)
            """,
            line=8,
            error="Converting a tensor to a Python float",
            trace_inputs="(torch.ones(2, 4),)",
            second_inputs="(torch.ones(2, 9),)",
        ),
        ex(
            """
            import torch


            def f(x: torch.Tensor):
                return x.sum(0) / len(x)
            """,
            line=5,
            error="Using len to get tensor shape",
            trace_inputs="(torch.ones(2, 3),)",
            second_inputs="(torch.ones(4, 3),)",
        ),
    )

    def visit_Call(self, node: cst.Call, ctx: FunctionContext) -> None:
        func = node.func
        if isinstance(func, cst.Attribute):
            what = _LEAVING.get(func.attr.value)
            if what is None:
                if ctx.resolve(dotted(func)).startswith("math."):
                    self._math(node, ctx)
                return
            if node.args:
                return
            if _kind(func.value, _facts(ctx), ctx) not in (TENSOR, LIKE) or _skipped(node, ctx):
                return
            self._report(node, what, ctx)
            return
        if not isinstance(func, cst.Name) or len(node.args) != 1:
            return
        if func.value in _facts(ctx).names:
            return  # a local that shadows the builtin
        kind = _kind(node.args[0].value, _facts(ctx), ctx)
        if func.value == "len":
            # `range(len(t))` in a for loop is TS403's (the loop is what gets baked).
            outer = ctx.parent(2)
            in_range = (
                isinstance(outer, cst.Call)
                and isinstance(outer.func, cst.Name)
                and outer.func.value == "range"
                and isinstance(ctx.parent(3), cst.For)
            )
            if kind == TENSOR and not in_range and not _skipped(node, ctx):
                self._report(node, "a Python int (its length)", ctx)
            return
        what = _CONVERSIONS.get(func.value)
        if what is not None and kind in (TENSOR, DIM, COMPARED) and not _skipped(node, ctx):
            self._report(node, what, ctx)

    def _math(self, node: cst.Call, ctx: FunctionContext) -> None:
        """`math.sqrt(x.size(-1))`: the math module takes Python floats."""
        facts = _facts(ctx)
        if any(_kind(a.value, facts, ctx) in (TENSOR, DIM) for a in node.args):
            if not _skipped(node, ctx):
                self._report(node, "a Python float", ctx)

    def _report(self, node: cst.Call, what: str, ctx: FunctionContext) -> None:
        ctx.report(
            node,
            f"`{ctx.code_for(node)}` turns a tensor into {what}: tracing records the value "
            "seen with the example inputs as a constant (TracerWarning), so later inputs "
            "reuse it. Keep it a tensor, or move this into a @torch.jit.script_if_tracing "
            "function",
        )


class TensorLoopRule(TracingRule):
    code = "TS403"
    name = "tensor-loop-count"
    summary = "A loop whose count comes from a tensor: the trace unrolls it for the example"
    explanation = f"""
    **What it does.** In code that `torch.jit.trace` runs, flags `for` loops over
    `range(...)` of a tensor's size or value (`range(x.shape[0])`, `range(x.size(1))`,
    `range(len(x))`), and loops that iterate over a tensor itself (`for row in x`).

    **Why it is a hazard.** A trace records the operations each iteration ran, one after the
    other: the loop is unrolled for the example inputs' size. `range(x.shape[0])` emits no
    warning at all, yet the traced module runs the same number of iterations for every later
    input (`for row in x` warns `Iterating over a tensor`). A batch of another size gives a
    wrong result or a shape error.

    **How to fix.** Vectorise the loop (operate on the whole tensor, `torch.cumsum`,
    batched ops), or keep it compiled: {_SCRIPT_IT}
    """
    VALID = (
        ex(
            """
            import torch
            import torch.nn as nn


            class M(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.steps = 3

                def forward(self, x: torch.Tensor):
                    for _ in range(self.steps):
                        x = x * 2
                    return x.cumsum(0)
            """,
            trace_inputs="(torch.ones(2, 3),)",
            second_inputs="(torch.ones(5, 3),)",
        ),
    )
    INVALID = (
        ex(
            """
            import torch
            import torch.nn as nn


            class M(nn.Module):
                def forward(self, x):
                    total = torch.zeros(x.shape[1])
                    for i in range(x.shape[0]):
                        total = total + x[i]
                    return total
            """,
            line=8,
            error="diverges",
            trace_inputs="(torch.ones(2, 3),)",
            second_inputs="(torch.ones(5, 3),)",
        ),
        ex(
            """
            import torch


            def f(x: torch.Tensor):
                out = torch.zeros(x.shape[1])
                for row in x:
                    out = out + row
                return out
            """,
            line=6,
            error="Iterating over a tensor",
            trace_inputs="(torch.ones(2, 3),)",
            second_inputs="(torch.ones(5, 3),)",
        ),
    )

    def visit_For(self, node: cst.For, ctx: FunctionContext) -> None:
        facts = _facts(ctx)
        it = node.iter
        if _kind(it, facts, ctx) == TENSOR:
            message = (
                f"iterating over the tensor `{ctx.code_for(it)}`: tracing unrolls the loop "
                "once per row of the example input (TracerWarning), so later inputs run the "
                "same number of iterations"
            )
        elif (
            isinstance(it, cst.Call)
            and isinstance(it.func, cst.Name)
            and it.func.value == "range"
            and "range" not in facts.names
            and any(self._from_tensor(arg.value, facts, ctx) for arg in it.args)
        ):
            message = (
                f"`{ctx.code_for(it)}` counts with a tensor's size or value: tracing unrolls "
                "the loop for the example inputs, so later inputs run the same number of "
                "iterations"
            )
        else:
            return
        if _skipped(node, ctx):
            return
        ctx.report(
            it,
            f"{message}. Vectorise it, or move it into a @torch.jit.script_if_tracing function",
        )

    def _from_tensor(self, expr: cst.BaseExpression, facts: _Facts, ctx: FunctionContext) -> bool:
        if _kind(expr, facts, ctx) in (TENSOR, DIM):
            return True
        return (
            isinstance(expr, cst.Call)
            and isinstance(expr.func, cst.Name)
            and expr.func.value == "len"
            and "len" not in facts.names
            and len(expr.args) == 1
            and _kind(expr.args[0].value, facts, ctx) == TENSOR
        )


class TrainingModeRule(TracingRule):
    code = "TS404"
    name = "training-mode-baked"
    summary = "`self.training` read while tracing: the trace keeps the mode it was traced in"
    explanation = f"""
    **What it does.** In code that `torch.jit.trace` runs, flags reads of `self.training`
    (an `if self.training:` branch, `F.dropout(x, p, self.training)`).

    **Why it is a hazard.** `self.training` is a Python bool: the trace evaluates it once
    and records the branch (or the flag) of the mode the module was in when traced, `train()`
    unless `.eval()` was called first. Calling `.eval()` or `.train()` on the traced module
    afterwards changes nothing, and no warning is given.

    **How to fix.** Trace the mode you will deploy (`model.eval()` before
    `torch.jit.trace`), and trace once per mode if both are needed; or: {_SCRIPT_IT}
    (a scripted submodule keeps `self.training` as a real attribute).
    """
    VALID = (
        ex(
            """
            import torch
            import torch.nn as nn


            class M(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.drop = nn.Dropout(0.5)

                def forward(self, x: torch.Tensor):
                    return torch.relu(x) * 2
            """,
            trace_inputs="(torch.ones(2, 3),)",
            second_inputs="(torch.ones(2, 3),)",
            call="m.eval(); eager.eval()",
        ),
    )
    INVALID = (
        ex(
            """
            import torch
            import torch.nn as nn


            class M(nn.Module):
                def forward(self, x):
                    if self.training:
                        x = x * 2
                    return x + 1
            """,
            line=7,
            error="diverges",
            trace_inputs="(torch.ones(2, 3),)",
            second_inputs="(torch.ones(2, 3),)",
            call="m.eval(); eager.eval()",
        ),
    )

    def visit_Attribute(self, node: cst.Attribute, ctx: FunctionContext) -> None:
        if node.attr.value != "training" or not isinstance(node.value, cst.Name):
            return
        if node.value.value != "self" or ctx.owner is None:
            return
        parent = ctx.parent()
        if isinstance(parent, cst.AssignTarget) or _skipped(node, ctx):
            return
        ctx.report(
            node,
            "`self.training` is read while tracing: the trace records the value it had then "
            "(train() unless .eval() was called first), and .eval() / .train() on the traced "
            "module do not change it. Trace in the mode you deploy, or script this submodule",
        )


class PythonRandomRule(TracingRule):
    code = "TS405"
    name = "python-random-baked"
    summary = "Python or NumPy randomness while tracing: the trace keeps the one value drawn"
    explanation = """
    **What it does.** In code that `torch.jit.trace` runs, flags calls into Python's `random`
    module and `numpy.random`.

    **Why it is a hazard.** The trace cannot see into Python's or NumPy's generators: the
    number drawn while tracing becomes a constant of the graph, so the traced module gives
    the same "random" value on every call, and no warning is given.

    **How to fix.** Draw with torch (`torch.rand`, `torch.randint`, `torch.randn_like`),
    which the trace records as an operation that draws anew on every call.
    """
    VALID = (
        ex(
            """
            import torch
            import torch.nn as nn


            class M(nn.Module):
                def forward(self, x: torch.Tensor):
                    noise = torch.rand(1) * 0.0
                    return x + noise
            """,
            trace_inputs="(torch.ones(2, 3),)",
            second_inputs="(torch.ones(2, 3),)",
        ),
    )
    INVALID = (
        ex(
            """
            import random

            import torch
            import torch.nn as nn


            class M(nn.Module):
                def forward(self, x):
                    scale = random.uniform(0.5, 1.5)
                    return x * scale
            """,
            line=9,
            error="check_trace: Graphs differed across invocations",
            trace_inputs="(torch.ones(2, 3),)",
            second_inputs="(torch.ones(2, 3),)",
        ),
        ex(
            """
            import numpy as np
            import torch


            def f(x: torch.Tensor):
                return x + float(np.random.rand())
            """,
            line=6,
            error="check_trace: Graphs differed across invocations",
            trace_inputs="(torch.ones(2, 3),)",
            second_inputs="(torch.ones(2, 3),)",
        ),
    )

    def visit_Call(self, node: cst.Call, ctx: FunctionContext) -> None:
        name = dotted(node.func)
        if "." not in name:
            return
        resolved = ctx.resolve(name)
        if not (resolved.startswith("random.") or resolved.startswith("numpy.random.")):
            return
        if resolved.count(".") != (1 if resolved.startswith("random.") else 2):
            return
        if _skipped(node, ctx):
            return
        ctx.report(
            node,
            f"`{ctx.code_for(node)}` draws a Python number while tracing: the trace records "
            "that one value as a constant, and every call of the traced module reuses it. "
            "Draw with torch (torch.rand, torch.randint), which the trace records",
        )


_GLOBAL = re.compile(r"^[ \t]+global[ \t]+([A-Za-z_][\w \t,]*)", re.MULTILINE)
_rebound: list[tuple[str, frozenset[str]]] = []  # (file text, names) of the last file read


def _rebound_globals(ctx: FunctionContext) -> frozenset[str]:
    """Module-level names that some function of this file rebinds with `global`."""
    text = ctx.blocks.text
    last = _rebound[0] if _rebound else None
    if last is not None and last[0] is text:
        return last[1]
    names: frozenset[str] = frozenset()
    if "global" in text:
        names = frozenset(
            name.strip()
            for match in _GLOBAL.finditer(text)
            for name in match.group(1).split(",")
            if name.strip()
        )
    _rebound[:] = [(text, names)]
    return names


class MutableGlobalRule(TracingRule):
    code = "TS406"
    name = "mutable-global-baked"
    summary = (
        "A module global that other code rebinds, read while tracing: the trace keeps its value"
    )
    explanation = """
    **What it does.** In code that `torch.jit.trace` runs, flags reads of a module-level name
    that some function of the same file rebinds with a `global` statement (a setting changed
    at run time).

    **Why it is a hazard.** A Python number or flag read during tracing becomes a constant
    of the graph. After `set_scale(3.0)` eager Python uses the new value, the traced module
    still the one it saw while tracing, and no warning is given.

    **How to fix.** Make the value an input of `forward` (a tensor), or a buffer of the
    module (`self.register_buffer("scale", torch.tensor(2.0))`, updated in place), which the
    trace reads as a tensor on every call.
    """
    VALID = (
        ex(
            """
            import torch

            EPS = 1e-5


            def f(x: torch.Tensor):
                return x / (x.abs().sum() + EPS)
            """,
            trace_inputs="(torch.ones(2, 3),)",
            second_inputs="(torch.full((2, 3), 3.0),)",
        ),
    )
    INVALID = (
        ex(
            """
            import torch

            SCALE = 2.0


            def set_scale(value: float) -> None:
                global SCALE
                SCALE = value


            def f(x: torch.Tensor):
                return x * SCALE
            """,
            line=12,
            error="diverges",
            trace_inputs="(torch.ones(2, 3),)",
            second_inputs="(torch.ones(2, 3),)",
            call="set_scale(3.0)",
        ),
    )

    def visit_Name(self, node: cst.Name, ctx: FunctionContext) -> None:
        name = node.value
        if name not in _rebound_globals(ctx) or name in _facts(ctx).names:
            return
        parent = ctx.parent()
        if isinstance(parent, (cst.AssignTarget, cst.NameItem, cst.Param)):
            return
        if isinstance(parent, cst.Attribute) and parent.attr is node:
            return
        if isinstance(parent, (cst.Arg, cst.Call)) and getattr(parent, "keyword", None) is node:
            return
        if _skipped(node, ctx):
            return
        ctx.report(
            node,
            f"`{name}` is a module global that this file rebinds with `global {name}`: the "
            "trace reads it once and records its value as a constant, so later changes do not "
            "reach the traced module. Pass it as a tensor input or keep it in a buffer",
        )


RULES = (
    TensorConditionRule,
    TensorToPythonRule,
    TensorLoopRule,
    TrainingModeRule,
    PythonRandomRule,
    MutableGlobalRule,
)
