"""An exam on disk (<state dir>/exam.json, written atomically): its tasks with their seeds and parameters, the
wall-clock start and time limit, and after grading each task's result. Nothing here prints."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from labs import state
from labs.catalog import Catalog
from labs.errors import CannotGrade, LabError
from labs.exam import clock
from labs.exam.selection import choose, setup_order
from labs.paths import state_dir
from labs.state import TargetRef
from labs.targets import CONTROLPLANE

if TYPE_CHECKING:
    from labs.grading.report import Report
    from labs.targets import Target

PASS_MARK = 67
DEFAULT_TASKS = 16
DEFAULT_MINUTES = 120
ON_TIME = timedelta(minutes=2)  # a grading by the timer starts within seconds of the end; later, none was running
TaskStatus = Literal["pass", "fail", "error"]
OnTask = Callable[[str], None]


class ExamTask(BaseModel):
    """One task of the exam: a scenario attempt with its own seed and parameters."""

    number: int
    scenario: str
    title: str
    domain: str
    points: int
    seed: int
    params: dict
    phase: Literal["setting-up", "ready", "setup-failed"] = "setting-up"


class TaskResult(BaseModel):
    """How a task was graded; `earned` is its points times the share of its criteria's points that passed
    (unrounded)."""

    number: int
    scenario: str
    status: TaskStatus
    score: int
    max_score: int
    points: int
    earned: float
    message: str = ""
    criteria: list[dict] = []


class Exam(BaseModel):
    """The exam in progress, or graded."""

    model_config = ConfigDict(extra="ignore")

    seed: int
    minutes: int
    pass_mark: int = PASS_MARK
    target: TargetRef
    tasks: list[ExamTask]
    requested_tasks: int
    started_at: datetime | None = None  # when every task was set up: the clock starts then
    timer: bool = True  # a timer process grades at the end of the time (not with --no-timer)
    submitted_at: datetime | None = None  # when the grading began: the cluster is judged as it was then
    submitted_by: Literal["student", "time"] | None = None
    results: list[TaskResult] = []

    @property
    def deadline(self) -> datetime | None:
        return None if self.started_at is None else self.started_at + timedelta(minutes=self.minutes)

    def remaining(self, now: datetime) -> timedelta:
        """Time left (never negative); the whole time before the clock started."""
        deadline = self.deadline
        return timedelta(minutes=self.minutes) if deadline is None else max(deadline - now, timedelta(0))

    def time_is_up(self, now: datetime) -> bool:
        return self.deadline is not None and now >= self.deadline

    @property
    def graded(self) -> bool:
        return bool(self.results)

    @property
    def graded_late(self) -> timedelta | None:
        """How long after the end of the time a grading for the end of the time began, when that was later than a
        timer would have (no timer ran, e.g. after a reboot, so work done after the end counts); else None."""
        deadline, graded_at = self.deadline, self.submitted_at
        if self.submitted_by != "time" or deadline is None or graded_at is None or graded_at - deadline <= ON_TIME:
            return None
        return graded_at - deadline

    @property
    def total_points(self) -> int:
        return sum(task.points for task in self.tasks)

    @property
    def earned(self) -> float:
        """The points earned, rounded to two decimals (for showing)."""
        return round(sum(result.earned for result in self.results), 2)

    @property
    def exact_percent(self) -> float:
        """The share of the points earned in percent, unrounded: the pass mark is compared with this."""
        return 100 * sum(result.earned for result in self.results) / self.total_points if self.total_points else 0.0

    @property
    def percent(self) -> float:
        """The percentage rounded to one decimal (for showing: 66.95 shows as 67 % and still fails)."""
        return round(self.exact_percent, 1)

    @property
    def verdict(self) -> TaskStatus:
        """error when a task could not be graded (never counted as failed), else pass from the pass mark up (the
        unrounded percentage; isclose only absorbs floating-point noise)."""
        if any(result.status == "error" for result in self.results):
            return "error"
        exact = self.exact_percent
        return "pass" if exact >= self.pass_mark or math.isclose(exact, self.pass_mark) else "fail"


class ExamRunning(LabError):
    """An exam or a scenario is in the way."""


class NoExam(LabError):
    """A command needs an exam."""

    exit_code = 2


def exam_file() -> Path:
    return state_dir() / "exam.json"


def load() -> Exam | None:
    """The exam on disk, or None; an unreadable file is set aside (`state.set_aside`) and a clear error."""
    path = exam_file()
    try:
        return Exam.model_validate_json(path.read_bytes())
    except FileNotFoundError:
        return None
    except (ValidationError, ValueError, OSError) as error:
        aside = state.set_aside(path)
        raise LabError(
            f"{path} was unreadable ({type(error).__name__}); kept as {aside.name}; `lab exam start` begins a new exam"
        ) from None


def save(exam: Exam) -> None:
    state.write_atomically(exam_file(), exam.model_dump_json(indent=2))


def require() -> Exam:
    exam = load()
    if exam is None:
        raise NoExam("no exam is running; start one with `lab exam start`")
    return exam


def plan(target: Target, tasks: int, minutes: int, seed: int, catalog: Catalog, timer: bool = True) -> Exam:
    """Check that nothing is in the way and the cluster answers, choose the tasks among the scenarios the target can
    run and draw their parameters; the exam is saved with every task still to set up. Caller holds the lab lock."""
    from labs import session

    if load() is not None:
        raise ExamRunning("an exam exists already: `lab exam status` shows it, `lab exam clean` removes it")
    current = state.load().current
    if current is not None:
        raise ExamRunning(f"{current.scenario} is started: `lab reset --clean` it before an exam")
    session.reachable(target)
    chosen = choose([s for s in catalog.scenarios if not target.lacks(s)], tasks, seed)  # only what it can run
    if not chosen:
        raise LabError(f"no scenarios under {catalog.root} that the {target.name} target can run")
    exam = Exam(seed=seed, minutes=minutes, target=target.ref, tasks=[], requested_tasks=tasks, timer=timer)
    for number, choice in enumerate(chosen, start=1):
        attempt = session.new_attempt(choice.scenario, target, choice.seed)
        spec = choice.scenario.spec
        exam.tasks.append(
            ExamTask(
                number=number,
                scenario=choice.scenario.id,
                title=spec.title,
                domain=spec.domain,
                points=spec.points,
                seed=attempt.seed,
                params=attempt.params,
            )
        )
    save(exam)
    return exam


def set_up(exam: Exam, target: Target, on_task: OnTask, catalog: Catalog) -> Exam:
    """Set every task up, one that may leave kube-apiserver down last (selection.setup_order), then start the
    clock. Caller holds the lab lock."""
    from labs import session

    scenarios = [catalog.find(task.scenario) for task in exam.tasks]
    for index in setup_order(scenarios):
        task, scenario = exam.tasks[index], scenarios[index]
        try:
            session.run_stage(scenario, "setup.yml", target, _attempt(task, target), on_task)
        except LabError:
            task.phase = "setup-failed"
            save(exam)
            raise
        task.phase = "ready"
        save(exam)
    exam.started_at = clock.now()
    save(exam)
    return exam


def _attempt(task: ExamTask, target: Target) -> state.Attempt:
    """The attempt of one task, as its playbooks get it."""
    return state.Attempt(
        scenario=task.scenario, seed=task.seed, params=task.params, target=target.ref, started_at=state.now()
    )


def grade(exam: Exam, target: Target, catalog: Catalog, by: Literal["student", "time"]) -> Exam:
    """Grade every task and record the results. When kube-apiserver does not answer although its node does and a
    task of the exam reconfigures it (`apiserver_may_be_down`), the student left it down: that task's grader judges
    it, and the other tasks, whose graders need the API, count as failed with a message saying so. CannotGrade when
    the cluster does not answer at all, or its API server does not while no task of the exam is to blame."""
    from labs.grading.context import GradingContext
    from labs.grading.plugin import grade as run_grader

    began = clock.now()
    api_down = _api_problem(target)
    culprit = _apiserver_task(exam, catalog) if api_down else None
    if api_down:
        if culprit is None:
            raise CannotGrade(api_down)
        target.host(CONTROLPLANE)  # TargetError (could not grade) when the node does not answer either
    results = []
    for task in exam.tasks:
        try:
            scenario = catalog.find(task.scenario)
            if task.phase != "ready":
                raise CannotGrade(f"the task was not set up ({task.phase})")
            if api_down and culprit is not None and not scenario.spec.apiserver_may_be_down:
                results.append(_failed_without_api(task, culprit, api_down))
                continue
            report = run_grader(scenario.grader, GradingContext(scenario.id, task.seed, task.params, target))
        except (LabError, LookupError) as problem:
            results.append(_ungraded(task, str(problem)))
            continue
        if api_down:
            _count_unjudged_as_failed(report)
        share = report.score / report.max_score if report.max_score else 0.0
        results.append(
            TaskResult(
                number=task.number,
                scenario=task.scenario,
                status=report.verdict,
                score=report.score,
                max_score=report.max_score,
                points=task.points,
                earned=task.points * share,  # unrounded: the pass mark is compared with the exact share
                message="; ".join(report.problems),
                criteria=[check.as_json() for check in report.checks],
            )
        )
    exam.results = results
    exam.submitted_at = began
    exam.submitted_by = by
    save(exam)
    return exam


def _api_problem(target: Target) -> str | None:
    """Why the target's API server does not answer, or None when it does."""
    from labs import session

    try:
        session.reachable(target)
    except CannotGrade as error:
        return str(error)
    return None


