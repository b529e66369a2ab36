"""Scenario 06 on the testbed: setup fails the grader, the reference solution passes it, and near-misses fail on
the criterion they miss. Policy mistakes are proven without restarting kube-apiserver (the grader judges the file
it would load). Three restarts in all: the solution; a policy refused at startup, which takes kube-apiserver down
(the only way to see its health criterion fail); and the reset, which brings it back with the original manifest. A
wrong flag and a wrong mount (one restart together) are proven under the `variants` marker."""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from apiserver_scenario import ApiserverScenario, same_manifest
from broken_cluster import made_a_directory
from lab_attempt import failed, failed_in, kept, message
from mutation import recorded_verdicts_match

from labs.graderlib.apiserver import APISERVER_MANIFEST

pytestmark = [pytest.mark.testbed, pytest.mark.slow, pytest.mark.restarts_apiserver]

SEED = 20261206
LEVELS = {
    "test_deletions_of_the_pod_are_not_logged",
    "test_secrets_are_logged_at_metadata",
    "test_the_resource_is_logged_at_request_response",
    "test_every_other_request_is_logged_at_the_catch_all_level",
}
FLAGS = {"test_kube_apiserver_runs_with_the_policy_and_the_log_path", "test_kube_apiserver_rotates_the_log"}
ALL = {
    "test_kube_apiserver_is_running_and_ready",
    *FLAGS,
    "test_policy_is_mounted_read_only_and_the_log_directory_writable",
    "test_kube_apiserver_accepts_the_policy",
    *LEVELS,
    "test_probe_requests_appear_in_the_log_at_their_levels",
}


@pytest.fixture(scope="module")
def lab(testbed, tmp_path_factory) -> Iterator[ApiserverScenario]:
    with ApiserverScenario.started("6", SEED, tmp_path_factory.mktemp("lab-state")) as lab:
        yield lab


@pytest.fixture
def policy_file(lab) -> Iterator[Path]:
    """The solved policy file; put back after the test."""
    with kept(Path(lab.params["policy_path"])) as path:
        yield path


def test_after_setup_everything_but_a_healthy_apiserver_fails(lab):
    report = lab.check()
    assert report["exit_code"] == 1, report
    assert (report["scenario"], report["verdict"], report["score"]) == ("06-audit-logging", "fail", 1)
    assert failed_in(report) == ALL - {"test_kube_apiserver_is_running_and_ready"}


def test_the_reference_solution_passes(lab):
    lab.solve()
    report = lab.check()
    assert report["exit_code"] == 0, report
    assert (report["verdict"], report["score"], report["max_score"]) == ("pass", 12, 12)


POLICY = "apiVersion: audit.k8s.io/v1\nkind: Policy\n"


def test_the_recording_grades_like_the_solved_cluster(lab, shared_dir):
    recorded_verdicts_match(lab, shared_dir)


def test_with_the_policy_made_a_directory_the_check_fails_and_says_so(lab):
    with made_a_directory(Path(lab.params["policy_path"])):
        report = lab.check_broken()
    said = failed_in(report).messages["test_kube_apiserver_accepts_the_policy"]
    assert f"read {lab.params['policy_path']}: is a directory" in said, said


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        pytest.param(POLICY + "rules:\n- level: Metadata\n  verbs: [get\n", "yaml: line 5", id="invalid-yaml"),
        pytest.param(
            POLICY.replace("v1", "v1beta1") + "rules:\n- level: Metadata\n",
            'no kind "Policy" is registered for version "audit.k8s.io/v1beta1"',
            id="wrong-api-version",
        ),
        pytest.param(POLICY + "rules:\n- level: Metdata\n", 'Unsupported value: "Metdata"', id="unknown-level"),
    ],
)
def test_a_policy_kube_apiserver_refuses_fails_with_its_error(lab, policy_file, policy, expected):
    lab.require_solved()
    policy_file.write_text(policy)
    report = lab.grade()
    assert failed(report) == LEVELS | {"test_kube_apiserver_accepts_the_policy"}
    verdict = message(report, "test_kube_apiserver_accepts_the_policy")
    assert "REFUSED: kube-apiserver would exit at startup" in verdict and expected in verdict, verdict
    assert expected in message(report, "test_secrets_are_logged_at_metadata")


