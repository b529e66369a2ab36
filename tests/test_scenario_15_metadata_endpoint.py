"""Scenario 15 on the testbed (its endpoint: labs/testbed/metadata.py): setup fails the grader, the reference solution
passes it, and each near-miss fails on the criterion it misses: the label's policy selecting every pod, a second
egress rule that opens port 80 everywhere (the endpoint included), a default-deny of all egress (DNS and the Service
gone too), the label's policy forgotten.

The policies of each near-miss are the reference solution's (scenarios/15-metadata-endpoint/templates) with one
change. Seed 1 draws web-saffron, worker-reef and agent-husky (role=backup-agent) in payments-ibis, and Service
inventory-thistle in tools-reef; seed 2 (a variant) role=cloud-agent."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from broken_cluster import check_without_namespace
from lab_attempt import Attempt, failed, failed_in, message, started
from mutation import recorded_verdicts_match
from network_policies import replace_policies, solution_policies

pytestmark = [pytest.mark.testbed]

SEED = 1
OTHER_SEED = 2
BLOCKED = "test_pods_without_the_label_cannot_reach_the_metadata_endpoint"
ALLOWED = "test_pods_with_the_label_still_reach_the_metadata_endpoint"
EGRESS = "test_all_other_egress_keeps_working"


@pytest.fixture(scope="module")
def lab(testbed, tmp_path_factory) -> Iterator[Attempt]:
    with started(15, SEED, tmp_path_factory.mktemp("lab-state")) as attempt:
        yield attempt


@pytest.fixture
def near_miss(lab) -> Iterator[dict[str, dict]]:
    """The solution's policies to change; afterwards the namespace holds the solution again."""
    yield solution_policies(lab)
    replace_policies(lab, lab.params["namespace"], list(solution_policies(lab).values()))


def test_after_setup_the_check_fails_on_the_endpoint_criterion(lab):
    report = lab.check()
    assert report["exit_code"] == 1, report
    assert failed_in(report) == {BLOCKED}, report


def test_the_reference_solution_passes(lab):
    lab.solve()
    report = lab.check()
    missed = {check["id"]: check["message"] for check in report["checks"] if check["status"] != "pass"}
    assert (report["exit_code"], report["score"]) == (0, 10), missed


def test_the_recording_grades_like_the_solved_cluster(lab, shared_dir):
    # make it with: CKS_LAB_RECORD=1 pytest tests/test_scenario_15_metadata_endpoint.py -k "solution or recording"
    recorded_verdicts_match(lab, shared_dir)


def test_the_labels_policy_selecting_every_pod_gives_them_all_the_endpoint(lab, near_miss):
    near_miss["allow-metadata"]["spec"]["podSelector"] = {}
    replace_policies(lab, lab.params["namespace"], list(near_miss.values()))
    report = lab.grade()
    assert failed(report) == {BLOCKED}
    params = lab.params
    assert message(report, BLOCKED) == (
        f"{params['namespace']}/{params['web']} -> the metadata endpoint (169.254.169.254:80): connected; "
        f"{params['namespace']}/{params['worker']} -> the metadata endpoint (169.254.169.254:80): connected, "
        "expected none"
    )


def test_a_second_rule_opening_port_80_everywhere_admits_the_endpoint_again(lab, near_miss):
    near_miss["deny-metadata"]["spec"]["egress"].append({"ports": [{"protocol": "TCP", "port": 80}]})
    replace_policies(lab, lab.params["namespace"], list(near_miss.values()))
    report = lab.grade()
    assert failed(report) == {BLOCKED}


def test_denying_all_egress_breaks_dns_and_the_service(lab, near_miss):
    del near_miss["deny-metadata"]["spec"]["egress"]
    replace_policies(lab, lab.params["namespace"], list(near_miss.values()))
    report = lab.grade()
    assert failed(report) == {EGRESS}
    said = message(report, EGRESS)
    assert f"{lab.params['namespace']}/{lab.params['web']} -> Service {lab.params['service']}" in said, said
    assert said.endswith("expected every pod to reach it by its DNS name")


def test_forgetting_the_labels_policy_keeps_the_agent_out_too(lab, near_miss):
    del near_miss["allow-metadata"]
    replace_policies(lab, lab.params["namespace"], list(near_miss.values()))
    report = lab.grade()
    assert failed(report) == {ALLOWED}
    said = message(report, ALLOWED)  # kube-router rejects (refused), Calico drops (timed out)
    assert said.startswith(f"{lab.params['namespace']}/{lab.params['agent']} -> the metadata endpoint"), said
    assert ": no connection (" in said and said.endswith(", expected a connection"), said


def test_with_its_namespace_deleted_the_check_fails_and_reset_still_cleans_up(lab):
    check_without_namespace(lab, lab.params["namespace"])


@pytest.mark.variants
def test_another_draw_fails_until_solved(testbed, tmp_path_factory):
    with started(15, OTHER_SEED, tmp_path_factory.mktemp("lab-state")) as attempt:
        assert attempt.params["role"] == "cloud-agent"
        attempt.assert_fails_until_solved(10)
