"""The TorchScript type model (tscheck.types) on real libcst trees and real import tables."""

from __future__ import annotations

import textwrap

import libcst as cst
import pytest

from tscheck.index import summarize
from tscheck.reach import Project
from tscheck.types import (
    FunctionTypes,
    TSType,
    build_function_types,
    from_annotation,
    static_isinstance,
)

HEADER = """\
import torch
import typing as t
from torch import Tensor
from typing import Any, Dict, Final, List, Optional, Tuple, Union
"""


def env_of(code: str, name: str = "f", is_method: bool = False) -> FunctionTypes:
    text = HEADER + textwrap.dedent(code)
    summary = summarize("m.py", "m", text)
    project = Project([summary])
    module = cst.parse_module(text)
    found = [n for n in module.body if isinstance(n, cst.FunctionDef) and n.name.value == name]
    return build_function_types(
        found[0], lambda d: project.qualify(summary, d), is_method=is_method
    )


def annotation(text: str) -> str | None:
    summary = summarize("m.py", "m", HEADER + "class Local:\n    pass\n")
    project = Project([summary])
    found = from_annotation(cst.parse_expression(text), lambda d: project.qualify(summary, d))
    return None if found is None else str(found)


@pytest.mark.parametrize(
    ("written", "rendered"),
    [
        ("int", "int"),
        ("torch.Tensor", "Tensor"),
        ("Tensor", "Tensor"),
        ("Optional[Tensor]", "Optional[Tensor]"),
        ("t.Optional[int]", "Optional[int]"),
        ("List[int]", "List[int]"),
        ("list[float]", "List[float]"),
        ("Dict[str, List[Tensor]]", "Dict[str, List[Tensor]]"),
        ("Tuple[int, str]", "Tuple[int, str]"),
        ("int | None", "Optional[int]"),
        ("Union[int, None]", "Optional[int]"),
        ("Union[int, str]", "Union[int, str]"),
        ("Final[int]", "int"),
        ("'List[int]'", "List[int]"),
        ("Any", "Any"),
        ("None", "NoneType"),
        ("torch.device", "Device"),
    ],
)
def test_annotation_renders_as_torchscript_writes_it(written: str, rendered: str) -> None:
    assert annotation(written) == rendered


@pytest.mark.parametrize("written", ["Local", "np.ndarray", "List", "Sequence[int]", "Foo[int]"])
def test_unknown_annotation_stays_unknown(written: str) -> None:
    assert annotation(written) is None


def test_unannotated_parameter_is_inferred_tensor_and_self_is_the_module() -> None:
    env = env_of(
        """
        def f(self, x, n: int, m=None, k: "Local" = None):
            return x
        """,
        is_method=True,
    )
    assert str(env.params["self"]) == "Module"
    assert str(env.params["x"]) == "Tensor (inferred)"
    assert str(env.params["n"]) == "int"
    assert str(env.params["m"]) == "Tensor (inferred)"  # schema: m=[ Tensor (undefined) ]
    assert env.params["k"] is None


def test_signature_type_comment_types_parameters() -> None:
    env = env_of(
        """
        def f(x, n):
            # type: (Tensor, int) -> int
            return n
        """
    )
    assert str(env.params["x"]) == "Tensor"
    assert str(env.params["n"]) == "int"
    assert str(env.returns) == "int"


def test_local_has_a_type_only_when_every_binding_agrees() -> None:
    env = env_of(
        """
        def f(x: int, c: bool):
            a = x + 1
            b = 1
            b = "s"
            s = x.size()
            for i in range(x):
                pass
            d: List[int] = []
            e = torch.jit.annotate(List[str], [])
            g = x
            g = g * 2
            return a
        """
    )
    assert str(env.name_type("a")) == "int"
    assert env.name_type("b") is None  # rebound to another type
    assert str(env.name_type("i")) == "int"  # a loop over range()
    assert str(env.name_type("d")) == "List[int]"
    assert str(env.name_type("e")) == "List[str]"
    assert str(env.name_type("g")) == "int"
    assert env.name_type("torch") is None


def _expr_type(env: FunctionTypes, text: str) -> str | None:
    found = env.type_of(cst.parse_expression(text))
    return None if found is None else str(found)


