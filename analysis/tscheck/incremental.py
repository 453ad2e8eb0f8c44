"""Re-analysis after an edit, reusing what the edit cannot have changed.

`AnalysisCache` is an explicit object a caller keeps between `engine.check` calls (a language
server holds one): `check(files, config, summaries=..., cache=cache)`. Its results are exactly
those of an uncached check (tests replay hundreds of edits against fresh checks):

- index: a file's summary is assembled per top-level block. Each block is parsed with `ast` on
  its own (at its line in the file) and its functions and classes indexed, cached by (first
  line, text) and the names the block resolves against (the file's imports and module-level
  names); the cheap file-wide passes (imports, module-level names, module-scope jit sites,
  ordinals) run on every call. Anything unusual (a block that does not parse, a line separator
  that `str.splitlines` and Python disagree on) falls back to `index.summarize`. A summary equal
  to the previous one is that very object, so that unchanged projects are recognised by identity.
- reach: the compiled and traced sets are reused when every summary and the config are the
  same objects.
- rules: each compiled function's findings (and rule crashes) are reused when the project's
  summaries and the config equal the previous run's, the function's `Compiled` entry is equal,
  and every piece of text its rules read is unchanged. The reads are recorded while the rules
  run (`parse.Reads`): the blocks parsed (the function's own among them), single lines, the
  whole text, and the file-level facts of `rules.python_only`. `check_file` rules always run.

What is not reused: anything after an edit that changes a summary (a call added, a line inserted
or removed shifts the lines of everything below it), which re-runs every rule on the file.
"""

from __future__ import annotations

import ast
import bisect
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from tscheck.config import Config
from tscheck.index import (
    ClassInfo,
    FileSummary,
    FunctionInfo,
    JitSite,
    _Indexer,
    nested_scopes,
    scope_calls,
    summarize,
)
from tscheck.parse import Block, ParsedBlocks, Reads, split_blocks
from tscheck.reach import Compiled
from tscheck.rules.base import Finding, Rule

# Characters `str.splitlines` breaks lines at but Python's tokenizer does not: with one of them
# in the text, line numbers from the two disagree, and only the whole-file index is exact.
_ODD_SEPARATORS = ("\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029")
MAX_FILES = 16  # files whose state is kept (a language server's open documents)
MAX_BLOCKS = 4096  # parsed blocks kept for the index


@dataclass
class _Defs:
    """One block's contribution to the index, for one resolution environment."""

    definitions: list[FunctionInfo | ClassInfo]
    scopes_sites: tuple[JitSite, ...]
    # The block's part of the module scope for jit sites (index.scope_calls).
    module_calls: list[ast.AST]


@dataclass
class _Entry:
    compiled: Compiled
    reads: Reads
    findings: tuple[Finding, ...]
    errors: tuple[str, ...]


@dataclass
class _FileState:
    summary: FileSummary | None = None
    # Findings per compiled function, valid for `project_key` only.
    project_key: tuple[object, ...] | None = None
    entries: dict[tuple[str, str], _Entry] = field(default_factory=dict)


