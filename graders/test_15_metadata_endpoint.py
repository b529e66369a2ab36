"""Scenario 15, protect the node metadata endpoint: one test per criterion of the task.

Nothing here reads a NetworkPolicy. Each criterion is judged on connections tried from the namespace's pods, all at
once (labs/graderlib/connections.py): to the endpoint, and to the other namespace's Service by its DNS name (a name
that resolves and a server that answers: DNS and other egress both work). "No connection" to the endpoint counts
only because the node itself is first seen reading it.
"""

from dataclasses import dataclass

import pytest

from labs.errors import CannotGrade
from labs.graderlib.connections import (
    Attempt,
    Outcome,
    Source,
    connect_step,
    try_all,
    wait_for_policies_to_apply,
)
from labs.graderlib.pods import require_pod
from labs.graderlib.probes import Probe
from labs.k8s import Kube

CONTAINER = "main"
CLIENTS = ("web", "worker", "agent")  # the parameters naming the namespace's pods


@pytest.fixture(scope="module")
def endpoint_answers(node, params) -> None:
    """The endpoint answers on the node, so that a pod's failed connection is the policy's doing."""
    url = f"http://{params['endpoint']}/"
    answer = node("controlplane").run(f"curl -s -o /dev/null -w '%{{http_code}}' --noproxy '*' --max-time 3 {url}")
    if answer.stdout.strip() != "200":
        raise CannotGrade(f"the metadata endpoint {url} does not answer on the node ({answer.stdout or answer.stderr})")


@pytest.fixture(scope="module")
def clients(kube: Kube, params) -> dict[str, Source]:
    """The namespace's pods, there, Ready and labelled as setup made them (the task keeps them so)."""
    sources = {}
    for key in CLIENTS:
        pod = require_pod(kube, params["namespace"], params[key])
        wanted = {"app": params[key]} | ({"role": params["role"]} if key == "agent" else {})
        labels = pod.metadata.labels or {}
        changed = {k: labels.get(k) for k, v in wanted.items() if labels.get(k) != v}
        assert not changed, f"pod {params[key]} is labelled {changed}, not {wanted}: keep the pods' labels"
        sources[key] = Source(params["namespace"], params[key], CONTAINER)
    return sources


@dataclass(frozen=True)
class Probes:
    """Each pod's connection to the endpoint and to the other namespace's Service."""

    endpoint: dict[str, Outcome]
    service: dict[str, Outcome]


@pytest.fixture(scope="module")
def probes(endpoint_answers, clients, kube: Kube, params, exec_probe: Probe) -> Probes:
    service = f"{params['service']}.{params['tools_namespace']}.svc.cluster.local"
    to_endpoint = [Attempt(clients[key], params["endpoint"], 80, "the metadata endpoint") for key in CLIENTS]
    to_service = [Attempt(clients[key], service, 80, f"Service {params['service']}") for key in CLIENTS]
    wait_for_policies_to_apply(kube, [params["namespace"]])
    attempts = [*to_endpoint, *to_service]
    results = try_all(exec_probe, [(a.source, connect_step(a.host, a.port)) for a in attempts])
    outcomes = [Outcome(a, r) for a, r in zip(attempts, results, strict=True)]
    for outcome in outcomes:
        if not outcome.ran:
            raise CannotGrade(outcome.describe())
    return Probes(
        dict(zip(CLIENTS, outcomes[:3], strict=True)),
        dict(zip(CLIENTS, outcomes[3:], strict=True)),
    )


@pytest.mark.points(4)
def test_pods_without_the_label_cannot_reach_the_metadata_endpoint(probes):
    """No Pod of {namespace} without the label role={role} connects to {endpoint}"""
    reached = [probes.endpoint[key].describe() for key in ("web", "worker") if probes.endpoint[key].connected]
    assert not reached, "; ".join(reached) + ", expected none"


@pytest.mark.points(3)
def test_pods_with_the_label_still_reach_the_metadata_endpoint(probes):
    """Pods of {namespace} labelled role={role} still connect to {endpoint}"""
    outcome = probes.endpoint["agent"]
    assert outcome.connected, f"{outcome.describe()}, expected a connection"


@pytest.mark.points(3)
def test_all_other_egress_keeps_working(probes, params):
    """The Pods of {namespace} still resolve DNS names and reach Service {service} in {tools_namespace} on port 80"""
    failed = [outcome.describe() for outcome in probes.service.values() if not outcome.connected]
    assert not failed, "; ".join(failed) + "; expected every pod to reach it by its DNS name"
