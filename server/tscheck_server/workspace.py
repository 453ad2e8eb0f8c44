"""The files around an open document, indexed for reach across files, and kept warm.

`tscheck utils.py` knows a helper there is compiled because model.py's forward calls it, by
indexing the rest of the package (files.context_files). The server does the same on every
keystroke, so it keeps each file's facts keyed by (path, mtime, size) from disk, or by the text
of an open document (which wins over the disk: what the user sees is what is analysed). A new
or deleted file is seen after a watched-files event or within WALK_TTL_S.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass

from tscheck import files as fs
from tscheck.config import Config
from tscheck.index import FileSummary, summarize

WALK_TTL_S = 5.0
MAX_CANDIDATES = 2000  # a package bigger than this is indexed in part (the first, sorted)


@dataclass(frozen=True)
class Facts:
    """What selecting and indexing a context file needs, computed once per content."""

    mentions_torch: bool
    imports: frozenset[str]
    summary: FileSummary


class ContextIndex:
    """Thread safe: analyses run in worker threads, events arrive on the event loop."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._disk: dict[tuple[str, int, int], Facts] = {}
        self._open: dict[str, tuple[str, Facts | None]] = {}  # path -> (text, facts)
        self._walks: dict[tuple[str, bool, str], tuple[float, list[str]]] = {}
        self.modules = fs.Modules()

    # -- events --------------------------------------------------------------------------

    def set_open(self, path: str, text: str | None) -> None:
        """An open document's current text (None: closed, the disk counts again)."""
        with self._lock:
            if text is None:
                self._open.pop(path, None)
            elif self._open.get(path, ("", None))[0] != text:
                self._open[path] = (text, None)

    def invalidate(self) -> None:
        """Files were created, deleted or changed on disk (or a pyproject.toml changed)."""
        with self._lock:
            self._walks.clear()
            self.modules = fs.Modules()
            if len(self._disk) > 4 * MAX_CANDIDATES:
                self._disk.clear()

    # -- queries -------------------------------------------------------------------------

    def module_name(self, path: str) -> str:
        return self.modules.name(path)

    def summaries(self, path: str, text: str, config: Config) -> dict[str, FileSummary]:
        """Summaries of the context files of `path` (not `path` itself): the rest of its
        top-level package (or the .py files beside a loose file) that mention torch, plus
        those an indexed file imports."""
        modules = self.modules
        candidates = [p for p in self._candidates(path, config, modules) if p != path]
        by_module = {modules.name(p): p for p in candidates if p.endswith(".py")}
        facts: dict[str, Facts] = {}
        for candidate in by_module.values():
            found = self._facts(candidate, modules)
            if found is not None:
                facts[candidate] = found
        chosen = {p for p, f in facts.items() if f.mentions_torch}
        queue = [path, *chosen]
        own = fs.imported_modules(text, modules.name(path), _is_init(path))
        while queue and len(chosen) < len(facts):
            current = queue.pop()
            names = own if current == path else facts[current].imports
            for name in names:
                target = by_module.get(name)
                if target is not None and target in facts and target not in chosen:
                    chosen.add(target)
                    queue.append(target)
        return {p: facts[p].summary for p in sorted(chosen)}

    def _candidates(self, path: str, config: Config, modules: fs.Modules) -> list[str]:
        top = modules.top_package(path)
        folder, recursive = (top, True) if top is not None else (os.path.dirname(path), False)
        key = (folder, recursive, repr((config.root, config.exclude)))
        now = time.monotonic()
        with self._lock:
            cached = self._walks.get(key)
        if cached is not None and now - cached[0] < WALK_TTL_S:
            return cached[1]
        found: list[str] = []
        for candidate in fs.walk(folder, config, recursive=recursive):
            found.append(candidate)
            if len(found) >= MAX_CANDIDATES:
                break
        with self._lock:
            self._walks[key] = (now, found)
        return found

    def _facts(self, path: str, modules: fs.Modules) -> Facts | None:
        with self._lock:
            opened = self._open.get(path)
        if opened is not None:
            text, known = opened
            if known is None:
                known = _facts_of(path, modules.name(path), text)
                with self._lock:
                    if self._open.get(path, ("", None))[0] == text:
                        self._open[path] = (text, known)
            return known
        try:
            stat = os.stat(path)
        except OSError:
            return None
        key = (path, stat.st_mtime_ns, stat.st_size)
        with self._lock:
            known = self._disk.get(key)
        if known is None:
            try:
                text = fs.read_source(path).text
            except fs.ReadError:
                return None  # only context: not ours to report
            known = _facts_of(path, modules.name(path), text)
            with self._lock:
                self._disk[key] = known
        return known


def _facts_of(path: str, module: str, text: str) -> Facts:
    return Facts(
        mentions_torch="torch" in text,
        imports=frozenset(fs.imported_modules(text, module, _is_init(path))),
        summary=summarize(path, module, text),
    )


def _is_init(path: str) -> bool:
    return os.path.basename(path).startswith("__init__.")
