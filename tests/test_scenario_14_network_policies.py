"""Scenario 14 on the testbed: setup fails the grader, the reference solution passes it, and each near-miss fails on
the criterion it misses: the scrapers' namespaceSelector and podSelector as two `from` entries (OR), an empty
namespaceSelector (every namespace), the ports left out of the frontend's rules, DNS egress forgotten, the policies
created in another namespace.

The policies of each near-miss are the reference solution's (scenarios/14-network-policies/templates) with one
change; the grader gives kube-router time to apply them (labs/graderlib/connections.py).

Seed 1 draws: backend api-galaxy (port 8612, metrics 9110) and frontend web-otter beside batch-beacon in shop-quartz;
scraper `collector` and debug in monitoring-ivory (team=birch); another collector in guests-dolphin."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from broken_cluster import check_without_namespace
from lab_attempt import Attempt, failed, failed_in, message, started
from mutation import recorded_verdicts_match
from network_policies import replace_policies, solution_policies

pytestmark = [pytest.mark.testbed]

SEED = 1
OTHER_SEED = 3  # scrapers named `scraper`, ports 8288 and 9189, team=glacier
DEFAULT_DENY = "test_by_default_no_pod_of_the_namespace_accepts_or_opens_a_connection"
FRONTEND = "test_the_frontend_reaches_the_backend_on_its_api_port_only"
SCRAPERS = "test_only_the_scrapers_of_the_labelled_namespaces_reach_the_metrics_port"
DNS = "test_every_pod_of_the_namespace_still_resolves_dns_names"


@pytest.fixture(scope="module")
def lab(testbed, tmp_path_factory) -> Iterator[Attempt]:
    with started(14, SEED, tmp_path_factory.mktemp("lab-state")) as attempt:
        yield attempt


def backend_ip(lab: Attempt) -> str:
    return lab.kube.core.read_namespaced_pod(lab.params["backend"], lab.params["namespace"]).status.pod_ip


@pytest.fixture
def near_miss(lab) -> Iterator[dict[str, dict]]:
    """The solution's policies to change; afterwards the namespaces hold the solution again."""
    yield solution_policies(lab)
    for namespace in (lab.params["trusted_namespace"], lab.params["untrusted_namespace"]):
        replace_policies(lab, namespace, [])
    replace_policies(lab, lab.params["namespace"], list(solution_policies(lab).values()))


def test_the_seed_draws_distinct_ports_and_names(lab):
    params = lab.params
    assert params["port"] != params["metrics_port"]
    assert len({params["backend"], params["frontend"], params["intruder"]}) == 3


def test_after_setup_the_check_fails_on_every_connection_criterion(lab):
    report = lab.check()
    assert report["exit_code"] == 1, report
    assert failed_in(report) == {DEFAULT_DENY, FRONTEND, SCRAPERS}, report
    said = next(check["message"] for check in report["checks"] if check["id"] == DEFAULT_DENY)
    assert f"{lab.params['intruder']} -> backend {lab.params['backend']}" in said and "connected, expected none" in said


def test_the_reference_solution_passes(lab):
    lab.solve()
    report = lab.check()
    missed = {check["id"]: check["message"] for check in report["checks"] if check["status"] != "pass"}
    assert (report["exit_code"], report["score"]) == (0, 10), missed


def test_the_recording_grades_like_the_solved_cluster(lab, shared_dir):
    # make it with: CKS_LAB_RECORD=1 pytest tests/test_scenario_14_network_policies.py -k "solution or recording"
    recorded_verdicts_match(lab, shared_dir)


def test_selectors_in_two_from_entries_let_every_pod_of_the_labelled_namespace_in(lab, near_miss):
    scrapers = near_miss["backend-ingress"]["spec"]["ingress"][1]
    both = scrapers["from"][0]
    scrapers["from"] = [{"namespaceSelector": both["namespaceSelector"]}, {"podSelector": both["podSelector"]}]
    replace_policies(lab, lab.params["namespace"], list(near_miss.values()))
    report = lab.grade()
    assert failed(report) == {SCRAPERS}
    params = lab.params
    assert message(report, SCRAPERS) == (
        f"{params['trusted_namespace']}/debug -> backend {params['backend']} ({backend_ip(lab)}:"
        f"{params['metrics_port']}): connected, expected none"
    )  # a podSelector alone selects in the policy's namespace: the other namespace's scraper stays out


def test_an_empty_namespace_selector_lets_the_scrapers_of_every_namespace_in(lab, near_miss):
    near_miss["backend-ingress"]["spec"]["ingress"][1]["from"][0]["namespaceSelector"] = {}
    replace_policies(lab, lab.params["namespace"], list(near_miss.values()))
    report = lab.grade()
    assert failed(report) == {SCRAPERS}
    params = lab.params
    assert message(report, SCRAPERS).startswith(f"{params['untrusted_namespace']}/{params['scraper']} -> backend")


def test_rules_without_ports_open_the_metrics_port_to_the_frontend(lab, near_miss):
    del near_miss["backend-ingress"]["spec"]["ingress"][0]["ports"]
    del near_miss["frontend-egress"]["spec"]["egress"][0]["ports"]
    replace_policies(lab, lab.params["namespace"], list(near_miss.values()))
    report = lab.grade()
    assert failed(report) == {FRONTEND}
    assert message(report, FRONTEND).endswith(f":{lab.params['metrics_port']}): connected, expected none")


def test_forgetting_dns_egress_stops_name_resolution(lab, near_miss):
    del near_miss["dns-egress"]
    replace_policies(lab, lab.params["namespace"], list(near_miss.values()))
    report = lab.grade()
    assert failed(report) == {DNS}
    assert "could not resolve kubernetes.default.svc.cluster.local" in message(report, DNS)


def test_the_policies_in_the_labelled_namespace_protect_nothing(lab, near_miss):
    replace_policies(lab, lab.params["namespace"], [])
    replace_policies(lab, lab.params["trusted_namespace"], list(near_miss.values()))
    report = lab.grade()
    assert failed(report) == {DEFAULT_DENY, FRONTEND, SCRAPERS}


def test_with_its_namespace_deleted_the_check_fails_and_reset_still_cleans_up(lab):
    check_without_namespace(lab, lab.params["namespace"])


@pytest.mark.variants
def test_another_draw_fails_until_solved(testbed, tmp_path_factory):
    with started(14, OTHER_SEED, tmp_path_factory.mktemp("lab-state")) as attempt:
        assert (attempt.params["scraper"], attempt.params["port"], attempt.params["team"]) == (
            "scraper",
            8288,
            "glacier",
        )
        attempt.assert_fails_until_solved(10)
