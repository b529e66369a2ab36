"""Waiting for a Deployment's rollout the way `kubectl rollout status` does, and finding the pods it actually rolled
out (those of its current ReplicaSet), so that graders judge the running pods, not only the template."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from labs.k8s import Kube, last_log_line, pod_is_stuck

REVISION = "deployment.kubernetes.io/revision"
ROLLOUT_SECONDS = 90


@dataclass(frozen=True)
class Rollout:
    """A Deployment as its rollout left it: `complete` when every replica is updated and available and no old pod
    is left; `pods` are the live pods of the current ReplicaSet."""

    deployment: Any
    pods: list[Any] = field(default_factory=list)
    complete: bool = False
    problems: list[str] = field(default_factory=list)

    def describe(self) -> str:
        """`2 replicas wanted, 1 updated, 0 available; pod x: container app: CreateContainerConfigError (...)`."""
        status = self.deployment.status
        text = (
            f"{self.deployment.spec.replicas} replicas wanted, {status.updated_replicas or 0} updated, "
            f"{status.available_replicas or 0} available"
        )
        return f"{text}; {'; '.join(self.problems)}" if self.problems else text


def pod_problems(kube: Kube, pod: Any) -> list[str]:
    """What keeps the pod's containers from running: a waiting reason with its message, or a crash with the last
    line of its log."""
    found = []
    statuses = (pod.status.init_container_statuses or []) + (pod.status.container_statuses or [])
    for status in statuses:
        state = status.state
        if state and state.waiting and state.waiting.reason not in (None, "ContainerCreating", "PodInitializing"):
            detail = f" ({state.waiting.message[:200]})" if state.waiting.message else ""
            found.append(f"pod {pod.metadata.name}: container {status.name}: {state.waiting.reason}{detail}")
        elif (state and state.terminated) or status.restart_count:
            log = last_log_line(kube, pod, status.name, previous=bool(status.restart_count))
            crashed = f"pod {pod.metadata.name}: container {status.name}: crashed"
            found.append(f"{crashed} (log: {log})" if log else crashed)
    return found


def current_pods(kube: Kube, deployment: Any) -> list[Any]:
    """The live (not terminating) pods of the Deployment's current ReplicaSet (the one of its current revision)."""
    namespace = deployment.metadata.namespace
    revision = (deployment.metadata.annotations or {}).get(REVISION)
    replica_sets = kube.apps.list_namespaced_replica_set(namespace, _request_timeout=15).items
    owned = [
        rs
        for rs in replica_sets
        if any(ref.uid == deployment.metadata.uid for ref in rs.metadata.owner_references or [])
        and (rs.metadata.annotations or {}).get(REVISION) == revision
    ]
    uids = {rs.metadata.uid for rs in owned}
    pods = kube.core.list_namespaced_pod(namespace, _request_timeout=15).items
    return [
        pod
        for pod in pods
        if pod.metadata.deletion_timestamp is None
        and any(ref.uid in uids for ref in pod.metadata.owner_references or [])
    ]


def _complete(deployment: Any, pods: list[Any], all_pods: int) -> bool:
    status, wanted = deployment.status, deployment.spec.replicas
    return (
        (status.observed_generation or 0) >= deployment.metadata.generation
        and (status.updated_replicas or 0) == wanted
        and (status.available_replicas or 0) == wanted
        and (status.replicas or 0) == wanted
        and len(pods) == wanted == all_pods
    )


def wait_for_rollout(kube: Kube, namespace: str, name: str, timeout: float = ROLLOUT_SECONDS) -> Rollout | None:
    """The Deployment once its rollout is complete, a new pod is stuck, or the timeout passed (None if it does not
    exist)."""
    deadline = time.monotonic() + timeout
    while True:
        deployment = kube.get(kube.apps.read_namespaced_deployment, name, namespace)
        if deployment is None:
            return None
        pods = current_pods(kube, deployment)
        owned_by_any = [
            pod
            for pod in kube.core.list_namespaced_pod(namespace, _request_timeout=15).items
            if pod.metadata.labels and all(pod.metadata.labels.get(k) == v for k, v in _selector(deployment).items())
        ]
        if _complete(deployment, pods, len(owned_by_any)):
            return Rollout(deployment, pods, complete=True)
        if any(pod_is_stuck(pod) for pod in pods) or time.monotonic() >= deadline:
            problems = [problem for pod in pods for problem in pod_problems(kube, pod)]
            return Rollout(deployment, pods, complete=False, problems=problems)
        time.sleep(1)


def _selector(deployment: Any) -> dict[str, str]:
    return deployment.spec.selector.match_labels or {}
