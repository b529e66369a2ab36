"""The host's proxy reaches the nodes (F21): site.yml's proxy tasks (tag proxy) run for real on localhost, writing
into a temporary directory instead of /etc, then read by the programs that read those files on a node (apt-config,
systemd-analyze) or checked line by line (pam_env's /etc/environment). Without a proxy nothing is written, and what
an earlier run wrote is taken away. That apt, containerd and pip then really go through a proxy needs a VM and a
proxy: the laptop checks in docs/provisioning.md."""

from __future__ import annotations

import ipaddress
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
SHARED_VARS = yaml.safe_load((REPO / "playbooks" / "group_vars" / "all.yml").read_text())
PROXY = {"http_proxy": "http://proxy.example:3128", "https_proxy": "http://proxy.example:3129"}
HOST_NO_PROXY = "corp.example, 10.20.0.0/16"
LOGIN_PATH = 'PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"\n'


@dataclass
class Node:
    """Where the proxy tasks write, in a temporary directory standing for the node's /etc."""

    root: Path

    @property
    def environment(self) -> Path:
        return self.root / "environment"

    @property
    def apt_conf(self) -> Path:
        return self.root / "apt.conf.d" / "90cks-lab-proxy"

    @property
    def dropin(self) -> Path:
        return self.root / "system" / "containerd.service.d" / "cks-lab-proxy.conf"

    def provision(self, extravars: dict[str, str]) -> None:
        """site.yml's proxy tasks on localhost (the control plane, its node_ip the default address)."""
        inventory = self.root / "inventory.ini"
        inventory.write_text(
            f"[control_plane]\ncontrolplane ansible_connection=local ansible_python_interpreter={sys.executable}\n"
            "[workers]\n"
        )
        paths = {
            "common_environment_file": str(self.environment),
            "common_apt_proxy_file": str(self.apt_conf),
            "containerd_proxy_dropin": str(self.dropin),
        }
        # JSON, as Vagrant passes its extra vars
        extras = json.dumps({**paths, **extravars})
        result = subprocess.run(
            [str(VENV_BIN / "ansible-playbook"), "-i", str(inventory), "--tags", "proxy", "-e", extras, "site.yml"],
            cwd=REPO / "playbooks",
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert result.returncode == 0, result.stdout + result.stderr

    def login_environment(self) -> dict[str, str]:
        """KEY="value" lines as pam_env reads /etc/environment (comments skipped, quotes stripped)."""
        lines = (line for line in self.environment.read_text().splitlines() if line and not line.startswith("#"))
        return dict(re.fullmatch(r'([A-Za-z_]+)="(.*)"', line).groups() for line in lines)


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Node:
    node = Node(tmp_path_factory.mktemp("proxy"))
    node.apt_conf.parent.mkdir()
    node.environment.write_text(LOGIN_PATH)
    node.provision({**PROXY, "no_proxy": HOST_NO_PROXY})
    return node


def node_ip() -> str:
    """This machine's default IPv4 address, which group_vars/all.yml makes node_ip when the inventory names none."""
    facts = subprocess.run(
        [str(VENV_BIN / "ansible"), "-m", "setup", "-a", "filter=ansible_default_ipv4", "localhost", "-o"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return re.search(r'"address": "([0-9.]+)"', facts)[1]


def test_login_shells_get_the_proxy_in_both_spellings(node: Node) -> None:
    env = node.login_environment()
    assert env["PATH"] == LOGIN_PATH.split('"')[1], "the distribution's lines stay"
    for name, value in PROXY.items():
        assert env[name] == env[name.upper()] == value


def test_no_proxy_keeps_the_cluster_and_the_nodes_network_direct(node: Node) -> None:
    env = node.login_environment()
    assert env["NO_PROXY"] == env["no_proxy"]
    direct = env["NO_PROXY"].split(",")
    for entry in ("corp.example", "10.20.0.0/16", "localhost", "127.0.0.1", ".svc", ".cluster.local"):
        assert entry in direct, entry
    for key in ("service_subnet", "pod_subnet", "registry_hostname"):
        assert SHARED_VARS[key] in direct, key
    address = ipaddress.ip_address(node_ip())
    assert str(address) in direct
    networks = [ipaddress.ip_network(e, strict=False) for e in direct if "/" in e and e != SHARED_VARS["pod_subnet"]]
    assert any(address in network for network in networks), f"the node's network is not in {direct}"


def test_apt_reads_the_proxy(node: Node) -> None:
    apt_config = shutil.which("apt-config")
    if apt_config is None:
        pytest.skip("apt-config is missing (not a Debian-like machine)")
    dump = subprocess.run([apt_config, "-c", node.apt_conf, "dump"], capture_output=True, text=True, check=True)
    assert f'Acquire::http::Proxy "{PROXY["http_proxy"]}";' in dump.stdout.splitlines()
    assert f'Acquire::https::Proxy "{PROXY["https_proxy"]}";' in dump.stdout.splitlines()


def test_containerd_pulls_through_the_proxy(node: Node) -> None:
    lines = node.dropin.read_text().splitlines()
    environment = dict(re.fullmatch(r'Environment="([A-Z_]+)=(.*)"', line).groups() for line in lines if "=" in line)
    assert environment["HTTP_PROXY"] == PROXY["http_proxy"]
    assert environment["HTTPS_PROXY"] == PROXY["https_proxy"]
    assert environment["NO_PROXY"] == node.login_environment()["NO_PROXY"]


def test_systemd_accepts_the_containerd_drop_in(node: Node, tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is missing")
    units = tmp_path / "units"
    shutil.copytree(node.dropin.parent, units / "containerd.service.d")
    (units / "containerd.service").write_text("[Service]\nType=notify\nExecStart=/bin/true\n")
    result = subprocess.run(
        [analyze, "verify", "--man=no", units / "containerd.service"],
        env={**os.environ, "SYSTEMD_UNIT_PATH": f"{units}:"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "cks-lab-proxy.conf" not in result.stdout + result.stderr, result.stderr


def test_without_a_proxy_nothing_is_left(node: Node) -> None:
    """Runs last in this module: the same node provisioned again without a proxy."""
    node.provision({})
    assert node.environment.read_text() == LOGIN_PATH
    assert not node.apt_conf.exists()
    assert not node.dropin.exists()
