"""TS230/TS231 (Optional refinement) and TS240/TS241 (call signatures) on the edge cases of
TorchScript's rules, each snippet run through the real compiler too.

A case is (name, code, code expected on the first line of the function's body + N, or None):
the compiler must reject exactly the cases with an expected report, and tscheck must report
that code on that line and nothing from these rules anywhere else.
"""

from __future__ import annotations

import functools
import textwrap

import pytest

from tscheck.config import Config
from tscheck.engine import check_source

from compiler import Job, Verdict, compile_all

HEADER = "import torch\nimport torch.nn as nn\nfrom typing import List, Optional, Tuple, Union\n"
CODES = ("TS230", "TS231", "TS240", "TS241")

# (name, function source, (code, line in the snippet) or None when the compiler accepts it)
CASES: list[tuple[str, str, tuple[str, int] | None]] = [
    # -- refinement that holds --
    (
        "early_return",
        """
        def f(x: Optional[int]) -> int:
            if x is None:
                return 0
            return x + 1
        """,
        None,
    ),
    (
        "early_raise_in_else",
        """
        def f(x: Optional[int]) -> int:
            if x is not None:
                pass
            else:
                raise ValueError("x")
            return x + 1
        """,
        None,
    ),
    (
        "nested_exit_both_branches",
        """
        def f(x: Optional[int], c: bool) -> int:
            if x is None:
                if c:
                    return 1
                else:
                    raise RuntimeError("no")
            return x + 1
        """,
        None,
    ),
    (
        "elif_exit",
        """
        def f(x: Optional[int], c: bool) -> int:
            if c:
                return 1
            elif x is None:
                return 2
            return x + 1
        """,
        None,
    ),
    (
        "none_is_not_x",
        """
        def f(x: Optional[int]) -> int:
            if None is not x:
                return x + 1
            return 0
        """,
        None,
    ),
    (
        "not_and_chain",
        """
        def f(x: Optional[int], y: Optional[int]) -> int:
            if not (x is not None and y is not None):
                return 0
            return x + y
        """,
        None,
    ),
    (
        "or_chain_and_ternary",
        """
        def f(x: Optional[int]) -> bool:
            a = x is None or x > 1
            b = x > 2 if x is not None else False
            return a and b
        """,
        None,
    ),
    (
        "isinstance_and_not_isinstance",
        """
        def f(x: Optional[torch.Tensor]) -> torch.Tensor:
            if not isinstance(x, torch.Tensor):
                return torch.zeros(1)
            return x.relu()
        """,
        None,
    ),
    (
        "jit_isinstance",
        """
        def f(x: Optional[torch.Tensor]) -> torch.Tensor:
            if torch.jit.isinstance(x, torch.Tensor):
                return x.relu()
            return torch.zeros(1)
        """,
        None,
    ),
    (
        "assign_in_is_none_branch",
        """
        def f(x: Optional[int]) -> int:
            if x is None:
                x = 0
            return x + 1
        """,
        None,
    ),
    (
        "refined_before_loop",
        """
        def f(x: Optional[int], n: int) -> int:
            if x is None:
                return 0
            s = 0
            for i in range(n):
                s += x
            return s
        """,
        None,
    ),
    (
        "with_body_exits",
        """
        def f(y: Optional[int]) -> int:
            with torch.no_grad():
                if y is None:
                    return 0
            return y + 1
        """,
        None,
    ),
    (
        "allowed_uses",
        """
        def g(y: Optional[int]) -> int:
            return 0 if y is None else y

        def f(x: Optional[List[int]], y: Optional[int]) -> Optional[int]:
            print(x, y)
            n = len(x) + g(y)
            return y if n > 0 else None
        """,
        None,
    ),
    (
        "tensor_default_none_is_a_tensor",
        """
        def f(x: torch.Tensor, y: torch.Tensor = None) -> torch.Tensor:
            return x + y
        """,
        None,
    ),
    (
        "branch_of_a_final_flag_is_not_compiled",
        """
        from typing import Final

        class M(nn.Module):
            use_b: Final[bool]

            def __init__(self):
                super().__init__()
                self.use_b = False

            def forward(self, x: torch.Tensor, b: Optional[torch.Tensor] = None):
                if self.use_b:
                    x = x + b
                return x if not self.use_b else x * b
        """,
        None,
    ),
    (
        "branch_of_a_literal_is_not_compiled",
        """
        def f(x: torch.Tensor, b: Optional[torch.Tensor] = None) -> torch.Tensor:
            if False:
                return x + b
            return x
        """,
        None,
    ),
    (
        "none_test_of_a_tensor_is_static",
        """
        def f(x: torch.Tensor, b: Optional[torch.Tensor] = None) -> torch.Tensor:
            if x is None:
                return b + 1
            return x
        """,
        None,
    ),
    (
        "none_attribute_test_is_static",
        """
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.norm = None

            def forward(self, x: torch.Tensor, b: Optional[torch.Tensor] = None):
                if self.norm is not None:
                    x = x + b
                return x
        """,
        None,
    ),
    # -- refinement that does not hold --
    (
        "continue_is_not_an_exit",
        """
        def f(x: Optional[int], n: int) -> int:
            s = 0
            for i in range(n):
                if x is None:
                    continue
                s += x
            return s
        """,
        ("TS230", 6),
    ),
    (
        "refinement_inside_loop_ends_with_it",
        """
        def f(x: Optional[int], n: int) -> int:
            for i in range(n):
                if x is None:
                    return 0
            return x + 1
        """,
        ("TS230", 5),
    ),
    (
        "assert_inside_loop_ends_with_it",
        """
        def f(x: Optional[int], n: int) -> int:
            for i in range(n):
                assert x is not None
            return x + 1
        """,
        ("TS230", 4),
    ),
    (
        "while_test_does_not_refine_body",
        """
        def f(x: Optional[int]) -> int:
            s = 0
            while x is not None:
                s = s + x
                break
            return s
        """,
        ("TS230", 4),
    ),
    (
        "join_after_one_sided_test",
        """
        def f(x: Optional[int]) -> int:
            if x is not None:
                y = x + 1
            return x + 1
        """,
        ("TS230", 4),
    ),
    (
        "and_with_none_test_on_the_left",
        """
        def f(x: Optional[int], c: bool) -> int:
            if x is None and c:
                return 0
            return x + 1
        """,
        ("TS230", 4),
    ),
    (
        "annotated_local",
        """
        def f(c: bool) -> int:
            x: Optional[int] = None
            if c:
                x = 1
            return x + 1
        """,
        ("TS230", 5),
    ),
    (
        "jit_annotate_local",
        """
        def f(n: int) -> int:
            x = torch.jit.annotate(Optional[int], None)
            if n > 0:
                x = n
            return x * 2
        """,
        ("TS230", 5),
    ),
    (
        "copied_optional",
        """
        def f(y: Optional[int]) -> int:
            x = y
            return x + 1
        """,
        ("TS230", 3),
    ),
    (
        "union_none_subscript",
        """
        def f(x: Union[List[int], None]) -> int:
            return x[0]
        """,
        ("TS230", 2),
    ),
    (
        "iteration",
        """
        def f(x: Optional[List[int]]) -> int:
            s = 0
            for i in x:
                s += i
            return s
        """,
        ("TS230", 3),
    ),
    (
        "tuple_unpacking",
        """
        def f(y: Optional[Tuple[int, int]]) -> int:
            a, b = y
            return a
        """,
        ("TS230", 2),
    ),
    (
        "comparison",
        """
        def f(x: Optional[float]) -> bool:
            return x < 1.0
        """,
        ("TS230", 2),
    ),
    (
        "negation",
        """
        def f(x: Optional[torch.Tensor]) -> torch.Tensor:
            return -x
        """,
        ("TS230", 2),
    ),
    (
        "not",
        """
        def f(x: Optional[int]) -> bool:
            return not x
        """,
        ("TS230", 2),
    ),
    (
        "eq_none",
        """
        def f(x: Optional[int]) -> bool:
            return x == None
        """,
        ("TS230", 2),
    ),
    (
        "subscript_assignment",
        """
        def f(x: Optional[List[int]]) -> int:
            x[0] = 1
            return 0
        """,
        ("TS230", 2),
    ),
    (
        "comprehension_body",
        """
        def f(x: Optional[int], xs: List[int]) -> List[int]:
            return [i + x for i in xs]
        """,
        ("TS230", 2),
    ),
    (
        "eager_only_arm_of_a_ternary",
        """
        def f(x: Optional[int]) -> int:
            return x + 1 if not torch.jit.is_scripting() else 0
        """,
        None,
    ),
    (
        "eager_only_branch",
        """
        def f(x: Optional[torch.Tensor]) -> int:
            if not torch.jit.is_scripting():
                return x.numel()
            return 0
        """,
        None,
    ),
    # -- attributes --
    (
        "attribute_tested_then_used",
        """
        class M(nn.Module):
            scale: Optional[float]

            def __init__(self):
                super().__init__()
                self.scale = 2.0

            def forward(self, x: torch.Tensor) -> torch.Tensor:
                if self.scale is None:
                    return x
                return x * self.scale
        """,
        ("TS231", 11),
    ),
    (
        "attribute_copied_but_not_tested",
        """
        class M(nn.Module):
            bias: Optional[torch.Tensor]

            def __init__(self):
                super().__init__()
                self.bias = None

            def forward(self, x: torch.Tensor) -> torch.Tensor:
                b = self.bias
                return x + b
        """,
        ("TS230", 10),
    ),
    (
        "attribute_annotated_in_init_is_ignored",
        """
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.scale: Optional[float] = 2.0

            def forward(self, x: torch.Tensor) -> torch.Tensor:
                return x * self.scale
        """,
        None,
    ),
    (
        "attribute_annotated_on_a_base_class",
        """
        class Base(nn.Module):
            scale: Optional[float]

            def __init__(self):
                super().__init__()
                self.scale = 2.0

        class M(Base):
            def forward(self, x: torch.Tensor) -> torch.Tensor:
                return x * self.scale
        """,
        ("TS231", 10),
    ),
    (
        "attribute_annotated_again_on_the_subclass",
        """
        class Base(nn.Module):
            scale: Optional[float]

            def __init__(self):
                super().__init__()
                self.scale = 2.0

            def forward(self, x: torch.Tensor) -> torch.Tensor:
                return x * self.scale

        class M(Base):
            scale: float
        """,
        None,
    ),
    (
        "script_class_attribute_annotated_in_init",
        """
        @torch.jit.script
        class Cache(object):
            def __init__(self):
                self.value: Optional[torch.Tensor] = None

            def get(self) -> torch.Tensor:
                if self.value is not None:
                    return self.value + 1
                return torch.zeros(1)

        def f(x: torch.Tensor) -> torch.Tensor:
            return Cache().get() + x
        """,
        None,  # the annotation on `self.value` is ignored: it is a NoneType, the test static
    ),
    (
        "attribute_passed_along",
        """
        class M(nn.Module):
            bias: Optional[torch.Tensor]

            def __init__(self):
                super().__init__()
                self.bias = None
                self.weight = nn.Parameter(torch.ones(2, 2))

            def forward(self, x: torch.Tensor) -> torch.Tensor:
                return nn.functional.linear(x, self.weight, self.bias)
        """,
        None,
    ),
    # -- calls --
    (
        "keyword_twice",
        """
        def g(a: int, b: int = 1) -> int:
            return a + b

        def f(x: int) -> int:
            return g(x, a=2)
        """,
        ("TS240", 5),
    ),
    (
        "keyword_only_passed_by_position",
        """
        def g(a: int, *, b: int) -> int:
            return a + b

        def f(x: int) -> int:
            return g(x, 2)
        """,
        ("TS240", 5),
    ),
    (
        "keyword_only_passed_by_keyword",
        """
        def g(a: int, *, b: int) -> int:
            return a + b

        def f(x: int) -> int:
            return g(x, b=2)
        """,
        None,
    ),
    (
        "ignored_callee_signature_still_binds",
        """
        @torch.jit.ignore
        def g(a: int) -> int:
            return a

        def f(x: int) -> int:
            return g(x, 1)
        """,
        ("TS240", 6),
    ),
    (
        "staticmethod_through_self",
        """
        class M(nn.Module):
            @staticmethod
            def h(a: int, b: int) -> int:
                return a + b

            def forward(self, x: torch.Tensor) -> torch.Tensor:
                return x + self.h(1, 2)
        """,
        None,
    ),
    (
        "submodule_of_either_class",
        """
        class A(nn.Module):
            def forward(self, x: torch.Tensor) -> torch.Tensor:
                return x

        class B(nn.Module):
            def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
                return x + y

        class M(nn.Module):
            def __init__(self, flag: bool = False):
                super().__init__()
                self.block = A() if flag else B()

            def forward(self, x: torch.Tensor) -> torch.Tensor:
                return self.block(x, x)
        """,
        None,
    ),
    (
        "call_in_a_branch_the_compiler_drops",
        """
        from typing import Final

        def g(a: int) -> int:
            return a

        class M(nn.Module):
            legacy: Final[bool]

            def __init__(self):
                super().__init__()
                self.legacy = False
                self.norm = None

            def forward(self, x: torch.Tensor) -> torch.Tensor:
                if self.legacy:
                    x = x + g(1, 2)
                if self.norm is not None:
                    x = x + g("a")
                return x
        """,
        None,
    ),
    (
        "overloaded_implementation_is_typed_per_overload",
        """
        def g(a: str) -> int:
            return len(a)

        @torch.jit._overload
        def h(x: str) -> int:
            ...

        def h(x):
            return g(x)

        def f(s: str) -> int:
            return h(s)
        """,
        None,
    ),
    (
        "int_to_float_parameter",
        """
        def g(a: float) -> float:
            return a

        def f(x: int) -> float:
            return g(x)
        """,
        ("TS241", 5),
    ),
    (
        "local_int_to_float_parameter",
        """
        def g(x: torch.Tensor, scale: float) -> torch.Tensor:
            return x * scale

        def f(x: torch.Tensor) -> torch.Tensor:
            n = x.size(0)
            return g(x, n)
        """,
        ("TS241", 6),
    ),
    (
        "local_rebound_to_another_type",
        """
        def g(x: torch.Tensor, scale: float) -> torch.Tensor:
            return x * scale

        def f(x: torch.Tensor) -> torch.Tensor:
            n = 2.0
            for i in range(3):
                x = g(x, n)
            return x
        """,
        None,
    ),
    (
        "widening_that_torchscript_does",
        """
        def g(a: int, b: float, c: List[int]) -> float:
            return a + b + c[0]

        def f(x: torch.Tensor, flag: bool) -> float:
            return g(flag, x, 3)
        """,
        None,
    ),
    (
        "none_to_tensor_parameter",
        """
        def g(a: torch.Tensor) -> torch.Tensor:
            return a

        def f(x: torch.Tensor) -> torch.Tensor:
            return g(None)
        """,
        ("TS241", 5),
    ),
]