def _apiserver_task(exam: Exam, catalog: Catalog) -> ExamTask | None:
    """The task of the exam that reconfigures kube-apiserver and may leave it down (at most one: `exclusive`)."""
    for task in exam.tasks:
        try:
            if catalog.find(task.scenario).spec.apiserver_may_be_down:
                return task
        except LookupError:
            continue
    return None


def _failed_without_api(task: ExamTask, culprit: ExamTask, api_down: str) -> TaskResult:
    message = (
        f"not graded, counted as failed: kube-apiserver does not answer ({api_down}); task {culprit.number} "
        f"({culprit.title}) reconfigures it and it was left down, and this task can only be judged through the API"
    )
    return _ungraded(task, message, status="fail")


def _count_unjudged_as_failed(report: Report) -> None:
    """A criterion that could not be judged while the student had left kube-apiserver down counts as failed."""
    for check in report.checks:
        if check.status == "error":
            check.status = "fail"
            check.message = f"counted as failed: kube-apiserver was left down, so this was not judged ({check.message})"


def _ungraded(task: ExamTask, message: str, status: Literal["error", "fail"] = "error") -> TaskResult:
    """A task whose grader did not run: no points, and why; "error" (could not grade) unless it counts as failed."""
    return TaskResult(
        number=task.number,
        scenario=task.scenario,
        status=status,
        score=0,
        max_score=task.points,
        points=task.points,
        earned=0.0,
        message=message,
    )


def clean(exam: Exam, target: Target, catalog: Catalog, on_task: OnTask) -> None:
    """Remove every task's resources from the cluster (reset.yml) and forget the exam; a task that may have left
    kube-apiserver down is reset first (its reset brings the apiserver back for the others). Caller holds the lab
    lock."""
    from labs import session

    known = []
    for task in exam.tasks:
        try:
            known.append((task, catalog.find(task.scenario)))
        except LookupError:
            continue
    scenarios = [scenario for _, scenario in known]
    if not any(scenario.spec.apiserver_may_be_down for scenario in scenarios):
        session.reachable(target)
    for index in reversed(setup_order(scenarios)):
        task, scenario = known[index]
        session.run_stage(scenario, "reset.yml", target, _attempt(task, target), on_task)
    exam_file().unlink(missing_ok=True)
