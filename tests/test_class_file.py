"""The class file and the planning of a class's grading, without a cluster: the schema and its messages, students'
nodes out of an Ansible inventory, seeds by scenario, a worker that overruns its timeout, an unreachable cluster."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from labs.classroom import grading
from labs.classroom.classfile import ClassFileError, load
from labs.classroom.inventory import list_inventory, student_inventory
from labs.classroom.results import COULD_NOT_GRADE
from labs.classroom.worker import Job, grade_student

LAB = [sys.executable, "-m", "labs.cli"]
INVENTORY = """\
[control_plane]
alice-cp ansible_host=203.0.113.10 node_name=controlplane cluster_name=alice
bob-cp   ansible_host=203.0.113.20 node_name=controlplane cluster_name=bob
[workers]
alice-w1 ansible_host=203.0.113.11 node_name=node01 cluster_name=alice
stray    ansible_host=203.0.113.99
[alice]
alice-cp
alice-w1
[bob]
bob-cp
[odd]
stray
"""


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text))
    return path


def closed_port_kubeconfig(directory: Path) -> Path:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "c", "cluster": {"server": f"https://127.0.0.1:{port}", "insecure-skip-tls-verify": True}}
        ],
        "users": [{"name": "u", "user": {"token": "x"}}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "x",
    }
    path = directory / "closed.conf"
    path.write_text(yaml.safe_dump(config))
    return path


def test_a_class_file_loads_with_paths_relative_to_it(tmp_path):
    path = write(
        tmp_path,
        "class.yml",
        """\
        name: spring
        inventory: class.ini
        scenarios: [1, immutable-pod]
        state_file: {path: /home/ubuntu/.local/state/cks-lab/state.json}
        students:
          - {name: alice, kubeconfig: configs/alice/admin.conf, seeds: {1: 42, remove-mutable-pods: 7}}
          - {name: bob, kubeconfig: /abs/bob.conf, group: bob-cluster}
        """,
    )
    loaded = load(path)
    alice, bob = loaded.students
    assert alice.kubeconfig == tmp_path / "configs/alice/admin.conf"
    assert bob.kubeconfig == Path("/abs/bob.conf")
    assert loaded.inventory_of(alice) == tmp_path / "class.ini"
    assert alice.seeds == {"1": 42, "remove-mutable-pods": 7}
    assert loaded.scenarios == ["1", "immutable-pod"]
    assert (alice.inventory_group, bob.inventory_group) == ("alice", "bob-cluster")
    assert loaded.state_file_of(bob).node == "controlplane"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("students: []", "students: List should have at least 1 item"),
        ("students:\n  - {name: a, kubeconfig: a.conf}\n  - {name: a, kubeconfig: b.conf}", "a appear more than once"),
        ("students:\n  - {name: alice, kubeconfig: a.conf, seeds: {1: many}}", "students[alice].seeds.1:"),
        ("students:\n  - {name: alice, kubeconfig: a.conf, colour: red}", "students[alice].colour: Extra inputs"),
        ("students:\n  - {name: alice}", "students[alice].kubeconfig: Field required"),
        (
            "state_file: {path: relative/state.json}\nstudents: [{name: a, kubeconfig: a}]",
            "state_file.path: Value error",
        ),
        ("students: [name: alice", "line 1, column"),
        ("- just a list", "expected a mapping"),
    ],
)
def test_a_bad_class_file_names_the_field_and_the_problem(tmp_path, text, expected):
    with pytest.raises(ClassFileError) as raised:
        load(write(tmp_path, "class.yml", text))
    assert expected in str(raised.value)
    assert str(tmp_path / "class.yml") in str(raised.value)


def test_lab_grade_with_a_bad_class_file_exits_1_without_a_traceback(tmp_path):
    path = write(tmp_path, "class.yml", "students: []")
    graded = subprocess.run([*LAB, "grade", "--inventory", str(path)], capture_output=True, text=True, check=False)
    assert graded.returncode == 1
    assert "students: List should have at least 1 item" in graded.stderr and "Traceback" not in graded.stderr
    missing = subprocess.run(
        [*LAB, "grade", "--inventory", str(tmp_path / "nope.yml")], capture_output=True, text=True, check=False
    )
    assert missing.returncode == 1 and "cannot read" in missing.stderr


def test_a_students_group_becomes_an_inventory_with_the_lab_node_names(tmp_path):
    listing = list_inventory(write(tmp_path, "class.ini", INVENTORY))
    alice = student_inventory(listing, "alice", "student alice")
    assert set(alice["all"]["hosts"]) == {"controlplane", "node01"}
    assert alice["all"]["hosts"]["node01"]["ansible_host"] == "203.0.113.11"
    assert set(student_inventory(listing, "bob-cp", "student bob")["all"]["hosts"]) == {"controlplane"}
    with pytest.raises(ClassFileError, match="no group or host 'carol'"):
        student_inventory(listing, "carol", "student carol")
    with pytest.raises(ClassFileError, match="host stray has no node_name"):
        student_inventory(listing, "odd", "student odd")


def test_a_broken_inventory_is_a_class_file_error(tmp_path):
    with pytest.raises(ClassFileError, match="inventory"):
        list_inventory(write(tmp_path, "broken.yml", "all: {hosts: [not, a, mapping]}\n"))


def test_the_plan_resolves_scenarios_and_seeds_by_number_or_slug(tmp_path):
    write(tmp_path, "class.ini", INVENTORY)
    path = write(
        tmp_path,
        "class.yml",
        """\
        inventory: class.ini
        students:
          - {name: alice, kubeconfig: a.conf, seeds: {1: 42, remove-mutable-pods: 7}}
          - {name: bob, kubeconfig: b.conf, seeds: {"01": 5}}
        """,
    )
    planned = grading.plan(load(path), [], tmp_path)
    assert [s.id for s in planned.scenarios] == ["01-immutable-pod", "09-remove-mutable-pods"]
    alice, bob = planned.jobs
    assert alice.seeds == {"01-immutable-pod": 42, "09-remove-mutable-pods": 7}
    assert bob.seeds == {"01-immutable-pod": 5}
    assert set(alice.inventory["all"]["hosts"]) == {"controlplane", "node01"}
    only = grading.plan(load(path), ["9"], tmp_path)
    assert [s.id for s in only.scenarios] == ["09-remove-mutable-pods"]


def test_the_plan_refuses_unknown_scenarios_and_a_class_without_any(tmp_path):
    unknown = write(tmp_path, "class.yml", "students: [{name: a, kubeconfig: a.conf, seeds: {immutable-pods: 1}}]")
    with pytest.raises(ClassFileError, match=r"a\.seeds: no scenario 'immutable-pods'; did you mean 01-immutable-pod"):
        grading.plan(load(unknown), [], tmp_path)
    nothing = write(tmp_path, "class.yml", "students: [{name: a, kubeconfig: a.conf}]")
    with pytest.raises(ClassFileError, match="no scenario to grade"):
        grading.plan(load(nothing), [], tmp_path)


def _job(tmp_path: Path, **fields) -> Job:
    defaults = {
        "student": "dora",
        "kubeconfig": closed_port_kubeconfig(tmp_path),
        "inventory": {"all": {"hosts": {}}},
        "scenarios": ["01-immutable-pod", "09-remove-mutable-pods"],
        "seeds": {"01-immutable-pod": 3},
        "workdir": tmp_path,
    }
    return Job(**{**defaults, **fields})


def test_an_unreachable_cluster_is_could_not_grade_for_every_scenario(tmp_path):
    results = list(grade_student(_job(tmp_path)))
    assert [r.status for r in results] == ["error", "error"]
    assert all(r.message.startswith(f"{COULD_NOT_GRADE}: ") and "127.0.0.1" in r.message for r in results)
    assert [r.max_score for r in results] == [10, 6]
    assert results[0].seed == 3


def test_a_worker_that_overruns_its_timeout_is_stopped_keeping_what_it_finished(tmp_path, monkeypatch):
    finished = '{"result": {"scenario": "01-immutable-pod", "seed": 3, "status": "pass", "score": 10, "max_score": 10}}'
    hangs = f'import sys, time; print({finished!r}); print(\'{{"note": "slow"}}\', flush=True); time.sleep(600)'
    monkeypatch.setattr(grading, "WORKER", [sys.executable, "-c", hangs])
    result = grading.run_job(_job(tmp_path), timeout=2)
    immutable, mutable = result.scenarios.values()
    assert (immutable.status, immutable.score) == ("pass", 10)
    assert mutable.status == "error"
    assert mutable.message == f"{COULD_NOT_GRADE}: grading took longer than the timeout (2 s) and was stopped"
    assert result.notes == ["slow"]
    assert result.seconds < 60


def test_a_worker_that_crashes_is_could_not_grade_with_its_last_words(tmp_path, monkeypatch):
    monkeypatch.setattr(grading, "WORKER", [sys.executable, "-c", "import sys; sys.exit('out of memory')"])
    result = grading.run_job(_job(tmp_path), timeout=60)
    assert {r.status for r in result.scenarios.values()} == {"error"}
    assert result.scenarios["01-immutable-pod"].message.endswith("(exit code 1): out of memory")


def test_lab_help_lists_grade_and_exam():
    shown = subprocess.run([*LAB, "--help"], capture_output=True, text=True, check=False)
    assert shown.returncode == 0, shown.stderr
    assert "grade a class" in shown.stdout and "a timed exam" in shown.stdout
    for group in ("grade", "exam"):
        assert subprocess.run([*LAB, group, "--help"], capture_output=True, check=False).returncode == 0
