"""Scenario 17, fix failing CIS benchmark checks: one test per criterion of the task.

Each fix is judged twice, and both must agree. kube-bench itself runs on the node for the task's four checks (its
JSON verdict); and the grader looks for itself: profiling by the flags of the running process and by asking its
/debug/pprof/ endpoint as the cluster admin (404 once profiling is off), permissions by the mode of the path. A fix
written down but not running (a manifest copy outside /etc/kubernetes/manifests, a component not restarted) fails
with what runs. A check kube-bench could not audit (it finds no control-plane binary while one component is down)
leaves the verdict to the grader's own look.
"""

import pytest

from labs.graderlib.control_plane import (
    profiling_status,
    running_component,
    secure_url,
    unhealthy_components,
)
from labs.graderlib.kube_bench import CheckResult, run_checks
from labs.graderlib.nodes import not_ready
from labs.k8s import Kube

APISERVER_CHECK = "1.2.15"
PFLAG_FALSE = {"0", "f", "F", "false", "FALSE", "False"}  # what Go's strconv.ParseBool reads as false


@pytest.fixture(scope="module")
def bench(node, params) -> dict[str, CheckResult]:
    """kube-bench's verdict on the task's four checks, run once on controlplane."""
    checks = [APISERVER_CHECK, params["component_check"], params["kubelet_check"], params["etcd_check"]]
    return run_checks(node("controlplane"), checks)


def _profiling_problems(host, program: str, check: CheckResult) -> list[str]:
    problems = [check.describe()] if check.failed else []
    running = running_component(host, program)
    if running is None:
        problems.append(f"no {program} process runs on controlplane")
    elif running.flags.get("profiling") not in PFLAG_FALSE:
        has = f"--profiling={running.flags['profiling']}" if "profiling" in running.flags else "no --profiling flag"
        problems.append(f"the running {program} (pid {running.pid}) has {has}; expected --profiling=false")
    status = profiling_status(host, program)
    if status != 404:
        served = ": it serves profiles" if status == 200 else ""
        problems.append(
            f"GET {secure_url(program, '/debug/pprof/')} as the cluster admin answered {status or 'nothing'}{served}; "
            "expected 404"
        )
    return problems


def _permission_problems(host, path: str, allowed: int, check: CheckResult) -> list[str]:
    problems = [check.describe()] if check.failed else []
    found = host.file(path)
    if not found.exists:
        return [*problems, f"{path} does not exist any more; expected it kept, with mode {allowed:o} or stricter"]
    if found.mode & ~allowed:
        problems.append(f"{path} has mode {found.mode:o}; expected {allowed:o} or more restrictive")
    return problems


@pytest.mark.points(2)
def test_kube_apiserver_runs_with_profiling_off(node, bench):
    """kube-apiserver runs with --profiling=false (kube-bench 1.2.15 PASS)"""
    problems = _profiling_problems(node("controlplane"), "kube-apiserver", bench[APISERVER_CHECK])
    assert not problems, "; ".join(problems)


@pytest.mark.points(2)
def test_the_other_component_runs_with_profiling_off(node, bench, params):
    """{component} runs with --profiling=false (kube-bench {component_check} PASS)"""
    problems = _profiling_problems(node("controlplane"), params["component"], bench[params["component_check"]])
    assert not problems, "; ".join(problems)


@pytest.mark.points(2)
def test_the_kubelet_file_is_readable_by_root_only(node, bench, params):
    """{kubelet_file} has mode 600 or stricter (kube-bench {kubelet_check} PASS)"""
    problems = _permission_problems(node("controlplane"), params["kubelet_file"], 0o600, bench[params["kubelet_check"]])
    assert not problems, "; ".join(problems)


@pytest.mark.points(2)
def test_the_etcd_path_is_accessible_by_root_only(node, bench, params):
    """{etcd_path} has mode {etcd_mode} or stricter (kube-bench {etcd_check} PASS)"""
    allowed = int(str(params["etcd_mode"]), 8)  # 700: a number in the parameters
    problems = _permission_problems(node("controlplane"), params["etcd_path"], allowed, bench[params["etcd_check"]])
    assert not problems, "; ".join(problems)


@pytest.mark.points(1)
def test_the_cluster_stays_healthy(node, kube: Kube):
    """kube-apiserver, etcd, kube-controller-manager, kube-scheduler and the kubelet stay healthy; controlplane Ready"""
    unhealthy = unhealthy_components(node("controlplane"))
    assert not unhealthy, f"not healthy: {', '.join(unhealthy)}; expected every component to answer 200"
    problem = not_ready(kube, "controlplane")
    assert problem is None, f"{problem}; expected it Ready"
