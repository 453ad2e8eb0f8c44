"""Tracing a root inside the verifier's job (tracing hazards, TS4xx).

Runs in the sandboxed child, like job.py, which loads this file by path: the standard library
and torch only. For each `trace` entry of a request: build the root as job.py builds roots
(a function is traced as it is), evaluate its example inputs in the module's namespace, and
run `torch.jit.trace(root, inputs, check_trace=True)` with every warning recorded. Each
`TracerWarning` carries the file and line of the Python code that caused it, which is what
tscheck reconciles with its static TS4xx diagnostics (verify/trace_job.py).

Result per entry: {"root", "kind": "trace", "verdict": "traced" | "check_failed" |
"trace_error" | "unverified", "built_with", "reason", "error" (text), "tracer_warnings":
[{"message", "file", "line"}]} (distinct, in order: check_trace traces twice).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from typing import Any

import torch

JsonDict = dict[str, Any]
# job.build(context, name, target, factory) -> Built(value, built_with) | Unbuilt(reason)
Build = Callable[[Any, str, Any, str | None], Any]
TRACER_WARNING: type[Warning] = torch.jit._trace.TracerWarning


def trace_root(context: Any, spec: Mapping[str, Any], build: Build) -> JsonDict:
    name = str(spec["name"])
    result: JsonDict = {
        "root": name,
        "kind": "trace",
        "verdict": "traced",
        "built_with": None,
        "reason": None,
        "error": None,
        "tracer_warnings": [],
    }
    try:
        target: Any = context.module
        for part in name.split("."):
            target = getattr(target, part)
    except AttributeError:
        result.update(verdict="unverified", reason=f"no {name!r} in the module")
        return result
    built = build(context, name, target, spec.get("factory"))
    if hasattr(built, "reason"):
        result.update(verdict="unverified", reason=built.reason)
        return result
    result["built_with"] = built.built_with
    try:
        inputs = eval(str(spec["example"]), context.namespace())  # the user's own config
    except Exception as exc:
        result.update(verdict="unverified", reason=f"example inputs: {_brief(exc)}")
        return result
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            torch.jit.trace(built.value, inputs, check_trace=True)  # type: ignore[no-untyped-call]
        except torch.jit._trace.TracingCheckError as exc:
            result.update(verdict="check_failed", error=_check_failure(exc))
        except Exception as exc:
            result.update(verdict="trace_error", error=_brief(exc))
    seen: set[tuple[str, int, str]] = set()
    for record in caught:
        if not issubclass(record.category, TRACER_WARNING):
            continue
        key = (str(record.filename), int(record.lineno), str(record.message))
        if key not in seen:
            seen.add(key)
            result["tracer_warnings"].append({"message": key[2], "file": key[0], "line": key[1]})
    return result


def _check_failure(exc: BaseException) -> str:
    text = str(exc)
    if "Graphs differed across invocations" in text:
        return "Graphs differed across invocations (tracing twice gave two graphs)"
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return " ".join(lines[:2])[:500]


def _brief(exc: BaseException) -> str:
    lines = [line for line in str(exc).splitlines() if line.strip()]
    return f"{type(exc).__name__}: {lines[0].strip() if lines else ''}".rstrip(": ")[:500]
