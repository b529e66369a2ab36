"""Scenario 13, find the workload making an unusual syscall with strace and scale it down: one test per criterion.

What setup started follows from the attempt's parameters (`deployments`, `culprit`, `accepted_syscalls`; the tests
prove on the testbed with strace that exactly the culprit's workers make that syscall and no other syscall the
other workers do not make). The finding is read from the student's file on the node, the Deployments from the API
server: the culprit scaled to 0 with no pod left, the others as setup created them and Available.
"""

import re

import pytest

from labs.graderlib.answers import answer_line, answer_lines
from labs.graderlib.deployments import disturbed_deployments, original_deployment_uids, wait_for_scale_down
from labs.k8s import Kube

# The names under which strace may show the syscall the culprit's command makes: the *at variants are what arm64
# has (and what newer C libraries use on x86_64 too). tkill/tgkill are not kill: they signal a thread.
SYSCALL_FAMILIES = {
    "kill": {"kill"},
    "chmod": {"chmod", "fchmodat", "fchmodat2"},
    "symlink": {"symlink", "symlinkat"},
    "mkdir": {"mkdir", "mkdirat"},
    "rename": {"rename", "renameat", "renameat2"},
    "sync": {"sync"},
}
SYSCALL_NAME = re.compile(r"(?:sys_|__nr_)?([a-z][a-z0-9_]*)\s*(?:\(\d*\))?")


def deployments(params: dict) -> dict[str, tuple[str, str]]:
    """Slot -> (namespace, name) of the four Deployments setup creates (derived in scenario.yaml)."""
    return {slot: (namespace, name) for slot, (namespace, name) in params["deployments"].items()}


def culprit(params: dict) -> tuple[str, str]:
    """(namespace, name) of the Deployment whose workers make the drawn syscall (derived in scenario.yaml)."""
    return params["culprit_namespace"], params["culprit_name"]


def accepted_syscalls(params: dict) -> set[str]:
    """The names under which strace may show the drawn syscall."""
    return SYSCALL_FAMILIES[params["syscall"]]


def syscall_name(text: str) -> str | None:
    """The syscall a line names (`chmod`, `chmod()`, `chmod(2)`, `SYS_chmod` all name chmod); None for anything that
    is not one name."""
    found = SYSCALL_NAME.fullmatch(text.strip().lower())
    return found.group(1) if found else None


@pytest.fixture(scope="module")
def lines(node, params) -> list[str]:
    return answer_lines(node("controlplane"), params["answer"])


@pytest.mark.points(2)
def test_the_answer_names_the_deployment(lines, params):
    """Line 1 of {answer} names the Deployment whose workers make the unusual syscall, as namespace/deployment"""
    line = answer_line(lines, 1, params["answer"], "namespace/deployment")
    fields = tuple(field.strip() for field in line.split("/"))
    assert len(fields) == 2 and all(fields), f"line 1 is {line!r}; expected namespace/deployment"
    known = set(deployments(params).values())
    assert fields in known, f"line 1 is {line!r}, which is none of the task's Deployments: " + ", ".join(
        f"{namespace}/{name}" for namespace, name in sorted(known)
    )
    assert fields == culprit(params), (
        f"line 1 names {line}, but its workers make no syscall that the others do not; trace a worker of each "
        "Deployment with strace -f and compare"
    )


@pytest.mark.points(2)
def test_the_answer_names_the_syscall(lines, params):
    """Line 2 of {answer} is the syscall only that Deployment's workers make, as strace shows it"""
    line = answer_line(lines, 2, params["answer"], "the name of the syscall")
    name = syscall_name(line)
    assert name is not None, f"line 2 is {line!r}; expected one syscall name as strace prints it, e.g. openat"
    assert name in accepted_syscalls(params), (
        f"line 2 names {name}, which is not the syscall that only one Deployment's workers make; compare strace's "
        "output (strace -f -c) for a worker of each Deployment"
    )


@pytest.mark.points(2)
def test_the_deployment_is_scaled_to_zero(kube: Kube, params):
    """The Deployment whose workers make the unusual syscall is kept, scaled to 0, and none of its pods is left"""
    namespace, name = culprit(params)
    scaled = wait_for_scale_down(kube, namespace, name)
    uid = original_deployment_uids(kube, namespace).get(name)
    assert scaled is not None and scaled.deployment.metadata.uid == uid, (
        "the Deployment to scale down was deleted"
        + (" and recreated" if scaled is not None else "")
        + "; scale it to 0 instead: the Deployment is the evidence and can be scaled up again once it is fixed"
    )
    assert scaled.replicas == 0, (
        f"the Deployment to scale down still has spec.replicas {scaled.replicas}; scale it to 0 (a deleted pod is "
        "only replaced by its ReplicaSet)"
    )
    left = ", ".join(pod.metadata.name for pod in scaled.pods)
    assert not scaled.pods, f"the Deployment is scaled to 0, but its pods are still there: {left}"


@pytest.mark.points(2)
def test_the_other_deployments_are_untouched(kube: Kube, params):
    """The other three Deployments keep their {replicas} replicas and their Pod template, and are Available"""
    others = [deployment for deployment in deployments(params).values() if deployment != culprit(params)]
    disturbed = disturbed_deployments(kube, others, params["replicas"])
    changed = [f"{d.namespace}/{d.name} ({', '.join(d.changes)})" for d in disturbed if d.changes]
    unavailable = [f"{d.namespace}/{d.name} ({d.unavailable})" for d in disturbed if d.unavailable]
    assert not changed, f"changed: {'; '.join(changed)}; only the Deployment that makes the syscall is scaled down"
    assert not unavailable, f"not Available with all replicas: {'; '.join(unavailable)}"
