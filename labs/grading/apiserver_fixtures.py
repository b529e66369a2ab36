"""Fixtures for graders of kube-apiserver changes (audit logging, encryption at rest ...). Import the ones a grader
uses into its module:

    from labs.grading.apiserver_fixtures import *  # noqa: F403 - fixtures

- `controlplane`: the testinfra host of node controlplane
- `apiserver`: ApiserverStatus once the kubelet has applied the last manifest edit (patience for a restart, none
  when the manifest or the audit policy it names cannot work); a kube-apiserver that is down fails criteria, it
  does not make them "could not grade" (bringing it back is part of these tasks)
- `running_flags`: the flags of the kube-apiserver that serves; fails the criterion when none does
- `apiserver_manifest`: the manifest on the node, parsed; fails the criterion when it cannot be read
- `audit_policy_result`: (path, PolicyResult) of the policy the apiserver reads; `audit_policy`: the accepted one
"""

from __future__ import annotations

from typing import Any

import pytest

from labs.audit.loader import PolicyResult
from labs.audit.manifest import ApiserverManifest
from labs.grading.apiserver import ApiserverStatus, apiserver_status, wait_for_apiserver
from labs.grading.audit import policy_on_node

__all__ = ["apiserver", "apiserver_manifest", "audit_policy", "audit_policy_result", "controlplane", "running_flags"]

CONTROLPLANE = "controlplane"
PATIENCE = 90  # seconds to wait for a kube-apiserver that may be restarting
NO_PATIENCE = 10  # ... when it cannot start (manifest problems, a refused policy)


@pytest.fixture(scope="module")
def controlplane(node) -> Any:
    return node(CONTROLPLANE)


def _cannot_start(host: Any, status: ApiserverStatus) -> bool:
    if status.manifest_error or status.manifest is None:
        return True
    if status.manifest.problems:
        return True
    policy_flag = status.manifest.flag("audit-policy-file")
    return bool(policy_flag) and policy_on_node(host, status.manifest, policy_flag)[1].refused


@pytest.fixture(scope="module")
def apiserver(controlplane, grading_context) -> ApiserverStatus:
    """kube-apiserver once it runs the current manifest and is ready, or what it looked like when waiting ended."""
    kube = grading_context.target.kube  # no ping: a kube-apiserver that is down is judged, not an error
    now = apiserver_status(controlplane, kube)
    if now.healthy:
        return now
    patience = NO_PATIENCE if _cannot_start(controlplane, now) else PATIENCE
    return wait_for_apiserver(controlplane, kube, timeout=patience)


@pytest.fixture(scope="module")
def running_flags(apiserver) -> dict[str, str]:
    """The flags of the kube-apiserver that serves (a process crash-looping between restarts does not count)."""
    if apiserver.running_flags is None or not apiserver.ready:
        pytest.fail(f"kube-apiserver is not running and ready: {apiserver.describe()}", pytrace=False)
    return apiserver.running_flags


@pytest.fixture(scope="module")
def apiserver_manifest(apiserver) -> ApiserverManifest:
    if apiserver.manifest is None:
        pytest.fail(apiserver.manifest_error, pytrace=False)
    return apiserver.manifest


@pytest.fixture(scope="module")
def audit_policy_result(controlplane, apiserver, apiserver_manifest, params) -> tuple[str, PolicyResult]:
    """The policy kube-apiserver reads: the file of the running flag, else the manifest's, else `policy_path`."""
    flags = apiserver.running_flags or {}
    policy_flag = flags.get("audit-policy-file") or apiserver_manifest.flag("audit-policy-file")
    return policy_on_node(controlplane, apiserver_manifest, policy_flag or params["policy_path"])


@pytest.fixture(scope="module")
def audit_policy(audit_policy_result) -> PolicyResult:
    path, result = audit_policy_result
    if result.refused:
        pytest.fail(f"kube-apiserver refuses the policy {path}: {result.apiserver_error}", pytrace=False)
    return result
