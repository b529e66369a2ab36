"""Scenario 09, delete the mutable pods of a namespace: one test per criterion of the task.

Which pods setup started, and of which kind, follows from the attempt's parameters (`pod_kinds`); whether a pod is
gone, or still the original one (the uid setup recorded), is read from the API server once no pod is terminating
any more. A pod left in place is described by its live spec (`mutability`): the message says what makes it mutable,
not which pod it is (finding that is the task).
"""

import pytest

from labs.graderlib.pods import mutability, original_pod_uids, require_ready, settled_pods
from labs.k8s import Kube

SLOTS = ("api", "cache", "worker", "report", "queue", "auth")
COMPLIANT_BECAUSE = {
    "immutable": "every container is read-only and unprivileged",
    "immutable-with-init": "its init container, app and sidecar are all read-only and unprivileged",
    "escalation-allowed": "it allows privilege escalation, but is read-only and not privileged",
    "extra-capability": "it adds the NET_ADMIN capability, but is read-only and not privileged",
    "root-user": "it runs as root, but is read-only and not privileged",
}


def _left_in_place(kinds: dict[str, str], present: dict, flaw: str) -> list[str]:
    """Why each pod of the flaw's kinds that is still there is mutable, without its name (that is the task)."""
    return [
        "; ".join(mutability(present[name])) or "recreated without the flaw, but it was to be deleted"
        for name, kind in sorted(kinds.items())
        if kind.startswith(flaw) and name in present
    ]


@pytest.fixture(scope="module")
def kinds(params: dict) -> dict[str, str]:
    """Pod name -> kind, as setup drew them (`pod_kinds`, derived in scenario.yaml)."""
    return params["pod_kinds"]


@pytest.fixture(scope="module")
def present(kube: Kube, params: dict) -> dict:
    return settled_pods(kube, params["namespace"])


@pytest.mark.points(2)
def test_every_privileged_pod_is_deleted(kinds, present):
    """Every pod with a privileged container (init containers included) is deleted"""
    left = _left_in_place(kinds, present, "privileged-")
    assert not left, f"{len(left)} privileged pod(s) still there ({' | '.join(left)}); expected none"


@pytest.mark.points(2)
def test_every_pod_with_a_writable_root_filesystem_is_deleted(kinds, present):
    """Every pod with a writable root filesystem in any container (init containers included) is deleted"""
    left = _left_in_place(kinds, present, "writable-")
    assert not left, f"{len(left)} writable pod(s) still there ({' | '.join(left)}); expected none"


@pytest.mark.points(2)
def test_every_compliant_pod_still_runs(kube: Kube, params, kinds, present):
    """Every compliant pod is still the one that was running, Running and Ready"""
    originals = original_pod_uids(kube, params["namespace"])
    compliant = {name: kind for name, kind in sorted(kinds.items()) if kind in COMPLIANT_BECAUSE}
    deleted = [f"{name} ({COMPLIANT_BECAUSE[kind]})" for name, kind in compliant.items() if name not in present]
    assert not deleted, f"deleted although compliant: {', '.join(deleted)}; only privileged or writable pods go"
    recreated = [name for name in compliant if present[name].metadata.uid != originals.get(name)]
    assert not recreated, f"deleted and recreated: {', '.join(recreated)}; compliant pods must keep running"
    for name in compliant:
        require_ready(kube, present[name])
