"""Client settings: `initializationOptions` at start, `workspace/didChangeConfiguration` later.

Both carry the same JSON object (under a "tscheck" key or bare), for example:

    {"debounce": 0.2, "verify": "onSave", "python": "/venv/bin/python", "sandbox": "auto",
     "select": ["TS1"], "ignore": ["TS130"], "severity": {"TS3": "warning"}, "trusted": true,
     "diagnosticMode": "auto", "idleDelay": 1.5, "showDocument": true}

They override `[tool.tscheck]` in the workspace's pyproject.toml. A bad value is reported (a
warning naming the key) and the old value kept: a typo must not switch checking off.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tscheck.config import Config
from tscheck.model import Severity

VERIFY_MODES = ("off", "onSave", "onIdle")
SANDBOX_MODES = ("auto", "bwrap", "none")
DIAGNOSTIC_MODES = ("auto", "push", "pull")
SEVERITIES = {"error": Severity.ERROR, "warning": Severity.WARNING, "info": Severity.INFO}


@dataclass(frozen=True)
class Settings:
    debounce_s: float = 0.2
    # Verification runs the user's code (sandboxed): off unless the client asks for it, and
    # never in a workspace the client says is untrusted.
    verify: str = "off"
    idle_delay_s: float = 1.5  # verify="onIdle": how long typing must pause
    python: str = ""  # the interpreter to verify with ("" = [tool.tscheck] python, or ours)
    sandbox: str = "auto"
    trusted: bool = True
    select: tuple[str, ...] | None = None  # None: as pyproject.toml says
    ignore: tuple[str, ...] | None = None
    severity: tuple[tuple[str, Severity], ...] = ()
    diagnostic_mode: str = "auto"  # "auto": pull when the client supports it, else push
    show_document: bool = True  # open shown TorchScript code with window/showDocument

    def apply(self, config: Config) -> Config:
        """`config` (from pyproject.toml) with these settings on top."""
        changes: dict[str, Any] = {}
        if self.select is not None:
            changes["select"] = self.select
        if self.ignore is not None:
            changes["ignore"] = self.ignore
        if self.severity:
            changes["severity"] = (*config.severity, *self.severity)  # later entries win ties
        if self.python:
            changes["python"] = self.python
        return dataclasses.replace(config, **changes) if changes else config

    @property
    def verifying(self) -> bool:
        return self.verify != "off" and self.trusted


def update(settings: Settings, raw: object) -> tuple[Settings, list[str]]:
    """`settings` with the values in `raw` applied; returns the problems found."""
    if not isinstance(raw, Mapping):
        return settings, []
    if isinstance(raw.get("tscheck"), Mapping):
        raw = raw["tscheck"]
        assert isinstance(raw, Mapping)
    problems: list[str] = []
    changes: dict[str, Any] = {}

    def number(key: str, field: str) -> None:
        value = raw.get(key)
        if value is None:
            return
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
            changes[field] = float(value)
        else:
            problems.append(f"setting {key!r}: expected a number of seconds >= 0, got {value!r}")

    def choice(key: str, field: str, allowed: tuple[str, ...]) -> None:
        value = raw.get(key)
        if value is None:
            return
        if value in allowed:
            changes[field] = value
        else:
            problems.append(f"setting {key!r}: expected one of {', '.join(allowed)}, got {value!r}")

    def codes(key: str) -> None:
        value = raw.get(key)
        if value is None:
            return
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            changes[key] = tuple(v.strip().upper() for v in value if v.strip())
        else:
            problems.append(f"setting {key!r}: expected a list of rule codes, got {value!r}")

    number("debounce", "debounce_s")
    number("idleDelay", "idle_delay_s")
    choice("verify", "verify", VERIFY_MODES)
    choice("sandbox", "sandbox", SANDBOX_MODES)
    choice("diagnosticMode", "diagnostic_mode", DIAGNOSTIC_MODES)
    codes("select")
    codes("ignore")
    python = raw.get("python")
    if python is not None:
        if isinstance(python, str):
            changes["python"] = python
        else:
            problems.append(f"setting 'python': expected a path, got {python!r}")
    for key, field in (("trusted", "trusted"), ("showDocument", "show_document")):
        value = raw.get(key)
        if value is None:
            continue
        if isinstance(value, bool):
            changes[field] = value
        else:
            problems.append(f"setting {key!r}: expected true or false, got {value!r}")
    severity = raw.get("severity")
    if severity is not None:
        parsed = _severity(severity)
        if parsed is None:
            problems.append(
                "setting 'severity': expected a table of code -> error|warning|info, "
                f"got {severity!r}"
            )
        else:
            changes["severity"] = parsed
    return dataclasses.replace(settings, **changes), problems


def _severity(value: object) -> tuple[tuple[str, Severity], ...] | None:
    if not isinstance(value, Mapping):
        return None
    out = []
    for code, level in value.items():
        if not isinstance(code, str) or not isinstance(level, str):
            return None
        found = SEVERITIES.get(level.lower())
        if found is None:
            return None
        out.append((code.strip().upper(), found))
    return tuple(out)
