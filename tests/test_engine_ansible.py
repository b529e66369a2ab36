"""Playbooks through ansible-runner for real, on this machine: progress from its events, failures summarized, and
Ctrl-C stopping ansible-playbook (no cluster needed: the playbooks run against localhost)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from labs.ansible import run_playbook

LOCALHOST = {
    "all": {"hosts": {"localhost": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}}}
}


@pytest.fixture(autouse=True)
def state_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("CKS_LAB_STATE", str(tmp_path / "state"))


def playbook(tmp_path: Path, tasks: str) -> Path:
    path = tmp_path / "play.yml"
    path.write_text(f"- hosts: all\n  gather_facts: false\n  tasks:\n{tasks}")
    return path


def test_each_task_is_reported_as_it_starts_and_a_failure_says_which_task_and_why(tmp_path):
    tasks = (
        "    - name: Say hello\n      ansible.builtin.command: echo hello\n"
        "    - name: Fail on purpose\n      ansible.builtin.command: sh -c 'echo broken >&2; exit 3'\n"
    )
    started: list[str] = []
    result = run_playbook(playbook(tmp_path, tasks), LOCALHOST, {}, on_task=started.append)
    assert started == ["Say hello", "Fail on purpose"]
    assert not result.ok
    assert len(result.failures) == 1 and "Fail on purpose" in result.failures[0] and "broken" in result.failures[0]


CHILD = """
import sys
from pathlib import Path
from labs.ansible import run_playbook
from tests.test_engine_ansible import LOCALHOST
try:
    run_playbook(Path(sys.argv[1]), LOCALHOST, {}, on_task=lambda name: print("task:", name, flush=True))
except KeyboardInterrupt:
    print("interrupted", flush=True)
    sys.exit(130)
print("finished", flush=True)
"""


def _processes_with(marker: str) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and marker in (proc / "cmdline").read_bytes().decode(errors="replace"):
                found.append(proc.name)
        except OSError:
            continue
    return found


def test_ctrl_c_stops_the_running_playbook_and_the_caller_gets_a_keyboard_interrupt(tmp_path):
    marker = f"lab-ctrl-c-{uuid.uuid4().hex[:8]}"
    tasks = f"    - name: Wait a long time\n      ansible.builtin.command: sh -c 'sleep 120' {marker}\n"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(playbook(tmp_path, tasks))],
        cwd=Path(__file__).resolve().parents[1],
        env={**os.environ, "CKS_LAB_STATE": str(tmp_path / "state")},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout.readline().strip() == "task: Wait a long time"
        deadline = time.monotonic() + 30
        while not _processes_with(marker) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _processes_with(marker), "the task's command never started"
        child.send_signal(signal.SIGINT)
        assert child.wait(timeout=20) == 130
        assert child.stdout.read().strip() == "interrupted"
        deadline = time.monotonic() + 10
        while _processes_with(marker) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _processes_with(marker), "the playbook's command is still running after Ctrl-C"
    finally:
        child.kill()
        for pid in _processes_with(marker):
            os.kill(int(pid), signal.SIGKILL)
