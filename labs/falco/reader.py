"""Reading rules files into the collector, like Falco's rule_loader::reader (every scalar a string, yaml-cpp booleans).

The YAML is composed, not constructed, so values keep their text (`yes`, `22`, `on` stay strings) and every node
keeps its position for error messages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import yaml

from labs.falco.collector import Collector, ExceptionEntry, ExceptionInfo, ListInfo, MacroInfo, RuleInfo, RuleUpdate
from labs.falco.diagnostics import Context, Diagnostic, RuleLoadError
from labs.falco.emulation import Semver, engine_version
from labs.falco.priorities import parse_priority

_Loader = getattr(yaml, "CBaseLoader", yaml.BaseLoader)
_NULLS = {"", "~", "null", "Null", "NULL"}
_BOOLS = {
    **{w: True for w in ("y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON")},
    **{w: False for w in ("n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF")},
}
_IDENTIFIER = re.compile(r"[a-zA-Z]+[a-zA-Z0-9_]*")
_BARESTR = re.compile(r"[^()\"'\s=,]+")
WARNING_APPEND = (
    "'append' key is deprecated. Add an 'append' entry (e.g. 'condition: append') under 'override' instead."
)
WARNING_ENABLED = (
    "The standalone 'enabled' key usage is deprecated. The correct approach requires also a 'replace' entry under "
    "the 'override' key (i.e. 'enabled: replace')."
)
ERROR_OVERRIDE_APPEND = (
    "Keys 'override' and 'append: true' cannot be used together. Add an 'append' entry (e.g. 'condition: append') "
    "under 'override' instead."
)
RULE_APPENDABLE = ("condition", "output", "desc", "tags", "exceptions")
RULE_REPLACEABLE = (
    "condition", "output", "desc", "priority", "capture", "capture_duration", "tags", "exceptions", "enabled",
    "warn_evttypes", "skip-if-unknown-filter",
)  # fmt: skip


def _fail(message: str, ctx: Context) -> RuleLoadError:
    return RuleLoadError("LOAD_ERR_YAML_VALIDATE", message, ctx)


@dataclass
class _Item:
    """A mapping node with yaml-cpp-like access: the first occurrence of a key wins."""

    node: yaml.MappingNode
    values: dict[str, yaml.Node] = field(init=False)

    def __post_init__(self) -> None:
        self.values = {}
        for key, value in self.node.value:
            if isinstance(key, yaml.ScalarNode):
                self.values.setdefault(key.value, value)

    def __contains__(self, key: str) -> bool:
        return key in self.values

    def get(self, key: str) -> yaml.Node | None:
        return self.values.get(key)


def _is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and not node.style and node.value in _NULLS


def _ctx(node: yaml.Node, item_type: str, name: str, parent: Context) -> Context:
    return parent.child(item_type, name, node.start_mark.line + 1, node.start_mark.column + 1)


def _scalar(item: _Item, key: str, ctx: Context, *, optional: bool = False, can_be_empty: bool = False) -> str | None:
    """Falco's decode_val: the key's non-empty scalar text, with Falco's errors."""
    node = item.get(key)
    if node is None:
        if optional:
            return None
        raise _fail(f"Item has no mapping for key '{key}'", ctx)
    if _is_null(node):
        if can_be_empty:
            return ""
        raise _fail(f"Mapping for key '{key}' is empty", ctx)
    value_ctx = _ctx(node, "value for", key, ctx)
    if not isinstance(node, yaml.ScalarNode):
        raise _fail("Value is not a scalar value", value_ctx)
    if node.value == "":
        if can_be_empty:
            return ""
        raise _fail("Value must be non-empty", value_ctx)
    return node.value


def _bool(item: _Item, key: str, ctx: Context, *, optional: bool = True) -> bool | None:
    text = _scalar(item, key, ctx, optional=optional)
    if text is None:
        return None
    if text not in _BOOLS:
        raise _fail("Can't decode YAML scalar value", _ctx(item.get(key), "value for", key, ctx))
    return _BOOLS[text]


def _int(item: _Item, key: str, ctx: Context) -> int:
    text = _scalar(item, key, ctx)
    if not re.fullmatch(r"[+-]?\d+", text.strip()):
        raise _fail("Can't decode YAML scalar value", _ctx(item.get(key), "value for", key, ctx))
    return int(text)


