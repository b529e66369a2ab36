"""Go's encoding/json semantics (as forked by sigs.k8s.io/json) for decoding the audit.k8s.io/v1 Policy.

Decoding is case-sensitive; unknown and duplicate fields are collected as strict-mode complaints (the apiserver
logs them and decodes again leniently, so they are dropped); a value of the wrong JSON type is a fatal error with Go's
message (`json: cannot unmarshal string into Go struct field PolicyRule.rules.verbs of type []string`), the first
one in document order, as Go records the first and keeps going.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from labs.audit.gofmt import go_quote


class JsonNumber(float):
    """A JSON number with its literal text (Go reports `number 3.0` for a float literal decoded into an int64)."""

    literal: str

    def __new__(cls, literal: str) -> JsonNumber:
        number = super().__new__(cls, float(literal))
        number.literal = literal
        return number


class ObjectPairs(list):
    """A JSON object as read from JSON text: key/value pairs in document order, duplicates kept."""


@dataclass
class DecodeState:
    strict: list[str] = field(default_factory=list)
    fatal: str | None = None

    def type_error(self, value: Any, struct: str, field_path: list[str], go_type: str) -> None:
        if self.fatal is None:
            where = f"Go struct field {struct}.{'.'.join(field_path)}" if struct else "Go value"
            self.fatal = f"json: cannot unmarshal {json_kind(value)} into {where} of type {go_type}"

    def error(self, message: str) -> None:
        if self.fatal is None:
            self.fatal = message


def json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list) and not isinstance(value, ObjectPairs):
        return "array"
    return "object"


def pairs(value: dict[str, Any] | ObjectPairs) -> list[tuple[str, Any]]:
    return list(value.items()) if isinstance(value, dict) else list(value)


def is_object(value: Any) -> bool:
    return isinstance(value, dict | ObjectPairs)


@dataclass
class Ctx:
    """Where the decoder is: the strict path (`rules[0].verbs`), Go's error context (struct name + field stack)."""

    strict_path: str
    struct: str
    fields: list[str]

    def child(self, struct: str, name: str) -> Ctx:
        path = f"{self.strict_path}.{name}" if self.strict_path else name
        return Ctx(path, struct, [*self.fields, name])

    def index(self, i: int) -> Ctx:
        return Ctx(f"{self.strict_path}[{i}]", self.struct, self.fields)


Decoder = Callable[[Any, Any, Ctx, DecodeState], Any]


def string_type(go_type: str) -> Decoder:
    def decode(value: Any, current: Any, ctx: Ctx, state: DecodeState) -> Any:
        if value is None:
            return current
        if isinstance(value, str):
            return value
        state.type_error(value, ctx.struct, ctx.fields, go_type)
        return current

    return decode


def bool_type(value: Any, current: Any, ctx: Ctx, state: DecodeState) -> Any:
    if value is None:
        return current
    if isinstance(value, bool):
        return value
    state.type_error(value, ctx.struct, ctx.fields, "bool")
    return current


def optional_bool_type(value: Any, current: Any, ctx: Ctx, state: DecodeState) -> Any:
    """A *bool: null sets it back to nil."""
    return None if value is None else bool_type(value, current, ctx, state)


def int64_type(value: Any, current: Any, ctx: Ctx, state: DecodeState) -> Any:
    if value is None:
        return current
    if isinstance(value, int | float) and not isinstance(value, bool):
        literal = value.literal if isinstance(value, JsonNumber) else _go_float_literal(value)
        if re.fullmatch(r"-?\d+", literal) and -(2**63) <= int(literal) < 2**63:
            return int(literal)
        if state.fatal is None:
            state.fatal = (
                f"json: cannot unmarshal number {literal} into Go struct field "
                f"{ctx.struct}.{'.'.join(ctx.fields)} of type int64"
            )
        return current
    state.type_error(value, ctx.struct, ctx.fields, "int64")
    return current


def _go_float_literal(value: float) -> str:
    """How json.Marshal writes a YAML number back out (integers and integral floats without a fraction)."""
    if isinstance(value, int):
        return str(value)
    if value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    text = repr(value)
    return text.replace("e+", "e+").replace("e-0", "e-")


_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def time_type(value: Any, current: Any, ctx: Ctx, state: DecodeState) -> Any:
    """metav1.Time: null or an RFC 3339 string."""
    if value is None:
        return current
    if not isinstance(value, str):
        state.type_error(value, ctx.struct, ctx.fields, "string")
        return current
    if value and not _RFC3339.match(value):
        state.error(f'parsing time {go_quote(value)} as "2006-01-02T15:04:05Z07:00": cannot parse {go_quote(value)}')
    return value


