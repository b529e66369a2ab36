"""Grading changes nothing it did not declare: checked around the first `lab check` after the reference solution
in every proof (tests/lab_attempt.py), and on every recording (tests/mutation.py `recorded_verdicts_match`):

- every API object keeps its identity and content (its status aside: the kubelet and controllers update it);
- every file the scenario keeps (scenario.yaml `keeps:`, the student's work on the node) keeps its content;
- every request the grader sent through its API clients was a read, a dry run (`dryRun=All`) or an access review.
  Exec probes create and remove their own files inside containers, and audit probes are dry runs: both declared.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from labs.graderlib.recording import Recording

REVIEWS = ("/apis/authorization.k8s.io/", "/apis/authentication.k8s.io/")
VOLATILE_METADATA = ("resourceVersion", "managedFields", "generation")
MIRROR = "kubernetes.io/config.mirror"  # the annotation of the API's copy of a static pod


def _listers(kube: Any) -> dict[str, Any]:
    core, apps, rbac = kube.core, kube.apps, kube.rbac
    return {
        "Namespace": core.list_namespace,
        "Pod": core.list_pod_for_all_namespaces,
        "ConfigMap": core.list_config_map_for_all_namespaces,
        "Secret": core.list_secret_for_all_namespaces,
        "ServiceAccount": core.list_service_account_for_all_namespaces,
        "Service": core.list_service_for_all_namespaces,
        "Deployment": apps.list_deployment_for_all_namespaces,
        "DaemonSet": apps.list_daemon_set_for_all_namespaces,
        "Role": rbac.list_role_for_all_namespaces,
        "RoleBinding": rbac.list_role_binding_for_all_namespaces,
        "ClusterRole": rbac.list_cluster_role,
        "ClusterRoleBinding": rbac.list_cluster_role_binding,
    }


def api_objects(kube: Any) -> dict[str, Any]:
    """`Kind namespace/name` -> the object without its status and what the API server bumps. Objects being deleted
    are left out: one that was already going (the old pod of a rollout the solution made) may be gone after the
    grading without the grading's doing; one the grading deletes is there before and not after. So are mirror pods:
    the kubelet replaces the API's copy of a static pod it restarted on its own schedule (its next pod sync, up to a
    minute later), and puts back whatever else happens to one."""
    state = {}
    for kind, lister in _listers(kube).items():
        for item in lister(_request_timeout=15).items:
            if item.metadata.deletion_timestamp is not None or MIRROR in (item.metadata.annotations or {}):
                continue
            data = kube.api_client.sanitize_for_serialization(item)
            data.pop("status", None)
            for key in VOLATILE_METADATA:
                data["metadata"].pop(key, None)
            meta = data["metadata"]
            state[f"{kind} {meta.get('namespace', '')}/{meta['name']}"] = data
    return state


def node_files(paths: list[str]) -> dict[str, str]:
    """Path -> a digest of its content, for every file at or below `paths` (on this machine: the testbed)."""
    state = {}
    for root in map(Path, paths):
        for path in [root, *sorted(root.rglob("*"))] if root.is_dir() else [root]:
            if path.is_file():
                state[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    return state


def changed_fields(before: Any, after: Any, path: str = "") -> list[str]:
    """The dotted paths at which two decoded objects differ, down to the first field that is not a mapping on both
    sides: ["spec.nodeName"]. Two values that are not mappings differ at no named field."""
    if not (isinstance(before, dict) and isinstance(after, dict)):
        return [path] if path and before != after else []
    keys = sorted(before.keys() | after.keys())
    return [
        field
        for key in keys
        for field in changed_fields(before.get(key), after.get(key), f"{path}.{key}" if path else key)
    ]


def _changed(key: str, before: Any, after: Any) -> str:
    fields = changed_fields(before, after)
    return f"{key} changed at {', '.join(fields)}" if fields else f"{key} changed"


def _differences(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    gone = [f"{key} removed" for key in before.keys() - after.keys()]
    made = [f"{key} created" for key in after.keys() - before.keys()]
    changed = [
        _changed(key, before[key], after[key]) for key in before.keys() & after.keys() if before[key] != after[key]
    ]
    return sorted(gone + made + changed)


@contextmanager
def unchanged(lab: Any) -> Iterator[None]:
    """The API objects and the scenario's kept files are the same after the block (a grading) as before it."""
    paths = [path for paths in lab.scenario.spec.keeps.values() for path in paths]
    objects, files = api_objects(lab.kube), node_files(paths)
    yield
    differences = _differences(objects, api_objects(lab.kube)) + _differences(files, node_files(paths))
    assert not differences, f"the grading changed: {'; '.join(differences[:10])}"


def writes(recording: Recording) -> list[str]:
    """The requests of a recorded grading that were neither reads, dry runs nor access reviews."""

    def harmless(request: str) -> bool:
        method, path = request.split(" ")[:2]
        return method == "GET" or "dryRun=All" in path or path.startswith(REVIEWS)

    return [request for request in recording.api if not harmless(request)]