def _sequence(item: _Item, key: str, ctx: Context, *, optional: bool) -> list[str] | None:
    node = item.get(key)
    if node is None:
        if optional:
            return None
        raise _fail(f"Item has no mapping for key '{key}'", ctx)
    value_ctx = _ctx(node, "value for", key, ctx)
    if not isinstance(node, yaml.SequenceNode):
        raise _fail("Value is not a sequence", value_ctx)
    out = []
    for value in node.value:
        if not isinstance(value, yaml.ScalarNode):
            raise _fail("sequence value is not scalar", _ctx(value, "list item", "", value_ctx))
        out.append(value.value)
    return out


def _overrides(
    item: _Item, appendable: tuple[str, ...], replaceable: tuple[str, ...], ctx: Context
) -> tuple[set[str], set[str]]:
    node = item.get("override")
    if node is None:
        return set(), set()
    override_ctx = _ctx(item.node, "overrides", "", ctx)
    if not isinstance(node, yaml.MappingNode):
        return set(), set()
    appends: set[str] = set()
    replaces: set[str] = set()
    for key_node, op_node in node.value:
        key = key_node.value if isinstance(key_node, yaml.ScalarNode) else ""
        op = op_node.value if isinstance(op_node, yaml.ScalarNode) else ""
        if op == "append":
            if key not in appendable:
                raise _fail(
                    f"Key '{key}' cannot be appended to, use 'replace' instead",
                    _ctx(key_node, "overrides", key, override_ctx),
                )
            appends.add(key)
        elif op == "replace":
            if key not in replaceable:
                raise _fail(f"Key '{key}' cannot be replaced", _ctx(key_node, "overrides", key, override_ctx))
            replaces.add(key)
        else:
            allowed = ("append " if key in appendable else "") + ("replace " if key in replaceable else "")
            raise _fail(
                f"Invalid override operation for key '{key}': '{op}'. Allowed values are: {allowed}",
                _ctx(op_node, "value for", key, override_ctx),
            )
    return appends, replaces


def _exception_entry(node: yaml.Node, ctx: Context) -> ExceptionEntry:
    if isinstance(node, yaml.ScalarNode):
        if node.value == "" or _is_null(node):
            raise _fail("Value must be non-empty", ctx)
        return ExceptionEntry(item=node.value)
    if isinstance(node, yaml.SequenceNode):
        return ExceptionEntry(items=[_exception_entry(v, _ctx(v, "exception", "", ctx)) for v in node.value])
    return ExceptionEntry()


def _exceptions(collector: Collector, item: _Item, ctx: Context, *, append: bool) -> list[ExceptionInfo] | None:
    node = item.get("exceptions")
    if node is None or _is_null(node):
        return None
    exes_ctx = _ctx(node, "exceptions", "", ctx)
    if not isinstance(node, yaml.SequenceNode):
        raise _fail("Rule exceptions must be a sequence", exes_ctx)
    out: list[ExceptionInfo] = []
    for ex_node in node.value:
        tmp_ctx = _ctx(ex_node, "exception", "", exes_ctx)
        if not isinstance(ex_node, yaml.MappingNode):
            raise _fail("Rule exception must be a mapping", tmp_ctx)
        ex_item = _Item(ex_node)
        name = _scalar(ex_item, "name", tmp_ctx)
        ex_ctx = _ctx(ex_node, "exception", name, ctx)
        if any(e.name == name for e in out):
            collector.warn(
                "LOAD_EXCEPTION_NAME_NOT_UNIQUE", f"Multiple definitions of exception '{name}' in the same rule", ex_ctx
            )
        info = ExceptionInfo(name=name, context=ex_ctx)
        fields_node = ex_item.get("fields")
        if fields_node is None and not append:
            raise _fail("Item has no mapping for key 'fields'", ex_ctx)
        if fields_node is not None:
            info.fields = _exception_entry(fields_node, _ctx(fields_node, "value for", "fields", ex_ctx))
        comps_node = ex_item.get("comps")
        if comps_node is not None:
            info.comps = _exception_entry(comps_node, _ctx(comps_node, "value for", "comps", ex_ctx))
        values_node = ex_item.get("values")
        if values_node is not None:
            vals_ctx = _ctx(values_node, "exception values", "", ex_ctx)
            if not isinstance(values_node, yaml.SequenceNode):
                raise _fail("Rule exception values must be a sequence", vals_ctx)
            for v in values_node.value:
                info.values.append(_exception_entry(v, _ctx(v, "exception value", "", vals_ctx)))
        elif append:
            collector.warn("LOAD_APPEND_NO_VALUES", "Overriding/appending exception with no values", ex_ctx)
        out.append(info)
    return out


