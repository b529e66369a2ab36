"""Scenario 14, default-deny a namespace and allow only the named flows: one test per criterion of the task.

Nothing here reads a NetworkPolicy. Every criterion is judged on connections tried from the scenario's own pods, all
at once (labs/graderlib/connections.py): the frontend, the batch job and the backend of the namespace, the scraper
and the debug pod of the labelled namespace, the scraper of the unlabelled one. "No connection" counts only because
each server is first seen answering from inside its own pod, where no NetworkPolicy applies.
"""

from dataclasses import dataclass

import pytest

from labs.errors import CannotGrade
from labs.graderlib.connections import (
    Attempt,
    Outcome,
    Source,
    connect_step,
    resolve_step,
    try_all,
    wait_for_policies_to_apply,
)
from labs.graderlib.pods import require_pod
from labs.graderlib.probes import Probe
from labs.k8s import Kube

CONTAINER = "main"
CLUSTER_NAME = "kubernetes.default.svc.cluster.local"


@dataclass(frozen=True)
class ScenarioPod:
    """A pod setup made: where, and the label the task names it by."""

    namespace: str
    name: str
    labels: dict[str, str]


def _scenario_pods(params: dict) -> dict[str, ScenarioPod]:
    here, trusted, untrusted = params["namespace"], params["trusted_namespace"], params["untrusted_namespace"]
    return {
        "backend": ScenarioPod(here, params["backend"], {"app": params["backend"]}),
        "frontend": ScenarioPod(here, params["frontend"], {"app": params["frontend"]}),
        "intruder": ScenarioPod(here, params["intruder"], {"app": params["intruder"]}),
        "scraper": ScenarioPod(trusted, params["scraper"], {"role": params["scraper"]}),
        "debug": ScenarioPod(trusted, "debug", {"role": "debug"}),
        "guest": ScenarioPod(untrusted, params["scraper"], {"role": params["scraper"]}),
    }


@pytest.fixture(scope="module")
def pod_ips(kube: Kube, params) -> dict[str, str]:
    """Each scenario pod's IP, once it is there, Ready and labelled as setup made it (the task keeps them so)."""
    ips = {}
    for key, wanted in _scenario_pods(params).items():
        pod = require_pod(kube, wanted.namespace, wanted.name)
        labels = pod.metadata.labels or {}
        changed = {k: labels.get(k) for k, v in wanted.labels.items() if labels.get(k) != v}
        assert not changed, (
            f"pod {wanted.namespace}/{wanted.name} is labelled {changed}, not {wanted.labels}: keep the pods' labels"
        )
        assert pod.status.pod_ip, f"pod {wanted.namespace}/{wanted.name} has no IP yet ({pod.status.phase})"
        ips[key] = pod.status.pod_ip
    trusted = kube.get(kube.core.read_namespace, params["trusted_namespace"])
    assert trusted is not None, f"namespace {params['trusted_namespace']} does not exist; `lab reset` sets it up again"
    team = (trusted.metadata.labels or {}).get("team")
    assert team == params["team"], (
        f"namespace {params['trusted_namespace']} is labelled team={team}, not team={params['team']}: keep its labels"
    )
    return ips


Route = tuple[str, str, str]  # (source, target, port): pods by their key in _scenario_pods, ports by parameter
ROUTES: list[Route] = [
    ("frontend", "backend", "port"),
    ("frontend", "backend", "metrics_port"),
    ("scraper", "backend", "metrics_port"),
    ("scraper", "backend", "port"),
    ("debug", "backend", "metrics_port"),
    ("guest", "backend", "metrics_port"),
    ("intruder", "backend", "port"),
    ("frontend", "scraper", "port"),
    ("backend", "scraper", "port"),
    ("intruder", "scraper", "port"),
]
SERVERS = [("backend", "port"), ("backend", "metrics_port"), ("scraper", "port")]
RESOLVERS = ["frontend", "backend", "intruder"]


@dataclass(frozen=True)
class Probes:
    """Every connection tried, by route, and every DNS lookup made, by pod."""

    connections: dict[Route, Outcome]
    lookups: dict[str, Outcome]


