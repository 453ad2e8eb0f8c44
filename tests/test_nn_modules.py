"""torch.nn's own modules against the real compiler: the ground truth bench/accuracy.py uses to
count tscheck's false positives on code that scripts (tests/nn_modules.py holds the table)."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest
from nn_modules import NN_CLASSES, NNClass

from tscheck.config import Config
from tscheck.engine import check_source

from compiler import Job, Verdict, compile_all

SCRIPTED = [c for c in NN_CLASSES if c.skip is None]

# Every nn.Module subclass whose class statement is in a torch.nn.modules submodule.
LIST_CLASSES = """
import importlib, inspect, json, pkgutil, warnings
warnings.simplefilter("ignore")
import torch.nn as nn
import torch.nn.modules as package
found = []
for info in pkgutil.iter_modules(package.__path__):
    module = importlib.import_module(f"torch.nn.modules.{info.name}")
    for name, obj in vars(module).items():
        mine = inspect.isclass(obj) and obj.__module__ == module.__name__
        if mine and issubclass(obj, nn.Module):
            found.append(f"{info.name}.{name}")
print(json.dumps(found))
"""


def test_the_table_lists_every_nn_module_class_of_torch_nn_modules() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", LIST_CLASSES],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    installed = set(json.loads(proc.stdout))
    listed = {c.id for c in NN_CLASSES}
    assert len(listed) == len(NN_CLASSES), "a class is listed twice"
    assert installed - listed == set(), "classes missing from tests/nn_modules.py"
    assert listed - installed == set(), "classes torch.nn.modules does not define"


@cache
def verdicts() -> dict[str, Verdict]:
    jobs = [Job(code=c.code, target=c.target) for c in SCRIPTED]
    return {c.id: v for c, v in zip(SCRIPTED, compile_all(jobs), strict=True)}


@pytest.mark.parametrize("nn_class", SCRIPTED, ids=lambda c: c.id)
def test_nn_class_verdict_is_the_compilers(nn_class: NNClass) -> None:
    verdict = verdicts()[nn_class.id]
    if nn_class.rejected is None:
        assert verdict.accepted, f"{nn_class.target} does not script:\n{verdict.error[:2000]}"
    else:
        assert not verdict.accepted, f"{nn_class.target} scripts, saves and loads"
        assert verdict.stage in ("script", "save"), verdict.stage
        assert nn_class.rejected in verdict.error, verdict.error[:2000]


def test_skipped_classes_say_why_and_are_few() -> None:
    skipped = [c for c in NN_CLASSES if c.skip is not None]
    assert all(c.skip for c in skipped)
    assert len(skipped) <= len(NN_CLASSES) // 10


def test_the_finding_in_adaptive_log_softmax_is_the_compilers_next_error() -> None:
    """AdaptiveLogSoftmaxWithLoss is rejected first for its class-level `head: Linear`
    annotation; tscheck reports `self.tail[i - 1]` (TS164) instead. With the annotations
    removed, the compiler stops exactly there: the finding is a second real error, not a guess."""
    spec = importlib.util.find_spec("torch")
    assert spec is not None and spec.submodule_search_locations
    path = Path(next(iter(spec.submodule_search_locations))) / "nn" / "modules" / "adaptive.py"
    text = path.read_text(encoding="utf-8")
    for line in ("    head: Linear\n", "    tail: ModuleList\n"):
        assert line in text
        text = text.replace(line, "")
    text = re.sub(r"^from \.(\w+) import", r"from torch.nn.modules.\1 import", text, flags=re.M)

    result = check_source(
        "adaptive.py", text, Config(roots=("adaptive.py:AdaptiveLogSoftmaxWithLoss",))
    )
    reported = {(d.code, d.range.start.line) for d in result.diagnostics}
    (verdict,) = compile_all([Job(code=text, target="AdaptiveLogSoftmaxWithLoss(8, 10, [4, 8])")])
    assert not verdict.accepted
    assert "Expected integer literal for index" in verdict.error
    lines = {int(n) for n in re.findall(r'File "[^"]*", line (\d+)', verdict.error)}
    assert {("TS164", n) for n in lines} & reported, (lines, reported)
