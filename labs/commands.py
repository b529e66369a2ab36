"""What each `lab` sub-command does; errors become a message and an exit code, never a traceback."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from labs import capabilities, output, session, state
from labs.capabilities import lacking
from labs.catalog import Catalog, Scenario, ScenarioError, UnknownScenario
from labs.errors import CannotGrade, LabError
from labs.targets import Target, from_ref, resolve
from labs.worker import client


def run(name: str, args: argparse.Namespace) -> int:
    """Run sub-command `name`; LabError and friends end as `lab: message` with their exit code."""
    return reported(lambda: COMMANDS[name](args, Catalog()))


def reported(command: Callable[[], int]) -> int:
    """Run `command`; an unknown or invalid scenario or any LabError ends as a message and its exit code."""
    try:
        return command()
    except UnknownScenario as error:
        output.error(str(error))
        return 2
    except ScenarioError as error:
        output.error(f"invalid scenario (run lab validate):\n{error}")
        return 1
    except LabError as error:
        output.error(str(error))
        return error.exit_code


def _target(args: argparse.Namespace, attempt: state.Attempt | None = None) -> Target:
    """--target/--kubeconfig/--inventory when given, else the attempt's target, else auto-detection."""
    kind, kubeconfig, inventory = (getattr(args, key, None) for key in ("target", "kubeconfig", "inventory"))
    if attempt is not None and not (kind or kubeconfig or inventory):
        return from_ref(attempt.target)
    return resolve(kind, kubeconfig, inventory)


# `lab status --json` always has these keys; all null when no scenario is started.
STATUS_KEYS = ("scenario", "seed", "params", "started_at")


def _confirm(question: str) -> bool:
    if not sys.stdin.isatty():
        return False
    try:
        return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")
    except EOFError:
        return False


def runs_on(scenario: Scenario) -> str:
    """Where a scenario can run: the Vagrant VMs have every capability, the testbed none (labs/capabilities.py)."""
    if missing := lacking(scenario.spec.needs, capabilities.TESTBED):
        return f"VMs only ({', '.join(missing)})"
    if missing := lacking(scenario.criteria_needs, capabilities.TESTBED):
        return f"VMs, testbed ({', '.join(missing)} criteria: VMs)"
    return "VMs, testbed"


def cmd_list(args: argparse.Namespace, catalog: Catalog) -> int:
    saved = state.load()
    rows = []
    for scenario in catalog.scenarios:
        spec = scenario.spec
        status = "-"
        if saved.current and saved.current.scenario == scenario.id:
            status = "started" if saved.current.phase == "ready" else saved.current.phase
        elif scenario.id in saved.results:
            result = saved.results[scenario.id]
            status = f"{result.verdict} {result.score}/{result.max_score}"
        rows.append(
            {
                "number": spec.number,
                "slug": spec.slug,
                "id": scenario.id,
                "title": spec.title,
                "domain": spec.domain,
                "points": spec.points,
                "minutes": spec.minutes,
                "needs": spec.needs,
                "criteria_need": scenario.criteria_needs,
                "runs_on": runs_on(scenario),
                "status": status,
            }
        )
    if args.json:
        output.print_json(rows)
    else:
        output.scenarios_table(rows)
    for error in catalog.invalid:
        output.error(f"skipped {error.path.parent.name}: invalid scenario.yaml (lab validate says why)")
    return 0


def cmd_start(args: argparse.Namespace, catalog: Catalog) -> int:
    scenario = catalog.find(args.scenario)
    with state.locked():
        started = state.load().current
        if started is not None and not args.force:
            question = f"{started.scenario} is started (seed {started.seed}); set up {scenario.id} instead?"
            if not _confirm(question):
                hint = f"answer yes, or use lab start {args.scenario} --force"
                raise LabError(f"{started.scenario} is already started: {hint}")
        target = _target(args)
        with output.playbook_progress(f"setting up {scenario.id} on {target.name}") as on_task:
            try:
                attempt = session.start(scenario, target, args.seed, on_task, catalog, args.ignore_needs)
            except KeyboardInterrupt:
                output.error("setup interrupted: `lab reset` finishes it")
                return 130
    output.task(scenario, scenario.render(scenario.spec.task, attempt.params))
    client.start_in_background()  # so that the first `lab check` is already quick
    return 0


def cmd_task(args: argparse.Namespace, catalog: Catalog) -> int:
    scenario, attempt = session.current(catalog)
    output.task(scenario, scenario.render(scenario.spec.task, attempt.params))
    if attempt.phase != "ready":
        output.error(f"the setup did not finish ({attempt.phase}): run lab reset")
    return 0


