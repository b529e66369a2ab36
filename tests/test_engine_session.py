"""An attempt's life without a cluster (playbooks and the API replaced by stand-ins): start, Ctrl-C during setup,
reset repairs it, hints one at a time, starting again asks or needs --force, the status in lab list."""

import json
import shutil
from types import SimpleNamespace

import pytest

from labs import commands, session, state
from labs.capabilities import EVERYTHING
from labs.catalog import SCENARIOS_DIR, SCENARIOS_VARIABLE
from labs.cli import main
from labs.errors import CannotGrade
from labs.state import TargetRef
from labs.targets import Target


class FakeTarget:
    def __init__(self) -> None:
        self.name = "fake"
        self.inventory: dict = {}
        self.images: dict = {}
        self.ref = TargetRef(kind="fake")
        self.kube = SimpleNamespace(ping=lambda: "v1.37.2")
        self.capabilities = EVERYTHING

    lacks = Target.lacks

    def describe(self) -> str:
        return "fake target"


@pytest.fixture
def stages(monkeypatch, tmp_path):
    """The playbooks that would have run, in order; `interrupt` makes setup raise KeyboardInterrupt once."""
    monkeypatch.setenv("CKS_LAB_STATE", str(tmp_path))
    ran: list[str] = []
    ran_stages = SimpleNamespace(ran=ran, interrupt=False)

    def run_stage(scenario, stage, target, attempt, on_task):
        ran.append(f"{scenario.id}:{stage}")
        on_task(f"a task of {stage}")
        if stage == "setup.yml" and ran_stages.interrupt:
            ran_stages.interrupt = False
            raise KeyboardInterrupt

    monkeypatch.setattr(session, "run_stage", run_stage)
    monkeypatch.setattr(commands, "resolve", lambda *args: FakeTarget())
    monkeypatch.setattr(commands, "from_ref", lambda ref: FakeTarget())
    return ran_stages


def test_start_sets_up_and_prints_the_task(stages, capsys):
    assert main(["start", "1", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    attempt = state.load().current
    assert (attempt.scenario, attempt.seed, attempt.phase) == ("01-immutable-pod", 3, "ready")
    assert f"Pod {attempt.params['pod']} in Namespace {attempt.params['namespace']}" in out
    assert stages.ran == ["01-immutable-pod:setup.yml"]


def test_a_target_that_lacks_what_the_setup_needs_is_refused_and_nothing_is_set_up(
    stages, capsys, monkeypatch, tmp_path
):
    copy = tmp_path / "scenarios" / "01-immutable-pod"
    shutil.copytree(SCENARIOS_DIR / "01-immutable-pod", copy)
    (copy / "scenario.yaml").write_text((copy / "scenario.yaml").read_text() + "needs: [apparmor]\n")
    monkeypatch.setenv(SCENARIOS_VARIABLE, str(copy.parent))
    bare = FakeTarget()
    bare.capabilities = frozenset()
    monkeypatch.setattr(commands, "resolve", lambda *args: bare)
    assert main(["start", "1", "--seed", "3"]) == 2
    said = " ".join(capsys.readouterr().err.split())
    assert "01-immutable-pod needs AppArmor enforcing profiles in the kernel (apparmor), which the fake target" in said
    assert (stages.ran, state.load().current) == ([], None)
    assert main(["start", "1", "--seed", "3", "--ignore-needs"]) == 0
    assert stages.ran == ["01-immutable-pod:setup.yml"]


def test_starting_again_without_a_terminal_needs_force(stages, capsys):
    assert main(["start", "1", "--seed", "3"]) == 0
    assert main(["start", "1", "--seed", "4"]) == 1
    assert "already started" in capsys.readouterr().err and state.load().current.seed == 3
    assert main(["start", "1", "--seed", "4", "--force"]) == 0
    assert state.load().current.seed == 4


def test_ctrl_c_during_setup_leaves_a_state_that_reset_repairs(stages, capsys):
    stages.interrupt = True
    assert main(["start", "1", "--seed", "8"]) == 130
    assert state.load().current.phase == "setting-up"
    assert "lab reset" in capsys.readouterr().err
    assert main(["check"]) == 2
    assert "run `lab reset` first" in capsys.readouterr().err
    assert main(["reset"]) == 0
    attempt = state.load().current
    assert (attempt.phase, attempt.seed) == ("ready", 8)
    assert stages.ran == ["01-immutable-pod:setup.yml", "01-immutable-pod:setup.yml"]


def test_reset_clean_removes_and_forgets_the_attempt(stages):
    assert main(["start", "1"]) == 0
    assert main(["reset", "--clean"]) == 0
    assert state.load().current is None
    assert stages.ran[-1] == "01-immutable-pod:reset.yml"


def test_hints_come_one_at_a_time(stages, capsys):
    assert main(["start", "1"]) == 0
    capsys.readouterr()
    outputs = []
    for _ in range(4):
        assert main(["hint"]) == 0
        outputs.append(capsys.readouterr())
    assert [o.out.splitlines()[0] for o in outputs[:3]] == ["Hint 1/3", "Hint 2/3", "Hint 3/3"]
    assert "all 3 hints were shown" in outputs[3].err
    assert state.load().current.hints_shown == 3


def test_status_and_list_show_the_attempt(stages, capsys):
    assert main(["start", "1", "--seed", "5"]) == 0
    capsys.readouterr()
    assert main(["status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert (status["scenario"], status["seed"], status["phase"]) == ("01-immutable-pod", 5, "ready")
    assert main(["list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert next(r for r in rows if r["number"] == 1)["status"] == "started"


def test_solution_is_shown_and_remembered(stages, capsys):
    assert main(["start", "1"]) == 0
    capsys.readouterr()
    assert main(["solution"]) == 0
    assert "readOnlyRootFilesystem: true" in capsys.readouterr().out
    assert state.load().current.solution_shown
    assert main(["solution", "--apply"]) == 0
    assert stages.ran[-1] == "01-immutable-pod:solution.yml"


def _api_down(target: FakeTarget) -> FakeTarget:
    def ping() -> str:
        raise CannotGrade("cluster unreachable at https://127.0.0.1:1 (connection refused)")

    target.kube = SimpleNamespace(ping=ping)
    return target


def test_check_json_when_the_cluster_does_not_answer_is_an_error_report(stages, capsys, monkeypatch, tmp_path):
    assert main(["start", "1", "--seed", "5"]) == 0
    capsys.readouterr()
    monkeypatch.setattr(commands, "from_ref", lambda ref: _api_down(FakeTarget()))
    junit = tmp_path / "check.xml"
    assert main(["check", "--json", "--junit", str(junit)]) == 2
    report = json.loads(capsys.readouterr().out)
    assert (report["scenario"], report["seed"], report["verdict"]) == ("01-immutable-pod", 5, "error")
    assert (report["score"], report["max_score"], report["checks"]) == (0, 0, [])
    assert "cluster unreachable at https://127.0.0.1:1" in report["problems"][0]
    assert "cluster unreachable" in junit.read_text()


def test_check_junit_into_a_missing_directory_says_so_before_grading(stages, capsys, tmp_path):
    assert main(["start", "1"]) == 0
    capsys.readouterr()
    assert main(["check", "--junit", str(tmp_path / "no-such-dir" / "check.xml")]) == 2
    assert f"no directory {tmp_path / 'no-such-dir'}" in capsys.readouterr().err
