"""Everything lab prints: rich tables and colour on a terminal only, plain JSON with --json, playbook progress."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from labs.catalog import Scenario
    from labs.grading.report import Report
    from labs.state import Attempt

PIPE_WIDTH = 200
STATUS_STYLES = {"pass": "green", "fail": "red", "error": "yellow", "not-gradable": "blue"}


def console(stderr: bool = False) -> Console:
    """A rich console: colour and markup only when writing to a terminal (and NO_COLOR unset)."""
    from rich.console import Console

    out = Console(stderr=stderr, highlight=False, soft_wrap=True)
    if not out.is_terminal:
        out.width = PIPE_WIDTH  # a file or a pipe: long lines stay whole
    return out


def print_json(data: Any) -> None:
    """Plain JSON on stdout (no colour, no wrapping)."""
    sys.stdout.write(json.dumps(data, indent=2) + "\n")


def error(message: str) -> None:
    """`lab: message` on stderr."""
    console(stderr=True).print(f"[red]lab:[/red] {_escape(message)}")


def note(message: str) -> None:
    """A remark on stderr (keeps stdout clean for JSON)."""
    console(stderr=True).print(_escape(message))


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def scenarios_table(rows: list[dict]) -> None:
    """`lab list`."""
    from rich.table import Table

    table = Table(box=None, pad_edge=False, header_style="bold")
    for column, justify in (("#", "right"), ("slug", "left"), ("title", "left"), ("domain", "left")):
        table.add_column(column, justify=justify)
    table.add_column("points", justify="right")
    table.add_column("min", justify="right")
    table.add_column("runs on")
    table.add_column("status")
    for row in rows:
        status = row["status"]
        style = STATUS_STYLES.get(status.split()[0], "cyan" if status == "started" else "")
        table.add_row(
            f"{row['number']:02d}",
            row["slug"],
            row["title"],
            row["domain"],
            str(row["points"]),
            str(row["minutes"]),
            row["runs_on"],
            f"[{style}]{_escape(status)}[/{style}]" if style else _escape(status),
        )
    console().print(table)


def task(scenario: Scenario, text: str) -> None:
    """The task, the way the exam shows one."""
    out = console()
    spec = scenario.spec
    out.print(f"[bold]Task {spec.number}[/bold] · {_escape(spec.title)}")
    facts = f"{spec.points} points · about {spec.minutes} min · {spec.domain} · nodes: {', '.join(spec.nodes)}"
    out.print(f"[dim]{facts}[/dim]")
    out.print()
    out.print(_escape(text.rstrip()))
    out.print()
    out.print("[dim]When done: lab check · stuck: lab hint · start over: lab reset[/dim]")


def report(result: Report) -> None:
    """`lab check`: one line per criterion, then the score and verdict."""
    from rich.table import Table

    out = console()
    table = Table(box=None, pad_edge=False, show_header=False)
    table.add_column(justify="left")
    table.add_column(justify="right")
    table.add_column()
    for check in result.checks:
        style = STATUS_STYLES[check.status]
        mark = {"pass": "PASS", "fail": "FAIL", "error": "ERROR", "not-gradable": "N/A"}[check.status]
        line = _escape(check.title)
        if check.message and not check.passed:
            line += f"\n[dim]{_escape(check.message)}[/dim]"
        points = f"{check.points if check.passed else 0}/{check.points}" if check.gradable else "-"
        table.add_row(f"[{style}]{mark}[/{style}]", points, line)
    out.print(table)
    for problem in result.problems:
        out.print(f"[yellow]ERROR[/yellow] {_escape(problem)}")
    verdict = {"pass": "PASSED", "fail": "FAILED", "error": "COULD NOT GRADE"}[result.verdict]
    style = STATUS_STYLES[result.verdict]
    out.print(f"\n[bold {style}]{verdict}[/bold {style}] {result.scenario}: {result.score}/{result.max_score} points")
    if result.verdict == "error":
        out.print("[dim]Some criteria could not be judged (not counted as failed): fix the cause, check again.[/dim]")
    if len(result.gradable) < len(result.checks):
        out.print("[dim]N/A: not gradable on this target, left out of the score; the Vagrant VMs grade them.[/dim]")


def status(attempt: Attempt, last: dict | None) -> None:
    """`lab status`."""
    from rich.table import Table

    minutes, seconds = divmod(attempt.elapsed_seconds(), 60)
    table = Table(box=None, pad_edge=False, show_header=False)
    table.add_column(style="bold")
    table.add_column()
    rows = [
        ("scenario", attempt.scenario),
        ("phase", attempt.phase),
        ("seed", str(attempt.seed)),
        ("target", attempt.target.kind),
        ("started", f"{attempt.started_at:%Y-%m-%d %H:%M:%S} UTC ({minutes} min {seconds} s ago)"),
        ("hints", str(attempt.hints_shown)),
    ]
    if last:
        rows.append(("last check", f"{last['verdict']} {last['score']}/{last['max_score']}"))
    for key, value in rows:
        table.add_row(key, _escape(value))
    for key, value in attempt.params.items():
        table.add_row(f"  {key}", _escape(str(value)))
    console().print(table)


@contextmanager
def playbook_progress(label: str) -> Iterator[Callable[[str], None]]:
    """Shows the running task of a playbook: a spinner on a terminal, one line per task otherwise (stderr)."""
    err = console(stderr=True)
    if not err.is_terminal:

        def plain(name: str) -> None:
            print(f"{label}: {name}", file=sys.stderr, flush=True)

        yield plain
        return
    count = 0
    with err.status(f"{label}: starting ansible") as spinner:

        def update(name: str) -> None:
            nonlocal count
            count += 1
            spinner.update(f"{label} [{count}]: {_escape(name)}")

        yield update
