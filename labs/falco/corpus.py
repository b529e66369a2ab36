"""Differential checks of a rule against a reference rule: the values a reference condition compares fields with
(the raw material of a generated corpus of events), and the events on which two versions of a rule disagree.

    names = compared_values(reference_rule, "proc.name")     # every process name its lists and macros mention
    events = {f"{name} reading /etc/shadow": read_file(..., process=name) for name in names}
    differ = disagreements(reference_rule, student_rule, events)   # .missed, .extra, .describe()
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from labs.falco.compiler import CompiledRule, walk_checks
from labs.falco.condition import FieldExpr

Event = dict[str, Any]


def compared_values(rule: CompiledRule, field: str) -> list[str]:
    """Every literal value the rule's condition (macros and lists expanded) compares `field` with, in order."""
    values: dict[str, None] = {}
    for check in walk_checks(rule.expanded):
        if isinstance(check.left, FieldExpr) and check.left.name == field:
            if isinstance(check.value, str):
                values[check.value] = None
            elif isinstance(check.value, tuple):
                values.update(dict.fromkeys(check.value))
    return list(values)


@dataclass(frozen=True)
class Disagreements:
    """The events (by description) only the reference rule fires on, and those only the judged rule fires on."""

    missed: list[str]
    extra: list[str]

    def __bool__(self) -> bool:
        return bool(self.missed or self.extra)

    def describe(self, shown: int = 3) -> str:
        """'it misses 2: a; b; it now also fires on 1: c' (at most `shown` examples of each)."""

        def some(what: str, found: list[str]) -> str:
            more = " ..." if len(found) > shown else ""
            return f"{what} {len(found)}: {'; '.join(found[:shown])}{more}"

        parts = [some("it misses", self.missed)] if self.missed else []
        return "; ".join(parts + ([some("it now also fires on", self.extra)] if self.extra else []))


def disagreements(reference: CompiledRule, judged: CompiledRule, events: Mapping[str, Event]) -> Disagreements:
    """The events on which the two rules disagree."""
    missed, extra = [], []
    for what, event in events.items():
        expected, seen = reference.matches(event), judged.matches(event)
        if expected != seen:
            (missed if expected else extra).append(what)
    return Disagreements(missed, extra)
