"""The TorchScript type model: what TorchScript believes the type of a name or expression is.

Public API (stable; rules of the TS2xx family build on it):

- `TSType`: a frozen dataclass, `kind` plus `args` (element types) and `qualname` (classes).
  Kinds: Tensor, int, float, bool, str, complex, None, device, dtype, number, Any, List,
  Tuple, Dict, Optional, Union, Class, Module, NamedTuple. `str(t)` renders it the way
  TorchScript writes types in its messages (`Optional[Tensor]`, `List[int]`, `NoneType`).
  `t.inferred` marks a Tensor that TorchScript assumed for an unannotated parameter (it
  prints `Tensor (inferred)`); it takes no part in equality.
- Constants `TENSOR`, `INT`, `FLOAT`, `BOOL`, `STR`, `NONE`, `ANY`, `DEVICE`, `DTYPE`, and
  constructors `list_of`, `tuple_of`, `dict_of`, `optional_of`, `union_of`.
- `from_annotation(expr, resolve) -> TSType | None`: an annotation as written in a file;
  `resolve` qualifies a dotted name through the file's imports (`FunctionContext.resolve`).
- `FunctionTypes` (via `function_types(ctx)`, cached per compiled function): parameter types,
  local variable types and the return type; `env.type_of(expr)` types an expression.
- `attribute_type(owner, name)`: the type of `self.<name>`, where the index records enough
  (today: submodules, as Module).
- `type_of(expr, env)` takes any `TypeEnv` (FunctionTypes, or a rule's flow-sensitive view);
  `element_type(iterable, env)` types a `for` target; `literal_type(node)` a literal.

Unknown always stays None: a rule must never report on a None. The model is deliberately
flow-insensitive: a local has a type only when every binding in the function agrees on it
(TorchScript lets straight-line code rebind a name to another type, so a single binding is
not enough). Flow-sensitive checks (joins at `if` and loops) live in the rules.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import libcst as cst

from tscheck.cstwalk import dotted

if TYPE_CHECKING:
    from tscheck.index import ClassInfo
    from tscheck.rules.base import FunctionContext

Resolve = Callable[[str], str]


class TypeEnv(Protocol):
    """What `type_of` needs: `FunctionTypes`, or a flow-sensitive view a rule builds."""

    @property
    def resolve(self) -> Resolve: ...

    @property
    def owner(self) -> ClassInfo | None: ...

    def name_type(self, name: str) -> TSType | None: ...

    def is_local(self, name: str) -> bool: ...


@dataclass(frozen=True)
class TSType:
    kind: str
    args: tuple[TSType, ...] = ()
    qualname: str = ""  # Class / Module / NamedTuple: the resolved class name
    inferred: bool = field(default=False, compare=False)  # Tensor assumed for no annotation

    def __str__(self) -> str:
        if self.kind == "None":
            return "NoneType"
        if self.kind in ("Class", "Module", "NamedTuple"):
            return self.qualname.rsplit(".", 1)[-1] or self.kind
        if self.kind == "device":
            return "Device"
        if self.kind == "dtype":
            return "int"  # TorchScript represents dtypes as ints
        if self.kind == "Tensor" and self.inferred:
            return "Tensor (inferred)"
        if self.args or self.kind == "Tuple":
            return f"{self.kind}[{', '.join(str(a) for a in self.args)}]"
        return self.kind

    @property
    def is_optional(self) -> bool:
        return self.kind == "Optional" or (
            self.kind == "Union" and any(a.kind == "None" for a in self.args)
        )

    @property
    def inner(self) -> TSType:
        """`T` for `Optional[T]` (and for a Union with None and one other member), else self."""
        if self.kind == "Optional":
            return self.args[0]
        if self.kind == "Union":
            rest = tuple(a for a in self.args if a.kind != "None")
            if len(rest) == 1:
                return rest[0]
            if len(rest) < len(self.args):
                return TSType("Union", rest)
        return self

    @property
    def is_number(self) -> bool:
        return self.kind in ("int", "float", "bool", "complex", "number")

    @property
    def is_container(self) -> bool:
        return self.kind in ("List", "Tuple", "Dict")


TENSOR = TSType("Tensor")
INFERRED_TENSOR = TSType("Tensor", inferred=True)
INT = TSType("int")
FLOAT = TSType("float")
BOOL = TSType("bool")
STR = TSType("str")
COMPLEX = TSType("complex")
NONE = TSType("None")
ANY = TSType("Any")
DEVICE = TSType("device")
DTYPE = TSType("dtype")
NUMBER = TSType("number")  # `.item()`: a Scalar, int or float decided at run time


def list_of(element: TSType) -> TSType:
    return TSType("List", (element,))


def tuple_of(*elements: TSType) -> TSType:
    return TSType("Tuple", tuple(elements))


def dict_of(key: TSType, value: TSType) -> TSType:
    return TSType("Dict", (key, value))


def optional_of(inner: TSType) -> TSType:
    if inner.kind in ("Optional", "None", "Any"):
        return inner
    return TSType("Optional", (inner,))


def union_of(members: tuple[TSType, ...]) -> TSType:
    """Union of distinct members, flattened; `Union[T, None]` becomes `Optional[T]`."""
    flat: list[TSType] = []
    for m in members:
        for part in m.args if m.kind == "Union" else (m,):
            if part not in flat:
                flat.append(part)
    if len(flat) == 1:
        return flat[0]
    rest = [m for m in flat if m.kind != "None"]
    if len(rest) == 1 and len(flat) == 2:
        return optional_of(rest[0])
    return TSType("Union", tuple(flat))


# -- annotations ------------------------------------------------------------------------------

_TYPING = ("typing.", "typing_extensions.")
_SIMPLE = {
    "int": INT,
    "float": FLOAT,
    "bool": BOOL,
    "str": STR,
    "complex": COMPLEX,
    "None": NONE,
    "torch.Tensor": TENSOR,
    "torch.device": DEVICE,
    "torch.dtype": DTYPE,
    "typing.Any": ANY,
}
_GENERIC = {"List": "List", "list": "List", "Tuple": "Tuple", "tuple": "Tuple"}
_GENERIC.update({"Dict": "Dict", "dict": "Dict", "Optional": "Optional", "Union": "Union"})
_GENERIC.update({"Final": "Final"})
_BUILTIN_GENERIC = frozenset({"list", "tuple", "dict"})


def _qualified(written: str, resolve: Resolve) -> str:
    qualified = resolve(written)
    if written in _SIMPLE and qualified != written and not qualified.startswith("builtins."):
        return ""  # a builtin name shadowed by an import or a module-level definition
    return qualified


def _type_name(written: str, resolve: Resolve) -> TSType | None:
    qualified = _qualified(written, resolve)
    if qualified in _SIMPLE:
        return _SIMPLE[qualified]
    for prefix in _TYPING:
        if qualified.startswith(prefix) and qualified[len(prefix) :] == "Any":
            return ANY
    return None


def _generic_name(written: str, resolve: Resolve) -> str | None:
    if written in _BUILTIN_GENERIC:
        return _GENERIC[written] if resolve(written) == written else None
    qualified = resolve(written)
    for prefix in _TYPING:
        if qualified.startswith(prefix):
            return _GENERIC.get(qualified[len(prefix) :])
    return None


def from_annotation(expr: cst.BaseExpression, resolve: Resolve) -> TSType | None:
    """The TorchScript type an annotation spells, or None when it is unknown to the model
    (a class, an alias, anything unusual): None never means "wrong", only "don't know"."""
    if isinstance(expr, cst.SimpleString):
        value = expr.evaluated_value
        if not isinstance(value, str):
            return None
        try:
            return from_annotation(cst.parse_expression(value), resolve)
        except cst.ParserSyntaxError:
            return None
    if isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, cst.BitOr):
        left, right = from_annotation(expr.left, resolve), from_annotation(expr.right, resolve)
        if left is None or right is None:
            return None
        return union_of((left, right))
    if isinstance(expr, cst.Subscript):
        generic = _generic_name(dotted(expr.value), resolve)
        if generic is None:
            return None
        args: list[TSType] = []
        for element in expr.slice:
            if not isinstance(element.slice, cst.Index):
                return None
            arg = from_annotation(element.slice.value, resolve)
            if arg is None:
                return None
            args.append(arg)
        return _generic(generic, tuple(args))
    written = dotted(expr)
    return _type_name(written, resolve) if written else None


def _generic(kind: str, args: tuple[TSType, ...]) -> TSType | None:
    if kind == "Final":
        return args[0] if len(args) == 1 else None
    if kind == "Optional":
        return optional_of(args[0]) if len(args) == 1 else None
    if kind == "Union":
        return union_of(args) if args else None
    if kind == "List":
        return list_of(args[0]) if len(args) == 1 else None
    if kind == "Dict":
        return dict_of(args[0], args[1]) if len(args) == 2 else None
    if kind == "Tuple":
        return tuple_of(*args)
    return None


# -- expressions ------------------------------------------------------------------------------

_ARITH = (cst.Add, cst.Subtract, cst.Multiply, cst.Modulo, cst.Power, cst.FloorDivide)
# Tensor methods whose result type TorchScript knows statically, without the tensor's shape.
_TENSOR_METHODS: dict[str, TSType] = {
    "size": list_of(INT),  # with no argument; `.size(d)` is an int
    "dim": INT,
    "ndimension": INT,
    "numel": INT,
    "nelement": INT,
    "element_size": INT,
    "get_device": INT,
    "item": NUMBER,
    "is_contiguous": BOOL,
    "is_floating_point": BOOL,
    "is_complex": BOOL,
    "stride": list_of(INT),
}
_TENSOR_ATTRS: dict[str, TSType] = {
    "shape": list_of(INT),
    "ndim": INT,
    "dtype": DTYPE,
    "device": DEVICE,
    "is_cuda": BOOL,
    "requires_grad": BOOL,
}
# Tensor methods that return a tensor (the common ones; anything else stays unknown).
_TENSOR_TO_TENSOR = frozenset(
    """abs add clamp clone contiguous cpu cuda detach div exp flatten float half int long
    log matmul max mean min mul neg permute pow relu reshape sigmoid softmax sqrt squeeze
    sub sum t tanh to transpose type_as unsqueeze view view_as expand expand_as double
    bool masked_fill""".split()
)
# torch functions that always return one Tensor (whatever their arguments).
_TORCH_TENSOR_FUNCTIONS = frozenset(
    "torch." + name
    # (not the math ops: `torch.tanh(1.0)` may bind a float overload; not `where`: one
    # argument gives a tuple)
    for name in """zeros ones empty full rand randn randint arange linspace tensor cat stack
    zeros_like ones_like empty_like full_like rand_like randn_like matmul bmm mm relu
    flatten reshape transpose permute softmax log_softmax einsum""".split()
) | frozenset(
    "torch.nn.functional." + name
    for name in "relu gelu silu softmax log_softmax linear conv2d dropout".split()
)
_INT_RESULT_BUILTINS = {"len": INT, "int": INT, "float": FLOAT, "str": STR, "bool": BOOL}


def _int_literal(node: cst.BaseExpression) -> int | None:
    if isinstance(node, cst.Integer):
        return int(node.value, 0)
    if (
        isinstance(node, cst.UnaryOperation)
        and isinstance(node.operator, cst.Minus)
        and isinstance(node.expression, cst.Integer)
    ):
        return -int(node.expression.value, 0)
    return None


_NOT_LITERAL = frozenset(
    {cst.Attribute, cst.Call, cst.BinaryOperation, cst.Subscript, cst.List, cst.Tuple}
)


def literal_type(node: cst.BaseExpression) -> TSType | None:
    """The type of a literal (numbers, strings, True/False/None)."""
    if type(node) in _NOT_LITERAL:
        return None  # the common cases, without isinstance on libcst's ABC-based classes
    if isinstance(node, cst.Integer):
        return INT
    if isinstance(node, cst.Float):
        return FLOAT
    if isinstance(node, cst.Imaginary):
        return COMPLEX
    if isinstance(node, (cst.SimpleString, cst.ConcatenatedString)):
        if isinstance(node, cst.SimpleString) and node.prefix.lower().count("b"):
            return None  # bytes: TorchScript has none
        return STR
    if isinstance(node, cst.FormattedString):
        return STR
    if isinstance(node, cst.Name):
        return {"True": BOOL, "False": BOOL, "None": NONE}.get(node.value)
    return None


@dataclass(frozen=True)
class Element:
    """A `for` target's binding: one element of `iterable`."""

    iterable: cst.BaseExpression


