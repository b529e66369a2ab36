"""Benchmark `lab grade`: a class of N students against the testbed at a fixed concurrency, wall time as N grows.

    .venv/bin/python benchmarks/bench_class.py [--sizes 1 2 4 8] [--concurrency 4] [--append docs/benchmarks.md]

Every student is a kubeconfig for the same testbed cluster with the same assigned seed of scenario 01 (set up and
solved once, so every criterion runs its probes). Baseline measured in the same run: one `lab check` of that
attempt (one student graded by the student's own command). Each size is graded twice; the faster run counts.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.benchlib import publish  # noqa: E402
from labs.testbed import images  # noqa: E402
from labs.testbed.cluster import KUBECONFIG  # noqa: E402

LAB = [sys.executable, "-m", "labs.cli"]
SEED = 737373


def lab(state: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "CKS_LAB_STATE": str(state)}
    finished = subprocess.run([*LAB, *args], env=env, capture_output=True, text=True, timeout=900, check=False)
    if finished.returncode not in (0, 1):
        raise SystemExit(f"lab {' '.join(args)} exited {finished.returncode}: {finished.stderr[-2000:]}")
    return finished


def timed(state: Path, *args: str) -> float:
    start = time.perf_counter()
    lab(state, *args)
    return time.perf_counter() - start


def class_file(directory: Path, size: int) -> Path:
    students = [{"name": f"student{n:03d}", "kubeconfig": str(KUBECONFIG), "seeds": {1: SEED}} for n in range(size)]
    spec = {
        "name": f"benchmark class of {size}",
        "scenarios": [1],
        "images": {"nginx:1.27": images.NGINX_IMAGE, "busybox:1.36": images.BUSYBOX_IMAGE},
        "students": students,
    }
    path = directory / f"class-{size}.yml"
    path.write_text(yaml.safe_dump(spec))
    return path


def bench(sizes: list[int], concurrency: int) -> dict[str, float]:
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="bench-class-") as work:
        directory = Path(work)
        state = directory / "state"
        lab(state, "--target", "testbed", "start", "1", "--seed", str(SEED), "--force")
        try:
            lab(state, "solution", "--apply")
            baseline = min(timed(state, "check") for _ in range(3))
            results["baseline: lab check, one student s"] = baseline
            for size in sizes:
                path = class_file(directory, size)
                out = directory / f"out-{size}"
                args = ("grade", "--inventory", str(path), "--out", str(out), "--concurrency", str(concurrency))
                wall = min(timed(state, *args) for _ in range(2))
                results[f"N={size}: lab grade wall s"] = wall
                results[f"N={size}: per student s"] = wall / size
                results[f"N={size}: ratio wall / lab check"] = wall / baseline
        finally:
            lab(state, "reset", "--clean")
    return results


def markdown(results: dict[str, float], concurrency: int) -> str:
    lines = [
        f"## Class grading (lab grade) ({date.today()}, Python {platform.python_version()}, {os.cpu_count()} cores, "
        "testbed on the same machine)",
        "",
        f"`benchmarks/bench_class.py`; a class of N students (kubeconfigs of the testbed, scenario 01 solved, every "
        f"criterion probing) graded at concurrency {concurrency}, best of 2 runs per N; baseline measured in the same "
        "run: one `lab check` of the same attempt (best of 3).",
        "",
        "| measurement | value |",
        "|---|---|",
    ]
    lines += [f"| {name} | {value:.2f} |" for name, value in results.items()]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 2, 4, 8, 16])
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--append", type=Path, help="append the results as a section to this markdown file")
    args = parser.parse_args()
    publish(markdown(bench(args.sizes, args.concurrency), args.concurrency), args.append)
    return 0


if __name__ == "__main__":
    sys.exit(main())
