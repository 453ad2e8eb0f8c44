"""Tracing hazards (TS4xx): what a trace runs (trace_reach), and where the rules report.

The rules' own examples are traced by tests/test_rules.py; here: which functions are traced
(call sites, config, submodules, scripted parts), precision outside traced code, branches a
trace never runs, and one module whose TracerWarnings (from the real tracer) must be exactly
the lines tscheck reports.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tscheck.config import Config, ConfigError, from_mapping
from tscheck.engine import check_source, traced_functions
from tscheck.incremental import AnalysisCache
from tscheck.index import summarize
from tscheck.model import Diagnostic, Range
from tscheck.reach import Project, Root
from tscheck.rules import ALL_RULES
from tscheck.trace_reach import traced_set
from tscheck.verify.trace_job import TracerWarning, TraceVerdict, reconcile_traces

from compiler import Job, compile_all


def code(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def ts4(text: str, config: Config | None = None) -> list[tuple[int, str]]:
    result = check_source("m.py", code(text), config or Config())
    return [(d.range.start.line, d.code) for d in result.diagnostics if d.code.startswith("TS4")]


def traced_names(text: str, chosen: tuple[Root, ...] = ()) -> set[str]:
    project = Project([summarize("m.py", "m", code(text))])
    return {c.info.qualname for c in traced_set(project, chosen)}


NET = """
import torch
import torch.nn as nn


@torch.jit.script_if_tracing
def compiled_helper(x: torch.Tensor) -> torch.Tensor:
    return x


@torch.jit.script
def scripted(x: torch.Tensor) -> torch.Tensor:
    return x


def helper(x):
    return x + 1


class Block(nn.Module):
    def forward(self, x):
        return self.scale(x)

    def scale(self, x):
        return x * 2


class Scripted(nn.Module):
    def forward(self, x):
        return x


class Unused(nn.Module):
    def forward(self, x):
        return x


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.block = Block()
        self.seq = nn.Sequential(Block(), nn.ReLU())
        self.scripted = torch.jit.script(Scripted())
        self.unused = Unused()

    def forward(self, x):
        x = self.seq(self.block(x))
        x = self.scripted(x)
        return compiled_helper(scripted(helper(x)))

    def other(self, x):
        return x


def export():
    return torch.jit.trace(Net(), (torch.ones(2),))
"""


def test_a_trace_runs_forward_its_callees_and_the_submodules_it_calls() -> None:
    assert traced_names(NET) == {"Net.forward", "Block.forward", "Block.scale", "helper"}


def test_scripted_parts_and_uncalled_submodules_are_not_traced() -> None:
    names = traced_names(NET)
    for kept_as_call in ("compiled_helper", "scripted", "Scripted.forward"):
        assert kept_as_call not in names
    assert "Unused.forward" not in names and "Net.other" not in names


def test_no_trace_call_site_means_nothing_is_traced() -> None:
    assert traced_names(NET.replace("torch.jit.trace", "torch.jit.script")) == set()


def test_a_traced_function_and_a_module_marked_in_config() -> None:
    text = """
    import torch


    def f(x):
        return g(x)


    def g(x):
        return x


    traced = torch.jit.trace(f, (torch.ones(1),))
    """
    assert traced_names(text) == {"f", "g"}
    module = """
    import torch.nn as nn


    class Net(nn.Module):
        def forward(self, x):
            return x
    """
    assert traced_names(module) == set()
    assert traced_names(module, (Root("m.py", "Net"),)) == {"Net.forward"}


HAZARDS = """
import torch
import torch.nn as nn


class Net(nn.Module):
    def forward(self, x):
        if x.sum() > 0:
            x = x * 2
        return x.item()
