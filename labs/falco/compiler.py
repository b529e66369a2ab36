"""Falco's rule_loader::compiler: lists, macros and rules from the collector to runnable rules.

Lists are expanded one level (a list may use lists defined before it), substituted textually into every condition,
conditions parsed, macros expanded as syntax trees (a macro may use macros defined before it, a rule any macro),
exceptions turned into `and not (...)` clauses, outputs checked. The first error stops compilation, as in Falco.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from labs.falco.collector import Collector, ExceptionInfo, RuleInfo
from labs.falco.condition import (
    LIST_OPERATORS,
    AndExpr,
    CheckExpr,
    ConditionSyntaxError,
    Expr,
    FieldExpr,
    MacroRef,
    NotExpr,
    OrExpr,
    parse_condition,
    to_text,
)
from labs.falco.diagnostics import Context, Diagnostic, RuleLoadError
from labs.falco.matcher import CompileError, compile_expr, event_types
from labs.falco.output import OutputFormat, parse_output

CONTAINER_INFO = "%container.info"
CONTAINER_INFO_WARNING = (
    "%container.info is deprecated and no more useful, and will be dropped by Falco 1.0.0. The container plugin will "
    "automatically add required fields to the output message."
)
EVT_DIR_WARNING = (
    "due to the drop of enter events, 'evt.dir = <' always evaluates to true, and 'evt.dir = >' always evaluates to "
    "false. The rule expression can be simplified by removing the condition on 'evt.dir'"
)
_BLANKS = " \t\n\r"
_DELIMS = _BLANKS + "(),="
_MAX_EVENT_TYPES = 100


@dataclass(frozen=True)
class CompiledRule:
    """A rule ready to run: its expanded condition, predicate, output format and metadata."""

    name: str
    desc: str
    priority: int
    source: str
    tags: tuple[str, ...]
    enabled: bool
    condition: str
    expanded: Expr
    predicate: Callable[[dict[str, Any]], bool]
    output: OutputFormat
    output_text: str
    event_types: frozenset[str] | None
    file: str
    line: int

    def matches(self, event: dict[str, Any]) -> bool:
        """Whether the rule, enabled or not, matches the event on its own (its event types, then its condition)."""
        event_type = event.get("evt.type")
        if event_type is not None and self.event_types is not None and event_type not in self.event_types:
            return False
        return bool(self.predicate(event))


def quote_item(item: str) -> str:
    """Falco's quote_item: quote a list or exception value only if it has a space and is not quoted already."""
    if " " in item and item[:1] not in ('"', "'"):
        return f'"{item}"'
    return item


def resolve_list(condition: str, name: str, items: list[str]) -> tuple[str, bool]:
    """Falco's textual list substitution of `name` in `condition`; also says whether the list was used."""
    used = False
    start = condition.find(name)
    while start >= 0:
        end = start + len(name)
        if (start == 0 or condition[start - 1] in _DELIMS) and (end >= len(condition) or condition[end] in _DELIMS):
            while start > 0 and condition[start - 1] in _BLANKS:
                start -= 1
            while end < len(condition) and condition[end] in _BLANKS:
                end += 1
            sub = ", ".join(quote_item(v) for v in items)
            if not sub:
                if start > 0 and condition[start - 1] == ",":
                    start -= 1
                elif end < len(condition) and condition[end] == ",":
                    end += 1
            head = condition[:start] + " " if start > 0 else ""
            condition = head + sub + " " + condition[end:]
            start += len(sub) + 1
            used = True
        start = condition.find(name, start + 1)
    return condition, used


def exception_condition(condition: str, exceptions: list[ExceptionInfo]) -> str:
    """Falco's build_rule_exception_infos: `(cond) and not (...)` per exception with values."""
    out = f"({condition})"
    for ex in exceptions:
        if not ex.fields.is_list:
            values = []
            for value in ex.values:
                if value.is_list:
                    raise RuleLoadError(
                        "LOAD_ERR_VALIDATE", "Expected values array to contain a list of strings", ex.context
                    )
                values.append(quote_item(value.item or ""))
            clause = f"({ex.fields.item} {ex.comps.item} ({', '.join(values)}))" if values else ""
        else:
            tuples = []
            for value in ex.values:
                items = value.items or []
                if len(items) != len(ex.fields.items):
                    raise RuleLoadError(
                        "LOAD_ERR_VALIDATE", "Fields and values lists must have equal length", ex.context
                    )
                checks = []
                for field, comp, val in zip(ex.fields.items, ex.comps.items, items, strict=True):
                    if val.is_list:
                        rhs = "(" + ", ".join(quote_item(v.item or "") for v in val.items) + ")"
                    elif comp.item in LIST_OPERATORS:
                        rhs = val.item if (val.item or "").startswith("(") else f"({val.item})"
                    else:
                        rhs = quote_item(val.item or "")
                    checks.append(f" {field.item} {comp.item} {rhs}")
                tuples.append("(" + " and ".join(checks) + ")")
            clause = "(" + " or ".join(tuples) + ")" if tuples else ""
        if clause:
            out += f" and not {clause}"
    return out


