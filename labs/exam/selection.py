"""Which scenarios an exam asks: seats per CKS domain in proportion to the domain's weight in the real exam (among
the domains that have scenarios), scenarios within a domain drawn with a probability that grows with their points,
and never two scenarios that take over the same shared component (`exclusive` in scenario.yaml, e.g.
falco-rules, or the same part of one, e.g. kube-apiserver:audit). The same seed and catalog always give the same
tasks and per-task seeds. Also: the order in which the chosen tasks are set up."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass

from labs.catalog import Scenario

# Weights of the CKS curriculum's domains, in percent.
DOMAIN_WEIGHTS = {
    "Cluster Setup": 15,
    "Cluster Hardening": 15,
    "System Hardening": 10,
    "Minimize Microservice Vulnerabilities": 20,
    "Supply Chain Security": 20,
    "Monitoring, Logging and Runtime Security": 20,
}
SEED_RANGE = 1_000_000


@dataclass(frozen=True)
class Choice:
    """A chosen task: the scenario and the seed of its attempt."""

    scenario: Scenario
    seed: int


def next_seat(allocated: Counter[str], open_domains: set[str]) -> str:
    """The domain that gets the next task: the highest weight / (2 * tasks so far + 1) among the domains that still
    have a scenario to offer (Sainte-Laguë proportional allocation), ties to the first in alphabetical order."""
    return max(sorted(open_domains), key=lambda domain: DOMAIN_WEIGHTS.get(domain, 1) / (2 * allocated[domain] + 1))


def _draw_order(scenarios: list[Scenario], rng: random.Random) -> list[Scenario]:
    """The scenarios in the order a draw without replacement, each with a probability proportional to its points,
    would take them (Efraimidis-Spirakis keys)."""
    ordered = sorted(scenarios, key=lambda s: s.spec.number)
    keys = {s.id: rng.random() ** (1 / s.spec.points) for s in ordered}
    return sorted(ordered, key=lambda s: keys[s.id], reverse=True)


def choose(scenarios: list[Scenario], count: int, seed: int) -> list[Choice]:
    """The exam's tasks in the order they are asked; fewer than `count` when the catalog has fewer scenarios that
    can be asked together. Seat by seat, the domain due next takes its next scenario in draw order; a chosen
    scenario rules out every other one that names a shared component it takes over."""
    rng = random.Random(f"exam/{seed}")
    remaining = _draw_order(scenarios, rng)
    allocated: Counter[str] = Counter()
    chosen: list[Scenario] = []
    while remaining and len(chosen) < count:
        domain = next_seat(allocated, {s.spec.domain for s in remaining})
        pick = next(s for s in remaining if s.spec.domain == domain)
        chosen.append(pick)
        allocated[domain] += 1
        remaining = [s for s in remaining if s is not pick and not pick.conflicts_with(s)]
    rng.shuffle(chosen)
    return [Choice(scenario, rng.randrange(SEED_RANGE)) for scenario in chosen]


def setup_order(scenarios: list[Scenario]) -> list[int]:
    """The indexes of an exam's scenarios in the order to set them up: those that may leave kube-apiserver down
    (`apiserver_may_be_down`) after the others, and the one whose setup leaves it down on purpose
    (`apiserver_down_after_setup`, 08) last, since every other setup needs the API server; otherwise as asked.
    `lab exam clean` goes the other way round (the apiserver's reset first)."""
    return sorted(
        range(len(scenarios)),
        key=lambda index: (
            scenarios[index].spec.apiserver_may_be_down,
            scenarios[index].spec.apiserver_down_after_setup,
        ),
    )
