"""Test-only scenario 96: the profile is loaded in enforce mode (needs AppArmor) and named in a ConfigMap."""

from __future__ import annotations

import pytest
from kubernetes.client.exceptions import ApiException

from labs.k8s import Kube

LOADED = "/sys/kernel/security/apparmor/profiles"


@pytest.mark.points(1)
def test_the_configmap_names_the_profile(kube: Kube, params):
    """ConfigMap {configmap} in Namespace {namespace} has profile: {profile}"""
    try:
        found = kube.core.read_namespaced_config_map(params["configmap"], params["namespace"])
    except ApiException as error:
        if error.status != 404:
            raise
        pytest.fail(f"no ConfigMap {params['configmap']} in Namespace {params['namespace']}", pytrace=False)
    named = (found.data or {}).get("profile")
    assert named == params["profile"], f"its key profile is {named!r}; expected {params['profile']!r}"


@pytest.mark.points(2)
@pytest.mark.needs("apparmor")
def test_the_profile_is_loaded_in_enforce_mode(node, params):
    """The kernel enforces AppArmor profile {profile} on node controlplane"""
    loaded = node("controlplane").file(LOADED).content_string.splitlines()
    assert f"{params['profile']} (enforce)" in loaded, (
        f"{LOADED} lists {params['profile']} as "
        f"{next((line for line in loaded if line.split(' ')[0] == params['profile']), 'not loaded')}; expected enforce"
    )
