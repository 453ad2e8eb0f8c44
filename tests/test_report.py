"""Output formatting on hand-made diagnostics: chains, escaping, summaries, SARIF locations."""

from __future__ import annotations

import dataclasses
import json

from tscheck import report
from tscheck.model import ChainLink, Diagnostic, Family, Fix, Range, RuleInfo, Severity, TextEdit

RULE = RuleInfo(
    code="TS101",
    name="lambda",
    summary="TorchScript does not support lambda expressions",
    explanation="**What it does.** Flags `lambda`.",
    family=Family.UNSUPPORTED_CONSTRUCTS,
    severity=Severity.ERROR,
    fixable=False,
    url="https://example.invalid/rules.md#ts101-lambda",
)


def diag(
    path: str = "m.py",
    chain: tuple[ChainLink, ...] = (),
    severity: Severity = Severity.ERROR,
    message: str = "no lambda",
    fixes: tuple[Fix, ...] = (),
) -> Diagnostic:
    return Diagnostic(
        path=path,
        range=Range.of(3, 4, 3, 10),
        code="TS101",
        message=message,
        severity=severity,
        chain=chain,
        fixes=fixes,
    )


def link(function: str, path: str = "m.py", line: int = 1) -> ChainLink:
    return ChainLink(text=f"{function} ...", path=path, line=line, function=function)


def test_chain_drops_the_class_root_when_its_method_follows() -> None:
    d = diag(chain=(link("Net"), link("Net.forward"), link("Net.helper")))
    assert report.chain_text(d) == "compiled via Net.forward -> Net.helper"


def test_chain_keeps_a_function_root_and_names_another_files_root() -> None:
    d = diag(path="utils.py", chain=(link("f", "model.py", 4), link("pad", "model.py", 6)))
    assert report.chain_text(d) == "compiled via f -> pad (from model.py:4)"


def test_long_chains_stay_one_short_line() -> None:
    d = diag(chain=tuple(link(f"f{i}") for i in range(12)))
    assert report.chain_text(d) == "compiled via f0 -> f1 -> ... -> f9 -> f10 -> f11"


def test_no_chain_no_line() -> None:
    assert report.chain_text(diag()) == ""
    assert report.text([diag()]) == "m.py:3:5: TS101 no lambda\nFound 1 error.\n"


def test_summary_line_counts_severities_and_fixes() -> None:
    fix = Fix("f", (TextEdit(Range.of(3, 4, 3, 10), "x"),))
    diags = [
        diag(fixes=(fix,)),
        diag(),
        diag(severity=Severity.WARNING),
        diag(severity=Severity.INFO),
    ]
    assert report.summary_line(diags) == (
        "Found 2 errors, 1 warning and 1 note (1 fixable with `tscheck --fix`)."
    )
    assert report.summary_line([]) == "All checks passed!"


def test_github_escapes_data_and_properties() -> None:
    d = diag(path="a,b:c.py", message="50% off\nnext line", severity=Severity.WARNING)
    (line,) = report.github([d]).splitlines()
    assert line == (
        "::warning file=a%2Cb%3Ac.py,line=3,col=5,endLine=3,endColumn=11,title=TS101::"
        "50%25 off%0Anext line"
    )


def test_sarif_locations_for_relative_absolute_and_odd_paths() -> None:
    assert report.artifact_location("pkg/my model.py") == {
        "uri": "pkg/my%20model.py",
        "uriBaseId": "%SRCROOT%",
    }
    assert report.artifact_location("/abs/m.py") == {"uri": "file:///abs/m.py"}
    doc = json.loads(
        report.sarif([diag(severity=Severity.INFO)], {"TS101": RULE}, version="0.1.0", cwd="/w")
    )
    run = doc["runs"][0]
    assert run["originalUriBaseIds"] == {"%SRCROOT%": {"uri": "file:///w/"}}
    assert run["results"][0]["level"] == "note"
    assert run["tool"]["driver"]["semanticVersion"] == "0.1.0"


def test_sarif_reports_tool_errors_as_notifications() -> None:
    doc = json.loads(report.sarif([], {}, version="0+dev", errors=["x.py: not UTF-8"], cwd="/w"))
    (invocation,) = doc["runs"][0]["invocations"]
    assert invocation["executionSuccessful"] is False
    assert invocation["toolExecutionNotifications"][0]["message"]["text"] == "x.py: not UTF-8"
    assert "semanticVersion" not in doc["runs"][0]["tool"]["driver"]


def test_markdown_anchor_matches_the_rule_url() -> None:
    md = report.rules_markdown([RULE])
    assert "[TS101](#ts101-lambda)" in md and "\n## TS101 lambda\n" in md
    assert RULE.url.endswith("#ts101-lambda")


def test_a_tracing_hazard_says_traced_via() -> None:
    d = dataclasses.replace(diag(chain=(link("Net"), link("Net.forward"))), code="TS401")
    assert report.chain_text(d) == "traced via Net.forward"
