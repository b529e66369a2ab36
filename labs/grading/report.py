"""A grading report: criteria with points, the verdict and the exit code, as JSON, a table or JUnit XML."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element

Status = Literal["pass", "fail", "error"]
CheckStatus = Literal["pass", "fail", "error", "not-gradable"]
EXIT_CODES = {"pass": 0, "fail": 1, "error": 2}


@dataclass
class Check:
    """One criterion: passed, failed (the student's answer falls short), error (it could not be judged) or not
    gradable (the target lacks what judging it needs: left out of the score and the verdict)."""

    id: str
    title: str
    points: int
    status: CheckStatus = "pass"
    message: str = ""

    @property
    def passed(self) -> bool:
        return self.status == "pass"

    @property
    def gradable(self) -> bool:
        return self.status != "not-gradable"

    def as_json(self) -> dict:
        return {
            "id": self.id,
            "title": self.title,
            "passed": self.passed,
            "status": self.status,
            "points": self.points,
            "message": self.message,
        }


@dataclass
class Report:
    """All criteria of one grading run."""

    scenario: str
    seed: int
    checks: list[Check] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def gradable(self) -> list[Check]:
        """The criteria judged on this target (not those it lacks a capability for)."""
        return [c for c in self.checks if c.gradable]

    @property
    def verdict(self) -> Status:
        """error if anything could not be judged (never counted as a fail), else pass only if every check passed;
        criteria not gradable on the target count for neither, but a grading with none gradable is an error."""
        if self.problems or not self.gradable or any(c.status == "error" for c in self.checks):
            return "error"
        return "pass" if all(c.passed for c in self.gradable) else "fail"

    @property
    def score(self) -> int:
        return sum(c.points for c in self.checks if c.passed)

    @property
    def max_score(self) -> int:
        """The points of the gradable criteria."""
        return sum(c.points for c in self.gradable)

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.verdict]

    def as_json(self) -> dict:
        data = {
            "scenario": self.scenario,
            "seed": self.seed,
            "verdict": self.verdict,
            "score": self.score,
            "max_score": self.max_score,
            "checks": [c.as_json() for c in self.checks],
        }
        if self.problems:
            data["problems"] = self.problems
        return data

    def write_junit(self, path: Path) -> None:
        """JUnit XML: one testcase per criterion, failures and errors with their messages (no tracebacks)."""
        from xml.etree import ElementTree as ET

        root = ET.Element("testsuites")
        suite = ET.SubElement(
            root,
            "testsuite",
            name=self.scenario,
            tests=str(len(self.checks)),
            failures=str(sum(c.status == "fail" for c in self.checks)),
            errors=str(sum(c.status == "error" for c in self.checks) + len(self.problems)),
            skipped=str(sum(not c.gradable for c in self.checks)),
        )
        properties = ET.SubElement(suite, "properties")
        for name, value in (("seed", self.seed), ("score", self.score), ("max_score", self.max_score)):
            ET.SubElement(properties, "property", name=name, value=str(value))
        for check in self.checks:
            add_junit_case(suite, self.scenario, check)
        for problem in self.problems:
            case = ET.SubElement(suite, "testcase", classname=self.scenario, name="grader")
            ET.SubElement(case, "error", message=problem).text = problem
        path.parent.mkdir(parents=True, exist_ok=True)
        write_xml(root, path)


# What XML 1.0 cannot hold: control characters (but tab, newline and carriage return), lone surrogates, U+FFFE/FFFF.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_text(text: str) -> str:
    """`text` with every character XML cannot hold written as an escape (`\\x1b`): a message quoting an answer
    file with terminal colours or a NUL still makes a JUnit file that every reader can parse."""
    return _NOT_XML.sub(lambda found: found.group().encode("unicode_escape", "backslashreplace").decode(), text)


def write_xml(root: Element, path: Path) -> None:
    """The tree as an XML file (UTF-8, with a declaration), its texts and attributes made XML-safe."""
    from xml.etree import ElementTree as ET

    for element in root.iter():
        element.text = xml_text(element.text) if element.text else element.text
        element.tail = xml_text(element.tail) if element.tail else element.tail
        for key, value in element.attrib.items():
            element.set(key, xml_text(value))
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


def add_junit_case(suite: Element, classname: str, check: Check) -> Element:
    """A JUnit <testcase> for one criterion under `suite`: a fail as <failure>, an error as <error>, a criterion not
    gradable on the target as <skipped>, each with the criterion's message, and its points as `points: N` in
    <system-out> (the JUnit schema has no properties on a
    test case; Jenkins and GitLab show a case's output beside it). Shared by `lab check --junit` and the class
    reports."""
    from xml.etree import ElementTree as ET

    case = ET.SubElement(suite, "testcase", classname=classname, name=check.title)
    if check.status != "pass":
        tag = {"fail": "failure", "error": "error", "not-gradable": "skipped"}[check.status]
        ET.SubElement(case, tag, message=check.message).text = check.message
    ET.SubElement(case, "system-out").text = f"points: {check.points}"
    return case
