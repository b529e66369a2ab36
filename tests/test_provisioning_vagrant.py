"""The Vagrantfile validates with Debian's Vagrant, follows vagrant/settings.yml and its CKS_LAB_* overrides, and
refuses bad input before any VM exists, with a message that says what to change.

VirtualBox, VMware and Parallels are not installed here: `vagrant validate --ignore-provider` checks everything but
their provider blocks; libvirt's plugin is installed, so its provider block is validated for real."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def vagrant(tmp_path: Path):
    """Run vagrant in the checkout with a private .vagrant directory and only the given CKS_LAB_* settings."""
    executable = shutil.which("vagrant")
    if executable is None:
        pytest.fail("vagrant is missing: install the Debian package listed in .ci/debian-packages.txt")
    dotfile = tmp_path / "dot-vagrant"
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("CKS_LAB_", "VAGRANT_"))}
    base_env |= {"VAGRANT_DOTFILE_PATH": str(dotfile), "VAGRANT_CHECKPOINT_DISABLE": "1", "NO_COLOR": "1"}

    def run(*args: str, **settings: str) -> subprocess.CompletedProcess[str]:
        env = base_env | {f"CKS_LAB_{key.upper()}": value for key, value in settings.items()}
        return subprocess.run(
            [executable, *args, "--no-color"], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
        )

    run.dotfile = dotfile
    return run


def output(result: subprocess.CompletedProcess[str]) -> str:
    return " ".join((result.stdout + result.stderr).split())


def test_default_settings_validate(vagrant) -> None:
    result = vagrant("validate", "--ignore-provider")
    assert result.returncode == 0, output(result)
    assert "Vagrantfile validated successfully" in result.stdout
    assert re.findall(r"==> (\S+): Ignoring provider config", result.stdout) == ["controlplane", "node01"]


def test_workers_setting_adds_nodes(vagrant) -> None:
    result = vagrant("validate", "--ignore-provider", workers="3")
    assert result.returncode == 0, output(result)
    assert re.findall(r"==> (\S+): Ignoring", result.stdout) == ["controlplane", "node01", "node02", "node03"]


def test_libvirt_provider_block_validates(vagrant) -> None:
    """With libvirt's plugin present the provider block is validated; the NFS share then needs an NFS server,
    which this machine lacks: Vagrant says so only after our settings were accepted."""
    result = vagrant("validate", provider="libvirt")
    text = output(result)
    assert "cks-lab:" not in text
    assert result.returncode == 0 or "doesn't support NFS" in text, text


def test_settings_file_holds_every_key_the_vagrantfile_reads() -> None:
    settings = yaml.safe_load((REPO / "vagrant" / "settings.yml").read_text())
    ruby = (REPO / "vagrant" / "lab_settings.rb").read_text()
    read = set(re.findall(r'(?:value|choice|integer|origin)\("([a-z_]+)"', ruby))
    read |= {f"{group}_{what}" for group in ("controlplane", "worker") for what in ("cpus", "memory")}
    assert read <= set(settings), f"keys read but missing from settings.yml: {read - set(settings)}"
    assert set(settings["boxes"]) == {"virtualbox", "libvirt", "vmware_desktop", "parallels"}


BAD_INPUT = {
    "unsupported provider": (
        {"provider": "hyperv"},
        "provider 'hyperv' is not supported; use one of virtualbox, libvirt, vmware_desktop, parallels",
    ),
    "unsupported architecture": (
        {"arch": "riscv64"},
        "CPU architecture 'riscv64' is not supported",
    ),
    "too little memory for a VM": (
        {"controlplane_memory": "1024"},
        "controlplane_memory 1024 is out of range; use 2048 to 65536 (controlplane_memory in vagrant/settings.yml "
        "or CKS_LAB_CONTROLPLANE_MEMORY)",
    ),
    "more memory than the host has": (
        {"workers": "9", "worker_memory": "65536"},
        "the VMs need 592896 MiB of memory and this host has",
    ),
    "too many workers": ({"workers": "12"}, "workers 12 is out of range; use 1 to 9"),
    "no workers": ({"workers": "0"}, "workers 0 is out of range; use 1 to 9"),
    "workers not a number": ({"workers": "two"}, "workers 'two' is not a whole number"),
    "more CPUs than the host has": ({"worker_cpus": "4096"}, "worker_cpus 4096 is out of range"),
    "public network": ({"network_prefix": "8.8.8"}, "network_prefix '8.8.8' must be the first three octets"),
    "network inside the pod network": (
        {"network_prefix": "10.244.7"},
        "controlplane's address 10.244.7.10 lies inside the cluster's pod network 10.244.0.0/16",
    ),
    "VirtualBox host-only range": (
        {"provider": "virtualbox", "network_prefix": "192.168.100"},
        "VirtualBox only allows host-only addresses in 192.168.56.0/21",
    ),
    "last address past .254": ({"first_ip": "250", "workers": "5"}, "first_ip 250 is out of range; use 2 to 249"),
    "old Kubernetes": ({"kubernetes_version": "1.29.3"}, "kubernetes_version '1.29.3' is not a release"),
    "unknown provisioner": ({"provisioner": "chef"}, "provisioner 'chef' is not supported"),
    "one-way synced folder": ({"synced_folder_type": "rsync"}, "synced_folder_type 'rsync' only copies to the VMs"),
}


@pytest.mark.parametrize(("settings", "message"), BAD_INPUT.values(), ids=BAD_INPUT.keys())
@pytest.mark.parametrize("command", ["validate", "up"])
def test_bad_input_stops_vagrant_before_any_vm(vagrant, command: str, settings: dict, message: str) -> None:
    result = vagrant(command, **settings)
    assert result.returncode != 0
    assert f"cks-lab: {message}" in output(result)
    assert not (vagrant.dotfile / "machines").exists() or not any((vagrant.dotfile / "machines").rglob("id"))


def test_provider_named_on_the_command_line_is_checked(vagrant) -> None:
    result = vagrant("up", "--provider=docker")
    assert result.returncode != 0
    assert "cks-lab: provider 'docker' is not supported" in output(result)


@pytest.mark.parametrize("provider", ["vmware_desktop", "parallels"])
def test_settings_accept_providers_whose_plugin_is_absent_here(vagrant, provider: str) -> None:
    """Our checks pass; Vagrant itself then reports the missing plugin (not installed on this machine)."""
    result = vagrant("validate", provider=provider)
    text = output(result)
    assert "cks-lab:" not in text
    assert result.returncode == 0 or f"The provider '{provider}' could not be found" in text, text


@pytest.mark.parametrize("cpu", ["arm64", "aarch64"])
def test_arm64_hosts_are_recognised_by_both_names(vagrant, cpu: str) -> None:
    result = vagrant("validate", "--ignore-provider", arch=cpu)
    version = subprocess.run(["vagrant", "--version"], capture_output=True, text=True).stdout.split()[-1]
    if tuple(int(p) for p in version.split(".")[:2]) < (2, 4):
        assert "cks-lab: arm64 boxes need Vagrant 2.4.0 or newer" in output(result)
    else:
        assert result.returncode == 0, output(result)