def _read_engine_version(item: _Item, ctx: Context) -> None:
    node = item.get("required_engine_version")
    item_ctx = _ctx(item.node, "required_engine_version", "", ctx)
    text = _scalar(item, "required_engine_version", item_ctx)
    if re.fullmatch(r"\d+", text):
        required = Semver(0, int(text), 0)
    else:
        parsed = Semver.parse(text)
        if parsed is None:
            raise _fail(
                f"Unable to parse engine version '{text}' as a semver string. Expected \"x.y.z\" semver format.",
                item_ctx,
            )
        required = parsed
    ours = engine_version()
    if not ours.compatible_with(required):
        raise RuleLoadError(
            "LOAD_ERR_VALIDATE", f"Rules require engine version {required}, but engine version is {ours}", item_ctx
        )
    del node


def _read_plugin_versions(collector: Collector, item: _Item, ctx: Context) -> None:
    node = item.get("required_plugin_versions")
    seq_ctx = _ctx(node, "required plugin versions", "", ctx)
    if not isinstance(node, yaml.SequenceNode):
        raise _fail("Value of required_plugin_versions must be a sequence", seq_ctx)
    for plugin in node.value:
        tmp = _ctx(plugin, "required plugin versions entry", "", seq_ctx)
        if not isinstance(plugin, yaml.MappingNode):
            raise _fail("Plugin version must be a mapping", tmp)
        entry = _Item(plugin)
        name = _scalar(entry, "name", tmp)
        plugin_ctx = _ctx(plugin, "required plugin versions entry", name, seq_ctx)
        alternatives = [(name, _scalar(entry, "version", plugin_ctx))]
        alt_node = entry.get("alternatives")
        if alt_node is not None:
            if not isinstance(alt_node, yaml.SequenceNode):
                raise _fail("Value of plugin version alternatives must be a sequence", plugin_ctx)
            for alt in alt_node.value:
                alt_ctx = _ctx(alt, "required plugin versions alternative", "", plugin_ctx)
                if not isinstance(alt, yaml.MappingNode):
                    raise _fail("Plugin version alternative must be a mapping", alt_ctx)
                alt_item = _Item(alt)
                alt_name = _scalar(alt_item, "name", alt_ctx)
                alt_ctx = _ctx(alt, "required plugin versions alternative", alt_name, plugin_ctx)
                alternatives.append((alt_name, _scalar(alt_item, "version", alt_ctx)))
        seen: set[str] = set()
        for alt_name, version in alternatives:
            if Semver.parse(version) is None:
                raise RuleLoadError(
                    "LOAD_ERR_VALIDATE", f"Invalid required version '{version}' for plugin '{alt_name}'", plugin_ctx
                )
            if alt_name in seen:
                raise RuleLoadError(
                    "LOAD_ERR_VALIDATE",
                    f"Defined multiple alternative version requirements for plugin '{alt_name}'",
                    plugin_ctx,
                )
            seen.add(alt_name)
        collector.required_plugins.append((alternatives, plugin_ctx))


def _read_list(collector: Collector, item: _Item, ctx: Context) -> None:
    name = _scalar(item, "list", _ctx(item.node, "list", "", ctx))
    list_ctx = _ctx(item.node, "list", name, ctx)
    if not _BARESTR.fullmatch(name):
        collector.warn(
            "LOAD_INVALID_LIST_NAME",
            "List has an invalid name. List names should match a regular expression: ([^()\"'[:space:]=,]+)",
            list_ctx,
        )
    items = _sequence(item, "items", list_ctx, optional=False)
    append = bool(_bool(item, "append", list_ctx))
    if append:
        collector.warn("LOAD_DEPRECATED_ITEM", WARNING_APPEND, list_ctx)
    appends, replaces = _overrides(item, ("items",), ("items",), list_ctx)
    if append and (appends or replaces):
        raise _fail(ERROR_OVERRIDE_APPEND, list_ctx)
    info = ListInfo(name=name, items=items, context=list_ctx)
    if append or "items" in appends:
        collector.append_list(info)
    else:
        collector.define_list(info)


