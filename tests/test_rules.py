"""Every rule's VALID / INVALID examples, checked against the real compiler and against tscheck.

- INVALID: torch.jit.script (or save / call) rejects it with the message the rule names,
  and tscheck reports the rule on the example's line.
- VALID: the compiler accepts it (script, save, load, call) and tscheck reports nothing.
- Fixes: applying the rule's first fix to an INVALID example yields code the compiler accepts
  (and the exact text the example states, where it states one).
"""

from __future__ import annotations

import functools

import pytest

from tscheck.config import Config
from tscheck.engine import Result, check_source
from tscheck.fix import apply_edits
from tscheck.model import Example
from tscheck.rules import ALL_RULES
from tscheck.rules.base import Rule

from compiler import Job, Verdict, compile_all

INVALID = [(rule, i, e) for rule in ALL_RULES for i, e in enumerate(rule.INVALID)]
VALID = [(rule, i, e) for rule in ALL_RULES for i, e in enumerate(rule.VALID)]


def _id(case: tuple[Rule, int, Example]) -> str:
    return f"{case[0].code}-{case[1]}"


def analyze(example: Example) -> Result:
    """tscheck on an example, rooted where the compiler starts: the example's target."""
    target = example.target or ("M()" if "\nclass M(" in "\n" + example.code else "f")
    root = target.split("(")[0].strip()
    if example.trace_inputs is not None:  # a tracing rule's example: traced, not scripted
        config = Config(traced=(f"example.py:{root}",), select=("TS4",))
        return check_source("example.py", example.code, config)
    return check_source("example.py", example.code, Config(roots=(f"example.py:{root}",)))


def job(code: str, e: Example) -> Job:
    return Job(code, e.target, e.call, e.trace_inputs, e.second_inputs)


def expected_error(example: Example) -> str:
    """What the compiler's (or, for a tracing example, the tracer's) answer must contain:
    a TracerWarning names the example's line, a divergence has none."""
    if example.trace_inputs is None or example.error.startswith(("diverges", "check_trace")):
        return example.error
    return f"line {example.line}: {example.error}"


def fixed_code(rule: Rule, example: Example) -> str | None:
    diags = [d for d in analyze(example).diagnostics if d.code == rule.code]
    fixes = [d.fixes[0] for d in diags if d.fixes]
    if not fixes:
        return None
    return apply_edits(example.code, [e for e in fixes[0].edits])


@functools.cache
def verdicts() -> dict[tuple[str, str], Verdict]:
    """One compiler run for every example (and every fixed example) of every rule."""
    jobs: list[tuple[tuple[str, str], Job]] = []
    for rule, i, e in INVALID:
        jobs.append(((f"{rule.code}-{i}", "invalid"), job(e.code, e)))
        fixed = fixed_code(rule, e)
        if fixed is not None:
            jobs.append(((f"{rule.code}-{i}", "fixed"), job(fixed, e)))
    for rule, i, e in VALID:
        jobs.append(((f"{rule.code}-{i}", "valid"), job(e.code, e)))
    results = compile_all([job for _, job in jobs])
    return {key: verdict for (key, _), verdict in zip(jobs, results, strict=True)}


def test_every_rule_has_examples_and_docs() -> None:
    for rule in ALL_RULES:
        assert rule.INVALID, f"{rule.code} has no INVALID example"
        assert rule.VALID, f"{rule.code} has no VALID example"
        assert rule.explanation.strip() and rule.summary, rule.code
        for e in rule.INVALID:
            assert e.line is not None and e.error, f"{rule.code}: INVALID needs line and error"


def test_rule_codes_and_names_are_unique() -> None:
    codes = [r.code for r in ALL_RULES]
    names = [r.name for r in ALL_RULES]
    assert len(codes) == len(set(codes))
    assert len(names) == len(set(names))


@pytest.mark.parametrize("case", INVALID, ids=_id)
def test_invalid_example_is_rejected_by_the_compiler(case: tuple[Rule, int, Example]) -> None:
    rule, i, example = case
    verdict = verdicts()[(f"{rule.code}-{i}", "invalid")]
    assert not verdict.accepted, f"the compiler accepts {rule.code} INVALID[{i}]"
    assert expected_error(example) in verdict.error, verdict.error


@pytest.mark.parametrize("case", INVALID, ids=_id)
def test_invalid_example_is_reported_on_its_line(case: tuple[Rule, int, Example]) -> None:
    rule, _, example = case
    diags = analyze(example).diagnostics
    lines = [d.range.start.line for d in diags if d.code == rule.code]
    assert example.line in lines, f"{rule.code} reported on lines {lines}: {diags}"


@pytest.mark.parametrize("case", VALID, ids=_id)
def test_valid_example_is_accepted_by_the_compiler(case: tuple[Rule, int, Example]) -> None:
    rule, i, _ = case
    verdict = verdicts()[(f"{rule.code}-{i}", "valid")]
    assert verdict.accepted, f"{rule.code} VALID[{i}] rejected at {verdict.stage}: {verdict.error}"


@pytest.mark.parametrize("case", VALID, ids=_id)
def test_valid_example_gets_no_diagnostics(case: tuple[Rule, int, Example]) -> None:
    _, _, example = case
    assert analyze(example).diagnostics == ()


FIXABLE = [case for case in INVALID if case[0].fixable]


@pytest.mark.parametrize("case", FIXABLE, ids=_id)
def test_fix_yields_code_the_compiler_accepts(case: tuple[Rule, int, Example]) -> None:
    rule, i, example = case
    fixed = fixed_code(rule, example)
    if fixed is None:
        assert example.fixed is None, f"{rule.code} INVALID[{i}] promises a fix but offers none"
        return
    if example.fixed is not None:
        assert fixed == example.fixed
    verdict = verdicts()[(f"{rule.code}-{i}", "fixed")]
    assert verdict.accepted, f"fixed code rejected at {verdict.stage}: {verdict.error}\n{fixed}"


def test_every_fixable_rule_fixes_at_least_one_example() -> None:
    for rule in ALL_RULES:
        if rule.fixable:
            assert any(fixed_code(rule, e) for e in rule.INVALID), rule.code
