"""Scenario 11 on the testbed (the daemons really run on this machine): setup starts the three daemons and strace
shows the culprit's misdeed, the check fails after setup, the reference solution (which uses strace) passes for
both behaviours, and near-misses fail on their criterion: another daemon named, the binary deleted but the daemon
left running, the daemon stopped but its binary kept, another daemon stopped too."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from broken_cluster import made_a_directory
from lab_attempt import Attempt, failed, failed_in, message, started
from mutation import recorded_verdicts_match

from labs.graderlib.processes import node_processes, running_binary

pytestmark = [pytest.mark.testbed, pytest.mark.slow]

SEED = 20261129  # reads-key, culprit metrics
CONNECTS_SEED = 20261130  # connects, culprit sync
BINARY = "test_the_answer_names_the_daemons_binary"
FINDING = "test_the_answer_names_what_it_does"
STOPPED = "test_the_daemon_is_stopped"
DELETED = "test_the_daemons_binary_is_deleted"
OTHERS = "test_the_other_daemons_keep_running"


@pytest.fixture(scope="module")
def lab(testbed, tmp_path_factory) -> Iterator[Attempt]:
    with started(11, SEED, tmp_path_factory.mktemp("lab-state")) as attempt:
        yield attempt


def _daemon_pid(lab: Attempt, binary: str) -> int:
    """The PID of the daemon itself (not one of its short-lived children)."""
    daemons = [p for p in running_binary(node_processes(lab.target.host("controlplane")), binary) if p.args == "sh "]
    assert len(daemons) == 1, daemons
    return daemons[0].pid


def _stop(lab: Attempt, binary: str) -> None:
    subprocess.run(["kill", str(_daemon_pid(lab, binary))], check=True)


def _answer(lab: Attempt, *lines: str) -> None:
    Path(lab.params["answer"]).write_text("".join(f"{line}\n" for line in lines))


def test_setup_starts_the_daemons_and_strace_shows_the_culprit_reading_the_key(lab):
    params = lab.params
    for binary in params["daemon_binaries"].values():
        _daemon_pid(lab, binary)
    culprit = _daemon_pid(lab, params["culprit_binary"])
    traced = subprocess.run(
        ["timeout", "7", "strace", "-f", "-e", "trace=openat", "-p", str(culprit)], capture_output=True, text=True
    )
    assert f'"{params["key_file"]}", O_RDONLY' in traced.stderr


def test_after_setup_the_check_fails_on_everything_but_the_other_daemons(lab):
    report = lab.check()
    assert report["exit_code"] == 1, report
    assert failed_in(report) == {BINARY, FINDING, STOPPED, DELETED}
    stopped = next(c["message"] for c in report["checks"] if c["id"] == STOPPED)
    assert lab.params[lab.params["culprit"]] not in stopped, "the message must not give the answer away"


def test_naming_another_daemon_and_its_config_fails_on_both_lines(lab):
    params = lab.params
    _answer(lab, f"{params['bin_dir']}/{params['backup']}", f"/opt/cks-lab-syscalls/etc/{params['backup']}.conf")
    report = lab.grade()
    assert failed(report) == {BINARY, FINDING, STOPPED, DELETED}
    assert message(report, BINARY).endswith("that daemon does not misbehave; strace each daemon with -f")
    assert message(report, FINDING).startswith(f"line 2 is '/opt/cks-lab-syscalls/etc/{params['backup']}.conf'")


def test_the_reference_solution_passes(lab):
    lab.solve()
    report = lab.check()
    assert (report["exit_code"], report["verdict"], report["score"]) == (0, "pass", 8), report


def test_the_recording_grades_like_the_solved_cluster(lab, shared_dir):
    recorded_verdicts_match(lab, shared_dir)


def test_with_the_answer_made_a_directory_the_check_fails_and_says_so(lab):
    with made_a_directory(Path(lab.params["answer"])):
        report = lab.check_broken()
    assert failed_in(report).messages[BINARY] == f"{lab.params['answer']} on controlplane is not a regular file"


def test_stopping_another_daemon_too_fails(lab):
    _stop(lab, f"{lab.params['bin_dir']}/{lab.params['sync']}")
    report = lab.grade()
    assert failed(report) == {OTHERS}
    assert message(report, OTHERS).startswith(f"no longer running: {lab.params['sync']}")


def test_deleting_the_binary_of_a_running_daemon_fails_on_stopping_it(lab, tmp_path):
    lab.start(11)  # the daemons of this seed again
    params = lab.params
    binary = params["culprit_binary"]
    _answer(lab, binary, params["key_file"])
    shutil.copy(binary, tmp_path / "kept")
    Path(binary).unlink()
    report = lab.grade()
    assert failed(report) == {STOPPED}
    assert message(report, STOPPED).startswith("the misbehaving daemon still runs")
    shutil.copy(tmp_path / "kept", binary)


def test_stopping_the_daemon_but_keeping_its_binary_fails_on_deleting_it(lab):
    params = lab.params
    _stop(lab, params["culprit_binary"])
    report = lab.grade()
    assert failed(report) == {DELETED}


@pytest.mark.variants
def test_the_reference_solution_finds_a_connecting_daemon_too(testbed, tmp_path_factory):
    with started(11, CONNECTS_SEED, tmp_path_factory.mktemp("lab-state")) as attempt:
        assert attempt.params["behaviour"] == "connects"
        attempt.assert_fails_until_solved(score=8)
        assert Path(attempt.params["answer"]).read_text().splitlines()[1] == str(attempt.params["port"])
