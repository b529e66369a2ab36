"""Scenario 07 on the testbed: the setup turns auditing on and makes ServiceAccounts act with their own tokens;
the check fails after setup, the reference solution (which reads the real audit log) passes, and near-misses
(another account named, the shared Role deleted, the ServiceAccount deleted instead of its RoleBinding, a bare
account name) fail on their criterion. The original manifest is always put back."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from apiserver_scenario import ApiserverScenario
from broken_cluster import made_a_directory
from lab_attempt import failed, failed_in, kept, message
from mutation import recorded_verdicts_match

pytestmark = [pytest.mark.testbed, pytest.mark.slow, pytest.mark.restarts_apiserver]

SEED = 20261207
ANSWER = "test_the_answer_names_the_reader"
REVOKED = "test_the_reader_can_no_longer_read_the_secret"
OTHERS = "test_everyone_else_keeps_their_access"


@pytest.fixture(scope="module")
def lab(testbed, tmp_path_factory) -> Iterator[ApiserverScenario]:
    with ApiserverScenario.started("7", SEED, tmp_path_factory.mktemp("lab-state")) as lab:
        yield lab


def _culprit(lab) -> str:
    return lab.params["culprit_account"]


def test_the_audit_log_records_the_culprits_read_of_the_secret(lab):
    params = lab.params
    events = [json.loads(line) for line in Path(params["log_path"]).read_text().splitlines() if line]
    readers = {
        e["user"]["username"]
        for e in events
        if e["verb"] == "get" and e.get("objectRef", {}).get("name") == params["secret"]
    }
    assert readers == {f"system:serviceaccount:{params['namespace']}:{_culprit(lab)}"}


def test_after_setup_the_answer_and_the_revocation_fail(lab):
    report = lab.check()
    assert report["exit_code"] == 1, report
    assert failed_in(report) == {ANSWER, REVOKED}
    assert report["score"] == 2


def test_the_reference_solution_passes(lab):
    lab.solve()
    report = lab.check()
    assert report["exit_code"] == 0, report
    assert (report["verdict"], report["score"], report["max_score"]) == ("pass", 6, 6)


def test_the_recording_grades_like_the_solved_cluster(lab, shared_dir):
    recorded_verdicts_match(lab, shared_dir)


def test_with_the_answer_made_a_directory_the_check_fails_and_says_so(lab):
    with made_a_directory(Path(lab.params["answer_path"])):
        report = lab.check_broken()
    assert failed_in(report).messages[ANSWER] == f"{lab.params['answer_path']} on controlplane is not a regular file"


@pytest.fixture
def answer(lab) -> Iterator[Path]:
    with kept(Path(lab.params["answer_path"])) as path:
        yield path


def test_naming_another_account_fails_on_the_answer(lab, answer):
    innocent = next(v for k, v in lab.params.items() if k.startswith("account_") and v != _culprit(lab))
    answer.write_text(f"system:serviceaccount:{lab.params['namespace']}:{innocent}\n")
    report = lab.grade()
    assert failed(report) == {ANSWER}
    assert f"says 'system:serviceaccount:{lab.params['namespace']}:{innocent}': that is not" in message(report, ANSWER)


def test_the_bare_account_name_fails_asking_for_the_user_name(lab, answer):
    answer.write_text(_culprit(lab) + "\n")
    report = lab.grade()
    assert failed(report) == {ANSWER}
    assert "right account, but write the user name as the audit log records it" in message(report, ANSWER)


def test_deleting_the_shared_role_fails_on_everyone_else(lab):
    rbac, namespace = lab.target.kube.rbac, lab.params["namespace"]
    role = rbac.read_namespaced_role("secret-reader", namespace)
    rbac.delete_namespaced_role("secret-reader", namespace)
    try:
        report = lab.grade()
    finally:
        rbac.create_namespaced_role(namespace, {"metadata": {"name": "secret-reader"}, "rules": role.rules})
    assert failed(report) == {OTHERS}
    assert "lost their access to secrets" in message(report, OTHERS)


def test_deleting_the_service_account_instead_of_its_binding_fails_on_the_revocation(lab):
    core, rbac, namespace, culprit = lab.target.kube.core, lab.target.kube.rbac, lab.params["namespace"], _culprit(lab)
    binding = {
        "metadata": {"name": f"{culprit}-secrets"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "secret-reader"},
        "subjects": [{"kind": "ServiceAccount", "name": culprit, "namespace": namespace}],
    }
    rbac.create_namespaced_role_binding(namespace, binding)
    core.delete_namespaced_service_account(culprit, namespace)
    report = lab.grade()
    assert failed(report) == {REVOKED}
    assert "may still get secret" in message(report, REVOKED) and "RoleBinding" in message(report, REVOKED)
