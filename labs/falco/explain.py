"""Explaining to a student why a rule did or did not fire on an event ("why didn't my rule fire?")."""

from __future__ import annotations

from typing import Any

from labs.falco.compiler import CompiledRule
from labs.falco.condition import AndExpr, CheckExpr, Expr, FieldExpr, NotExpr, Operand, OrExpr, TransformerExpr, to_text
from labs.falco.fields import MISSING, raw_value, resolve
from labs.falco.matcher import compile_expr
from labs.falco.priorities import parse_priority, priority_name


def _fields(expr: Expr) -> list[Operand]:
    if isinstance(expr, CheckExpr):
        out: list[Operand] = [expr.left]
        if isinstance(expr.value, FieldExpr | TransformerExpr):
            out.append(expr.value)
        return out
    if isinstance(expr, NotExpr):
        return _fields(expr.child)
    if isinstance(expr, AndExpr | OrExpr):
        return [f for c in expr.children for f in _fields(c)]
    return []


def _base(operand: Operand):
    while isinstance(operand, TransformerExpr):
        operand = operand.inner
    return operand


def _holds(expr: Expr, event: dict[str, Any]) -> bool:
    return compile_expr(expr, lambda message, offset: None)(event)


def explain_rule(rule: CompiledRule, event: dict[str, Any], *, priority: str = "debug") -> list[str]:
    """Lines saying whether `rule` fires on `event` and, if not, which part of its condition is false and why."""
    lines = []
    if not rule.enabled:
        lines.append(f"rule '{rule.name}' is disabled (enabled: false), so Falco never runs it")
    threshold = parse_priority(priority)
    if threshold is not None and rule.priority > threshold:
        lines.append(f"rule '{rule.name}' has priority {priority_name(rule.priority)}, below the minimum "
                     f"priority {priority}, so Falco never runs it")  # fmt: skip
    if rule.predicate(event):
        lines.append(f"rule '{rule.name}': the condition is true for this event")
        return lines
    lines.append(f"rule '{rule.name}': the condition is false for this event")
    parts = rule.expanded.children if isinstance(rule.expanded, AndExpr) else (rule.expanded,)
    for part in parts:
        if _holds(part, event):
            continue
        lines.append(f"  false: {to_text(part)}")
        for operand in _fields(part):
            field_expr = _base(operand)
            try:
                field = resolve(field_expr.name, field_expr.arg)
            except ValueError:
                continue
            value = raw_value(event, field)
            shown = "missing (so every check on it is false)" if value is MISSING else repr(value)
            lines.append(f"    {field_expr.text()} = {shown}")
        break
    return lines
