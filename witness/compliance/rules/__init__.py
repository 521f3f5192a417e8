"""The registry of rules (issue 6 item 1). Each module in ``MODULES`` registers its rules
with ``register`` when imported; ``all_rules()`` imports them all once."""

from __future__ import annotations

from importlib import import_module

from .base import Context, Match, Rule, Window

__all__ = ["Context", "Match", "Rule", "Window", "all_rules", "get", "register"]

# Every module that defines rules; a new rule module is added here.
MODULES = (
    "witness.compliance.rules.activities",
    "witness.compliance.rules.recordings",
    "witness.compliance.rules.devices",
    "witness.compliance.rules.integrity",
    "witness.compliance.rules.review",
)

_RULES: dict[str, Rule] = {}
_loaded = False


def register(rule: Rule) -> Rule:
    if rule.id in _RULES and _RULES[rule.id] is not rule:
        raise ValueError(f"two rules named {rule.id}")
    _RULES[rule.id] = rule
    return rule


def _load() -> None:
    global _loaded
    if not _loaded:
        for module in MODULES:
            import_module(module)
        _loaded = True


def all_rules() -> list[Rule]:
    _load()
    return sorted(_RULES.values(), key=lambda r: r.id)


def get(rule_id: str) -> Rule | None:
    _load()
    return _RULES.get(rule_id)
