"""Testbed benchmark: `up` on a warm cache, `down`, memory of the running cluster, cache size.

Baseline measured in the same run: etcd alone, started as a plain process until its /health answers (the floor of any
control plane). Prints a Markdown table for docs/benchmarks.md. Run as root: `python benchmarks/bench_testbed.py`.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

from labs.paths import cache_dir
from labs.testbed import build, cluster


def quiet(_message: str) -> None:
    return None


def etcd_start_seconds() -> float:
    with tempfile.TemporaryDirectory() as data:
        started = time.monotonic()
        process = subprocess.Popen(
            [
                str(build.binaries_dir() / "etcd"),
                f"--data-dir={data}",
                "--listen-client-urls=http://127.0.0.1:23790",
                "--advertise-client-urls=http://127.0.0.1:23790",
                "--listen-peer-urls=http://127.0.0.1:23800",
                "--listen-metrics-urls=http://127.0.0.1:23810",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            while True:
                try:
                    with urllib.request.urlopen("http://127.0.0.1:23810/health", timeout=1) as response:
                        if response.status == 200:
                            return time.monotonic() - started
                except OSError:
                    time.sleep(0.05)
        finally:
            process.terminate()
            process.wait()


def testbed_rss_bytes() -> int:
    """Resident memory of every process of the cluster: supervisors, daemons (the registry and the metadata server
    too), shims, gVisor sandboxes and the containers' processes."""
    ours = str(build.cache_dir())
    total = 0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            exe = str(Path(proc / "exe").readlink())
            cmdline = (proc / "cmdline").read_bytes()
            cgroup = (proc / "cgroup").read_text()
            status = (proc / "status").read_text()
        except OSError:
            continue
        mine = (
            exe.startswith(ours) or b"labs.testbed.supervisor" in cmdline or str(cluster.CONFIG_DIR).encode() in cmdline
        )
        if mine or "kubepods" in cgroup:
            for line in status.splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
    return total


def du(path: Path) -> int:
    result = subprocess.run(["du", "-sb", str(path)], capture_output=True, text=True)
    return int(result.stdout.split()[0]) if result.returncode == 0 else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    cluster.up(log=quiet)
    ups, downs, etcds = [], [], []
    for _ in range(args.rounds):
        started = time.monotonic()
        cluster.down(log=quiet)
        downs.append(time.monotonic() - started)
        etcds.append(etcd_start_seconds())
        started = time.monotonic()
        cluster.up(log=quiet)
        ups.append(time.monotonic() - started)
    time.sleep(20)  # let the control plane settle before measuring memory
    rss = testbed_rss_bytes()
    up, down, etcd = statistics.median(ups), statistics.median(downs), statistics.median(etcds)
    gib = 1024**3
    rows = [
        (
            "`up` to a Ready node with every service, warm cache (median)",
            f"{up:.1f} s",
            f"{up / etcd:.1f}x etcd alone ({etcd:.2f} s)",
        ),
        ("`down` (median)", f"{down:.1f} s", f"{down / up:.2f}x up"),
        (
            "memory of the running cluster (RSS, all processes)",
            f"{rss / 1024**2:.0f} MiB",
            f"{rss / (24 * gib):.1%} of 24 GiB",
        ),
        ("cache: binaries", f"{du(cache_dir() / 'bin') / gib:.2f} GiB", ""),
        ("cache: images", f"{du(cache_dir() / 'images') / gib:.2f} GiB", ""),
        ("cache: Go build cache (~/.cache/go-build)", f"{du(Path.home() / '.cache/go-build') / gib:.2f} GiB", ""),
        ("cache: Go module cache", f"{du(Path.home() / 'go/pkg/mod') / gib:.2f} GiB", ""),
    ]
    timings = f"up: {', '.join(f'{u:.1f}' for u in ups)} s; down: {', '.join(f'{d:.1f}' for d in downs)} s"
    print(f"rounds: {args.rounds}; {timings}")
    print("| measure | value | ratio |\n|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