def list_of(element: Decoder, go_type: str, zero: Any = "") -> Decoder:
    """A Go slice; an element that stays unset (null, or the wrong type) keeps its zero value."""

    def decode(value: Any, current: Any, ctx: Ctx, state: DecodeState) -> Any:
        if value is None:
            return None
        if not isinstance(value, list) or isinstance(value, ObjectPairs):
            state.type_error(value, ctx.struct, ctx.fields, go_type)
            return current
        existing = list(current or [])
        out = []
        for i, item in enumerate(value):
            previous = existing[i] if i < len(existing) else None
            decoded = element(item, previous, ctx.index(i), state)
            out.append(zero if decoded is None else decoded)
        return out

    return decode


def map_of_strings(value: Any, current: Any, ctx: Ctx, state: DecodeState) -> Any:
    if value is None:
        return None
    if not is_object(value):
        state.type_error(value, ctx.struct, ctx.fields, "map[string]string")
        return current
    out = dict(current or {})
    for key, item in pairs(value):
        if item is None:
            out.setdefault(key, "")
        elif isinstance(item, str):
            out[key] = item
        else:
            state.type_error(item, ctx.struct, ctx.fields, "string")
    return out


def anything(value: Any, current: Any, ctx: Ctx, state: DecodeState) -> Any:
    return value


@dataclass(frozen=True)
class Struct:
    """A Go struct: its type names and fields by JSON name (case-sensitive)."""

    name: str  # e.g. "PolicyRule"
    go_type: str  # e.g. "v1.PolicyRule"
    fields: dict[str, Decoder]

    def __call__(self, value: Any, current: Any, ctx: Ctx, state: DecodeState) -> Any:
        if value is None:
            return current
        if not is_object(value):
            state.type_error(value, ctx.struct, ctx.fields, self.go_type)
            return current
        out: dict[str, Any] = dict(current or {})
        seen: set[str] = set()
        for key, item in pairs(value):
            child = ctx.child(self.name, key)
            decoder = self.fields.get(key)
            if decoder is None:
                state.strict.append(f"unknown field {go_quote(child.strict_path)}")
                continue
            if key in seen:
                state.strict.append(f"duplicate field {go_quote(child.strict_path)}")
            seen.add(key)
            out[key] = decoder(item, out.get(key), child, state)
        return out


_STR = string_type("string")
_STRINGS = list_of(_STR, "[]string")
_STAGES = list_of(string_type("v1.Stage"), "[]v1.Stage")

OBJECT_META = Struct(
    "ObjectMeta",
    "v1.ObjectMeta",
    {
        "name": _STR,
        "generateName": _STR,
        "namespace": _STR,
        "selfLink": _STR,
        "uid": string_type("types.UID"),
        "resourceVersion": _STR,
        "generation": int64_type,
        "creationTimestamp": time_type,
        "deletionTimestamp": time_type,
        "deletionGracePeriodSeconds": int64_type,
        "labels": map_of_strings,
        "annotations": map_of_strings,
        "ownerReferences": anything,
        "finalizers": _STRINGS,
        "managedFields": anything,
    },
)

GROUP_RESOURCES = Struct(
    "GroupResources",
    "v1.GroupResources",
    {"group": _STR, "resources": _STRINGS, "resourceNames": _STRINGS},
)

POLICY_RULE = Struct(
    "PolicyRule",
    "v1.PolicyRule",
    {
        "level": string_type("v1.Level"),
        "users": _STRINGS,
        "userGroups": _STRINGS,
        "verbs": _STRINGS,
        "resources": list_of(GROUP_RESOURCES, "[]v1.GroupResources", zero={}),
        "namespaces": _STRINGS,
        "nonResourceURLs": _STRINGS,
        "omitStages": _STAGES,
        "omitManagedFields": optional_bool_type,
    },
)

POLICY = Struct(
    "Policy",
    "v1.Policy",
    {
        "kind": _STR,
        "apiVersion": _STR,
        "metadata": OBJECT_META,
        "rules": list_of(POLICY_RULE, "[]v1.PolicyRule", zero={}),
        "omitStages": _STAGES,
        "omitManagedFields": bool_type,
    },
)


def decode_policy(document: Any) -> tuple[dict[str, Any], DecodeState]:
    """Decode a JSON-like document into the v1 Policy's fields (a dict keyed by JSON name)."""
    state = DecodeState()
    value = POLICY(document, {}, Ctx("", "", []), state)
    return value, state
