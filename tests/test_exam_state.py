"""The exam on disk and its clock, without a cluster: the time left comes from the wall clock (so a new process
after a reboot sees the same), the clock can be fast-forwarded, the score is weighed against the 67 % pass mark,
and every command answers without a traceback (no exam, a broken exam file, an unreachable cluster at the end)."""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from labs.capabilities import EVERYTHING
from labs.catalog import Catalog
from labs.errors import CannotGrade, TargetError
from labs.exam import clock, exam, timer
from labs.exam.exam import Exam, ExamTask, TaskResult
from labs.exam.selection import choose
from labs.grading.report import Check, Report
from labs.state import TargetRef, now
from labs.targets import Target

LAB = [sys.executable, "-m", "labs.cli"]


def task(number: int, points: int, scenario: str = "01-immutable-pod") -> ExamTask:
    return ExamTask(
        number=number,
        scenario=scenario,
        title=f"Task {number}",
        domain="Monitoring, Logging and Runtime Security",
        points=points,
        seed=number,
        params={"namespace": "team-x", "pod": "web-y"},
        phase="ready",
    )


def result(number: int, points: int, earned: float, status: str = "fail") -> TaskResult:
    return TaskResult(
        number=number,
        scenario="01-immutable-pod",
        status=status,
        score=0,
        max_score=points,
        points=points,
        earned=earned,
    )


def running_exam(minutes_ago: float, minutes: int = 120, target: TargetRef | None = None, timer=False) -> Exam:
    """An exam started `minutes_ago`; without a timer unless asked (commands would start a real one)."""
    return Exam(
        seed=5,
        minutes=minutes,
        target=target or TargetRef(kind="testbed"),
        tasks=[task(1, 10), task(2, 6)],
        requested_tasks=2,
        started_at=now() - timedelta(minutes=minutes_ago),
        timer=timer,
    )


