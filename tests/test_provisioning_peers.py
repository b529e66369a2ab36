"""The nodes resolve each other by name and root on one node logs in to the others (playbooks/peers.yml, the common
role's peers tasks), in the order Vagrant provisions them: controlplane alone, then node01, then the refresh the
Vagrantfile runs on controlplane after node01 is up. Runs for real on localhost with every path in a temporary
directory (hosts file, root's SSH directory, the controller's hand-off directory), so nothing of this machine changes;
needs root because the tasks set root as the owner."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PEERS = REPO / "playbooks" / "peers.yml"
NODES = {"controlplane": "192.168.56.10", "node01": "192.168.56.11"}

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="the tasks make root the owner of what they write"),
]


def node_dir(tmp_path: Path, node: str) -> Path:
    return tmp_path / node


def write_inventory(tmp_path: Path) -> Path:
    """Both nodes on localhost, each with its own hosts file and root SSH directory below tmp_path."""
    lines = [
        "[control_plane]",
        "controlplane",
        "[workers]",
        "node01",
        "[all:vars]",
        "ansible_connection=local",
        f"ansible_python_interpreter={sys.executable}",
        "ansible_become=false",
    ]
    inventory = tmp_path / "inventory.ini"
    inventory.write_text("\n".join(lines) + "\n")
    host_vars = tmp_path / "host_vars"
    host_vars.mkdir()
    for node, address in NODES.items():
        node_dir(tmp_path, node).mkdir()
        (node_dir(tmp_path, node) / "hosts").write_text("127.0.0.1 localhost\n")
        (host_vars / f"{node}.yml").write_text(
            f"node_ip: {address}\n"
            f"common_hosts_file: {node_dir(tmp_path, node) / 'hosts'}\n"
            f"common_root_ssh_dir: {node_dir(tmp_path, node) / 'ssh'}\n"
        )
    return inventory


def run_peers(tmp_path: Path, limit: str) -> str:
    """ansible-playbook playbooks/peers.yml on the limited nodes (inventory of write_inventory); returns its recap."""
    argv = [
        Path(sys.executable).parent / "ansible-playbook",
        "-i",
        tmp_path / "inventory.ini",
        "--limit",
        limit,
        "-e",
        f"lab_artifacts_dir={tmp_path / 'configs'}",
        PEERS,
    ]
    result = subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout[result.stdout.index("PLAY RECAP") :]


def resolved(tmp_path: Path, node: str) -> dict[str, str]:
    entries = [line.split() for line in (node_dir(tmp_path, node) / "hosts").read_text().splitlines()]
    return {entry[1]: entry[0] for entry in entries if len(entry) == 2 and entry[1] in NODES}


@dataclass
class VagrantOrder:
    """What the runs in Vagrant's order left: the temporary root, each step's recap, and what controlplane resolved
    before the refresh."""

    root: Path
    recaps: dict[str, str]
    controlplane_before_refresh: dict[str, str]


@pytest.fixture(scope="module")
def vagrant_order(tmp_path_factory: pytest.TempPathFactory) -> VagrantOrder:
    """controlplane, then node01, then the refresh on controlplane, then everything again."""
    root = tmp_path_factory.mktemp("peers")
    write_inventory(root)
    recaps = {"controlplane": run_peers(root, "controlplane"), "node01": run_peers(root, "node01")}
    before_refresh = resolved(root, "controlplane")
    recaps["refresh"] = run_peers(root, "controlplane")
    recaps["again"] = run_peers(root, "all")
    return VagrantOrder(root, recaps, before_refresh)


def test_a_node_provisioned_later_resolves_every_node(vagrant_order: VagrantOrder) -> None:
    assert resolved(vagrant_order.root, "node01") == NODES


def test_the_refresh_teaches_earlier_nodes_the_later_ones(vagrant_order: VagrantOrder) -> None:
    assert vagrant_order.controlplane_before_refresh == {"controlplane": NODES["controlplane"]}
    assert resolved(vagrant_order.root, "controlplane") == NODES
    assert "127.0.0.1 localhost" in (node_dir(vagrant_order.root, "controlplane") / "hosts").read_text()


def test_every_nodes_root_holds_and_trusts_one_cluster_key(vagrant_order: VagrantOrder) -> None:
    key = vagrant_order.root / "configs" / "ssh" / "id_ed25519"
    public = key.with_suffix(".pub").read_text().strip()
    for node in NODES:
        ssh = node_dir(vagrant_order.root, node) / "ssh"
        assert stat.S_IMODE(ssh.stat().st_mode) == 0o700
        assert stat.S_IMODE((ssh / "id_ed25519").stat().st_mode) == 0o600
        assert (ssh / "id_ed25519").read_bytes() == key.read_bytes()
        assert public in (ssh / "authorized_keys").read_text()
        assert "Host controlplane node01\n    StrictHostKeyChecking accept-new" in (ssh / "config").read_text()


def test_the_key_is_a_valid_ed25519_key_pair(vagrant_order: VagrantOrder) -> None:
    key = vagrant_order.root / "configs" / "ssh" / "id_ed25519"
    derived = subprocess.run(["ssh-keygen", "-y", "-f", key], capture_output=True, text=True, check=True).stdout
    assert derived.startswith("ssh-ed25519 ")
    assert derived.split()[:2] == key.with_suffix(".pub").read_text().split()[:2]


def test_running_again_changes_nothing(vagrant_order: VagrantOrder) -> None:
    for node in NODES:
        assert "changed=0" in vagrant_order.recaps["again"].split(node)[1].splitlines()[0]


def test_workers_find_the_registry_at_the_address_the_control_plane_published(vagrant_order: VagrantOrder) -> None:
    """registry_node_ip (group_vars/all.yml) as node01's run sees it: no fact of controlplane is needed."""
    plays = vagrant_order.root / "plays"
    plays.mkdir()
    (plays / "group_vars").symlink_to(REPO / "playbooks" / "group_vars")
    playbook = plays / "registry.yml"
    playbook.write_text(
        "- hosts: node01\n  gather_facts: false\n  tasks:\n"
        "    - ansible.builtin.debug:\n        msg: 'registry at {{ registry_node_ip }}'\n"
    )
    argv = [Path(sys.executable).parent / "ansible-playbook", "-i", vagrant_order.root / "inventory.ini"]
    argv += ["-e", f"lab_artifacts_dir={vagrant_order.root / 'configs'}", playbook]
    result = subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"registry at {NODES['controlplane']}" in result.stdout
