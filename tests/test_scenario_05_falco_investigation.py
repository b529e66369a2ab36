"""Scenario 05 on the testbed: setup starts four workloads of which the drawn one really misbehaves as drawn (a web
shell below httpd, or a reader of /etc/shadow), the check fails after setup, the reference solution passes, and
near-misses fail on their criterion: a malformed answer, a pod that never existed, the wrong workload named, the
culprit's pod deleted instead of scaling, another workload scaled (even when scaled back: it was touched), the
culprit's Deployment deleted, another workload restarted. That Falco's default rules alert on the culprit and on no
other workload is proven without a cluster in tests/test_scenario_05_falco_investigation_units.py (Falco cannot run
on the testbed)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from broken_cluster import made_a_directory
from lab_attempt import Attempt, failed, failed_in, message, started
from mutation import recorded_verdicts_match

from labs.graderlib.probes import Probe

pytestmark = [pytest.mark.testbed, pytest.mark.slow]

SEED = 4  # catalog misbehaves (web shell, CGI "diag"), in the shop namespace with storefront
SHADOW_SEED = 1  # invoices reads /etc/shadow, in the billing namespace with mailer
ANSWER = "test_the_answer_names_a_pod_of_the_workload_falco_alerts_on"
SCALED = "test_the_deployment_of_that_workload_is_scaled_to_zero_and_kept"
OTHERS = "test_every_other_deployment_is_untouched_and_available"


def _workload(lab: Attempt, slot: str) -> tuple[str, str]:
    return lab.grader_module().workload(lab.params, slot)


def _pods(lab: Attempt, slot: str) -> list:
    namespace, _ = _workload(lab, slot)
    pods = lab.kube.core.list_namespaced_pod(namespace, label_selector=f"app={slot}").items
    return sorted((p for p in pods if p.metadata.deletion_timestamp is None), key=lambda p: p.metadata.name)


def _in_pod(lab: Attempt, slot: str, script: str) -> str:
    namespace, _ = _workload(lab, slot)
    result = Probe(lab.kube).run(namespace, _pods(lab, slot)[0].metadata.name, "app", script)
    assert result.succeeded, result.output
    return result.stdout


def _answer(lab: Attempt, text: str) -> None:
    lab.target.host("controlplane").run(f"printf %b {text!r} > {lab.params['answer']}")


def _scale(lab: Attempt, slot: str, replicas: int) -> None:
    namespace, name = _workload(lab, slot)
    lab.kube.apps.patch_namespaced_deployment_scale(name, namespace, {"spec": {"replicas": replicas}})


def _wait_until_available(lab: Attempt, slot: str) -> None:
    namespace, name = _workload(lab, slot)
    for _ in range(120):
        status = lab.kube.apps.read_namespaced_deployment(name, namespace).status
        if (status.available_replicas or 0) == lab.params["replicas"] == (status.replicas or 0):
            return
        time.sleep(1)
    raise AssertionError(f"{namespace}/{name} did not become available again")


def _web_shell_ancestry(lab: Attempt, slot: str) -> list[str]:
    """comm of the shell a request to the CGI script runs, of its parent and its grandparent (through the script)."""
    query = "ps${IFS}-o${IFS}pid,ppid,comm;true"
    listing = _in_pod(lab, slot, f"wget -q -O - 'http://127.0.0.1:8080/cgi-bin/{lab.params['cgi']}?{query}'")
    processes = {}
    for line in listing.splitlines()[1:]:
        pid, ppid, comm = line.split(None, 2)
        processes[pid] = (ppid, comm.strip())
    ps = next(pid for pid, (_, comm) in processes.items() if comm == "ps")
    shell = processes[ps][0]
    parent = processes[shell][0]
    return [processes[shell][1], processes[parent][1], processes[processes[parent][0]][1]]


@pytest.fixture(scope="module")
def lab(testbed, tmp_path_factory) -> Iterator[Attempt]:
    with started(5, SEED, tmp_path_factory.mktemp("lab-state")) as attempt:
        yield attempt


def test_setup_runs_a_web_shell_below_httpd_in_the_culprit_only(lab):
    assert lab.params["culprit"] == "catalog" and lab.params["behaviour"] == "web-shell"
    assert _web_shell_ancestry(lab, "catalog") == ["sh", lab.params["cgi"], "httpd"]
    assert "uid=0(root)" in _in_pod(
        lab, "catalog", f"wget -q -O - 'http://127.0.0.1:8080/cgi-bin/{lab.params['cgi']}?id'"
    )
    for slot in ("storefront", "invoices", "mailer"):
        assert _in_pod(lab, slot, "ls /www/cgi-bin; echo listed").split() == ["listed"]


def test_after_setup_the_check_fails_on_the_answer_and_the_scaling(lab):
    report = lab.check()
    assert report["exit_code"] == 1, report
    assert failed_in(report) == {ANSWER, SCALED}
    scaled = next(c["message"] for c in report["checks"] if c["id"] == SCALED)
    assert scaled == (
        "the Deployment of the workload Falco alerts on still wants 2 replica(s) and runs 2 pod(s); scale the "
        "Deployment to 0 replicas"
    )
    assert lab.params["catalog"] not in scaled


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{shop}/{pod}\n", "line 1 is '{shop}/{pod}' (a slash, as kubectl prints it; write a comma); expected two "
                           "fields: namespace,pod"),
        ("{pod}\n", "line 1 is '{pod}'; expected two fields: namespace,pod"),
        ("default,{pod}\n", "line 1 names namespace default; the workloads run in {shop} and {billing}"),
        ("{shop},{catalog}\n", "pod {catalog} was never a pod of a Deployment in namespace {shop}; write the pod "
                               "the alerts name (k8s_pod_name), a name like <deployment>-<hash>-<5 characters>"),
    ],
    ids=["slash", "pod-only", "wrong-namespace", "deployment-name"],
)  # fmt: skip
def test_a_malformed_answer_fails_on_the_answer(lab, text, expected):
    fields = {**lab.params, "pod": _pods(lab, "catalog")[0].metadata.name}
    _answer(lab, text.format(**fields))
    report = lab.grade()
    assert failed(report) == {ANSWER, SCALED}
    assert message(report, ANSWER) == expected.format(**fields)


def test_naming_the_wrong_workload_fails_on_the_answer(lab):
    params = lab.params
    pod = _pods(lab, "storefront")[1].metadata.name
    _answer(lab, f"  {params['shop']}, {pod}  \n\n")
    report = lab.grade()
    assert failed(report) == {ANSWER, SCALED}
    assert message(report, ANSWER) == (
        f"pod {pod} belongs to Deployment {params['storefront']}, which Falco does not alert on; the alerts name "
        "the pods of another workload"
    )


def test_deleting_the_culprits_pod_instead_of_scaling_fails_on_the_scaling(lab):
    params = lab.params
    namespace, _ = _workload(lab, "catalog")
    pod = _pods(lab, "catalog")[0].metadata.name
    _answer(lab, f"{namespace},{pod}\n")  # whitespace-free, and the pod will be gone: still a pod of the culprit
    lab.kube.core.delete_namespaced_pod(pod, namespace, grace_period_seconds=0)
    _wait_until_available(lab, "catalog")
    report = lab.grade()
    assert failed(report) == {SCALED}
    assert message(report, SCALED) == (
        "the Deployment of the workload Falco alerts on still wants 2 replica(s) and runs 2 pod(s), 1 of them "
        "started in place of deleted ones (its ReplicaSet replaces a deleted pod); scale the Deployment to 0 replicas"
    )
    assert params["catalog"] not in message(report, SCALED)


def test_the_reference_solution_passes(lab):
    lab.solve()
    report = lab.check()
    assert (report["exit_code"], report["verdict"], report["score"]) == (0, "pass", 8), report


def test_the_recording_grades_like_the_solved_cluster(lab, shared_dir):
    recorded_verdicts_match(lab, shared_dir)


def test_with_the_answer_made_a_directory_the_check_fails_and_says_so(lab):
    with made_a_directory(Path(lab.params["answer"])):
        report = lab.check_broken()
    said = failed_in(report).messages["test_the_answer_names_a_pod_of_the_workload_falco_alerts_on"]
    assert said == f"{lab.params['answer']} on controlplane is not a regular file"


def test_scaling_another_workload_even_back_again_fails_on_the_others(lab):
    params = lab.params
    _scale(lab, "mailer", 1)
    report = lab.grade()
    assert failed(report) == {OTHERS}
    assert message(report, OTHERS) == (
        f"Deployment {params['mailer']} in {params['billing']}: scaled to 1 replicas (was 2); only the workload "
        "Falco alerts on is scaled down"
    )
    _scale(lab, "mailer", 2)
    _wait_until_available(lab, "mailer")
    report = lab.grade()
    assert failed(report) == {OTHERS}
    assert message(report, OTHERS).startswith(
        f"Deployment {params['mailer']} in {params['billing']}: its spec was edited since setup (generation"
    )


def test_deleting_the_culprits_deployment_fails_on_the_scaling(lab):
    namespace, name = _workload(lab, "catalog")
    lab.kube.apps.delete_namespaced_deployment(name, namespace)
    report = lab.grade()
    assert failed(report) == {SCALED, OTHERS}  # OTHERS: the workload scaled and back in the test before
    assert message(report, SCALED) == (
        f"the Deployment of the workload Falco alerts on no longer exists in namespace {namespace}; scale it to 0 "
        "replicas instead of deleting it, so that it is kept for the investigation"
    )


def test_restarting_another_workload_fails_on_the_others(lab):
    namespace, name = _workload(lab, "storefront")
    restarted = datetime.now(UTC).isoformat()
    patch = {"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": restarted}}}}}
    lab.kube.apps.patch_namespaced_deployment(name, namespace, patch)
    report = lab.grade()
    assert failed(report) == {SCALED, OTHERS}
    assert f"Deployment {name} in {namespace}: its Pod template was changed (revision 2)" in message(report, OTHERS)


@pytest.mark.variants
def test_the_shadow_reader_is_started_and_solved(testbed, tmp_path_factory):
    with started(5, SHADOW_SEED, tmp_path_factory.mktemp("lab-state")) as attempt:
        assert (attempt.params["culprit"], attempt.params["behaviour"]) == ("invoices", "shadow-reader")
        assert _in_pod(attempt, "invoices", "cat /etc/shadow").startswith("root:")
        program = _in_pod(attempt, "invoices", "cat /app/run.sh")
        assert "  /bin/cat /etc/shadow > /dev/null\n" in program
        for slot in ("storefront", "catalog", "mailer"):
            assert "/etc/shadow" not in _in_pod(attempt, slot, "cat /app/run.sh; ls /etc")
        report = attempt.check()
        assert report["exit_code"] == 1 and failed_in(report) == {ANSWER, SCALED}, report
        attempt.solve()
        report = attempt.check()
        assert (report["exit_code"], report["score"]) == (0, 8), report
