"""What tscheck believes TorchScript compiles, and why (reach.compiled_set via engine.check)."""

from __future__ import annotations

import textwrap

from tscheck.config import Config
from tscheck.engine import Result, SourceFile, check


def run(files: dict[str, str], roots: tuple[str, ...] = ()) -> Result:
    sources = []
    for path, text in files.items():
        module = path.removesuffix(".py").replace("/", ".").removesuffix(".__init__")
        sources.append(SourceFile(path, module, textwrap.dedent(text).lstrip()))
    return check(sources, Config(roots=roots))


def compiled(result: Result, mode: str = "compiled") -> dict[str, list[str]]:
    """qualname -> the functions of its why-chain, for functions in `mode`."""
    return {
        c.info.qualname: [link.function for link in c.chain]
        for c in result.compiled
        if c.mode == mode
    }


NET = """
import torch
import torch.nn as nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(2, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.helper(x)

    def helper(self, x: torch.Tensor) -> torch.Tensor:
        return pad(x)

    @torch.jit.export
    def exported(self, x: torch.Tensor) -> torch.Tensor:
        return x

    @property
    def size(self) -> int:
        return 2

    @torch.jit.ignore
    def ignored(self, x: torch.Tensor) -> torch.Tensor:
        return x

    @torch.jit.unused
    def unused(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def never_called(self) -> None:
        pass

def pad(x: torch.Tensor) -> torch.Tensor:
    return x

def unrelated(x):
    return lambda: x
"""


def test_forward_export_property_and_callees_are_compiled_with_chains() -> None:
    got = compiled(run({"net.py": NET}))
    assert got == {
        "Net.forward": ["Net", "Net.forward"],
        "Net.exported": ["Net", "Net.exported"],
        "Net.size": ["Net", "Net.size"],
        "Net.helper": ["Net", "Net.forward", "Net.helper"],
        "pad": ["Net", "Net.forward", "Net.helper", "pad"],
    }


def test_unreached_methods_and_free_functions_are_not_compiled() -> None:
    got = compiled(run({"net.py": NET}))
    assert "Net.never_called" not in got and "unrelated" not in got and "Net.__init__" not in got


def test_ignored_and_unused_methods_reached_keep_only_their_signature() -> None:
    src = NET.replace("return pad(x)", "return self.ignored(x) + self.unused(x)")
    result = run({"net.py": src})
    assert set(compiled(result, "signature")) == {"Net.ignored", "Net.unused"}
    assert "Net.ignored" not in compiled(result)


def test_decorators_imported_from_torch_jit_internal_count_too() -> None:
    """torch/nn/functional.py writes `from torch._jit_internal import unused as _jit_unused`."""
    result = run(
        {
            "m.py": """
            import torch
            from torch._jit_internal import unused as _jit_unused


            @_jit_unused
            def helper(x: torch.Tensor) -> torch.Tensor:
                return (lambda y: y)(x)


            @torch.jit.script
            def main(x: torch.Tensor) -> torch.Tensor:
                return helper(x)
            """
        }
    )
    assert set(compiled(result, "signature")) == {"helper"}
    # Its lambda is not compiled (no TS101); an always-called unused function is TS311.
    assert [d.code for d in result.diagnostics] == ["TS311"]


def test_submodules_in_containers_are_compiled_even_if_never_called() -> None:
    result = run(
        {
            "m.py": """
            import torch
            from torch import nn

            class Block(nn.Module):
                def forward(self, x: torch.Tensor) -> torch.Tensor:
                    return x

            class Head(nn.Module):
                def forward(self, x: torch.Tensor) -> torch.Tensor:
                    return x

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.body = nn.Sequential(Block(), nn.ReLU())
                    self.heads = nn.ModuleDict({"a": Head()})

                def forward(self, x: torch.Tensor) -> torch.Tensor:
                    return self.body(x)
            """
        },
        roots=("m.py:Net",),
    )
    got = compiled(result)
    assert got["Block.forward"] == ["Net", "Block", "Block.forward"]
    assert got["Head.forward"] == ["Net", "Head", "Head.forward"]


def test_is_scripting_guard_hides_the_eager_branch_from_the_compiler() -> None:
    result = run(
        {
            "m.py": """
            import numpy as np
            import torch
            import torch.nn as nn

            class Net(nn.Module):
                def forward(self, x: torch.Tensor, flag: bool) -> torch.Tensor:
                    if not torch.jit.is_scripting():
                        self.log(x)
                        print(x, end="")
                    if flag and not torch.jit.is_scripting():
                        np.save("x.npy", x.numpy())
                    y = x if torch.jit.is_scripting() else torch.from_numpy(np.zeros(3))
                    return y

                def log(self, x: torch.Tensor) -> None:
                    print(x, end="")
            """
        }
    )
    assert "Net.log" not in compiled(result)
    assert result.diagnostics == ()


def test_the_frontend_still_parses_the_eager_branch() -> None:
    # torch/jit/frontend.py turns the whole function into a tree first (verified: a lambda
    # under `if not torch.jit.is_scripting():` is rejected), so syntax rules still apply.
    result = run(
        {
            "m.py": """
            import torch
            import torch.nn as nn

            class Net(nn.Module):
                def forward(self, x: torch.Tensor) -> torch.Tensor:
                    if not torch.jit.is_scripting():
                        f = lambda: 1
                    return x
            """
        }
    )
    assert [(d.code, d.range.start.line) for d in result.diagnostics] == [("TS101", 7)]


