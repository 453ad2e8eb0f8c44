"""Verification: the real compiler's answer for every root, reconciled with static analysis.

`verify_project` starts one zygote (client.py -> worker.py in the user's interpreter), peels each
file's roots (peel.py), and reconciles (reconcile.py). The protocol is in PROTOCOL.md.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from tscheck.config import Config
from tscheck.index import ClassInfo, FileSummary, FunctionInfo
from tscheck.model import Diagnostic, RootVerdict, Verification
from tscheck.reach import Compiled, Project
from tscheck.trace_reach import TRACED
from tscheck.verify.peel import ModuleJob, Requester, Target, peel
from tscheck.verify.reconcile import reconcile
from tscheck.verify.trace_job import (
    TraceVerdict,
    is_tracing_code,
    reconcile_traces,
    run_traces,
    trace_jobs,
)

Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class FileToVerify:
    path: str  # absolute
    module: str
    text: str | None = None  # unsaved editor text; None: the file on disk


def verify_project(
    files: Sequence[FileToVerify],
    summaries: Mapping[str, FileSummary],
    static: Sequence[Diagnostic],
    config: Config,
    *,
    zygote: Requester | None = None,
    progress: Progress | None = None,
) -> tuple[list[Diagnostic], Verification]:
    """Verify the roots defined in `files` and reconcile `static` (absolute paths) with them."""
    from tscheck import engine

    project = Project(summaries.values())
    planned = engine.plan(project, config)
    compiled: list[Compiled] = [c for group in planned.values() for c in group if c.mode != TRACED]
    jobs = module_jobs(files, project, config)
    # Tracing hazards (TS4xx) are checked by tracing, never by scripting (trace_job.py).
    traces = trace_jobs(
        {f.path: (f.module, f.text) for f in files}, project, config, package_root=package_root
    )
    traced_static = [d for d in static if is_tracing_code(d.code)]
    static = [d for d in static if not is_tracing_code(d.code)]
    verdicts: list[RootVerdict] = []
    trace_verdicts: list[TraceVerdict] = []
    layers: tuple[str, ...] = ()
    versions = ("", "")
    if jobs or traces:
        if zygote is None:
            from tscheck.verify.client import Zygote

            with Zygote(python=config.python or None, preload=config.preload) as started:
                verdicts, layers = _run(started, jobs, progress)
                trace_verdicts = run_traces(_Recording(started, []), traces)
                versions = (started.hello.get("python", ""), started.hello.get("torch", ""))
        else:
            verdicts, layers = _run(zygote, jobs, progress)
            trace_verdicts = run_traces(zygote, traces)
    diagnostics, summary = reconcile(static, compiled, verdicts)
    traced, confirmed, tracer_only = reconcile_traces(traced_static, trace_verdicts)
    diagnostics = sorted([*diagnostics, *traced], key=lambda d: d.sort_key)
    summary = dataclasses.replace(
        summary,
        python=versions[0],
        torch=versions[1],
        layers=layers,
        confirmed=summary.confirmed + confirmed,
        compiler_only=summary.compiler_only + tracer_only,
    )
    return diagnostics, summary


def _run(
    zygote: Requester, jobs: Sequence[ModuleJob], progress: Progress | None
) -> tuple[list[RootVerdict], tuple[str, ...]]:
    verdicts: list[RootVerdict] = []
    layers: list[str] = []
    recording = _Recording(zygote, layers)
    for number, job in enumerate(jobs, start=1):
        if progress is not None:
            names = ", ".join(t.name for t in job.targets)
            progress(number, len(jobs), f"{os.path.basename(job.file)}: {names}")
        verdicts.extend(peel(recording, job))
    return verdicts, tuple(dict.fromkeys(layers))


class _Recording:
    """Collects the sandbox layers each response reports."""

    def __init__(self, zygote: Requester, layers: list[str]) -> None:
        self.zygote = zygote
        self.layers = layers

    def request(self, message: dict[str, object], timeout: float) -> dict[str, object]:
        response = self.zygote.request(message, timeout)
        found = response.get("layers")
        if isinstance(found, list):
            self.layers.extend(str(layer) for layer in found)
        return response


def module_jobs(files: Iterable[FileToVerify], project: Project, config: Config) -> list[ModuleJob]:
    """One job per file that defines roots (the classes and functions torch.jit.script starts
    from), with factories and example inputs from config."""
    from tscheck import engine

    wanted = {f.path: f for f in files}
    targets: dict[str, list[Target]] = {}
    for summary, obj, _ in engine.roots(project, config):
        path = os.path.abspath(summary.path)
        if path not in wanted or not isinstance(obj, (ClassInfo, FunctionInfo)):
            continue
        if "." in obj.qualname:
            continue  # a method is scripted through its class
        key = f"{config.relative(path)}:{obj.name}"
        target = Target(
            name=obj.name,
            factory=dict(config.factories).get(key),
            example=dict(config.examples).get(key),
            qualified=f"{summary.module}.{obj.qualname}",
            line=obj.line,
        )
        known = targets.setdefault(path, [])
        if all(t.name != target.name for t in known):
            known.append(target)
    jobs = []
    for path, found in targets.items():
        f = wanted[path]
        jobs.append(
            ModuleJob(
                file=path,
                module=f.module,
                sys_path=(package_root(path, f.module),),
                targets=tuple(found),
                text=f.text,
                device=config.device,
                timeout_s=config.timeout_s,
            )
        )
    return jobs


def package_root(path: str, module: str) -> str:
    """The folder to put on sys.path so that `module` imports as itself."""
    folder = os.path.dirname(os.path.abspath(path))
    depth = module.count(".")
    if os.path.basename(path) == "__init__.py":
        depth += 1
    for _ in range(depth):
        folder = os.path.dirname(folder)
    return folder
