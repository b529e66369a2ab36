"""Turning a macro-free condition tree into a Python predicate over JSON events, with libsinsp's compile checks.

A check on a missing field is false whatever the operator (so `not x = y` is true when x is missing); `and`/`or`
short-circuit left to right. Compile errors (unknown field or event type, operator not valid for the field type,
bad value) carry libsinsp's wording.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
import socket
from collections.abc import Callable
from typing import Any

from labs.falco.condition import (
    NUMERIC_OPERATORS,
    AndExpr,
    CheckExpr,
    Expr,
    FieldExpr,
    MacroRef,
    NotExpr,
    Operand,
    OrExpr,
    TransformerExpr,
)
from labs.falco.fields import MISSING, Field, coerce, is_field_name, raw_value, resolve
from labs.falco.syscall_catalog import EVENT_TYPES

Predicate = Callable[[dict[str, Any]], bool]
Extractor = Callable[[dict[str, Any]], Any]

_OPS_BY_KIND = {
    "int": {"=", "==", "!=", "<", "<=", ">", ">=", "in", "intersects", "exists"},
    "float": {"=", "==", "!=", "<", "<=", ">", ">=", "in", "intersects", "exists"},
    "bool": {"=", "==", "!=", "in", "intersects", "exists"},
    "str": {"=", "==", "!=", "<", "<=", ">", ">=", "contains", "in", "exists", "icontains", "startswith", "glob",
            "pmatch", "endswith", "intersects", "iglob", "regex"},
    "dyn": {"=", "==", "!=", "<", "<=", ">", ">=", "contains", "in", "exists", "icontains", "startswith", "glob",
            "pmatch", "endswith", "intersects", "iglob", "regex"},
    "bytes": {"=", "==", "!=", "contains", "in", "exists", "startswith", "endswith", "intersects", "bcontains",
              "bstartswith"},
    "ip": {"=", "==", "!=", "in", "exists", "intersects"},
    "net": {"=", "==", "!=", "in", "exists", "intersects"},
}  # fmt: skip
_KIND_NAMES = {"int": "numeric", "float": "numeric", "bool": "numeric", "str": "string", "dyn": "string",
               "bytes": "buffer", "ip": "ip address and network", "net": "ip address and network"}  # fmt: skip
_OP_NAMES = {"=": "EQ", "==": "EQ", "!=": "NE", "<": "LT", "<=": "LE", ">": "GT", ">=": "GE"}
_TRANSFORMER_TYPES = {
    "tolower": {"str", "dyn"},
    "toupper": {"str", "dyn"},
    "basename": {"str", "dyn"},
    "b64": {"str", "dyn", "bytes"},
    "len": {"str", "dyn", "bytes"},
}


class CompileError(ValueError):
    """A condition libsinsp's filter compiler would reject."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset


# --- event types (for Falco's evt.type warning and for skipping rules cheaply) ----------------------------------


def event_types(expr: Expr) -> frozenset[str] | None:
    """Over-approximation of the event types `expr` can match (libsinsp ppm_event_codes); None means any."""
    types, _exact = _event_types(expr)
    return types


def _event_types(expr: Expr) -> tuple[frozenset[str] | None, bool]:
    if isinstance(expr, CheckExpr):
        if isinstance(expr.left, FieldExpr) and expr.left.name == "evt.type" and expr.left.arg is None:
            values = expr.value if isinstance(expr.value, tuple) else (expr.value,)
            if expr.op in ("=", "==", "in", "intersects") and all(isinstance(v, str) for v in values):
                return frozenset(values), True
            if expr.op == "!=" and isinstance(expr.value, str):
                return EVENT_TYPES - {expr.value}, True
        return None, False
    if isinstance(expr, NotExpr):
        types, exact = _event_types(expr.child)
        if exact and types is not None:
            return EVENT_TYPES - types, True
        return None, False
    if isinstance(expr, AndExpr | OrExpr):
        parts = [_event_types(c) for c in expr.children]
        exact = all(e for _, e in parts)
        sets = [t for t, _ in parts]
        if isinstance(expr, AndExpr):
            known = [t for t in sets if t is not None]
            return (frozenset.intersection(*known) if known else None), exact
        if any(t is None for t in sets):
            return None, False
        return frozenset().union(*sets), exact
    return None, False


# --- value helpers ------------------------------------------------------------------------------------------------