@pytest.fixture(scope="module")
def probes(pod_ips, kube: Kube, params, exec_probe: Probe) -> Probes:
    pods = _scenario_pods(params)
    source = {key: Source(pod.namespace, pod.name, CONTAINER) for key, pod in pods.items()}
    local = [Attempt(source[key], "127.0.0.1", params[port], f"its own port {params[port]}") for key, port in SERVERS]
    attempts = [
        Attempt(source[src], pod_ips[dst], params[port], f"{dst} {pods[dst].name}") for src, dst, port in ROUTES
    ]
    wait_for_policies_to_apply(kube, {pod.namespace for pod in pods.values()})
    results = try_all(
        exec_probe,
        [(a.source, connect_step(a.host, a.port)) for a in [*local, *attempts]]
        + [(source[key], resolve_step(CLUSTER_NAME)) for key in RESOLVERS],
    )
    outcomes = [Outcome(a, r) for a, r in zip([*local, *attempts], results, strict=False)]
    lookups = {
        key: Outcome(Attempt(source[key], CLUSTER_NAME, 53, "the cluster DNS"), r)
        for key, r in zip(RESOLVERS, results[len(outcomes) :], strict=True)
    }
    for outcome in [*outcomes, *lookups.values()]:
        if not outcome.ran:
            raise CannotGrade(outcome.describe())
    for (key, _), outcome in zip(SERVERS, outcomes, strict=False):
        assert outcome.connected, (
            f"{outcome.describe()}: the {key} must keep serving; do not change the pods (`lab reset` sets them up "
            "again)"
        )
    return Probes(dict(zip(ROUTES, outcomes[len(SERVERS) :], strict=True)), lookups)


def _check(probes: Probes, expected: dict[Route, bool]) -> None:
    """Fails with every route whose outcome differs from the expected one (True: a connection)."""
    wrong = [
        f"{probes.connections[route].describe()}, expected {'a connection' if wanted else 'none'}"
        for route, wanted in expected.items()
        if probes.connections[route].connected != wanted
    ]
    assert not wrong, "; ".join(wrong)


@pytest.mark.points(3)
def test_by_default_no_pod_of_the_namespace_accepts_or_opens_a_connection(probes):
    """By default no Pod of {namespace} accepts a connection or opens one (ingress and egress denied)"""
    _check(
        probes,
        {
            ("intruder", "backend", "port"): False,
            ("frontend", "scraper", "port"): False,
            ("backend", "scraper", "port"): False,
            ("intruder", "scraper", "port"): False,
        },
    )


@pytest.mark.points(2)
def test_the_frontend_reaches_the_backend_on_its_api_port_only(probes):
    """Pods labelled app={frontend} connect to the backend on TCP port {port} and on no other port"""
    _check(probes, {("frontend", "backend", "port"): True, ("frontend", "backend", "metrics_port"): False})


@pytest.mark.points(3)
def test_only_the_scrapers_of_the_labelled_namespaces_reach_the_metrics_port(probes):
    """Pods labelled role={scraper} in Namespaces labelled team={team} connect to the backend on TCP port
    {metrics_port} and on no other port; other Pods of those Namespaces and role={scraper} Pods elsewhere cannot"""
    _check(
        probes,
        {
            ("scraper", "backend", "metrics_port"): True,
            ("scraper", "backend", "port"): False,
            ("debug", "backend", "metrics_port"): False,
            ("guest", "backend", "metrics_port"): False,
        },
    )


@pytest.mark.points(2)
def test_every_pod_of_the_namespace_still_resolves_dns_names(probes):
    """Every Pod of {namespace} still resolves DNS names through the cluster DNS"""
    failed = [
        f"{outcome.attempt.source} could not resolve {CLUSTER_NAME} ({outcome.result.output or 'no answer'})"
        for outcome in probes.lookups.values()
        if not outcome.connected
    ]
    assert not failed, "; ".join(failed) + "; expected every lookup to succeed (egress to UDP and TCP port 53)"