Binding = cst.BaseExpression | Element


@dataclass
class FunctionTypes:
    """The types TorchScript gives one compiled function's names (built by `function_types`).

    params: name -> type (None when unknown, e.g. a class annotation); `self` is the Module.
    bindings: local name -> every expression bound to it (an `Element` for a `for` target),
    or None when some binding cannot be typed from an expression (a `with` target, an
    unpacked name...).
    declared: names given a type by an annotated assignment or `torch.jit.annotate`.
    returns: the annotated return type (None when absent or unknown).
    """

    params: dict[str, TSType | None]
    bindings: dict[str, list[Binding] | None]
    declared: dict[str, TSType | None]
    returns: TSType | None
    has_return_annotation: bool
    resolve: Resolve
    owner: ClassInfo | None = None
    _cache: dict[str, TSType | None] = field(default_factory=dict)
    _busy: set[str] = field(default_factory=set)

    def name_type(self, name: str) -> TSType | None:
        """The type of a local or parameter when every binding agrees; else None."""
        if name in self._cache:
            return self._cache[name]
        if name in self._busy:
            return None
        self._busy.add(name)
        try:
            found = self._name_type(name)
        finally:
            self._busy.discard(name)
        self._cache[name] = found
        return found

    def _name_type(self, name: str) -> TSType | None:
        if name in self.declared:
            return self.declared[name]
        values = self.bindings.get(name, [])
        if values is None:
            return None
        if name in self.params:
            first = self.params[name]
        elif values:
            first = self.binding_type(values[0])
            values = values[1:]
        else:
            return None  # a global, a builtin, a module: not a local
        if first is None:
            return None
        self._cache[name] = first  # optimistic, for `x = x + 1`
        for value in values:
            if self.binding_type(value) != first:
                return None
        return first

    def binding_type(self, value: Binding) -> TSType | None:
        if isinstance(value, Element):
            return element_type(value.iterable, self)
        return self.type_of(value)

    def is_local(self, name: str) -> bool:
        return name in self.params or name in self.bindings or name in self.declared

    def type_of(self, expr: cst.BaseExpression) -> TSType | None:
        """What TorchScript types `expr` as, or None when the model does not know."""
        return type_of(expr, self)


