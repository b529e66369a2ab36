"""Scenario 06, enable audit logging: one test per criterion of the task.

The flags are those of the kube-apiserver process running on the node; the policy is the file that process reads
(found through the manifest's hostPath mounts), loaded and evaluated the way kube-apiserver does, so any equivalent
policy passes. Each level criterion judges the requests the task names, and every request of a corpus made of what
the policy itself names (labs.graderlib.audit.request_corpus) that the task puts in its class: a rule that reaches
further or less far than asked meets one. The log is judged by this grading's own probe requests, found in the log
file on the node.
"""

from __future__ import annotations

import posixpath

import pytest

from labs.audit.model import Request
from labs.graderlib.apiserver import modified_after_start, wrong_running_flags
from labs.graderlib.audit import (
    AuditProbe,
    LevelCase,
    ProbeRequest,
    audit_log_on_node,
    policy_levels_problem,
    probe_levels_problems,
    request_corpus,
)

RESOURCES = {  # resource -> (API group, apiVersion, kind, extra fields of a minimal object)
    "configmaps": ("", "v1", "ConfigMap", {}),
    "serviceaccounts": ("", "v1", "ServiceAccount", {}),
    "roles": ("rbac.authorization.k8s.io", "rbac.authorization.k8s.io/v1", "Role", {"rules": []}),
}
USERS = (
    ("kubernetes-admin", ("kubeadm:cluster-admins", "system:authenticated")),
    ("system:serviceaccount:kube-system:namespace-controller", ("system:serviceaccounts", "system:authenticated")),
    ("alice", ("developers", "system:authenticated")),
)
OTHER_NAMESPACE = "default"


def _request(verb: str, resource: str, namespace: str = "", name: str = "", group: str = "", **kw: str) -> list:
    return [
        Request(user=user, groups=groups, verb=verb, api_group=group, resource=resource, namespace=namespace,
                name=name, **kw)
        for user, groups in USERS
    ]  # fmt: skip


def _collection(group: str, namespace: str, resource: str) -> str:
    prefix = f"/apis/{group}/v1" if group else "/api/v1"
    return f"{prefix}/namespaces/{namespace}/{resource}"


def _class_of(request: Request, params: dict) -> tuple[str, str]:
    """The task's class of a resource request and the level it asks for it."""
    resource = (request.api_group, request.combined_resource)
    if (
        resource == ("", "pods")
        and request.verb == "delete"
        and (request.namespace, request.name)
        == (
            params["namespace"],
            params["pod"],
        )
    ):
        return "the pod's deletion", "None"
    if resource == ("", "secrets"):
        return "secrets", "Metadata"
    if resource == (params["resource_group"], params["resource"]):
        return "the resource", "RequestResponse"
    return "every other request", params["catch_all"]


def _assert_levels(result, cases: list[LevelCase], params: dict, task_class: str) -> None:
    """The named cases, and the corpus requests of the task's class `task_class`, get their levels."""
    asked = [case.request for case in cases]
    corpus = request_corpus(result.policy, USERS, asked)
    cases = cases + [
        LevelCase(r, level) for r in corpus for name, level in [_class_of(r, params)] if name == task_class
    ]  # fmt: skip
    problem = policy_levels_problem(result, cases)
    assert not problem, problem


@pytest.mark.points(1)
def test_kube_apiserver_is_running_and_ready(apiserver):
    """kube-apiserver is running with the manifest's flags and ready"""
    assert apiserver.healthy, apiserver.describe()


@pytest.mark.points(2)
def test_kube_apiserver_runs_with_the_policy_and_the_log_path(running_flags, params):
    """The running kube-apiserver has --audit-policy-file={policy_path} and --audit-log-path={log_path}"""
    wrong = wrong_running_flags(
        running_flags, {"audit-policy-file": params["policy_path"], "audit-log-path": params["log_path"]}
    )
    assert not wrong, wrong


@pytest.mark.points(1)
def test_kube_apiserver_rotates_the_log(running_flags, params):
    """The running kube-apiserver keeps logs {maxage} days, {maxbackup} old files, rotating at {maxsize} MB"""
    wanted = {f"audit-log-{name}": str(params[name]) for name in ("maxage", "maxbackup", "maxsize")}
    wrong = wrong_running_flags(running_flags, wanted)
    assert not wrong, wrong


@pytest.mark.points(1)
def test_policy_is_mounted_read_only_and_the_log_directory_writable(apiserver_manifest, params):
    """{policy_path} is mounted read-only and the log's directory writable, from the same paths on the node"""
    manifest, problems = apiserver_manifest, []
    policy, log = params["policy_path"], params["log_path"]
    policy_mount = manifest.mount_for(policy)
    if manifest.host_path_for(policy) != policy:
        problems.append(f"{policy} inside the container is {manifest.host_path_for(policy) or 'not on a hostPath'}")
    elif not policy_mount.read_only:
        problems.append(f"the mount of {policy} ({policy_mount.mount_path}) is writable, expected readOnly: true")
    log_directory = posixpath.dirname(log)
    if manifest.host_path_for(log_directory) != log_directory:
        seen = manifest.host_path_for(log_directory) or "not on a hostPath"
        file_only = (
            " (only the file is mounted: rotated logs would be written inside the container and lost)"
            if (manifest.host_path_for(log) == log)
            else ""
        )
        problems.append(f"{log_directory} inside the container is {seen}{file_only}")
    elif not manifest.is_writable(log_directory):
        problems.append(f"the mount of {log_directory} ({manifest.mount_for(log_directory).mount_path}) is read-only")
    problems += [f"dropped by the kubelet: {warning}" for warning in manifest.warnings if "volume" in warning.lower()]
    assert not problems, "; ".join(problems)


