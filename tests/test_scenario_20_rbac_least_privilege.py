"""Scenario 20 on the testbed: setup fails the grader, the reference solution passes it, and near-misses fail on
the criteria they miss: `resourceNames` left out, a ClusterRoleBinding where a RoleBinding belongs, `list` on pods
forgotten, the ConfigMap's Role never bound, and the old ClusterRoleBinding left in place; another correct answer
(one RoleBinding to a ClusterRole) passes too.

Seed 20261207 draws namespace ledger-husky, ServiceAccount reporter-plover, Deployment report-tundra, ConfigMap
settings-dingo (db-newt and flags-kelp not to be read), and ClusterRoleBinding legacy-mint to ClusterRole edit;
seed 20261208 (the variant) binds ClusterRole admin."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from broken_cluster import check_without_namespace
from lab_attempt import Attempt, failed, failed_in, message, started
from mutation import recorded_verdicts_match

pytestmark = [pytest.mark.testbed]

SEED = 20261207
VARIANT_SEED = 20261208
PODS = "test_the_account_can_get_and_list_pods_in_its_namespace"
CONFIG = "test_the_account_can_get_its_configmap"
OTHER_CONFIGS = "test_no_other_configmap_is_readable"
NO_CHANGES = "test_the_account_can_change_nothing_and_read_no_secret_in_its_namespace"
OUTSIDE = "test_the_account_has_no_access_outside_its_namespace"
TOKEN = "test_the_workloads_own_token_reads_what_it_needs_and_no_secret"
LABEL = {"cks-lab/scenario": "20-rbac-least-privilege"}
RBAC = "rbac.authorization.k8s.io"


@pytest.fixture(scope="module")
def lab(testbed, tmp_path_factory) -> Iterator[Attempt]:
    with started(20, SEED, tmp_path_factory.mktemp("lab-state")) as attempt:
        yield attempt


def _subjects(params: dict) -> list[dict]:
    return [{"kind": "ServiceAccount", "name": params["account"], "namespace": params["namespace"]}]


def _cluster_binding(name: str, role: str, params: dict) -> dict:
    return {
        "metadata": {"name": name, "labels": LABEL},
        "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": role},
        "subjects": _subjects(params),
    }


@contextmanager
def _role_rules(lab: Attempt, role: str, rules: list[dict]) -> Iterator[None]:
    """Role `role` of the solution with other rules for the block, then as the solution left it."""
    namespace = lab.params["namespace"]
    original = lab.kube.rbac.read_namespaced_role(role, namespace)
    lab.kube.rbac.patch_namespaced_role(role, namespace, {"rules": rules})
    try:
        yield
    finally:
        kept = lab.kube.api_client.sanitize_for_serialization(original.rules)
        lab.kube.rbac.patch_namespaced_role(role, namespace, {"rules": kept})


@contextmanager
def _without_role_binding(lab: Attempt, name: str) -> Iterator[None]:
    """RoleBinding `name` of the solution deleted for the block, then made again as it was."""
    namespace = lab.params["namespace"]
    original = lab.kube.rbac.read_namespaced_role_binding(name, namespace)
    lab.kube.rbac.delete_namespaced_role_binding(name, namespace)
    try:
        yield
    finally:
        kept = {"metadata": {"name": name}, "roleRef": original.role_ref, "subjects": original.subjects}
        lab.kube.rbac.create_namespaced_role_binding(namespace, kept)


@contextmanager
def _cluster_binding_made(lab: Attempt, name: str, role: str) -> Iterator[None]:
    """ClusterRoleBinding `name` of the account to ClusterRole `role` for the block."""
    lab.kube.rbac.create_cluster_role_binding(_cluster_binding(name, role, lab.params))
    try:
        yield
    finally:
        lab.kube.rbac.delete_cluster_role_binding(name)


def test_after_setup_the_check_fails_on_everything_the_old_binding_allows(lab):
    report = lab.check()
    assert report["exit_code"] == 1, report
    assert failed_in(report) == {OTHER_CONFIGS, NO_CHANGES, OUTSIDE, TOKEN}, report
    assert report["score"] == 3


def test_the_reference_solution_passes(lab):
    lab.solve()
    report = lab.check()
    assert (report["exit_code"], report["verdict"], report["score"]) == (0, "pass", 10), failed_in(report)


def test_the_recording_grades_like_the_solved_cluster(lab, shared_dir):
    # make it with: CKS_LAB_RECORD=1 pytest tests/test_scenario_20_rbac_least_privilege.py -k "solution or recording"
    recorded_verdicts_match(lab, shared_dir)


def test_another_correct_answer_passes_too_one_role_binding_to_a_cluster_role(lab):
    params, name = lab.params, f"{lab.params['account']}-least"
    rules = [
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["list", "get"]},
        {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": [params["config"]], "verbs": ["get"]},
    ]
    binding = {
        "metadata": {"name": name},
        "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": name},
        "subjects": _subjects(params),
    }
    lab.kube.rbac.create_cluster_role({"metadata": {"name": name, "labels": LABEL}, "rules": rules})
    try:
        with (
            _without_role_binding(lab, params["account"]),
            _without_role_binding(lab, f"{params['account']}-config"),
        ):
            lab.kube.rbac.create_namespaced_role_binding(params["namespace"], binding)
            report = lab.grade()
            lab.kube.rbac.delete_namespaced_role_binding(name, params["namespace"])
    finally:
        lab.kube.rbac.delete_cluster_role(name)
    assert failed(report) == set()


def test_leaving_out_resource_names_makes_every_configmap_readable(lab):
    every_configmap = [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}]
    with _role_rules(lab, f"{lab.params['account']}-config", every_configmap):
        report = lab.grade()
    assert failed(report) == {OTHER_CONFIGS}
    namespace, account = lab.params["namespace"], lab.params["account"]
    assert message(report, OTHER_CONFIGS) == (
        f'allowed by RoleBinding "{account}-config/{namespace}" of Role "{account}-config" to ServiceAccount '
        f'"{account}/{namespace}": get configmaps/db-newt in {namespace}, get configmaps/flags-kelp in {namespace}; '
        "expected denied: only ConfigMap settings-dingo may be read"
    )


def test_a_cluster_role_binding_instead_of_role_bindings_grants_in_every_namespace(lab):
    params, name = lab.params, f"{lab.params['account']}-everywhere"
    rules = [
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]},
        {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": [params["config"]], "verbs": ["get"]},
    ]
    lab.kube.rbac.create_cluster_role({"metadata": {"name": name, "labels": LABEL}, "rules": rules})
    try:
        with (
            _without_role_binding(lab, params["account"]),
            _without_role_binding(lab, f"{params['account']}-config"),
            _cluster_binding_made(lab, name, name),
        ):
            report = lab.grade()
    finally:
        lab.kube.rbac.delete_cluster_role(name)
    assert failed(report) == {OUTSIDE}
    account, namespace = params["account"], params["namespace"]
    assert message(report, OUTSIDE) == (
        f'allowed by ClusterRoleBinding "{name}" of ClusterRole "{name}" to ServiceAccount "{account}/{namespace}": '
        "get pods in kube-system, list pods in kube-system, get pods in default, list pods in default, "
        "get configmaps/settings-dingo in kube-system, get configmaps/settings-dingo in default, list pods; "
        f"expected denied outside Namespace {namespace}"
    )


def test_forgetting_list_on_pods_fails_the_pods_criterion_and_the_real_request(lab):
    only_get = [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]
    with _role_rules(lab, lab.params["account"], only_get):
        report = lab.grade()
    assert failed(report) == {PODS, TOKEN}
    namespace = lab.params["namespace"]
    assert message(report, PODS) == f"denied: list pods in {namespace}; expected allowed (the workload needs them)"
    assert message(report, TOKEN).startswith("requests with the token of pod report-tundra-")
    assert message(report, TOKEN).endswith(f"answered list pods in {namespace}: 403, expected 200")


def test_a_role_never_bound_grants_nothing(lab):
    with _without_role_binding(lab, f"{lab.params['account']}-config"):
        report = lab.grade()
    assert failed(report) == {CONFIG, TOKEN}
    namespace = lab.params["namespace"]
    assert message(report, CONFIG) == f"denied: get configmaps/settings-dingo in {namespace}; expected allowed"
    assert message(report, TOKEN).endswith("answered get configmaps/settings-dingo: 403, expected 200")


def test_leaving_the_old_binding_in_place_keeps_everything_it_allows(lab):
    with _cluster_binding_made(lab, "legacy-mint", "edit"):
        report = lab.grade()
    assert failed(report) == {OTHER_CONFIGS, NO_CHANGES, OUTSIDE, TOKEN}
    said = message(report, OUTSIDE)
    assert said.startswith('allowed by ClusterRoleBinding "legacy-mint" of ClusterRole "edit" to '), said
    assert message(report, TOKEN).endswith(f"answered list secrets in {lab.params['namespace']}: 200, expected 403")


def test_with_its_namespace_deleted_the_check_fails_and_reset_removes_the_students_cluster_rbac(lab):
    params, name = lab.params, "reporter-plover-reader"  # the state of the attempt is gone after the reset
    rules = [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]
    lab.kube.rbac.create_cluster_role({"metadata": {"name": name}, "rules": rules})
    binding = _cluster_binding(name, name, params)
    lab.kube.rbac.create_cluster_role_binding({**binding, "metadata": {"name": name}})
    report = check_without_namespace(lab, params["namespace"])
    said = failed_in(report).messages[PODS]
    assert said.startswith(f"namespace {params['namespace']} does not exist: it was deleted"), said
    assert lab.kube.get(lab.kube.rbac.read_cluster_role_binding, name) is None, "reset left the student's binding"
    assert lab.kube.get(lab.kube.rbac.read_cluster_role, name) is None, "reset left the student's ClusterRole"
    assert lab.kube.get(lab.kube.rbac.read_cluster_role, "edit") is not None


@pytest.mark.variants
def test_with_another_seed_the_admin_binding_fails_until_solved(testbed, tmp_path):
    with started(20, VARIANT_SEED, tmp_path) as attempt:
        assert attempt.params["old_role"] == "admin"
        attempt.assert_fails_until_solved(10)
