"""Grades the exam at the end of its time (started detached by `lab exam start`): sleeps in short steps on the wall
clock, and stops as soon as the exam is submitted, cleaned up or replaced."""

from __future__ import annotations

import sys
import time

from labs import state
from labs.catalog import Catalog
from labs.errors import LabError
from labs.exam import clock, exam
from labs.targets import from_ref

STEP_SECONDS = 30


def main() -> int:
    first = exam.load()
    if first is None or first.started_at is None:
        return 0
    while True:
        current = exam.load()
        if current is None or current.started_at != first.started_at or current.graded:
            return 0
        if current.time_is_up(clock.now()):
            with state.locked():
                current = exam.load()
                if current is None or current.graded or current.started_at != first.started_at:
                    return 0
                try:
                    exam.grade(current, from_ref(current.target), Catalog(), by="time")
                except LabError:
                    return 2  # the next `lab exam` command grades it
            return 0
        seconds = current.remaining(clock.now()).total_seconds()
        time.sleep(max(1.0, min(STEP_SECONDS, seconds)))


if __name__ == "__main__":
    sys.exit(main())
