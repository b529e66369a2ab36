"""Scenario 10 on the testbed: setup really starts the drawn behaviour in the drawn container (for every
behaviour), the check fails after setup, the reference solution (which finds the culprit from /proc like a student)
passes, and near-misses fail on their criterion: the right pod but the wrong container and the disguise binary,
another pod, an innocent pod deleted too."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from broken_cluster import check_without_namespace
from lab_attempt import Attempt, failed, failed_in, message, started
from mutation import recorded_verdicts_match

from labs.graderlib.processes import node_processes, running_binary

pytestmark = [pytest.mark.testbed, pytest.mark.slow]

SEED = 20261137  # binary-writer in container metrics of the ledger pod
OTHER_BEHAVIOURS = {"listener": 20261135, "shadow-reader": 20261132, "miner": 20261129}
CONTAINER = "test_the_answer_names_the_compromised_container"
BINARY = "test_the_answer_names_the_malicious_binary"
DELETED = "test_the_compromised_pod_is_deleted"
OTHERS = "test_every_other_pod_keeps_running"


def _culprit_process(lab: Attempt):
    """The process running the dropped binary, checked to run in the drawn container and to behave as drawn."""
    params = lab.params
    host = lab.target.host("controlplane")
    pod = lab.kube.core.read_namespaced_pod(params["culprit_pod"], params["namespace"])
    container_id = next(
        s.container_id.split("://")[-1] for s in pod.status.container_statuses if s.name == params["culprit_container"]
    )
    processes = [p for p in running_binary(node_processes(host), params["binary"]) if p.args]
    assert processes, f"no process runs {params['binary']}"
    assert all(p.in_container(container_id) for p in processes), processes
    main = min(processes, key=lambda p: p.pid)
    behaviour = params["behaviour"]
    if behaviour == "listener":
        sockets = f"/proc/{main.pid}/net/tcp /proc/{main.pid}/net/tcp6"
        listening = host.run(f"awk '$4 == \"0A\" && $2 ~ /:{params['port']:04X}$/' {sockets}").stdout
        assert listening.strip(), f"nothing listens on {params['port']} in the pod"
    elif behaviour == "shadow-reader":
        assert "/etc/shadow" in host.run(f"ls -l /proc/{main.pid}/fd").stdout
    elif behaviour == "miner":
        assert main.comm == params["miner"] and main.args.startswith("sleep")
    else:
        assert host.file(f"/proc/{main.pid}/root/bin/{params['dropped']}").exists
    return main


def _answer(lab: Attempt, *lines: str) -> None:
    lab.target.host("controlplane").run(f"printf '%s\\n' {' '.join(lines)} > {lab.params['answer']}")


@pytest.fixture(scope="module")
def lab(testbed, tmp_path_factory) -> Iterator[Attempt]:
    with started(10, SEED, tmp_path_factory.mktemp("lab-state")) as attempt:
        yield attempt


def test_setup_starts_the_intruder_in_the_drawn_container(lab):
    process = _culprit_process(lab)
    assert process.args.startswith("sh -c while :; do echo")


def test_after_setup_the_check_fails_on_the_finding_and_the_deletion(lab):
    report = lab.check()
    assert report["exit_code"] == 1, report
    assert failed_in(report) == {CONTAINER, BINARY, DELETED}
    assert "does not exist on controlplane" in next(c["message"] for c in report["checks"] if c["id"] == CONTAINER)


def test_the_right_pod_with_the_wrong_container_and_the_disguise_binary_fails(lab):
    params = lab.params
    _answer(lab, f"{params['namespace']},{params['ledger']},app", "/bin/sh")
    report = lab.grade()
    assert failed(report) == {CONTAINER, BINARY, DELETED}
    assert "the pod is right, but the malicious process runs in another of its containers" in message(report, CONTAINER)
    assert message(report, BINARY).startswith("line 2 is '/bin/sh' (that is what the process pretends to run")


def test_another_pod_fails_on_the_container_only(lab):
    params = lab.params
    _answer(lab, f"{params['namespace']},{params['web']},metrics", params["binary"])
    report = lab.grade()
    assert failed(report) == {CONTAINER, DELETED}
    assert message(report, CONTAINER).startswith(f"line 1 names pod {params['web']}, but no process of pod")


def test_a_single_line_fails_on_the_binary(lab):
    params = lab.params
    _answer(lab, f"{params['namespace']},{params['ledger']},metrics")
    report = lab.grade()
    assert failed(report) == {BINARY, DELETED}
    assert message(report, BINARY) == (f"{params['answer']} has 1 line(s), expected the path of the binary on line 2")


def test_the_reference_solution_passes(lab):
    lab.solve()
    report = lab.check()
    assert (report["exit_code"], report["verdict"], report["score"]) == (0, "pass", 8), report


def test_the_recording_grades_like_the_solved_cluster(lab, shared_dir):
    recorded_verdicts_match(lab, shared_dir)


def test_deleting_an_innocent_pod_too_fails(lab):
    params = lab.params
    lab.kube.core.delete_namespaced_pod(params["api"], params["namespace"], grace_period_seconds=0)
    report = lab.grade()
    assert failed(report) == {OTHERS}
    assert message(report, OTHERS).startswith(f"deleted although not compromised: {params['api']}")


def test_with_its_namespace_deleted_the_check_fails_and_reset_still_cleans_up(lab):
    params = lab.params  # the state of the attempt is gone after the reset
    report = check_without_namespace(lab, params["namespace"])
    said = failed_in(report).messages[OTHERS]
    assert said.startswith(f"namespace {params['namespace']} does not exist: it was deleted"), said


@pytest.mark.variants
@pytest.mark.parametrize("behaviour", sorted(OTHER_BEHAVIOURS))
def test_every_behaviour_is_started_and_solved(behaviour, testbed, tmp_path_factory):
    with started(10, OTHER_BEHAVIOURS[behaviour], tmp_path_factory.mktemp("lab-state")) as attempt:
        assert attempt.params["behaviour"] == behaviour
        _culprit_process(attempt)
        attempt.assert_fails_until_solved(score=8)