def type_of(expr: cst.BaseExpression, env: TypeEnv) -> TSType | None:
    found = literal_type(expr)
    if found is not None:
        return found
    if isinstance(expr, cst.Name):
        return env.name_type(expr.value) if env.is_local(expr.value) else None
    if isinstance(expr, cst.List):
        return _list_literal(expr, env)
    if isinstance(expr, cst.Tuple):
        items = [type_of(e.value, env) for e in expr.elements]
        if any(isinstance(e, cst.StarredElement) for e in expr.elements):
            return None
        if any(t is None for t in items):
            return None
        return tuple_of(*[t for t in items if t is not None])
    if isinstance(expr, cst.BinaryOperation):
        return _binary(expr, env)
    if isinstance(expr, cst.UnaryOperation):
        if isinstance(expr.operator, cst.Not):
            return BOOL
        inner = type_of(expr.expression, env)
        return inner if inner is not None and inner.kind in ("int", "float", "Tensor") else None
    if isinstance(expr, cst.Comparison):
        operands = [type_of(expr.left, env)] + [
            type_of(c.comparator, env) for c in expr.comparisons
        ]
        # Tensor comparisons give tensors; everything else gives bool.
        if all(t is not None and t.kind not in ("Tensor", "Any", "Union") for t in operands):
            return BOOL
        return None
    if isinstance(expr, cst.Call):
        return _call(expr, env)
    if isinstance(expr, cst.Attribute):
        receiver = type_of(expr.value, env)
        if receiver is not None and receiver.kind == "Tensor":
            return _TENSOR_ATTRS.get(expr.attr.value)
        if receiver is not None and receiver.kind == "Module" and env.owner is not None:
            return attribute_type(env.owner, expr.attr.value)
        return None
    if isinstance(expr, cst.Subscript):
        return _subscript(expr, env)
    return None