@pytest.mark.parametrize(
    ("text", "rendered"),
    [
        ("1", "int"),
        ("1.5", "float"),
        ("'a'", "str"),
        ("None", "NoneType"),
        ("n / 2", "float"),
        ("n // 2", "int"),
        ("n + 1.0", "float"),
        ("len(xs)", "int"),
        ("xs[0]", "int"),
        ("tup[1]", "str"),
        ("tup[i]", None),
        ("x.size()", "List[int]"),
        ("x.size(0)", "int"),
        ("x.shape", "List[int]"),
        ("x.dim()", "int"),
        ("x + 1", "Tensor"),
        ("x.tolist()", None),
        ("[]", "List[Tensor]"),
        ("[n, 'a']", "List[Union[int, str]]"),
        ("[n, 1.0]", None),
        ("(n, 'a')", "Tuple[int, str]"),
        ("n < 2", "bool"),
        ("x < 2", None),
        ("unknown_global", None),
        ("self_made()", None),
    ],
)
def test_expression_types(text: str, rendered: str | None) -> None:
    env = env_of(
        """
        def f(x: Tensor, n: int, xs: List[int], tup: Tuple[int, str], i: int):
            return x
        """
    )
    assert _expr_type(env, text) == rendered


def test_shadowed_builtin_is_unknown() -> None:
    env = env_of(
        """
        def f(n: int):
            len = n
            return len
        """
    )
    assert _expr_type(env, "len([1])") is None


def test_loop_target_takes_the_element_type() -> None:
    env = env_of(
        """
        def f(xs: List[Tensor], names: List[str], t: Tuple[int, str], d: Dict[str, int]):
            for x in xs:
                pass
            for name in names:
                pass
            for item in t:
                pass
            for key in d:
                pass
            return 1
        """
    )
    assert str(env.name_type("x")) == "Tensor"
    assert str(env.name_type("name")) == "str"
    assert env.name_type("item") is None  # tuple loops are unrolled: one type per element
    assert str(env.name_type("key")) == "str"


# Each pair below was checked against torch.jit.script (torch 2.13): a return under an
# annotation, or an assignment inside an if / loop body to a variable defined before it.
@pytest.mark.parametrize(
    ("value", "target", "accepted"),
    [
        ("int", "float", False),
        ("int", "bool", False),
        ("int", "str", False),
        ("int", "torch.Tensor", False),
        ("int", "Optional[float]", False),
        ("torch.Tensor", "int", True),  # implicit tensor-to-number conversion
        ("bool", "int", True),
        ("bool", "float", True),
        ("str", "torch.device", True),
        ("None", "Optional[int]", True),
        ("Tuple[int, int]", "Tuple[float, int]", False),
        ("List[int]", "List[float]", False),
    ],
)
def test_assignable_follows_the_compiler(value: str, target: str, accepted: bool) -> None:
    from tscheck.rules.ts2xx_types import assignable

    summary = summarize("m.py", "m", HEADER)
    project = Project([summary])

    def parse(text: str):  # type: ignore[no-untyped-def]
        return from_annotation(cst.parse_expression(text), lambda d: project.qualify(summary, d))

    assert assignable(parse(value), parse(target)) is accepted


@pytest.mark.parametrize(
    ("a", "b", "merged"),
    [
        ("int", "str", False),
        ("int", "float", False),
        ("bool", "int", False),
        ("int", "torch.Tensor", False),
        ("List[int]", "List[float]", False),
        ("int", "None", "Optional[int]"),
        ("None", "torch.Tensor", "Optional[Tensor]"),
        ("Tuple[int, int]", "Tuple[int, int]", "Tuple[int, int]"),
    ],
)
def test_unify_follows_the_compiler(a: str, b: str, merged: object) -> None:
    from tscheck.rules.ts2xx_types import unify

    summary = summarize("m.py", "m", HEADER)
    project = Project([summary])

    def parse(text: str):  # type: ignore[no-untyped-def]
        return from_annotation(cst.parse_expression(text), lambda d: project.qualify(summary, d))

    found = unify(parse(a), parse(b))
    assert (str(found) if found not in (False, None) else found) == merged


def test_torch_factories_are_tensors_and_other_torch_calls_unknown() -> None:
    env = env_of(
        """
        def f(x: Tensor):
            return x
        """
    )
    assert _expr_type(env, "torch.zeros(3)") == "Tensor"
    assert _expr_type(env, "torch.cat([x, x])") == "Tensor"
    assert _expr_type(env, "torch.max(x, 1)") is None  # a tuple with a dim argument
    assert _expr_type(env, "torch.where(x)") is None  # a tuple with one argument


def test_static_isinstance_decides_only_what_the_kind_decides() -> None:
    tensor, ints = TSType("Tensor"), TSType("List", (TSType("int"),))
    assert static_isinstance(tensor, ["torch.Tensor"]) is True
    assert static_isinstance(tensor, ["list", "tuple"]) is False
    assert static_isinstance(ints, ["tuple", "list"]) is True
    assert static_isinstance(ints, ["typing.Dict"]) is False
    assert static_isinstance(TSType("Optional", (tensor,)), ["torch.Tensor"]) is None
    assert static_isinstance(TSType("bool"), ["int"]) is None  # Python and TorchScript differ
    assert static_isinstance(TSType("int"), ["int"]) is True
    assert static_isinstance(tensor, ["mypkg.Box"]) is None
    assert static_isinstance(None, ["int"]) is None
