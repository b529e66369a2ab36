"""Scenario 17 on the testbed: setup fails the grader, the reference solution passes it, and each near-miss fails on
the criterion it misses. Seed 1 draws kube-controller-manager, /etc/kubernetes/kubelet.conf and /var/lib/etcd; seed 4
(a variant) kube-scheduler, /var/lib/kubelet/config.yaml and /etc/kubernetes/manifests/etcd.yaml.

kube-apiserver restarts twice (the solution, the reset); the near-misses that leave the fix written down but not
running need no restart: manifests copied outside /etc/kubernetes/manifests; the kubelet stopped makes the cluster
unhealthy in a few seconds. The variants restart components more: a flag value the component refuses (into its
crash loop and out), the flag put into the wrong component, and the other draw."""

from __future__ import annotations

import os
import ssl
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from api_lock import API, settle
from apiserver_scenario import RESTARTED_AT, ApiserverScenario, replace_manifests
from broken_cluster import kubelet_stopped
from lab_attempt import failed, failed_in, message
from mutation import recorded_verdicts_match

pytestmark = [pytest.mark.testbed, pytest.mark.restarts_apiserver]

SEED = 1
OTHER_SEED = 4
MANIFESTS = Path("/etc/kubernetes/manifests")
APISERVER = "test_kube_apiserver_runs_with_profiling_off"
OTHER = "test_the_other_component_runs_with_profiling_off"
KUBELET_FILE = "test_the_kubelet_file_is_readable_by_root_only"
ETCD_PATH = "test_the_etcd_path_is_accessible_by_root_only"
HEALTHY = "test_the_cluster_stays_healthy"
FIXES = {APISERVER, OTHER, KUBELET_FILE, ETCD_PATH}


@pytest.fixture(scope="module")
def lab(testbed, tmp_path_factory) -> Iterator[ApiserverScenario]:
    with ApiserverScenario.started("17", SEED, tmp_path_factory.mktemp("lab-state")) as attempt:
        yield attempt


def _manifest(component: str) -> dict:
    return yaml.safe_load((MANIFESTS / f"{component}.yaml").read_text())


def _edited(component: str, edit: Callable[[list[str]], list[str]] = list) -> str:
    """The component's manifest with the command `edit` makes of its command, and a new restartedAt annotation: a
    pod the kubelet has never run, so none of the crash-loop back-off of its earlier stops (static_pod_flags.yml)."""
    manifest = _manifest(component)
    container = manifest["spec"]["containers"][0]
    container["command"] = edit(container["command"])
    manifest["metadata"].setdefault("annotations", {})[RESTARTED_AT] = datetime.now(UTC).isoformat()
    return yaml.safe_dump(manifest)


def _mode(path: str) -> int:
    return os.stat(path).st_mode & 0o7777


def _serves(component: str) -> bool:
    """Whether the component answers its health check (anonymously, as the kubelet's probe does)."""
    port = {"kube-controller-manager": 10257, "kube-scheduler": 10259}[component]
    context = ssl._create_unverified_context()
    try:
        with urllib.request.urlopen(f"https://127.0.0.1:{port}/healthz", timeout=2, context=context) as answer:
            return answer.status == 200
    except OSError:
        return False


def _runs_its_manifest(component: str) -> bool:
    """Whether the newest process of the component runs the flags of its manifest and serves."""
    found = subprocess.run(["pgrep", "-n", "-f", f"^{component}( |$)"], capture_output=True, text=True, check=False)
    if found.returncode != 0:
        return False
    argv = Path(f"/proc/{found.stdout.strip()}/cmdline").read_text().split("\0")[:-1]
    return argv == _manifest(component)["spec"]["containers"][0]["command"] and _serves(component)


@contextmanager
def manifests_replaced(texts: dict[str, str], until: Callable[[], bool]) -> Iterator[None]:
    """Components' manifests replaced (component -> text) until `until()`; put back afterwards (with a new restart
    stamp), and the control plane healthy again. Other lanes wait meanwhile (their Deployments need
    kube-controller-manager)."""
    before = {component: _edited(component) for component in texts}
    API.own()
    try:
        replace_manifests(texts)
        deadline = time.monotonic() + 60
        while not until() and time.monotonic() < deadline:
            time.sleep(0.25)
        yield
    finally:
        replace_manifests(before)
        settle()


def test_the_seed_draws_what_the_tests_expect(lab):
    assert (lab.params["component"], lab.params["kubelet_file"], lab.params["etcd_path"]) == (
        "kube-controller-manager",
        "/etc/kubernetes/kubelet.conf",
        "/var/lib/etcd",
    )


def test_after_setup_every_fix_fails_and_the_cluster_is_healthy(lab):
    report = lab.check()
    assert report["exit_code"] == 1, report
    assert failed_in(report) == FIXES, report
    said = failed_in(report).messages
    assert "kube-bench 1.1.11: FAIL (permissions=755); /var/lib/etcd has mode 755" in said[ETCD_PATH], said
    assert "answered 200: it serves profiles; expected 404" in said[APISERVER], said


