"""Choosing an exam's tasks: seats per domain in proportion to the CKS weights, scenarios drawn by points, the same
seed giving the same exam, and every scenario used when fewer exist than asked."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from labs.catalog import Catalog, Scenario, ScenarioSpec
from labs.exam.selection import DOMAIN_WEIGHTS, choose, seats

RUNTIME = "Monitoring, Logging and Runtime Security"
SUPPLY = "Supply Chain Security"
SYSTEM = "System Hardening"


def scenario(number: int, domain: str, points: int = 5) -> Scenario:
    spec = ScenarioSpec(
        number=number,
        slug=f"task-{number}",
        title=f"Task number {number}",
        domain=domain,
        points=points,
        minutes=5,
        nodes=["controlplane"],
        task="Do something about task number {{ n }}.",
        hints=["a hint"],
        solution="The solution, explained at length.",
    )
    return Scenario(Path(f"/nowhere/{number:02d}-task-{number}"), spec)


def test_the_weights_are_the_six_cks_domains_adding_up_to_100():
    from labs.catalog import DOMAINS

    assert set(DOMAIN_WEIGHTS) == set(DOMAINS)
    assert sum(DOMAIN_WEIGHTS.values()) == 100


def test_seats_follow_the_domain_weights():
    plenty = dict.fromkeys(DOMAIN_WEIGHTS, 10)
    allocation = seats(plenty, 20)
    assert allocation == {domain: weight // 5 for domain, weight in DOMAIN_WEIGHTS.items()}
    assert sum(seats(plenty, 16).values()) == 16


def test_a_domain_with_few_scenarios_gives_its_seats_to_the_others():
    allocation = seats({RUNTIME: 10, SYSTEM: 1, SUPPLY: 10}, 10)
    assert allocation[SYSTEM] == 1
    assert sum(allocation.values()) == 10
    assert allocation[RUNTIME] == allocation[SUPPLY] or abs(allocation[RUNTIME] - allocation[SUPPLY]) == 1


def test_more_tasks_than_scenarios_uses_every_scenario_once():
    catalog = [scenario(1, RUNTIME), scenario(2, RUNTIME), scenario(3, SYSTEM)]
    chosen = choose(catalog, 16, seed=7)
    assert sorted(choice.scenario.spec.number for choice in chosen) == [1, 2, 3]


def test_the_same_seed_gives_the_same_tasks_seeds_and_order():
    catalog = [scenario(n, RUNTIME if n % 2 else SUPPLY, points=n) for n in range(1, 13)]
    first = [(c.scenario.id, c.seed) for c in choose(catalog, 5, seed=42)]
    assert first == [(c.scenario.id, c.seed) for c in choose(catalog, 5, seed=42)]
    assert first != [(c.scenario.id, c.seed) for c in choose(catalog, 5, seed=43)]
    assert len({scenario_id for scenario_id, _ in first}) == 5


def test_scenarios_worth_more_points_are_chosen_more_often():
    heavy, light = scenario(1, RUNTIME, points=20), scenario(2, RUNTIME, points=2)
    picks = Counter(choose([heavy, light], 1, seed=seed)[0].scenario.spec.number for seed in range(400))
    assert picks[1] > 3 * picks[2] > 0


@pytest.mark.parametrize("count", [1, 2, 3])
def test_the_real_catalog_gives_the_number_of_tasks_asked(count):
    scenarios = Catalog().scenarios
    chosen = choose(scenarios, count, seed=1)
    assert len(chosen) == min(count, len(scenarios))
    assert all(0 <= choice.seed < 1_000_000 for choice in chosen)
