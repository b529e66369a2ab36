"""One attempt of a scenario on the testbed, for the tests that prove a grader: the `lab` command run with its own
state directory, and the grader run in-process on the attempt (near-misses are graded without the CLI)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

import criterion_coverage
import pytest
from grading_harmless import unchanged

from labs import state
from labs.catalog import Catalog
from labs.grading.context import GradingContext
from labs.grading.plugin import grade
from labs.grading.report import Report
from labs.targets import Target, resolve

LAB = [sys.executable, "-m", "labs.cli"]


class Attempt:
    """A started scenario: run `lab` sub-commands, read the parameters, grade in-process."""

    def __init__(self, number: int | str, seed: int, env: dict[str, str], target: Target) -> None:
        self.seed = seed
        self.env = env
        self.target = target
        self.scenario = Catalog().find(str(number))
        self.solved_at_least_once = False
        self.solved_report: dict | None = None  # `lab check` right after the reference solution

    @property
    def kube(self):
        return self.target.kube

    def run(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
        """`lab ARGS` with this attempt's state directory."""
        return subprocess.run([*LAB, *args], env=self.env, capture_output=True, text=True, timeout=timeout, check=False)

    @property
    def params(self) -> dict:
        return state.load().current.params

    def check(self) -> dict:
        """`lab check --json` as a dict, with its exit code under `exit_code`. The first check after `solve()` is kept
        as `solved_report`, and must change nothing it did not declare (tests/grading_harmless.py)."""
        if self.solved_report is None and self.solved_at_least_once:
            with unchanged(self):
                checked = self.run("check", "--json")
        else:
            checked = self.run("check", "--json")
        report = json.loads(checked.stdout) if checked.stdout.strip() else {}
        assert report, checked.stderr
        criterion_coverage.record(self.scenario.id, report["checks"])
        report["exit_code"] = checked.returncode
        if self.solved_report is None and self.solved_at_least_once:
            self.solved_report = report
        return report

    def check_broken(self) -> dict:
        """`lab check --json` on a cluster the student left broken (tests/broken_cluster.py): a fail or an error (exit
        1 or 2), every criterion not met saying why, and no traceback or crash of the grader anywhere. These
        verdicts are not counted as a criterion seen failing: a near-miss must show that."""
        checked = self.run("check", "--json")
        assert "Traceback" not in checked.stdout + checked.stderr, checked.stdout + checked.stderr
        report = json.loads(checked.stdout)
        assert (checked.returncode, report["verdict"]) in ((1, "fail"), (2, "error")), report
        not_met = [check for check in report["checks"] if check["status"] != "pass"]
        assert not_met and all(check["message"] for check in not_met), report
        crashed = [check["message"] for check in not_met if check["message"].startswith("the grader failed")]
        assert not crashed, crashed
        return report

    def grade(self) -> Report:
        """The grader run in-process on the current state of the cluster."""
        current = os.environ.get("PYTEST_CURRENT_TEST", "?")
        report = grade(self.scenario.grader, GradingContext(self.scenario.id, self.seed, self.params, self.target))
        os.environ["PYTEST_CURRENT_TEST"] = current  # the grader's own pytest session removed it when it ended
        criterion_coverage.record(self.scenario.id, [check.as_json() for check in report.checks])
        return report

    def start(self, number: int | str) -> None:
        """`lab start` on the testbed (no lane restarts kube-apiserver meanwhile: tests/api_lock.py)."""
        begun = self.run("--target", "testbed", "start", str(number), "--seed", str(self.seed), "--force")
        assert begun.returncode == 0, begun.stdout + begun.stderr

    def grader_module(self) -> ModuleType:
        """The grader imported as a module (for its pure functions, e.g. how parameters map to what setup did)."""
        spec = importlib.util.spec_from_file_location(f"grader_{self.scenario.spec.number:02d}", self.scenario.grader)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    def solve(self) -> None:
        """Apply the reference solution (`lab solution --apply`)."""
        applied = self.run("solution", "--apply")
        assert applied.returncode == 0, applied.stdout + applied.stderr
        self.solved_at_least_once, self.solved_report = True, None

    def assert_fails_until_solved(self, score: int) -> None:
        """`lab check` fails as setup left the cluster, and passes with `score` points after the reference solution."""
        assert self.check()["exit_code"] == 1
        self.solve()
        report = self.check()
        assert (report["exit_code"], report["score"]) == (0, score), report


class Failed(set):
    """The ids of failed criteria; shown with their messages when an assertion on them does not hold."""

    def __init__(self, checks: list[dict]) -> None:
        failing = [check for check in checks if check["status"] not in ("pass", "not-gradable")]
        super().__init__(check["id"] for check in failing)
        self.messages = {check["id"]: check["message"] for check in failing}

    def __repr__(self) -> str:
        return repr(self.messages)


def failed(report: Report) -> Failed:
    """The ids of the criteria that failed (an error is never expected here)."""
    assert report.verdict != "error", report.as_json()
    return Failed([check.as_json() for check in report.checks])


def message(report: Report, check_id: str) -> str:
    """The message of one criterion."""
    return next(check.message for check in report.checks if check.id == check_id)


def failed_in(report: dict) -> Failed:
    """The ids of the failed criteria of a `lab check --json` report."""
    return Failed(report["checks"])


@contextmanager
def kept(path: Path) -> Iterator[Path]:
    """The file as it is now is put back afterwards, whatever the test wrote to it."""
    text = path.read_text()
    try:
        yield path
    finally:
        path.write_text(text)


@contextmanager
def started(number: int | str, seed: int, state_dir: Path, kind: type[Attempt] = Attempt) -> Iterator[Attempt]:
    """`lab start NUMBER --seed SEED` on the testbed (an attempt of class `kind`); `lab reset --clean` afterwards,
    whatever happened (unless the test did it)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CKS_LAB_STATE", str(state_dir))
        env = {**os.environ, "CKS_LAB_STATE": str(state_dir)}
        attempt = kind(number, seed, env, resolve("testbed"))
        try:
            attempt.start(number)
            yield attempt
        finally:
            if state.load().current is not None:  # not cleaned up by the test already
                attempt.run("reset", "--clean")
