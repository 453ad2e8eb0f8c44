"""Traced roots in the verifier: torch.jit.trace's own warnings, reconciled with TS4xx.

A traced root (a `torch.jit.trace` call site's module or function, or `traced = [...]` in
config) that has example inputs in `[tool.tscheck.examples]` is traced in the sandbox with
`check_trace=True` (a `script` request whose `roots` is empty and whose `trace` lists the
roots; the child side is trace_child.py). Each `TracerWarning` names the line of Python that
caused it:
- a static TS4xx diagnostic on that line is **confirmed** (the warning goes into its related
  information);
- a warning nothing static predicted becomes **TS429** at its line (a warning from torch's own
  files, such as check_trace's output comparison, at the root's definition);
- a failed check_trace (two traces, two graphs) or a trace that raises is TS429 at the root.
Static TS4xx diagnostics on lines with no warning are kept as they are: several hazards (a loop
counted by `x.shape[0]`, `self.training`, Python randomness) bake a value in silently.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from tscheck.config import Config
from tscheck.engine import TRACER_WARNING, traced_in_config
from tscheck.index import ClassInfo, FunctionInfo
from tscheck.model import ChainLink, Diagnostic, Range, Severity
from tscheck.reach import Project
from tscheck.trace_reach import trace_roots
from tscheck.verify.peel import ModuleJob, Requester, Target, script_message


@dataclass(frozen=True)
class TracerWarning:
    message: str
    file: str  # absolute
    line: int


@dataclass(frozen=True)
class TraceVerdict:
    """What tracing one root gave: "traced", "check_failed", "trace_error", "unverified",
    or the zygote's status when the job did not finish ("timeout", "crashed", ...)."""

    path: str  # absolute
    name: str
    line: int  # the root's definition
    verdict: str
    detail: str = ""
    warnings: tuple[TracerWarning, ...] = ()


def is_tracing_code(code: str) -> bool:
    """TS4xx static diagnostics are about tracing: scripting does not confirm or refute them."""
    return code.startswith("TS4") and code != TRACER_WARNING


def trace_jobs(
    paths: dict[str, tuple[str, str | None]],
    project: Project,
    config: Config,
    *,
    package_root: Any,
) -> list[ModuleJob]:
    """One job per file (`paths`: absolute path -> (module, unsaved text)) whose traced roots
    have example inputs in config; roots without them are not traced (nothing to run)."""
    examples = dict(config.examples)
    factories = dict(config.factories)
    targets: dict[str, list[Target]] = {}
    for summary, obj, _, _ in trace_roots(project, traced_in_config(project, config)):
        path = os.path.abspath(summary.path)
        if path not in paths or not isinstance(obj, (ClassInfo, FunctionInfo)):
            continue
        if "." in obj.qualname:
            continue  # methods are traced through their module
        key = f"{config.relative(path)}:{obj.name}"
        if key not in examples:
            continue
        known = targets.setdefault(path, [])
        if all(t.name != obj.name for t in known):
            known.append(Target(obj.name, factories.get(key), examples[key], "", obj.line))
    return [
        ModuleJob(
            file=path,
            module=paths[path][0],
            sys_path=(package_root(path, paths[path][0]),),
            targets=tuple(found),
            text=paths[path][1],
            device="cpu",
            timeout_s=config.timeout_s,
        )
        for path, found in targets.items()
    ]


def run_traces(zygote: Requester, jobs: Iterable[ModuleJob]) -> list[TraceVerdict]:
    out: list[TraceVerdict] = []
    for job in jobs:
        response = zygote.request(_message(job), job.timeout_s)
        out.extend(_verdicts(job, response))
    return out


def _message(job: ModuleJob) -> dict[str, Any]:
    """A script request that compiles no root and traces each target instead."""
    message = script_message(job, (), ())
    message["trace"] = [
        {"name": t.name, "factory": t.factory, "example": t.example} for t in job.targets
    ]
    return message


def _verdicts(job: ModuleJob, response: dict[str, Any]) -> list[TraceVerdict]:
    status = str(response.get("status"))
    if status != "done" or response.get("import_error"):
        problem = response.get("import_error") or {}
        detail = str(response.get("detail") or "")
        if isinstance(problem, dict) and problem:
            status, detail = "import_error", f"{problem.get('type')}: {problem.get('message')}"
        return [TraceVerdict(job.file, t.name, t.line, status, detail) for t in job.targets]
    results = {
        str(r.get("root")): r
        for r in response.get("results") or []
        if isinstance(r, dict) and r.get("kind") == "trace"
    }
    out = []
    for target in job.targets:
        result = results.get(target.name)
        if result is None:
            out.append(TraceVerdict(job.file, target.name, target.line, "error", "no result"))
            continue
        found = tuple(
            TracerWarning(
                str(w.get("message")), os.path.abspath(str(w.get("file"))), int(w["line"])
            )
            for w in result.get("tracer_warnings") or []
            if isinstance(w, dict) and isinstance(w.get("line"), int)
        )
        detail = str(result.get("error") or result.get("reason") or "")
        verdict = str(result.get("verdict"))
        out.append(TraceVerdict(job.file, target.name, target.line, verdict, detail, found))
    return out


def reconcile_traces(
    static: Sequence[Diagnostic], verdicts: Sequence[TraceVerdict]
) -> tuple[list[Diagnostic], int, int]:
    """TS4xx `static` diagnostics (absolute paths) and the traces -> diagnostics, how many
    were confirmed and how many TS429 nothing static predicted."""
    warnings = [(v, w) for v in verdicts for w in v.warnings]
    out: list[Diagnostic] = []
    used: set[int] = set()
    confirmed = 0
    for d in static:
        path = os.path.abspath(d.path)
        match = [
            w
            for _, w in warnings
            if w.file == path and d.range.start.line <= w.line <= d.range.end.line
        ]
        if not match:
            out.append(d)
            continue
        used.update(id(w) for w in match)
        link = ChainLink(
            f"torch.jit.trace: {_first_sentence(match[0].message)}", path, match[0].line
        )
        out.append(dataclasses.replace(d, verification="confirmed", related=(*d.related, link)))
        confirmed += 1
    only = 0
    seen: set[tuple[str, int, str]] = set()
    for verdict, w in warnings:
        if id(w) in used:
            continue
        own = w.file == os.path.abspath(verdict.path)
        key = (w.file if own else verdict.path, w.line if own else verdict.line, w.message)
        if key in seen:
            continue
        seen.add(key)
        where = "" if own else " (raised inside torch)"
        out.append(
            _tracer_diagnostic(
                key[0], key[1], f"torch.jit.trace({verdict.name}){where}: {w.message}"
            )
        )
        only += 1
    for verdict in verdicts:
        if verdict.verdict == "check_failed":
            text = f"torch.jit.trace({verdict.name}) fails check_trace: {verdict.detail}"
        elif verdict.verdict == "trace_error":
            text = f"torch.jit.trace({verdict.name}) raises: {verdict.detail}"
        else:
            continue
        out.append(_tracer_diagnostic(verdict.path, verdict.line, text))
        only += 1
    return out, confirmed, only


def _tracer_diagnostic(path: str, line: int, message: str) -> Diagnostic:
    return Diagnostic(
        path=path,
        range=Range.of(line, 0, line, 0),
        code=TRACER_WARNING,
        message=message,
        severity=Severity.WARNING,
        verification="compiler",
    )


def _first_sentence(message: str) -> str:
    head = message.strip().split(". ")[0]
    return head if head.endswith(".") else head + "."