def _read_macro(collector: Collector, item: _Item, ctx: Context) -> None:
    name = _scalar(item, "macro", _ctx(item.node, "macro", "", ctx))
    macro_ctx = _ctx(item.node, "macro", name, ctx)
    if not _IDENTIFIER.fullmatch(name):
        collector.warn(
            "LOAD_INVALID_MACRO_NAME",
            "Macro has an invalid name. Macro names should match a regular expression: ([a-zA-Z]+[a-zA-Z0-9_]*)",
            macro_ctx,
        )
    condition = _scalar(item, "condition", macro_ctx)
    cond_ctx = _ctx(item.get("condition"), "macro condition", "", macro_ctx)
    append = bool(_bool(item, "append", macro_ctx))
    if append:
        collector.warn("LOAD_DEPRECATED_ITEM", WARNING_APPEND, macro_ctx)
    appends, replaces = _overrides(item, ("condition",), ("condition",), macro_ctx)
    if append and (appends or replaces):
        raise _fail(ERROR_OVERRIDE_APPEND, macro_ctx)
    info = MacroInfo(name=name, condition=condition, context=macro_ctx, condition_context=cond_ctx)
    if append or "condition" in appends:
        collector.append_macro(info)
    else:
        collector.define_macro(info)


def _read_update(
    collector: Collector, item: _Item, keys: set[str], name: str, source: str, ctx: Context, *, append: bool
) -> RuleUpdate:
    update = RuleUpdate(name=name, source=source, context=ctx)
    if "condition" in keys:
        update.condition = _scalar(item, "condition", ctx)
        update.condition_context = _ctx(item.get("condition"), "rule condition", "", ctx)
    if "exceptions" in keys:
        update.exceptions = _exceptions(collector, item, ctx, append=append) or []
    if "output" in keys:
        update.output = _scalar(item, "output", ctx)
    if "desc" in keys:
        update.desc = _scalar(item, "desc", ctx)
    if "tags" in keys:
        update.tags = _sequence(item, "tags", ctx, optional=True)
    if "priority" in keys:
        text = _scalar(item, "priority", ctx)
        update.priority = parse_priority(text)
        if update.priority is None:
            raise _fail("Invalid priority", _ctx(item.get("priority"), "rule priority", "", ctx))
    for key in ("enabled", "warn_evttypes", "skip-if-unknown-filter", "capture"):
        if key in keys:
            update.flags[key] = bool(_bool(item, key, ctx, optional=False))
    if "capture_duration" in keys:
        update.capture_duration = _int(item, "capture_duration", ctx)
    return update


