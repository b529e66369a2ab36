"""Read JSON text the way Go's encoding/json does: duplicates kept in order, Go's syntax error messages."""

from __future__ import annotations

import json
from typing import Any

from labs.audit.gofmt import go_quote
from labs.audit.schema import JsonNumber, ObjectPairs


class JsonSyntaxError(ValueError):
    """Not JSON; the message is Go's (`invalid character 'a' looking for beginning of object key string`)."""


def _reject_constant(name: str) -> Any:
    raise ValueError(name)


def loads(text: str) -> Any:
    """Parse JSON: objects become ObjectPairs (document order, duplicates kept), floats keep their literal text."""
    try:
        return json.loads(text, object_pairs_hook=ObjectPairs, parse_float=JsonNumber, parse_constant=_reject_constant)
    except json.JSONDecodeError as error:
        raise JsonSyntaxError(_go_message(text, error.msg, error.pos)) from None
    except ValueError:
        raise JsonSyntaxError(_go_message(text, "Expecting value", _first_constant(text))) from None


def _first_constant(text: str) -> int:
    positions = [text.find(word) for word in ("NaN", "Infinity", "-Infinity") if word in text]
    return min(positions) if positions else len(text)


def _quote_char(char: str) -> str:
    if char == "'":
        return "'\\''"
    if char == '"':
        return "'\"'"
    return "'" + go_quote(char)[1:-1] + "'"


def _innermost(text: str, pos: int) -> str:
    """'{' or '[': the container open at `pos` (strings skipped)."""
    stack: list[str] = []
    in_string = escaped = False
    for char in text[:pos]:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "{[":
            stack.append(char)
        elif char in "}]" and stack:
            stack.pop()
    return stack[-1] if stack else ""


def _go_message(text: str, msg: str, pos: int) -> str:
    if pos >= len(text) or msg.startswith("Unterminated string"):
        return "unexpected end of JSON input"
    char = _quote_char(text[pos])
    if msg.startswith("Expecting property name"):
        return f"invalid character {char} looking for beginning of object key string"
    if msg.startswith("Expecting ':'"):
        return f"invalid character {char} after object key"
    if msg.startswith("Expecting ','"):
        after = "object key:value pair" if _innermost(text, pos) == "{" else "array element"
        return f"invalid character {char} after {after}"
    if msg.startswith("Extra data"):
        return f"invalid character {char} after top-level value"
    if msg.startswith("Invalid control character"):
        return f"invalid character {char} in string literal"
    if msg.startswith("Invalid \\escape") or msg.startswith("Invalid \\u"):
        return f"invalid character {char} in string escape code"
    return f"invalid character {char} looking for beginning of value"
