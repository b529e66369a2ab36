"""Project-wide fixtures. Tests marked `testbed` run against the real single-node cluster, brought up once per session
(or reused when already running). With CI=true an unavailable testbed fails the run instead of skipping it."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared"
# Every `lab` the tests run grades in its own process and leaves no grading worker behind (tests/test_engine_worker.py
# switches it on for its own workers).
os.environ["CKS_LAB_GRADING_WORKER"] = "0"


@dataclass(frozen=True)
class Testbed:
    kubeconfig: Path
    inventory: dict = field(repr=False)


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(autouse=True)
def _testbed_for_marked_tests(request: pytest.FixtureRequest) -> None:
    """Tests marked `testbed` get the running testbed without naming the fixture."""
    if request.node.get_closest_marker("testbed"):
        request.getfixturevalue("testbed")


@pytest.fixture(scope="session")
def testbed() -> Testbed:
    """The running testbed cluster (started if needed)."""
    from labs.testbed import cluster

    try:
        kubeconfig = cluster.up(log=lambda message: print(f"[testbed] {message}", flush=True))
    except Exception as error:  # any failure to bring it up is reported the same way
        message = f"testbed unavailable: {error}"
        if _in_ci():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return Testbed(kubeconfig=kubeconfig, inventory=cluster.inventory())


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """../shared beside the checkout: upstream data files for tests (never copied into the repo)."""
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} not found")
    return SHARED


@pytest.fixture(scope="session")
def falco_upstream(shared_dir) -> Path:
    """Upstream Falco's default rules files (falco_rules.yaml and falco_rules_0.32.2.yaml)."""
    return shared_dir / "data" / "falco"