def _module(code: str) -> str:
    return HEADER + textwrap.dedent(code).lstrip("\n")


def _target(code: str) -> str:
    return "M()" if "\nclass M(" in "\n" + code else "f"


@functools.cache
def _verdicts() -> dict[str, Verdict]:
    jobs = [Job(_module(code), _target(_module(code))) for _, code, _ in CASES]
    return {name: v for (name, _, _), v in zip(CASES, compile_all(jobs), strict=True)}


def _reports(code: str) -> list[tuple[str, int]]:
    module = _module(code)
    root = _target(module).split("(")[0]
    result = check_source("case.py", module, Config(roots=(f"case.py:{root}",)))
    assert result.internal_errors == (), result.internal_errors  # a crash reports nothing
    offset = HEADER.count("\n")
    return [(d.code, d.range.start.line - offset) for d in result.diagnostics if d.code in CODES]


@pytest.mark.parametrize(("name", "code", "expected"), CASES, ids=[c[0] for c in CASES])
def test_the_compiler_agrees_with_the_case(
    name: str, code: str, expected: tuple[str, int] | None
) -> None:
    verdict = _verdicts()[name]
    assert verdict.accepted == (expected is None), verdict.error


@pytest.mark.parametrize(("name", "code", "expected"), CASES, ids=[c[0] for c in CASES])
def test_tscheck_reports_exactly_the_rejection(
    name: str, code: str, expected: tuple[str, int] | None
) -> None:
    reports = _reports(code)
    if expected is None:
        assert reports == []
    else:
        assert expected in reports, reports
