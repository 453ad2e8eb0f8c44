"""Files -> engine, with the on-disk cache and a process pool.

1. index: every file's summary (ast), from the cache by content hash, else computed (in a pool
   of forked workers when there is enough text);
2. project hash over all summaries + config: a file whose content and project hash match the
   cache gets its stored diagnostics, so an unchanged tree parses nothing and never imports
   libcst;
3. the rest: reach once, then the per-file rule pass (libcst on compiled blocks only), in the
   pool when there is enough compiled code.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from tscheck.cache import Cache, ResultEntry, SummaryEntry, digest
from tscheck.config import Config
from tscheck.fanout import available_cores
from tscheck.index import FileSummary, summarize
from tscheck.model import Diagnostic, RuleInfo

if TYPE_CHECKING:
    from tscheck.reach import Compiled, Project
    from tscheck.rules.base import Rule

# Below these many characters of work, forking costs more than it saves (~15 ms a pool).
INDEX_POOL_CHARS = 250_000
RULES_POOL_CHARS = 120_000

T = TypeVar("T")
Key = tuple[str, str, str]  # path, module, content hash
R = TypeVar("R")


@dataclass(frozen=True)
class Source:
    path: str  # absolute
    module: str
    text: str

    @property
    def content(self) -> str:
        return digest(self.text)


class Summaries(Mapping[str, FileSummary]):
    """Every file's summary, unpickled from the cache only when someone asks for it."""

    def __init__(
        self,
        entries: dict[str, SummaryEntry],
        keys: dict[str, Key],
        objects: dict[Key, FileSummary],
    ) -> None:
        self._entries = entries
        self._keys = keys
        self._objects = objects  # shared with the Runner: loaded once per process

    def __getitem__(self, path: str) -> FileSummary:
        key = self._keys[path]
        summary = self._objects.get(key)
        if summary is None:
            summary = self._objects[key] = self._entries[path].load()
        return summary

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)


@dataclass
class Outcome:
    diagnostics: list[Diagnostic]
    internal_errors: list[str]
    summaries: Mapping[str, FileSummary]
    # How much work this run did (tests check that a warm cache does none).
    indexed: int = 0
    analyzed: int = 0


@dataclass
class Runner:
    config: Config
    cache: Cache | None = None
    jobs: int = 0  # 0: one per available core
    # Summaries already known in this process (the --fix loop re-checks changed files only).
    memo: dict[Key, SummaryEntry] = field(default_factory=dict)
    objects: dict[Key, FileSummary] = field(default_factory=dict)

    def run(self, sources: Sequence[Source], context: Sequence[Source] = ()) -> Outcome:
        everything = [*sources, *context]
        hashes = {s.path: s.content for s in everything}
        entries, indexed = self._summaries(everything, hashes)
        keys = {s.path: (s.path, s.module, hashes[s.path]) for s in everything}
        for s in everything:
            self.memo[keys[s.path]] = entries[s.path]
        summaries = Summaries(entries, keys, self.objects)
        project_key = digest(
            repr(self.config), *sorted(f"{path}\0{e.digest}" for path, e in entries.items())
        )
        results: dict[str, ResultEntry] = {}
        todo: list[Source] = []
        for s in sources:
            hit = self.cache.result(s.path, hashes[s.path], project_key) if self.cache else None
            if hit is None:
                todo.append(s)
            else:
                results[s.path] = hit
        if todo:
            for s, (diags, errors) in zip(todo, self._analyze(todo, summaries), strict=True):
                entry = ResultEntry(hashes[s.path], project_key, diags, errors)
                results[s.path] = entry
                if self.cache is not None:
                    self.cache.put_result(s.path, entry)
        diagnostics = [d for s in sources for d in results[s.path].diagnostics]
        diagnostics.sort(key=lambda d: d.sort_key)
        internal = [e for s in sources for e in results[s.path].internal_errors]
        return Outcome(diagnostics, internal, summaries, indexed=indexed, analyzed=len(todo))

    # -- index ----------------------------------------------------------------------------

    def _summaries(
        self, sources: Sequence[Source], hashes: dict[str, str]
    ) -> tuple[dict[str, SummaryEntry], int]:
        out: dict[str, SummaryEntry] = {}
        missing: list[Source] = []
        for s in sources:
            key = (s.path, s.module, hashes[s.path])
            entry = self.memo.get(key)
            if entry is None and self.cache is not None:
                entry = self.cache.summary(*key)
            if entry is None:
                missing.append(s)
            else:
                out[s.path] = entry
        if missing:
            size = sum(len(s.text) for s in missing)
            jobs = self._jobs(len(missing)) if size >= INDEX_POOL_CHARS else 1
            # While workers index, this process imports the rule machinery (libcst): a changed
            # file almost always means rules must run.
            work = [(s.path, s.module, s.text) for s in missing]
            computed = list(_map(_summarize, work, jobs, _import_engine))
            for s, summary in zip(missing, computed, strict=True):
                entry = SummaryEntry.of(s.module, hashes[s.path], summary)
                self.objects[(s.path, s.module, hashes[s.path])] = summary
                out[s.path] = entry
                if self.cache is not None:
                    self.cache.put_summary(s.path, entry)
        return out, len(missing)

    # -- rules ----------------------------------------------------------------------------

    def _analyze(
        self, todo: Sequence[Source], summaries: Mapping[str, FileSummary]
    ) -> list[tuple[tuple[Diagnostic, ...], tuple[str, ...]]]:
        from tscheck import engine
        from tscheck.reach import Project

        project = Project(summaries[path] for path in summaries)
        try:
            compiled = engine.plan(project, self.config)
        except Exception as exc:  # a reach bug costs the run, never a traceback
            message = _internal("reach", exc)
            return [((), (message,)) if i == 0 else ((), ()) for i in range(len(todo))]
        job = _Job(
            project=project,
            compiled=compiled,
            rules=engine.active_rules(self.config),
            config=self.config,
        )
        # Files without compiled code need only suppression checks: no pool for them.
        heavy = [i for i, s in enumerate(todo) if compiled.get(s.path)]
        size = sum(len(todo[i].text) for i in heavy)
        jobs = self._jobs(len(heavy)) if size >= RULES_POOL_CHARS else 1
        # Largest first, so that no worker is left with one big file at the end.
        heavy.sort(key=lambda i: -len(todo[i].text))
        out: list[tuple[tuple[Diagnostic, ...], tuple[str, ...]]] = [((), ())] * len(todo)
        global _JOB
        _JOB = job
        try:
            analyzed = list(_map(_analyze_one, [todo[i] for i in heavy], jobs))
            for i, result in zip(heavy, analyzed, strict=True):
                out[i] = result
            for i, s in enumerate(todo):
                if not compiled.get(s.path):
                    out[i] = _analyze_one(s)
        finally:
            _JOB = None
        return out

    def _jobs(self, tasks: int) -> int:
        if self.jobs > 0:
            return min(self.jobs, tasks)
        return min(available_cores(), tasks)


