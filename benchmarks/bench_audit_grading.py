"""Benchmark: the time to grade scenario 06 (enable audit logging) on the testbed, solved, as a ratio against a
baseline measured in the same run.

    .venv/bin/python benchmarks/bench_audit_grading.py [--append docs/benchmarks.md] [--repeat 5]

Baseline: the least a shell script must do to judge the same attempt by behaviour: read the running
kube-apiserver's command line, make the four probe requests with kubectl (one process each) and grep the audit log
for them. The grader does more (evaluates the policy on ~100 requests, checks mounts, explains failures).
Restarts kube-apiserver twice (solution, reset): run it when nobody else is using the testbed's apiserver.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.benchlib import publish, wall, warm_grading  # noqa: E402

LAB = str(Path(sys.executable).parent / "lab")
SEED = 606060


def kubectl_baseline(kubeconfig: str, params: dict) -> float:
    """Shell-style grading of the behaviour: argv of the process, four kubectl probes, one grep of the log."""
    kubectl = shutil.which("kubectl") or "kubectl"
    namespace, marker = params["namespace"], f"bench-{time.monotonic_ns()}"
    base = [kubectl, f"--kubeconfig={kubeconfig}", "-n", namespace]
    commands = [
        ["sh", "-c", "tr '\\0' '\\n' < /proc/$(pgrep -n -x kube-apiserver)/cmdline"],
        [*base, "delete", "pod", params["pod"], "--dry-run=server"],
        [*base, "create", "secret", "generic", marker, "--from-literal=k=v", "--dry-run=server"],
        [*base, "create", "configmap", marker, "--dry-run=server"],
        [kubectl, f"--kubeconfig={kubeconfig}", "get", "namespace", namespace],
        ["grep", "-c", marker, params["log_path"]],
    ]
    return sum(wall(argv, expect=(0, 1)) for argv in commands)


def bench(repeat: int) -> dict[str, float]:
    from labs.targets import resolve

    target = resolve("testbed")
    state = tempfile.mkdtemp(prefix="bench-audit-state-")
    env = {**os.environ, "CKS_LAB_STATE": state}
    try:
        wall([LAB, "--target", "testbed", "start", "6", "--seed", str(SEED), "--force"], env=env)
        solution = wall([LAB, "solution", "--apply"], env=env)
        status = subprocess.run([LAB, "status", "--json"], env=env, capture_output=True, text=True, check=True)
        params = json.loads(status.stdout)["params"]
        baseline = statistics.median(kubectl_baseline(str(target.kubeconfig), params) for _ in range(repeat))
        check = statistics.median(wall([LAB, "check", "--json"], env=env) for _ in range(repeat))
        warm = warm_grading(state, "6", repeat)
    finally:
        wall([LAB, "reset", "--clean"], env=env, expect=(0, 1, 2))
        shutil.rmtree(state, ignore_errors=True)
    return {
        "lab solution --apply (one kube-apiserver restart) s": solution,
        "lab check s": check,
        "baseline: shell grading (6 processes) s": baseline,
        "ratio lab check / baseline": check / baseline,
        "grading in-process, warm (batch grading) s": warm,
        "ratio warm grading / baseline": warm / baseline,
    }


def markdown(results: dict[str, float], repeat: int) -> str:
    lines = [
        f"## Grading audit logging, scenario 06 ({date.today()}, Python {platform.python_version()}, "
        f"{platform.machine()}, {os.cpu_count()} cores, testbed on the same machine)",
        "",
        f"`benchmarks/bench_audit_grading.py`; medians of {repeat} runs on the solved attempt (all 10 criteria pass,",
        "the probe criterion makes 4 requests and reads the log on the node). Baseline in the same run: a shell",
        "grader's minimum for the behaviour alone (the running apiserver's argv, 4 kubectl probes, one grep).",
        "",
        "| measurement | value |",
        "|---|---|",
    ]
    lines += [f"| {name} | {value:.3f} |" for name, value in results.items()]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--append", type=Path, help="append the results as a section to this markdown file")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    publish(markdown(bench(args.repeat), args.repeat), args.append)
    return 0


if __name__ == "__main__":
    sys.exit(main())
