"""Scenario 10, find the compromised container from the node: one test per criterion of the task.

What setup started follows from the attempt's parameters (derived in scenario.yaml: `culprit_pod`, `binary`; tests
prove on the testbed that exactly that process runs in exactly that container). The finding is read from the
student's file on the node; whether pods are gone or still the original ones (the uids setup recorded) from the API
server.
"""

import posixpath

import pytest

from labs.graderlib.answers import answer_line, answer_lines
from labs.graderlib.pods import original_pod_uids, require_ready, settled_pods
from labs.k8s import Kube

SLOTS = ("web", "api", "ledger", "notifier")
IMAGE_BINARIES = ("/bin/", "/usr/bin/", "/sbin/", "/usr/sbin/")


@pytest.fixture(scope="module")
def lines(node, params) -> list[str]:
    return answer_lines(node("controlplane"), params["answer"])


@pytest.fixture(scope="module")
def present(kube: Kube, params: dict) -> dict:
    return settled_pods(kube, params["namespace"])


@pytest.mark.points(2)
def test_the_answer_names_the_compromised_container(lines, params):
    """Line 1 of {answer} names the compromised container as namespace,pod,container"""
    line = answer_line(lines, 1, params["answer"], "namespace,pod,container")
    fields = [field.strip() for field in line.split(",")]
    assert len(fields) == 3 and all(fields), f"line 1 is {line!r}; expected three fields: namespace,pod,container"
    namespace, pod, container = fields
    expected_namespace = params["namespace"]
    assert namespace == expected_namespace, f"line 1 names namespace {namespace}; the pods run in {expected_namespace}"
    assert pod == params["culprit_pod"], (
        f"line 1 names pod {pod}, but no process of pod {pod} behaves maliciously; look at every container's processes"
    )
    assert container == params["culprit_container"], (
        f"line 1 names container {container} of pod {pod}: the pod is right, but the malicious process runs in "
        "another of its containers"
    )


@pytest.mark.points(2)
def test_the_answer_names_the_malicious_binary(lines, params):
    """Line 2 of {answer} is the path of the malicious process's binary inside the container"""
    line = answer_line(lines, 2, params["answer"], "the path of the binary")
    written = posixpath.normpath(line) if line.startswith("/") else line
    if written == params["binary"]:
        return
    disguise = " (that is what the process pretends to run; /proc/<pid>/exe shows its real binary)"
    seen = disguise if written.startswith(IMAGE_BINARIES) else ""
    pytest.fail(
        f"line 2 is {line!r}{seen}; expected the path of the binary the malicious process runs, as seen inside "
        "its container",
        pytrace=False,
    )


@pytest.mark.points(2)
def test_the_compromised_pod_is_deleted(params, present):
    """The compromised pod is deleted"""
    assert params["culprit_pod"] not in present, "the compromised pod still exists; delete it once you found it"


@pytest.mark.points(2)
def test_every_other_pod_keeps_running(kube: Kube, params, present):
    """Every other pod in {namespace} is still the one that was running, Running and Ready"""
    originals = original_pod_uids(kube, params["namespace"])
    others = [params[slot] for slot in SLOTS if params[slot] != params["culprit_pod"]]
    deleted = [name for name in others if name not in present]
    assert not deleted, f"deleted although not compromised: {', '.join(deleted)}; only the compromised pod goes"
    recreated = [name for name in others if present[name].metadata.uid != originals.get(name)]
    assert not recreated, f"deleted and recreated: {', '.join(recreated)}; the other pods must keep running"
    for name in others:
        require_ready(kube, present[name])