class AnalysisCache:
    """What one `engine.check` call leaves for the next. Not thread-safe: one per thread (or
    per document) at a time."""

    def __init__(self) -> None:
        self._trees: OrderedDict[tuple[int, str], list[ast.stmt] | None] = OrderedDict()
        self._defs: OrderedDict[tuple[object, ...], _Defs] = OrderedDict()
        self._files: OrderedDict[str, _FileState] = OrderedDict()
        self._reach_key: tuple[object, ...] | None = None
        self._reach_objects: tuple[object, ...] = ()
        self._reach: tuple[dict[tuple[str, str], Compiled], list[Compiled]] | None = None
        # Counters for tests and benchmarks.
        self.reused_functions = 0
        self.analyzed_functions = 0

    # -- files ----------------------------------------------------------------------------

    def _file(self, path: str) -> _FileState:
        state = self._files.get(path)
        if state is None:
            state = self._files[path] = _FileState()
            while len(self._files) > MAX_FILES:
                self._files.popitem(last=False)
        else:
            self._files.move_to_end(path)
        return state

    # -- index ----------------------------------------------------------------------------

    def summarize(self, path: str, module: str, text: str) -> FileSummary:
        """Exactly `index.summarize(path, module, text)`, from cached blocks where possible."""
        state = self._file(path)
        summary = self._summarize(path, module, text)
        if summary is None:
            summary = summarize(path, module, text)
        old = state.summary
        if old is not None and old == summary:
            return old
        state.summary = summary
        return summary

    def _summarize(self, path: str, module: str, text: str) -> FileSummary | None:
        text = text.removeprefix("\ufeff")
        if any(sep in text for sep in _ODD_SEPARATORS) or "\x00" in text:
            return None
        blocks = split_blocks(text)
        bodies: list[list[ast.stmt]] = []
        for block in blocks:
            body = self._parse(block)
            if body is None:
                return None  # a syntax error, or a split inside a string: the whole file
            bodies.append(body)
        indexer = _Indexer(module)
        everything = [stmt for body in bodies for stmt in body]
        global_names = indexer.bind(everything)
        jit_lines = frozenset(
            number for number, line in enumerate(text.splitlines(), start=1) if "jit" in line
        )
        env = (module, tuple(sorted(indexer.imports.items())), frozenset(indexer.local_defs))
        definitions: list[FunctionInfo | ClassInfo] = []
        nested: list[tuple[JitSite, ...]] = []
        module_calls: list[ast.AST] = []
        ordered = sorted(jit_lines)
        for block, body in zip(blocks, bodies, strict=True):
            lo = bisect.bisect_left(ordered, block.start_line)
            hi = bisect.bisect_right(ordered, block.end_line)
            defs = self._definitions(indexer, env, block, body, frozenset(ordered[lo:hi]))
            definitions.extend(defs.definitions)
            nested.append(defs.scopes_sites)
            module_calls.extend(defs.module_calls)
        if jit_lines:
            sites = [*indexer.module_sites(module_calls)]
            for scope_sites in reversed(nested):  # the walk takes the last statement first
                sites.extend(scope_sites)
            jit_sites = tuple(sites)
        else:
            jit_sites = ()
        return indexer.assemble(path, definitions, global_names, jit_sites)

    def _parse(self, block: Block) -> list[ast.stmt] | None:
        key = (block.start_line, block.text)
        if key in self._trees:
            self._trees.move_to_end(key)
            return self._trees[key]
        try:
            # Blank lines in front put every node at its line in the file.
            tree: list[ast.stmt] | None = ast.parse("\n" * (block.start_line - 1) + block.text).body
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            tree = None
        self._trees[key] = tree
        while len(self._trees) > MAX_BLOCKS:
            self._trees.popitem(last=False)
        return tree

    def _definitions(
        self,
        indexer: _Indexer,
        env: tuple[object, ...],
        block: Block,
        body: list[ast.stmt],
        jit_lines: frozenset[int],
    ) -> _Defs:
        key = (block.start_line, block.text, env)
        found = self._defs.get(key)
        if found is not None:
            self._defs.move_to_end(key)
            return found
        scopes = nested_scopes(body, jit_lines) if jit_lines else []
        found = _Defs(
            indexer.definitions(body), tuple(indexer.scope_sites(scopes)), scope_calls(body)
        )
        self._defs[key] = found
        while len(self._defs) > MAX_BLOCKS:
            self._defs.popitem(last=False)
        return found

    # -- reach ----------------------------------------------------------------------------

    def compiled(
        self, summaries: Iterable[FileSummary], config: Config
    ) -> tuple[dict[tuple[str, str], Compiled], list[Compiled]] | None:
        """The compiled and traced sets of the previous call, if its summaries and config
        were these very objects."""
        key = (id(config), *(id(s) for s in summaries))
        return self._reach if key == self._reach_key else None

    def keep_compiled(
        self,
        summaries: Sequence[FileSummary],
        config: Config,
        compiled: tuple[dict[tuple[str, str], Compiled], list[Compiled]],
    ) -> None:
        # The objects themselves are kept too, so that their ids stay theirs.
        self._reach_key = (id(config), *(id(s) for s in summaries))
        self._reach_objects = (config, *summaries)
        self._reach = compiled

    # -- findings -------------------------------------------------------------------------

    def findings_for(self, path: str, project_key: tuple[object, ...]) -> FunctionCache:
        state = self._file(path)
        if state.project_key != project_key:
            state.project_key = project_key
            state.entries = {}
        return FunctionCache(self, state)


class FunctionCache:
    """One file's findings per compiled function, for one `analyze_file` call."""

    def __init__(self, owner: AnalysisCache, state: _FileState) -> None:
        self._owner = owner
        self._state = state
        self._next: dict[tuple[str, str], _Entry] = {}
        self._memo: dict[str, object] = {}

    def get(self, compiled: Compiled, blocks: ParsedBlocks) -> _Entry | None:
        entry = self._state.entries.get(compiled.key)
        if entry is None or entry.compiled != compiled:
            return None
        if not entry.reads.still_valid(blocks, self._memo):
            return None
        self._next[compiled.key] = entry
        self._owner.reused_functions += 1
        return entry

    def put(
        self,
        compiled: Compiled,
        reads: Reads,
        findings: Sequence[Finding],
        errors: Sequence[str],
    ) -> None:
        self._next[compiled.key] = _Entry(compiled, reads, tuple(findings), tuple(errors))
        self._owner.analyzed_functions += 1

    def done(self) -> None:
        """Keep the entries of this call's compiled functions only."""
        self._state.entries = self._next


def project_key(
    summaries: Mapping[str, FileSummary], config: Config, rules: Sequence[Rule]
) -> tuple[object, ...]:
    """What every function's findings may depend on beyond its text, compared with `==`
    (cheap when the summaries are the same objects; rules compare by identity)."""
    return (config, tuple(rules), tuple(sorted(summaries.items())))
