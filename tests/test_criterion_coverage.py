"""The criterion coverage report on a made-up record: every criterion with its counts, the gaps that fail a
`make test`, and criteria that need what the testbed lacks listed as VM-only instead."""

from collections import defaultdict

import criterion_coverage
import pytest

from labs.catalog import Catalog


@pytest.fixture
def record(monkeypatch):
    """A fresh record in place of this session's own."""
    fresh = defaultdict(lambda: defaultdict(lambda: {"failed": set(), "passed": set()}))
    monkeypatch.setattr(criterion_coverage, "seen", fresh)
    return fresh


def _seen_both_ways(record, scenario: str, but: str = "") -> None:
    for criterion in Catalog().find(scenario).criteria:
        record[Catalog().find(scenario).id][criterion]["passed"].add("proof")
        if criterion != but:
            record[Catalog().find(scenario).id][criterion]["failed"].add("proof")


def test_a_criterion_never_seen_failing_is_a_gap(record):
    _seen_both_ways(record, "1", but="test_no_hostpath_volume")
    assert criterion_coverage.gaps() == ["01-immutable-pod::test_no_hostpath_volume never seen failed"]
    rows = {name: (failed, passed) for name, failed, passed, _ in criterion_coverage.table()}
    assert rows["01-immutable-pod::test_no_hostpath_volume"] == ([], ["proof"])
    assert rows["01-immutable-pod::test_nginx_answers_http"] == (["proof"], ["proof"])


def test_a_proof_is_named_by_its_module_and_test():
    lane = "tests/test_scenario_06_audit_logging.py::test_a_policy_kube_apiserver_refuses[a/b]@08-audit-repair"
    assert (
        criterion_coverage.proof_name(lane)
        == "test_scenario_06_audit_logging.py::test_a_policy_kube_apiserver_refuses[a/b]"
    )
    assert criterion_coverage.proof_name("tests/test_x.py::test_y") == "test_x.py::test_y"


def test_a_criterion_that_needs_falco_is_vm_only_not_a_gap(record):
    _seen_both_ways(record, "2")
    live = "02-falco-shell-rule::test_live_falco_alerts_for_shells_exec_d_into_the_pod"
    assert {name: gap for name, _, _, gap in criterion_coverage.table()}[live] == "VM-only (needs falco)"
    assert criterion_coverage.gaps() == []


def test_scenarios_whose_proofs_did_not_run_are_left_out(record):
    _seen_both_ways(record, "1")
    assert {name.split("::")[0] for name, *_ in criterion_coverage.table()} == {"01-immutable-pod"}
