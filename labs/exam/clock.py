"""The exam's clock: wall-clock time (UTC), so that an exam survives a reboot of the host. CKS_LAB_CLOCK_SKEW (seconds)
moves it forward, for tests that fast-forward an exam instead of waiting."""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from labs.state import now as wall_clock

SKEW_VARIABLE = "CKS_LAB_CLOCK_SKEW"


def now() -> datetime:
    """The current time as the exam sees it."""
    try:
        skew = float(os.environ.get(SKEW_VARIABLE) or 0)
    except ValueError:
        skew = 0.0
    return wall_clock() + timedelta(seconds=skew)
