"""Rule output formats: `%field` tokens (with transformers and a pad width), rendered with `<NA>` for missing values."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from labs.falco.condition import TRANSFORMERS
from labs.falco.fields import MISSING, Field, UnknownField, coerce, raw_value, resolve_output_token
from labs.falco.matcher import apply_transformer


@dataclass(frozen=True, slots=True)
class Token:
    """One `%` token: the field, the transformers applied to it (innermost last) and the pad width."""

    field: Field
    transformers: tuple[str, ...]
    width: int
    text: str


@dataclass(frozen=True, slots=True)
class OutputFormat:
    parts: tuple[str | Token, ...]

    def render(self, event: dict[str, Any]) -> str:
        out = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            value = format_value(token_value(event, part))
            out.append(value.ljust(part.width)[: part.width] if part.width else value)
        return "".join(out)

    def fields(self, event: dict[str, Any]) -> dict[str, Any]:
        """Falco's `output_fields`: each plain token's value by its name as written, None when missing."""
        out: dict[str, Any] = {}
        for part in self.parts:
            if isinstance(part, Token) and not part.transformers:
                value = token_value(event, part)
                out[part.text] = None if value is MISSING else value
        return out


def token_value(event: dict[str, Any], token: Token) -> Any:
    value = raw_value(event, token.field)
    if value is MISSING:
        return MISSING
    value = coerce(" ".join(str(v) for v in value), "str") if isinstance(value, list) else value
    for name in reversed(token.transformers):
        if value is MISSING:
            break
        value = apply_transformer(name, coerce(value, "str"))
    return value


def format_value(value: Any) -> str:
    if value is MISSING or value is None:
        return "<NA>"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def parse_output(fmt: str) -> OutputFormat:
    """Parse an output format like libsinsp's formatter; raise ValueError with its message."""
    if not fmt:
        raise ValueError("empty formatting token")
    parts: list[str | Token] = []
    literal_start = i = 0
    while i < len(fmt):
        if fmt[i] != "%":
            i += 1
            continue
        if literal_start != i:
            parts.append(fmt[literal_start:i])
        if i == len(fmt) - 1:
            raise ValueError("invalid formatting syntax: formatting cannot end with a %")
        j = i + 1
        while j < len(fmt) and fmt[j].isdigit():
            j += 1
        if j >= len(fmt):
            raise ValueError("invalid formatting syntax: formatting cannot end with a number")
        width = int(fmt[i + 1 : j]) if j > i + 1 else 0
        transformers: list[str] = []
        matched = True
        while matched:
            matched = False
            for name in TRANSFORMERS:
                if fmt.startswith(name + "(", j):
                    transformers.append(name)
                    j += len(name) + 1
                    matched = True
        try:
            field, length = resolve_output_token(fmt[j:])
        except UnknownField as error:
            raise ValueError(str(error)) from None
        start, j = j, j + length
        for _ in transformers:
            if fmt[j : j + 1] != ")":
                raise ValueError(f"missing closing transformer parenthesis: {fmt[j - 1 :]}")
            j += 1
        parts.append(Token(field, tuple(reversed(transformers)), width, fmt[start : start + length]))
        i = literal_start = j
    if literal_start < len(fmt):
        parts.append(fmt[literal_start:])
    return OutputFormat(tuple(parts))
