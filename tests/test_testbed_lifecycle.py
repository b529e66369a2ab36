"""Faults and recovery: broken manifests are reported, and `down` after a killed run leaves nothing behind."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from labs.testbed import build, cluster, supervisor


def test_a_port_in_use_is_named_with_its_owner(monkeypatch):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        monkeypatch.setattr(cluster, "PORTS", {port: "kube-apiserver"})
        with pytest.raises(cluster.TestbedError, match=rf"{port} \(kube-apiserver\).*ss -ltnp"):
            cluster._check_ports()


def test_a_missing_binary_says_how_to_build_it():
    with pytest.raises(cluster.TestbedError, match="lab testbed build"):
        cluster._run([str(build.binaries_dir() / "no-such-binary")], "starting something")


def _break_apiserver_manifest(broken: str, said: str) -> cluster.Status:
    """Write `broken` as the apiserver's manifest until the status of the apiserver contains `said` (the old
    container stops first, then the new one crash-loops); the status then; the original manifest back."""
    manifest = cluster.MANIFESTS / "kube-apiserver.yaml"
    original = manifest.read_text()
    try:
        manifest.write_text(broken)
        deadline = time.monotonic() + 120
        state = cluster.status()
        while time.monotonic() < deadline and said not in state.components["kube-apiserver"]:
            time.sleep(1)
            state = cluster.status()
        return state  # the status that said it: the next one may catch the crash loop between two attempts
    finally:
        manifest.write_text(original)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and not cluster.status().ready:
            time.sleep(1)
        assert cluster.status().ready, "the apiserver did not come back after the manifest was restored"


@pytest.mark.testbed
@pytest.mark.owns_apiserver
def test_a_manifest_that_is_not_yaml_takes_the_apiserver_down_and_status_says_why():
    manifest = cluster.MANIFESTS / "kube-apiserver.yaml"
    broken = manifest.read_text().replace("spec:", "spec:\n  containers: [oops", 1)
    state = _break_apiserver_manifest(broken, "not valid YAML")
    assert not state.ready
    assert state.components["kube-apiserver"].startswith(f"stopped: {manifest} is not valid YAML")


@pytest.mark.testbed
@pytest.mark.owns_apiserver
def test_a_manifest_with_a_flag_the_apiserver_refuses_says_what_the_apiserver_said():
    manifest = cluster.MANIFESTS / "kube-apiserver.yaml"
    broken = manifest.read_text().replace("- --advertise-address", "- --no-such-flag=1\n    - --advertise-address", 1)
    state = _break_apiserver_manifest(broken, "unknown flag")
    assert not state.ready
    reason = state.components["kube-apiserver"]
    assert reason.startswith("stopped: its container "), reason
    assert "exited with code 1: Error: unknown flag: --no-such-flag" in reason, reason


def _testbed_traces() -> dict[str, list[str]]:
    ours = str(build.cache_dir())
    processes = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                exe = os.readlink(proc / "exe")
            except OSError:
                continue
            if exe.startswith(ours) or "labs.testbed.supervisor" in (proc / "cmdline").read_bytes().decode(
                errors="replace"
            ):
                processes.append(f"{proc.name} {exe}")
    mounts = [
        line.split()[4]
        for line in Path("/proc/self/mountinfo").read_text().splitlines()
        if line.split()[4].startswith((str(cluster.KUBELET_DIR), str(cluster.CONTAINERD_STATE), "/run/netns/"))
    ]
    links = json.loads(subprocess.run(["ip", "-j", "link"], capture_output=True, text=True).stdout)
    interfaces = [
        link["ifname"]
        for link in links
        if link["ifname"] == cluster.CNI_BRIDGE or link.get("master") == cluster.CNI_BRIDGE
    ]
    rules = [
        f"{command} -t {table} {rule}"
        for command in ("iptables", "ip6tables")
        for table in ("nat", "filter", "mangle")
        for rule in subprocess.run([command, "-t", table, "-S"], capture_output=True, text=True).stdout.splitlines()
        if "CNI-" in rule or "KUBE-" in rule
    ]
    addresses = (
        [cluster.NODE_IP]
        if cluster.NODE_IP in subprocess.run(["ip", "addr"], capture_output=True, text=True).stdout
        else []
    )
    processes += [f"{pid} {command} (in a pod's cgroup)" for pid, command in cluster.pod_processes()]
    return {
        "processes": processes,
        "mounts": mounts,
        "interfaces": interfaces,
        "iptables": rules,
        "addresses": addresses,
    }


@pytest.mark.testbed
@pytest.mark.alone
def test_down_after_a_killed_run_leaves_nothing_behind_and_up_recovers():
    # A killed run: the supervisors and daemons die without any cleanup; pods and their shims stay behind.
    for name in ("kubelet", "containerd"):
        pid = supervisor.pid_of(name, cluster.RUN_DIR)
        assert pid, f"{name} is not running under its supervisor"
        os.killpg(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while any(supervisor.pid_of(name, cluster.RUN_DIR) for name in ("kubelet", "containerd")):
        assert time.monotonic() < deadline, "the killed supervisors are still alive"
        time.sleep(0.1)
    cluster.down(log=lambda message: None)
    assert _testbed_traces() == {"processes": [], "mounts": [], "interfaces": [], "iptables": [], "addresses": []}
    cluster.up(log=lambda message: None)
    assert cluster.status().ready
