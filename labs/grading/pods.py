"""Helpers for graders that judge pods: find a pod (saying what is there instead), wait for it to settle, walk
its containers, and read effective security settings."""

from __future__ import annotations

from typing import Any

from labs.k8s import Kube, describe_containers, pod_is_ready, wait_for_pod

SETTLE_SECONDS = 60


def require_pod(kube: Kube, namespace: str, name: str, timeout: float = SETTLE_SECONDS) -> Any:
    """The pod once it is Ready or visibly stuck; fails the criterion when it does not exist, naming what does."""
    pod = wait_for_pod(kube, namespace, name, timeout=timeout)
    if pod is not None:
        return pod
    others = [p.metadata.name for p in kube.core.list_namespaced_pod(namespace, _request_timeout=15).items]
    found = f"pods there: {', '.join(others)}" if others else "no pods there"
    raise AssertionError(f"pod {name} not found in namespace {namespace} ({found}); keep its name and namespace")


def require_ready(kube: Kube, pod: Any) -> None:
    """Fails the criterion unless the pod is Running and Ready, saying what its containers are doing."""
    if pod_is_ready(pod):
        return
    details = describe_containers(kube, pod) or ["no container status yet"]
    raise AssertionError(f"pod {pod.metadata.name} is {pod.status.phase}, not Running and Ready: {'; '.join(details)}")


def containers(pod: Any, init: bool = True) -> list[tuple[str, Any]]:
    """(`init container` | `container`, container) for every container of the pod spec."""
    found = [("init container", c) for c in (pod.spec.init_containers or [])] if init else []
    return found + [("container", c) for c in pod.spec.containers]


def security_setting(container: Any, field: str) -> bool | None:
    """A field of the container's securityContext (None when unset)."""
    context = container.security_context
    return None if context is None else getattr(context, field)
