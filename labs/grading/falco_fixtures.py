"""Fixtures for graders of Falco tasks: the node's Falco read the way Falco 0.42 reads it (labs.grading.falco), the
attempt's pod, and Falco's live output. Import them into the grader module:

    from labs.grading.falco_fixtures import *  # noqa: F403 - the fixtures falco_config, falco_rules, attempt_pod ...

- `falco_files`: the files of node controlplane, where the tasks' Falco runs (labs.grading.falco.HostFiles)
- `falco_config`: the effective configuration (falco.yaml and its config_files drop-ins); fails every criterion
  that uses it with what Falco would say at start
- `falco_rules`: the rules Falco loads, in its order; fails every criterion that uses it with Falco's first load
  error (file, line, item)
- `attempt_pod`: the pod named by the attempt's `namespace` and `pod` parameters, once Ready; fails every criterion
  that uses it with the pods that are there instead
- `live_falco`: `live_falco(node_name)` is Falco's output on that node (labs.grading.falco_live.FalcoOutput) for
  a live criterion; it skips the criterion as "not gradable here" where Falco does not run, and only then reads
  `falco_config`, so a configuration that is broken cannot fail a criterion that could not be judged anyway
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from labs.falco import Ruleset
from labs.grading.falco import FalcoConfig, HostFiles, require_config, require_rules
from labs.grading.falco_live import FalcoOutput, require_falco
from labs.grading.pods import require_pod
from labs.k8s import Kube

__all__ = ["attempt_pod", "falco_config", "falco_files", "falco_rules", "live_falco"]

FALCO_NODE = "controlplane"


@pytest.fixture(scope="module")
def falco_files(node) -> HostFiles:
    """The files of the node whose Falco the task is about."""
    return HostFiles(node(FALCO_NODE))


@pytest.fixture(scope="module")
def falco_config(falco_files) -> FalcoConfig:
    """The configuration Falco would start with, or a failed criterion saying why it would not start."""
    return require_config(falco_files)


@pytest.fixture(scope="module")
def falco_rules(falco_files, falco_config) -> Ruleset:
    """The rules Falco loads, or a failed criterion with Falco's first load error."""
    return require_rules(falco_files, falco_config)


@pytest.fixture(scope="module")
def attempt_pod(kube: Kube, params) -> Any:
    """The pod setup started for the task (parameters `namespace` and `pod`)."""
    return require_pod(kube, params["namespace"], params["pod"])


@pytest.fixture
def live_falco(node, request: pytest.FixtureRequest) -> Callable[[str], FalcoOutput]:
    """`live_falco(node_name)`: Falco's output on that node, or the criterion skipped where Falco does not run."""

    def output_on(node_name: str = FALCO_NODE) -> FalcoOutput:
        host = node(node_name)
        require_falco(host)  # before the configuration: where Falco does not run, the criterion is not judged
        return FalcoOutput(host, request.getfixturevalue("falco_config"))

    return output_on