def test_a_misspelled_field_is_dropped_and_the_verdict_says_so(lab, policy_file):
    lab.require_solved()
    policy_file.write_text(policy_file.read_text().replace("  namespaces:", "  namespace:"))
    report = lab.grade()
    # the rule then hides the pod's deletion in every namespace, which the catch-all criterion's corpus meets too
    assert failed(report) == {
        "test_deletions_of_the_pod_are_not_logged",
        "test_every_other_request_is_logged_at_the_catch_all_level",
    }
    text = message(report, "test_deletions_of_the_pod_are_not_logged")
    pod = lab.params["pod"]
    assert f"'kubernetes-admin' delete pods {pod!r} in namespace 'default': None (rule 1), expected" in text, text
    assert 'unknown field "rules[0].namespace"' in text and "did you mean 'namespaces'?" in text, text
    other = message(report, "test_every_other_request_is_logged_at_the_catch_all_level")
    assert f"'alice' delete pods {pod!r} in namespace 'cks-lab-other': None (rule 1)" in other, other


def test_secrets_at_request_level_fail_on_the_secrets_criterion(lab, policy_file):
    lab.require_solved()
    policy = yaml.safe_load(policy_file.read_text())
    policy["rules"][1]["level"] = "Request"
    policy_file.write_text(yaml.safe_dump(policy))
    report = lab.grade()
    assert failed(report) == {"test_secrets_are_logged_at_metadata"}
    assert "get secrets 'db-credentials' in namespace" in message(report, "test_secrets_are_logged_at_metadata")
    assert ": Request (rule 2), expected Metadata" in message(report, "test_secrets_are_logged_at_metadata")


def test_a_policy_refused_at_startup_takes_the_apiserver_down_and_the_check_says_why(lab):
    Path(lab.params["policy_path"]).write_text(POLICY + "rules:\n- level: Metdata\n")  # down until the reset

    def restart(manifest: dict) -> None:
        manifest["spec"]["containers"][0]["command"].append("--audit-log-format=json")

    lab.restart_apiserver(restart, expect_down=True)
    report = lab.grade()
    assert failed(report) == ALL - {"test_policy_is_mounted_read_only_and_the_log_directory_writable"}
    down = message(report, "test_kube_apiserver_is_running_and_ready")
    assert "not ready" in down and 'Unsupported value: "Metdata"' in down, down
    assert message(report, "test_kube_apiserver_runs_with_the_policy_and_the_log_path").startswith(
        "kube-apiserver is not running and ready"
    )


def test_reset_brings_the_down_apiserver_back_with_the_original_manifest(lab):
    reset = lab.run("reset", "--clean")
    assert reset.returncode == 0, reset.stderr
    assert same_manifest(Path(APISERVER_MANIFEST).read_text(), lab.original_manifest)
    assert lab.apiserver().healthy


@pytest.mark.variants
def test_a_writable_policy_mount_and_a_missing_flag_fail_on_their_criteria(testbed, tmp_path):
    with ApiserverScenario.started("6", SEED, tmp_path) as lab:
        lab.solve()
        _mount_and_flag_near_miss(lab)


def _mount_and_flag_near_miss(lab: ApiserverScenario) -> None:
    def near_miss(manifest: dict) -> None:
        container = manifest["spec"]["containers"][0]
        container["command"] = [arg for arg in container["command"] if not arg.startswith("--audit-log-maxbackup")]
        log_path, log_directory = lab.params["log_path"], posixpath.dirname(lab.params["log_path"])
        for mount in container["volumeMounts"]:
            if mount["mountPath"] == lab.params["policy_path"]:
                mount.pop("readOnly")
            if mount["mountPath"] == log_directory:  # the log file alone: its rotated backups would stay inside
                mount["mountPath"] = log_path
                volume = next(v for v in manifest["spec"]["volumes"] if v["name"] == mount["name"])
                volume["hostPath"] = {"path": log_path, "type": "FileOrCreate"}

    lab.restart_apiserver(near_miss)
    report = lab.grade()
    assert failed(report) == {
        "test_kube_apiserver_rotates_the_log",
        "test_policy_is_mounted_read_only_and_the_log_directory_writable",
    }
    assert message(report, "test_kube_apiserver_rotates_the_log") == (
        "the running kube-apiserver has no --audit-log-maxbackup"
    )
    mounts = message(report, "test_policy_is_mounted_read_only_and_the_log_directory_writable")
    assert "is writable, expected readOnly: true" in mounts
    assert "only the file is mounted: rotated logs would be written inside the container and lost" in mounts