def _glob_regex(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    """fnmatch(pattern, s, 0) semantics: `*` and `?` also match `/` and leading dots; `\\` escapes."""
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == "*":
            out.append(".*")
        elif c == "?":
            out.append(".")
        elif c == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        elif c == "[":
            end = i + 1
            if end < len(pattern) and pattern[end] in "!^":
                end += 1
            if end < len(pattern) and pattern[end] == "]":
                end += 1
            while end < len(pattern) and pattern[end] != "]":
                end += 1
            if end >= len(pattern):
                out.append(re.escape(c))
            else:
                body = pattern[i + 1 : end]
                negate = body[:1] in ("!", "^")
                body = body[1:] if negate else body
                body = body.replace("\\", "\\\\")
                out.append(f"[{'^' if negate else ''}{body}]")
                i = end
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out), re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def _pmatch(path: str, prefixes: list[list[re.Pattern[str]]]) -> bool:
    parts = [p for p in path.split("/") if p]
    for prefix in prefixes:
        if len(prefix) <= len(parts) and all(pat.fullmatch(part) for pat, part in zip(prefix, parts, strict=False)):
            return True
    return False


def _parse_constant(value: str, kind: str, field: Field, offset: int) -> Any:
    """A right-hand-side constant converted to the field's type, as libsinsp does at compile time."""
    if field.name == "evt.type" and field.arg is None and value not in EVENT_TYPES:
        raise CompileError(f"unknown event type {value}", offset)
    if kind == "int":
        if field.type == "PORT" and not re.fullmatch(r"[+-]?\d+", value):
            try:
                return socket.getservbyname(value)
            except OSError:
                raise CompileError(f"{value} is not a valid number", offset) from None
        if not re.fullmatch(r"\s*[+-]?\d+", value):
            raise CompileError(f"{value} is not a valid number", offset)
        return int(value)
    if kind == "float":
        try:
            return float(value)
        except ValueError:
            raise CompileError(f"{value} is not a valid number", offset) from None
    if kind == "bool":
        if value not in ("true", "false"):
            raise CompileError(f"filter error: unrecognized boolean value {value}", offset)
        return value == "true"
    if kind == "ip":
        try:
            return ipaddress.ip_address(value)
        except ValueError:
            raise CompileError(f"filter error: unrecognized IP address {value}", offset) from None
    if kind == "net":
        try:
            return ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise CompileError(f"filter error: unrecognized IP network {value}", offset) from None
    if kind == "bytes":
        return value.encode("latin-1", "replace")
    return value


# --- operands -----------------------------------------------------------------------------------------------------


def apply_transformer(name: str, value: Any) -> Any:
    if name == "tolower":
        return value.lower()
    if name == "toupper":
        return value.upper()
    if name == "basename":
        return value.rsplit("/", 1)[-1]
    if name == "len":
        return len(value)
    if name == "b64":
        try:
            data = value.encode() if isinstance(value, str) else value
            return base64.b64decode(data, validate=True).decode("latin-1")
        except (binascii.Error, ValueError):
            return MISSING
    return value


def compile_operand(operand: Operand) -> tuple[Extractor, str, Field]:
    """An extractor for a field or transformer expression, the kind of value it yields, and the base field."""
    if isinstance(operand, FieldExpr):
        field = resolve(operand.name, operand.arg)
        kind = field.value_kind
        multi = (
            field.any_ancestor
            or field.is_list
            or field.name in ("fd.ip", "fd.port", "fd.net", "fd.cnet", "fd.snet", "fd.lnet", "fd.rnet", "fd.proto")
        )

        def extract(event: dict[str, Any]) -> Any:
            value = raw_value(event, field)
            if value is MISSING:
                return MISSING
            if multi and isinstance(value, list):
                values = [coerce(v, kind) for v in value]
                return [v for v in values if v is not MISSING] or MISSING
            return coerce(value, kind)

        return extract, kind, field
    inner, kind, field = compile_operand(operand.inner)
    name = operand.transformer
    if name == "val":
        return inner, kind, field
    if kind not in _TRANSFORMER_TYPES[name]:
        raise CompileError(
            f"filter error: can't add field transformer: type '{field.type}' is not supported by '{name}' transformer",
            operand.offset,
        )

    def transformed(event: dict[str, Any]) -> Any:
        value = inner(event)
        if value is MISSING:
            return MISSING
        if isinstance(value, list):
            out = [apply_transformer(name, v) for v in value]
            return [v for v in out if v is not MISSING] or MISSING
        return apply_transformer(name, value)

    return transformed, ("int" if name == "len" else kind), field


# --- checks -------------------------------------------------------------------------------------------------------


