"""Scenario 05, find the workload Falco alerts on and stop it: one test per criterion of the task.

Which workload misbehaves follows from the attempt's parameters (`culprit`); that Falco's default rules alert on it
and on no other is proven with labs.falco in tests/test_scenario_05_falco_investigation_units.py. There is no live
criterion on Falco's alerts: they show what setup started, not what the student did, and where Falco cannot run
(the testbed) such a criterion would turn every correct answer into "not judged". Pods of a Deployment are
`<replicaset>-<5 characters>`; setup recorded each namespace's Deployments (uids) and ReplicaSets, so that a pod
named in the answer is attributed to its Deployment even after the scale-down removed it.
"""

from __future__ import annotations

import re

import pytest

from labs.graderlib.answers import answer_line, answer_lines
from labs.graderlib.deployments import disturbed_deployments, original_deployment_uids, wait_for_scale_down
from labs.graderlib.pods import SETTLE_SECONDS, original_pod_uids, recorded_by_setup
from labs.k8s import Kube

ORIGINAL_REPLICASETS = "cks-lab/original-replicasets"
POD_SUFFIX = re.compile(r"-[bcdfghjklmnpqrstvwxz2456789]{5}")  # what a ReplicaSet appends to its name


def workload(params: dict, slot: str) -> tuple[str, str]:
    """(namespace, deployment) of a slot (derived in scenario.yaml)."""
    namespace, name = params["workloads"][slot]
    return namespace, name


def replica_sets(kube: Kube, namespace: str) -> dict[str, str]:
    """ReplicaSet name -> the Deployment owning it: those setup recorded and those in the namespace now."""
    owners = dict(recorded_by_setup(kube, namespace, ORIGINAL_REPLICASETS))
    for rs in kube.apps.list_namespaced_replica_set(namespace, _request_timeout=15).items:
        owner = next((ref.name for ref in rs.metadata.owner_references or [] if ref.kind == "Deployment"), None)
        if owner:
            owners[rs.metadata.name] = owner
    return owners


def owner_of(pod: str, owners: dict[str, str]) -> str | None:
    """The Deployment whose ReplicaSet named the pod, None when no ReplicaSet of the namespace did."""
    for rs, deployment in owners.items():
        if pod.startswith(rs) and POD_SUFFIX.fullmatch(pod, len(rs)):
            return deployment
    return None


@pytest.fixture(scope="module")
def named(node, params) -> tuple[str, str]:
    """(namespace, pod) from line 1 of the answer file."""
    line = answer_line(answer_lines(node("controlplane"), params["answer"]), 1, params["answer"], "namespace,pod")
    fields = [field.strip() for field in line.split(",")]
    if len(fields) != 2 or not all(fields):
        slash = " (a slash, as kubectl prints it; write a comma)" if "/" in line and "," not in line else ""
        pytest.fail(f"line 1 is {line!r}{slash}; expected two fields: namespace,pod", pytrace=False)
    return fields[0], fields[1]


@pytest.fixture(scope="module")
def culprit(params: dict) -> tuple[str, str]:
    return params["culprit_namespace"], params["culprit_name"]


@pytest.mark.points(2)
def test_the_answer_names_a_pod_of_the_workload_falco_alerts_on(kube: Kube, params, named, culprit):
    """Line 1 of {answer} names a pod of the workload Falco alerts on, as namespace,pod"""
    namespace, pod = named
    namespaces = (params["shop"], params["billing"])
    assert namespace in namespaces, (
        f"line 1 names namespace {namespace}; the workloads run in {namespaces[0]} and {namespaces[1]}"
    )
    owner = owner_of(pod, replica_sets(kube, namespace))
    assert owner is not None, (
        f"pod {pod} was never a pod of a Deployment in namespace {namespace}; write the pod the alerts name "
        "(k8s_pod_name), a name like <deployment>-<hash>-<5 characters>"
    )
    assert (namespace, owner) == culprit, (
        f"pod {pod} belongs to Deployment {owner}, which Falco does not alert on; the alerts name the pods of "
        "another workload"
    )


@pytest.mark.points(3)
def test_the_deployment_of_that_workload_is_scaled_to_zero_and_kept(kube: Kube, culprit):
    """The Deployment of the workload Falco alerts on still exists, scaled to 0 replicas, with no pod left"""
    namespace, name = culprit
    scaled = wait_for_scale_down(kube, namespace, name)
    assert scaled is not None, (
        f"the Deployment of the workload Falco alerts on no longer exists in namespace {namespace}; scale it to 0 "
        "replicas instead of deleting it, so that it is kept for the investigation"
    )
    assert scaled.deployment.metadata.uid == original_deployment_uids(kube, namespace).get(name), (
        "the Deployment of the workload Falco alerts on was deleted and created again; scale the one that was "
        "there to 0 replicas"
    )
    running = [pod for pod in scaled.pods if pod.metadata.deletion_timestamp is None]
    originals = original_pod_uids(kube, namespace)
    replaced = [pod for pod in running if originals.get(pod.metadata.name) != pod.metadata.uid]
    comeback = (
        f", {len(replaced)} of them started in place of deleted ones (its ReplicaSet replaces a deleted pod)"
        if replaced
        else ""
    )
    assert scaled.replicas == 0, (
        f"the Deployment of the workload Falco alerts on still wants {scaled.replicas} replica(s) and runs "
        f"{len(running)} pod(s){comeback}; scale the Deployment to 0 replicas"
    )
    assert not scaled.pods, (
        f"the Deployment of the workload Falco alerts on is scaled to 0, but {len(scaled.pods)} of its pods still "
        f"exist after {SETTLE_SECONDS} s"
    )


@pytest.mark.points(3)
def test_every_other_deployment_is_untouched_and_available(kube: Kube, params, culprit):
    """Every other Deployment is left as setup created it ({replicas} replicas, its Pod template), all replicas
    available"""
    others = [workload(params, slot) for slot in params["workloads"] if workload(params, slot) != culprit]
    problems = [
        f"Deployment {d.name} in {d.namespace}: {', '.join(d.changes)}"
        if d.changes
        else f"Deployment {d.name} in {d.namespace} is not fully available: {d.unavailable}"
        for d in disturbed_deployments(kube, others, params["replicas"])
    ]
    assert not problems, f"{'; '.join(problems)}; only the workload Falco alerts on is scaled down"