def element_type(iterable: cst.BaseExpression, env: TypeEnv) -> TSType | None:
    """The type of a `for` target over `iterable` (None for tuples: TorchScript unrolls
    those loops, so each iteration has its own type)."""
    if (
        isinstance(iterable, cst.Call)
        and isinstance(iterable.func, cst.Name)
        and iterable.func.value == "range"
        and not env.is_local("range")
        and env.resolve("range") == "range"
    ):
        return INT
    t = type_of(iterable, env)
    if t is None:
        return None
    if t.kind == "List":
        return t.args[0]
    if t.kind == "Dict":
        return t.args[0]
    if t.kind in ("str", "Tensor"):
        return TSType(t.kind)
    return None


def _list_literal(expr: cst.List, env: TypeEnv) -> TSType | None:
    if not expr.elements:
        return list_of(TENSOR)  # TorchScript's default for `[]`
    if any(isinstance(e, cst.StarredElement) for e in expr.elements):
        return None
    items = [type_of(e.value, env) for e in expr.elements]
    if any(t is None for t in items):
        return None
    known = [t for t in items if t is not None]
    if all(t == known[0] for t in known):
        return list_of(known[0])
    # TorchScript unifies what it can and types the rest as a Union; leave mixed numbers
    # and Optionals (unification rules) unknown.
    if any(t.kind in ("None", "Optional", "Union", "Any") for t in known):
        return None
    if all(t.is_number for t in known):
        return None
    if any(t.is_container for t in known):
        return None
    return list_of(union_of(tuple(known)))


