"""Falco's rule_loader::collector: definitions, appends, overrides and enables of lists, macros and rules.

One sequence counter is shared by lists, macros and rules. A redefinition overwrites the item in place: it keeps its
first position (`index`, the evaluation order) and gets a new `visibility`, which decides what it may reference.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from labs.falco.condition import OPERATORS
from labs.falco.diagnostics import Context, Diagnostic, RuleLoadError
from labs.falco.fields import UnknownField, resolve

ERROR_NO_PREVIOUS_MACRO = "Macro uses 'append' or 'override.condition: append' but no macro by that name already exists"
ERROR_NO_PREVIOUS_LIST = "List uses 'append' or 'override.items: append' but no list by that name already exists"
ERROR_NO_PREVIOUS_RULE_APPEND = "Rule uses 'append' or 'override.<key>: append' but no rule by that name already exists"
ERROR_NO_PREVIOUS_RULE_REPLACE = (
    "An 'override.<key>: replace' to a rule was requested but no rule by that name already exists"
)
KNOWN_SOURCES = ("syscall",)


@dataclass
class ListInfo:
    name: str
    items: list[str]
    context: Context
    index: int = 0
    visibility: int = 0


@dataclass
class MacroInfo:
    name: str
    condition: str
    context: Context
    condition_context: Context
    index: int = 0
    visibility: int = 0


@dataclass
class ExceptionEntry:
    """A scalar (`item`) or a list (`items`) from an exception's fields, comps or values; neither if absent."""

    item: str | None = None
    items: list[ExceptionEntry] | None = None

    @property
    def is_list(self) -> bool:
        return self.items is not None

    @property
    def is_valid(self) -> bool:
        return self.item is not None or self.items is not None


@dataclass
class ExceptionInfo:
    name: str
    context: Context
    fields: ExceptionEntry = field(default_factory=ExceptionEntry)
    comps: ExceptionEntry = field(default_factory=ExceptionEntry)
    values: list[ExceptionEntry] = field(default_factory=list)


@dataclass
class RuleInfo:
    name: str
    condition: str
    output: str
    desc: str
    priority: int
    source: str
    enabled: bool
    capture: bool
    capture_duration: int
    warn_evttypes: bool
    skip_if_unknown_filter: bool
    tags: set[str]
    exceptions: list[ExceptionInfo]
    context: Context
    condition_context: Context
    output_context: Context
    index: int = 0
    visibility: int = 0

    @property
    def unknown_source(self) -> bool:
        return self.source not in KNOWN_SOURCES


@dataclass
class RuleUpdate:
    """The keys of an append or replace item; None means the key was not given."""

    name: str
    source: str
    context: Context
    condition: str | None = None
    condition_context: Context | None = None
    output: str | None = None
    desc: str | None = None
    tags: list[str] | None = None
    exceptions: list[ExceptionInfo] | None = None
    priority: int | None = None
    capture_duration: int | None = None
    flags: dict[str, bool] = field(default_factory=dict)

    def has_any_value(self) -> bool:
        given = (self.condition, self.output, self.desc, self.tags, self.exceptions, self.priority)
        return any(v is not None for v in given) or self.capture_duration is not None or bool(self.flags)


def _fail(message: str, ctx: Context) -> RuleLoadError:
    return RuleLoadError("LOAD_ERR_VALIDATE", message, ctx)


def _validate_exception(ex: ExceptionInfo, source_known: bool) -> None:
    """Falco's validate_exception_info: comps defaults and the field/comp checks."""
    if ex.fields.is_list:
        if not ex.comps.is_valid:
            ex.comps = ExceptionEntry(items=[ExceptionEntry(item="=") for _ in ex.fields.items])
        if not ex.comps.is_list or len(ex.fields.items) != len(ex.comps.items):
            raise _fail("Fields and comps lists must have equal length", ex.context)
        for comp in ex.comps.items:
            if comp.item not in OPERATORS:
                raise _fail(f"'{comp.item}' is not a supported comparison operator", ex.context)
        if source_known:
            for f in ex.fields.items:
                _check_field(f.item, ex.context)
    else:
        if not ex.comps.is_valid:
            ex.comps = ExceptionEntry(item="in")
        if ex.comps.is_list:
            raise _fail("Fields and comps must both be strings", ex.context)
        if ex.comps.item not in ("in", "pmatch", "intersects"):
            raise _fail("When fields is a single value, comps must be one of (in, pmatch, intersects)", ex.context)
        if source_known:
            _check_field(ex.fields.item, ex.context)


def _check_field(name: str | None, ctx: Context) -> None:
    text = name or ""
    bracket = text.find("[")
    try:
        if bracket > 0 and text.endswith("]"):
            resolve(text[:bracket], text[bracket + 1 : -1])
        else:
            resolve(text)
    except UnknownField:
        raise _fail(f"'{text}' is not a supported filter field", ctx) from None