"""


def test_modules_never_traced_get_no_tracing_diagnostics() -> None:
    assert ts4(HAZARDS) == []


def test_config_traced_makes_a_module_traced() -> None:
    config = Config(traced=("m.py:Net",))
    assert ts4(HAZARDS, config) == [(7, "TS401"), (9, "TS402")]


def test_a_trace_call_site_makes_a_module_traced_with_its_chain() -> None:
    text = HAZARDS + "\n\ndef export():\n    return torch.jit.trace(Net(), (torch.ones(2),))\n"
    result = check_source("m.py", code(text), Config())
    found = [d for d in result.diagnostics if d.code == "TS401"]
    assert len(found) == 1
    assert found[0].chain[0].text == "torch.jit.trace(Net) in m.py"
    assert found[0].chain[0].line == 13


def test_traced_functions_are_computed_only_when_a_tracing_rule_is_on() -> None:
    project = Project([summarize("m.py", "m", code(HAZARDS))])
    config = Config(traced=("m.py:Net",))
    assert traced_functions(project, config, ALL_RULES)
    assert traced_functions(project, config, [r for r in ALL_RULES if r.code < "TS4"]) == []


def test_values_that_are_not_tensors_are_not_flagged() -> None:
    text = """
    import torch
    import torch.nn as nn


    class Net(nn.Module):
        def forward(self, x, flag: bool = False, n: int = 2):
            if flag:
                x = x + 1
            if x.dim() == 2 and n > 1:
                x = x.view(x.shape[0], -1)
            items = [x, x]
            if items:
                x = x + torch.zeros(x.size(0), 1)
            for i in range(n):
                x = x + i
            return x
    """
    assert ts4(text, Config(traced=("m.py:Net",))) == []


def test_branches_a_trace_never_runs_are_not_flagged() -> None:
    text = """
    import torch
    import torch.nn as nn


    class Net(nn.Module):
        def forward(self, x):
            if torch.jit.is_scripting():
                if x.sum() > 0:
                    return x
            if not torch.jit.is_tracing():
                if x.sum() > 1:
                    return x
            if not torch.jit.is_scripting():
                if x.sum() > 2:
                    return x
            if torch.jit.is_tracing():
                return x
            return x.item()
    """
    assert ts4(text, Config(traced=("m.py:Net",))) == [(14, "TS401")]


def test_a_traced_and_scripted_module_gets_each_family_once() -> None:
    text = HAZARDS + "\n\ndef export():\n    return torch.jit.trace(Net(), (torch.ones(2),))\n"
    codes = [d.code for d in check_source("m.py", code(text), Config()).diagnostics]
    assert codes.count("TS401") == 1 and codes.count("TS402") == 1


def test_config_traced_must_be_a_list_of_strings() -> None:
    assert from_mapping({"traced": ["a.py:Net"]}).traced == ("a.py:Net",)
    with pytest.raises(ConfigError, match="traced"):
        from_mapping({"traced": {"a.py": "Net"}})


# The real tracer: every TracerWarning in this module is on a line tscheck reports, and
# tscheck reports nothing the tracer does not warn about (each hazard here does warn).
WARNS = """
import torch
import torch.nn as nn