def _binary(expr: cst.BinaryOperation, env: TypeEnv) -> TSType | None:
    left, right = type_of(expr.left, env), type_of(expr.right, env)
    if left is None or right is None:
        return None
    op = expr.operator
    if left.kind == "Tensor" or right.kind == "Tensor":
        if isinstance(op, (*_ARITH, cst.Divide, cst.MatrixMultiply)):
            other = right if left.kind == "Tensor" else left
            if other.kind in ("Tensor", "int", "float", "bool"):
                return TENSOR
        return None
    if isinstance(op, cst.Add) and left == right and left.kind in ("str", "List"):
        return left
    if (
        isinstance(op, cst.Divide)
        and left.kind in ("int", "float")
        and right.kind
        in (
            "int",
            "float",
        )
    ):
        return FLOAT
    if isinstance(op, _ARITH) and left.kind in ("int", "float") and right.kind in ("int", "float"):
        if isinstance(op, cst.Power):
            return None  # int ** int is float when the exponent is negative: skip
        return INT if left.kind == right.kind == "int" else FLOAT
    return None


def _call(expr: cst.Call, env: TypeEnv) -> TSType | None:
    func = expr.func
    if isinstance(func, cst.Name) and not env.is_local(func.value):
        if func.value in _INT_RESULT_BUILTINS and env.resolve(func.value) == func.value:
            if func.value == "len" and len(expr.args) != 1:
                return None
            return _INT_RESULT_BUILTINS[func.value]
        return None
    if isinstance(func, cst.Attribute):
        name = func.attr.value
        written = dotted(func)
        if written and not env.is_local(written.split(".", 1)[0]):
            qualified = env.resolve(written)
            if qualified == "torch.jit.annotate" and expr.args:
                return from_annotation(expr.args[0].value, env.resolve)
            if qualified in _TORCH_TENSOR_FUNCTIONS:
                return TENSOR
        receiver = type_of(func.value, env)
        if receiver is None or receiver.kind != "Tensor":
            return None
        if name in ("size", "stride") and expr.args:
            return INT if len(expr.args) == 1 else None
        if name in _TENSOR_METHODS:
            return _TENSOR_METHODS[name]
        if name in _TENSOR_TO_TENSOR:
            return TENSOR
    return None


