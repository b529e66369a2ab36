"""Fixtures for graders of kube-apiserver changes (audit logging, encryption at rest ...). Every grader gets
them (labs.grading.plugin.FIXTURE_PLUGINS) by naming them as arguments:

- `controlplane`: the testinfra host of node controlplane
- `apiserver`: ApiserverStatus once the kubelet has applied the last manifest edit (patience for a restart; when
  the manifest or the audit policy it names cannot work, only until the process from before the edit is gone, and
  the status names the cause); a kube-apiserver that is down fails criteria, it does not make them "could not
  grade" (bringing it back is part of these tasks)
- `running_flags`: the flags of the kube-apiserver that serves; fails the criterion when none does
- `apiserver_manifest`: the manifest on the node, parsed; fails the criterion when it cannot be read
- `audit_policy_result`: (path, PolicyResult) of the policy the apiserver reads; `audit_policy`: the accepted one
"""

from __future__ import annotations

from typing import Any

import pytest

from labs.audit.loader import PolicyResult
from labs.audit.manifest import ApiserverManifest
from labs.graderlib.apiserver import ApiserverStatus, apiserver_status, wait_for_apiserver
from labs.graderlib.audit import policy_on_node

CONTROLPLANE = "controlplane"
PATIENCE = 90  # seconds to wait for a kube-apiserver that may be restarting (or, when it cannot start, for the
# process from before the last edit to go)


@pytest.fixture(scope="module")
def controlplane(node) -> Any:
    return node(CONTROLPLANE)


def _why_it_cannot_start(host: Any, status: ApiserverStatus) -> list[str]:
    """What in the manifest or the audit policy it names makes kube-apiserver exit (or the kubelet refuse it)."""
    if status.manifest is None:
        return [status.manifest_error]
    if status.manifest.problems:
        return []  # describe() lists them
    policy_flag = status.manifest.flag("audit-policy-file")
    result = policy_on_node(host, status.manifest, policy_flag)[1] if policy_flag else None
    return [result.apiserver_error] if result is not None and result.refused else []


def _settled(status: ApiserverStatus) -> bool:
    """Healthy, or the process from before the last edit is gone (none runs, or one with the manifest's flags)."""
    return status.healthy or status.running_flags is None or status.runs_the_manifest


@pytest.fixture(scope="module")
def apiserver(controlplane, grading_context) -> ApiserverStatus:
    """kube-apiserver once it runs the current manifest and is ready, or what it looked like when waiting ended."""
    kube = grading_context.target.kube  # no ping: a kube-apiserver that is down is judged, not an error
    now = apiserver_status(controlplane, kube)
    if now.healthy:
        return now
    causes = _why_it_cannot_start(controlplane, now)
    if causes or (now.manifest is not None and now.manifest.problems):
        status = wait_for_apiserver(controlplane, kube, timeout=PATIENCE, until=_settled)
        status.causes = causes
        return status
    return wait_for_apiserver(controlplane, kube, timeout=PATIENCE)


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
