"""A class of three on the testbed: alice and bob are two users of the testbed cluster (client certificates from its
CA, bound to cluster-admin) with their own attempts, carol's kubeconfig points at a closed port on 127.0.0.1. alice's
seed for scenario 01 is assigned in the class file; bob's attempt is read from his lab state on the node. `lab grade`
grades them in parallel: carol is "could not grade" (never zero) and holds nobody up, the students' clusters and
state files are left as they were, and the reports parse, validate and render."""

from __future__ import annotations

import contextlib
import csv
import functools
import json
import os
import secrets
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
import yaml
from class_checks import render, validate_junit

from labs.classroom.practice import cluster_admin_binding, user_kubeconfig
from labs.classroom.results import COULD_NOT_GRADE
from labs.targets import resolve
from labs.testbed import images
from labs.testbed.build import binaries_dir

pytestmark = [pytest.mark.testbed, pytest.mark.slow, pytest.mark.shares("1", "9")]

LAB = [sys.executable, "-m", "labs.cli"]
IMMUTABLE, MUTABLE = "01-immutable-pod", "09-remove-mutable-pods"
ALICE_SEED, BOB_SEED = 515151, 626262


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def lab(state: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "CKS_LAB_STATE": str(state)}
    return subprocess.run([*LAB, *args], env=env, capture_output=True, text=True, timeout=600, check=False)


@dataclass
class Classroom:
    directory: Path
    names: dict[str, str]  # alice/bob/carol -> this run's user names
    states: dict[str, Path]

    @property
    def class_file(self) -> Path:
        return self.directory / "class.yml"

    def pods(self, state: Path) -> dict[str, tuple[str, str]]:
        """The pods of an attempt's namespace: name -> (uid, resourceVersion)."""
        params = json.loads((state / "state.json").read_text())["current"]["params"]
        pods = resolve("testbed").kube.core.list_namespaced_pod(params["namespace"]).items
        return {pod.metadata.name: (pod.metadata.uid, pod.metadata.resource_version) for pod in pods}


@pytest.fixture(scope="module")
def classroom(testbed, tmp_path_factory) -> Iterator[Classroom]:
    directory = tmp_path_factory.mktemp("class")
    suffix = secrets.token_hex(3)
    names = {student: f"{student}-{suffix}" for student in ("alice", "bob", "carol")}
    rbac = resolve("testbed").kube.rbac
    kubeadm = str(binaries_dir() / "kubeadm")
    states = {student: directory / f"{student}-state" for student in ("alice", "bob")}
    try:
        for student in ("alice", "bob"):
            (directory / f"{student}.conf").write_text(user_kubeconfig(names[student], kubeadm))
            rbac.create_cluster_role_binding(cluster_admin_binding(names[student]))
        unreachable = yaml.safe_load((directory / "alice.conf").read_text())
        unreachable["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{closed_port()}"
        (directory / "carol.conf").write_text(yaml.safe_dump(unreachable))
        _write_inventory(directory)
        _write_class_file(directory)

        alice = functools.partial(lab, states["alice"])
        started = alice("--target", "testbed", "start", "1", "--seed", str(ALICE_SEED), "--force")
        assert started.returncode == 0, started.stderr
        solved = alice("solution", "--apply")
        assert solved.returncode == 0, solved.stderr
        bob = functools.partial(lab, states["bob"])
        started = bob("--target", "testbed", "start", "9", "--seed", str(BOB_SEED), "--force")
        assert started.returncode == 0, started.stderr
        yield Classroom(directory, names, states)
    finally:
        for state in states.values():
            if (state / "state.json").exists():
                lab(state, "reset", "--clean")
        for student in ("alice", "bob"):
            binding = cluster_admin_binding(names[student])["metadata"]["name"]
            with contextlib.suppress(Exception):  # not created when the setup failed early
                rbac.delete_cluster_role_binding(binding)


def _write_inventory(directory: Path) -> None:
    local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable, "node_name": "controlplane"}
    unreachable = {
        "ansible_host": "127.0.0.1",
        "ansible_port": closed_port(),
        "ansible_user": "nobody",
        "node_name": "controlplane",
    }
    inventory = {
        "all": {
            "children": {
                "alice": {"hosts": {"alice-cp": local}},
                "bob": {"hosts": {"bob-cp": local}},
                "carol": {"hosts": {"carol-cp": unreachable}},
            }
        }
    }
    (directory / "class-inventory.yml").write_text(yaml.safe_dump(inventory))


def _write_class_file(directory: Path) -> None:
    testbed_images = {"nginx:1.27": images.NGINX_IMAGE, "busybox:1.36": images.BUSYBOX_IMAGE}
    spec = {
        "name": "testbed class",
        "inventory": "class-inventory.yml",
        "scenarios": [1, 9],
        "images": testbed_images,
        "students": [
            {
                "name": "alice",
                "kubeconfig": "alice.conf",
                "seeds": {1: ALICE_SEED},
                "state_file": {"path": str(directory / "alice-state" / "state.json")},
            },
            {
                "name": "bob",
                "kubeconfig": "bob.conf",
                "state_file": {"node": "controlplane", "path": str(directory / "bob-state" / "state.json")},
            },
            {"name": "carol", "kubeconfig": "carol.conf", "seeds": {1: 1, 9: 2}},
        ],
    }
    (directory / "class.yml").write_text(yaml.safe_dump(spec, sort_keys=False))


