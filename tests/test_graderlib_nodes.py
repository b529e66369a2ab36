"""A node's readiness as the graders report it, on Node objects as the API returned them on the testbed (the kubelet
running, and stopped for a minute)."""

from types import SimpleNamespace

from kubernetes.client import V1Node, V1NodeCondition, V1NodeStatus, V1ObjectMeta

from labs.graderlib.nodes import not_ready


def _api_with(node: V1Node | None) -> SimpleNamespace:
    """The one call not_ready makes of labs.k8s.Kube: get(read_node, name), None for a node that does not exist."""
    return SimpleNamespace(core=SimpleNamespace(read_node=None), get=lambda reader, name: node)


def _node(*conditions: V1NodeCondition) -> V1Node:
    return V1Node(metadata=V1ObjectMeta(name="controlplane"), status=V1NodeStatus(conditions=list(conditions)))


def test_a_ready_node_has_no_problem():
    ready = V1NodeCondition(
        type="Ready", status="True", reason="KubeletReady", message="kubelet is posting ready status"
    )
    assert not_ready(_api_with(_node(ready)), "controlplane") is None


def test_a_node_whose_kubelet_stopped_says_what_the_api_says():
    unknown = V1NodeCondition(
        type="Ready", status="Unknown", reason="NodeStatusUnknown", message="Kubelet stopped posting node status."
    )
    assert not_ready(_api_with(_node(unknown)), "controlplane") == (
        "node controlplane is not Ready (Unknown: Kubelet stopped posting node status.)"
    )


def test_a_missing_node_or_condition_is_named():
    assert not_ready(_api_with(None), "worker") == "node worker does not exist"
    assert not_ready(_api_with(_node()), "controlplane") == "node controlplane has no Ready condition yet"
