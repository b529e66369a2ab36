"""Reading a finding the student wrote to a file on a node: its lines, or a failed criterion saying why there are
none (missing, empty, unreadable). Graders then compare the lines with what setup really started."""

from __future__ import annotations

from typing import Any

import pytest


def answer_lines(host: Any, path: str, node: str = "controlplane") -> list[str]:
    """The non-empty lines of `path` on the node (testinfra host), stripped; fails the criterion when there are none."""
    answer = host.file(path)
    if not answer.exists:
        pytest.fail(f"{path} does not exist on {node}; write your finding there", pytrace=False)
    if not answer.is_file:
        pytest.fail(f"{path} on {node} is not a regular file", pytrace=False)
    try:
        text = answer.content_string
    except (RuntimeError, UnicodeDecodeError) as error:
        pytest.fail(f"{path} on {node} cannot be read as text: {error}", pytrace=False)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        pytest.fail(f"{path} on {node} is empty; write your finding there", pytrace=False)
    return lines


def answer_line(lines: list[str], number: int, path: str, expected: str) -> str:
    """Line `number` (1-based) of an answer, or a failed criterion saying that it is missing and what belongs there."""
    if len(lines) < number:
        pytest.fail(f"{path} has {len(lines)} line(s), expected {expected} on line {number}", pytrace=False)
    return lines[number - 1]
