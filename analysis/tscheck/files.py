"""Which files to check, what their module names are, and reading them.

Paths are absolute inside tscheck (so per-file-ignores, `--root` and the cache do not depend on
the working directory) and shown relative to the working directory (`display`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tscheck.config import DEFAULT_EXCLUDES, Config

SOURCE_SUFFIXES = (".py", ".pyi")
_DEFAULT_EXCLUDES = frozenset(DEFAULT_EXCLUDES)


class ReadError(Exception):
    """A file that cannot be checked (unreadable, not UTF-8): one line for the user."""


@dataclass(frozen=True)
class Text:
    text: str
    bom: bool = False  # written back with the BOM it had


def read_source(path: str) -> Text:
    """The file's text, newlines untouched; only UTF-8 (with or without a BOM) is accepted."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except IsADirectoryError:
        raise ReadError(f"{display(path)}: is a directory") from None
    except OSError as exc:
        raise ReadError(f"{display(path)}: cannot read: {exc.strerror or exc}") from None
    return decode(data, path)


def decode(data: bytes, path: str) -> Text:
    bom = data.startswith(b"\xef\xbb\xbf")
    try:
        return Text(data.decode("utf-8-sig" if bom else "utf-8"), bom)
    except UnicodeDecodeError as exc:
        raise ReadError(
            f"{display(path)}: not UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
            "tscheck reads UTF-8 source only"
        ) from None


def display(path: str) -> str:
    """A path as the user sees it: relative to the working directory when inside it."""
    try:
        cwd = os.getcwd()
    except OSError:
        return path
    if path == cwd:
        return "."
    prefix = cwd.rstrip(os.sep) + os.sep
    return path[len(prefix) :] if path.startswith(prefix) else path


# -- module names -----------------------------------------------------------------------------


class Modules:
    """Dotted module names from `__init__.py` packages; files outside packages get their stem."""

    def __init__(self) -> None:
        self._is_package: dict[str, bool] = {}

    def is_package(self, folder: str) -> bool:
        known = self._is_package.get(folder)
        if known is None:
            known = any(
                os.path.isfile(os.path.join(folder, f"__init__{s}")) for s in SOURCE_SUFFIXES
            )
            self._is_package[folder] = known
        return known

    def name(self, path: str) -> str:
        folder, filename = os.path.split(path)
        stem = filename.split(".", 1)[0] or "module"
        parts = [] if stem == "__init__" else [stem]
        while self.is_package(folder):
            parent, name = os.path.split(folder)
            if not name.isidentifier() or parent == folder:
                break
            parts.insert(0, name)
            folder = parent
        return ".".join(parts) or stem

    def top_package(self, path: str) -> str | None:
        """The outermost package folder holding `path`, or None for a loose file."""
        folder = os.path.dirname(path)
        top = None
        while self.is_package(folder):
            top = folder
            parent = os.path.dirname(folder)
            if parent == folder:
                break
            folder = parent
        return top


# -- discovery --------------------------------------------------------------------------------


@dataclass
class Discovery:
    files: list[str] = field(default_factory=list)  # absolute, in a stable order
    errors: list[str] = field(default_factory=list)


def is_source(name: str) -> bool:
    return name.endswith(SOURCE_SUFFIXES)


def excluded(path: str, config: Config, below: str = "") -> bool:
    """Excluded by the built-in folders (.git, .venv, ...) or by `[tool.tscheck] exclude`;
    with `below` (a folder named on the command line), only the path under it counts."""
    rel = config.relative(path)
    inside = not os.path.isabs(rel)
    skip = config.depth(below)
    if inside and any(part in _DEFAULT_EXCLUDES for part in rel.split("/")[skip:]):
        return True
    return config.excluded(path, below)


def discover(paths: Sequence[str], config: Config, *, force_exclude: bool = False) -> Discovery:
    """Files under `paths`: folders are walked for .py/.pyi files minus excluded ones; a file
    named explicitly is checked whatever its name, unless `force_exclude` (pre-commit) says
    excludes apply to it too."""
    found = Discovery()
    seen: set[str] = set()
    for raw in paths:
        path = os.path.abspath(raw)
        if os.path.isdir(path):
            if force_exclude and excluded(path, config):
                continue
            for file in walk(path, config, found.errors):
                if file not in seen:
                    seen.add(file)
                    found.files.append(file)
        elif os.path.isfile(path):
            if force_exclude and excluded(path, config):
                continue
            if path not in seen:
                seen.add(path)
                found.files.append(path)
        elif os.path.lexists(path):
            found.errors.append(f"{raw}: not a regular file or folder")
        else:
            found.errors.append(f"{raw}: no such file or folder")
    return found