def test_calls_are_followed_across_files_through_relative_and_absolute_imports() -> None:
    result = run(
        {
            "pkg/__init__.py": "",
            "pkg/utils.py": """
            import torch

            def pad(x: torch.Tensor) -> torch.Tensor:
                return scale(x)

            def scale(x: torch.Tensor) -> torch.Tensor:
                return x
            """,
            "pkg/other.py": """
            import torch

            def double(x: torch.Tensor) -> torch.Tensor:
                return x * 2
            """,
            "pkg/model.py": """
            import torch
            import torch.nn as nn
            import pkg.other
            from .utils import pad

            class Net(nn.Module):
                def forward(self, x: torch.Tensor) -> torch.Tensor:
                    return pkg.other.double(pad(x))
            """,
        }
    )
    got = compiled(result)
    assert got["pad"] == ["Net", "Net.forward", "pad"]
    assert got["scale"] == ["Net", "Net.forward", "pad", "scale"]
    assert got["double"] == ["Net", "Net.forward", "double"]
    paths = {c.info.qualname: c.path for c in result.compiled}
    assert paths["scale"] == "pkg/utils.py"


def test_project_base_classes_supply_methods_and_count_as_modules() -> None:
    result = run(
        {
            "m.py": """
            import torch
            import torch.nn as nn

            class Base(nn.Module):
                def helper(self, x: torch.Tensor) -> torch.Tensor:
                    return x

            class Net(Base):
                def forward(self, x: torch.Tensor) -> torch.Tensor:
                    return self.helper(x) + super().helper(x)
            """
        },
        roots=("m.py:Net",),
    )
    assert compiled(result)["Base.helper"] == ["Net", "Net.forward", "Base.helper"]


def test_constructed_plain_classes_are_compiled_as_torchscript_classes() -> None:
    result = run(
        {
            "m.py": """
            class Box:
                def __init__(self, v: int):
                    self.v = v

                def get(self) -> int:
                    return self.v

            class Oops(Exception):
                pass

            @torch.jit.script
            def f(x: int) -> int:
                if x < 0:
                    raise Oops("negative")
                return Box(x).get()
            """
        }
    )
    got = compiled(result)
    assert set(got) == {"f", "Box.__init__", "Box.get"}


def test_torch_jit_script_call_sites_are_roots() -> None:
    result = run(
        {
            "m.py": """
            import torch

            def g(x: torch.Tensor) -> torch.Tensor:
                return x

            scripted = torch.jit.script(g)
            """
        }
    )
    assert set(compiled(result)) == {"g"}


def test_chosen_roots_limit_what_is_checked() -> None:
    src = NET + "\nclass Other(nn.Module):\n    def forward(self, x):\n        return lambda: x\n"
    assert [d.code for d in run({"net.py": src}).diagnostics] == ["TS101"]
    assert run({"net.py": src}, roots=("net.py:Net",)).diagnostics == ()


def test_interface_methods_are_signatures_only() -> None:
    result = run(
        {
            "m.py": """
            import torch

            @torch.jit.interface
            class Encoder:
                def encode(self, x: torch.Tensor) -> torch.Tensor:
                    pass
            """
        }
    )
    assert compiled(result, "signature") == {"Encoder.encode": ["Encoder"]}
    assert compiled(result) == {}


def test_classes_named_in_compiled_signatures_are_compiled() -> None:
    result = run(
        {
            "m.py": """
            import torch

            class Config:
                def __init__(self) -> None:
                    self.k = 1

            @torch.jit.script
            def f(c: Config) -> int:
                return 1
            """
        }
    )
    assert compiled(result)["Config.__init__"] == ["f", "Config"]


def test_abstract_module_bases_are_not_roots_but_their_subclasses_are() -> None:
    result = run(
        {
            "m.py": """
            import abc
            import torch
            import torch.nn as nn

            class Head(nn.Module, metaclass=abc.ABCMeta):
                @abc.abstractmethod
                def forward(self, *args, **kwargs):
                    ...

                def shared(self, x: torch.Tensor) -> torch.Tensor:
                    return x

            class Base(nn.Module):
                def forward(self, *args):
                    \"\"\"Subclasses implement this.\"\"\"
                    raise NotImplementedError

            class Linear(Head):
                def forward(self, x: torch.Tensor) -> torch.Tensor:
                    return self.shared(x)
            """
        }
    )
    assert set(compiled(result)) == {"Linear.forward", "Head.shared"}
    assert result.diagnostics == ()


def test_scripting_a_factory_result_does_not_root_the_factory() -> None:
    result = run(
        {
            "m.py": """
            import torch

            def build(n: int):
                return lambda: n

            model = build(3)
            scripted = torch.jit.script(model)
            """
        }
    )
    assert compiled(result) == {}


def test_torch_itself_as_the_checked_tree() -> None:
    # Checking torch's own sources: nn.Module's methods are builtins to TorchScript, and
    # autograd Functions and Protocols under torch.nn.modules are not modules.
    result = run(
        {
            "torch/nn/modules/module.py": """
            class Module:
                def modules(self):
                    yield self
            """,
            "torch/nn/modules/misc.py": """
            from typing import Protocol
            import torch
            from .module import Module

            class Fn(torch.autograd.Function):
                @staticmethod
                def forward(ctx, *args):
                    return args

            class _Proto(Protocol):
                @property
                def size(self) -> int: ...

            class Layer(Module):
                def forward(self: _Proto, x: torch.Tensor) -> torch.Tensor:
                    for m in self.modules():
                        pass
                    return x
            """,
        }
    )
    assert set(compiled(result)) == {"Layer.forward"}
    assert result.diagnostics == ()
