"""tscheck against the TorchScript ground-truth catalog (shared/torchscript/catalog.json):
230 snippets, each run through the real compiler (torch 2.13).

- Every snippet the compiler ACCEPTS gets no diagnostic (precision).
- Every rejected snippet that a rule claims (`Rule.CATALOG`) gets that rule's diagnostic,
  on the line the compiler highlights when it highlights one in the snippet.
- Every other rejected snippet is listed in `catalog_uncovered.UNCOVERED` with the reason no
  static rule predicts it, so a coverage gap is a decision, not an accident.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tscheck.config import Config
from tscheck.engine import check_source
from tscheck.rules import ALL_RULES

from catalog_uncovered import REPORTED_ELSEWHERE, UNCOVERED


def _find_catalog() -> Path | None:
    here = Path(__file__).resolve()
    for folder in here.parents:
        candidate = folder.parent / "shared" / "torchscript" / "catalog.json"
        if candidate.is_file():
            return candidate
        candidate = folder / "shared" / "torchscript" / "catalog.json"
        if candidate.is_file():
            return candidate
    return None


CATALOG_PATH = _find_catalog()
CATALOG: dict[str, Any] = json.loads(CATALOG_PATH.read_text()) if CATALOG_PATH else {"cases": []}
CASES = {case["name"]: case for case in CATALOG["cases"]}
HEADER_LINES = CATALOG.get("header_lines", 3)
CLAIMS = {name: rule.code for rule in ALL_RULES for name in rule.CATALOG}

pytestmark = pytest.mark.skipif(CATALOG_PATH is None, reason="shared/torchscript not found")


def runner_code(case: dict[str, Any]) -> tuple[str, str]:
    """The snippet as the catalog runner uses it, and its target. The runner scripts the
    target (and calls a method on the result); where the target is not a def or a call
    (`g` for a lambda, `math.sqrt`, `fn` taken from an exec namespace, a class), or the runner
    calls a method, those steps are appended (in a function never called) so the call site
    exists as the runner makes it."""
    code = CATALOG["header"] + case["snippet"]
    if not code.endswith("\n"):
        code += "\n"
    target = case.get("target") or ("M()" if re.search(r"^class M\b", code, re.M) else "f")
    defs = rf"^(async\s+)?def\s+{re.escape(target)}\b"
    steps = []
    if "(" not in target and not re.search(defs, code, re.M):
        steps.append(f"_scripted = torch.jit.script({target})")
    if case.get("method") and case.get("call"):
        steps.append(f"_scripted = torch.jit.script({target})")
        steps.append(f"_scripted.{case['method']}(*{case['call']})")
    if steps:
        # In a function, so that importing the file (--verify does) runs none of it.
        code += "\n\ndef _catalog_runner():\n" + "".join(f"    {s}\n" for s in steps)
    return code, target


def analyze(case: dict[str, Any]):  # type: ignore[no-untyped-def]
    code, target = runner_code(case)
    root = re.match(r"[A-Za-z_][A-Za-z_0-9]*", target)
    assert root is not None
    config = Config(roots=(f"case.py:{root.group(0)}",))
    return check_source("case.py", code, config)


ACCEPTED = sorted(n for n, c in CASES.items() if not c["rejected"])
REJECTED = sorted(n for n, c in CASES.items() if c["rejected"])


@pytest.mark.parametrize("name", ACCEPTED)
def test_accepted_snippet_gets_no_diagnostic(name: str) -> None:
    result = analyze(CASES[name])
    assert result.internal_errors == ()
    assert result.diagnostics == (), "the compiler accepts this snippet"


@pytest.mark.parametrize("name", sorted(CLAIMS))
def test_claimed_snippet_is_reported(name: str) -> None:
    case = CASES[name]
    assert case["rejected"], f"{name} is accepted by the compiler; no rule may claim it"
    code = CLAIMS[name]
    diags = [d for d in analyze(case).diagnostics if d.code == code]
    assert diags, f"{code} does not fire on {name}"
    line = case.get("highlight_line_offset")
    if (
        line is not None
        and case.get("highlight_file_line") is not None
        and not case.get("call_chain")
    ):
        assert line + HEADER_LINES in [d.range.start.line for d in diags]


@pytest.mark.parametrize("name", sorted(REPORTED_ELSEWHERE))
def test_snippet_reported_at_its_cause(name: str) -> None:
    code, line, _ = REPORTED_ELSEWHERE[name]
    diags = analyze(CASES[name]).diagnostics
    assert (code, line + HEADER_LINES) in [(d.code, d.range.start.line) for d in diags]


def test_every_rejected_snippet_is_claimed_or_explained() -> None:
    explained = CLAIMS.keys() | UNCOVERED.keys() | REPORTED_ELSEWHERE.keys()
    unexplained = [n for n in REJECTED if n not in explained]
    assert not unexplained, f"neither claimed by a rule nor explained: {unexplained}"
    stale = [n for n in UNCOVERED if n in CLAIMS or n not in CASES]
    assert not stale, f"UNCOVERED lists claimed or unknown cases: {stale}"
