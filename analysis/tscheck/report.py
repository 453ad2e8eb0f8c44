"""Output formats: text, json, sarif, github; statistics; the rule table and explanations.

Positions in every format are 1-based lines and 1-based columns counted in code points, with an
exclusive end (the column after the last character), as ruff and SARIF count them.
Paths are shown as given (relative to the working directory when inside it).
"""

from __future__ import annotations

import json
import os
import textwrap
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from tscheck.model import (
    ChainLink,
    Diagnostic,
    Fix,
    Position,
    Range,
    RuleInfo,
    Severity,
    Verification,
)

JSON_SCHEMA_VERSION = 1
SARIF_SCHEMA = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
INFORMATION_URI = "https://github.com/tscheck/tscheck"
_SARIF_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}
_GITHUB_COMMAND = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}
_CHAIN_MAX = 6

Rules = Mapping[str, RuleInfo]


def fixable(d: Diagnostic) -> bool:
    return any(f.safe for f in d.fixes)


# -- the why-chain ----------------------------------------------------------------------------


def chain_text(d: Diagnostic) -> str:
    """`compiled via Net.forward -> Net.helper` (`traced via` for tracing hazards), one short
    line; the root's file is named when the chain starts in another file. Empty when the
    diagnostic has no chain."""
    if not d.chain:
        return ""
    names: list[str] = []
    for link in d.chain:
        name = link.function or link.text
        if not names or names[-1] != name:
            names.append(name)
    # "Net -> Net.forward": the class root says nothing its method does not.
    if len(names) > 1 and names[1].startswith(names[0] + "."):
        names.pop(0)
    if len(names) > _CHAIN_MAX:
        names = [*names[:2], "...", *names[-(_CHAIN_MAX - 3) :]]
    # The TS4xx rules look at what a trace runs (as Python), not at compiled code.
    verb = "traced via " if d.code.startswith("TS4") else "compiled via "
    text = verb + " -> ".join(names)
    root = d.chain[0]
    if root.path and root.path != d.path:
        text += f" (from {root.path}:{root.line})"
    return text


# -- text -------------------------------------------------------------------------------------


def text(diagnostics: Sequence[Diagnostic], *, show_fixes_hint: bool = True) -> str:
    lines: list[str] = []
    for d in diagnostics:
        start = d.range.start
        mark = "[*] " if fixable(d) else ""
        lines.append(f"{d.path}:{start.line}:{start.column + 1}: {d.code} {mark}{d.message}")
        chain = chain_text(d)
        if chain:
            lines.append(f"  {chain}")
    lines.append(summary_line(diagnostics, show_fixes_hint=show_fixes_hint))
    return "\n".join(lines) + "\n"


def summary_line(diagnostics: Sequence[Diagnostic], *, show_fixes_hint: bool = True) -> str:
    if not diagnostics:
        return "All checks passed!"
    counts = Counter(d.severity for d in diagnostics)
    parts = [
        _plural(counts[severity], word)
        for severity, word in (
            (Severity.ERROR, "error"),
            (Severity.WARNING, "warning"),
            (Severity.INFO, "note"),
        )
        if counts[severity]
    ]
    line = "Found " + " and ".join([", ".join(parts[:-1]), parts[-1]] if len(parts) > 1 else parts)
    n_fixable = sum(1 for d in diagnostics if fixable(d))
    if n_fixable and show_fixes_hint:
        line += f" ({n_fixable} fixable with `tscheck --fix`)"
    return line + "."


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


# -- json -------------------------------------------------------------------------------------


