"""What a grader needs to know about the attempt it grades."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from labs.targets import Target


@dataclass(frozen=True)
class GradingContext:
    """The scenario id, this attempt's seed and parameters, and the target cluster."""

    scenario: str
    seed: int
    params: dict
    target: Target


# Where a grading's context waits for the grader's fixtures: `lab check` puts it there (labs.grading.plugin); a plain
# pytest run of a grader gets the started attempt's from graders/conftest.py.
CONTEXT_KEY = pytest.StashKey[GradingContext]()
