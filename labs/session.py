"""The life of an attempt: start (setup), reset, solution, check. No printing here: the commands present results."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING

from labs import state
from labs.capabilities import explain
from labs.catalog import Catalog, Scenario
from labs.errors import CannotGrade, LabError
from labs.state import Attempt

if TYPE_CHECKING:
    from labs.grading.context import GradingContext
    from labs.grading.report import Report
    from labs.targets import Target

OnTask = Callable[[str], None]


class NothingStarted(LabError):
    """A command needs a started scenario."""

    exit_code = 2


class TargetLacks(LabError):
    """The target lacks what a scenario's setup needs (labs/capabilities.py): nothing was set up."""

    exit_code = 2


class SetupFailed(CannotGrade):
    """A playbook failed; the message lists the failed tasks."""


def reachable(target: Target, scenario: Scenario | None = None) -> None:
    """Raise CannotGrade naming the target and what failed unless its API server answers (not asked for a scenario
    whose task is to bring kube-apiserver back: `apiserver_may_be_down`)."""
    if scenario is not None and scenario.spec.apiserver_may_be_down:
        return
    try:
        target.kube.ping()
    except CannotGrade as error:
        raise CannotGrade(f"target {target.describe()}: {error}") from None


def extravars(scenario: Scenario, attempt: Attempt | None, target: Target) -> dict:
    """What the playbooks get: the parameters, the scenario id and seed, and the target's name. The kubeconfig the
    playbooks use is the inventory's `kubeconfig` variable (the built-in targets set it; an --inventory must)."""
    values: dict = {"lab_scenario": scenario.id, "lab_target": target.name}
    if attempt is not None:
        values |= {**attempt.params, "lab_seed": attempt.seed}
    return values


def run_stage(scenario: Scenario, stage: str, target: Target, attempt: Attempt | None, on_task: OnTask) -> None:
    """Run setup.yml, solution.yml or reset.yml of the scenario; SetupFailed says which task failed and why."""
    from labs.ansible import run_playbook
    from labs.keep import keep_files

    name = stage.removesuffix(".yml")
    keep_files(scenario, target, name)
    result = run_playbook(
        scenario.playbook(stage),
        target.inventory,
        extravars(scenario, attempt, target),
        on_task=on_task,
        ident=f"{scenario.id}-{name}",
    )
    if not result.ok:
        details = "\n  ".join(result.failures)
        raise SetupFailed(f"{scenario.id} {name} failed on {target.name}:\n  {details}\n  (log: {result.artifacts})")


def new_attempt(scenario: Scenario, target: Target, seed: int | None) -> Attempt:
    """A fresh attempt: its seed (random unless given) and the parameters it generates."""
    seed = secrets.randbelow(1_000_000) if seed is None else seed
    params = scenario.draw(seed, target.images)
    return Attempt(scenario=scenario.id, seed=seed, params=params, target=target.ref, started_at=state.now())


def start(
    scenario: Scenario, target: Target, seed: int | None, on_task: OnTask, catalog: Catalog, ignore_needs: bool = False
) -> Attempt:
    """Clean up the previous attempt (another scenario's), set this one up, and record it. Caller holds the lock.
    A target that lacks what the scenario needs is refused before anything changes, unless `ignore_needs` (a
    scenario's proof on the testbed: the criteria that need it are then not gradable).

    Ctrl-C during setup leaves the attempt in phase "setting-up": `lab reset` runs setup again and repairs it.
    """
    if (missing := target.lacks(scenario)) and not ignore_needs:
        raise TargetLacks(
            f"{scenario.id} needs {explain(missing)}, which the {target.name} target does not have: nothing was set "
            "up. Run it on the Vagrant VMs (`vagrant up`, then `lab start` on controlplane); `lab list` shows where "
            "each scenario runs"
        )
    reachable(target, scenario)
    saved = state.load()
    previous = saved.current
    if previous is not None and previous.scenario != scenario.id:
        _clean_up(previous, catalog, target, on_task)
    attempt = new_attempt(scenario, target, seed)
    saved.current = attempt
    state.save(saved)
    _set_up(scenario, target, attempt, saved, on_task)
    return attempt