def _condition_context(ctx: Context, text: str, offset: int) -> Context:
    """A child context pointing into a condition, named by its first 20 characters like Falco's."""
    short = text if len(text) <= 20 else text[:17] + "..."
    short = '"' + short.replace("\n", " ").replace("\r", " ") + '"' if len(text) <= 20 else '"' + short + '"'
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return ctx.child("condition expression", "", line, column, file=short.replace("\n", " "))


class _Compilation:
    def __init__(self, collector: Collector) -> None:
        self.collector = collector
        self.warnings: list[Diagnostic] = []
        self.lists: dict[str, list[str]] = {}
        self.used_lists: set[str] = set()
        self.macro_trees: dict[str, Expr] = {}
        self.used_macros: set[str] = set()

    def warn(self, code: str, message: str, ctx: Context) -> None:
        self.warnings.append(Diagnostic(code, message, ctx))

    # lists ---------------------------------------------------------------------------------------------------
    def compile_lists(self) -> None:
        for info in sorted(self.collector.lists.values(), key=lambda x: x.index):
            items: list[str] = []
            for item in info.items:
                ref = self.collector.lists.get(item)
                if ref is not None and ref.index < info.visibility:
                    self.used_lists.add(ref.name)
                    items.extend(ref.items)
                else:
                    items.append(item)
            self.lists[info.name] = items

    def parse(self, condition: str, ctx: Context) -> Expr:
        for name, items in self.lists.items():
            if name in condition:
                condition, used = resolve_list(condition, name, items)
                if used:
                    self.used_lists.add(name)
        try:
            return parse_condition(condition)
        except ConditionSyntaxError as error:
            raise RuleLoadError(
                "LOAD_ERR_COMPILE_CONDITION", error.message, _condition_context(ctx, condition, error.offset)
            ) from None

    # macros --------------------------------------------------------------------------------------------------
    def compile_macros(self) -> None:
        infos = sorted(self.collector.macros.values(), key=lambda x: x.index)
        for info in infos:
            self.macro_trees[info.name] = self.parse(info.condition, info.condition_context)
        for info in infos:
            self.expand(self.macro_trees[info.name], info.visibility, info.context, info.condition, [info.name])

    def expand(self, expr: Expr, visibility: int, ctx: Context, text: str, stack: list[str]) -> Expr:
        """Replace macro references by their trees; check visibility, undefined macros and loops."""
        if isinstance(expr, MacroRef):
            info = self.collector.macros.get(expr.name)
            if info is None or info.index >= visibility:
                raise RuleLoadError(
                    "LOAD_ERR_VALIDATE",
                    f"Undefined macro '{expr.name}' used in filter.",
                    _condition_context(ctx, text, expr.offset),
                )
            if expr.name in stack:
                raise RuleLoadError(
                    "LOAD_ERR_VALIDATE",
                    f"reference loop in macro '{expr.name}'",
                    _condition_context(ctx, text, expr.offset),
                )
            self.used_macros.add(expr.name)
            body = self.macro_trees[expr.name]
            return self.expand(body, info.visibility, info.context, info.condition, [*stack, expr.name])
        if isinstance(expr, NotExpr):
            return NotExpr(self.expand(expr.child, visibility, ctx, text, stack))
        if isinstance(expr, AndExpr | OrExpr):
            children = tuple(self.expand(c, visibility, ctx, text, stack) for c in expr.children)
            return replace(expr, children=children)
        return expr

    # rules ---------------------------------------------------------------------------------------------------
    def compile_rule(self, info: RuleInfo) -> CompiledRule | None:
        condition = exception_condition(info.condition, info.exceptions) if info.exceptions else info.condition
        output_text = info.output
        if CONTAINER_INFO in output_text:
            self.warn("LOAD_DEPRECATED_ITEM", CONTAINER_INFO_WARNING, info.context)
            output_text = output_text.replace(CONTAINER_INFO, "")
        try:
            output = parse_output(output_text)
        except ValueError as error:
            message = str(error)
            if info.skip_if_unknown_filter and "invalid formatting token" in message:
                self.warn("LOAD_UNKNOWN_FILTER", message, info.output_context)
                return None
            raise RuleLoadError("LOAD_ERR_COMPILE_OUTPUT", message, info.output_context) from None
        if "evt.dir" in output_text:
            self.warn(
                "LOAD_DEPRECATED_ITEM",
                "usage of deprecated field 'evt.dir' has been detected in the rule output",
                info.output_context,
            )
        tree = self.parse(condition, info.condition_context)
        expanded = self.expand(tree, 2**32, info.context, condition, [])
        if _uses_evt_dir(expanded):
            self.warn("LOAD_DEPRECATED_ITEM", EVT_DIR_WARNING, info.condition_context)
        if _compares_with_na(expanded):
            self.warn("LOAD_UNSAFE_NA_CHECK", "", info.condition_context)

        def warn(message: str, offset: int) -> None:
            self.warn("LOAD_COMPILE_CONDITION", message, _condition_context(info.condition_context, condition, 0))

        try:
            predicate = compile_expr(expanded, warn)
        except CompileError as error:
            unknown = any(s in error.message for s in ("nonexistent field", "unknown event type"))
            ctx = _condition_context(info.condition_context, condition, 0)
            if unknown and info.skip_if_unknown_filter:
                self.warn("LOAD_UNKNOWN_FILTER", error.message, ctx)
                return None
            raise RuleLoadError("LOAD_ERR_COMPILE_CONDITION", error.message, ctx) from None
        types = event_types(expanded)
        if info.warn_evttypes and (types is None or not types or len(types) > _MAX_EVENT_TYPES):
            self.warn(
                "LOAD_NO_EVTTYPE",
                "Rule matches too many evt.type values. This has a significant performance penalty.",
                info.context,
            )
        return CompiledRule(
            name=info.name, desc=info.desc, priority=info.priority, source=info.source,
            tags=tuple(sorted(info.tags)), enabled=info.enabled, condition=to_text(expanded), expanded=expanded,
            predicate=predicate, output=output, output_text=output_text, event_types=types,
            file=info.context.file, line=info.context.line,
        )  # fmt: skip

    def run(self) -> list[CompiledRule]:
        self.compile_lists()
        self.compile_macros()
        rules = []
        for info in sorted(self.collector.rules.values(), key=lambda x: x.index):
            if info.unknown_source:
                continue
            compiled = self.compile_rule(info)
            if compiled is not None:
                rules.append(compiled)
        for info in self.collector.macros.values():
            if info.name not in self.used_macros:
                self.warn("LOAD_UNUSED_MACRO", "Macro not referred to by any other rule/macro", info.context)
        for info in self.collector.lists.values():
            if info.name not in self.used_lists:
                self.warn("LOAD_UNUSED_LIST", "List not referred to by any other rule/macro", info.context)
        return rules


