"""Test harness for scenarios that edit the kube-apiserver manifest (06-08, later encryption at rest): the lab
command against the testbed with its own state directory, in-process grading, restarts of kube-apiserver, and the
guarantee that the manifest the test found is back (and the apiserver healthy) when the module ends, even on failure.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml

from labs import state
from labs.catalog import Catalog
from labs.grading.apiserver import APISERVER_MANIFEST, ApiserverStatus, wait_for_apiserver
from labs.grading.context import GradingContext
from labs.grading.plugin import grade
from labs.grading.report import Report
from labs.targets import Target, resolve

LAB = [sys.executable, "-m", "labs.cli"]
MANIFEST = Path(APISERVER_MANIFEST)
RESTART_TIMEOUT = 240


def failed(report: Report) -> set[str]:
    """The ids of the criteria that did not pass (a grading error is a test failure)."""
    assert report.verdict != "error", report.as_json()
    return {c.id for c in report.checks if not c.passed}


def message(report: Report, check_id: str) -> str:
    return next(c.message for c in report.checks if c.id == check_id)


def _running_apiserver_pid() -> int | None:
    found = subprocess.run(["pgrep", "-n", "-x", "kube-apiserver"], capture_output=True, text=True, check=False)
    return int(found.stdout) if found.returncode == 0 else None


def _down_after_the_edit(before: int | None) -> Callable[[ApiserverStatus], bool]:
    """Not serving, and the process from before the edit is gone (an edit of the mounts alone leaves the flags as
    they were, so the flags cannot tell the old process from the new one)."""
    return lambda status: not status.ready and (before is None or not Path(f"/proc/{before}").exists())


class ApiserverScenario:
    """One started attempt of a scenario on the testbed."""

    def __init__(self, number: str, seed: int, env: dict[str, str], target: Target) -> None:
        self.scenario = Catalog().find(number)
        self.seed = seed
        self.env = env
        self.target = target
        self.original_manifest = MANIFEST.read_text()
        self.solved_manifest: str | None = None

    @classmethod
    @contextmanager
    def started(cls, number: str, seed: int, state_directory: Path) -> Iterator[ApiserverScenario]:
        """`lab start NUMBER --seed SEED`; afterwards `lab reset --clean` and the original manifest restored."""
        env = {**os.environ, "CKS_LAB_STATE": str(state_directory)}
        previous = os.environ.get("CKS_LAB_STATE")
        os.environ["CKS_LAB_STATE"] = str(state_directory)
        lab = cls(number, seed, env, resolve("testbed"))
        try:
            started = lab.run("--target", "testbed", "start", number, "--seed", str(seed), "--force")
            assert started.returncode == 0, started.stdout + started.stderr
            yield lab
        finally:
            lab.run("reset", "--clean")
            lab.restore(lab.original_manifest)
            if previous is None:
                os.environ.pop("CKS_LAB_STATE", None)
            else:
                os.environ["CKS_LAB_STATE"] = previous

    def run(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([*LAB, *args], env=self.env, capture_output=True, text=True, timeout=900, check=False)

    @property
    def params(self) -> dict:
        return state.load().current.params

    @property
    def host(self):
        return self.target.host("controlplane")

    def grade(self) -> Report:
        return grade(self.scenario.grader, GradingContext(self.scenario.id, self.seed, self.params, self.target))

    def apiserver(self, **wait) -> ApiserverStatus:
        """kube-apiserver once it runs the manifest's flags and is ready (or the wait's own condition)."""
        return wait_for_apiserver(self.host, self.target.kube, **{"timeout": RESTART_TIMEOUT, **wait})

    def remember_solved_manifest(self) -> None:
        self.solved_manifest = MANIFEST.read_text()

    def require_solved(self) -> None:
        """Near-misses start from the solved state: put the solved manifest back if a test left another."""
        assert self.solved_manifest is not None, "needs test_the_reference_solution_passes first"
        self.restore(self.solved_manifest)

    def restore(self, text: str) -> None:
        """Write the manifest `text` (when it differs) and wait until kube-apiserver runs it and is ready."""
        if MANIFEST.read_text() != text:
            MANIFEST.write_text(text)
        status = self.apiserver()
        assert status.healthy, f"kube-apiserver did not come back: {status.describe()}"

    def restart_apiserver(self, edit: Callable[[dict], None], expect_down: bool = False) -> None:
        """The solved manifest changed by `edit`; waits for the restart (or, expect_down, for it to stop serving).
        Files the apiserver reads at startup are as the test left them: call require_solved() before changing them."""
        assert self.solved_manifest is not None, "needs test_the_reference_solution_passes first"
        manifest = yaml.safe_load(self.solved_manifest)
        edit(manifest)
        before = _running_apiserver_pid()
        MANIFEST.write_text(yaml.safe_dump(manifest))
        if expect_down:
            status = self.apiserver(until=_down_after_the_edit(before))
            assert not status.ready, "kube-apiserver kept serving"
        else:
            status = self.apiserver()
            assert status.healthy, f"kube-apiserver did not restart: {status.describe()}"