def test_fixes_written_down_but_not_running_fail_with_what_runs(lab):
    """--profiling=false in copies of the manifests outside /etc/kubernetes/manifests, which the kubelet never reads;
    permissions tightened, but not enough (group read, group execute)."""
    copies = [MANIFESTS.parent / f"{component}.yaml" for component in ("kube-apiserver", "kube-controller-manager")]
    kubelet_file, etcd_path = lab.params["kubelet_file"], lab.params["etcd_path"]
    modes = {path: _mode(path) for path in (kubelet_file, etcd_path)}
    try:
        for copy in copies:
            copy.write_text(_edited(copy.stem, lambda command: [*command, "--profiling=false"]))
        os.chmod(kubelet_file, 0o640)
        os.chmod(etcd_path, 0o750)
        report = lab.grade()
    finally:
        for copy in copies:
            copy.unlink(missing_ok=True)
        for path, mode in modes.items():
            os.chmod(path, mode)
    assert failed(report) == FIXES
    apiserver = message(report, APISERVER)
    assert "kube-bench 1.2.15: FAIL; the running kube-apiserver (pid " in apiserver, apiserver
    assert "has no --profiling flag; expected --profiling=false" in apiserver, apiserver
    other = message(report, OTHER)
    assert "GET https://127.0.0.1:10257/debug/pprof/ as the cluster admin answered 200" in other, other
    assert f"{kubelet_file} has mode 640; expected 600 or more restrictive" in message(report, KUBELET_FILE)
    assert f"{etcd_path} has mode 750; expected 700 or more restrictive" in message(report, ETCD_PATH)


def test_the_reference_solution_passes(lab):
    lab.solve()
    report = lab.check()
    missed = {check["id"]: check["message"] for check in report["checks"] if check["status"] != "pass"}
    assert report["exit_code"] == 0, missed
    assert (report["verdict"], report["score"], report["max_score"]) == ("pass", 9, 9)


def test_the_recording_grades_like_the_solved_cluster(lab, shared_dir):
    # make it with: CKS_LAB_RECORD=1 pytest tests/test_scenario_17_cis_benchmark.py -k "solution or recording"
    recorded_verdicts_match(lab, shared_dir)


def test_stricter_permissions_pass(lab):
    """Any mode without a bit beyond the asked one passes: 400 and 500 as well as 600 and 700."""
    kubelet_file, etcd_path = lab.params["kubelet_file"], lab.params["etcd_path"]
    modes = {path: _mode(path) for path in (kubelet_file, etcd_path)}
    try:
        os.chmod(kubelet_file, 0o400)
        os.chmod(etcd_path, 0o500)
        report = lab.grade()
    finally:
        for path, mode in modes.items():
            os.chmod(path, mode)
    assert not failed(report), failed(report)


def test_with_the_kubelet_stopped_the_cluster_is_not_healthy(lab):
    """`systemctl stop kubelet` (to edit its files, say) and not started again: the static pods keep running."""
    with kubelet_stopped():
        report = lab.grade()
        lab.check_broken()
    assert failed(report) == {HEALTHY}
    said = message(report, HEALTHY)
    assert "kubelet (http://127.0.0.1:10248/healthz answered nothing)" in said, said


@pytest.fixture(scope="module")
def other_lab(testbed, tmp_path_factory) -> Iterator[ApiserverScenario]:
    with ApiserverScenario.started("17", OTHER_SEED, tmp_path_factory.mktemp("lab-state")) as attempt:
        yield attempt


@pytest.mark.variants
def test_another_draw_fails_after_setup_and_passes_when_solved(other_lab):
    params = other_lab.params
    assert (params["component"], params["kubelet_file"], params["etcd_path"]) == (
        "kube-scheduler",
        "/var/lib/kubelet/config.yaml",
        "/etc/kubernetes/manifests/etcd.yaml",
    )
    report = other_lab.check()
    assert failed_in(report) == FIXES, report
    said = failed_in(report).messages
    assert (
        "kube-bench 1.1.7: FAIL (permissions=644); /etc/kubernetes/manifests/etcd.yaml has mode 644" in said[ETCD_PATH]
    )
    assert "kube-bench 4.1.9: FAIL (permissions=644)" in said[KUBELET_FILE], said
    other_lab.solve()
    report = other_lab.check()
    assert report["exit_code"] == 0, failed_in(report).messages


@pytest.mark.variants
def test_the_flag_given_to_the_wrong_component_fails(other_lab):
    """--profiling=false on kube-controller-manager where the task names kube-scheduler, which runs without it."""
    assert other_lab.solved_manifest is not None, "needs the solved attempt"
    texts = {
        "kube-scheduler": _edited("kube-scheduler", lambda command: [f for f in command if f != "--profiling=false"]),
        "kube-controller-manager": _edited("kube-controller-manager", lambda command: [*command, "--profiling=false"]),
    }
    with manifests_replaced(texts, until=lambda: all(map(_runs_its_manifest, texts))):
        report = other_lab.grade()
    assert failed(report) == {OTHER}
    said = message(report, OTHER)
    assert "kube-bench 1.4.1: FAIL; the running kube-scheduler (pid " in said, said
    assert "GET https://127.0.0.1:10259/debug/pprof/ as the cluster admin answered 200" in said, said


@pytest.mark.variants
def test_a_flag_value_the_component_refuses_takes_it_down(other_lab):
    """`--profiling=off` (not a boolean): kube-scheduler exits at start, so the cluster is not healthy. On the
    variant's own solved attempt (a variants-only run solves no other)."""
    assert other_lab.solved_manifest is not None, "needs the solved attempt"
    component = other_lab.params["component"]
    off = {"--profiling=false": "--profiling=off"}
    refused = _edited(component, lambda command: [off.get(flag, flag) for flag in command])
    with manifests_replaced({component: refused}, until=lambda: not _serves(component)):
        report = other_lab.grade()
    assert failed(report) == {OTHER, HEALTHY}
    said = message(report, HEALTHY)
    assert "not healthy: kube-scheduler (https://127.0.0.1:10259/healthz answered nothing)" in said, said