@pytest.fixture(scope="module")
def graded(classroom: Classroom) -> dict:
    """`lab grade` of the class, with what the students' clusters and states looked like before and after."""
    bob_state = (classroom.states["bob"] / "state.json").read_bytes()
    out = classroom.directory / "report"
    args = ["grade", "--inventory", str(classroom.class_file), "--out", str(out), "--concurrency", "3"]
    for _ in range(3):  # again when another test restarted the shared API server during the grading
        before = {student: classroom.pods(state) for student, state in classroom.states.items()}
        graded = subprocess.run(
            [*LAB, *args, "--timeout", "240"], capture_output=True, text=True, timeout=600, check=False
        )
        report = json.loads((out / "grades.json").read_text())
        if all(student["status"] != "error" for student in report["students"] if student["name"] != "carol"):
            break
    after = {student: classroom.pods(state) for student, state in classroom.states.items()}
    return {
        "run": graded,
        "out": out,
        "before": before,
        "after": after,
        "bob_state_unchanged": bob_state == (classroom.states["bob"] / "state.json").read_bytes(),
        "json": json.loads((out / "grades.json").read_text()),
    }


def _student(graded: dict, name: str) -> dict:
    return next(student for student in graded["json"]["students"] if student["name"] == name)


def test_grading_ends_with_could_not_grade_because_of_carol(graded):
    assert graded["run"].returncode == 2, graded["run"].stderr
    assert "graded carol: could not grade" in graded["run"].stderr


def test_alices_assigned_attempt_is_graded_and_her_unstarted_scenario_is_zero(graded):
    alice = _student(graded, "alice")
    immutable, mutable = alice["scenarios"][IMMUTABLE], alice["scenarios"][MUTABLE]
    assert (immutable["status"], immutable["score"], immutable["seed"]) == ("pass", 10, ALICE_SEED), immutable
    assert len(immutable["criteria"]) == 9
    assert (mutable["status"], mutable["score"]) == ("fail", 0)
    assert mutable["message"].startswith("not started")
    assert (alice["total"], alice["max_total"], alice["status"]) == (10, 16, "fail")


def test_bobs_attempt_is_read_from_his_state_on_the_node_and_graded(graded):
    bob = _student(graded, "bob")
    mutable = bob["scenarios"][MUTABLE]
    assert (mutable["status"], mutable["seed"]) == ("fail", BOB_SEED), mutable
    assert 0 <= mutable["score"] < mutable["max_score"] == 6
    assert any(criterion["status"] == "fail" for criterion in mutable["criteria"])
    assert bob["scenarios"][IMMUTABLE]["message"].startswith("not started")
    assert bob["total"] == mutable["score"]


def test_carol_is_could_not_grade_not_zero_and_says_why(graded):
    carol = _student(graded, "carol")
    assert (carol["status"], carol["total"]) == ("error", None)
    for result in carol["scenarios"].values():
        assert result["status"] == "error"
        assert result["message"].startswith(f"{COULD_NOT_GRADE}: ")
        assert "127.0.0.1" in result["message"] and "timeout" not in result["message"], result["message"]


def test_grading_changed_neither_the_students_pods_nor_their_state(graded):
    assert graded["before"] == graded["after"]
    assert all(graded["before"].values())
    assert graded["bob_state_unchanged"]


def test_the_csv_has_a_row_per_student(graded):
    with (graded["out"] / "grades.csv").open(newline="") as handle:
        rows = {row["student"]: row for row in csv.DictReader(handle)}
    assert list(rows) == ["alice", "bob", "carol"]
    assert (rows["alice"][IMMUTABLE], rows["alice"][MUTABLE], rows["alice"]["total"]) == ("10", "0", "10")
    assert rows["carol"]["total"] == COULD_NOT_GRADE
    assert rows["bob"]["max_total"] == "16"


def test_the_junit_xml_validates_with_a_suite_per_student(graded):
    path = graded["out"] / "junit.xml"
    validate_junit(path)
    assert [suite.get("name") for suite in ET.parse(path).getroot()] == ["alice", "bob", "carol"]


def test_the_html_report_renders_and_sorts_in_a_headless_browser(graded):
    page = graded["out"] / "index.html"
    assert render(page).students == ["alice", "bob", "carol"]
    by_total = render(page, "#sort=total-asc")
    bob_first = _student(graded, "bob")["total"] < 10
    assert by_total.students == (["bob", "alice", "carol"] if bob_first else ["alice", "bob", "carol"])
    assert render(page, "#sort=student-desc").students == ["carol", "bob", "alice"]
