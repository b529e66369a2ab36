"""The class reports from a known result: the CSV parses to a row per student and a column per scenario and the
total, the JSON round-trips, the JUnit XML validates against the Jenkins xunit plugin's junit-10.xsd, and the HTML
page renders and sorts in a real headless Chromium."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from xml.etree import ElementTree as ET

import pytest
from class_checks import RenderedTable, dump_dom, render, validate_junit

from labs.classroom import reports
from labs.classroom.results import (
    COULD_NOT_GRADE,
    ClassResult,
    CriterionResult,
    ScenarioColumn,
    ScenarioResult,
    StudentResult,
)

IMMUTABLE, MUTABLE = "01-immutable-pod", "09-remove-mutable-pods"


def _criterion(name: str, points: int, status: str = "pass", message: str = "") -> CriterionResult:
    return CriterionResult(
        id=f"test_{name}", title=name.replace("_", " "), points=points, status=status, message=message
    )


def _student(name: str, immutable: ScenarioResult, mutable: ScenarioResult, notes: list[str] | None = None):
    return StudentResult(name=name, scenarios={IMMUTABLE: immutable, MUTABLE: mutable}, seconds=1.5, notes=notes or [])


@pytest.fixture
def result() -> ClassResult:
    solved = ScenarioResult(
        scenario=IMMUTABLE, seed=1, status="pass", score=10, max_score=10, criteria=[_criterion("all_good", 10)]
    )
    near_miss = ScenarioResult(
        scenario=IMMUTABLE,
        seed=2,
        status="fail",
        score=8,
        max_score=10,
        criteria=[
            _criterion("read_only", 8),
            _criterion("no_privileged_container", 2, "fail", "privileged: true in container <poller> & co"),
        ],
    )
    not_started = ScenarioResult(scenario=MUTABLE, status="fail", max_score=6, message="not started: no attempt")
    partly = ScenarioResult(
        scenario=MUTABLE,
        seed=3,
        status="fail",
        score=4,
        max_score=6,
        criteria=[_criterion("kept", 4), _criterion("deleted", 2, "fail", "still there: api (privileged)")],
    )
    unreachable = ScenarioResult(
        scenario=IMMUTABLE, status="error", max_score=10, message=f"{COULD_NOT_GRADE}: cluster unreachable"
    )
    unreachable_too = unreachable.model_copy(update={"scenario": MUTABLE, "max_score": 6})
    students = [
        _student("bob", near_miss, partly, ["01-immutable-pod: parameters differ in image"]),
        _student("carol", unreachable, unreachable_too),
        _student("alice", solved, not_started),
    ]
    columns = [
        ScenarioColumn(id=IMMUTABLE, title="Make a running pod immutable", points=10),
        ScenarioColumn(id=MUTABLE, title="Delete the mutable pods of a namespace", points=6),
    ]
    graded_at = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
    return ClassResult(name="CKS <spring>", graded_at=graded_at, seconds=3.2, scenarios=columns, students=students)


def test_the_csv_has_a_row_per_student_and_a_column_per_scenario_and_the_total(result, tmp_path):
    reports.write_csv(result, tmp_path / "grades.csv")
    with (tmp_path / "grades.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["student"] for row in rows] == ["bob", "carol", "alice"]
    assert list(rows[0]) == ["student", IMMUTABLE, MUTABLE, "total", "max_total"]
    assert rows[0] == {"student": "bob", IMMUTABLE: "8", MUTABLE: "4", "total": "12", "max_total": "16"}
    assert rows[1] == {
        "student": "carol",
        IMMUTABLE: COULD_NOT_GRADE,
        MUTABLE: COULD_NOT_GRADE,
        "total": COULD_NOT_GRADE,
        "max_total": "16",
    }
    assert (rows[2][MUTABLE], rows[2]["total"]) == ("0", "10")


def test_the_json_has_every_criterion_and_each_students_total(result, tmp_path):
    reports.write_json(result, tmp_path / "grades.json")
    data = json.loads((tmp_path / "grades.json").read_text())
    bob, carol, alice = data["students"]
    assert (bob["total"], bob["max_total"], bob["percent"], bob["status"]) == (12, 16, 75.0, "fail")
    assert (carol["total"], carol["status"]) == (None, "error")
    assert alice["scenarios"][IMMUTABLE]["criteria"][0]["status"] == "pass"
    assert bob["notes"] == ["01-immutable-pod: parameters differ in image"]
    assert [column["id"] for column in data["scenarios"]] == [IMMUTABLE, MUTABLE]


def test_the_junit_xml_has_a_suite_per_student_and_validates_against_the_schema(result, tmp_path):
    path = tmp_path / "junit.xml"
    reports.write_junit(result, path)
    validate_junit(path)
    suites = {suite.get("name"): suite for suite in ET.parse(path).getroot()}
    assert list(suites) == ["bob", "carol", "alice"]
    assert (suites["bob"].get("tests"), suites["bob"].get("failures"), suites["bob"].get("errors")) == ("4", "2", "0")
    assert (suites["carol"].get("tests"), suites["carol"].get("errors")) == ("2", "2")
    failure = suites["bob"].find("testcase[@name='no privileged container']/failure")
    assert failure.get("message") == "privileged: true in container <poller> & co"
    assert suites["bob"].find("testcase[@name='no privileged container']/system-out").text == "points: 2"
    assert suites["bob"].find("testcase").get("classname") == f"bob.{IMMUTABLE}"
    assert suites["alice"].find("testcase[@name='grading']/failure").get("message") == "not started: no attempt"


def test_the_junit_schema_refuses_what_is_not_junit(tmp_path):
    import xmlschema

    broken = tmp_path / "broken.xml"
    broken.write_text('<testsuites><testsuite name="x"><testcase/></testsuite></testsuites>')
    with pytest.raises(xmlschema.XMLSchemaValidationError):
        validate_junit(broken)


def test_the_html_page_renders_the_table_with_every_criterion_message(result, tmp_path):
    page = tmp_path / "index.html"
    reports.write_html(result, page)
    table = render(page)
    assert table.students == ["bob", "carol", "alice"]
    assert table.sorted_by is None
    assert table.cells["bob"] == ["bob", "8", "4", "12/16", "75.0"]
    assert table.cells["carol"][1:4] == [COULD_NOT_GRADE] * 3
    assert "privileged: true in container <poller> & co" in table.messages
    assert "still there: api (privileged)" in table.messages


@pytest.mark.parametrize(
    ("fragment", "order"),
    [
        ("#sort=total-desc", ["bob", "alice", "carol"]),
        ("#sort=total-asc", ["alice", "bob", "carol"]),
        ("#sort=student-desc", ["carol", "bob", "alice"]),
        (f"#sort={MUTABLE}-desc", ["bob", "alice", "carol"]),
        ("#sort=percent-asc", ["alice", "bob", "carol"]),
    ],
)
def test_the_html_table_sorts_by_any_column_keeping_ungraded_students_last(result, tmp_path, fragment, order):
    page = tmp_path / "index.html"
    reports.write_html(result, page)
    table = render(page, fragment)
    key, direction = fragment.removeprefix("#sort=").rsplit("-", 1)
    assert table.sorted_by == f"{key}-{direction}"
    assert table.students == order
    assert table.headings_sort[key] == {"asc": "ascending", "desc": "descending"}[direction]


def test_write_all_writes_the_four_reports(result, tmp_path):
    paths = reports.write_all(result, tmp_path / "out")
    assert [path.name for path in paths] == ["grades.csv", "grades.json", "junit.xml", "index.html"]
    assert all(path.stat().st_size > 0 for path in paths)


HOSTILE = {  # what a student controls, each trying to run a script that marks the page
    "name": """<img src=x onerror="document.body.setAttribute('data-pwned','name')">""",
    "title": """"><svg onload="document.body.setAttribute('data-pwned','title')">""",
    "message": "<script>document.body.setAttribute('data-pwned','message')</script>",
    "scenario": "</td></tr></table><script>document.body.setAttribute('data-pwned','scenario')</script>",
    "note": "<iframe src=\"javascript:parent.document.body.setAttribute('data-pwned','note')\"></iframe>",
}


