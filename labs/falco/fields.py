"""Falco's syscall fields: which names exist, their types and arguments, and how a field is read from a JSON event.

An event is a JSON object from Falco field names (as written in rules, e.g. `proc.aname[2]`, `evt.arg.flags`) to
values; a field not in the event is missing. A few fields are derived the way libsinsp derives them: the ancestor
fields with index 0 and 1 fall back to the process and parent fields, `proc.aname` without an index means "any
ancestor", `evt.dir` is always `<` (Falco >= 0.42 sees exit events only), `evt.arg.x` and `evt.arg[x]` are one field.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from labs.falco.syscall_catalog import FIELDS

MISSING: Any = object()

NUMERIC_TYPES = frozenset(
    [
        "INT8",
        "INT16",
        "INT32",
        "INT64",
        "UINT8",
        "UINT16",
        "UINT32",
        "UINT64",
        "ERRNO",
        "FD",
        "PID",
        "SYSCALLID",
        "SIGTYPE",
        "RELTIME",
        "ABSTIME",
        "PORT",
        "FLAGS8",
        "FLAGS16",
        "FLAGS32",
        "DOUBLE",
        "MODE",
        "ENUMFLAGS8",
        "ENUMFLAGS16",
        "ENUMFLAGS32",
        "UID",
        "GID",
    ]
)
STRING_TYPES = frozenset({"CHARBUF", "FSPATH", "FSRELPATH"})
IP_TYPES = frozenset({"IPADDR", "IPV4ADDR", "IPV6ADDR"})
NET_TYPES = frozenset({"IPNET", "IPV4NET", "IPV6NET"})

# Fields whose argument may also be written after a dot (libsinsp parses `evt.arg.flags` like `evt.arg[flags]`).
_DOTTED_ARG_FIELDS = ("evt.arg", "evt.rawarg", "evt.type.is")

# Ancestor fields: index 0 is the process itself, index 1 its parent.
_ANCESTOR_FIELDS = {
    "proc.aname": ("proc.name", "proc.pname"),
    "proc.apid": ("proc.pid", "proc.ppid"),
    "proc.aexe": ("proc.exe", "proc.pexe"),
    "proc.aexepath": ("proc.exepath", "proc.pexepath"),
    "proc.acmdline": ("proc.cmdline", "proc.pcmdline"),
    "proc.aargs": ("proc.args", None),
    "proc.aenv": ("proc.env", None),
}
_MAX_ANCESTORS = 32

# "either side of the connection" fields, read from their client/server (or local/remote) counterparts.
_EITHER_SIDE = {
    "fd.ip": ("fd.cip", "fd.sip"),
    "fd.port": ("fd.cport", "fd.sport"),
    "fd.net": ("fd.cip", "fd.sip"),
    "fd.cnet": ("fd.cip",),
    "fd.snet": ("fd.sip",),
    "fd.lnet": ("fd.lip",),
    "fd.rnet": ("fd.rip",),
    "fd.proto": ("fd.cproto", "fd.sproto"),
}


class UnknownField(ValueError):
    """A field name libsinsp does not know, worded like libsinsp's error."""


@dataclass(frozen=True, slots=True)
class Field:
    """A known field with its argument, e.g. `proc.aname` with arg `2`; `key` is its name in JSON events."""

    name: str
    arg: str | None
    type: str
    flags: frozenset[str]

    @property
    def key(self) -> str:
        if self.arg is None:
            return self.name
        if self.name in _DOTTED_ARG_FIELDS:
            return f"{self.name}.{self.arg}"
        return f"{self.name}[{self.arg}]"

    @property
    def is_list(self) -> bool:
        return "IS_LIST" in self.flags

    @property
    def any_ancestor(self) -> bool:
        """`proc.aname` and friends without an index: true if any ancestor matches."""
        return self.arg is None and self.name in _ANCESTOR_FIELDS

    @property
    def value_kind(self) -> str:
        """How values of this field compare: str, int, float, bool, ip, net, bytes or dyn."""
        if self.type == "DOUBLE":
            return "float"
        if self.type in NUMERIC_TYPES:
            return "int"
        if self.type == "BOOL":
            return "bool"
        if self.type in IP_TYPES:
            return "ip"
        if self.type in NET_TYPES:
            return "net"
        if self.type == "BYTEBUF":
            return "bytes"
        if self.type in STRING_TYPES:
            return "str"
        return "dyn"