def _subscript(expr: cst.Subscript, env: TypeEnv) -> TSType | None:
    container = type_of(expr.value, env)
    if container is None or len(expr.slice) != 1:
        return None
    index = expr.slice[0].slice
    if not isinstance(index, cst.Index):
        return container if container.kind in ("List", "str") else None
    if container.kind == "List":
        return container.args[0]
    if container.kind == "Dict":
        return container.args[1]
    if container.kind == "Tuple":
        position = _int_literal(index.value)
        if position is not None and -len(container.args) <= position < len(container.args):
            return container.args[position]
        return None
    if container.kind == "str":
        return STR
    return None


# -- building the environment -----------------------------------------------------------------

_TYPE_COMMENT = re.compile(r"#\s*type:\s*(.*)$")


def _signature_comment(node: cst.FunctionDef) -> str | None:
    """The text of a `# type: (...) -> ...` comment after the def line, if any."""
    comments: list[str] = []
    body = node.body
    if isinstance(body, cst.IndentedBlock):
        if body.header.comment is not None:
            comments.append(body.header.comment.value)
        if body.body:
            first = body.body[0]
            if isinstance(first, (cst.SimpleStatementLine, cst.BaseCompoundStatement)):
                comments.extend(line.comment.value for line in first.leading_lines if line.comment)
    for comment in comments:
        match = _TYPE_COMMENT.search(comment)
        if match:
            return match.group(1).strip()
    return None


def _param_comments(node: cst.FunctionDef) -> bool:
    """Whether any parameter carries its own `# type:` comment (then params are unknown)."""
    params = node.params
    for param in [*params.posonly_params, *params.params, *params.kwonly_params]:
        comma = param.comma
        if isinstance(comma, cst.Comma):
            ws = comma.whitespace_after
            if isinstance(ws, cst.ParenthesizedWhitespace):
                comment = ws.first_line.comment
                if comment is not None and _TYPE_COMMENT.search(comment.value):
                    return True
    return False


def _params(node: cst.FunctionDef, resolve: Resolve, is_method: bool) -> dict[str, TSType | None]:
    params = node.params
    every = [*params.posonly_params, *params.params, *params.kwonly_params]
    found: dict[str, TSType | None] = {}
    comment = _signature_comment(node)
    comment_types: list[TSType | None] | None = None
    if comment is not None:
        comment_types = _parse_signature_comment(comment, resolve)
    unknown = _param_comments(node) or (comment is not None and comment_types is None)
    star = [p for p in (params.star_arg, params.star_kwarg) if isinstance(p, cst.Param)]
    for p in star:
        found[p.name.value] = None
    first = True
    positional = iter(comment_types or [])
    for param in every:
        name = param.name.value
        if first and is_method:
            first = False
            found[name] = TSType("Module")
            continue
        first = False
        if unknown:
            found[name] = None
        elif param.annotation is not None:
            found[name] = from_annotation(param.annotation.annotation, resolve)
        elif comment_types is not None:
            found[name] = next(positional, None)
        else:
            # TorchScript assumes Tensor for an unannotated parameter, even with a default
            # of None: the schema reads `Tensor mask=[ Tensor (undefined) ]`, not Optional.
            found[name] = INFERRED_TENSOR
    return found


def _parse_signature_comment(text: str, resolve: Resolve) -> list[TSType | None] | None:
    head, arrow, _ = text.partition("->")
    if not arrow:
        return None
    try:
        expr = cst.parse_expression(head.strip())
    except cst.ParserSyntaxError:
        return None
    if isinstance(expr, cst.Tuple):
        return [from_annotation(e.value, resolve) for e in expr.elements]
    return [from_annotation(expr, resolve)]


def _bound(target: cst.BaseExpression) -> Iterator[tuple[str, bool]]:
    """Names a target binds, each with whether it binds the whole value (a plain name)."""
    if isinstance(target, cst.Name):
        yield target.value, True
    elif isinstance(target, (cst.Tuple, cst.List)):
        for element in target.elements:
            for name, _ in _bound(element.value):
                yield name, False
    elif isinstance(target, cst.StarredElement):
        for name, _ in _bound(target.value):
            yield name, False


