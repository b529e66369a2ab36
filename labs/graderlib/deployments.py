"""Judging what a student did to the Deployments a scenario's setup created: scaled one to 0 (and are its pods
really gone?), or left the others alone (not deleted, recreated, scaled, or edited). Setup records the uids of the
Deployments it created in the namespace annotation `cks-lab/original-deployments` (a JSON object name -> uid)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from labs.graderlib.pods import SETTLE_SECONDS, recorded_by_setup
from labs.graderlib.rollout import REVISION, wait_for_rollout
from labs.k8s import Kube

ORIGINAL_DEPLOYMENTS_ANNOTATION = "cks-lab/original-deployments"
OBSERVE_SECONDS = 15  # for the deployment controller to see a change just made (longer on a busy cluster)


def original_deployment_uids(kube: Kube, namespace: str) -> dict[str, str]:
    """Deployment name -> uid, as setup recorded them in the namespace (CannotGrade when setup did not)."""
    return recorded_by_setup(kube, namespace, ORIGINAL_DEPLOYMENTS_ANNOTATION)


def deployment_pods(kube: Kube, deployment: Any) -> list[Any]:
    """Every pod of every ReplicaSet the Deployment owns (any revision), terminating ones included: their
    processes still run until they are gone."""
    namespace = deployment.metadata.namespace
    replica_sets = kube.apps.list_namespaced_replica_set(namespace, _request_timeout=15).items
    owned = {
        rs.metadata.uid
        for rs in replica_sets
        if any(ref.uid == deployment.metadata.uid for ref in rs.metadata.owner_references or [])
    }
    pods = kube.core.list_namespaced_pod(namespace, _request_timeout=15).items
    return [pod for pod in pods if any(ref.uid in owned for ref in pod.metadata.owner_references or [])]


@dataclass(frozen=True)
class ScaleDown:
    """A Deployment as a scale-down left it: `pods` are those of its pods still there after waiting."""

    deployment: Any
    pods: list[Any] = field(default_factory=list)

    @property
    def replicas(self) -> int:
        """spec.replicas (1 when unset, as the API server defaults it)."""
        wanted = self.deployment.spec.replicas
        return 1 if wanted is None else wanted

    @property
    def complete(self) -> bool:
        """Scaled to 0 and none of its pods is left."""
        return self.replicas == 0 and not self.pods


def wait_for_scale_down(kube: Kube, namespace: str, name: str, timeout: float = SETTLE_SECONDS) -> ScaleDown | None:
    """The Deployment (None if it does not exist) once it has no pods left, or at once when it is not scaled to 0;
    waits at most `timeout` for the pods of a Deployment scaled to 0 to terminate."""
    deadline = time.monotonic() + timeout
    while True:
        deployment = kube.get(kube.apps.read_namespaced_deployment, name, namespace)
        if deployment is None:
            return None
        found = ScaleDown(deployment, deployment_pods(kube, deployment))
        if found.complete or found.replicas != 0 or time.monotonic() >= deadline:
            return found
        time.sleep(1)


def deployment_changes(deployment: Any | None, uid: str | None, replicas: int) -> list[str]:
    """What happened to a Deployment that setup created with `replicas` replicas and recorded as `uid`, in words
    for a message (`scaled to 0 replicas (was 2)`, `its Pod template was changed (revision 2)` ...); empty when it
    is untouched. Any change of the spec raises metadata.generation, so scaling away and back counts too."""
    if deployment is None:
        return ["deleted"]
    if deployment.metadata.uid != uid:
        return ["deleted and recreated"]
    changes = []
    if deployment.spec.replicas != replicas:
        changes.append(f"scaled to {deployment.spec.replicas} replicas (was {replicas})")
    revision = (deployment.metadata.annotations or {}).get(REVISION, "1")
    if revision != "1":
        changes.append(f"its Pod template was changed (revision {revision})")
    if not changes and (deployment.metadata.generation or 1) > 1:
        changes.append(f"its spec was edited since setup (generation {deployment.metadata.generation})")
    return changes


@dataclass(frozen=True)
class Disturbed:
    """A Deployment that was to be left alone and is not: what happened to it (`changes`, see deployment_changes),
    or, when unchanged, why it is not Available with all its replicas (`unavailable`)."""

    namespace: str
    name: str
    changes: tuple[str, ...] = ()
    unavailable: str = ""


def observed_deployment(kube: Kube, namespace: str, name: str, timeout: float = OBSERVE_SECONDS) -> Any | None:
    """The Deployment once its controller has seen its latest spec (status.observedGeneration), so that the revision
    it reports tells a changed Pod template; as it is after `timeout`; None when it does not exist."""
    deadline = time.monotonic() + timeout
    while True:
        deployment = kube.get(kube.apps.read_namespaced_deployment, name, namespace)
        if deployment is None or time.monotonic() >= deadline:
            return deployment
        if (deployment.status.observed_generation or 0) >= (deployment.metadata.generation or 1):
            return deployment
        time.sleep(0.5)


def disturbed_deployments(kube: Kube, deployments: Iterable[tuple[str, str]], replicas: int) -> list[Disturbed]:
    """Those of the (namespace, name) Deployments, created by setup with `replicas` replicas, that a student changed
    or that are not Available (after waiting for their rollout), in the order given."""
    disturbed = []
    for namespace, name in deployments:
        deployment = observed_deployment(kube, namespace, name)
        changes = deployment_changes(deployment, original_deployment_uids(kube, namespace).get(name), replicas)
        if changes:
            disturbed.append(Disturbed(namespace, name, changes=tuple(changes)))
            continue
        rollout = wait_for_rollout(kube, namespace, name)
        if rollout is not None and not rollout.complete:
            disturbed.append(Disturbed(namespace, name, unavailable=rollout.describe()))
    return disturbed
