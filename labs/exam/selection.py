"""Which scenarios an exam asks: seats per CKS domain in proportion to the domain's weight in the real exam (among
the domains that have scenarios), then scenarios within a domain drawn with a probability that grows with their
points. The same seed and catalog always give the same tasks and per-task seeds."""

from __future__ import annotations

import random
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


def seats(available: dict[str, int], count: int) -> dict[str, int]:
    """Tasks per domain: each seat goes to the domain with the highest weight / (seats + 1) (Sainte-Laguë-like
    proportional allocation) that still has an unused scenario."""
    allocated = dict.fromkeys(available, 0)
    for _ in range(min(count, sum(available.values()))):
        open_domains = [domain for domain in available if allocated[domain] < available[domain]]
        best = max(open_domains, key=lambda domain: DOMAIN_WEIGHTS.get(domain, 1) / (2 * allocated[domain] + 1))
        allocated[best] += 1
    return {domain: seats for domain, seats in allocated.items() if seats}


def _weighted_sample(scenarios: list[Scenario], count: int, rng: random.Random) -> list[Scenario]:
    """`count` scenarios without replacement, each drawn with a probability proportional to its points
    (Efraimidis-Spirakis keys)."""
    keyed = sorted(scenarios, key=lambda s: rng.random() ** (1 / s.spec.points), reverse=True)
    return keyed[:count]


def choose(scenarios: list[Scenario], count: int, seed: int) -> list[Choice]:
    """The exam's tasks in the order they are asked; fewer than `count` when the catalog has fewer scenarios."""
    rng = random.Random(f"exam/{seed}")
    by_domain: dict[str, list[Scenario]] = {}
    for scenario in sorted(scenarios, key=lambda s: s.spec.number):
        by_domain.setdefault(scenario.spec.domain, []).append(scenario)
    allocation = seats({domain: len(members) for domain, members in by_domain.items()}, count)
    chosen = [s for domain, n in allocation.items() for s in _weighted_sample(by_domain[domain], n, rng)]
    rng.shuffle(chosen)
    return [Choice(scenario, rng.randrange(SEED_RANGE)) for scenario in chosen]