def _clean_up(previous: Attempt, catalog: Catalog, target: Target, on_task: OnTask) -> None:
    try:
        old = catalog.find(previous.scenario)
    except LookupError:
        return  # the scenario was removed from the catalog: nothing we know how to clean up
    run_stage(old, "reset.yml", target, previous, on_task)


def _set_up(scenario: Scenario, target: Target, attempt: Attempt, saved: state.State, on_task: OnTask) -> None:
    attempt.phase = "setting-up"
    state.save(saved)
    try:
        run_stage(scenario, "setup.yml", target, attempt, on_task)
    except SetupFailed:
        attempt.phase = "setup-failed"
        state.save(saved)
        raise
    attempt.phase = "ready"
    attempt.started_at = state.now()
    state.save(saved)


def current(catalog: Catalog, wanted: str | None = None) -> tuple[Scenario, Attempt]:
    """The started scenario and its attempt (and that it is `wanted` when given)."""
    attempt = state.load().current
    if attempt is None:
        raise NothingStarted("no scenario is started; `lab list` shows them, `lab start N` starts one")
    scenario = catalog.find(attempt.scenario)
    if wanted is not None and catalog.find(wanted).id != scenario.id:
        raise NothingStarted(f"{catalog.find(wanted).id} is not started (the started scenario is {scenario.id})")
    return scenario, attempt


def reset(scenario: Scenario, attempt: Attempt | None, target: Target, clean: bool, on_task: OnTask) -> None:
    """Back to the start of the task (setup again, same parameters); with `clean` (or for a scenario that is not the
    started one) only remove what the scenario set up. Caller holds the lock."""
    reachable(target, scenario)
    saved = state.load()
    if attempt is None or clean:
        run_stage(scenario, "reset.yml", target, attempt, on_task)
        if attempt is not None:
            saved.current = None
            state.save(saved)
        return
    assert saved.current is not None
    _set_up(scenario, target, saved.current, saved, on_task)


def apply_solution(scenario: Scenario, attempt: Attempt, target: Target, on_task: OnTask) -> None:
    """Run solution.yml and remember that the solution was used."""
    reachable(target, scenario)
    run_stage(scenario, "solution.yml", target, attempt, on_task)
    mark_solution_shown()


def mark_solution_shown() -> None:
    """Remember that this attempt saw the solution."""
    saved = state.load()
    if saved.current is not None:
        saved.current.solution_shown = True
        state.save(saved)


def next_hint(scenario: Scenario) -> tuple[int, str | None]:
    """The number and text of the next hint (None when all were shown); counts it as shown."""
    saved = state.load()
    assert saved.current is not None
    hints = scenario.spec.hints
    index = saved.current.hints_shown
    if index >= len(hints):
        return len(hints), None
    saved.current.hints_shown = index + 1
    state.save(saved)
    return index + 1, scenario.render(hints[index], saved.current.params)


def check(scenario: Scenario, attempt: Attempt, target: Target, keyword: str | None = None) -> Report:
    """Grade the attempt; the result is remembered for `lab list`."""
    from labs.grading.context import GradingContext
    from labs.grading.plugin import grade

    if attempt.phase != "ready":
        raise NothingStarted(f"the setup of {scenario.id} did not finish ({attempt.phase}): run `lab reset` first")
    reachable(target, scenario)
    report = grade(scenario.grader, GradingContext(scenario.id, attempt.seed, attempt.params, target), keyword)
    saved = state.load()
    saved.results[scenario.id] = state.Result(
        verdict=report.verdict,
        score=report.score,
        max_score=report.max_score,
        seed=attempt.seed,
        checked_at=state.now(),
    )
    state.save(saved)
    return report


def current_context() -> GradingContext:
    """The grading context of the started attempt (for running a grader directly with pytest)."""
    from labs.grading.context import GradingContext
    from labs.targets import from_ref

    attempt = state.load().current
    if attempt is None:
        raise CannotGrade("no scenario is started (lab start N)")
    return GradingContext(attempt.scenario, attempt.seed, attempt.params, from_ref(attempt.target))
