"""Grading a whole class: one worker process per student, at most `concurrency` at a time, each stopped after
`timeout` seconds (what it finished is kept; the rest is "could not grade"), never one student holding up another."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from labs.catalog import REPO_ROOT, Catalog, Scenario, UnknownScenario
from labs.classroom.classfile import ClassFile, ClassFileError, Student
from labs.classroom.inventory import list_inventory, student_inventory
from labs.classroom.results import COULD_NOT_GRADE, ClassResult, ScenarioColumn, ScenarioResult, StudentResult
from labs.classroom.worker import Job
from labs.state import now

DEFAULT_CONCURRENCY = 4
DEFAULT_TIMEOUT = 300.0
WORKER = [sys.executable, "-m", "labs.classroom.worker"]


@dataclass(frozen=True)
class Plan:
    """What will be graded: the scenarios (columns) and one job per student."""

    scenarios: list[Scenario]
    jobs: list[Job]


def _scenario(catalog: Catalog, wanted: str, where: str) -> Scenario:
    try:
        return catalog.find(wanted)
    except UnknownScenario as error:
        raise ClassFileError(f"{where}: {error}") from None


def plan(classfile: ClassFile, wanted: list[str], workdir: Path, catalog: Catalog | None = None) -> Plan:
    """The scenarios to grade (`wanted`, else the class file's `scenarios`, else every scenario with an assigned
    seed) and each student's job; ClassFileError for unknown scenarios, groups or inventories."""
    catalog = catalog or Catalog()
    seeds = {
        student.name: {_scenario(catalog, key, f"{student.name}.seeds").id: seed for key, seed in student.seeds.items()}
        for student in classfile.students
    }
    names = wanted or classfile.scenarios or sorted({scenario for assigned in seeds.values() for scenario in assigned})
    if not names:
        raise ClassFileError("no scenario to grade: list them under scenarios: in the class file, or use --scenario N")
    scenarios = list({s.id: s for s in (_scenario(catalog, name, "scenarios") for name in names)}.values())
    listings: dict[Path, dict] = {}
    jobs = []
    for student in classfile.students:
        inventory = _inventory(classfile, student, listings)
        jobs.append(
            Job(
                student=student.name,
                kubeconfig=student.kubeconfig,
                inventory=inventory,
                images=classfile.images_of(student),
                scenarios=[s.id for s in scenarios],
                seeds={scenario: seed for scenario, seed in seeds[student.name].items()},
                state_file=classfile.state_file_of(student),
                workdir=workdir,
            )
        )
    return Plan(scenarios, jobs)


def _inventory(classfile: ClassFile, student: Student, listings: dict[Path, dict]) -> dict:
    path = classfile.inventory_of(student)
    if path is None:
        return {"all": {"hosts": {}}}
    if path not in listings:
        listings[path] = list_inventory(path)
    return student_inventory(listings[path], student.inventory_group, f"student {student.name}")


def _stop(process: subprocess.Popen) -> tuple[str, str]:
    """Kill the worker and everything it started (its own session), and collect what it wrote."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    try:
        return process.communicate(timeout=10)
    except subprocess.TimeoutExpired:  # a grandchild that left the session still holds a pipe
        return "", ""


def run_job(job: Job, timeout: float) -> StudentResult:
    """Grade one student in a worker process; results that did not arrive are "could not grade" with the reason."""
    started = time.monotonic()
    process = subprocess.Popen(
        WORKER,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO_ROOT,
        start_new_session=True,
    )
    timed_out = False
    try:
        stdout, stderr = process.communicate(job.model_dump_json(), timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        stdout, stderr = _stop(process)
    results, notes = _parse(stdout)
    if timed_out:
        missing = f"{COULD_NOT_GRADE}: grading took longer than the timeout ({timeout:g} s) and was stopped"
    else:
        last = (stderr or "").strip().splitlines()[-1:] or ["no output"]
        missing = f"{COULD_NOT_GRADE}: the grading process ended (exit code {process.returncode}): {last[0][:300]}"
    catalog = Catalog()
    for scenario in job.scenarios:
        if scenario not in results:
            points = catalog.find(scenario).spec.points
            results[scenario] = ScenarioResult(scenario=scenario, status="error", max_score=points, message=missing)
    ordered = {scenario: results[scenario] for scenario in job.scenarios}
    return StudentResult(name=job.student, scenarios=ordered, seconds=round(time.monotonic() - started, 2), notes=notes)


def _parse(stdout: str) -> tuple[dict[str, ScenarioResult], list[str]]:
    results: dict[str, ScenarioResult] = {}
    notes: list[str] = []
    for line in (stdout or "").splitlines():
        try:
            item = json.loads(line)
            if "note" in item:
                notes.append(str(item["note"]))
            else:
                result = ScenarioResult.model_validate(item["result"])
                results[result.scenario] = result
        except (ValueError, KeyError, TypeError, ValidationError):
            continue  # a line cut short by the timeout
    return results, notes


def grade_class(
    classfile: ClassFile,
    wanted: list[str] | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    timeout: float = DEFAULT_TIMEOUT,
    on_student: Callable[[StudentResult], None] = lambda result: None,
) -> ClassResult:
    """Grade every student of the class in parallel; `on_student` is called as each one finishes."""
    started, begun = time.monotonic(), now()
    with tempfile.TemporaryDirectory(prefix="lab-grade-") as workdir:
        graded = plan(classfile, wanted or [], Path(workdir))
        finished: dict[str, StudentResult] = {}
        with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
            futures = [pool.submit(run_job, job, timeout) for job in graded.jobs]
            for future in as_completed(futures):
                result = future.result()
                finished[result.name] = result
                on_student(result)
    columns = [ScenarioColumn(id=s.id, title=s.spec.title, points=s.spec.points) for s in graded.scenarios]
    students = [finished[job.student] for job in graded.jobs]
    seconds = round(time.monotonic() - started, 2)
    return ClassResult(name=classfile.name, graded_at=begun, seconds=seconds, scenarios=columns, students=students)
