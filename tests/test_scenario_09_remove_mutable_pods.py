"""Scenario 09 on the testbed: setup fails the grader, the reference solution passes it, and near-misses (only the
privileged pods deleted, init containers forgotten, a compliant pod deleted or recreated) fail on their criterion.

Seed 20261178 draws: api writable-init, cache writable-sidecar, queue privileged-sidecar (mutable); worker
extra-capability, report immutable, auth escalation-allowed (compliant)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from broken_cluster import check_without_namespace
from lab_attempt import Attempt, failed, failed_in, message, started
from mutation import recorded_verdicts_match

pytestmark = [pytest.mark.testbed, pytest.mark.slow]

SEED = 20261178
PRIVILEGED = "test_every_privileged_pod_is_deleted"
WRITABLE = "test_every_pod_with_a_writable_root_filesystem_is_deleted"
COMPLIANT = "test_every_compliant_pod_still_runs"
SAVED: dict[str, dict] = {}  # pods saved by one test for the next


@pytest.fixture(scope="module")
def lab(testbed, tmp_path_factory) -> Iterator[Attempt]:
    with started(9, SEED, tmp_path_factory.mktemp("lab-state")) as attempt:
        yield attempt


def _delete(lab: Attempt, *slots: str) -> None:
    for slot in slots:
        lab.kube.core.delete_namespaced_pod(lab.params[slot], lab.params["namespace"], grace_period_seconds=0)


def test_the_seed_draws_the_layout_the_tests_expect(lab):
    kinds = {slot: lab.params["pod_kinds"][lab.params[slot]] for slot in ("api", "cache", "queue", "worker", "auth")}
    assert kinds == {
        "api": "writable-init",
        "cache": "writable-sidecar",
        "queue": "privileged-sidecar",
        "worker": "extra-capability",
        "auth": "escalation-allowed",
    }


def test_the_task_names_the_namespace(lab):
    assert f"in Namespace {lab.params['namespace']}, delete every Pod" in lab.run("task").stdout


def test_after_setup_the_check_fails_on_both_deletion_criteria(lab):
    report = lab.check()
    assert report["exit_code"] == 1, report
    assert failed_in(report) == {PRIVILEGED, WRITABLE}
    assert report["score"] == 2


def test_deleting_only_the_privileged_pod_misses_the_writable_ones(lab):
    _delete(lab, "queue")
    report = lab.grade()
    assert failed(report) == {WRITABLE}
    assert message(report, WRITABLE) == (
        "2 writable pod(s) still there (init container prepare has a writable root "
        "(readOnlyRootFilesystem unset) | container log-shipper has a writable root (readOnlyRootFilesystem false)); "
        "expected none"
    )


def test_forgetting_the_init_container_fails_on_the_writable_criterion(lab):
    _delete(lab, "cache")
    report = lab.grade()
    assert failed(report) == {WRITABLE}
    assert message(report, WRITABLE).startswith("1 writable pod(s) still there (init container")


def test_the_reference_solution_passes(lab):
    lab.solve()
    report = lab.check()
    assert (report["exit_code"], report["verdict"], report["score"]) == (0, "pass", 6), report
    remaining = {p.metadata.name for p in lab.kube.core.list_namespaced_pod(lab.params["namespace"]).items}
    assert remaining == {lab.params[slot] for slot in ("worker", "report", "auth")}


def test_the_recording_grades_like_the_solved_cluster(lab, shared_dir):
    recorded_verdicts_match(lab, shared_dir)


def test_deleting_a_compliant_pod_too_fails_and_says_why_it_was_compliant(lab):
    auth = lab.kube.core.read_namespaced_pod(lab.params["auth"], lab.params["namespace"])
    SAVED["auth"] = lab.kube.api_client.sanitize_for_serialization(auth)
    _delete(lab, "auth")
    report = lab.grade()
    assert failed(report) == {COMPLIANT}
    assert message(report, COMPLIANT) == (
        f"deleted although compliant: {lab.params['auth']} (it allows privilege escalation, but is read-only and "
        "not privileged); only privileged or writable pods go"
    )


def test_recreating_the_deleted_compliant_pod_fails(lab):
    manifest = SAVED["auth"]
    manifest.pop("status")
    manifest["metadata"] = {"name": manifest["metadata"]["name"], "labels": manifest["metadata"]["labels"]}
    lab.kube.core.create_namespaced_pod(lab.params["namespace"], manifest)
    report = lab.grade()
    assert failed(report) == {COMPLIANT}
    assert message(report, COMPLIANT) == (
        f"deleted and recreated: {lab.params['auth']}; compliant pods must keep running"
    )


def test_with_its_namespace_deleted_the_check_fails_and_reset_still_cleans_up(lab):
    params = lab.params  # the state of the attempt is gone after the reset
    report = check_without_namespace(lab, params["namespace"])
    said = failed_in(report).messages[COMPLIANT]
    assert said.startswith(f"namespace {params['namespace']} does not exist: it was deleted"), said
