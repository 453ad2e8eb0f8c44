"""Rejected catalog snippets that no static rule reports, each with the reason.

Type-system cases belong to the TS2xx family (a later issue); call-time failures depend on
values; some failures come from Python-side checks on live objects.
"""

from __future__ import annotations

UNCOVERED: dict[str, str] = {}