class Sub(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        if n > 1:
            x = x * 2
        return x / float(x.sum())


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.sub = Sub()

    def forward(self, x):
        y = torch.relu(self.sub(x))
        rows = y.tolist()
        total = torch.zeros(y.shape[1])
        for row in y:
            total = total + row
        if y.mean() > 0 and x.max() > 0:
            total = total + 1
        k = int(y.shape[1])
        z = y.view(y.size(0), -1) + torch.ones(k)
        return total + len(rows) + z.sum() + x.abs().sum().item()
"""


def test_tracer_warnings_are_exactly_the_lines_tscheck_reports() -> None:
    (verdict,) = compile_all([Job(code(WARNS), "Net()", None, "(torch.ones(2, 3),)", None)])
    warned = {int(n) for n in re.findall(r"TracerWarning at line (\d+)", verdict.error)}
    reported = {line for line, _ in ts4(WARNS, Config(traced=("m.py:Net",)))}
    assert warned == reported == {8, 10, 20, 22, 24, 26, 28}


def test_only_globals_that_the_file_rebinds_are_flagged() -> None:
    text = """
    import torch

    EPS = 1e-5
    SCALE = 2.0


    def set_scale(value: float) -> None:
        global SCALE
        SCALE = value


    def f(x: torch.Tensor):
        return x * SCALE + EPS


    def g(x: torch.Tensor, SCALE: float = 1.0):
        return x * SCALE
    """
    config = Config(traced=("m.py:f", "m.py:g"))
    assert ts4(text, config) == [(13, "TS406")]


# --verify: traced roots with example inputs are traced in the sandbox (check_trace=True).
VERIFIED = """
import torch
import torch.nn as nn


class Net(nn.Module):
    def forward(self, x):
        if x.sum() > 0:
            x = x * 2
        for i in range(x.shape[0]):
            x = x + i
        m = max(x.size(0), 2)
        return x * m
"""


def test_verify_traces_and_confirms_ts4xx_at_the_tracer_warnings(tmp_path: Path) -> None:
    (tmp_path / "net.py").write_text(code(VERIFIED))
    (tmp_path / "pyproject.toml").write_text(
        '[tool.tscheck]\ntraced = ["net.py:Net"]\n'
        '[tool.tscheck.examples]\n"net.py:Net" = "(torch.ones(2, 3),)"\n'
    )
    proc = subprocess.run(
        [sys.executable, "-m", "tscheck", "--verify", "--no-cache", "--format", "json", "net.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    doc = json.loads(proc.stdout)
    got = [(d["code"], d["range"]["start"]["line"], d["verification"]) for d in doc["diagnostics"]]
    # The condition warns and is confirmed; the loop bakes its count in silently (static only);
    # max() compares a size, which nothing static predicts: the tracer's warning is TS429.
    assert got == [("TS401", 7, "confirmed"), ("TS403", 9, None), ("TS429", 11, "compiler")]
    # Net is marked traced and scripted nowhere: not a scripting root, nothing scripted.
    assert doc["verification"]["roots"] == []


def test_reconcile_traces_confirms_adds_ts429_and_keeps_silent_hazards() -> None:
    path = os.path.abspath("net.py")
    static = [
        Diagnostic(path, Range.of(7, 11, 7, 22), "TS401", "x.sum() > 0 is a tensor"),
        Diagnostic(path, Range.of(9, 17, 9, 34), "TS403", "range(x.shape[0])"),
    ]
    warned = (
        TracerWarning("Converting a tensor to a Python boolean. More.", path, 7),
        TracerWarning("Converting a tensor to a Python integer", path, 12),
        TracerWarning("Output nr 1. of the traced function does not match", "/torch/_trace.py", 9),
    )
    verdicts = [
        TraceVerdict(path, "Net", 5, "traced", "", warned),
        TraceVerdict(path, "g", 20, "check_failed", "Graphs differed across invocations"),
    ]
    out, confirmed, only = reconcile_traces(static, verdicts)
    got = [(d.code, d.range.start.line, d.verification) for d in out]
    assert got == [
        ("TS401", 7, "confirmed"),
        ("TS403", 9, ""),
        ("TS429", 12, "compiler"),
        ("TS429", 5, "compiler"),
        ("TS429", 20, "compiler"),
    ]
    assert (confirmed, only) == (1, 3)
    assert out[0].related[-1].text == "torch.jit.trace: Converting a tensor to a Python boolean."
    assert "(raised inside torch)" in out[3].message
    assert (
        out[4].message == "torch.jit.trace(g) fails check_trace: Graphs differed across invocations"
    )


ATTENTION = """
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class Attention(nn.Module):
    def __init__(self, dim: int = 8, heads: int = 2):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x, mask=None):
        B, T, C = x.shape
        assert C % self.heads == 0
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        q = q.view(B, T, self.heads, C // self.heads).transpose(1, 2)
        k = k.view(B, T, self.heads, C // self.heads).transpose(1, 2)
        v = v.view(B, T, self.heads, C // self.heads).transpose(1, 2)
        scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
        if mask is not None:
            scores = scores.masked_fill(mask == 0, -1e9)
        att = F.softmax(scores, dim=-1)
        out = (att @ v).transpose(1, 2).reshape(B, T, C)
        return self.proj(out)
"""


def test_an_attention_layer_warns_exactly_where_tscheck_reports() -> None:
    """Sizes unpacked from x.shape and used in view/reshape are recorded (no warning); the
    assert on one and math.sqrt of another are constants of the trace."""
    (verdict,) = compile_all([Job(code(ATTENTION), "Attention()", None, "(torch.ones(2, 5, 8),)")])
    warned = {int(n) for n in re.findall(r"TracerWarning at line (\d+)", verdict.error)}
    reported = set(ts4(ATTENTION, Config(traced=("m.py:Attention",))))
    assert warned == {17, 22}
    assert reported == {(17, "TS401"), (22, "TS402")}


def test_incremental_cache_keeps_the_compiled_entry_of_a_traced_function() -> None:
    text = code(
        HAZARDS + "\n\ndef export():\n    return torch.jit.trace(Net(), (torch.ones(2),))\n"
    )
    cache = AnalysisCache()
    both = Config(roots=("m.py:Net",))  # scripted as a chosen root, and traced by export()
    first = check_source("m.py", text, both, cache=cache)
    second = check_source("m.py", text, both, cache=cache)
    assert first.diagnostics == second.diagnostics
    assert {d.code for d in second.diagnostics} >= {"TS401", "TS402"}
    # Net.forward is compiled (an nn.Module) and traced: its compiled findings are reused,
    # the traced ones recomputed.
    assert (cache.analyzed_functions, cache.reused_functions) == (1, 1)


BLOCKS = """\
import torch
from torch import nn


class Block(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        try:
            y = x * 2
        except RuntimeError:
            y = x
        if y.sum() > 0:
            return y
        return x


class Spare(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        try:
            return x * int(x.max())
        except RuntimeError:
            return x


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.blocks = nn.ModuleList([Block() for _ in range(2)])
        self.spare = nn.ModuleList([Spare()])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i, block in enumerate(self.blocks):
            x = block(x)
        return x


def export() -> torch.jit.ScriptModule:
    return torch.jit.trace(Net(), (torch.ones(2),))
"""


def test_modules_a_traced_forward_iterates_are_traced_and_not_scripting_roots(
    tmp_path: Path,
) -> None:
    """`for block in self.blocks:` runs every Block forward in the trace: its tensor
    condition is TS401 at the line where the real tracer warns, and Block, used only inside the
    traced Net, is no scripting root (its try/except is fine in a trace). Spare sits in a
    ModuleList the forward never iterates: not traced (no TS402 on its int()), and, like any
    nn.Module nothing traces, a default scripting root (TS102)."""
    module = tmp_path / "blocks_case.py"
    module.write_text(BLOCKS)
    probe = (
        "import sys, warnings, torch\n"
        f"sys.path.insert(0, {str(tmp_path)!r})\n"
        "import blocks_case\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    blocks_case.export()\n"
        "print(sorted({w.lineno for w in caught if issubclass(w.category, "
        "torch.jit.TracerWarning) and w.filename.endswith('blocks_case.py')}))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=300, check=True
    )
    assert proc.stdout.strip().splitlines()[-1] == "[11]"
    found = [(d.code, d.range.start.line) for d in check_source("m.py", BLOCKS).diagnostics]
    assert found == [("TS401", 11), ("TS102", 18)]
