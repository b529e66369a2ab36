"""Scenario 08 on the testbed: each kind of broken audit change really takes kube-apiserver down and the check says
why; the reference solution brings it back and passes; near-misses (auditing turned off, the policy replaced, the
log directory mounted read-only) fail on the criteria they miss. The original manifest is always put back."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from apiserver_scenario import ApiserverScenario
from lab_attempt import failed, failed_in, kept, message

from labs.catalog import Catalog
from labs.params import generate

pytestmark = [pytest.mark.testbed, pytest.mark.slow]

ALL = {
    "test_kube_apiserver_is_running_and_ready",
    "test_kube_apiserver_audits_with_the_policy_to_the_log",
    "test_the_policy_keeps_its_rules",
    "test_probe_requests_appear_in_the_log",
}
REASONS = {  # what the check must quote from the apiserver's own log for each fault
    "wrong-path": ".yml: no such file or directory",
    "missing-mount": ".yaml: no such file or directory",
    "unknown-level": 'Unsupported value: "Metdata"',
    "old-api-version": 'no kind "Policy" is registered for version "audit.k8s.io/v1beta1"',
}


def seed_for(fault: str) -> int:
    """The first seed whose attempt has this fault."""
    scenario = Catalog().find("8")
    return next(s for s in range(1, 1000) if generate(scenario.spec.parameters, s, scenario.id)["fault"] == fault)


@pytest.mark.parametrize("fault", ["wrong-path", "missing-mount", "unknown-level", "old-api-version"])
def test_each_fault_takes_the_apiserver_down_and_the_check_says_why(testbed, tmp_path, fault):
    with ApiserverScenario.started("8", seed_for(fault), tmp_path) as lab:
        assert lab.params["fault"] == fault
        report = lab.check()
        assert report["exit_code"] == 1, report
        assert (report["verdict"], report["score"]) == ("fail", 0)
        assert failed_in(report) == ALL
        down = next(c["message"] for c in report["checks"] if c["id"] == "test_kube_apiserver_is_running_and_ready")
        assert "not ready" in down and REASONS[fault] in down, down


@pytest.fixture(scope="module")
def lab(testbed, tmp_path_factory) -> Iterator[ApiserverScenario]:
    with ApiserverScenario.started("8", seed_for("missing-mount"), tmp_path_factory.mktemp("lab-state")) as lab:
        yield lab


def test_the_reference_solution_brings_it_back_and_passes(lab):
    lab.solve()
    report = lab.check()
    assert report["exit_code"] == 0, report
    assert (report["verdict"], report["score"], report["max_score"]) == ("pass", 8, 8)


def test_replacing_the_policy_by_a_catch_all_fails_on_its_rules(lab):
    lab.require_solved()
    with kept(Path(lab.params["policy_path"])) as path:
        path.write_text("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Metadata\n")
        report = lab.grade()
    assert failed(report) == {"test_the_policy_keeps_its_rules"}
    assert "'jane' list events in namespace 'default': Metadata (rule 1), expected None" in message(
        report, "test_the_policy_keeps_its_rules"
    )


def test_turning_auditing_off_fails_on_the_flags_and_the_log(lab):
    def without_auditing(manifest: dict) -> None:
        container = manifest["spec"]["containers"][0]
        container["command"] = [arg for arg in container["command"] if not arg.startswith("--audit-")]

    lab.restart_apiserver(without_auditing)
    report = lab.grade()
    assert failed(report) == {
        "test_kube_apiserver_audits_with_the_policy_to_the_log",
        "test_probe_requests_appear_in_the_log",
    }
    assert "no --audit-policy-file, no --audit-log-path; audit logging must stay on" in message(
        report, "test_kube_apiserver_audits_with_the_policy_to_the_log"
    )


def test_a_read_only_log_directory_keeps_the_apiserver_down(lab):
    def read_only_logs(manifest: dict) -> None:
        for mount in manifest["spec"]["containers"][0]["volumeMounts"]:
            if mount["name"] == "audit-logs":
                mount["readOnly"] = True

    lab.restart_apiserver(read_only_logs, expect_down=True)
    report = lab.grade()
    assert failed(report) == ALL - {"test_the_policy_keeps_its_rules"}
    down = message(report, "test_kube_apiserver_is_running_and_ready")
    assert "read-only file system" in down, down