def json_report(
    diagnostics: Sequence[Diagnostic],
    rules: Rules,
    *,
    version: str,
    files: int,
    errors: Sequence[str] = (),
    verification: Verification | None = None,
) -> str:
    counts = Counter(d.severity for d in diagnostics)
    doc = {
        "version": JSON_SCHEMA_VERSION,
        "tool": {"name": "tscheck", "version": version},
        "diagnostics": [_json_diagnostic(d, rules) for d in diagnostics],
        "summary": {
            "files": files,
            "diagnostics": len(diagnostics),
            "errors": counts[Severity.ERROR],
            "warnings": counts[Severity.WARNING],
            "notes": counts[Severity.INFO],
            "fixable": sum(1 for d in diagnostics if fixable(d)),
        },
        "errors": list(errors),
    }
    if verification is not None:
        doc["verification"] = verification_json(verification)
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def verification_json(v: Verification) -> dict[str, Any]:
    """Per-root verdicts of `--verify`, with the interpreter, torch and sandbox that gave them."""
    return {
        "python": v.python,
        "torch": v.torch,
        "sandbox": list(v.layers),
        "confirmed": v.confirmed,
        "dropped": v.dropped,
        "compiler_only": v.compiler_only,
        "roots": [
            {
                "path": r.path,
                "name": r.name,
                "verdict": r.verdict,
                "built_with": r.built_with,
                "reason": r.reason,
                "attempts": r.attempts,
                "ignored_while_peeling": list(r.ignored),
                "device": r.device,
                "warnings": list(r.warnings),
                "errors": [
                    {
                        "file": e.file,
                        "line": e.line,
                        "column": None if e.column is None else e.column + 1,
                        "function": e.function,
                        "stage": e.stage,
                        "message": e.first_line,
                    }
                    for e in r.errors
                ],
            }
            for r in v.roots
        ],
    }


def _json_diagnostic(d: Diagnostic, rules: Rules) -> dict[str, Any]:
    info = rules.get(d.code)
    return {
        "path": d.path,
        "code": d.code,
        "name": info.name if info else "",
        "severity": d.severity.value,
        "message": d.message,
        "range": _json_range(d.range),
        "fixable": fixable(d),
        "fixes": [_json_fix(f) for f in d.fixes],
        "chain": [_json_link(link) for link in d.chain],
        "chain_text": chain_text(d),
        "verification": d.verification or None,
        "related": [_json_link(link) for link in d.related],
        "url": info.url if info else "",
    }


def _json_position(p: Position) -> dict[str, int]:
    return {"line": p.line, "column": p.column + 1}


def _json_range(r: Range) -> dict[str, dict[str, int]]:
    return {"start": _json_position(r.start), "end": _json_position(r.end)}


def _json_fix(f: Fix) -> dict[str, Any]:
    return {
        "title": f.title,
        "safe": f.safe,
        "edits": [{"range": _json_range(e.range), "new_text": e.new_text} for e in f.edits],
    }


def _json_link(link: ChainLink) -> dict[str, Any]:
    return {"text": link.text, "path": link.path, "line": link.line, "function": link.function}


# -- statistics -------------------------------------------------------------------------------


def statistics(diagnostics: Sequence[Diagnostic], rules: Rules) -> list[dict[str, Any]]:
    """One row per code, most frequent first."""
    counts = Counter(d.code for d in diagnostics)
    fixes = Counter(d.code for d in diagnostics if fixable(d))
    rows = []
    for code, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        info = rules.get(code)
        rows.append(
            {
                "code": code,
                "name": info.name if info else "",
                "count": count,
                "fixable": fixes[code],
            }
        )
    return rows


def statistics_text(rows: Sequence[Mapping[str, Any]]) -> str:
    lines = []
    for row in rows:
        mark = "[*]" if row["fixable"] else "   "
        lines.append(f"{row['count']:>5}  {row['code']:<6} {mark} {row['name']}")
    return "\n".join(lines) + ("\n" if lines else "")


# -- github -----------------------------------------------------------------------------------


def github(diagnostics: Sequence[Diagnostic]) -> str:
    """GitHub Actions workflow commands: one annotation per diagnostic."""
    lines = []
    for d in diagnostics:
        start, end = d.range.start, d.range.end
        props = [
            f"file={_gh_property(d.path)}",
            f"line={start.line}",
            f"col={start.column + 1}",
            f"endLine={end.line}",
        ]
        if end.line == start.line:  # GitHub ignores endColumn across lines
            props.append(f"endColumn={end.column + 1}")
        props.append(f"title={_gh_property(d.code)}")
        message = d.message
        chain = chain_text(d)
        if chain:
            message += "\n" + chain
        lines.append(f"::{_GITHUB_COMMAND[d.severity]} {','.join(props)}::{_gh_data(message)}")
    return "".join(line + "\n" for line in lines)