def resolve(name: str, arg: str | None = None) -> Field:
    """The field `name[arg]` (or `name` with a dotted argument); raise UnknownField with libsinsp's message."""
    written = name if arg is None else f"{name}[{arg}]"
    entry = FIELDS.get(name)
    if entry is None and arg is None:
        for prefix in _DOTTED_ARG_FIELDS:
            if name.startswith(prefix + ".") and len(name) > len(prefix) + 1:
                entry, arg, name = FIELDS[prefix], name[len(prefix) + 1 :], prefix
                break
    if entry is None:
        raise UnknownField(f"filter_check called with nonexistent field {written}")
    field_type, flags = entry
    takes_arg = bool(flags & {"ARG_ALLOWED", "ARG_REQUIRED"})
    if arg is not None and not takes_arg:
        raise UnknownField(f"filter_check called with nonexistent field {written}")
    if arg is None and "ARG_REQUIRED" in flags:
        raise UnknownField(f"filter error: field {name} requires an argument but none provided")
    if arg is not None and name in _ANCESTOR_FIELDS and not arg.isdigit():
        raise UnknownField(f"filter_check called with nonexistent field {written}")
    return Field(name, arg, field_type, flags)


def resolve_output_token(text: str) -> tuple[Field, int]:
    """The field an output `%token` starts with and the token's length (libsinsp takes the longest known prefix)."""
    best = ""
    for candidate in _prefixes(text):
        if candidate in FIELDS and len(candidate) > len(best):
            best = candidate
    if not best:
        raise UnknownField(f"invalid formatting token {text}")
    end = len(best)
    flags = FIELDS[best][1]
    arg = None
    if flags & {"ARG_ALLOWED", "ARG_REQUIRED"}:
        if text[end : end + 1] == "[" and "]" in text[end:]:
            close = text.index("]", end)
            arg, end = text[end + 1 : close], close + 1
        elif best in _DOTTED_ARG_FIELDS and text[end : end + 1] == ".":
            stop = end + 1
            while stop < len(text) and (text[stop].isalnum() or text[stop] == "_"):
                stop += 1
            arg, end = text[end + 1 : stop], stop
    try:
        return resolve(best, arg), end
    except UnknownField:
        raise UnknownField(f"invalid formatting token {text}") from None


def _prefixes(text: str) -> list[str]:
    """Every prefix of `text` that ends at a field-name boundary."""
    out = []
    for i, c in enumerate(text):
        if not (c.isalnum() or c in "._"):
            break
        out.append(text[: i + 1])
    return out


def is_field_name(text: str) -> bool:
    """True if `text` names a field (used for the "misused as a const string value" warning)."""
    try:
        bracket = text.find("[")
        if bracket > 0 and text.endswith("]"):
            resolve(text[:bracket], text[bracket + 1 : -1])
        else:
            resolve(text)
    except UnknownField:
        return False
    return True


# --- reading values from events -----------------------------------------------------------------------------------


def raw_value(event: dict[str, Any], field: Field) -> Any:
    """The value of `field` in `event` as given (or derived), MISSING if absent; a list for any-ancestor fields."""
    key = field.key
    if key in event:
        return event[key]
    if field.arg is not None:
        if field.name in _DOTTED_ARG_FIELDS and (alt := f"{field.name}[{field.arg}]") in event:
            return event[alt]
        if field.name in _ANCESTOR_FIELDS:
            return _ancestor(event, field.name, int(field.arg))
        container = event.get(field.name)
        if isinstance(container, dict):
            return container.get(field.arg, MISSING)
        return MISSING
    if field.name in _ANCESTOR_FIELDS:
        ancestors = [_ancestor(event, field.name, i) for i in range(1, _MAX_ANCESTORS)]
        ancestors = [a for a in ancestors if a is not MISSING]
        return ancestors if ancestors else MISSING
    if field.name == "evt.dir":
        return "<"
    if field.name in _EITHER_SIDE:
        values = [event[k] for k in _EITHER_SIDE[field.name] if k in event]
        return values if values else MISSING
    return MISSING


def _ancestor(event: dict[str, Any], name: str, index: int) -> Any:
    key = f"{name}[{index}]"
    if key in event:
        return event[key]
    if index < 2:
        alias = _ANCESTOR_FIELDS[name][index]
        if alias is not None and alias in event:
            return event[alias]
    return MISSING


def coerce(value: Any, kind: str) -> Any:
    """Convert one event value to the comparison kind of its field; MISSING if it cannot be read as that kind."""
    if value is None or value is MISSING:
        return MISSING
    try:
        if kind == "str" or kind == "dyn":
            if isinstance(value, bool):
                return "true" if value else "false"
            return value if isinstance(value, str) else str(value)
        if kind == "int":
            if isinstance(value, bool):
                return int(value)
            return value if isinstance(value, int) else int(str(value), 0)
        if kind == "float":
            return float(value)
        if kind == "bool":
            if isinstance(value, bool):
                return value
            return {"true": True, "false": False, "1": True, "0": False}[str(value).lower()]
        if kind in ("ip", "net"):
            return ipaddress.ip_address(str(value))
        if kind == "bytes":
            return value.encode("latin-1", "replace") if isinstance(value, str) else bytes(value)
    except (ValueError, KeyError, TypeError):
        return MISSING
    return value
