"""Nodes as the API sees them."""

from __future__ import annotations

from labs.k8s import Kube


def not_ready(kube: Kube, name: str) -> str | None:
    """None when node `name` is Ready; else what the API says of it, e.g. "node controlplane is not Ready
    (Unknown: Kubelet stopped posting node status.)"."""
    node = kube.get(kube.core.read_node, name)
    if node is None:
        return f"node {name} does not exist"
    ready = next((condition for condition in node.status.conditions or [] if condition.type == "Ready"), None)
    if ready is None:
        return f"node {name} has no Ready condition yet"
    if ready.status == "True":
        return None
    return f"node {name} is not Ready ({ready.status}: {ready.message or ready.reason or 'no reason given'})"
