"""The join hand-off between the control plane and the workers, run for real by Ansible on localhost into a temporary
directory: the control plane role's join-command file (its template, with a made-up command in place of kubeadm's)
and the worker role's check of it (site.yml, tag join_check), which refuses an expired token with what to do.
kubeadm token create and kubeadm join themselves need a cluster: a laptop's `vagrant up` checks them."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
ROLES = REPO / "playbooks" / "roles"
TOKEN = "abcdef.0123456789abcdef"
JOIN_COMMAND = f"kubeadm join 192.168.56.10:6443 --token {TOKEN} --discovery-token-ca-cert-hash sha256:00"


def ansible_playbook(workdir: Path, playbook: Path, *options: str) -> subprocess.CompletedProcess[str]:
    inventory = workdir / "inventory.ini"
    local = f"ansible_connection=local ansible_python_interpreter={sys.executable}"
    inventory.write_text(
        f"[control_plane]\ncontrolplane {local} node_ip=192.168.56.10\n"
        f"[workers]\nnode01 {local} node_ip=192.168.56.11\n"
    )
    argv = [VENV_BIN / "ansible-playbook", "-i", inventory, playbook, *options]
    return subprocess.run([str(a) for a in argv], cwd=REPO, capture_output=True, text=True, timeout=300)


def hand_off(workdir: Path, ttl_hours: int) -> Path:
    """The control plane's join-command file for a token of that lifetime, rendered by the role's template."""
    configs = workdir / "configs"
    configs.mkdir(exist_ok=True)
    role = ROLES / "control_plane"
    play = {
        "name": "Write the join command as the control plane role does",
        "hosts": "controlplane",
        "gather_facts": False,
        "vars_files": [str(REPO / "versions.yml"), str(role / "defaults/main.yml"), str(role / "vars/main.yml")],
        "vars": {"control_plane_join_command": {"stdout": JOIN_COMMAND + "\n"}, "cluster_name": "cks-lab"},
        "tasks": [
            {
                "name": "Render it",
                "ansible.builtin.template": {
                    "src": str(role / "templates/join-command.j2"),
                    "dest": str(configs / "join-command"),
                    "mode": "0600",
                },
            }
        ],
    }
    playbook = workdir / "hand-off.yml"
    playbook.write_text(yaml.safe_dump([play]))
    result = ansible_playbook(workdir, playbook, "-e", f"control_plane_join_token_ttl_hours={ttl_hours}")
    assert result.returncode == 0, result.stdout + result.stderr
    return configs / "join-command"


def worker_check(workdir: Path) -> subprocess.CompletedProcess[str]:
    """The worker role's checks before kubeadm join, on node01, reading the hand-off from workdir/configs."""
    return ansible_playbook(
        workdir,
        REPO / "playbooks" / "site.yml",
        "--limit", "node01", "--tags", "join_check",
        "-e", f"lab_artifacts_dir={workdir / 'configs'}",
        "-e", f"worker_kubelet_kubeconfig={workdir / 'kubelet.conf'}",
        "-e", "worker_join_wait_seconds=5",
    )  # fmt: skip


def test_the_hand_off_carries_the_command_and_when_its_token_expires(tmp_path: Path) -> None:
    before = int(time.time())
    handed = yaml.safe_load(hand_off(tmp_path, 24).read_text())
    assert handed["command"] == JOIN_COMMAND
    assert before + 24 * 3600 <= handed["expires"] <= int(time.time()) + 24 * 3600


def test_a_worker_accepts_a_fresh_join_command(tmp_path: Path) -> None:
    hand_off(tmp_path, 24)
    result = worker_check(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_worker_refuses_an_expired_token_and_says_what_to_do(tmp_path: Path) -> None:
    """A hand-off written a day and a minute ago, e.g. before `vagrant destroy node01 && vagrant up node01`."""
    path = hand_off(tmp_path, 24)
    handed = yaml.safe_load(path.read_text())
    path.write_text(yaml.safe_dump({**handed, "expires": int(time.time()) - 60}))
    result = worker_check(tmp_path)
    assert result.returncode != 0
    assert "has expired" in result.stdout
    assert "vagrant provision controlplane" in result.stdout
    assert TOKEN not in result.stdout + result.stderr


def test_a_worker_refuses_a_join_command_left_by_an_older_checkout(tmp_path: Path) -> None:
    """Before the expiry was written next to it, the file held the bare command: its token's age is unknown."""
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "join-command").write_text(JOIN_COMMAND + "\n")
    result = worker_check(tmp_path)
    assert result.returncode != 0
    assert "vagrant provision controlplane" in result.stdout