@pytest.fixture
def state_dir(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("CKS_LAB_STATE", str(tmp_path))
    monkeypatch.delenv(clock.SKEW_VARIABLE, raising=False)
    return tmp_path


def lab(*args: str, skew: float = 0) -> subprocess.CompletedProcess:
    env = {**os.environ, clock.SKEW_VARIABLE: str(skew)}
    return subprocess.run([*LAB, *args], env=env, capture_output=True, text=True, timeout=120, check=False)


def test_the_time_left_comes_from_the_wall_clock_and_the_start_on_disk(state_dir):
    exam.save(running_exam(minutes_ago=30))
    left = exam.load().remaining(clock.now())
    assert timedelta(minutes=89) < left <= timedelta(minutes=90)


def test_a_new_process_after_a_reboot_sees_the_same_exam_and_time(state_dir):
    exam.save(running_exam(minutes_ago=30))
    status = lab("exam", "status")
    assert status.returncode == 0, status.stderr
    assert "1:29:" in status.stdout or "1:30:00" in status.stdout
    assert "left of 120 min" in status.stdout
    assert "Task 1" in status.stdout and "Task 2" in status.stdout


def test_the_clock_can_be_fast_forwarded(state_dir, monkeypatch):
    exam.save(running_exam(minutes_ago=30))
    monkeypatch.setenv(clock.SKEW_VARIABLE, "3600")
    assert timedelta(minutes=29) < exam.load().remaining(clock.now()) <= timedelta(minutes=30)
    assert "0:29:" in lab("exam", "status", skew=3600).stdout or "0:30:00" in lab("exam", "status", skew=3600).stdout
    monkeypatch.setenv(clock.SKEW_VARIABLE, str(91 * 60))
    assert exam.load().time_is_up(clock.now())
    assert exam.load().remaining(clock.now()) == timedelta(0)


def test_the_score_is_weighed_by_points_against_the_67_percent_pass_mark():
    graded = running_exam(minutes_ago=5)
    graded.tasks = [task(1, 100)]
    graded.results = [result(1, 100, 67.0, "fail")]
    assert (graded.percent, graded.verdict) == (67.0, "pass")
    graded.results = [result(1, 100, 66.9, "fail")]
    assert (graded.percent, graded.verdict) == (66.9, "fail")
    graded.results = [result(1, 100, 66.95, "fail")]
    assert (graded.percent, graded.verdict) == (67.0, "fail")  # shown rounded, compared unrounded


def test_a_percentage_that_rounds_up_to_the_pass_mark_fails():
    graded = running_exam(minutes_ago=5)
    graded.tasks = [task(1, 200)]
    graded.results = [result(1, 200, 133.9)]  # 66.95 %
    assert (graded.percent, graded.verdict) == (67.0, "fail")
    graded.results = [result(1, 200, 134.0)]  # exactly 67 %
    assert (graded.percent, graded.verdict) == (67.0, "pass")
    weighted = running_exam(minutes_ago=5)
    weighted.results = [result(1, 10, 10.0, "pass"), result(2, 6, 0.0)]
    assert (weighted.earned, weighted.total_points, weighted.percent, weighted.verdict) == (10.0, 16, 62.5, "fail")


def test_a_task_that_could_not_be_graded_makes_the_exam_could_not_grade():
    graded = running_exam(minutes_ago=5)
    graded.results = [result(1, 10, 10.0, "pass"), result(2, 6, 0.0, "error")]
    assert graded.verdict == "error"


def test_a_graded_exam_prints_its_score_and_breakdown(state_dir):
    graded = running_exam(minutes_ago=130)
    graded.results = [result(1, 10, 10.0, "pass"), result(2, 6, 1.5)]
    graded.results[1].criteria = [{"title": "every privileged pod is deleted", "status": "fail"}]
    graded.submitted_by, graded.submitted_at = "time", graded.deadline + timedelta(seconds=30)  # by the timer
    exam.save(graded)
    status = lab("exam", "status")
    assert status.returncode == 0, status.stderr
    assert "PASSED 71.9 % (11.5/16 points; pass mark 67 %), graded at the end of the time" in status.stdout
    assert "missed: every privileged pod is deleted" in status.stdout
    submitted = lab("exam", "submit", "--json")
    data = json.loads(submitted.stdout)
    assert (data["verdict"], data["percent"], data["pass_mark"]) == ("pass", 71.9, 67)


def test_commands_without_an_exam_say_so(state_dir):
    assert "no exam is running" in lab("exam", "status").stderr
    for args in (("submit",), ("task", "1"), ("clean",)):
        finished = lab("exam", *args)
        assert finished.returncode == 2 and "lab exam start" in finished.stderr, finished.stderr
        assert "Traceback" not in finished.stderr


def test_a_task_number_outside_the_exam_is_refused(state_dir):
    exam.save(running_exam(minutes_ago=1))
    refused = lab("exam", "task", "3")
    assert refused.returncode == 2 and "tasks 1 to 2" in refused.stderr


def test_a_broken_exam_file_is_kept_aside_with_an_error_not_a_traceback(state_dir):
    (state_dir / "exam.json").write_text("{not json")
    broken = lab("exam", "status")
    assert broken.returncode == 1
    assert "exam.json was unreadable" in broken.stderr and "kept as exam.json.broken" in broken.stderr
    assert "Traceback" not in broken.stderr
    assert (state_dir / "exam.json.broken").read_text() == "{not json"
    assert "no exam is running" in lab("exam", "status").stderr  # the next command starts afresh


def test_the_end_of_the_time_with_an_unreachable_cluster_is_could_not_grade(state_dir):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    kubeconfig = state_dir / "closed.conf"
    cluster = {"name": "c", "cluster": {"server": f"https://127.0.0.1:{port}", "insecure-skip-tls-verify": True}}
    user = {"name": "u", "user": {"token": "x"}}
    context = {"name": "x", "context": {"cluster": "c", "user": "u"}}
    config = {"apiVersion": "v1", "kind": "Config", "clusters": [cluster], "users": [user], "contexts": [context]}
    kubeconfig.write_text(yaml.safe_dump({**config, "current-context": "x"}))
    exam.save(running_exam(minutes_ago=5, target=TargetRef(kind="explicit", kubeconfig=str(kubeconfig))))
    late = lab("exam", "status", skew=3 * 3600)
    assert late.returncode == 2, late.stderr
    assert "the time is up" in late.stderr and "127.0.0.1" in late.stderr and "Traceback" not in late.stderr
    assert not exam.load().graded


def test_starting_an_exam_on_an_unreachable_cluster_leaves_no_exam(state_dir):
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
        "users": [{"name": "u", "user": {"token": "x"}}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "x",
    }
    (state_dir / "closed.conf").write_text(yaml.safe_dump(config))
    refused = lab("--kubeconfig", str(state_dir / "closed.conf"), "exam", "start", "--tasks", "2", "--no-timer")
    assert refused.returncode == 2
    assert "cluster unreachable at https://127.0.0.1:1" in refused.stderr and "Traceback" not in refused.stderr
    assert exam.load() is None


class FakeTarget:
    """A target whose API server and node answer or not, as a test says; nothing is contacted."""

    def __init__(self, api: bool, node: bool = True) -> None:
        self.ref, self.name, self.images, self.api, self.node = TargetRef(kind="testbed"), "fake", {}, api, node
        self.kube = SimpleNamespace(ping=self._ping)
        self.capabilities = EVERYTHING

    lacks = Target.lacks

    def _ping(self) -> str:
        if not self.api:
            raise CannotGrade("cluster unreachable at https://192.0.2.1:6443: connection refused")
        return "ok"

    def describe(self) -> str:
        return "fake (kubeconfig /nowhere)"

    def host(self, name: str) -> None:
        if not self.node:
            raise TargetError(f"node {name} of target fake is unreachable: ssh: connect timed out")


@pytest.fixture
def graders(monkeypatch) -> dict[str, Report]:
    """What each scenario's grader reports (labs.grading.plugin.grade replaced); a grader not listed must not run."""
    reports: dict[str, Report] = {}

    def grade(grader, context):
        assert context.scenario in reports, f"the grader of {context.scenario} ran"
        return reports[context.scenario]

    monkeypatch.setattr("labs.grading.plugin.grade", grade)
    return reports


def apiserver_exam(*scenarios: str) -> Exam:
    graded = running_exam(minutes_ago=130)
    graded.tasks = [task(number, 8, scenario) for number, scenario in enumerate(scenarios, start=1)]
    return graded


def test_an_apiserver_left_down_by_a_task_fails_the_tasks_that_need_it_and_grades_the_rest(state_dir, graders):
    graders["08-audit-repair"] = Report("08-audit-repair", 1, [Check("t", "kube-apiserver runs", 8, "fail", "down")])
    graded = exam.grade(apiserver_exam("01-immutable-pod", "08-audit-repair"), FakeTarget(api=False), Catalog(), "time")
    first, repair = graded.results
    assert (first.status, first.earned, repair.status, repair.criteria[0]["message"]) == ("fail", 0, "fail", "down")
    assert first.message.startswith("not graded, counted as failed: kube-apiserver does not answer (")
    assert "task 2 (Task 2) reconfigures it and it was left down" in first.message
    assert graded.verdict == "fail" and exam.load().graded


def test_criteria_not_judged_while_the_apiserver_is_left_down_count_as_failed(state_dir, graders):
    checks = [Check("a", "answer", 2), Check("b", "access revoked", 4, "error", "cluster unreachable at ...")]
    graders["07-audit-forensics"] = Report("07-audit-forensics", 1, checks)
    graded = exam.grade(apiserver_exam("07-audit-forensics"), FakeTarget(api=False), Catalog(), "student")
    (forensics,) = graded.results
    assert (forensics.status, forensics.earned) == ("fail", 8 * 2 / 6)
    assert forensics.criteria[1]["message"].startswith("counted as failed: kube-apiserver was left down")


def test_an_unanswering_api_with_no_task_to_blame_or_an_unanswering_node_is_could_not_grade(state_dir, graders):
    with pytest.raises(CannotGrade, match="cluster unreachable"):
        exam.grade(
            apiserver_exam("01-immutable-pod", "09-remove-mutable-pods"), FakeTarget(api=False), Catalog(), "time"
        )
    with pytest.raises(CannotGrade, match="node controlplane of target fake is unreachable"):
        exam.grade(apiserver_exam("01-immutable-pod", "08-audit-repair"), FakeTarget(False, False), Catalog(), "time")
    assert exam.load() is None  # nothing recorded


def test_an_answering_api_grades_every_task_with_its_grader(state_dir, graders):
    for scenario in ("01-immutable-pod", "08-audit-repair"):
        graders[scenario] = Report(scenario, 1, [Check("t", "all good", 8)])
    graded = exam.grade(apiserver_exam("01-immutable-pod", "08-audit-repair"), FakeTarget(api=True), Catalog(), "time")
    assert [result.status for result in graded.results] == ["pass", "pass"] and graded.verdict == "pass"


def seed_with(scenario_id: str, tasks: int) -> int:
    return next(s for s in range(1000) if scenario_id in [c.scenario.id for c in choose(Catalog().scenarios, tasks, s)])


def test_start_notes_fewer_tasks_before_the_setups_and_sets_up_08_last(state_dir, monkeypatch, capsys):
    from labs.exam import commands

    def run_stage(scenario, stage, target, attempt, on_task):
        print(f"SETUP {scenario.id} {stage}", file=sys.stderr)

    monkeypatch.setattr("labs.session.reachable", lambda target, scenario=None: None)
    monkeypatch.setattr("labs.session.run_stage", run_stage)
    monkeypatch.setattr(commands, "_target", lambda args: FakeTarget(api=True))
    asked = len(Catalog().scenarios)  # every scenario: some take over the same component, so fewer are chosen
    seed = seed_with("08-audit-repair", asked)
    args = argparse.Namespace(tasks=asked, minutes=120, seed=seed, no_timer=True)
    assert commands.cmd_start(args) == 0
    err = capsys.readouterr().err
    setups = [line.split()[1] for line in err.splitlines() if line.startswith("SETUP")]
    assert len(setups) == len(exam.load().tasks) < asked
    assert setups[-1] == "08-audit-repair"
    assert err.index(f"{asked} tasks asked, but only") < err.index("SETUP")
    assert all(task.phase == "ready" for task in exam.load().tasks)


@pytest.fixture
def timers(state_dir):
    """Ends the timer process a test made a command start (its pid is in the lock file)."""
    yield
    if timer.running():
        os.kill(int(timer.lock_file().read_text()), signal.SIGTERM)


def wait_for(condition, seconds: float = 20) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def test_a_command_after_a_reboot_starts_the_timer_again_once(state_dir, timers):
    exam.save(running_exam(minutes_ago=30, timer=True))  # as after a reboot: the exam on disk, no timer process
    assert not timer.running()
    status = lab("exam", "status")
    assert status.returncode == 0 and "timer was not running (a reboot?): started again" in status.stderr
    assert wait_for(timer.running), "no timer process took the lock"
    assert int(timer.lock_file().read_text()) > 1
    again = lab("exam", "status")
    assert again.returncode == 0 and "timer" not in again.stderr
    assert not exam.load().graded


def test_an_exam_started_without_a_timer_gets_none(state_dir):
    exam.save(running_exam(minutes_ago=30))
    status = lab("exam", "status")
    assert status.returncode == 0 and "timer" not in status.stderr
    assert not timer.running()


def test_a_second_timer_ends_at_once(state_dir):
    exam.save(running_exam(minutes_ago=30, timer=True))
    with timer.lock_file().open("a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        assert timer.running()
        second = subprocess.run([sys.executable, "-m", "labs.exam.timer"], timeout=60, check=False)
        assert second.returncode == 0
    assert not timer.running()


def test_a_grading_long_after_the_end_of_the_time_says_so(state_dir, graders, monkeypatch, capsys):
    from labs.exam import commands

    graders["01-immutable-pod"] = Report("01-immutable-pod", 1, [Check("t", "all good", 10)])
    monkeypatch.setattr(commands, "from_ref", lambda ref: FakeTarget(api=True))
    exam.save(running_exam(minutes_ago=30, timer=True))
    monkeypatch.setenv(clock.SKEW_VARIABLE, str(5 * 3600))  # 3:30 after the end of the time, no timer graded
    assert commands.cmd_status(argparse.Namespace()) == 0
    out, err = capsys.readouterr()
    assert "the time is up: grading the exam" in err
    assert "PASSED 100 % (16/16 points; pass mark 67 %), graded 3:30:" in out
    assert "no timer graded then (e.g. after a reboot)" in out and "work done after the end of the time counts" in out
    graded = exam.load()
    assert graded.submitted_by == "time" and timedelta(hours=3, minutes=29) < graded.graded_late < timedelta(hours=4)
    assert commands.cmd_submit(argparse.Namespace(json=True)) == 0
    data = json.loads(capsys.readouterr().out)
    assert 3.5 * 3600 - 60 < data["graded_late_seconds"] < 3.5 * 3600 + 60
    assert data["time_ended_at"] < data["graded_at"]


def test_a_grading_by_the_timer_is_not_late(state_dir, graders, monkeypatch):
    graders["01-immutable-pod"] = Report("01-immutable-pod", 1, [Check("t", "all good", 10)])
    monkeypatch.setenv(clock.SKEW_VARIABLE, str(91 * 60))  # a minute after the end, as the timer grades
    graded = exam.grade(running_exam(minutes_ago=30, timer=True), FakeTarget(api=True), Catalog(), "time")
    assert graded.graded_late is None
