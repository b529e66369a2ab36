"""Falco rule priorities: parsing (case-insensitive, `info` accepted) and their order, most severe first."""

from __future__ import annotations

PRIORITIES = ("Emergency", "Alert", "Critical", "Error", "Warning", "Notice", "Informational", "Debug")
_BY_NAME = {name.lower(): i for i, name in enumerate(PRIORITIES)} | {"info": PRIORITIES.index("Informational")}


def parse_priority(text: str) -> int | None:
    """The priority's rank (0 = Emergency ... 7 = Debug), None if Falco would say `Invalid priority`."""
    return _BY_NAME.get(text.lower())


def priority_name(rank: int) -> str:
    return PRIORITIES[rank]