def _read_rule(collector: Collector, item: _Item, ctx: Context) -> None:
    name = _scalar(item, "rule", _ctx(item.node, "rule", "", ctx))
    rule_ctx = _ctx(item.node, "rule", name, ctx)
    source = _scalar(item, "source", rule_ctx, optional=True, can_be_empty=True) or ""
    has_append = bool(_bool(item, "append", rule_ctx))
    if has_append:
        collector.warn("LOAD_DEPRECATED_ITEM", WARNING_APPEND, rule_ctx)
    appends, replaces = _overrides(item, RULE_APPENDABLE, RULE_REPLACEABLE, rule_ctx)
    if has_append and (appends or replaces):
        raise _fail(ERROR_OVERRIDE_APPEND, rule_ctx)
    if appends or replaces:
        expected = {k for k in (*RULE_APPENDABLE, *RULE_REPLACEABLE) if k in item}
        for kind, keys in (("append", appends), ("replace", replaces)):
            for key in sorted(keys, key=RULE_REPLACEABLE.index if kind == "replace" else RULE_APPENDABLE.index):
                if key not in expected:
                    raise _fail(f"An {kind} override for '{key}' was specified but '{key}' is not defined", rule_ctx)
                expected.discard(key)
            if keys:
                update = _read_update(collector, item, keys, name, source, rule_ctx, append=kind == "append")
                if kind == "append":
                    collector.append_rule(update)
                else:
                    collector.replace_rule(update)
        for key in sorted(expected):
            raise _fail(
                f"Unexpected key '{key}': no corresponding entry under 'override' is defined.",
                _ctx(item.get(key), "overrides", key, rule_ctx),
            )
        return
    if has_append:
        keys = {k for k in ("condition", "exceptions") if k in item}
        collector.append_rule(_read_update(collector, item, keys, name, source, rule_ctx, append=True))
        return
    if not any(k in item for k in ("condition", "output", "desc", "priority")):
        enabled = _bool(item, "enabled", rule_ctx, optional=False)
        collector.warn("LOAD_DEPRECATED_ITEM", WARNING_ENABLED, rule_ctx)
        collector.enable_rule(name, bool(enabled), rule_ctx)
        return
    condition = _scalar(item, "condition", rule_ctx)
    cond_ctx = _ctx(item.get("condition"), "rule condition", "", rule_ctx)
    output = _scalar(item, "output", rule_ctx)
    output_ctx = _ctx(item.get("output"), "rule output", "", rule_ctx)
    desc = _scalar(item, "desc", rule_ctx)
    priority_text = _scalar(item, "priority", rule_ctx)
    priority = parse_priority(priority_text)
    if priority is None:
        raise _fail("Invalid priority", _ctx(item.get("priority"), "rule priority", "", rule_ctx))
    rule = RuleInfo(
        name=name,
        condition=condition,
        output=output.strip(),
        desc=desc,
        priority=priority,
        source=_scalar(item, "source", rule_ctx, optional=True) or "syscall",
        enabled=_bool(item, "enabled", rule_ctx) is not False,
        capture=bool(_bool(item, "capture", rule_ctx)),
        capture_duration=_int(item, "capture_duration", rule_ctx) if "capture_duration" in item else 0,
        warn_evttypes=_bool(item, "warn_evttypes", rule_ctx) is not False,
        skip_if_unknown_filter=bool(_bool(item, "skip-if-unknown-filter", rule_ctx)),
        tags=set(_sequence(item, "tags", rule_ctx, optional=True) or ()),
        exceptions=_exceptions(collector, item, rule_ctx, append=False) or [],
        context=rule_ctx,
        condition_context=cond_ctx,
        output_context=output_ctx,
    )
    collector.define_rule(rule)


def _read_item(collector: Collector, node: yaml.Node, ctx: Context) -> None:
    if not isinstance(node, yaml.MappingNode):
        raise _fail(
            "Unexpected element type. Each element should be a yaml associative array.",
            _ctx(node, "rules content item", "", ctx),
        )
    item = _Item(node)
    if "required_engine_version" in item:
        _read_engine_version(item, ctx)
    elif "required_plugin_versions" in item:
        _read_plugin_versions(collector, item, ctx)
    elif "list" in item:
        _read_list(collector, item, ctx)
    elif "macro" in item:
        _read_macro(collector, item, ctx)
    elif "rule" in item:
        _read_rule(collector, item, ctx)
    else:
        collector.warn("LOAD_UNKNOWN_ITEM", "Unknown top level item", _ctx(node, "rules content item", "", ctx))


def read_rules_content(collector: Collector, content: str, ctx: Context) -> Diagnostic | None:
    """Read one rules file into the collector; return the first error (Falco stops at it), else None."""
    try:
        documents = list(yaml.compose_all(content, Loader=_Loader))
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        message = f"yaml: error at line {line}, column {column}: {error.problem or error.context}"
        where = ctx.child("value for", "", line, column) if mark else ctx
        return Diagnostic("LOAD_ERR_YAML_PARSE", message, where)
    except yaml.YAMLError as error:
        return Diagnostic("LOAD_ERR_YAML_PARSE", str(error), ctx)
    try:
        for document in documents:
            if document is None or _is_null(document):
                continue
            if not isinstance(document, yaml.MappingNode | yaml.SequenceNode):
                raise _fail("Rules content is not yaml", ctx)
            if not isinstance(document, yaml.SequenceNode):
                raise _fail("Rules content is not yaml array of objects", ctx)
            for node in document.value:
                if not _is_null(node):
                    _read_item(collector, node, ctx)
    except RuleLoadError as error:
        return error.diagnostic
    return None