def cmd_status(args: argparse.Namespace, catalog: Catalog) -> int:
    saved = state.load()
    attempt = saved.current
    if args.json:
        output.print_json(state.dump_json(attempt) if attempt else dict.fromkeys(STATUS_KEYS))
        return 0
    if attempt is None:
        output.note("no scenario is started (lab list, lab start N)")
        return 0
    last = saved.results.get(attempt.scenario)
    output.status(attempt, last.model_dump(mode="json") if last and last.seed == attempt.seed else None)
    return 0


def cmd_check(args: argparse.Namespace, catalog: Catalog) -> int:
    from labs.grading.report import Report

    junit = Path(args.junit) if args.junit else None
    if junit is not None and not junit.parent.is_dir():
        raise CannotGrade(f"cannot write the JUnit report {junit}: no directory {junit.parent}")
    with state.locked():  # read the attempt under the lock: a `lab start` we waited for may have replaced it
        scenario, attempt = session.current(catalog, args.scenario)
        try:
            report = session.check(scenario, attempt, _target(args, attempt), args.keyword)
        except CannotGrade as error:
            if not (args.json or junit):
                raise
            report = Report(scenario.id, attempt.seed, problems=[str(error)])  # machine readers get a verdict
    if junit is not None:
        try:
            report.write_junit(junit)
        except OSError as error:
            raise CannotGrade(f"cannot write the JUnit report {junit}: {error.strerror or error}") from None
    if args.json:
        output.print_json(report.as_json())
    else:
        output.report(report)
    client.start_in_background()  # this check found no worker: the next one gets it
    return report.exit_code


def cmd_hint(args: argparse.Namespace, catalog: Catalog) -> int:
    with state.locked():
        scenario, _ = session.current(catalog)
        number, text = session.next_hint(scenario)
    total = len(scenario.spec.hints)
    if text is None:
        output.note(f"all {total} hints were shown; `lab solution` explains the solution")
        return 0
    output.console().print(f"[bold]Hint {number}/{total}[/bold]")
    output.console().print(text.rstrip(), markup=False)
    return 0


def cmd_solution(args: argparse.Namespace, catalog: Catalog) -> int:
    with state.locked():
        scenario, attempt = session.current(catalog)
        output.console().print(scenario.render(scenario.spec.solution, attempt.params).rstrip(), markup=False)
        if args.apply:
            target = _target(args, attempt)
            with output.playbook_progress(f"applying the solution of {scenario.id}") as on_task:
                session.apply_solution(scenario, attempt, target, on_task)
            output.note("solution applied: lab check should pass now")
        else:
            session.mark_solution_shown()
    return 0


def cmd_reset(args: argparse.Namespace, catalog: Catalog) -> int:
    with state.locked():
        attempt = state.load().current
        scenario = catalog.find(args.scenario) if args.scenario else session.current(catalog)[0]
        own = attempt if attempt is not None and attempt.scenario == scenario.id else None
        target = _target(args, own)
        clean = args.clean or own is None
        label = "cleaning up" if clean else "setting up again"
        with output.playbook_progress(f"{label} {scenario.id} on {target.name}") as on_task:
            session.reset(scenario, own, target, clean, on_task)
    if clean:
        output.note(f"{scenario.id}: removed what the scenario set up")
        return 0
    output.note(f"{scenario.id} is back at its start (same seed {own.seed}); the clock restarted")
    output.task(scenario, scenario.render(scenario.spec.task, own.params))
    return 0


def cmd_validate(args: argparse.Namespace, catalog: Catalog) -> int:
    from labs.validate import validate

    results = validate(catalog)
    if args.json:
        output.print_json(results)
    else:
        for path, problems in results.items():
            if problems:
                for problem in problems:
                    output.error(f"{path}: {problem}")
            else:
                output.console().print(f"[green]ok[/green] {path}")
        if not results:
            output.error(f"no scenarios under {catalog.root}")
    return 1 if not results or any(results.values()) else 0


def cmd_new(args: argparse.Namespace, catalog: Catalog) -> int:
    from labs import scaffold

    wanted = scaffold.parse(args.name, args.domain)
    root = catalog.root.parent  # the checkout whose scenarios/ this is
    written = scaffold.write(wanted, root, {scenario.spec.number for scenario in catalog.scenarios})
    out = output.console()
    for path in written:
        out.print(f"[green]wrote[/green] {path}")
    out.print(
        f"Fill in every TODO (docs/writing-a-scenario.md), then `lab validate` and prove it on the testbed: "
        f"`pytest {written[-1].relative_to(root)}` fails until the grader, the playbooks and the near-misses are done."
    )
    return 0


COMMANDS = {
    "list": cmd_list,
    "start": cmd_start,
    "task": cmd_task,
    "status": cmd_status,
    "check": cmd_check,
    "hint": cmd_hint,
    "solution": cmd_solution,
    "reset": cmd_reset,
    "validate": cmd_validate,
    "new": cmd_new,
}
