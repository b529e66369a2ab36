"""A scenario just written by `lab new`, proven on the testbed with its own generated proof: setup fails the
grader on the TODO criterion, the proof's solution and near-miss tests fail saying what to fill in, and its broken
cluster (the namespace deleted) is a fail that reset cleans up."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from lab_attempt import started

from labs.catalog import REPO_ROOT, SCENARIOS_VARIABLE
from labs.cli import main

pytestmark = pytest.mark.testbed


def _generated_proof(checkout: Path):
    path = checkout / "tests" / "test_scenario_99_example.py"
    spec = importlib.util.spec_from_file_location("generated_proof_99", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_new_scenarios_proof_fails_saying_what_to_fill_in(testbed, tmp_path, monkeypatch):
    (tmp_path / "scenarios").mkdir()
    (tmp_path / "playbooks").symlink_to(REPO_ROOT / "playbooks")
    monkeypatch.setenv(SCENARIOS_VARIABLE, str(tmp_path / "scenarios"))
    assert main(["new", "99-example", "--domain", "Cluster Setup"]) == 0
    proof = _generated_proof(tmp_path)
    with started(99, proof.SEED, tmp_path / "state") as lab:
        proof.test_after_setup_the_check_fails_on_the_task_criteria(lab)
        with pytest.raises(AssertionError, match="TODO: judge the task's first criterion in graders/test_99_example"):
            proof.test_the_reference_solution_passes(lab)
        with pytest.raises(pytest.fail.Exception, match="TODO: a plausible but wrong answer"):
            proof.test_a_near_miss_fails_on_the_criterion_it_misses(lab)
        proof.test_with_its_namespace_deleted_the_check_fails_and_reset_still_cleans_up(lab)
