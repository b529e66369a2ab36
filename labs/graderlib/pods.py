"""Helpers for graders that judge pods: find a pod (saying what is there instead), wait for it to settle, walk
its containers, read effective security settings, and read what setup recorded on the namespace."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from labs.errors import CannotGrade
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


def mutability(pod: Any) -> list[str]:
    """Why the pod is not immutable: one entry per container (init containers included) that runs privileged or
    whose root filesystem is writable (readOnlyRootFilesystem unset or false). Empty for an immutable pod."""
    problems = []
    for kind, container in containers(pod):
        if security_setting(container, "privileged") is True:
            problems.append(f"{kind} {container.name} is privileged")
        read_only = security_setting(container, "read_only_root_filesystem")
        if read_only is not True:
            setting = "unset" if read_only is None else "false"
            problems.append(f"{kind} {container.name} has a writable root (readOnlyRootFilesystem {setting})")
    return problems


def settled_pods(kube: Kube, namespace: str, timeout: float = SETTLE_SECONDS) -> dict[str, Any]:
    """The pods of a namespace by name, once none of them is terminating any more (or the timeout passed): a pod
    the student just deleted counts as deleted only when it is really gone, and a terminating one is not there."""
    deadline = time.monotonic() + timeout
    while True:
        pods = kube.core.list_namespaced_pod(namespace, _request_timeout=15).items
        terminating = [p for p in pods if p.metadata.deletion_timestamp is not None]
        if not terminating or time.monotonic() >= deadline:
            return {p.metadata.name: p for p in pods if p.metadata.deletion_timestamp is None}
        time.sleep(1)


ORIGINAL_PODS_ANNOTATION = "cks-lab/original-pods"


def text_recorded_by_setup(kube: Kube, namespace: str, annotation: str) -> str:
    """The text a scenario's setup recorded in an annotation of the namespace (e.g. Falco's pid or a file's checksum
    before the task); CannotGrade when the annotation is missing, a failed criterion when the namespace is gone."""
    found = kube.get(kube.core.read_namespace, namespace)
    if found is None:
        pytest.fail(
            f"namespace {namespace} does not exist: it was deleted, with everything setup put in it "
            "(`lab reset` sets the task up again)",
            pytrace=False,
        )
    annotations = found.metadata.annotations or {}
    if annotation not in annotations:
        raise CannotGrade(f"namespace {namespace} lacks the annotation {annotation} setup writes")
    return annotations[annotation]


def recorded_by_setup(kube: Kube, namespace: str, annotation: str) -> dict[str, Any]:
    """The JSON object a scenario's setup recorded in an annotation of the namespace (e.g. the uids of the objects
    it created, so that the grader tells a kept object from a recreated one); CannotGrade when it is missing."""
    try:
        recorded = json.loads(text_recorded_by_setup(kube, namespace, annotation))
    except ValueError:
        recorded = None
    if not isinstance(recorded, dict):
        raise CannotGrade(f"namespace {namespace} lacks the annotation {annotation} setup writes")
    return recorded


def original_pod_uids(kube: Kube, namespace: str) -> dict[str, str]:
    """Pod name -> uid of the pods a scenario's setup started, as setup recorded them in the namespace's annotation
    `cks-lab/original-pods` (a JSON object). A pod of the same name with another uid was recreated by the student."""
    return recorded_by_setup(kube, namespace, ORIGINAL_PODS_ANNOTATION)