def rule_catalog(cache: Cache | None = None) -> tuple[RuleInfo, ...]:
    """Every code's metadata; from the cache when it has it (no libcst import)."""
    if cache is not None and cache.rules:
        return cache.rules
    from tscheck.engine import rule_infos

    infos = tuple(_strip_examples(info) for info in rule_infos())
    if cache is not None:
        cache.rules = infos
    return infos


def _strip_examples(info: RuleInfo) -> RuleInfo:
    from dataclasses import replace

    return replace(info, valid=(), invalid=())


# -- workers ----------------------------------------------------------------------------------


@dataclass
class _Job:
    project: Project
    compiled: dict[str, list[Compiled]]
    rules: list[Rule]
    config: Config


# Set in the parent just before forking; workers read their copy.
_JOB: _Job | None = None


def _summarize(work: tuple[str, str, str]) -> FileSummary:
    return summarize(*work)


def _analyze_one(s: Source) -> tuple[tuple[Diagnostic, ...], tuple[str, ...]]:
    from tscheck import engine

    job = _JOB
    assert job is not None
    summary = job.project.files[s.path]
    try:
        findings, crashed = engine.analyze_file(
            job.project, summary, s.text, job.compiled.get(s.path, []), job.rules
        )
        diags = engine.finish(
            engine.SourceFile(s.path, s.module, s.text), summary, findings, job.config
        )
    except Exception as exc:  # an engine bug on one file costs that file only
        return (), (_internal(s.path, exc),)
    return tuple(diags), tuple(crashed)


def _internal(where: str, exc: BaseException) -> str:
    if os.environ.get("TSCHECK_DEBUG"):
        traceback.print_exception(exc, file=sys.stderr)
    return f"{where}: internal error: {type(exc).__name__}: {exc}"


def _import_engine() -> None:
    import tscheck.engine  # noqa: F401


def _map(
    fn: Callable[[T], R], items: Sequence[T], jobs: int, meanwhile: Callable[[], None] | None = None
) -> Iterator[R]:
    """`map(fn, items)` in order, on `jobs` forked workers when jobs > 1 and fork exists."""
    if jobs <= 1 or not _can_fork():
        if meanwhile is not None:
            meanwhile()
        yield from map(fn, items)
        return
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(jobs) as pool:
        pending = pool.imap(fn, items, chunksize=1)
        if meanwhile is not None:
            meanwhile()
        yield from pending


def _can_fork() -> bool:
    return sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods()
