"""What each `lab exam` action does and prints."""

from __future__ import annotations

import argparse
import secrets
from datetime import timedelta

from rich.markup import escape

from labs import output, state
from labs.catalog import Catalog
from labs.exam import clock, exam, timer
from labs.exam.exam import Exam, ExamTask
from labs.targets import Target, from_ref, resolve

VERDICTS = {"pass": "PASSED", "fail": "FAILED", "error": "COULD NOT GRADE"}


def _target(args: argparse.Namespace) -> Target:
    return resolve(*(getattr(args, key, None) for key in ("target", "kubeconfig", "inventory")))


def _hours(span: timedelta) -> str:
    """`1:59:30`."""
    hours, rest = divmod(int(span.total_seconds()), 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"


def time_left(running: Exam) -> str:
    """`1:59:30 left of 120 min`."""
    return f"{_hours(running.remaining(clock.now()))} left of {running.minutes} min"


def _print_task(task: ExamTask, count: int, catalog: Catalog) -> None:
    out = output.console()
    scenario = catalog.find(task.scenario)
    out.print(f"[bold]Task {task.number} of {count}[/bold] · {escape(task.title)}")
    out.print(f"[dim]{task.points} points · {escape(task.domain)} · nodes: {', '.join(scenario.spec.nodes)}[/dim]")
    out.print()
    out.print(escape(scenario.render(scenario.spec.task, task.params).rstrip()))
    out.print()


def cmd_start(args: argparse.Namespace) -> int:
    if args.tasks < 1 or args.minutes < 1:
        output.error("--tasks and --minutes must be at least 1")
        return 2
    catalog = Catalog()
    seed = secrets.randbelow(1_000_000) if args.seed is None else args.seed
    existing = exam.load()
    if existing is not None:
        _keep_time(existing)  # exam.plan refuses to start another one
    with state.locked():
        target = _target(args)
        planned = exam.plan(target, args.tasks, args.minutes, seed, catalog, timer=not args.no_timer)
        if len(planned.tasks) < args.tasks:
            output.note(
                f"{args.tasks} tasks asked, but only {len(planned.tasks)} of the {len(catalog.scenarios)} scenarios "
                "can be asked together (never two that take over the same component, such as kube-apiserver): "
                "the exam uses them all"
            )
        with output.playbook_progress(f"setting up the exam on {target.name}") as on_task:
            started = exam.set_up(planned, target, on_task, catalog)
    if started.timer:
        timer.start()
    out = output.console()
    facts = f"{len(started.tasks)} tasks, {started.total_points} points, pass mark {started.pass_mark} %"
    out.print(f"[bold]Exam[/bold] (seed {seed}): {facts}")
    out.print()
    for task in started.tasks:
        _print_task(task, len(started.tasks), catalog)
    out.print(f"[bold]{time_left(started)}[/bold] · `lab exam status` shows the time, `lab exam submit` grades")
    return 0


def _keep_time(running: Exam) -> Exam:
    """What `lab exam status`, `task` and `start` do first: once the time is up, grade the exam if nothing did yet
    (no timer ran, e.g. after a reboot); before, start the timer again when the exam has one and none runs."""
    if running.graded or running.started_at is None:
        return running
    if running.time_is_up(clock.now()):
        output.note("the time is up: grading the exam")
        with state.locked():
            running = exam.require()
            if not running.graded:
                running = exam.grade(running, from_ref(running.target), Catalog(), by="time")
        return running
    if running.timer and not timer.running():
        timer.start()
        output.note("the exam's timer was not running (a reboot?): started again, it grades at the end of the time")
    return running


def cmd_status(args: argparse.Namespace) -> int:
    running = exam.load()
    if running is None:
        output.note("no exam is running (lab exam start)")
        return 0
    running = _keep_time(running)
    if running.graded:
        return _print_result(running)
    out = output.console()
    out.print(f"[bold]{time_left(running)}[/bold] (seed {running.seed})")
    for task in running.tasks:
        phase = "" if task.phase == "ready" else f" [yellow]({task.phase})[/yellow]"
        out.print(f"  {task.number:>2}. {escape(task.title)} · {task.points} points · {escape(task.domain)}{phase}")
    return 0


def cmd_task(args: argparse.Namespace) -> int:
    running = _keep_time(exam.require())
    task = next((task for task in running.tasks if task.number == args.number), None)
    if task is None:
        output.error(f"the exam has tasks 1 to {len(running.tasks)}, not {args.number}")
        return 2
    _print_task(task, len(running.tasks), Catalog())
    output.note("the exam is graded: `lab exam status` shows the result" if running.graded else time_left(running))
    return 0


def cmd_submit(args: argparse.Namespace) -> int:
    running = exam.require()
    if running.started_at is None:
        output.error("the exam's setup did not finish: `lab exam clean`, then start again")
        return 2
    if not running.graded or running.verdict == "error":
        late = running.time_is_up(clock.now())
        with state.locked():
            running = exam.grade(exam.require(), from_ref(running.target), Catalog(), by="time" if late else "student")
    if getattr(args, "json", False):
        output.print_json(result_json(running))
        return _exit_code(running)
    return _print_result(running)


def result_json(graded: Exam) -> dict:
    """The graded exam: score, percent, pass mark, verdict, when the time ended and the grading began (and how many
    seconds late, when no timer graded at the end of the time) and each task's result."""
    late = graded.graded_late
    return {
        "seed": graded.seed,
        "verdict": graded.verdict,
        "percent": graded.percent,
        "pass_mark": graded.pass_mark,
        "earned": graded.earned,
        "total_points": graded.total_points,
        "submitted_by": graded.submitted_by,
        "time_ended_at": graded.deadline.isoformat() if graded.deadline else None,
        "graded_at": graded.submitted_at.isoformat() if graded.submitted_at else None,
        "graded_late_seconds": None if late is None else int(late.total_seconds()),
        "tasks": [result.model_dump(mode="json") for result in graded.results],
    }


def _exit_code(graded: Exam) -> int:
    return {"pass": 0, "fail": 1, "error": 2}[graded.verdict]


def _print_result(graded: Exam) -> int:
    from rich.table import Table

    out = output.console()
    titles = {task.number: task.title for task in graded.tasks}
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column, justify in (("#", "right"), ("task", "left"), ("points", "right"), ("result", "left")):
        table.add_column(column, justify=justify)
    for result in graded.results:
        style = output.STATUS_STYLES[result.status]
        status = "could not grade" if result.status == "error" else result.status
        detail = f"\n[dim]{escape(result.message)}[/dim]" if result.message else ""
        failed = [c["title"] for c in result.criteria if c["status"] in ("fail", "error")]
        if failed:
            detail += "\n[dim]missed: " + escape("; ".join(failed)) + "[/dim]"
        earned = f"{round(result.earned, 2):g}/{result.points}"
        table.add_row(
            str(result.number), escape(titles[result.number]) + detail, earned, f"[{style}]{status}[/{style}]"
        )
    out.print(table)
    style = output.STATUS_STYLES[graded.verdict]
    late = graded.graded_late
    by = "when submitted" if graded.submitted_by == "student" else "at the end of the time"
    if late is not None:
        by = f"{_hours(late)} after the end of the time"
    out.print(
        f"\n[bold {style}]{VERDICTS[graded.verdict]}[/bold {style}] {graded.percent:g} % "
        f"({graded.earned:g}/{graded.total_points} points; pass mark {graded.pass_mark} %), graded {by}"
    )
    if late is not None and graded.deadline and graded.submitted_at:
        why = "e.g. after a reboot" if graded.timer else "the exam was started with --no-timer"
        out.print(
            f"[yellow]The time ended at {graded.deadline:%Y-%m-%d %H:%M:%S} UTC, but no timer graded then ({why}): "
            f"grading began at {graded.submitted_at:%Y-%m-%d %H:%M:%S} UTC, so work done after the end of the time "
            "counts.[/yellow]"
        )
    if graded.verdict == "error":
        out.print("[dim]Some tasks could not be graded (not counted as failed): fix the cause, lab exam submit.[/dim]")
    return _exit_code(graded)


def cmd_clean(args: argparse.Namespace) -> int:
    running = exam.require()
    catalog = Catalog()
    with state.locked():
        target = from_ref(running.target)
        with output.playbook_progress(f"removing the exam's tasks from {target.name}") as on_task:
            exam.clean(running, target, catalog, on_task)
    output.note("the exam's tasks were removed and the exam forgotten")
    return 0


COMMANDS = {
    "start": cmd_start,
    "status": cmd_status,
    "task": cmd_task,
    "submit": cmd_submit,
    "clean": cmd_clean,
}
