"""Scenario 19, protect the kubelet's endpoints: one test per criterion of the task.

The kubelet of controlplane is asked on the node, as each kind of client meets it (labs/graderlib/kubelet.py):
anonymously, as a client whose certificate the cluster CA signed but RBAC grants nothing, and as kube-apiserver's
own client; its read-only port; its health check. Whatever configures it (its file, flags that win over the file)
passes when the running kubelet answers as asked.
"""

import pytest

from labs.graderlib.kubelet import API, PROBE_USER, READ_ONLY, KubeletAnswers, kubelet_answers
from labs.graderlib.nodes import not_ready
from labs.k8s import Kube

WHAT = {0: "no connection", 200: "200: served", 401: "401 Unauthorized", 403: "403 Forbidden"}


def _said(status: int) -> str:
    return WHAT.get(status, str(status))


@pytest.fixture(scope="module")
def answers(node) -> KubeletAnswers:
    return kubelet_answers(node("controlplane"))


@pytest.mark.points(2)
def test_anonymous_requests_are_refused(answers):
    """Anonymous requests to the kubelet's API (10250) are refused with 401"""
    assert answers.anonymous == 401, (
        f"GET {API} without credentials: {_said(answers.anonymous)}; expected 401 Unauthorized "
        "(authentication.anonymous.enabled: false)"
    )


@pytest.mark.points(2)
def test_requests_are_authorized_through_the_api(answers):
    """The kubelet authorizes through the Kubernetes API (Webhook): a client gets only what RBAC grants it"""
    assert answers.probe == 403, (
        f"GET {API} as {PROBE_USER}, whom RBAC grants nothing: {_said(answers.probe)}; expected 403 Forbidden "
        "(authorization.mode: Webhook)"
    )
    assert answers.apiserver == 200, (
        f"GET {API} as kube-apiserver's kubelet client: {_said(answers.apiserver)}; expected 200 (it must still "
        "reach the kubelet: logs, exec)"
    )


@pytest.mark.points(2)
def test_the_read_only_port_is_closed(answers):
    """The read-only port 10255 is closed"""
    assert answers.read_only == 0, (
        f"GET {READ_ONLY}: {_said(answers.read_only)}; expected no connection (readOnlyPort: 0)"
    )


@pytest.mark.points(1)
def test_the_node_stays_ready(answers, kube: Kube):
    """The kubelet answers its health check and node controlplane is Ready"""
    assert answers.health == 200, f"the kubelet's health check answered {_said(answers.health)}; expected 200"
    problem = not_ready(kube, "controlplane")
    assert problem is None, f"{problem}; expected it Ready"
