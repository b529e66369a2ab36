"""Scenario 16 on the testbed: setup fails the grader, the reference solution passes it, and each near-miss fails on
the criterion it misses: a genuine binary deleted as well, the wrong binary named, SHA512SUMS "fixed" to match the
tampered binary, the answer made a directory. The release holds copies of the testbed's own kubeadm, kubectl and
kubelet (about 230 MB).

Seed 4 draws kubectl as the tampered binary; seed 1 (a variant) kubeadm."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from broken_cluster import made_a_directory
from lab_attempt import Attempt, failed, failed_in, kept, message, started
from mutation import recorded_verdicts_match

pytestmark = [pytest.mark.testbed]

SEED = 4
OTHER_SEED = 1
GONE = "test_the_tampered_binary_is_gone"
KEPT = "test_the_genuine_binaries_and_the_checksum_list_are_kept"
ANSWER = "test_the_answer_names_the_tampered_binary"


@pytest.fixture(scope="module")
def lab(testbed, tmp_path_factory) -> Iterator[Attempt]:
    with started(16, SEED, tmp_path_factory.mktemp("lab-state")) as attempt:
        yield attempt


def release(lab: Attempt, name: str) -> Path:
    return Path(lab.params["release"]) / name


def test_the_seed_draws_the_binary_the_tests_expect(lab):
    assert lab.params["tampered"] == "kubectl"


def test_after_setup_the_check_fails_until_the_binary_is_found(lab):
    report = lab.check()
    assert report["exit_code"] == 1, report
    assert failed_in(report) == {GONE, ANSWER}, report


def test_the_reference_solution_passes(lab):
    lab.solve()
    report = lab.check()
    missed = {check["id"]: check["message"] for check in report["checks"] if check["status"] != "pass"}
    assert (report["exit_code"], report["score"]) == (0, 10), missed
    assert not release(lab, "kubectl").exists()


def test_the_recording_grades_like_the_solved_cluster(lab, shared_dir):
    # make it with: CKS_LAB_RECORD=1 pytest tests/test_scenario_16_verify_binaries.py -k "solution or recording"
    recorded_verdicts_match(lab, shared_dir)


def test_deleting_a_genuine_binary_too_fails_on_keeping_them(lab, tmp_path):
    aside = tmp_path / "kubelet"
    shutil.move(release(lab, "kubelet"), aside)
    try:
        report = lab.grade()
    finally:
        shutil.move(aside, release(lab, "kubelet"))
    assert failed(report) == {KEPT}
    assert message(report, KEPT) == f"kubelet deleted from {lab.params['release']}, though genuine; keep them"


def test_naming_another_binary_fails_on_the_answer(lab):
    with kept(Path(lab.params["answer"])) as answer:
        answer.write_text("kubelet\n")
        report = lab.grade()
    assert failed(report) == {ANSWER}
    assert message(report, ANSWER).startswith(f"{lab.params['answer']} names kubelet; expected the one binary")


def test_fixing_the_list_to_match_the_tampered_binary_fails_twice(lab):
    tampered = release(lab, "kubectl")
    shutil.copy(release(lab, "kubelet"), tampered)  # not the publisher's kubectl
    try:
        with kept(release(lab, "SHA512SUMS")) as listed:
            sums = subprocess.run(
                ["sha512sum", "kubeadm", "kubectl", "kubelet"],
                cwd=lab.params["release"],
                capture_output=True,
                text=True,
            )
            listed.write_text(sums.stdout)
            report = lab.grade()
    finally:
        tampered.unlink()
    assert failed(report) == {GONE, KEPT}
    assert message(report, KEPT) == f"{lab.params['release']}/SHA512SUMS was changed; keep it"


def test_with_the_answer_made_a_directory_the_check_fails_and_says_so(lab):
    with made_a_directory(Path(lab.params["answer"])):
        report = lab.check_broken()
    assert failed_in(report).messages[ANSWER] == f"{lab.params['answer']} on controlplane is not a regular file"


@pytest.mark.variants
def test_another_draw_fails_until_solved(testbed, tmp_path_factory):
    with started(16, OTHER_SEED, tmp_path_factory.mktemp("lab-state")) as attempt:
        assert attempt.params["tampered"] == "kubeadm"
        attempt.assert_fails_until_solved(10)
