"""Mutation testing of every grader (tests/mutation.py, docs/writing-a-scenario.md#mutants).

Offline, in `make test`: every mutant of every scenario's reference solution is graded on its recording; each must
fail a criterion, be declared equivalent with the reason, or be left to the testbed because only behaviour shows
its effect. With the testbed (`make test-mutants`): the mutants left to it are applied to a solved attempt and
graded for real. Each test prints the scenario's score (`pytest -rP`); docs/benchmarks.md#mutation-score has them.
"""

from __future__ import annotations

from fnmatch import fnmatchcase

import pytest
from apiserver_scenario import ApiserverScenario
from lab_attempt import started
from mutation import MutantSpec, Score, has_mutants, load_recording, run_offline
from mutation_testbed import LiveLane

from labs.catalog import Catalog

SCENARIOS = [scenario for scenario in Catalog().scenarios if has_mutants(scenario)]
RESTARTS_APISERVER = "kube-apiserver:audit"


def _offline(scenario, shared_dir) -> tuple[MutantSpec, Score]:
    attempt = load_recording(scenario, shared_dir)
    spec = MutantSpec.of(scenario, attempt.params)
    return spec, run_offline(scenario, spec, attempt)


def _unused_declarations(spec: MutantSpec, score: Score) -> list[str]:
    """Equivalence patterns that match no equivalent mutant: stale declarations."""
    return [pattern for pattern in spec.equivalent if not any(fnmatchcase(m, pattern) for m in score.equivalent)]


def test_every_scenario_has_mutants():
    assert [s.id for s in Catalog().scenarios if not has_mutants(s)] == []


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.id)
def test_every_offline_mutant_is_killed_or_declared_equivalent(scenario, shared_dir):
    spec, score = _offline(scenario, shared_dir)
    print(score.summary(scenario.id))
    assert not (score.survived or score.errors or score.killed_but_declared), score.summary(scenario.id)
    stale = _unused_declarations(spec, score)
    assert not stale, f"declared equivalent in mutants.yaml, but no mutant is: {stale}"


@pytest.mark.mutants
@pytest.mark.testbed
@pytest.mark.slow
@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.id)
def test_every_mutant_left_to_the_testbed_is_killed(scenario, testbed, shared_dir, tmp_path):
    _, score = _offline(scenario, shared_dir)
    if not score.left:
        pytest.skip("every mutant was judged offline")
    attempt = load_recording(scenario, shared_dir)
    number, seed = str(scenario.spec.number), attempt.seed
    restarts = RESTARTS_APISERVER in scenario.spec.exclusive
    with ApiserverScenario.started(number, seed, tmp_path) if restarts else started(number, seed, tmp_path) as lab:
        lab.solve()
        LiveLane(lab).judge(score)
    print(score.summary(scenario.id))
    assert not (score.survived or score.errors or score.left), score.summary(scenario.id)
