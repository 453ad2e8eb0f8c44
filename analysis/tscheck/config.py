"""`[tool.tscheck]` in the nearest pyproject.toml."""

from __future__ import annotations

import fnmatch
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from tscheck.model import Severity

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


class ConfigError(Exception):
    """A bad config value: the CLI prints it as one line and exits 2."""


@dataclass(frozen=True)
class Config:
    select: tuple[str, ...] = ()  # codes or prefixes; empty = all rules
    ignore: tuple[str, ...] = ()
    per_file_ignores: tuple[tuple[str, tuple[str, ...]], ...] = ()  # glob -> codes
    exclude: tuple[str, ...] = ()  # gitignore-style globs, relative to `root`
    roots: tuple[str, ...] = ()  # "path/to/file.py:Class"
    # Modules and functions traced with torch.jit.trace beyond the call sites tscheck sees.
    traced: tuple[str, ...] = ()  # "path/to/file.py:Class"
    severity: tuple[tuple[str, Severity], ...] = ()  # code or prefix -> severity
    root: str = "."  # the folder holding pyproject.toml; relative paths start here
    source: str = ""  # the file the config came from, for messages
    # Verification (the real compiler, in a sandboxed subprocess of the user's interpreter).
    verify: bool = False
    python: str = ""  # the interpreter to verify with; "" = the one running tscheck
    factories: tuple[tuple[str, str], ...] = ()  # "pkg/mod.py:Net" -> "Net(3, num_classes=10)"
    examples: tuple[tuple[str, str], ...] = ()  # "pkg/mod.py:Net" -> "(torch.ones(1, 3, 8, 8),)"
    preload: tuple[str, ...] = ()  # packages the verifier imports once, before any job
    device: str = "cpu"  # "cuda": scripted modules are moved to the GPU when one is present
    timeout_s: float = 60.0  # per verification job (one fork: import, build, script, save)

    def enabled(self, code: str, path: str = "") -> bool:
        if self.select and not _matches(code, self.select):
            return False
        if _matches(code, self.ignore):
            return False
        if not self.per_file_ignores:
            return True
        rel = self.relative(path)
        for pattern, codes in self.per_file_ignores:
            if _glob(rel, pattern) and _matches(code, codes):
                return False
        return True

    def severity_of(self, code: str, default: Severity) -> Severity:
        best, best_len = default, -1
        for prefix, severity in self.severity:
            if code.startswith(prefix) and len(prefix) > best_len:
                best, best_len = severity, len(prefix)
        return best

    def excluded(self, path: str, below: str = "") -> bool:
        """Whether `[tool.tscheck] exclude` matches `path`. With `below` (a folder the user
        named), only the part of the path under it counts: `tscheck examples/` checks
        examples/ even when config excludes it, as ruff does."""
        if not self.exclude:
            return False
        rel = self.relative(path)
        return any(_glob(rel, pattern, self.depth(below)) for pattern in self.exclude)

    def depth(self, folder: str) -> int:
        """How many path parts `folder` has below `root` (0 for root itself or outside it)."""
        if not folder:
            return 0
        rel = self.relative(folder)
        return 0 if rel in ("", ".") or os.path.isabs(rel) else len(rel.split("/"))

    def relative(self, path: str) -> str:
        """`path` relative to `root` with `/` separators (as given when outside it). Lexical
        first: no file system calls for the common case, a path under root, and the names
        the user sees even through symlinked folders; resolved only when that fails."""
        absolute = os.path.abspath(path)
        root = os.path.abspath(self.root)
        if absolute == root:
            return "."
        prefix = root.rstrip(os.sep) + os.sep
        if absolute.startswith(prefix):
            return Path(absolute[len(prefix) :]).as_posix()
        try:
            return Path(path).resolve().relative_to(Path(self.root).resolve()).as_posix()
        except (ValueError, OSError):
            return Path(path).as_posix()

    def with_overrides(self, **changes: Any) -> Config:
        return replace(self, **changes)


DEFAULT_EXCLUDES = (
    ".git",
    ".hg",
    ".venv",
    "venv",
    ".tox",
    ".nox",
    "__pycache__",
    ".mypy_cache",
    ".ruff_cache",
    ".tscheck_cache",
    "node_modules",
    "build",
    "dist",
    "site-packages",
)


def _matches(code: str, prefixes: tuple[str, ...]) -> bool:
    return any(code.startswith(p) for p in prefixes if p) or "ALL" in prefixes


