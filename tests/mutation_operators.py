"""The mutation operators of tests/mutation.py: every single change of a file or an API object, as
(where: what changed, new content) pairs.

- YAML, by its structure: a mapping loses each key (a Falco rule gains `enabled: false`); a sequence loses each
  item, has each item moved to the front, and (of scalars) gains an item; a scalar: a boolean flipped, a number off
  by one, a name or path with a typo; a Falco `condition` loses each operand of its top-level `and`/`or` chain, has
  `and` and `or` swapped, is negated; a Falco `output` loses each `%field`; a Falco `priority` goes one step more
  and one step less severe.
- Text (an answer): emptied, each line dropped, two lines swapped, each word (between commas, slashes, colons or
  spaces) dropped or with a typo.
- An API object: the YAML operators inside the parts a scenario names (e.g. `spec.containers.*.securityContext`),
  keeping only what the type's model accepts; the service account token's volume and mounts (added by admission)
  are never changed.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from labs.falco.priorities import PRIORITIES, parse_priority

EXTRA_ITEM = "cks-mutant"
TYPO = "x"
INJECTED = "kube-api-access-"  # the name of the service account token's volume, added to every pod by admission
Change = tuple[str, str]  # ("FILE:/PATH: CHANGE", new content)


def _split_top_level(condition: str) -> tuple[list[str], list[str]]:
    """A condition's operands and the `and`/`or` between them, outside parentheses and quotes."""
    operands, operators, depth, quote, start, i = [], [], 0, "", 0, 0
    while i < len(condition):
        char = condition[i]
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif depth == 0 and (match := re.match(r"\s+(and|or)\s+", condition[i:])):
            operands.append(condition[start:i].strip())
            operators.append(match.group(1))
            i += match.end()
            start = i
            continue
        i += 1
    operands.append(condition[start:].strip())
    return operands, operators


def _unwrapped(condition: str) -> str:
    """The condition without parentheses around all of it."""
    text = condition.strip()
    while text.startswith("(") and _closed_at_the_end(text):
        text = text[1:-1].strip()
    return text


def _closed_at_the_end(text: str) -> bool:
    """Whether the parenthesis that opens `text` closes at its last character."""
    depth = 0
    for i, char in enumerate(text):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0:
            return i == len(text) - 1
    return False


def condition_changes(condition: str) -> Iterator[tuple[str, str]]:
    """(change, condition) for each operand dropped, and/or swapped, and the whole negated."""
    text = _unwrapped(condition)
    operands, operators = _split_top_level(text)
    if len(operands) > 1 and len(set(operators)) == 1:
        joiner = f" {operators[0]} "
        for i, operand in enumerate(operands):
            yield f"drop {operand!r}", joiner.join(operands[:i] + operands[i + 1 :])
        swapped = " or " if operators[0] == "and" else " and "
        yield f"{operators[0]} -> {swapped.strip()}", swapped.join(operands)
    yield "negated", f"not ({text})"


def output_changes(output: str) -> Iterator[tuple[str, str]]:
    """(change, output) for each %field dropped."""
    for match in re.finditer(r"%[\w.]+(\[[^\]]*\])?", output):
        yield f"drop {match.group(0)}", output[: match.start()] + output[match.end() :]


def priority_changes(priority: str) -> Iterator[tuple[str, str]]:
    """(change, priority) one step more and one step less severe, in the solution's case."""
    rank = parse_priority(priority)
    if rank is None:
        return
    case = str.upper if priority.isupper() else str.lower if priority.islower() else str
    for step, word in ((-1, "more"), (1, "less")):
        if 0 <= rank + step < len(PRIORITIES):
            yield f"one step {word} severe", case(PRIORITIES[rank + step])


def scalar_changes(key: Any, value: Any) -> Iterator[tuple[str, Any]]:
    """(change, value) for a scalar under mapping key `key` (None in a sequence)."""
    if isinstance(value, bool):
        yield f"{value} -> {not value}", not value
    elif isinstance(value, int):
        yield from ((f"{value} -> {value + d}", value + d) for d in (-1, 1))
    elif isinstance(value, str):
        special = {"condition": condition_changes, "output": output_changes, "priority": priority_changes}.get(key)
        if special is not None:
            yield from special(value)
        yield "typo", value.rstrip() + TYPO


def _replaced(data: Any, path: tuple, new: Any) -> Any:
    """A copy of `data` with the value at `path` replaced by `new` (`_DROP` removes it)."""
    if not path:
        return new
    head, rest = path[0], path[1:]
    copy = dict(data) if isinstance(data, dict) else list(data)
    value = _replaced(data[head], rest, new)
    if value is _DROP:
        del copy[head]
    else:
        copy[head] = value
    return copy


_DROP = object()


def _injected(item: Any) -> bool:
    return isinstance(item, dict) and str(item.get("name", "")).startswith(INJECTED)