def test_student_text_in_the_html_report_is_shown_as_text_and_never_runs(tmp_path):
    title, message = HOSTILE["title"], HOSTILE["message"]
    criterion = CriterionResult(id="test_x", title=title, points=1, status="fail", message=message)
    scenario = ScenarioResult(scenario=IMMUTABLE, seed=1, status="fail", max_score=1, message=HOSTILE["scenario"],
                              criteria=[criterion])  # fmt: skip
    student = StudentResult(name=HOSTILE["name"], scenarios={IMMUTABLE: scenario}, notes=[HOSTILE["note"]])
    result = ClassResult(
        name="class", graded_at=datetime(2026, 12, 7, tzinfo=UTC), seconds=1.0,
        scenarios=[ScenarioColumn(id=IMMUTABLE, title="Immutable pod", points=1)], students=[student],
    )  # fmt: skip
    page = reports.write_all(result, tmp_path)[-1]
    dom = dump_dom(page)
    assert 'data-pwned="' not in dom, "a student's text ran as a script"
    table = RenderedTable()
    table.feed(dom)
    assert table.students == [HOSTILE["name"]]
    assert HOSTILE["message"] in table.messages


def test_no_report_holds_a_key_a_token_or_a_password(tmp_path):
    kubeconfig = "client-key-data: LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVktLS0tLQo=\\n    token: abcdef.0123456789abcdef"
    jwt = "eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.eyJzdWIiOiJzeXN0ZW06c2EifQ.c2lnbmF0dXJl"
    pem = "-----BEGIN RSA PRIVATE KEY-----\\nMIIEowIBAAKCAQEA\\n-----END RSA PRIVATE KEY-----"
    criterion = CriterionResult(id="test_x", title="x", points=1, status="fail", message=f"{kubeconfig} {jwt}")
    scenario = ScenarioResult(scenario=IMMUTABLE, status="error", max_score=1, message=pem, criteria=[criterion])
    student = StudentResult(name="dave", scenarios={IMMUTABLE: scenario}, notes=[f"password={jwt}"])
    result = ClassResult(
        name="class", graded_at=datetime(2026, 12, 7, tzinfo=UTC), seconds=1.0,
        scenarios=[ScenarioColumn(id=IMMUTABLE, title="Immutable pod", points=1)], students=[student],
    )  # fmt: skip
    for path in reports.write_all(result, tmp_path):
        text = path.read_text()
        for secret in ("LS0tLS1CRUdJTi", "0123456789abcdef", jwt, "MIIEowIBAAKCAQEA"):
            assert secret not in text, f"{path.name} holds {secret}"
        assert "[redacted]" in text or path.name == "grades.csv", path.name  # the CSV has no messages
