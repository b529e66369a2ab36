"""What the benchmark scripts share: timing a callable, and publishing a Markdown section."""

from __future__ import annotations

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