def _changes(data: Any, path: tuple = ()) -> Iterator[tuple[tuple, str, Any]]:
    """(path, change, new value at path) for every mutation of the tree; `_DROP` as the new value removes it."""
    if isinstance(data, dict):
        for key, value in data.items():
            if isinstance(value, list) and value and all(_injected(item) for item in value):
                continue  # the token's mounts alone: the solution wrote none of them
            yield (*path, key), "dropped", _DROP
            if isinstance(value, dict | list):
                yield from _changes(value, (*path, key))
            else:
                for change, new in scalar_changes(key, value):
                    yield (*path, key), change, new
        if "rule" in data and "enabled" not in data:
            yield path, "enabled: false added", {**data, "enabled": False}
    elif isinstance(data, list):
        for i, value in enumerate(data):
            if _injected(value):
                continue  # the service account token's volume and mounts: added by admission, not the solution's
            yield (*path, i), "dropped", _DROP
            if i > 0:
                yield path, f"item {i} moved to the front", [value, *data[:i], *data[i + 1 :]]
            if isinstance(value, dict | list):
                yield from _changes(value, (*path, i))
            else:
                for change, new in scalar_changes(None, value):
                    yield (*path, i), change, new
        if data and all(not isinstance(v, dict | list) for v in data):
            yield path, f"{EXTRA_ITEM!r} added", [*data, EXTRA_ITEM]


def _where(path: tuple) -> str:
    return "/" + "/".join(str(p) for p in path)


def yaml_changes(file: str, text: str) -> list[Change]:
    """Every single change of the YAML file `file` holding `text`."""
    data = yaml.safe_load(text)
    name = Path(file).name
    return [
        (f"{name}:{_where(path)}: {change}", _dump(_replaced(data, path, new))) for path, change, new in _changes(data)
    ]


def _dotted(path: tuple) -> str:
    return ".".join(str(p) for p in path)


def _inside(path: tuple, within: list[str]) -> bool:
    dotted = _dotted(path)
    return any(fnmatch.fnmatchcase(dotted, p) or fnmatch.fnmatchcase(dotted, f"{p}.*") for p in within)


def object_name(obj: dict[str, Any], kind: str) -> str:
    """`Pod team/web`."""
    meta = obj.get("metadata") or {}
    return f"{kind} {meta.get('namespace', '')}/{meta.get('name', '?')}"


def object_changes(obj: dict[str, Any], within: list[str], kind: str, api_version: str) -> list[Change]:
    """Every single change of an API object (as JSON) inside the parts `within` (dotted globs, e.g.
    `spec.containers.*.securityContext`), except those its API type refuses (a required field dropped)."""
    name = object_name(obj, kind)
    model = f"V1{kind}" if api_version.split("/")[-1] == "v1" else None
    changes = []
    for path, change, new in _changes(obj):
        if path and _inside(path, within):
            text = json.dumps(_replaced(obj, path, new))
            if model is None or _valid(text, model):
                changes.append((f"{name}:{_where(path)}: {change}", text))
    return changes


def _valid(text: str, model: str) -> bool:
    """Whether the kubernetes client's model of the type accepts the object."""
    from kubernetes.client import ApiClient

    try:
        ApiClient().deserialize(text, model, "application/json")
    except (ValueError, TypeError):  # pydantic's ValidationError is a ValueError
        return False
    return True


def text_changes(file: str, text: str) -> list[Change]:
    """Every single change of a text file (an answer): emptied, a line dropped, two lines swapped, a word (between
    commas, slashes, colons or spaces) dropped or with a typo."""
    name = Path(file).name
    lines = text.splitlines()
    changed = [("emptied", [])]
    for i, line in enumerate(lines):
        if len(lines) > 1:
            changed.append((f"line {i + 1} dropped", lines[:i] + lines[i + 1 :]))
        if i + 1 < len(lines):
            changed.append((f"lines {i + 1} and {i + 2} swapped", [*lines[:i], lines[i + 1], line, *lines[i + 2 :]]))
        words = re.split(r"([,/:\s]+)", line)
        for w in range(0, len(words), 2):
            if not words[w]:
                continue
            dropped = "".join(words[: max(w - 1, 0)] + words[w + 1 :]) if w else "".join(words[w + 2 :])
            typo = "".join([*words[:w], words[w] + TYPO, *words[w + 1 :]])
            for change, new in ((f"{words[w]!r} dropped", dropped), (f"{words[w]!r} typo", typo)):
                changed.append((f"line {i + 1}: {change}", [*lines[:i], new, *lines[i + 1 :]]))
    return [(f"{name}: {change}", "".join(f"{line}\n" for line in new)) for change, new in changed]


def file_changes(file: str, text: str) -> list[Change]:
    """A YAML file's changes by its structure, any other file's by its lines and words."""
    return yaml_changes(file, text) if file.endswith((".yaml", ".yml")) else text_changes(file, text)


def _dump(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, width=1000, allow_unicode=True)
