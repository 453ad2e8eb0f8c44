"""The on-disk cache in `.tscheck_cache/` at the config root.

One pickle per tscheck build (its name is a hash of tscheck's own source files' sizes and
mtimes, and the Python version, so a rule edit or an upgrade starts afresh). It holds,
per file:
- the index summary (index.FileSummary), keyed by the file's content hash and module name;
- the finished diagnostics, valid only for the same content, the same config and rule set, and
  the same project: a hash over every file's summary, since reach crosses files (a call
  added in model.py can make a helper in utils.py compiled).
A second run over an unchanged tree therefore parses nothing.

The pickle is read with an unpickler that can build only tscheck's own data classes and plain
containers: a cache file planted in a repository cannot run code.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

from tscheck.index import FileSummary
from tscheck.model import Diagnostic, RuleInfo

CACHE_DIR = ".tscheck_cache"
FORMAT = 2
_STALE_SECONDS = 7 * 24 * 3600
_KEEP_OTHERS = 2  # other builds' pickles kept (another tscheck install may share the folder)
_PACKAGE = os.path.dirname(os.path.abspath(__file__))


@dataclass(frozen=True)
class SummaryEntry:
    module: str
    content: str  # content hash
    digest: str  # hash of the summary, for the project hash
    # The pickled FileSummary: unpickled only for files whose rules must run again, so a warm
    # run over thousands of files loads a few megabytes of bytes, not a million objects.
    blob: bytes

    @staticmethod
    def of(module: str, content: str, summary: FileSummary) -> SummaryEntry:
        blob = pickle.dumps(summary, protocol=pickle.HIGHEST_PROTOCOL)
        return SummaryEntry(module, content, digest(repr(summary)), blob)

    def load(self) -> FileSummary:
        summary = loads(self.blob)
        if not isinstance(summary, FileSummary):
            raise pickle.UnpicklingError("not a FileSummary")
        return summary


@dataclass(frozen=True)
class ResultEntry:
    content: str
    project: str  # project + config hash the diagnostics were computed under
    diagnostics: tuple[Diagnostic, ...]
    internal_errors: tuple[str, ...]


@dataclass
class CacheData:
    format: int = FORMAT
    summaries: dict[str, SummaryEntry] = field(default_factory=dict)
    results: dict[str, ResultEntry] = field(default_factory=dict)
    rules: tuple[RuleInfo, ...] = ()


def digest(*parts: str) -> str:
    h = hashlib.blake2b(digest_size=16)
    for part in parts:
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\0")
    return h.hexdigest()


def build_key() -> str:
    """Changes whenever tscheck's code (rules included) or the Python version changes.
    (Its own files' stamps cover upgrades too, and cost far less than a metadata lookup.)"""
    stamps: list[str] = [str(FORMAT), sys.version]
    for folder, _dirs, names in sorted(os.walk(_PACKAGE)):
        for name in sorted(names):
            if name.endswith(".py"):
                st = os.stat(os.path.join(folder, name))
                stamps.append(
                    f"{os.path.relpath(folder, _PACKAGE)}/{name}:{st.st_size}:{st.st_mtime_ns}"
                )
    return digest(*stamps)[:20]


_VERSION: str | None = None


def version() -> str:
    global _VERSION
    if _VERSION is None:
        try:
            from importlib.metadata import PackageNotFoundError
            from importlib.metadata import version as dist_version

            _VERSION = dist_version("tscheck")
        except (ImportError, PackageNotFoundError):  # running from a source tree
            _VERSION = "0+unknown"
    return _VERSION


class Cache:
    """Load once, mutate, `save()` once (only if something changed)."""

    def __init__(self, root: str, key: str | None = None) -> None:
        self.folder = os.path.join(root, CACHE_DIR)
        self.key = key or build_key()
        self.path = os.path.join(self.folder, f"{self.key}.pickle")
        self.data = self._load()
        self.dirty = False

    def _load(self) -> CacheData:
        try:
            with open(self.path, "rb") as handle:
                data = _SafeUnpickler(handle).load()
        except (OSError, EOFError, pickle.UnpicklingError, AttributeError, TypeError, ValueError):
            return CacheData()
        except Exception:  # a corrupt or foreign file is a cache miss, never a crash
            return CacheData()
        if not isinstance(data, CacheData) or data.format != FORMAT:
            return CacheData()
        return data

    # -- summaries ------------------------------------------------------------------------

    def summary(self, path: str, module: str, content: str) -> SummaryEntry | None:
        entry = self.data.summaries.get(path)
        if entry is not None and entry.module == module and entry.content == content:
            return entry
        return None

    def put_summary(self, path: str, entry: SummaryEntry) -> None:
        self.data.summaries[path] = entry
        self.dirty = True

    # -- results --------------------------------------------------------------------------

    def result(self, path: str, content: str, project: str) -> ResultEntry | None:
        entry = self.data.results.get(path)
        if entry is not None and entry.content == content and entry.project == project:
            return entry
        return None

    def put_result(self, path: str, entry: ResultEntry) -> None:
        self.data.results[path] = entry
        self.dirty = True

    # -- rules ----------------------------------------------------------------------------

    @property
    def rules(self) -> tuple[RuleInfo, ...]:
        return self.data.rules

    @rules.setter
    def rules(self, value: tuple[RuleInfo, ...]) -> None:
        self.data.rules = value
        self.dirty = True

    # -- writing --------------------------------------------------------------------------

    def save(self) -> None:
        """Write atomically; a cache that cannot be written is silently skipped."""
        if not self.dirty:
            return
        self._forget_deleted()
        try:
            os.makedirs(self.folder, exist_ok=True)
            ignore = os.path.join(self.folder, ".gitignore")
            if not os.path.exists(ignore):
                with open(ignore, "w", encoding="utf-8") as handle:
                    handle.write("# Created by tscheck.\n*\n")
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".pickle", dir=self.folder)
            try:
                with os.fdopen(fd, "wb") as handle:
                    pickle.dump(self.data, handle, protocol=pickle.HIGHEST_PROTOCOL)
                os.replace(tmp, self.path)
            except BaseException:
                _unlink(tmp)
                raise
            self._remove_stale()
        except OSError:
            return
        self.dirty = False

    def _forget_deleted(self) -> None:
        for table in (self.data.summaries, self.data.results):
            for path in [p for p in table if not os.path.exists(p)]:
                del table[path]

    def _remove_stale(self) -> None:
        """Other builds' pickles: keep the newest few (another tscheck install, e.g.
        pre-commit's, may share the folder), none older than a week."""
        now = time.time()
        others: list[tuple[float, str]] = []
        with os.scandir(self.folder) as entries:
            for entry in entries:
                if entry.name.endswith(".pickle") and entry.path != self.path:
                    try:
                        others.append((entry.stat().st_mtime, entry.path))
                    except OSError:
                        continue
        others.sort(reverse=True)
        for rank, (mtime, path) in enumerate(others):
            if rank >= _KEEP_OTHERS or now - mtime > _STALE_SECONDS:
                _unlink(path)


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


_ALLOWED_MODULES = frozenset({"tscheck.model", "tscheck.index", "tscheck.cache"})
_ALLOWED_BUILTINS = frozenset({"frozenset", "set", "tuple", "list", "dict"})


class _SafeUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if module in _ALLOWED_MODULES and name[:1].isupper():
            return super().find_class(module, name)
        if module == "builtins" and name in _ALLOWED_BUILTINS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"not allowed in a tscheck cache: {module}.{name}")


def loads(data: bytes) -> Any:
    """For tests: the same restricted unpickler over bytes."""
    return _SafeUnpickler(io.BytesIO(data)).load()
