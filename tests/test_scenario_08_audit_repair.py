"""Scenario 08 on the testbed: the broken audit change of the attempt really takes kube-apiserver down and the check
says why; the reference solution brings it back and passes; near-misses (the policy replaced, the manifest from before
the change put back, which turns auditing off) fail on the criteria they miss. Three restarts: setup, solution, the
near-miss; reset then finds the manifest it restores already in place. The original manifest is always put back.

The other faults (and a read-only log directory) are proven live under the `variants` marker, and what the check
quotes from kube-apiserver's log for each is unit-tested on lines recorded from those runs
(tests/test_grading_apiserver_faults.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from apiserver_scenario import MANIFEST, ApiserverScenario
from lab_attempt import failed, failed_in, kept, message
from mutation import recorded_verdicts_match
from recorded_logs import record_apiserver_log

from labs.catalog import Catalog
from labs.params import generate

pytestmark = [pytest.mark.testbed, pytest.mark.slow, pytest.mark.restarts_apiserver]

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


def _assert_down_and_said_why(report: dict, reason: str) -> None:
    assert report["exit_code"] == 1, report
    assert (report["verdict"], report["score"]) == ("fail", 0)
    assert failed_in(report) == ALL
    down = next(c["message"] for c in report["checks"] if c["id"] == "test_kube_apiserver_is_running_and_ready")
    assert "not ready" in down and reason in down, down


@pytest.mark.variants
@pytest.mark.parametrize("fault", ["wrong-path", "unknown-level", "old-api-version"])
def test_each_fault_takes_the_apiserver_down_and_the_check_says_why(testbed, tmp_path, fault):
    with ApiserverScenario.started("8", seed_for(fault), tmp_path) as lab:
        assert lab.params["fault"] == fault
        _assert_down_and_said_why(lab.check(), REASONS[fault])
        record_apiserver_log(fault)


@pytest.fixture(scope="module")
def lab(testbed, tmp_path_factory) -> Iterator[ApiserverScenario]:
    with ApiserverScenario.started("8", seed_for("missing-mount"), tmp_path_factory.mktemp("lab-state")) as lab:
        yield lab


def test_after_setup_the_apiserver_is_down_and_the_check_says_why(lab):
    assert lab.params["fault"] == "missing-mount"
    _assert_down_and_said_why(lab.check(), REASONS["missing-mount"])
    record_apiserver_log("missing-mount")


def test_a_manifest_left_not_yaml_fails_and_says_so(lab):
    with kept(MANIFEST) as manifest:  # the setup's broken manifest is put back for the solution
        manifest.write_text(manifest.read_text().replace("spec:", "spec:\n  containers: [oops", 1))
        report = lab.check_broken()
    said = failed_in(report).messages["test_kube_apiserver_is_running_and_ready"]
    assert said.startswith(f"the manifest cannot be used: {MANIFEST}: not valid YAML: yaml: line "), said


def test_the_reference_solution_brings_it_back_and_passes(lab):
    lab.solve()
    report = lab.check()
    assert report["exit_code"] == 0, report
    assert (report["verdict"], report["score"], report["max_score"]) == ("pass", 8, 8)


def test_the_recording_grades_like_the_solved_cluster(lab, shared_dir):
    recorded_verdicts_match(lab, shared_dir)


def test_replacing_the_policy_by_a_catch_all_fails_on_its_rules(lab):
    lab.require_solved()
    with kept(Path(lab.params["policy_path"])) as path:
        path.write_text("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Metadata\n")
        report = lab.grade()
    assert failed(report) == {"test_the_policy_keeps_its_rules"}
    assert "'jane' list events in namespace 'default': Metadata (rule 1), expected None" in message(
        report, "test_the_policy_keeps_its_rules"
    )


def test_putting_back_the_manifest_from_before_the_change_fails_on_everything_audit_logging_needs(lab):
    lab.restart_with(lab.original_manifest)  # what reset restores: it need not restart kube-apiserver again
    report = lab.grade()
    assert failed(report) == {  # the policy is no longer mounted: kube-apiserver could not read it
        "test_kube_apiserver_audits_with_the_policy_to_the_log",
        "test_the_policy_keeps_its_rules",
        "test_probe_requests_appear_in_the_log",
    }
    assert "no --audit-policy-file, no --audit-log-path; audit logging must stay on" in message(
        report, "test_kube_apiserver_audits_with_the_policy_to_the_log"
    )


@pytest.mark.variants
def test_a_read_only_log_directory_keeps_the_apiserver_down(testbed, tmp_path):
    def read_only_logs(manifest: dict) -> None:
        for mount in manifest["spec"]["containers"][0]["volumeMounts"]:
            if mount["name"] == "audit-logs":
                mount["readOnly"] = True

    with ApiserverScenario.started("8", seed_for("missing-mount"), tmp_path) as lab:
        lab.solve()
        lab.restart_apiserver(read_only_logs, expect_down=True)
        report = lab.grade()
        assert failed(report) == ALL - {"test_the_policy_keeps_its_rules"}
        down = message(report, "test_kube_apiserver_is_running_and_ready")
        assert "read-only file system" in down, down
        record_apiserver_log("read-only-log-directory")