class _Collector:
    """One pass over a function body: every binding of every name."""

    def __init__(self, resolve: Resolve) -> None:
        self.resolve = resolve
        self.bindings: dict[str, list[Binding] | None] = {}
        self.declared: dict[str, TSType | None] = {}
        self.returns: list[cst.Return] = []

    def bind(self, name: str, value: Binding | None) -> None:
        if value is None:
            self.bindings[name] = None
            return
        values = self.bindings.setdefault(name, [])
        if values is not None:
            values.append(value)

    def target(self, target: cst.BaseExpression, value: cst.BaseExpression | None) -> None:
        # Unpacked names stay unknown: the element types need the value's type first.
        for name, whole in _bound(target):
            self.bind(name, value if whole else None)

    def statements(self, body: Iterator[cst.CSTNode] | list[cst.CSTNode]) -> None:
        for stmt in body:
            self.statement(stmt)

    def statement(self, stmt: cst.CSTNode) -> None:
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                self.small(small)
            return
        if isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
            self.bind(stmt.name.value, None)
            return
        if isinstance(stmt, cst.For):
            if isinstance(stmt.target, cst.Name):
                self.bind(stmt.target.value, Element(stmt.iter))
            else:
                self.target(stmt.target, None)
        elif isinstance(stmt, cst.With):
            for item in stmt.items:
                if item.asname is not None:
                    self.target(item.asname.name, None)
        elif isinstance(stmt, cst.Try):
            for handler in stmt.handlers:
                if handler.name is not None:
                    self.target(handler.name.name, None)
        for block in _blocks(stmt):
            self.statements(list(block))

    def small(self, small: cst.BaseSmallStatement) -> None:
        if isinstance(small, cst.Assign):
            for target in small.targets:
                self.target(target.target, small.value)
        elif isinstance(small, cst.AnnAssign):
            if isinstance(small.target, cst.Name):
                name = small.target.value
                declared = from_annotation(small.annotation.annotation, self.resolve)
                if name in self.declared and self.declared[name] != declared:
                    declared = None
                self.declared[name] = declared
                if small.value is not None:
                    self.bind(name, small.value)
        elif isinstance(small, cst.AugAssign):
            if isinstance(small.target, cst.Name):
                self.bind(
                    small.target.value,
                    cst.BinaryOperation(
                        left=small.target,
                        operator=_AUG_TO_BINARY.get(type(small.operator), cst.Add)(),
                        right=small.value,
                    )
                    if type(small.operator) in _AUG_TO_BINARY
                    else None,
                )
        elif isinstance(small, cst.Return):
            pass
        elif isinstance(small, (cst.Global, cst.Nonlocal)):
            for item in small.names:
                self.bind(item.name.value, None)
        elif isinstance(small, (cst.Import, cst.ImportFrom)):
            names = small.names
            if isinstance(names, (list, tuple)):
                for alias in names:
                    bound = alias.asname.name if alias.asname else alias.name
                    if isinstance(bound, cst.Name):
                        self.bind(bound.value, None)


_AUG_TO_BINARY: dict[type[cst.BaseAugOp], type[cst.BaseBinaryOp]] = {
    cst.AddAssign: cst.Add,
    cst.SubtractAssign: cst.Subtract,
    cst.MultiplyAssign: cst.Multiply,
    cst.DivideAssign: cst.Divide,
    cst.FloorDivideAssign: cst.FloorDivide,
    cst.ModuloAssign: cst.Modulo,
}


def _blocks(stmt: cst.CSTNode) -> Iterator[list[cst.CSTNode]]:
    """The statement lists nested directly in a compound statement."""
    for name in ("body", "orelse", "finalbody"):
        part = getattr(stmt, name, None)
        if part is None:
            continue
        if isinstance(part, (cst.If,)):
            yield [part]
            continue
        inner = getattr(part, "body", None)
        if isinstance(inner, cst.BaseSuite):
            inner = inner.body
        if isinstance(inner, (list, tuple)):
            yield list(inner)
    for handler in getattr(stmt, "handlers", ()):
        yield list(handler.body.body)


