"""Fixtures every grader can use (labs.grading.plugin.FIXTURE_PLUGINS gives them to every grader):

- `params`: this attempt's parameters (dict)
- `kube`: typed Kubernetes API clients (`kube.core`, `kube.apps`, ...), checked to answer before any criterion runs
- `node`: `node("controlplane")` is a pytest-testinfra host reached through the target's Ansible inventory
- `exec_probe`: runs commands in containers and proves they ran (labs.graderlib.probes.Probe)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from labs.errors import CannotGrade
from labs.graderlib.probes import Probe
from labs.grading.context import CONTEXT_KEY, GradingContext
from labs.k8s import Kube


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "points(n): the points this criterion is worth (default 1)")
    config.addinivalue_line("markers", "needs(*capabilities): what judging this criterion needs of the target")


@pytest.fixture(scope="session")
def grading_context(request: pytest.FixtureRequest) -> GradingContext:
    """What is graded: given by `lab check` (or, for a plain pytest run, by graders/conftest.py)."""
    context = request.config.stash.get(CONTEXT_KEY, None)
    if context is None:
        raise CannotGrade("nothing to grade: run the grader with `lab check`, or pytest in a checkout's graders/")
    return context


@pytest.fixture(scope="session")
def params(grading_context: GradingContext) -> dict:
    """This attempt's parameters (names, namespaces, paths ... generated from its seed)."""
    return grading_context.params


@pytest.fixture(scope="session")
def kube(grading_context: GradingContext) -> Kube:
    """Typed API clients for the target cluster; CannotGrade when it does not answer."""
    client = grading_context.target.kube
    client.ping()
    return client


@pytest.fixture(scope="session")
def node(grading_context: GradingContext) -> Callable[[str], Any]:
    """`node("controlplane")`: a pytest-testinfra host for that node of the target."""
    target = grading_context.target
    hosts: dict[str, Any] = {}

    def get(name: str) -> Any:
        inventory = target.inventory
        if isinstance(inventory, dict) and name not in inventory.get("all", {}).get("hosts", {}):
            raise CannotGrade(f"the target {target.name} has no node {name!r} in its inventory")
        if name not in hosts:
            hosts[name] = target.host(name)
        return hosts[name]

    return get


@pytest.fixture(scope="session")
def exec_probe(kube: Kube) -> Probe:
    """Runs commands in containers and says whether they really ran there."""
    return Probe(kube)
