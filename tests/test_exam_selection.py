"""Choosing an exam's tasks: seats per domain in proportion to the CKS weights, scenarios drawn by points, the same
seed giving the same exam, every scenario used when fewer exist than asked, never two scenarios that take over the
same shared component, and a scenario that may leave kube-apiserver down set up last."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from labs.catalog import Catalog, Scenario, ScenarioSpec
from labs.exam.exam import DEFAULT_TASKS
from labs.exam.selection import DOMAIN_WEIGHTS, choose, setup_order

RUNTIME = "Monitoring, Logging and Runtime Security"
SUPPLY = "Supply Chain Security"
SYSTEM = "System Hardening"


def scenario(
    number: int, domain: str, points: int = 5, exclusive: list[str] | None = None, apiserver_may_be_down: bool = False
) -> Scenario:
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
        exclusive=exclusive or [],
        apiserver_may_be_down=apiserver_may_be_down,
    )
    return Scenario(Path(f"/nowhere/{number:02d}-task-{number}"), spec)


def test_the_weights_are_the_six_cks_domains_adding_up_to_100():
    from labs.catalog import DOMAINS

    assert set(DOMAIN_WEIGHTS) == set(DOMAINS)
    assert sum(DOMAIN_WEIGHTS.values()) == 100


def domains_of(chosen) -> Counter:
    return Counter(choice.scenario.spec.domain for choice in chosen)


def test_seats_follow_the_domain_weights():
    plenty = [scenario(n, domain) for n, domain in enumerate(sorted(DOMAIN_WEIGHTS) * 10, start=1)]
    assert domains_of(choose(plenty, 20, seed=3)) == {domain: weight // 5 for domain, weight in DOMAIN_WEIGHTS.items()}
    assert len(choose(plenty, 16, seed=3)) == 16


def test_a_domain_with_few_scenarios_gives_its_seats_to_the_others():
    catalog = [scenario(n, RUNTIME) for n in range(1, 11)] + [scenario(11, SYSTEM)]
    catalog += [scenario(n, SUPPLY) for n in range(12, 22)]
    allocation = domains_of(choose(catalog, 10, seed=5))
    assert allocation[SYSTEM] == 1
    assert sum(allocation.values()) == 10
    assert abs(allocation[RUNTIME] - allocation[SUPPLY]) <= 1


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


def test_scenarios_taking_over_one_component_are_never_asked_together():
    apiserver = [scenario(n, RUNTIME, exclusive=["kube-apiserver"]) for n in (1, 2, 3)]
    falco = [scenario(4, SUPPLY, exclusive=["falco-rules"]), scenario(5, SYSTEM, exclusive=["falco-rules", "x"])]
    free = [scenario(n, SUPPLY) for n in (6, 7)]
    winners = Counter()
    for seed in range(200):
        chosen = [choice.scenario for choice in choose([*apiserver, *falco, *free], 16, seed)]
        for component in ("kube-apiserver", "falco-rules"):
            assert sum(component in s.spec.exclusive for s in chosen) <= 1, (seed, [s.id for s in chosen])
        assert {s.id for s in free} <= {s.id for s in chosen}
        winners.update(s.spec.number for s in chosen if s.spec.exclusive)
    assert all(winners[number] > 0 for number in (1, 2, 3, 4, 5)), winners  # each one of its group gets its turn


def test_parts_of_one_component_share_an_exam_and_the_whole_component_shares_it_with_none():
    audit = scenario(1, RUNTIME, exclusive=["kube-apiserver:audit"])
    encryption = scenario(2, SUPPLY, exclusive=["kube-apiserver:encryption"])
    whole = scenario(3, SYSTEM, exclusive=["kube-apiserver"])
    assert not audit.conflicts_with(encryption)
    assert audit.conflicts_with(whole) and whole.conflicts_with(encryption)
    assert audit.conflicts_with(scenario(4, SYSTEM, exclusive=["x", "kube-apiserver:audit"]))
    for seed in range(100):
        ids = {choice.scenario.spec.number for choice in choose([audit, encryption, whole], 3, seed)}
        assert ids in ({1, 2}, {3}), (seed, ids)


def test_the_real_catalog_never_asks_two_takers_of_one_component_and_sets_08_up_last():
    scenarios = Catalog().scenarios
    components = {component for s in scenarios for component in s.spec.exclusive}
    assert {"kube-apiserver:audit", "falco-rules"} <= components
    compatible = len(scenarios) - sum(sum(c in s.spec.exclusive for s in scenarios) - 1 for c in components)
    most = min(compatible, DEFAULT_TASKS)  # an exam asks 16 tasks even when more could be asked together
    seen = Counter()
    for seed in range(300):
        chosen = choose(scenarios, DEFAULT_TASKS, seed)
        ids = [choice.scenario.id for choice in chosen]
        assert len(chosen) == most, ids
        for component in components:
            assert sum(component in choice.scenario.spec.exclusive for choice in chosen) <= 1, (seed, ids)
        order = [ids[index] for index in setup_order([choice.scenario for choice in chosen])]
        assert sorted(order) == sorted(ids)
        if "08-audit-repair" in ids:
            assert order[-1] == "08-audit-repair", (seed, order)
        again = choose(scenarios, DEFAULT_TASKS, seed)
        assert ids == [choice.scenario.id for choice in again]  # the same seed, the same exam
        seen.update(ids)
    assert {"06-audit-logging", "07-audit-forensics", "08-audit-repair"} <= set(seen)


def test_setup_order_puts_a_scenario_that_may_leave_the_apiserver_down_last_and_keeps_the_rest_as_asked():
    asked = [scenario(3, RUNTIME), scenario(8, RUNTIME, apiserver_may_be_down=True), scenario(1, SUPPLY)]
    assert setup_order(asked) == [0, 2, 1]
    assert setup_order(asked[::2]) == [0, 1]