def build_function_types(
    node: cst.FunctionDef,
    resolve: Resolve,
    *,
    is_method: bool,
    owner: ClassInfo | None = None,
) -> FunctionTypes:
    collector = _Collector(resolve)
    collector.statements(list(node.body.body))
    returns = None
    comment = _signature_comment(node)
    annotated = node.returns is not None or (comment is not None and "->" in comment)
    if node.returns is not None:
        returns = from_annotation(node.returns.annotation, resolve)
    elif comment is not None and "->" in comment:
        try:
            returns = from_annotation(
                cst.parse_expression(comment.partition("->")[2].strip()), resolve
            )
        except cst.ParserSyntaxError:
            returns = None
    return FunctionTypes(
        params=_params(node, resolve, is_method),
        bindings=collector.bindings,
        declared=collector.declared,
        returns=returns,
        has_return_annotation=annotated,
        resolve=resolve,
        owner=owner,
    )


_CACHE_ATTR = "_tscheck_types"
_OVERLOAD_DECORATORS = frozenset({"overload", "_overload", "_overload_method"})


def function_types(ctx: FunctionContext) -> FunctionTypes:
    """The environment of the function `ctx` compiles, built once per context (all rules of
    one walk share it)."""
    found = getattr(ctx, _CACHE_ATTR, None)
    if isinstance(found, FunctionTypes) and getattr(ctx, _CACHE_ATTR + "_node", None) is ctx.node:
        return found
    is_method = ctx.owner is not None and not ctx.info.is_staticmethod
    env = build_function_types(ctx.node, ctx.resolve, is_method=is_method, owner=ctx.owner)
    if ctx.info.ordinal > 0 or any(
        d.rsplit(".", 1)[-1] in _OVERLOAD_DECORATORS for d in ctx.info.decorators
    ):
        # Overloads: TorchScript compiles the implementation once per overload signature,
        # so what its unannotated parameters are is not "Tensor".
        for name, t in env.params.items():
            if t is None or t.kind != "Module":
                env.params[name] = None
    setattr(ctx, _CACHE_ATTR, env)
    setattr(ctx, _CACHE_ATTR + "_node", ctx.node)
    return env


def attribute_type(owner: ClassInfo, name: str) -> TSType | None:
    """The type of `self.<name>` in a module method. The index keeps the shape of each
    `__init__` assignment, not its type, so only submodules are known (as Module)."""
    for sub in owner.submodules:
        if sub.attr == name and not sub.in_container:
            return TSType("Module", qualname=sub.target)
    return None


# isinstance() classes TorchScript decides statically, by the kind of type they name.
_ISINSTANCE_KINDS = {
    "torch.Tensor": "Tensor",
    "int": "int",
    "float": "float",
    "bool": "bool",
    "str": "str",
    "list": "List",
    "typing.List": "List",
    "tuple": "Tuple",
    "typing.Tuple": "Tuple",
    "dict": "Dict",
    "typing.Dict": "Dict",
}
# Kinds whose isinstance() answer is known from the kind alone (not Optional, Union, Any, a
# class or a NamedTuple, which TorchScript refines at run time or relates to tuple).
_DECIDED_KINDS = frozenset(_ISINSTANCE_KINDS.values())


def static_isinstance(value: TSType | None, classes: list[str]) -> bool | None:
    """What `isinstance(v, classes)` is while TorchScript compiles, when `v`'s static type
    decides it (the compiler then drops the branch it rules out); None when it does not.
    `classes` are resolved dotted names."""
    if value is None or value.kind not in _DECIDED_KINDS:
        return None
    kinds = [_ISINSTANCE_KINDS.get(c) for c in classes]
    if not kinds or None in kinds:
        return None
    if value.kind in ("int", "bool") and {"int", "bool"} & set(k for k in kinds if k):
        if value.kind not in kinds:
            return None  # bool vs int: Python and TorchScript may disagree; not decided here
    return value.kind in kinds
