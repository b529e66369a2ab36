"""Fixtures for graders of Falco tasks: the node's Falco read the way Falco 0.42 reads it (labs.graderlib.falco), the
attempt's pod, and Falco's live output. Every grader gets them (labs.grading.plugin.FIXTURE_PLUGINS) by naming
them as arguments:

- `falco_files`: the files of node controlplane, where the tasks' Falco runs (labs.graderlib.falco.HostFiles)
- `falco_config`: the effective configuration (falco.yaml and its config_files drop-ins); fails every criterion
  that uses it with what Falco would say at start
- `falco_rules`: the rules Falco loads, in its order; fails every criterion that uses it with Falco's first load
  error (file, line, item)
- `attempt_pod`: the pod named by the attempt's `namespace` and `pod` parameters, once Ready; fails every criterion
  that uses it with the pods that are there instead
- `live_falco`: `live_falco(node_name)` is Falco's output on that node (labs.graderlib.falco_live.FalcoOutput) for
  a live criterion (marked `@pytest.mark.needs("falco")`); a Falco that is not running fails the criterion
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from labs.falco import Ruleset
from labs.graderlib.falco import FalcoConfig, HostFiles, require_config, require_rules
from labs.graderlib.falco_live import FalcoOutput, require_falco
from labs.graderlib.pods import require_pod
from labs.k8s import Kube

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
    """`live_falco(node_name)`: Falco's output on that node; the criterion fails when Falco does not run there."""

    def output_on(node_name: str = FALCO_NODE) -> FalcoOutput:
        host = node(node_name)
        require_falco(host)
        return FalcoOutput(host, request.getfixturevalue("falco_config"))

    return output_on
