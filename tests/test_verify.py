"""`tscheck --verify` end to end: the real compiler in the real sandboxed zygote, reconciled."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tscheck.config import Config
from tscheck.engine import SourceFile, check
from tscheck.index import summarize
from tscheck.model import ChainLink, Diagnostic, Range
from tscheck.verify import FileToVerify, verify_project

pytest.importorskip("torch")


def write(folder: Path, files: dict[str, str], config: str = "") -> None:
    (folder / "pyproject.toml").write_text("[tool.tscheck]\n" + config)
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())


def run(folder: Path, *args: str, stdin: str | None = None) -> tuple[int, dict[str, Any], str]:
    proc = subprocess.run(
        [sys.executable, "-m", "tscheck", "--verify", "--no-cache", "--format", "json", *args],
        cwd=folder,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, json.loads(proc.stdout), proc.stderr


def found(doc: dict[str, Any]) -> list[tuple[str, int, str | None]]:
    return [(d["code"], d["range"]["start"]["line"], d["verification"]) for d in doc["diagnostics"]]


THREE_BROKEN = """
    import torch
    import torch.nn as nn


    class Net(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.a(x) + self.b(x) + self.c(x)

        def a(self, x: torch.Tensor) -> torch.Tensor:
            return (lambda y: y)(x)

        def b(self, x: torch.Tensor) -> torch.Tensor:
            s = {1, 2}
            return x

        def c(self, x: torch.Tensor) -> torch.Tensor:
            n = 3
            n //= 2
            return x + n
"""


def test_three_broken_methods_give_three_confirmed_errors(tmp_path: Path) -> None:
    write(tmp_path, {"net.py": THREE_BROKEN})
    code, doc, _ = run(tmp_path)
    assert code == 1
    assert found(doc) == [
        ("TS101", 10, "confirmed"),
        ("TS109", 13, "confirmed"),
        ("TS120", 18, "confirmed"),
    ]
    (root,) = doc["verification"]["roots"]
    assert root["name"] == "Net" and root["verdict"] == "errors"
    assert [e["line"] for e in root["errors"]] == [10, 13, 18]
    assert root["ignored_while_peeling"] == ["Net.a", "Net.b", "Net.c"]
    assert doc["verification"]["torch"].startswith("2.")
    assert doc["verification"]["confirmed"] == 3


def test_a_clean_module_is_verified_clean(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "net.py": """
            import torch
            import torch.nn as nn


            class Net(nn.Module):
                def __init__(self, channels: int) -> None:
                    super().__init__()
                    self.conv = nn.Conv2d(channels, channels, 3, padding=1)

                def forward(self, x: torch.Tensor) -> torch.Tensor:
                    return torch.relu(self.conv(x))
            """
        },
    )
    code, doc, _ = run(tmp_path)
    assert code == 0, doc
    (root,) = doc["verification"]["roots"]
    assert root["verdict"] == "ok"
    assert root["built_with"]  # arguments were made up for `channels`


def test_a_compiler_error_no_rule_predicts_is_ts900(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "net.py": """
            import torch
            import torch.nn as nn


            class Net(nn.Module):
                def forward(self, x: torch.Tensor) -> torch.Tensor:
                    n: int = 1
                    return x + n + "text"
            """
        },
    )
    code, doc, _ = run(tmp_path)
    assert code == 1
    assert [(c, line) for c, line, _ in found(doc)] == [("TS900", 8)]
    assert doc["diagnostics"][0]["verification"] == "compiler"


def test_unsaved_text_is_what_gets_verified(tmp_path: Path) -> None:
    clean = "import torch\nimport torch.nn as nn\n\n\nclass Net(nn.Module):\n"
    clean += "    def forward(self, x: torch.Tensor) -> torch.Tensor:\n        return x\n"
    write(tmp_path, {"net.py": clean})
    edited = clean.replace("return x\n", "y = x\n        return (lambda t: t)(y)\n")
    code, doc, _ = run(tmp_path, "--stdin-filename", "net.py", stdin=edited)
    assert code == 1
    assert found(doc) == [("TS101", 8, "confirmed")]


def test_relative_imports_inside_a_package(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/layers.py": """
            import torch
            import torch.nn as nn


            class Block(nn.Module):
                def forward(self, x: torch.Tensor) -> torch.Tensor:
                    return x * 2
            """,
            "pkg/model.py": """
            import torch
            import torch.nn as nn

            from .layers import Block


            class Net(nn.Module):
                def __init__(self) -> None:
                    super().__init__()
                    self.block = Block()

                def forward(self, x: torch.Tensor) -> torch.Tensor:
                    return self.block(x)
            """,
        },
    )
    code, doc, _ = run(tmp_path)
    assert code == 0, doc
    verdicts = {r["name"]: r["verdict"] for r in doc["verification"]["roots"]}
    assert verdicts == {"Block": "ok", "Net": "ok"}


def test_a_root_that_cannot_be_built_is_unverified_not_clean(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "net.py": """
            import torch
            import torch.nn as nn


            class Net(nn.Module):
                def __init__(self, config: object) -> None:
                    super().__init__()
                    self.scale = config.scale  # needs a real config object

                def forward(self, x: torch.Tensor) -> torch.Tensor:
                    return x
            """
        },
    )
    code, doc, _ = run(tmp_path)
    (root,) = doc["verification"]["roots"]
    assert root["verdict"] == "unverified" and root["reason"]
    assert [(c, line) for c, line, _ in found(doc)] == [("TS901", 5)]
    assert code == 1


def test_a_factory_from_config_builds_the_root(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "net.py": """
            import torch
            import torch.nn as nn


            class Cfg:
                scale = 2.0


            class Net(nn.Module):
                def __init__(self, config: object) -> None:
                    super().__init__()
                    self.scale: float = config.scale

                def forward(self, x: torch.Tensor) -> torch.Tensor:
                    return x * self.scale
            """
        },
        config='[tool.tscheck.factories]\n"net.py:Net" = "Net(Cfg())"\n',
    )
    code, doc, _ = run(tmp_path)
    assert code == 0, doc
    (root,) = doc["verification"]["roots"]
    assert root["built_with"] == "Net(Cfg())"


def test_code_that_hangs_at_import_times_out_and_tscheck_answers(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "net.py": """
            import time
            import torch.nn as nn

            while True:
                time.sleep(1)


            class Net(nn.Module):
                def forward(self, x):
                    return x
            """
        },
        config="timeout = 3\n",
    )
    code, doc, _ = run(tmp_path)
    (root,) = doc["verification"]["roots"]
    assert root["verdict"] == "timeout"
    assert [c for c, _, _ in found(doc)] == ["TS902"]
    assert code == 1


def test_reconciliation_drops_a_static_diagnostic_the_compiler_refutes(tmp_path: Path) -> None:
    # No rule is known to be wrong, so the false positive is made by hand: a diagnostic in a
    # function the compiler accepts. The real compiler, through the real zygote, refutes it.
    text = textwrap.dedent(THREE_BROKEN).lstrip()
    path = tmp_path / "net.py"
    path.write_text(text)
    result = check([SourceFile(str(path), "net", text)], Config(root=str(tmp_path)))
    invented = Diagnostic(
        path=str(path),
        range=Range.of(7, 8, 7, 14),  # `return self.a(x) + ...` in forward: it compiles
        code="TS101",
        message="an invented false positive",
        chain=(ChainLink("Net.forward", str(path), 6, "Net.forward"),),
    )
    diagnostics, summary = verify_project(
        [FileToVerify(str(path), "net")],
        {str(path): summarize(str(path), "net", text)},
        [*result.diagnostics, invented],
        Config(root=str(tmp_path)),
    )
    assert invented not in diagnostics
    assert summary.dropped == 1 and summary.confirmed == 3
    assert os.path.basename(summary.roots[0].path) == "net.py"


def test_an_error_inside_torch_is_placed_at_the_users_call(tmp_path: Path) -> None:
    """`self.layers.append(...)` fails inside torch's ModuleList.append, which the compiler
    names first: the error belongs to the user's line that called it, where the static
    diagnostics are (confirmed, not dropped for a TS900 in site-packages)."""
    write(
        tmp_path,
        {
            "m.py": """
            import torch
            from torch import nn


            class Net(nn.Module):
                def __init__(self) -> None:
                    super().__init__()
                    self.layers = nn.ModuleList([nn.Linear(2, 2)])

                def forward(self, x: torch.Tensor) -> torch.Tensor:
                    self.layers.append(nn.ReLU())
                    return x
            """
        },
    )
    _, doc, _ = run(tmp_path, "m.py")
    assert found(doc) == [("TS169", 11, "confirmed"), ("TS170", 11, "confirmed")]
    assert all(d["path"] == "m.py" for d in doc["diagnostics"])


def test_a_call_time_failure_is_not_refuted_by_a_clean_compile(tmp_path: Path) -> None:
    """`@torch.jit.ignore(drop=True)` scripts, saves and loads; the call raises only when the
    model runs it. A clean round trip proves nothing about TS303: it stays."""
    write(
        tmp_path,
        {
            "m.py": """
            import torch
            import torch.nn as nn


            class M(nn.Module):
                @torch.jit.ignore(drop=True)
                def check(self, x: torch.Tensor) -> torch.Tensor:
                    return x

                def forward(self, x: torch.Tensor) -> torch.Tensor:
                    if self.training:
                        x = self.check(x)
                    return x * 2
            """
        },
    )
    _, doc, _ = run(tmp_path, "m.py")
    assert [(code, line) for code, line, _ in found(doc)] == [("TS303", 12)]
    assert doc["verification"]["dropped"] == 0


def test_an_error_only_inside_torch_keeps_the_static_finding_and_stays_in_the_project(
    tmp_path: Path,
) -> None:
    """`self.parameters()` fails in torch's own generator with no frame of the user's: the
    root's compile stopped at an error nobody could peel, so it refutes nothing (TS177 stays),
    and the TS900 sits on the root, naming torch's file, not in site-packages."""
    write(
        tmp_path,
        {
            "m.py": """
            import torch
            from torch import nn


            class M(nn.Module):
                def __init__(self) -> None:
                    super().__init__()
                    self.lin = nn.Linear(2, 2)

                def forward(self, x: torch.Tensor) -> torch.Tensor:
                    n = 0
                    for p in self.parameters():
                        n += 1
                    return x
            """
        },
    )
    _, doc, _ = run(tmp_path, "m.py")
    assert [(code, line) for code, line, _ in found(doc)] == [("TS900", 5), ("TS177", 12)]
    ts900 = doc["diagnostics"][0]
    assert ts900["path"] == "m.py" and "torch/nn/modules/module.py" in ts900["message"]
    assert doc["verification"]["dropped"] == 0
