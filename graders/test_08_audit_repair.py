"""Scenario 08, repair kube-apiserver after a broken audit logging change: one test per criterion of the task.

kube-apiserver is judged on the node (the running process, /readyz, and when it is down the reason from its
container's log, the manifest and the policy); the policy as kube-apiserver loads and evaluates it, on the requests
the task names and on a corpus made of what the policy itself names (labs.graderlib.audit.request_corpus): a rule
that reaches further or less far than the colleague's meets one of them; the log by this grading's own probe
requests, found in the log file on the node.
"""

from __future__ import annotations

import pytest

from labs.audit.model import Request
from labs.graderlib.apiserver import wrong_running_flags
from labs.graderlib.audit import (
    AuditProbe,
    LevelCase,
    ProbeRequest,
    audit_log_on_node,
    policy_levels_problem,
    probe_levels_problems,
    request_corpus,
)

USER = ("jane", ("system:authenticated",))
NAMESPACE = "default"


def _request(verb: str, resource: str, group: str = "", name: str = "", namespace: str = NAMESPACE) -> Request:
    user, groups = USER
    return Request(user, groups, verb, group, resource, namespace=namespace, name=name)


def _colleagues_level(request: Request) -> str:
    """The level the colleague's rules give a resource request: events None, secrets and configmaps Metadata,
    deployments Request, the rest Metadata."""
    resource = (request.api_group, request.combined_resource)
    if resource == ("", "events"):
        return "None"
    if resource == ("apps", "deployments"):
        return "Request"
    return "Metadata"


@pytest.mark.points(3)
def test_kube_apiserver_is_running_and_ready(apiserver):
    """kube-apiserver is running with the manifest's flags and ready"""
    assert apiserver.healthy, apiserver.describe()


@pytest.mark.points(1)
def test_kube_apiserver_audits_with_the_policy_to_the_log(running_flags, params):
    """The running kube-apiserver has --audit-policy-file={policy_path} and --audit-log-path={log_path}"""
    wrong = wrong_running_flags(
        running_flags, {"audit-policy-file": params["policy_path"], "audit-log-path": params["log_path"]}
    )
    assert not wrong, f"{wrong}; audit logging must stay on"


@pytest.mark.points(2)
def test_the_policy_keeps_its_rules(audit_policy):
    """The policy still logs events at None, secrets and configmaps at Metadata, deployments at Request, the rest
    at Metadata"""
    cases = [
        LevelCase(_request("list", "events"), "None"),
        LevelCase(_request("get", "secrets", name="db"), "Metadata"),
        LevelCase(_request("update", "configmaps", name="settings"), "Metadata"),
        LevelCase(_request("create", "deployments", group="apps"), "Request"),
        LevelCase(_request("get", "pods", name="web"), "Metadata"),
        LevelCase(_request("list", "nodes", namespace=""), "Metadata"),
    ]
    corpus = request_corpus(audit_policy.policy, [USER], [case.request for case in cases])
    problem = policy_levels_problem(audit_policy, cases + [LevelCase(r, _colleagues_level(r)) for r in corpus])
    assert not problem, problem
    omitted = audit_policy.policy.omit_stages
    assert omitted == ("RequestReceived",), f"the policy omits stages {list(omitted)}, expected ['RequestReceived']"


@pytest.mark.points(2)
def test_probe_requests_appear_in_the_log(controlplane, grading_context, apiserver, running_flags, apiserver_manifest):
    """Fresh requests appear in {log_path} on the node at their levels"""
    log_on_node = audit_log_on_node(running_flags, apiserver_manifest)
    probe = AuditProbe(grading_context.target.kube, controlplane, log_on_node)
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": probe.name}, "data": {"k": "cHJvYmU="}}
    problems = probe_levels_problems(
        probe,
        [
            ProbeRequest(
                f"create secret {probe.name}", "POST", f"/api/v1/namespaces/{NAMESPACE}/secrets", "Metadata", secret,
                (("dryRun", "All"),),
            ),
            ProbeRequest(f"list events in {NAMESPACE}", "GET", f"/api/v1/namespaces/{NAMESPACE}/events", "None"),
            ProbeRequest(f"get namespace {NAMESPACE}", "GET", f"/api/v1/namespaces/{NAMESPACE}", "Metadata"),
        ],
    )  # fmt: skip
    assert not problems, f"in {log_on_node} (probes with User-Agent {probe.marker}): {'; '.join(problems)}"
