"""The class's reports in one directory: grades.csv (a row per student, a column per scenario and the total),
grades.json, junit.xml (a test suite per student, a test case per criterion) and index.html (a sortable table with
every criterion's message)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from xml.etree import ElementTree as ET

from labs.classroom.results import COULD_NOT_GRADE, ClassResult, ScenarioResult, StudentResult
from labs.grading.report import add_junit_case, write_xml
from labs.redact import redacted

TEMPLATES = Path(__file__).resolve().parent / "templates"
FILES = ("grades.csv", "grades.json", "junit.xml", "index.html")


def cell(result: ScenarioResult) -> str:
    """A scenario's score in the CSV, or "could not grade"."""
    return str(result.score) if result.graded else COULD_NOT_GRADE


def write_csv(result: ClassResult, path: Path) -> None:
    """student, one column per scenario (its score), total and max_total."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student", *(column.id for column in result.scenarios), "total", "max_total"])
        for student in result.students:
            scores = [cell(student.scenarios[column.id]) for column in result.scenarios]
            total = COULD_NOT_GRADE if student.total is None else str(student.total)
            writer.writerow([student.name, *scores, total, str(student.max_total)])


def write_json(result: ClassResult, path: Path) -> None:
    path.write_text(json.dumps(result.as_json(), indent=2) + "\n", encoding="utf-8")


def _suite(parent: ET.Element, student: StudentResult) -> None:
    criteria = [criterion for result in student.scenarios.values() for criterion in result.criteria]
    ungraded = [result for result in student.scenarios.values() if not result.criteria]
    suite = ET.SubElement(
        parent,
        "testsuite",
        name=student.name,
        tests=str(len(criteria) + len(ungraded)),
        failures=str(sum(c.status == "fail" for c in criteria) + sum(r.status == "fail" for r in ungraded)),
        errors=str(sum(c.status == "error" for c in criteria) + sum(r.status == "error" for r in ungraded)),
        skipped=str(sum(c.status == "not-gradable" for c in criteria)),
        time=f"{student.seconds:.2f}",
    )
    properties = ET.SubElement(suite, "properties")
    total = COULD_NOT_GRADE if student.total is None else str(student.total)
    for name, value in (("total", total), ("max_total", student.max_total), ("status", student.status)):
        ET.SubElement(properties, "property", name=name, value=str(value))
    for result in student.scenarios.values():
        classname = f"{student.name}.{result.scenario}"
        for criterion in result.criteria:
            add_junit_case(suite, classname, criterion.as_check())
        if not result.criteria:
            case = ET.SubElement(suite, "testcase", classname=classname, name="grading")
            tag = "error" if result.status == "error" else "failure"
            ET.SubElement(case, tag, message=result.message).text = result.message
        elif result.message:
            case = ET.SubElement(suite, "testcase", classname=classname, name="grader")
            ET.SubElement(case, "error", message=result.message).text = result.message
    if student.notes:
        ET.SubElement(suite, "system-out").text = "\n".join(student.notes)


def write_junit(result: ClassResult, path: Path) -> None:
    """JUnit XML: <testsuites> of the class, a <testsuite> per student."""
    root = ET.Element("testsuites", name=result.name, time=f"{result.seconds:.2f}")
    for student in result.students:
        _suite(root, student)
    ET.indent(root)
    write_xml(root, path)


def write_html(result: ClassResult, path: Path) -> None:
    """A self-contained page: the sortable class table, then each student's criteria and messages."""
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, undefined=jinja2.StrictUndefined
    )
    page = environment.get_template("report.html.j2").render(result=result, could_not_grade=COULD_NOT_GRADE)
    path.write_text(page, encoding="utf-8")


def write_all(result: ClassResult, directory: Path) -> list[Path]:
    """Every report into `directory` (created if needed), without credentials; returns their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    writers = (write_csv, write_json, write_junit, write_html)
    paths = [directory / name for name in FILES]
    safe = without_credentials(result)
    for writer, path in zip(writers, paths, strict=True):
        writer(safe, path)
    return paths


def without_credentials(result: ClassResult) -> ClassResult:
    """The result with every message and note redacted (labs.redact): whatever a worker sent, a report never holds
    a key, a token or a password."""
    data = result.model_dump()
    for student in data["students"]:
        student["notes"] = [redacted(note) for note in student["notes"]]
        for scenario in student["scenarios"].values():
            scenario["message"] = redacted(scenario["message"])
            for criterion in scenario["criteria"]:
                criterion["message"] = redacted(criterion["message"])
    return ClassResult.model_validate(data)