def _gh_data(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _gh_property(value: str) -> str:
    return _gh_data(value).replace(":", "%3A").replace(",", "%2C")


# -- sarif ------------------------------------------------------------------------------------


def sarif(
    diagnostics: Sequence[Diagnostic],
    rules: Rules,
    *,
    version: str,
    errors: Sequence[str] = (),
    cwd: str | None = None,
) -> str:
    """SARIF 2.1.0: one run, every rule in the driver, chains as code flows, fixes as
    artifact changes. Relative paths are relative to %SRCROOT% (the working directory)."""
    cwd = cwd or os.getcwd()
    ordered = sorted(rules.values(), key=lambda r: r.code)
    index = {r.code: i for i, r in enumerate(ordered)}
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "tscheck",
                "version": version,
                "semanticVersion": version if _is_semver(version) else None,
                "informationUri": INFORMATION_URI,
                "rules": [_sarif_rule(r) for r in ordered],
            }
        },
        "originalUriBaseIds": {"%SRCROOT%": {"uri": Path(cwd).as_uri().rstrip("/") + "/"}},
        "columnKind": "unicodeCodePoints",
        "invocations": [
            {
                "executionSuccessful": not errors,
                "toolExecutionNotifications": [
                    {"level": "error", "message": {"text": e}} for e in errors
                ],
            }
        ],
        "results": [_sarif_result(d, index) for d in diagnostics],
    }
    if run["tool"]["driver"]["semanticVersion"] is None:
        del run["tool"]["driver"]["semanticVersion"]
    doc = {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def _is_semver(version: str) -> bool:
    parts = version.split(".")
    return len(parts) == 3 and all(p.isdigit() for p in parts)


def _sarif_rule(info: RuleInfo) -> dict[str, Any]:
    return {
        "id": info.code,
        "name": info.name,
        "shortDescription": {"text": info.summary},
        "fullDescription": {"text": _plain(info.explanation)},
        "help": {"text": _plain(info.explanation), "markdown": info.explanation},
        "helpUri": info.url,
        "defaultConfiguration": {"level": _SARIF_LEVEL[info.severity]},
        "properties": {
            "family": info.family.value,
            "fixable": info.fixable,
            "tags": ["torchscript", info.family.value],
        },
    }


def _plain(markdown: str) -> str:
    return markdown.replace("**", "").replace("`", "")


def artifact_location(path: str) -> dict[str, str]:
    if os.path.isabs(path):
        return {"uri": Path(path).as_uri()}
    return {"uri": quote(Path(path).as_posix()), "uriBaseId": "%SRCROOT%"}


def _region(r: Range) -> dict[str, int]:
    return {
        "startLine": r.start.line,
        "startColumn": r.start.column + 1,
        "endLine": r.end.line,
        "endColumn": r.end.column + 1,
    }


def _line_location(link: ChainLink, id_: int | None = None) -> dict[str, Any]:
    location: dict[str, Any] = {
        "physicalLocation": {
            "artifactLocation": artifact_location(link.path),
            "region": {"startLine": max(link.line, 1)},
        },
        "message": {"text": link.text},
    }
    if id_ is not None:
        location["id"] = id_
    return location


def _sarif_result(d: Diagnostic, index: Mapping[str, int]) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ruleId": d.code,
        "level": _SARIF_LEVEL[d.severity],
        "message": {"text": d.message},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": artifact_location(d.path),
                    "region": _region(d.range),
                }
            }
        ],
    }
    if d.code in index:
        result["ruleIndex"] = index[d.code]
    if d.chain:
        result["codeFlows"] = [
            {
                "message": {"text": chain_text(d)},
                "threadFlows": [
                    {"locations": [{"location": _line_location(link)} for link in d.chain]}
                ],
            }
        ]
    if d.related:
        result["relatedLocations"] = [
            _line_location(link, i) for i, link in enumerate(d.related, start=1)
        ]
    if d.fixes:
        result["fixes"] = [
            {
                "description": {"text": f.title},
                "artifactChanges": [
                    {
                        "artifactLocation": artifact_location(d.path),
                        "replacements": [
                            {
                                "deletedRegion": _region(e.range),
                                "insertedContent": {"text": e.new_text},
                            }
                            for e in f.edits
                        ],
                    }
                ],
            }
            for f in d.fixes
        ]
    return result


