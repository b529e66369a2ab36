"""Helpers for the tests that prove the Falco scenarios (02-05) on the testbed, which has no Falco:

- `falco_lab(N, SEED)` makes the module's `lab` fixture: scenario N started with SEED, the default rules where the
  package puts them (/etc/falco/falco_rules.yaml, from ../shared/data/falco, never copied into the repository);
- a live criterion (`@pytest.mark.needs("falco")`) must be not gradable on the testbed, every other one is judged,
  and after the reference solution passes, the verdict a pass (`check_the_solution`);
- a node file is rewritten for a near-miss and put back afterwards (`rewritten`, `grade_with`), often starting from
  what the reference solution wrote (`SolvedText`).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from lab_attempt import Attempt, started

from labs.graderlib.falco import UPSTREAM_RULES
from labs.grading.report import Report


def install_default_rules(shared_dir: Path) -> None:
    """Falco's default rules at /etc/falco/falco_rules.yaml, as the package installs them."""
    target = Path(UPSTREAM_RULES)
    target.parent.mkdir(parents=True, exist_ok=True)
    source = shared_dir / "data" / "falco" / "falco_rules.yaml"
    if not target.exists() or target.read_bytes() != source.read_bytes():
        shutil.copyfile(source, target)


def falco_lab(number: int, seed: int) -> Callable[..., Iterator[Attempt]]:
    """A module-scoped fixture `lab` (assign it to `lab`): scenario `number` started on the testbed with `seed`,
    Falco's default rules in place; `lab reset --clean` afterwards."""

    @pytest.fixture(scope="module")
    def lab(testbed, shared_dir, tmp_path_factory) -> Iterator[Attempt]:
        """The attempt of the scenario falco_lab was given, started on the testbed."""
        install_default_rules(shared_dir)
        with started(number, seed, tmp_path_factory.mktemp("lab-state")) as attempt:
            yield attempt

    return lab


def _checks(report: Report | dict) -> list[dict]:
    return report["checks"] if isinstance(report, dict) else [c.as_json() for c in report.checks]


def judged_failures(report: Report | dict, live: set[str]) -> set[str]:
    """The failed criteria; the `live` ones must be not gradable on the testbed (it has no Falco), none an error."""
    checks = _checks(report)
    assert not [c for c in checks if c["status"] == "error"], checks
    not_gradable = {c["id"]: c["message"] for c in checks if c["status"] == "not-gradable"}
    assert set(not_gradable) == live, not_gradable
    assert all("needs Falco running on the nodes (falco)" in text for text in not_gradable.values()), not_gradable
    return {c["id"] for c in checks if c["status"] == "fail"}


def check_the_solution(lab: Attempt, live: set[str], score: tuple[int, int]) -> None:
    """`lab solution --apply`, then `lab check`: every criterion but the `live` ones passes, so the verdict is a pass
    (exit code 0) with `score` (points, of the points gradable here)."""
    lab.solve()
    report = lab.check()
    assert judged_failures(report, live) == set()
    assert (report["verdict"], report["exit_code"]) == ("pass", 0), report
    assert (report["score"], report["max_score"]) == score


def message_of(report: Report | dict, check_id: str) -> str:
    return next(c["message"] for c in _checks(report) if c["id"] == check_id)


@contextmanager
def rewritten(path: str | Path, text: str) -> Iterator[None]:
    """`path` holds `text` inside the block; afterwards what it held before (or nothing)."""
    file = Path(path)
    before = file.read_bytes() if file.exists() else None
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(text)
    try:
        yield
    finally:
        if before is None:
            file.unlink(missing_ok=True)
        else:
            file.write_bytes(before)


def grade_with(lab: Attempt, path: str | Path, text: str) -> Report:
    """The grader's report (in-process) while `path` holds `text`; the file is put back afterwards."""
    with rewritten(path, text):
        return lab.grade()


class SolvedText:
    """What the reference solution left in a file, kept by the test that applies the solution, for the near-misses
    after it in the module (each one changes it a little)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._text: str | None = None

    def keep(self) -> None:
        self._text = self.path.read_text()

    @property
    def text(self) -> str:
        assert self._text is not None, "needs test_the_reference_solution_passes first"
        return self._text
