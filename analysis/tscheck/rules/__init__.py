"""The rule registry: every rule family module lists its rules in `RULES`."""

from __future__ import annotations

from tscheck.rules import (
    ts1xx_annotations,
    ts1xx_builtins,
    ts1xx_modules,
    ts1xx_script_calls,
    ts1xx_syntax,
    ts2xx_calls,
    ts2xx_refine,
    ts2xx_types,
    ts3xx_decorators,
    ts3xx_python_only,
    ts4xx_tracing,
    ts5xx_serialization,
)
from tscheck.rules.base import Rule

FAMILIES = (
    ts1xx_syntax,
    ts1xx_builtins,
    ts1xx_modules,
    ts1xx_script_calls,
    ts1xx_annotations,
    ts2xx_refine,
    ts2xx_calls,
    ts2xx_types,
    ts3xx_decorators,
    ts3xx_python_only,
    ts4xx_tracing,
    ts5xx_serialization,
)
ALL_RULES: tuple[Rule, ...] = tuple(
    rule_class() for family in FAMILIES for rule_class in family.RULES
)
RULES_BY_CODE: dict[str, Rule] = {rule.code: rule for rule in ALL_RULES}