def _comparator(op: str, kind: str, rhs: Any) -> Callable[[Any], bool]:
    """compare(v) for a constant right-hand side already converted to the field's kind."""
    if op in ("=", "=="):
        return lambda v: v == rhs
    if op == "!=":
        return lambda v: v != rhs
    if op in NUMERIC_OPERATORS:
        return {"<": lambda v: v < rhs, "<=": lambda v: v <= rhs, ">": lambda v: v > rhs, ">=": lambda v: v >= rhs}[op]
    if op in ("in", "intersects"):
        if kind == "net":
            nets = tuple(rhs)
            return lambda v: any(v in n for n in nets)
        members = frozenset(rhs)
        return lambda v: v in members
    if op == "contains":
        return lambda v: rhs in v
    if op == "icontains":
        low = rhs.lower()
        return lambda v: low in v.lower()
    if op == "startswith":
        return lambda v: v.startswith(rhs)
    if op == "endswith":
        return lambda v: v.endswith(rhs)
    if op in ("glob", "iglob"):
        pattern = _glob_regex(rhs, op == "iglob")
        return lambda v: pattern.fullmatch(v) is not None
    if op == "regex":
        pattern = rhs
        return lambda v: pattern.fullmatch(v) is not None
    if op == "pmatch":
        prefixes = [[_glob_regex(p, False) for p in path.split("/") if p] for path in rhs]
        return lambda v: _pmatch(v, prefixes)
    if op == "bcontains":
        return lambda v: rhs in v
    if op == "bstartswith":
        return lambda v: v.startswith(rhs)
    raise CompileError(f"unsupported operator {op}", 0)  # pragma: no cover - the grammar has no other operators


def _constant_rhs(check: CheckExpr, kind: str, field: Field) -> Any:
    values = check.value if isinstance(check.value, tuple) else (check.value,)
    if check.op in ("bcontains", "bstartswith"):
        try:
            return bytes.fromhex(values[0])
        except ValueError:
            raise CompileError(
                "filter error: bcontains and bstartswith operator support hex strings only", check.offset
            ) from None
    if check.op == "regex":
        try:
            return re.compile(values[0])
        except re.error as error:
            raise CompileError(f"invalid regex pattern: {error}", check.offset) from None
    parsed = [_parse_constant(v, kind, field, check.offset) for v in values]
    if check.op in ("in", "intersects", "pmatch"):
        return parsed
    if kind == "net" and check.op in ("=", "==", "!="):
        network = parsed[0]
        return network
    return parsed[0]


def compile_check(check: CheckExpr, warn: Callable[[str, int], None]) -> Predicate:
    """A predicate for one check; raise CompileError as libsinsp's compiler would."""
    try:
        extract, kind, field = compile_operand(check.left)
    except ValueError as error:
        raise CompileError(str(error), check.offset) from None
    if check.op == "exists":
        return lambda event: extract(event) is not MISSING
    if field.is_list and check.op not in ("in", "intersects", "exists") and not isinstance(check.left, TransformerExpr):
        raise CompileError(f"filter error: '{check.op.upper()}' operator not supported list filters", check.offset)
    if check.op not in _OPS_BY_KIND[kind]:
        name = _OP_NAMES.get(check.op, check.op.upper())
        raise CompileError(
            f"filter error: '{name}' operator not supported for {_KIND_NAMES[kind]} filters", check.offset
        )

    if isinstance(check.value, FieldExpr | TransformerExpr):
        try:
            other, _other_kind, _ = compile_operand(check.value)
        except ValueError as error:
            raise CompileError(str(error), check.value.offset) from None

        def field_to_field(event: dict[str, Any]) -> bool:
            left, right = extract(event), other(event)
            if left is MISSING or right is MISSING:
                return False
            lefts = left if isinstance(left, list) else [left]
            rights = right if isinstance(right, list) else [right]
            compare_many = [
                _comparator(check.op, kind, r if check.op not in ("in", "intersects") else [r]) for r in rights
            ]
            try:
                return any(cmp(v) for v in lefts for cmp in compare_many)
            except TypeError:
                return False

        return field_to_field

    for value in check.value if isinstance(check.value, tuple) else (check.value,):
        if is_field_name(value):
            warn(f"'{value}' may be a valid field misused as a const string value", check.offset)
    compare = _comparator(check.op, kind, _constant_rhs(check, kind, field))

    def predicate(event: dict[str, Any]) -> bool:
        value = extract(event)
        if value is MISSING:
            return False
        try:
            if isinstance(value, list):
                return any(compare(v) for v in value)
            return compare(value)
        except TypeError:
            return False

    return predicate


def compile_expr(expr: Expr, warn: Callable[[str, int], None]) -> Predicate:
    """A predicate for a whole macro-free condition tree."""
    if isinstance(expr, CheckExpr):
        return compile_check(expr, warn)
    if isinstance(expr, NotExpr):
        child = compile_expr(expr.child, warn)
        return lambda event: not child(event)
    if isinstance(expr, AndExpr):
        parts = tuple(compile_expr(c, warn) for c in expr.children)
        return lambda event: all(p(event) for p in parts)
    if isinstance(expr, OrExpr):
        parts = tuple(compile_expr(c, warn) for c in expr.children)
        return lambda event: any(p(event) for p in parts)
    if isinstance(expr, MacroRef):  # pragma: no cover - macros are expanded before compilation
        raise CompileError(f"Undefined macro '{expr.name}' used in filter.", expr.offset)
    raise TypeError(expr)