@dataclass
class Collector:
    """Everything read from the rules files so far, in Falco's collector semantics."""

    lists: dict[str, ListInfo] = field(default_factory=dict)
    macros: dict[str, MacroInfo] = field(default_factory=dict)
    rules: dict[str, RuleInfo] = field(default_factory=dict)
    required_plugins: list[tuple[list[tuple[str, str]], Context]] = field(default_factory=list)
    warnings: list[Diagnostic] = field(default_factory=list)
    _counter: int = 0

    def warn(self, code: str, message: str, ctx: Context) -> None:
        self.warnings.append(Diagnostic(code, message, ctx))

    def _next(self) -> int:
        value = self._counter
        self._counter += 1
        return value

    def _define(self, table: dict, info) -> None:
        seq = self._next()
        previous = table.get(info.name)
        info.index = previous.index if previous else seq
        info.visibility = seq
        table[info.name] = info

    def define_list(self, info: ListInfo) -> None:
        self._define(self.lists, info)

    def append_list(self, info: ListInfo) -> None:
        previous = self.lists.get(info.name)
        if previous is None:
            raise _fail(ERROR_NO_PREVIOUS_LIST, info.context)
        previous.items = [*previous.items, *info.items]
        previous.visibility = self._next()

    def define_macro(self, info: MacroInfo) -> None:
        self._define(self.macros, info)

    def append_macro(self, info: MacroInfo) -> None:
        previous = self.macros.get(info.name)
        if previous is None:
            raise _fail(ERROR_NO_PREVIOUS_MACRO, info.context)
        previous.condition = f"{previous.condition} {info.condition}"
        previous.visibility = self._next()

    def _previous_rule(self, name: str, source: str, ctx: Context) -> RuleInfo | None:
        previous = self.rules.get(name)
        if previous and previous.source and source and previous.source != source:
            raise _fail("Rule has been re-defined with a different source", ctx)
        return previous

    def define_rule(self, info: RuleInfo) -> None:
        self._previous_rule(info.name, info.source, info.context)
        if info.unknown_source:
            self.warn("LOAD_UNKNOWN_SOURCE", f"Unknown source {info.source}, skipping", info.context)
        for ex in info.exceptions:
            if not ex.fields.is_valid:
                raise _fail("Rule exception item must have fields property with a list of fields", ex.context)
            _validate_exception(ex, not info.unknown_source)
        self._define(self.rules, info)

    def append_rule(self, update: RuleUpdate) -> None:
        previous = self._previous_rule(update.name, update.source, update.context)
        if previous is None:
            raise _fail(ERROR_NO_PREVIOUS_RULE_APPEND, update.context)
        if not update.has_any_value():
            raise _fail("Appended rule must have exceptions or condition property", update.context)
        if update.condition:
            previous.condition = f"{previous.condition} {update.condition}"
        if update.output:
            previous.output = f"{previous.output} {update.output}"
        if update.desc:
            previous.desc = f"{previous.desc} {update.desc}"
        if update.tags is not None:
            previous.tags |= set(update.tags)
        for ex in update.exceptions or ():
            existing = next((e for e in previous.exceptions if e.name == ex.name), None)
            if existing is None:
                if not ex.fields.is_valid:
                    raise _fail("Rule exception must have fields property with a list of fields", ex.context)
                if not ex.values:
                    raise _fail("Rule exception must have values property with a list of values", ex.context)
                _validate_exception(ex, not previous.unknown_source)
                previous.exceptions.append(ex)
            else:
                if ex.fields.is_valid:
                    raise _fail("Can not append exception fields to existing exception, only values", ex.context)
                if ex.comps.is_valid:
                    raise _fail("Can not append exception comps to existing exception, only values", ex.context)
                existing.values.extend(ex.values)
        previous.visibility = self._next()

    def replace_rule(self, update: RuleUpdate) -> None:
        previous = self._previous_rule(update.name, update.source, update.context)
        if previous is None:
            raise _fail(ERROR_NO_PREVIOUS_RULE_REPLACE, update.context)
        if not update.has_any_value():
            raise _fail("The rule must have at least one field that can be replaced", update.context)
        if update.condition is not None:
            previous.condition = update.condition
            previous.condition_context = update.condition_context or previous.condition_context
        if update.output is not None:
            previous.output = update.output
        if update.desc is not None:
            previous.desc = update.desc
        if update.tags is not None:
            previous.tags = set(update.tags)
        if update.exceptions is not None:
            previous.exceptions = update.exceptions
        if update.priority is not None:
            previous.priority = update.priority
        if update.capture_duration is not None:
            previous.capture_duration = update.capture_duration
        for key, value in update.flags.items():
            setattr(previous, key.replace("-", "_"), value)
        previous.visibility = self._next()

    def enable_rule(self, name: str, enabled: bool, ctx: Context) -> None:
        previous = self.rules.get(name)
        if previous is None:
            raise _fail("Rule has 'enabled' key but no rule by that name already exists", ctx)
        previous.enabled = enabled
