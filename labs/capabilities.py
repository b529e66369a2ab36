"""What a target can do that a scenario's setup or a grader's criterion may need. The Vagrant VMs have all of it; the
testbed (one node on a machine without systemd, AppArmor or loadable modules) has none. A scenario says what its
setup needs (`needs` in scenario.yaml: `lab start` refuses a target without it, and an exam never draws it there); a
criterion says what judging it needs (`@pytest.mark.needs("falco")`: on a target without it the criterion is "not
gradable on this target", left out of the score with the reason)."""

from __future__ import annotations

from collections.abc import Iterable

CAPABILITIES = {
    "apparmor": "AppArmor enforcing profiles in the kernel",
    "falco": "Falco running on the nodes",
    "systemd": "systemd running the nodes' services",
    "kernel-modules": "loadable kernel modules",
    "second-node": "a worker node beside the control plane",
}
EVERYTHING: frozenset[str] = frozenset(CAPABILITIES)
TESTBED: frozenset[str] = frozenset()


def lacking(needs: Iterable[str], has: frozenset[str]) -> list[str]:
    """The needs that `has` does not meet, in the order given."""
    return [need for need in needs if need not in has]


def explain(missing: Iterable[str]) -> str:
    """`AppArmor enforcing profiles in the kernel (apparmor)` for each missing capability, joined."""
    return ", ".join(f"{CAPABILITIES.get(need, need)} ({need})" for need in missing)


def unknown(needs: Iterable[str]) -> list[str]:
    """The names in `needs` that are no capability, for the validation of scenarios and graders."""
    return [need for need in needs if need not in CAPABILITIES]
