"""NetworkPolicies for the proofs of the NetworkPolicy scenarios (14, 15): the reference solution's, rendered from
the scenario's template for an attempt, and a namespace made to hold exactly a given set."""

from __future__ import annotations

import jinja2
import yaml
from lab_attempt import Attempt


def solution_policies(lab: Attempt) -> dict[str, dict]:
    """The policies of the scenario's solution (templates/policies.yaml.j2) by name, a fresh copy each call."""
    template = lab.scenario.directory / "templates" / "policies.yaml.j2"
    rendered = jinja2.Template(template.read_text(), undefined=jinja2.StrictUndefined).render(**lab.params)
    return {policy["metadata"]["name"]: policy for policy in yaml.safe_load_all(rendered)}


def replace_policies(lab: Attempt, namespace: str, policies: list[dict]) -> None:
    """Exactly these policies in the namespace (every other one there deleted)."""
    api = lab.kube.networking
    for existing in api.list_namespaced_network_policy(namespace).items:
        api.delete_namespaced_network_policy(existing.metadata.name, namespace)
    for policy in policies:
        api.create_namespaced_network_policy(namespace, policy)