def walk(
    root: str, config: Config, errors: list[str] | None = None, *, recursive: bool = True
) -> Iterator[str]:
    """Source files under `root`, sorted, pruning excluded folders before descending."""

    def on_error(exc: OSError) -> None:
        if errors is not None:
            errors.append(f"{display(exc.filename or root)}: cannot read: {exc.strerror or exc}")

    for folder, dirs, names in os.walk(root, onerror=on_error):
        dirs[:] = sorted(
            d
            for d in dirs
            if not (d in _DEFAULT_EXCLUDES or excluded(os.path.join(folder, d), config, root))
        )
        if not recursive:
            dirs[:] = []
        # A module's .py sorts before its .pyi stub, so the stub never shadows it.
        for name in sorted((n for n in names if is_source(n)), key=_source_order):
            path = os.path.join(folder, name)
            if not excluded(path, config, root):
                yield path


def _source_order(name: str) -> tuple[str, bool]:
    stem, _, suffix = name.rpartition(".")
    return (stem, suffix == "pyi")


def context_files(
    checked: Mapping[str, str], config: Config, modules: Modules
) -> list[tuple[str, str]]:
    """(path, text) of files that are indexed but not reported on, so that reach sees across
    files: this is what lets `tscheck utils.py` (and pre-commit, which passes only staged files)
    know that a helper in utils.py is compiled because model.py's forward calls it.

    Candidates are the rest of each checked file's top-level package (or the .py files beside a
    loose file). Of those, a file is indexed when it mentions torch (only such a file can hold
    a scripting root or call into compiled code from one) or when an indexed file imports it
    (a helper module, a constants module).
    """
    packages: set[str] = set()
    folders: set[str] = set()
    for path in checked:
        top = modules.top_package(path)
        if top is not None:
            packages.add(top)
        else:
            folders.add(os.path.dirname(path))
    candidates: list[str] = []
    seen = set(checked)
    for top in sorted(packages):
        _extend(candidates, seen, walk(top, config))
    for folder in sorted(folders):
        _extend(candidates, seen, walk(folder, config, recursive=False))
    by_module = {modules.name(p): p for p in candidates if p.endswith(".py")}
    texts: dict[str, str] = {}
    for path in by_module.values():
        try:
            texts[path] = read_source(path).text
        except ReadError:
            continue  # not ours to report: it is only context
    chosen = {p: t for p, t in texts.items() if "torch" in t}
    # Imports matter only while some candidate is still out.
    queue = [*checked.items(), *chosen.items()] if len(chosen) < len(texts) else []
    while queue and len(chosen) < len(texts):
        path, text = queue.pop()
        for name in imported_modules(text, modules.name(path), _is_init(path)):
            target = by_module.get(name)
            if target is not None and target in texts and target not in chosen:
                chosen[target] = texts[target]
                queue.append((target, texts[target]))
    return [(p, chosen[p]) for p in by_module.values() if p in chosen]


def _is_init(path: str) -> bool:
    return os.path.basename(path).startswith("__init__.")


_IMPORT = re.compile(
    r"^[ \t]*(?:from[ \t]+(?P<base>\.*[\w.]*)[ \t]+import[ \t]*"
    r"(?:\((?P<paren>[^)]*)\)|(?P<names>[^#\n]*))"
    r"|import[ \t]+(?P<modules>[^#\n]*))",
    re.MULTILINE,
)


def imported_modules(text: str, module: str, is_package: bool) -> set[str]:
    """Absolute module names a file's import statements may load (a cheap scan, no parse):
    `import a.b` -> a, a.b; `from .x import y` -> pkg.x, pkg.x.y."""
    out: set[str] = set()
    for m in _IMPORT.finditer(text):
        if m.group("modules") is not None:
            for part in m.group("modules").split(","):
                name = part.split(" as ")[0].strip().rstrip("\\").strip()
                _add_with_parents(out, name)
            continue
        base = m.group("base")
        dots = len(base) - len(base.lstrip("."))
        rest = base[dots:]
        if dots:
            package = module.split(".") if is_package else module.split(".")[:-1]
            if dots > 1:
                package = package[: len(package) - (dots - 1)]
            base = ".".join([*package, rest] if rest else package)
        if not base:
            continue
        _add_with_parents(out, base)
        names = m.group("paren") if m.group("paren") is not None else m.group("names")
        for part in names.replace("\\", " ").split(","):
            name = part.split(" as ")[0].strip()
            if name.isidentifier():
                out.add(f"{base}.{name}")
    return out


def _add_with_parents(out: set[str], dotted: str) -> None:
    parts = dotted.split(".")
    if not all(p.isidentifier() for p in parts):
        return
    for i in range(1, len(parts) + 1):
        out.add(".".join(parts[:i]))


def _extend(out: list[str], seen: set[str], paths: Iterable[str]) -> None:
    for path in paths:
        if path not in seen:
            seen.add(path)
            out.append(path)


def root_path(spec: str) -> tuple[str, str]:
    """`path/to/file.py:Class` -> (absolute path, "Class"); raises ValueError when malformed."""
    path, sep, name = spec.rpartition(":")
    if not sep or not path or not name or not all(p.isidentifier() for p in name.split(".")):
        raise ValueError(f"--root {spec!r}: expected FILE:CLASS, e.g. models/net.py:Net")
    return os.path.abspath(path), name


def same_path(a: str, b: str) -> bool:
    try:
        return Path(a).resolve() == Path(b).resolve()
    except OSError:
        return a == b
