"""A scenario whose setup needs AppArmor (the test-only 96 of tests/data/scenarios), on the testbed, which has none
of the VM capabilities (labs/capabilities.py): `lab list` shows it as VM-only, `lab start` refuses it and sets up
nothing, an exam does not draw it; started anyway (`--ignore-needs`, as an author's proof does), the criterion the
testbed can judge fails after setup and passes after the reference solution, and the one that needs AppArmor is
not gradable, left out of the score and the verdict."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from lab_attempt import Attempt

from labs import state
from labs.catalog import REPO_ROOT, SCENARIOS_VARIABLE
from labs.targets import resolve

pytestmark = pytest.mark.testbed

SEED = 5
CONFIGMAP = "test_the_configmap_names_the_profile"
LOADED = "test_the_profile_is_loaded_in_enforce_mode"
APPARMOR = "AppArmor enforcing profiles in the kernel (apparmor)"
TEST_ONLY = Path(__file__).parent / "data/scenarios/96-apparmor-profile"


@pytest.fixture(scope="module")
def lab(testbed, tmp_path_factory) -> Iterator[Attempt]:
    """An attempt of 96 not started yet, in a catalog of its own (beside a link to the playbooks)."""
    root = tmp_path_factory.mktemp("catalog")
    shutil.copytree(TEST_ONLY, root / "scenarios" / TEST_ONLY.name)
    (root / "playbooks").symlink_to(REPO_ROOT / "playbooks")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(SCENARIOS_VARIABLE, str(root / "scenarios"))
        patch.setenv("CKS_LAB_STATE", str(tmp_path_factory.mktemp("lab-state")))
        attempt = Attempt(96, SEED, dict(os.environ), resolve("testbed"))
        try:
            yield attempt
        finally:
            if state.load().current is not None:
                attempt.run("reset", "--clean")


def _statuses(report: dict) -> dict[str, str]:
    return {check["id"]: check["status"] for check in report["checks"]}


def test_lab_list_shows_it_runs_on_the_vms_only(lab):
    (row,) = json.loads(lab.run("list", "--json").stdout)
    assert (row["needs"], row["runs_on"]) == (["apparmor"], "VMs only (apparmor)")
    assert "VMs only (apparmor)" in lab.run("list").stdout


def test_lab_start_on_the_testbed_says_what_is_missing_and_sets_up_nothing(lab):
    refused = lab.run("--target", "testbed", "start", "96", "--seed", str(SEED))
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert (
        f"96-apparmor-profile needs {APPARMOR}, which the testbed target does not have: nothing was set up"
    ) in " ".join(refused.stderr.split())
    assert state.load().current is None
    assert not Path("/opt/course/96").exists()


def test_an_exam_on_the_testbed_does_not_draw_it(lab):
    exam = lab.run("--target", "testbed", "exam", "start", "--tasks", "1", "--no-timer")
    assert exam.returncode == 1, exam.stdout + exam.stderr
    assert "that the testbed target can run" in exam.stderr
    assert not (Path(lab.env["CKS_LAB_STATE"]) / "exam.json").exists()


def test_started_anyway_it_fails_on_what_the_testbed_judges_and_the_rest_is_not_gradable(lab):
    begun = lab.run("--target", "testbed", "start", "96", "--seed", str(SEED), "--ignore-needs")
    assert begun.returncode == 0, begun.stdout + begun.stderr
    report = lab.check()
    assert _statuses(report) == {CONFIGMAP: "fail", LOADED: "not-gradable"}, report
    assert (report["verdict"], report["exit_code"], report["max_score"]) == ("fail", 1, 1), report
    message = next(check["message"] for check in report["checks"] if check["id"] == LOADED)
    assert message == f"not gradable on the testbed target: it needs {APPARMOR}"
    shown = lab.run("check")
    assert "N/A" in shown.stdout and "not gradable on this target" in shown.stdout, shown.stdout


def test_the_reference_solution_passes_on_what_the_testbed_judges(lab):
    lab.solve()
    report = lab.check()
    assert _statuses(report) == {CONFIGMAP: "pass", LOADED: "not-gradable"}, report
    assert (report["verdict"], report["exit_code"], report["score"], report["max_score"]) == ("pass", 0, 1, 1)
