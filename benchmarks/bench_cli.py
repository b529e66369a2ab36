"""Benchmark the lab command; results as ratios against baselines measured in the same run.

    .venv/bin/python benchmarks/bench_cli.py [--append docs/benchmarks.md] [--no-testbed]

1. `lab --help` and `lab list` wall time (goal < 0.3 s), against the bare interpreter start (`python -c pass`).
2. `lab check` of scenario 01 against the same criteria checked by one kubectl process each (goal: lab >= 5x
   faster), both on the testbed, on the solved attempt (every criterion runs its probes): with the grading worker
   running (what a student gets after `lab start`) and without one (CKS_LAB_GRADING_WORKER=0).
3. `lab start 1` on the testbed (goal < 10 s).
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

from benchmarks.benchlib import wall, warm_grading  # noqa: E402

LAB = str(Path(sys.executable).parent / "lab")
SEED = 424242
# A student's Python keeps the bytecode it compiles (__pycache__); some shells (this machine's among them) set
# PYTHONDONTWRITEBYTECODE, which makes every `lab` compile the project's modules again.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)


def median_of(argv: list[str], repeat: int, **kwargs) -> float:
    return statistics.median(wall(argv, **kwargs) for _ in range(repeat))


def bench_startup(repeat: int = 15) -> dict[str, float]:
    baseline = median_of([sys.executable, "-c", "pass"], repeat)
    help_time = median_of([LAB, "--help"], repeat)
    list_time = median_of([LAB, "list"], repeat)
    return {
        "python -c pass s": baseline,
        "lab --help s": help_time,
        "lab list s": list_time,
        "ratio lab list / python": list_time / baseline,
    }


def kubectl_binary() -> str:
    pinned = Path.home() / ".cache/cks-lab/bin/current/kubectl"
    return str(pinned) if pinned.exists() else shutil.which("kubectl") or "kubectl"


def kubectl_criteria(kubeconfig: str, params: dict) -> list[list[str]]:
    """The criteria of graders/test_01_immutable_pod.py, one kubectl process each (per container for probes)."""
    pod, ns = params["pod"], params["namespace"]
    get = [kubectl_binary(), "--kubeconfig", kubeconfig, "-n", ns, "get", "pod", pod, "-o"]
    execute = [kubectl_binary(), "--kubeconfig", kubeconfig, "-n", ns, "exec", pod, "-c"]
    return [
        [*get, "jsonpath={.spec.containers[*].name} {.spec.containers[*].image}"],
        [*get, "jsonpath={..securityContext.readOnlyRootFilesystem}"],
        [*get, "jsonpath={..securityContext.privileged}"],
        [*get, "jsonpath={..securityContext.allowPrivilegeEscalation}"],
        [*get, 'jsonpath={.status.phase} {.status.conditions[?(@.type=="Ready")].status}'],
        [*execute, "nginx", "--", "sh", "-c", "echo ran; : > /.probe"],
        [*execute, params["sidecar"], "--", "sh", "-c", "echo ran; : > /.probe"],
        [*execute, "nginx", "--", "sh", "-c", "echo ran; : > /var/cache/nginx/.p && : > /var/run/.p"],
        [kubectl_binary(), "--kubeconfig", kubeconfig, "get", "--raw", f"/api/v1/namespaces/{ns}/pods/{pod}:80/proxy/"],
        [*get, "jsonpath={.spec.volumes[*].hostPath}"],
    ]


def bench_testbed(repeat: int = 9, rounds_of_check: int = 21) -> dict[str, float]:
    from labs.grading import worker
    from labs.targets import resolve

    target = resolve("testbed")
    target.kube.ping()
    state = tempfile.mkdtemp(prefix="bench-lab-state-")
    env = {**os.environ, "CKS_LAB_STATE": state, worker.SWITCH: "1"}
    alone = {**env, worker.SWITCH: "0"}
    # a new attempt each time (new seed, new names): what a student's `lab start` costs, earlier attempt included
    # (it also starts the grading worker in the background, as for a student)
    start_times = [
        wall([LAB, "--target", "testbed", "start", "1", "--seed", str(SEED + n), "--force"], env=env) for n in range(3)
    ]
    wall([LAB, "solution", "--apply"], env=alone)
    params = json.loads(subprocess.run([LAB, "status", "--json"], env=env, capture_output=True, text=True).stdout)[
        "params"
    ]
    criteria = kubectl_criteria(str(target.kubeconfig), params)

    def kubectl_all() -> float:
        return sum(wall(argv, expect=(0, 1, 2)) for argv in criteria)

    os.environ["CKS_LAB_STATE"] = state
    socket = worker.socket_path()
    deadline = time.monotonic() + 60
    while not worker._answers(socket) and time.monotonic() < deadline:
        time.sleep(0.1)
    # rounds alternate the baseline and lab check, so that both see the same moments of a busy testbed
    rounds = [(kubectl_all(), wall([LAB, "check", "--json"], env=env)) for _ in range(rounds_of_check)]
    kubectl_time = statistics.median(k for k, _ in rounds)
    warm_check = statistics.median(c for _, c in rounds)
    speed_ups = sorted(k / c for k, c in rounds)
    cold_time = median_of([LAB, "check", "--json"], 5, env=alone, expect=(0,))
    warm_time = warm_grading(state, "1", repeat)
    results = {
        "lab start 1 s (median of 3)": statistics.median(start_times),
        f"baseline: {len(criteria)} kubectl processes s": kubectl_time,
        "lab check, grading worker running s": warm_check,
        f"speed-up kubectl / lab check, median of {len(rounds)} alternating rounds": statistics.median(speed_ups),
        "speed-up, lowest round": speed_ups[0],
        "speed-up, highest round": speed_ups[-1],
        "lab check without a worker (CKS_LAB_GRADING_WORKER=0) s": cold_time,
        "ratio kubectl / lab check without a worker (speed-up)": kubectl_time / cold_time,
        "grading in-process, warm (batch grading) s": warm_time,
        "ratio kubectl / warm grading (speed-up)": kubectl_time / warm_time,
    }
    wall([LAB, "reset", "--clean"], env=alone)
    shutil.rmtree(state, ignore_errors=True)  # the worker sees its state directory gone and exits
    return results


def markdown(results: dict[str, float], testbed: bool) -> str:
    lines = [
        f"## lab command (engine) ({date.today()}, Python {platform.python_version()}, {platform.machine()})",
        "",
        "`benchmarks/bench_cli.py`; medians of repeated runs; baselines measured in the same run: the bare "
        "interpreter start for the CLI, and for `lab check` the same criteria of scenario 01 checked by one "
        "kubectl process each (kubectl get/exec/get --raw), on the same testbed pod.",
        "",
        "| measurement | value |",
        "|---|---|",
    ]
    lines += [f"| {name} | {value:.3f} |" for name, value in results.items()]
    lines += ["", "Goals: lab --help and lab list < 0.3 s; lab check >= 5x faster than kubectl per criterion; "]
    lines[-1] += "lab start on the testbed < 10 s." + ("" if testbed else " (testbed part not run)")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--append", type=Path, help="append the results as a section to this markdown file")
    parser.add_argument("--no-testbed", action="store_true", help="only the CLI start-up part")
    args = parser.parse_args()
    results = bench_startup()
    if not args.no_testbed:
        results |= bench_testbed()
    text = markdown(results, not args.no_testbed)
    print(text)
    if args.append:
        with args.append.open("a") as handle:
            handle.write("\n" + text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
