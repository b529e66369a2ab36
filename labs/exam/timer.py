"""Grades the exam at the end of its time: a detached process (`python -m labs.exam.timer`, started by `lab exam
start` and started again by any `lab exam` command that finds none, e.g. after a reboot) that sleeps in short steps
on the wall clock and stops as soon as the exam is graded, cleaned up or replaced. While it lives it holds a lock on
<state dir>/exam-timer.lock (with its pid in the file): that is how commands tell whether one runs, and why a second
one ends at once."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

from labs import state
from labs.catalog import REPO_ROOT, Catalog
from labs.errors import LabError
from labs.exam import clock, exam
from labs.paths import state_dir
from labs.targets import from_ref

STEP_SECONDS = 30


def lock_file() -> Path:
    return state_dir() / "exam-timer.lock"


def _try_lock(handle: IO[str]) -> bool:
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def running() -> bool:
    """Whether a timer process is alive (it holds the lock; a reboot or a kill releases it)."""
    path = lock_file()
    if not path.exists():
        return False
    with path.open("a+") as handle:
        if not _try_lock(handle):
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False


def start() -> None:
    """Start a detached timer process (it ends at once if another one runs)."""
    subprocess.Popen(
        [sys.executable, "-m", "labs.exam.timer"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        cwd=str(REPO_ROOT),
    )


def main() -> int:
    path = lock_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+") as handle:
        if not _try_lock(handle):
            return 0  # another timer keeps the time
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        return _wait_and_grade()


def _wait_and_grade() -> int:
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