# -- rules and explanations -------------------------------------------------------------------


def rules_table(rules: Iterable[RuleInfo]) -> str:
    rows = [(r.code, r.name, "[*]" if r.fixable else "", r.summary) for r in rules]
    if not rows:
        return ""
    width = max(len(name) for _, name, _, _ in rows)
    lines = [f"{'code':<6} {'name':<{width}} fix summary"]
    lines += [f"{code:<6} {name:<{width}} {fix:<3} {summary}" for code, name, fix, summary in rows]
    return "\n".join(lines) + "\n"


def rules_json(rules: Iterable[RuleInfo]) -> str:
    doc = [
        {
            "code": r.code,
            "name": r.name,
            "summary": r.summary,
            "family": r.family.value,
            "severity": r.severity.value,
            "fixable": r.fixable,
            "url": r.url,
            "explanation": r.explanation,
        }
        for r in rules
    ]
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def rules_markdown(rules: Sequence[RuleInfo]) -> str:
    """docs/rules.md: a table, then each rule's explanation and first examples."""
    out = [
        "# tscheck rules",
        "",
        "<!-- Generated by `tscheck rules --format markdown > docs/rules.md`; do not edit. -->",
        "",
        "Every example below is checked against the real `torch.jit.script` by the test suite.",
        "Rules marked *fix* have a safe automatic fix (`tscheck --fix`).",
        "",
        "| Code | Name | Summary | Fix |",
        "| --- | --- | --- | --- |",
    ]
    for r in rules:
        out.append(
            f"| [{r.code}](#{_anchor(r)}) | {r.name} | {_cell(r.summary)} | "
            f"{'fix' if r.fixable else ''} |"
        )
    for r in rules:
        out += ["", f"## {r.code} {r.name}", "", f"{r.summary}.".replace("..", "."), ""]
        out.append(
            f"*Family:* {r.family.value} · *Severity:* {r.severity.value} · "
            f"*Fixable:* {'yes' if r.fixable else 'no'}"
        )
        out += ["", r.explanation.strip()]
        out += _markdown_examples(r)
    return "\n".join(out) + "\n"


def _anchor(r: RuleInfo) -> str:
    return f"{r.code.lower()}-{r.name}"


def _cell(value: str) -> str:
    return value.replace("|", "\\|")


def _markdown_examples(r: RuleInfo) -> list[str]:
    out: list[str] = []
    if r.invalid:
        e = r.invalid[0]
        out += ["", f"**Rejected** (reported on line {e.line}):", "", "```python", e.code.rstrip()]
        out += ["```"]
        if e.fixed:
            out += ["", "**After `tscheck --fix`:**", "", "```python", e.fixed.rstrip(), "```"]
    if r.valid:
        out += ["", "**Accepted:**", "", "```python", r.valid[0].code.rstrip(), "```"]
    return out


def explain(r: RuleInfo) -> str:
    """`tscheck explain CODE`: plain text for a terminal."""
    out = [f"{r.code} {r.name}", "", f"{r.summary}.".replace("..", "."), ""]
    out.append(
        f"Family: {r.family.value}    Severity: {r.severity.value}    "
        f"Fixable: {'yes' if r.fixable else 'no'}"
    )
    out += ["", _plain(r.explanation).strip()]
    for e in r.invalid:
        out += ["", f"Rejected by torch.jit.script (reported on line {e.line}):", ""]
        out += [textwrap.indent(e.code.rstrip(), "    ")]
        if e.fixed:
            out += ["", "After tscheck --fix:", "", textwrap.indent(e.fixed.rstrip(), "    ")]
    for e in r.valid:
        out += ["", "Accepted:", "", textwrap.indent(e.code.rstrip(), "    ")]
    out += ["", f"More: {r.url}"]
    return "\n".join(out) + "\n"
