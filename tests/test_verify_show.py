"""Show TorchScript code (verify/show.py and the `show` request field of job.py), with the real
sandboxed zygote and the real compiler: the text shown must be what a plain
`torch.jit.script(...)` in a fresh interpreter prints, for the text the editor holds."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tscheck.verify.client import Zygote
from tscheck.verify.show import Shown, show_root

pytest.importorskip("torch")

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the verifier forks and uses Linux namespaces"
)

MODEL = """
import torch
import torch.nn as nn


class Thing:
    pass


def scale(x: torch.Tensor) -> torch.Tensor:
    return x * 2.0


def twice(x: torch.Tensor) -> torch.Tensor:
    return scale(scale(x))


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return scale(self.act(self.fc(x)))


class Broken(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (lambda y: y)(x)


class Needs(nn.Module):
    def __init__(self, thing: Thing) -> None:
        super().__init__()
        # Not kept: torch saves a module holding an empty Python class, then cannot load it.
        self.ready = thing is not None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x
"""

# What a fresh interpreter prints: the reference for the top-level code.
FRESH = """
import json, warnings
warnings.simplefilter("ignore")
import torch
import pkg.model as m
print(json.dumps({"Net": torch.jit.script(m.Net()).code, "twice": torch.jit.script(m.twice).code}))
"""

HEADER = re.compile(r"^# --- (.+) ---$", re.MULTILINE)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("show")
    (root / "pkg").mkdir()
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "model.py").write_text(textwrap.dedent(MODEL).lstrip())
    (root / "pkg" / "slow.py").write_text("import time\ntime.sleep(60)\n")
    (root / "pkg" / "typo.py").write_text("import torch\n\ndef f(x:\n")
    return root


@pytest.fixture(scope="module")
def zygote(project: Path) -> Iterator[Zygote]:
    # The sandbox hides /tmp unless bound: bind the project up front (no restart later).
    with Zygote(binds=[str(project)]) as started:
        yield started


@pytest.fixture(scope="module")
def fresh(project: Path) -> dict[str, str]:
    proc = subprocess.run(
        [sys.executable, "-c", FRESH],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    codes: dict[str, str] = json.loads(proc.stdout.strip().splitlines()[-1])
    return codes


def show(
    zygote: Zygote,
    project: Path,
    root: str,
    file: str = "model.py",
    *,
    text: str | None = None,
    what: str = "code",
    factory: str | None = None,
    timeout_s: float = 60.0,
) -> Shown:
    """`show_root` for a root of `pkg/<file>` in the test project."""
    module = f"pkg.{file.removesuffix('.py')}"
    path = str(project / "pkg" / file)
    return show_root(
        zygote,
        path,
        module,
        (str(project),),
        root,
        text=text,
        what=what,
        factory=factory,
        timeout_s=timeout_s,
    )


def sections(text: str) -> dict[str, str]:
    """title -> body; bodies are separated by one blank line, which is not theirs."""
    parts = HEADER.split(text)
    assert parts[0] == "", parts[0]
    titles, bodies = parts[1::2], parts[2::2]
    return {
        title: body[1:].removesuffix("\n") if i < len(titles) - 1 else body[1:]
        for i, (title, body) in enumerate(zip(titles, bodies, strict=True))
    }


def test_module_code_is_what_a_fresh_interpreter_prints(
    zygote: Zygote, project: Path, fresh: dict[str, str]
) -> None:
    shown = show(zygote, project, "Net")
    assert (shown.root, shown.what, shown.verdict, shown.message) == ("Net", "code", "ok", "")
    found = sections(shown.text)
    assert list(found) == [
        "Net.forward (TorchScript)",
        "fc: Linear.forward (TorchScript)",
        "act: ReLU.forward (TorchScript)",
        "pkg.model.scale (TorchScript)",
    ]
    assert found["Net.forward (TorchScript)"] == fresh["Net"]
    assert "def forward(self," in shown.text
    assert "__torch__.pkg.model.scale(" in found["Net.forward (TorchScript)"]
    assert found["pkg.model.scale (TorchScript)"].startswith("def scale(x: Tensor) -> Tensor:")
    assert "torch.linear(" in found["fc: Linear.forward (TorchScript)"]


def test_function_code_and_its_callee_once(
    zygote: Zygote, project: Path, fresh: dict[str, str]
) -> None:
    shown = show(zygote, project, "twice")
    assert shown.verdict == "ok", shown
    found = sections(shown.text)
    assert list(found) == ["pkg.model.twice (TorchScript)", "pkg.model.scale (TorchScript)"]
    assert found["pkg.model.twice (TorchScript)"] == fresh["twice"]


def test_graph_is_inlined(zygote: Zygote, project: Path) -> None:
    shown = show(zygote, project, "Net", what="graph")
    assert shown.verdict == "ok", shown
    assert shown.text.startswith("# --- Net.forward (TorchScript graph) ---\ngraph(")
    # Inlined: the submodule's linear and the helper's multiplication are in forward's graph.
    assert "aten::linear" in shown.text and "aten::mul" in shown.text


def test_unsaved_text_is_what_is_shown(zygote: Zygote, project: Path) -> None:
    disk = (project / "pkg" / "model.py").read_text()
    edited = disk.replace("return x * 2.0\n", "return x * 2.0 + 1\n")
    assert edited != disk
    saved = show(zygote, project, "twice")
    unsaved = show(zygote, project, "twice", text=edited)
    assert "torch.add(" not in saved.text
    assert "torch.add(torch.mul(x, 2.), 1)" in unsaved.text, unsaved.text
    assert (project / "pkg" / "model.py").read_text() == disk


def test_compile_error_has_no_text_and_says_where(zygote: Zygote, project: Path) -> None:
    line = MODEL.lstrip().split("\n").index("        return (lambda y: y)(x)") + 1
    shown = show(zygote, project, "Broken")
    assert (shown.text, shown.verdict) == ("", "compile_error")
    assert shown.message.endswith(f"pkg/model.py:{line})"), shown.message
    assert "ambda" in shown.message  # the compiler's own words: "Lambdas aren't supported"


def test_unbuildable_root_is_unverified_with_the_reason(zygote: Zygote, project: Path) -> None:
    shown = show(zygote, project, "Needs")
    assert (shown.text, shown.verdict) == ("", "unverified")
    assert "could not build Needs" in shown.message
    assert "no value for type Thing" in shown.message
    # A factory builds it; then there is code.
    built = show(zygote, project, "Needs", factory="Needs(Thing())")
    assert built.verdict == "ok" and "def forward(self," in built.text, built


def test_import_error_and_timeout(zygote: Zygote, project: Path) -> None:
    typo = show(zygote, project, "f", file="typo.py")
    assert (typo.text, typo.verdict) == ("", "import_error")
    assert typo.message.startswith("SyntaxError: ") and "pkg/typo.py:3)" in typo.message, typo
    slow = show(zygote, project, "f", file="slow.py", timeout_s=2.0)
    assert (slow.text, slow.verdict) == ("", "timeout")
    assert slow.message.startswith("timeout: "), slow


def test_requests_without_show_are_unchanged(zygote: Zygote, project: Path) -> None:
    message = {
        "op": "script",
        "file": str(project / "pkg" / "model.py"),
        "module": "pkg.model",
        "sys_path": [str(project)],
        "roots": [{"name": "Net", "factory": None}, {"name": "Broken", "factory": None}],
    }
    plain = zygote.request(message, 60)
    assert [("shown" in r) for r in plain["results"]] == [False, False]
    shown = zygote.request({**message, "show": "code"}, 60)
    texts = [r["shown"] for r in shown["results"]]
    assert texts[0].startswith("# --- Net.forward (TorchScript) ---") and texts[1] is None


def test_long_text_is_cut_at_a_line_end() -> None:
    from tscheck.verify.job import capped

    assert capped("ab\ncd\n", 10) == "ab\ncd\n"
    assert capped("ab\ncd\nef\n", 7) == "ab\ncd\n# ... truncated by tscheck: 3 more characters\n"


def test_unknown_what_is_refused() -> None:
    with pytest.raises(ValueError, match="what must be one of"):
        show_root(None, "/x.py", "x", (), "Net", what="ast")  # type: ignore[arg-type]
