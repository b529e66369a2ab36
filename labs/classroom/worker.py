"""Grades one student in its own process (`python -m labs.classroom.worker`, a job as JSON on stdin): the graders of
the instructor's checkout run against the student's cluster, and one JSON line per scenario goes to stdout as soon
as it is graded, so that a timeout keeps what was finished. Nothing on the student's cluster is changed: only the
graders' probes run, and the student's state file is read, never written."""

from __future__ import annotations

import json
import os
import shlex
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ValidationError

from labs.catalog import Catalog, Scenario
from labs.classroom.classfile import StateFile
from labs.classroom.results import COULD_NOT_GRADE, CriterionResult, ScenarioResult
from labs.errors import CannotGrade
from labs.state import State, TargetRef
from labs.targets import Target

PING_TIMEOUT = 10


class Job(BaseModel):
    """What the worker grades: one student's cluster, the scenarios and the seeds known beforehand."""

    student: str
    kubeconfig: Path
    inventory: dict
    images: dict[str, str] = {}
    scenarios: list[str]
    seeds: dict[str, int] = {}
    state_file: StateFile | None = None
    workdir: Path


@dataclass
class StudentTarget(Target):
    """A student's cluster: named after the student, its inventory file kept in the run's work directory."""

    student: str = ""
    workdir: Path = Path(".")

    @property
    def name(self) -> str:
        return self.student

    def inventory_file(self) -> Path:
        path = self.workdir / f"{self.student}.inventory.json"
        path.write_text(json.dumps(self.inventory, indent=2))
        return path


def target_of(job: Job) -> StudentTarget:
    """The student's cluster as a lab target."""
    ref = TargetRef(kind="explicit", kubeconfig=str(job.kubeconfig))
    return StudentTarget(ref, job.kubeconfig, job.inventory, dict(job.images), job.student, job.workdir)


def error(scenario: Scenario, message: str, seed: int | None = None) -> ScenarioResult:
    """Could not grade (never a zero): the reason is the message."""
    return ScenarioResult(
        scenario=scenario.id, seed=seed, status="error", max_score=scenario.spec.points, message=message
    )


def read_state(target: Target, where: StateFile) -> State:
    """The student's lab state, read from their node (`cat`, nothing else); CannotGrade when it cannot be read."""
    path = where.path
    quoted = f'"$HOME"/{shlex.quote(path[2:])}' if path.startswith("~/") else shlex.quote(path)
    host = target.host(where.node)
    result = host.run(f"cat -- {quoted}")
    if result.rc != 0:
        raise CannotGrade(f"cannot read the lab state {path} on {where.node}: {result.stderr.strip()[:200]}")
    if not result.stdout.strip():
        return State()
    try:
        return State.model_validate_json(result.stdout)
    except (ValidationError, ValueError) as problem:
        raise CannotGrade(f"the lab state {path} on {where.node} is unreadable: {str(problem)[:200]}") from None


def seed_from_state(scenario: Scenario, saved: State) -> tuple[int | None, ScenarioResult | None, dict | None]:
    """The seed of the student's attempt at `scenario` from their state, or the result to report instead (not
    started: zero; not on the cluster any more or not set up: could not grade); also the parameters recorded."""
    current = saved.current
    if current is not None and current.scenario == scenario.id:
        if current.phase != "ready":
            return None, error(scenario, f"the student's attempt is not set up ({current.phase})", current.seed), None
        return current.seed, None, current.params
    last = saved.results.get(scenario.id)
    if last is not None:
        moved_on = current.scenario if current else "nothing"
        own = f"their own last lab check said {last.verdict} {last.score}/{last.max_score} at {last.checked_at:%c}"
        message = f"not on the cluster any more (the student started {moved_on} since); {own}, not verified"
        return None, error(scenario, message, last.seed), None
    not_started = "not started: the student's lab state has no attempt of this scenario"
    zero = ScenarioResult(scenario=scenario.id, status="fail", max_score=scenario.spec.points, message=not_started)
    return None, zero, None


def graded(scenario: Scenario, seed: int, target: Target, recorded: dict | None) -> tuple[ScenarioResult, str | None]:
    """The scenario's grader run on the student's cluster with the attempt's parameters (from the seed, in the
    instructor's checkout); a note when the parameters recorded on the student's VM differ."""
    from labs.grading.context import GradingContext
    from labs.grading.plugin import grade

    params = scenario.draw(seed, target.images)
    note = None
    if recorded is not None and recorded != params:
        differing = sorted(key for key in params.keys() | recorded.keys() if params.get(key) != recorded.get(key))
        note = f"{scenario.id}: parameters recorded on the VM differ from the seed's in {', '.join(differing)}"
    report = grade(scenario.grader, GradingContext(scenario.id, seed, params, target))
    criteria = [CriterionResult(**check.as_json()) for check in report.checks]
    result = ScenarioResult(
        scenario=scenario.id,
        seed=seed,
        status=report.verdict,
        score=report.score,
        max_score=report.max_score if report.checks else scenario.spec.points,
        message="; ".join(report.problems),
        criteria=criteria,
    )
    return result, note


def grade_student(job: Job) -> Iterator[ScenarioResult | str]:
    """Each scenario's result (and notes as plain strings), one at a time."""
    catalog = Catalog()
    scenarios = [catalog.find(wanted) for wanted in job.scenarios]
    target = target_of(job)
    try:
        target.kube.ping(timeout=PING_TIMEOUT)
    except CannotGrade as unreachable:
        for scenario in scenarios:
            yield error(scenario, f"{COULD_NOT_GRADE}: {unreachable}", job.seeds.get(scenario.id))
        return
    saved: State | None = None
    state_problem = None
    if job.state_file is not None and any(s.id not in job.seeds for s in scenarios):
        try:
            saved = read_state(target, job.state_file)
        except CannotGrade as problem:
            state_problem = str(problem)
    for scenario in scenarios:
        seed, recorded = job.seeds.get(scenario.id), None
        if seed is None:
            if saved is None:
                reason = state_problem or "no seed: assign one under seeds, or give a state_file to read it from"
                yield error(scenario, reason)
                continue
            seed, instead, recorded = seed_from_state(scenario, saved)
            if instead is not None:
                yield instead
                continue
        try:
            result, note = graded(scenario, seed, target, recorded)
        except Exception as problem:  # a grader bug or a broken cluster is never a traceback nor a zero
            yield error(scenario, f"the grading failed: {type(problem).__name__}: {problem}", seed)
            continue
        if note:
            yield note
        yield result


def main() -> int:
    """Read the job, write one JSON line per result (or note) to the real stdout; everything else goes to stderr."""
    out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    try:
        job = Job.model_validate_json(sys.stdin.read())
    except ValidationError as problem:
        print(f"lab grade worker: invalid job: {problem}", file=sys.stderr)
        return 2
    for item in grade_student(job):
        line = {"note": item} if isinstance(item, str) else {"result": item.model_dump(mode="json")}
        out.write(json.dumps(line) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
