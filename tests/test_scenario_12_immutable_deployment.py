"""Scenario 12 on the testbed: setup fails the grader, the reference solution passes it, and near-misses (runAsNonRoot
without a user, no emptyDir, an emptyDir also at /tmp, another user ID, privilege escalation left unset) fail on
their criterion. Each near-miss is the solved Deployment with one change, rolled out for real."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator

import pytest
from broken_cluster import kubelet_stopped
from lab_attempt import Attempt, failed, failed_in, message, started
from mutation import recorded_verdicts_match

pytestmark = [pytest.mark.testbed, pytest.mark.slow]

SEED = 20261129
AVAILABLE = "test_the_deployment_is_available_with_all_its_replicas"
READ_ONLY = "test_writing_to_the_root_filesystem_fails_in_every_pod"
WRITES = "test_the_application_can_write_its_data"
USER = "test_the_containers_run_as_the_given_user_and_never_as_root"
PRIVILEGES = "test_no_container_can_gain_privileges"
EMPTY_DIR = "test_an_emptydir_only_where_the_application_writes"
SOLVED: dict[str, dict] = {}


@pytest.fixture(scope="module")
def lab(testbed, tmp_path_factory) -> Iterator[Attempt]:
    with started(12, SEED, tmp_path_factory.mktemp("lab-state")) as attempt:
        yield attempt


def _roll_out(lab: Attempt, change: Callable[[dict], None]) -> None:
    """Replace the Deployment's Pod template with the solved one changed by `change`."""
    name, namespace = lab.params["deployment"], lab.params["namespace"]
    current = lab.kube.apps.read_namespaced_deployment(name, namespace)
    deployment = lab.kube.api_client.sanitize_for_serialization(current)
    deployment["spec"]["template"] = copy.deepcopy(SOLVED["template"])
    change(deployment["spec"]["template"]["spec"])
    deployment.pop("status")
    lab.kube.apps.replace_namespaced_deployment(name, namespace, deployment)


def _app(spec: dict) -> dict:
    return spec["containers"][0]


def test_after_setup_the_check_fails_on_every_immutability_criterion(lab):
    report = lab.check()
    assert report["exit_code"] == 1, report
    assert failed_in(report) == {READ_ONLY, USER, PRIVILEGES, EMPTY_DIR}


def test_the_reference_solution_passes(lab):
    lab.solve()
    report = lab.check()
    assert (report["exit_code"], report["verdict"], report["score"]) == (0, "pass", 8), report
    deployment = lab.kube.apps.read_namespaced_deployment(lab.params["deployment"], lab.params["namespace"])
    SOLVED["template"] = lab.kube.api_client.sanitize_for_serialization(deployment.spec.template)


def test_the_recording_grades_like_the_solved_cluster(lab, shared_dir):
    recorded_verdicts_match(lab, shared_dir)


def test_with_the_kubelet_stopped_the_check_says_its_probes_could_not_run(lab):
    with kubelet_stopped():
        report = lab.check_broken()
    said = failed_in(report).messages[READ_ONLY]
    assert "did not run (exec refused: 500 error dialing backend" in said and "connection refused" in said, said


def test_run_as_non_root_without_a_user_never_rolls_out(lab):
    _roll_out(lab, lambda spec: spec["securityContext"].pop("runAsUser"))
    report = lab.grade()
    assert failed(report) == {AVAILABLE, READ_ONLY, WRITES, USER, PRIVILEGES, EMPTY_DIR}
    assert "CreateContainerConfigError (container has runAsNonRoot and image will run as root" in message(
        report, AVAILABLE
    )


def test_a_read_only_root_without_the_emptydir_crashes_the_application(lab):
    def without_volume(spec: dict) -> None:
        spec.pop("volumes")
        _app(spec).pop("volumeMounts")

    _roll_out(lab, without_volume)
    report = lab.grade()
    assert AVAILABLE in failed(report)
    assert "Read-only file system" in message(report, AVAILABLE)


def test_an_extra_emptydir_at_tmp_fails_on_that_criterion_only(lab):
    def extra_tmp(spec: dict) -> None:
        spec["volumes"].append({"name": "tmp", "emptyDir": {}})
        _app(spec)["volumeMounts"].append({"name": "tmp", "mountPath": "/tmp"})

    _roll_out(lab, extra_tmp)
    report = lab.grade()
    assert failed(report) == {EMPTY_DIR}
    assert message(report, EMPTY_DIR).startswith("emptyDir mounted elsewhere: tmp at /tmp in container app")


def test_another_user_id_fails_on_the_user_criterion_only(lab):
    other = lab.params["uid"] + 1

    def another_user(spec: dict) -> None:
        spec["securityContext"]["runAsUser"] = other

    _roll_out(lab, another_user)
    report = lab.grade()
    assert failed(report) == {USER}
    assert f"runs as user ID {other}, expected {lab.params['uid']}" in message(report, USER)


def test_privilege_escalation_left_unset_fails_on_that_criterion_only(lab):
    _roll_out(lab, lambda spec: _app(spec)["securityContext"].pop("allowPrivilegeEscalation"))
    report = lab.grade()
    assert failed(report) == {PRIVILEGES}
    assert "NoNewPrivs is 0" in message(report, PRIVILEGES)
    assert "allowPrivilegeEscalation is unset (allowed), expected false" in message(report, PRIVILEGES)
