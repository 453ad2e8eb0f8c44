"""Rules: (to be written)."""

from __future__ import annotations

from tscheck.rules.base import Rule

RULES: tuple[type[Rule], ...] = ()