def _glob(rel: str, pattern: str, skip: int = 0) -> bool:
    """gitignore-like: a pattern without a slash matches any path part; `dir/` a folder;
    one with a slash matches the path or a folder above it. The first `skip` parts (an
    explicitly named folder and its parents) never match."""
    pattern = pattern.rstrip("/")
    parts = rel.split("/")
    if "/" not in pattern:
        return any(fnmatch.fnmatch(part, pattern) for part in parts[skip:])
    pattern = pattern.lstrip("/")
    return any(
        fnmatch.fnmatch("/".join(parts[:end]), pattern)
        for end in range(max(skip + 1, 1), len(parts) + 1)
    )


def find_pyproject(start: Path) -> Path | None:
    start = start.resolve()
    for folder in [start, *start.parents] if start.is_dir() else start.parents:
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def load(start: Path) -> Config:
    """The config that applies to `start` (a file or folder); defaults when there is none."""
    path = find_pyproject(start)
    if path is None:
        return Config(root=str(start if start.is_dir() else start.parent))
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    section = data.get("tool", {}).get("tscheck", {})
    return from_mapping(section, root=str(path.parent), source=str(path))


def from_mapping(section: Mapping[str, Any], root: str = ".", source: str = "") -> Config:
    where = f"{source}: [tool.tscheck]" if source else "[tool.tscheck]"
    if not isinstance(section, Mapping):
        raise ConfigError(f"{where} must be a table")
    known = {
        "select",
        "ignore",
        "per-file-ignores",
        "exclude",
        "extend-exclude",
        "roots",
        "traced",
        "severity",
        "factories",
        "preload",
        "python",
        "verify",
        "sandbox",
        "examples",
        "device",
        "timeout",
    }
    unknown = sorted(set(section) - known)
    if unknown:
        raise ConfigError(
            f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(known))})"
        )
    per_file = section.get("per-file-ignores", {})
    if not isinstance(per_file, Mapping):
        raise ConfigError(f"{where}: per-file-ignores must be a table of glob = [codes]")
    severity = section.get("severity", {})
    if not isinstance(severity, Mapping):
        raise ConfigError(f'{where}: severity must be a table of code = "error|warning|info"')
    severities: list[tuple[str, Severity]] = []
    for code, value in severity.items():
        try:
            severities.append((str(code), Severity(str(value))))
        except ValueError:
            raise ConfigError(
                f"{where}: severity for {code} must be error, warning or info, not {value!r}"
            ) from None
    return Config(
        select=_strings(section, "select", where),
        ignore=_strings(section, "ignore", where),
        per_file_ignores=tuple(
            (str(k), _string_list(v, f"{where}: per-file-ignores[{k!r}]"))
            for k, v in per_file.items()
        ),
        exclude=_strings(section, "exclude", where) + _strings(section, "extend-exclude", where),
        roots=_strings(section, "roots", where),
        traced=_strings(section, "traced", where),
        severity=tuple(severities),
        root=root,
        source=source,
        verify=_bool(section, "verify", where),
        python=_string(section, "python", where),
        factories=_table(section, "factories", where),
        examples=_table(section, "examples", where),
        preload=_strings(section, "preload", where),
        device=_choice(section, "device", where, ("cpu", "cuda"), "cpu"),
        timeout_s=_positive(section, "timeout", where, 60.0),
    )


def _bool(section: Mapping[str, Any], key: str, where: str) -> bool:
    value = section.get(key, False)
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: {key} must be true or false, not {value!r}")
    return value


def _string(section: Mapping[str, Any], key: str, where: str) -> str:
    value = section.get(key, "")
    if not isinstance(value, str):
        raise ConfigError(f"{where}: {key} must be a string, not {value!r}")
    return value


def _choice(
    section: Mapping[str, Any], key: str, where: str, choices: tuple[str, ...], default: str
) -> str:
    value = section.get(key, default)
    if value not in choices:
        raise ConfigError(f"{where}: {key} must be one of {', '.join(choices)}, not {value!r}")
    return str(value)


def _positive(section: Mapping[str, Any], key: str, where: str, default: float) -> float:
    value = section.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ConfigError(f"{where}: {key} must be a positive number of seconds, not {value!r}")
    return float(value)


def _table(section: Mapping[str, Any], key: str, where: str) -> tuple[tuple[str, str], ...]:
    """`"path/to/file.py:Name" = "expression"` entries."""
    value = section.get(key, {})
    if not isinstance(value, Mapping):
        raise ConfigError(f'{where}: {key} must be a table of "file.py:Name" = "expression"')
    out: list[tuple[str, str]] = []
    for name, expr in value.items():
        if ":" not in str(name) or not isinstance(expr, str):
            raise ConfigError(
                f'{where}: {key} entries look like "pkg/mod.py:Net" = "Net(3)", not {name!r}'
            )
        out.append((str(name), expr))
    return tuple(out)


def _strings(section: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    return _string_list(section.get(key, []), f"{where}: {key}")


def _string_list(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where} must be a list of strings")
    return tuple(value)


DEFAULT = Config()