@pytest.mark.points(1)
def test_kube_apiserver_accepts_the_policy(audit_policy_result):
    """kube-apiserver loads the policy file"""
    path, result = audit_policy_result
    assert not result.refused, f"{path}: {result.verdict()}"


@pytest.mark.points(1)
def test_deletions_of_the_pod_are_not_logged(audit_policy, params):
    """Deleting pod {pod} in namespace {namespace} is not logged; other deletions are"""
    pod, namespace, other = params["pod"], params["namespace"], params["catch_all"]
    cases = [LevelCase(r, "None") for r in _request("delete", "pods", namespace, pod)]
    cases += [LevelCase(r, other) for r in _request("delete", "pods", namespace, f"{pod}-2")]
    cases += [LevelCase(r, other) for r in _request("delete", "pods", OTHER_NAMESPACE, pod)]
    cases += [LevelCase(r, other) for r in _request("get", "pods", namespace, pod)]
    _assert_levels(audit_policy, cases, params, "the pod's deletion")


@pytest.mark.points(1)
def test_secrets_are_logged_at_metadata(audit_policy, params):
    """Requests for secrets, in every namespace, are logged at level Metadata"""
    cases = [
        LevelCase(r, "Metadata")
        for verb in ("get", "list", "watch", "create", "update", "patch", "delete")
        for namespace in (params["namespace"], "kube-system")
        for r in _request(verb, "secrets", namespace, "db-credentials" if verb in ("get", "delete") else "")
    ]
    cases += [LevelCase(r, "Metadata") for r in _request("list", "secrets")]
    _assert_levels(audit_policy, cases, params, "secrets")


@pytest.mark.points(1)
def test_the_resource_is_logged_at_request_response(audit_policy, params):
    """Requests for {resource}, in every namespace, are logged at level RequestResponse"""
    group = params["resource_group"]
    cases = [
        LevelCase(r, "RequestResponse")
        for verb in ("get", "list", "create", "update", "patch", "delete")
        for namespace in (params["namespace"], OTHER_NAMESPACE)
        for r in _request(verb, params["resource"], namespace, group=group)
    ]
    _assert_levels(audit_policy, cases, params, "the resource")


@pytest.mark.points(1)
def test_every_other_request_is_logged_at_the_catch_all_level(audit_policy, params):
    """Every other request is logged at level {catch_all}"""
    namespace = params["namespace"]
    requests = [
        *_request("get", "pods", namespace, params["pod"]),
        *_request("list", "pods"),
        *_request("create", "deployments", OTHER_NAMESPACE, group="apps"),
        *_request("list", "nodes"),
        *_request("get", "namespaces", name=namespace),
        *_request("patch", "clusterroles", name="view", group="rbac.authorization.k8s.io"),
        *_request("get", "pods", namespace, params["pod"], subresource="log"),
        Request(user="alice", groups=("system:authenticated",), verb="get", path="/version"),
    ]
    _assert_levels(audit_policy, [LevelCase(r, params["catch_all"]) for r in requests], params, "every other request")


@pytest.mark.points(2)
def test_probe_requests_appear_in_the_log_at_their_levels(
    controlplane, grading_context, apiserver, running_flags, apiserver_manifest, params
):
    """Fresh requests appear in {log_path} on the node at the required levels"""
    assert apiserver.healthy, f"no requests can be made: {apiserver.describe()}"
    log_on_node = audit_log_on_node(running_flags, apiserver_manifest)
    namespace, pod, resource = params["namespace"], params["pod"], params["resource"]
    group, api_version, kind, extra = RESOURCES[resource]
    probe = AuditProbe(grading_context.target.kube, controlplane, log_on_node)
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": probe.name}, "data": {"k": "cHJvYmU="}}
    created = {"apiVersion": api_version, "kind": kind, "metadata": {"name": probe.name}, **extra}
    dry_run = (("dryRun", "All"),)
    problems = probe_levels_problems(
        probe,
        [
            ProbeRequest(
                f"delete pod {pod} in {namespace}", "DELETE", f"{_collection('', namespace, 'pods')}/{pod}", "None",
                query=dry_run,
            ),
            ProbeRequest(
                f"create secret {probe.name}", "POST", _collection("", namespace, "secrets"), "Metadata", secret,
                dry_run,
            ),
            ProbeRequest(
                f"create {resource} {probe.name}", "POST", _collection(group, namespace, resource), "RequestResponse",
                created, dry_run,
            ),
            ProbeRequest(f"get namespace {namespace}", "GET", f"/api/v1/namespaces/{namespace}", params["catch_all"]),
        ],
    )  # fmt: skip
    stale = ""
    policy_on_node = apiserver_manifest.host_path_for(running_flags.get("audit-policy-file", ""))
    if problems and policy_on_node and modified_after_start(controlplane, policy_on_node):
        stale = f" ({policy_on_node} changed after kube-apiserver started: it reads the policy only at startup)"
    assert not problems, f"in {log_on_node} (probes with User-Agent {probe.marker}): {'; '.join(problems)}{stale}"
