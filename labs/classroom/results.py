"""What grading a class produces: per student, per scenario, the verdict, score and every criterion's message."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from labs.grading.report import Check, CheckStatus

Status = Literal["pass", "fail", "error"]
COULD_NOT_GRADE = "could not grade"


class CriterionResult(BaseModel):
    """One criterion of a grader (the fields of `lab check --json`)."""

    id: str
    title: str
    points: int
    status: CheckStatus
    message: str = ""

    def as_check(self) -> Check:
        return Check(self.id, self.title, self.points, self.status, self.message)


class ScenarioResult(BaseModel):
    """One scenario of one student: `error` means could not grade (never counted as zero)."""

    scenario: str
    seed: int | None = None
    status: Status
    score: int = 0
    max_score: int
    message: str = ""
    criteria: list[CriterionResult] = []

    @property
    def graded(self) -> bool:
        return self.status != "error"


class StudentResult(BaseModel):
    """Every graded scenario of one student."""

    name: str
    scenarios: dict[str, ScenarioResult]
    seconds: float = 0.0
    notes: list[str] = []

    @property
    def graded(self) -> bool:
        return all(result.graded for result in self.scenarios.values())

    @property
    def status(self) -> Status:
        if not self.graded:
            return "error"
        return "pass" if all(result.status == "pass" for result in self.scenarios.values()) else "fail"

    @property
    def total(self) -> int | None:
        """The sum of the scores; None when a scenario could not be graded."""
        return sum(result.score for result in self.scenarios.values()) if self.graded else None

    @property
    def max_total(self) -> int:
        return sum(result.max_score for result in self.scenarios.values())

    @property
    def percent(self) -> float | None:
        total = self.total
        return None if total is None or not self.max_total else round(100 * total / self.max_total, 1)


class ScenarioColumn(BaseModel):
    """A graded scenario, as the reports' column."""

    id: str
    title: str
    points: int


class ClassResult(BaseModel):
    """The class: its scenarios (columns) and students (rows)."""

    name: str
    graded_at: datetime
    seconds: float
    scenarios: list[ScenarioColumn]
    students: list[StudentResult]

    def as_json(self) -> dict:
        """The JSON report: every field plus each student's status, total and percent."""
        data = self.model_dump(mode="json")
        for student, row in zip(self.students, data["students"], strict=True):
            row.update(status=student.status, total=student.total, max_total=student.max_total)
            row["percent"] = student.percent
        return data
