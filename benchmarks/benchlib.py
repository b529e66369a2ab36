"""What the benchmark scripts share: timing a callable, a command or a warm grading, and publishing a Markdown
section."""

from __future__ import annotations

import os
import statistics
import subprocess
import time
from collections.abc import Callable
from pathlib import Path


def best_of(fn: Callable[[], object], repeat: int = 5) -> float:
    """The fastest of `repeat` runs of `fn`, in seconds (the least disturbed by the rest of the machine)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def publish(text: str, append: Path | None) -> None:
    """Print a Markdown section and, when asked, append it to a file (docs/benchmarks.md)."""
    print(text)
    if append:
        with append.open("a", encoding="utf-8") as out:
            out.write("\n" + text)


def wall(argv: list[str], env: dict | None = None, expect: tuple[int, ...] = (0,)) -> float:
    """Wall time of one command in seconds; an unexpected exit code stops the benchmark with the command's output."""
    start = time.perf_counter()
    result = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if result.returncode not in expect:
        raise SystemExit(f"{' '.join(argv)} exited {result.returncode}: {result.stderr[-2000:]}{result.stdout[-2000:]}")
    return elapsed


def warm_grading(state: str, scenario: str, repeat: int) -> float:
    """Median seconds to grade the started attempt of `scenario` (in state directory `state`) again and again in one
    process, after a first grading for imports and connections: what grading a class costs per attempt."""
    os.environ["CKS_LAB_STATE"] = state
    from labs.catalog import Catalog
    from labs.grading.plugin import grade
    from labs.session import current_context

    context = current_context()
    grader = Catalog().find(scenario).grader
    grade(grader, context)

    def once() -> float:
        start = time.perf_counter()
        report = grade(grader, context)
        assert report.verdict == "pass", report.as_json()
        return time.perf_counter() - start

    return statistics.median(once() for _ in range(repeat))