def walk_checks(expr: Expr) -> Iterator[CheckExpr]:
    """Every field comparison in a condition tree (below and, or and not)."""
    if isinstance(expr, CheckExpr):
        yield expr
    elif isinstance(expr, NotExpr):
        yield from walk_checks(expr.child)
    elif isinstance(expr, AndExpr | OrExpr):
        for child in expr.children:
            yield from walk_checks(child)


def _uses_evt_dir(expr: Expr) -> bool:
    return any(isinstance(c.left, FieldExpr) and c.left.name == "evt.dir" for c in walk_checks(expr))


def _compares_with_na(expr: Expr) -> bool:
    for check in walk_checks(expr):
        if isinstance(check.left, FieldExpr) and check.left.name.startswith(("ka.", "jevt.")):
            values = check.value if isinstance(check.value, tuple) else (check.value,)
            if check.op in ("=", "==", "!=", "in") and "<NA>" in values:
                return True
    return False


@dataclass
class Compiled:
    """What compiling the collected rules gave: the rules in order, every list with its items as Falco substitutes
    them (appends applied, lists used in a list expanded), the warnings, and the first error or None."""

    rules: list[CompiledRule]
    lists: dict[str, list[str]]
    warnings: list[Diagnostic]
    error: Diagnostic | None = None


def compile_collected(collector: Collector) -> Compiled:
    """Compile everything collected so far."""
    compilation = _Compilation(collector)
    try:
        rules = compilation.run()
    except RuleLoadError as error:
        return Compiled([], compilation.lists, compilation.warnings, error.diagnostic)
    return Compiled(rules, compilation.lists, compilation.warnings)
