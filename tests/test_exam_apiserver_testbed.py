"""Exam mode on the testbed with two tasks that both change kube-apiserver, in different parts (06, audit logging;
the test-only 97 of tests/data/scenarios, profiling): both are set up on one cluster, both reference solutions
apply on top of each other, both tasks pass, and `lab exam clean` takes each one's flags and volumes out again,
leaving the manifest it found."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from apiserver_scenario import MANIFEST as APISERVER_MANIFEST
from apiserver_scenario import same_manifest
from test_exam_testbed import apply_solution, exam_file, lab, start

from labs.catalog import REPO_ROOT, SCENARIOS_VARIABLE
from labs.graderlib.apiserver import running_apiserver_flags
from labs.targets import resolve
from labs.testbed import cluster

pytestmark = [pytest.mark.testbed, pytest.mark.slow, pytest.mark.shares("6"), pytest.mark.restarts_apiserver]


def _catalog_changing_kube_apiserver(directory: Path) -> Path:
    """A scenarios directory with 06 (audit logging) and the test-only 97 (profiling), which change different parts
    of kube-apiserver; copied, beside a link to the playbooks their includes reach as ../../playbooks."""
    scenarios = directory / "scenarios"
    shutil.copytree(REPO_ROOT / "scenarios/06-audit-logging", scenarios / "06-audit-logging")
    test_only = Path(__file__).parent / "data/scenarios/97-apiserver-profiling"
    shutil.copytree(test_only, scenarios / test_only.name)
    (directory / "playbooks").symlink_to(REPO_ROOT / "playbooks")
    return scenarios


@pytest.mark.owns_apiserver
def test_an_exam_holds_two_scenarios_that_change_kube_apiserver_grades_both_and_clean_puts_it_back(
    testbed, tmp_path, monkeypatch
):
    monkeypatch.setenv(SCENARIOS_VARIABLE, str(_catalog_changing_kube_apiserver(tmp_path)))
    original, state = APISERVER_MANIFEST.read_text(), tmp_path / "state"
    started = start(state, 2, seed=1)
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        tasks = exam_file(state)["tasks"]
        assert {task["scenario"] for task in tasks} == {"06-audit-logging", "97-apiserver-profiling"}
        for task in tasks:
            apply_solution(task)
        flags = running_apiserver_flags(resolve("testbed").host("controlplane"))
        assert flags["profiling"] == "false" and flags["audit-policy-file"].startswith("/etc/kubernetes/audit/")
        submitted = lab(state, "exam", "submit", "--json")
        results = {task["scenario"]: task["status"] for task in json.loads(submitted.stdout)["tasks"]}
        assert results == {"06-audit-logging": "pass", "97-apiserver-profiling": "pass"}, submitted.stdout
    finally:
        cleaned = lab(state, "exam", "clean")
    assert cleaned.returncode == 0, cleaned.stdout + cleaned.stderr
    assert same_manifest(APISERVER_MANIFEST.read_text(), original)
    cluster.wait_until_ready(180)
