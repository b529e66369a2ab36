"""Giving a controller time to act on what a student wrote just now, so that a check run right after `kubectl
apply` judges the new objects, not what the controller had a moment before."""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any


def wait_until_settled(objects: Iterable[Any], seconds: float) -> None:
    """Sleep until the newest change to `objects` (API objects: their creation or an update, as managedFields date
    it) is `seconds` old."""
    changes = []
    for item in objects:
        changes.append(item.metadata.creation_timestamp)
        changes += [entry.time for entry in item.metadata.managed_fields or []]
    dated = [moment for moment in changes if moment]
    if dated:
        age = (datetime.now(UTC) - max(dated)).total_seconds()
        time.sleep(min(seconds, max(0.0, seconds - age)))
