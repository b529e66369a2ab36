"""The Vagrantfile validates with Debian's Vagrant, follows vagrant/settings.yml and its CKS_LAB_* overrides, and
refuses bad input before any VM exists, with a message that says what to change.

VirtualBox, VMware and Parallels are not installed here: `vagrant validate --ignore-provider` checks everything but
their provider blocks; libvirt's plugin is installed, so its provider block is validated for real. Hosts this machine
is not (Windows, macOS, arm64) are tried through tests/lab_settings_probe.rb, which runs vagrant/lab_settings.rb with
the operating system, CPU, environment and program outputs of such a host stubbed. What a VM would run is read from
the Vagrantfile as Vagrant loads it (tests/vagrant_machine_config.rb), and the virtualenv of the Ansible it
provisions with is built here for real."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from packaging.utils import canonicalize_name
from python_pins import CONSTRAINTS, pinned_packages, wheelhouse

REPO = Path(__file__).resolve().parents[1]


def required_program(name: str) -> str:
    """The path of a program CI installs from Debian; the test fails (never skips) without it."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is missing: install the Debian package listed in .ci/debian-packages.txt")
    return path


def vagrant_environment(dotfile: Path) -> dict[str, str]:
    """This process's environment without any CKS_LAB_* or VAGRANT_* setting, Vagrant's state in `dotfile`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CKS_LAB_", "VAGRANT_"))}
    return env | {"VAGRANT_DOTFILE_PATH": str(dotfile), "VAGRANT_CHECKPOINT_DISABLE": "1"}


@pytest.fixture
def vagrant(tmp_path: Path):
    """Run vagrant in the checkout with a private .vagrant directory and only the given CKS_LAB_* settings."""
    executable = required_program("vagrant")
    dotfile = tmp_path / "dot-vagrant"
    base_env = vagrant_environment(dotfile) | {"NO_COLOR": "1"}

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
    "DHCP addresses on VirtualBox": (
        {"provider": "virtualbox", "node_addresses": "dhcp"},
        "node_addresses 'dhcp' needs a provider whose network gives every VM its own address",
    ),
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


# --- hosts this machine is not: lab_settings.rb with the host's facts stubbed -------------------------------------

PROBE = REPO / "tests" / "lab_settings_probe.rb"
POWERSHELL_TOTAL_MEMORY = (
    "powershell.exe -NoProfile -NonInteractive -Command (Get-CimInstance Win32_ComputerSystem).TotalPhysicalMemory"
)
WMIC_TOTAL_MEMORY = "wmic.exe ComputerSystem get TotalPhysicalMemory /value"
GIB = 1024**3


@pytest.fixture
def host(tmp_path: Path):
    """What lab_settings.rb concludes on a host with the given facts (see tests/lab_settings_probe.rb); settings are
    the defaults with the VirtualBox provider unless told."""
    ruby = required_program("ruby")

    def probe(
        settings: dict[str, str] | None = None, vagrant_env: dict[str, str] | None = None, **facts: object
    ) -> dict:
        request = facts | {
            "settings": {"CKS_LAB_PROVIDER": "virtualbox", "VAGRANT_DOTFILE_PATH": str(tmp_path / "dot-vagrant")}
            | {f"CKS_LAB_{key.upper()}": value for key, value in (settings or {}).items()}
            | (vagrant_env or {})
        }
        result = subprocess.run([ruby, PROBE], input=json.dumps(request), capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    return probe


def linux(cpu: str = "x86_64", **facts: object) -> dict:
    """A Linux host with this CPU, 4 CPUs and 16 GiB (whatever this machine has)."""
    return {"os": "linux", "ruby_cpu": cpu, "cpus": 4, "memory_mib": 16384} | facts


def windows(cpu_variables: dict[str, str], outputs: dict[str, str] | None = None) -> dict:
    """A Windows host with these PROCESSOR_* variables and program outputs (default: PowerShell reports 16 GiB)."""
    return {
        "os": "windows",
        "ruby_cpu": "x64",
        "cpus": 8,
        "env": cpu_variables,
        "outputs": {POWERSHELL_TOTAL_MEMORY: str(16 * GIB)} if outputs is None else outputs,
    }


def test_windows_reads_the_memory_from_powershell(host) -> None:
    seen = host(**windows({"PROCESSOR_ARCHITECTURE": "AMD64"}))
    assert (seen["memory_mib"], seen["arch"]) == (16384, "amd64")


def test_windows_without_powershell_reads_the_memory_from_wmic(host) -> None:
    wmic = "\r\r\n\r\r\nTotalPhysicalMemory=8589934592\r\r\n\r\r\n\r\r\n"
    seen = host(**windows({"PROCESSOR_ARCHITECTURE": "AMD64"}, {WMIC_TOTAL_MEMORY: wmic}))
    assert (seen["memory_mib"], seen["arch"]) == (8192, "amd64")


def test_windows_that_does_not_tell_its_memory_skips_the_check(host) -> None:
    seen = host(**windows({"PROCESSOR_ARCHITECTURE": "AMD64"}, {POWERSHELL_TOTAL_MEMORY: "Get-CimInstance: denied"}))
    assert seen["memory_mib"] is None
    assert "error" not in seen, seen["error"]


def test_windows_with_too_little_memory_stops_vagrant(host) -> None:
    seen = host(**windows({"PROCESSOR_ARCHITECTURE": "AMD64"}, {POWERSHELL_TOTAL_MEMORY: str(4 * GIB)}))
    assert seen["error"].startswith("cks-lab: the VMs need 5120 MiB of memory and this host has 4096 MiB")


WINDOWS_CPUS = {
    "64-bit Vagrant on x64": ({"PROCESSOR_ARCHITECTURE": "AMD64"}, "AMD64"),
    "32-bit program on x64 (WOW64)": ({"PROCESSOR_ARCHITECTURE": "x86", "PROCESSOR_ARCHITEW6432": "AMD64"}, "AMD64"),
    "no variables: Ruby's CPU": ({}, "x64"),
}


@pytest.mark.parametrize(("variables", "cpu"), WINDOWS_CPUS.values(), ids=WINDOWS_CPUS.keys())
def test_windows_cpu_comes_from_the_processor_variables(host, variables: dict[str, str], cpu: str) -> None:
    seen = host(**windows(variables))
    assert (seen["cpu"], seen["arch"]) == (cpu, "amd64")


WINDOWS_ON_ARM = {
    "native": {"PROCESSOR_ARCHITECTURE": "ARM64"},
    "x64 Vagrant emulated": {"PROCESSOR_ARCHITECTURE": "AMD64", "PROCESSOR_ARCHITEW6432": "ARM64"},
}


@pytest.mark.parametrize("variables", WINDOWS_ON_ARM.values(), ids=WINDOWS_ON_ARM.keys())
@pytest.mark.parametrize("arch", ["", "amd64"], ids=["arch from the host", "arch amd64 asked"])
def test_windows_on_arm_is_refused(host, variables: dict[str, str], arch: str) -> None:
    seen = host({"arch": arch} if arch else None, **windows(variables))
    assert seen["error"].startswith("cks-lab: Windows on Arm is not supported"), seen


MACS = {
    "Apple Silicon, Vagrant under Rosetta": ("x86_64", "1", "arm64"),
    "Apple Silicon, native Vagrant": ("arm64", "1", "arm64"),
    "Intel (sysctl knows no hw.optional.arm64)": ("x86_64", "", "amd64"),
    "Intel (hw.optional.arm64 is 0)": ("x86_64", "0", "amd64"),
}


@pytest.mark.parametrize(("ruby_cpu", "arm64_flag", "arch"), MACS.values(), ids=MACS.keys())
def test_macs_are_told_apart_by_sysctl(host, ruby_cpu: str, arm64_flag: str, arch: str) -> None:
    outputs = {"sysctl -n hw.optional.arm64": arm64_flag, "sysctl -n hw.memsize": str(16 * GIB)}
    seen = host(
        {"provider": "vmware_desktop"}, os="macos", ruby_cpu=ruby_cpu, cpus=8, vagrant_version="2.4.3", outputs=outputs
    )
    assert (seen["arch"], seen["memory_mib"]) == (arch, 16384), seen


def test_mac_memory_is_checked(host) -> None:
    outputs = {"sysctl -n hw.optional.arm64": "1", "sysctl -n hw.memsize": str(6 * GIB)}
    seen = host(os="macos", ruby_cpu="arm64", cpus=8, vagrant_version="2.4.3", outputs=outputs)
    assert seen["error"].startswith("cks-lab: the VMs need 5120 MiB of memory and this host has 6144 MiB")


@pytest.mark.parametrize("ruby_cpu", ["aarch64", "arm64"])
def test_linux_arm64_hosts_get_arm64_boxes(host, ruby_cpu: str) -> None:
    seen = host({"provider": "libvirt"}, **linux(ruby_cpu, vagrant_version="2.4.3"))
    assert seen["arch"] == "arm64", seen


def executable(directory: Path, name: str) -> Path:
    directory.mkdir(exist_ok=True)
    path = directory / name
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


def test_ansible_provisioner_is_accepted_with_ansible_playbook_on_path(host, tmp_path: Path) -> None:
    executable(tmp_path / "bin", "ansible-playbook")
    seen = host({"provisioner": "ansible"}, **linux(env={"PATH": f"/nonexistent{os.pathsep}{tmp_path / 'bin'}"}))
    assert seen["ansible_playbook"] is True
    assert "error" not in seen, seen["error"]


def test_ansible_provisioner_is_refused_without_ansible_playbook(host, tmp_path: Path) -> None:
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "ansible-playbook").write_text("not executable")
    (tmp_path / "bin" / "ansible-playbook.d").mkdir()
    seen = host({"provisioner": "ansible"}, **linux(env={"PATH": str(tmp_path / "bin")}))
    assert seen["ansible_playbook"] is False
    assert seen["error"].startswith("cks-lab: provisioner 'ansible' runs the host's ansible-playbook, which is not on")


def test_windows_finds_ansible_playbook_through_pathext(host, tmp_path: Path) -> None:
    executable(tmp_path / "bin", "ansible-playbook.BAT")
    facts = windows({"PROCESSOR_ARCHITECTURE": "AMD64", "PATH": str(tmp_path / "bin"), "PATHEXT": ".COM;.EXE;.BAT"})
    seen = host({"provisioner": "ansible"}, **facts)
    assert seen["ansible_playbook"] is True
    assert "error" not in seen, seen["error"]


def test_ansible_local_needs_no_ansible_on_the_host(host) -> None:
    seen = host(**linux(env={"PATH": ""}))
    assert seen["ansible_playbook"] is False
    assert seen["arch"] == "amd64" and "error" not in seen


def test_the_hosts_proxy_reaches_every_playbook_run(host) -> None:
    """HTTP(S)_PROXY and NO_PROXY of the host, either spelling, become the extra vars playbooks/group_vars/all.yml
    names (http_proxy, https_proxy, no_proxy); an empty one is no proxy."""
    proxy = {
        "HTTPS_PROXY": "http://10.0.2.2:3128",
        "http_proxy": "http://10.0.2.2:3128",
        "NO_PROXY": ".corp",
        "no_proxy": "",
    }
    seen = host(vagrant_env=proxy, **linux())
    assert seen["extra_vars"] == {
        "http_proxy": "http://10.0.2.2:3128",
        "https_proxy": "http://10.0.2.2:3128",
        "no_proxy": ".corp",
    }, seen


def test_without_a_proxy_playbooks_get_no_proxy_variables(host) -> None:
    assert host(**linux())["extra_vars"] == {}


# --- what Vagrant configures per provider: the provider blocks' overrides, read through Vagrant's own API ----------

MACHINE_CONFIG = REPO / "tests" / "vagrant_machine_config.rb"
SETTINGS_FILE = yaml.safe_load((REPO / "vagrant" / "settings.yml").read_text())
HOST_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64"}[platform.machine()]


@pytest.fixture
def machine_config(tmp_path: Path):
    """Vagrant's configuration of every machine for a provider Vagrant chose (see tests/vagrant_machine_config.rb)."""
    ruby = required_program("ruby")
    base_env = vagrant_environment(tmp_path / "dot-vagrant")
    # the ansible provisioner wants ansible-playbook on the PATH: this virtualenv's
    base_env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{base_env.get('PATH', '')}"

    def configure(chosen_provider: str, **settings: str) -> dict:
        env = base_env | {"PROBE_PROVIDER": chosen_provider} | {f"CKS_LAB_{k.upper()}": v for k, v in settings.items()}
        result = subprocess.run(
            [ruby, MACHINE_CONFIG], cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False
        )
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    return configure


@pytest.mark.parametrize("provider", ["virtualbox", "libvirt", "vmware_desktop", "parallels"])
def test_each_provider_gets_its_box_at_the_pinned_build(machine_config, provider: str) -> None:
    controlplane = machine_config(provider)["machines"]["controlplane"]
    assert controlplane["box"] == SETTINGS_FILE["boxes"][provider]
    assert controlplane["box_version"] == SETTINGS_FILE["box_versions"][provider][HOST_ARCH]


def test_a_box_named_in_the_settings_gets_any_build_unless_one_is_named(machine_config) -> None:
    assert machine_config("virtualbox", box="example/noble")["machines"]["controlplane"]["box_version"] is None
    named = machine_config("virtualbox", box="example/noble", box_version=">= 0")["machines"]["controlplane"]
    assert (named["box"], named["box_version"]) == ("example/noble", ">= 0")


def test_no_provider_named_leaves_the_choice_to_vagrant(machine_config) -> None:
    assert machine_config("virtualbox")["default_provider"] is None
    assert machine_config("virtualbox", provider="libvirt")["default_provider"] == "libvirt"


def test_static_addresses_give_a_private_network_and_node_ip(machine_config) -> None:
    machines = machine_config("virtualbox")["machines"]
    assert [m["private_networks"] for m in machines.values()] == [["192.168.56.10"], ["192.168.56.11"]]
    cluster = next(p for p in machines["node01"]["provisioners"] if p["name"] == "cluster")
    assert cluster["config"]["host_vars"]["controlplane"] == {"node_name": "controlplane", "node_ip": "192.168.56.10"}


@pytest.mark.parametrize("provider", ["vmware_desktop", "parallels"])
def test_dhcp_addresses_leave_node_ip_to_the_vm(machine_config, provider: str) -> None:
    machines = machine_config(provider, node_addresses="dhcp")["machines"]
    assert all(m["private_networks"] == [] for m in machines.values())
    cluster = next(p for p in machines["controlplane"]["provisioners"] if p["name"] == "cluster")
    assert cluster["config"]["host_vars"] == {
        "controlplane": {"node_name": "controlplane"},
        "node01": {"node_name": "node01"},
    }


def test_apt_is_quiet_before_the_cluster_playbook_and_peers_run_on_demand(machine_config) -> None:
    provisioners = machine_config("libvirt")["machines"]["node01"]["provisioners"]
    summary = [(p["name"], p["type"], p["run"], p["config"].get("playbook")) for p in provisioners]
    assert summary == [
        ("quiet-apt", "shell", "", None),
        ("ansible-virtualenv", "shell", "", None),
        ("cluster", "ansible_local", "once", "playbooks/site.yml"),
        ("peers", "ansible_local", "never", "playbooks/peers.yml"),
    ]


def test_vm_names_carry_this_checkouts_hash(machine_config) -> None:
    suffix = hashlib.sha256(str(REPO).encode()).hexdigest()[:8]
    assert machine_config("virtualbox")["machines"]["node01"]["provider"]["name"] == f"cks-lab-node01-{suffix}"


def test_libvirt_virtiofs_backs_memory_with_shared_memfd(machine_config) -> None:
    controlplane = machine_config("libvirt", synced_folder_type="virtiofs")["machines"]["controlplane"]
    assert controlplane["synced_folders"]["/vagrant"]["type"] == "virtiofs"
    backing = {b["name"]: b["config"] for b in controlplane["provider"]["memory_backing"]}
    assert backing == {"source": {"type": "memfd"}, "access": {"mode": "shared"}}


def test_libvirt_shares_over_nfs_by_default_without_memory_backing(machine_config) -> None:
    controlplane = machine_config("libvirt")["machines"]["controlplane"]
    assert controlplane["synced_folders"]["/vagrant"]["type"] == "nfs"
    assert controlplane["provider"]["memory_backing"] == []


# --- provider decisions on hosts this machine is not ----------------------------------------------------------------


def test_no_provider_named_is_left_to_vagrant_whatever_the_host_has(host, tmp_path: Path) -> None:
    """Neither hypervisor programs on the PATH nor machines already created pick the provider: Vagrant does."""
    for program in ("VBoxManage", "virsh", "vmrun", "prlctl"):
        executable(tmp_path / "bin", program)
    (tmp_path / "dot-vagrant" / "machines" / "controlplane" / "libvirt").mkdir(parents=True)
    (tmp_path / "dot-vagrant" / "machines" / "controlplane" / "libvirt" / "id").write_text("x")
    seen = host({"provider": ""}, **linux(env={"PATH": str(tmp_path / "bin")}))
    assert seen["provider"] is None and "error" not in seen, seen


def test_vagrant_default_provider_counts_as_named(host) -> None:
    seen = host({"provider": ""}, {"VAGRANT_DEFAULT_PROVIDER": "parallels"}, **linux())
    assert seen["provider"] == "parallels", seen


MAC = {
    "os": "macos",
    "ruby_cpu": "arm64",
    "cpus": 8,
    "memory_mib": 16384,
    "vagrant_version": "2.4.9",
    "outputs": {"sysctl -n hw.optional.arm64": "1"},
}
ADDRESSES = {
    "VMware Fusion on a Mac: DHCP": (MAC, "vmware_desktop", "", False),
    "Parallels on a Mac: static": (MAC, "parallels", "", True),
    "Parallels on a Mac, dhcp asked": (MAC, "parallels", "dhcp", False),
    "VMware Workstation on Linux: static": (linux(), "vmware_desktop", "", True),
    "VMware Workstation on Linux, dhcp asked": (linux(), "vmware_desktop", "dhcp", False),
    "VirtualBox on Linux: static": (linux(), "virtualbox", "", True),
    "libvirt, static asked": (linux(), "libvirt", "static", True),
}


@pytest.mark.parametrize(("facts", "provider", "asked", "static"), ADDRESSES.values(), ids=ADDRESSES.keys())
def test_node_addresses_follow_what_the_provider_can_do(host, facts, provider: str, asked: str, static: bool) -> None:
    seen = host({"provider": "", "node_addresses": asked}, chosen_provider=provider, **facts)
    assert seen["static_addresses"] is static, seen
    assert ("node_ip" in seen["host_vars"]) is static


REFUSED_ADDRESSES = {
    "static addresses on VMware Fusion": (MAC, "vmware_desktop", "static", "VMware Fusion on macOS cannot create"),
    "dhcp on VirtualBox": (linux(), "virtualbox", "dhcp", "node_addresses 'dhcp' needs a provider whose network"),
    "dhcp on libvirt": (linux(), "libvirt", "dhcp", "node_addresses 'dhcp' needs a provider whose network"),
    "an unknown mode": (linux(), "virtualbox", "bridged", "node_addresses 'bridged' is not supported"),
}


@pytest.mark.parametrize(
    ("facts", "provider", "asked", "message"), REFUSED_ADDRESSES.values(), ids=REFUSED_ADDRESSES.keys()
)
def test_node_addresses_a_provider_cannot_give_are_refused(
    host, facts, provider: str, asked: str, message: str
) -> None:
    seen = host({"provider": "", "node_addresses": asked}, chosen_provider=provider, **facts)
    assert seen["error"].startswith(f"cks-lab: {message}"), seen


def test_a_named_provider_is_checked_before_vagrant_starts(host) -> None:
    seen = host({"provider": "vmware_desktop", "node_addresses": "static"}, **MAC)
    assert seen["error"].startswith("cks-lab: VMware Fusion on macOS cannot create private networks"), seen


VIRTUALBOX_VAGRANT = {
    "7.0 with 2.3.1": ("7.0.20r163906", "2.3.1", "cks-lab: VirtualBox 7.0.20 needs Vagrant 2.3.2 or newer"),
    "7.0 with 2.3.4": ("7.0.20r163906", "2.3.4", None),
    "7.1 with 2.4.1": ("7.1.4r165100", "2.4.1", "cks-lab: VirtualBox 7.1.4 needs Vagrant 2.4.2 or newer"),
    "7.1 with 2.4.2": ("7.1.4r165100", "2.4.2", None),
    "7.2 with 2.4.8": ("7.2.0r170228", "2.4.8", "cks-lab: VirtualBox 7.2.0 needs Vagrant 2.4.9 or newer"),
    "7.2 with 2.4.9": ("7.2.0r170228", "2.4.9", None),
    "VirtualBox missing": ("", "2.3.4", None),
    "after VBoxManage's warnings": (
        "WARNING: The vboxdrv kernel module is not loaded.\n7.2.4r170995",
        "2.4.8",
        "cks-lab: VirtualBox 7.2.4 needs Vagrant 2.4.9 or newer",
    ),
}


@pytest.mark.parametrize(("virtualbox", "vagrant", "error"), VIRTUALBOX_VAGRANT.values(), ids=VIRTUALBOX_VAGRANT.keys())
def test_virtualbox_needs_the_vagrant_that_supports_it(host, virtualbox: str, vagrant: str, error: str | None) -> None:
    facts = linux(vagrant_version=vagrant, outputs={"VBoxManage --version": virtualbox})
    seen = host({"provider": ""}, chosen_provider="virtualbox", **facts)
    assert seen.get("error", "").startswith(error) if error else "error" not in seen, seen


def test_windows_finds_vboxmanage_where_its_installer_says(host) -> None:
    """The installer's directory ends in a backslash (C:\\Program Files\\Oracle\\VirtualBox\\)."""
    install_dir = "C:\\Program Files\\Oracle\\VirtualBox"
    facts = windows({"PROCESSOR_ARCHITECTURE": "AMD64", "VBOX_MSI_INSTALL_PATH": install_dir + "\\"})
    facts["outputs"] |= {f"{install_dir}/VBoxManage.exe --version": "7.2.2r170484"}
    facts["vagrant_version"] = "2.4.3"
    seen = host(chosen_provider="virtualbox", **facts)
    assert seen["error"].startswith("cks-lab: VirtualBox 7.2.2 needs Vagrant 2.4.9 or newer"), seen


@pytest.mark.parametrize("provider", ["virtualbox", "libvirt", "vmware_desktop", "parallels"])
def test_arm64_hosts_get_the_arm64_build(host, provider: str) -> None:
    seen = host({"provider": ""}, chosen_provider=provider, **MAC)
    assert seen["box_version"] == SETTINGS_FILE["box_versions"][provider]["arm64"], seen


# --- the Ansible a VM provisions with: the Vagrantfile as Vagrant loads it, its virtualenv built here -------------


def controlplane_vm(machine_config, **settings: str) -> dict:
    """controlplane as Vagrant configures it on VirtualBox (the other settings the defaults unless told)."""
    return machine_config("virtualbox", **({"provider": "virtualbox"} | settings))["machines"]["controlplane"]


def provisioners(vm: dict) -> dict[str, dict]:
    return {p["name"]: p for p in vm["provisioners"]}


def checkout_path(vm: dict, guest_path: str) -> Path:
    """Where a file the VM sees through a synced folder lies in this checkout."""
    for guest, folder in vm["synced_folders"].items():
        if guest_path.startswith(f"{guest}/"):
            return (REPO / folder["hostpath"] / guest_path.removeprefix(f"{guest}/")).resolve()
    pytest.fail(f"{guest_path} lies in no synced folder of {vm['synced_folders']}")


def test_ansible_local_runs_the_pinned_ansible_the_provisioner_before_it_installs(machine_config) -> None:
    """Not Ubuntu's PPA's newest Ansible: the playbook command lies in the virtualenv built from constraints.txt."""
    vm = controlplane_vm(machine_config)
    names = [p["name"] for p in vm["provisioners"]]
    assert names.index("ansible-virtualenv") < names.index("cluster") < names.index("peers"), names
    virtualenv, cluster = provisioners(vm)["ansible-virtualenv"], provisioners(vm)["cluster"]
    venv, constraints = virtualenv["config"]["args"]
    assert (virtualenv["type"], cluster["type"]) == ("shell", "ansible_local")
    for playbook in (cluster, provisioners(vm)["peers"]):
        assert playbook["config"]["install"] is False
        assert playbook["config"]["playbook_command"] == f"{venv}/bin/ansible-playbook"
    assert checkout_path(vm, constraints) == CONSTRAINTS


def test_the_ansible_provisioner_runs_the_hosts_ansible(machine_config) -> None:
    """The host's ansible-playbook provisions (pinned when it is make install's); no virtualenv is built in the VM."""
    vm = controlplane_vm(machine_config, provisioner="ansible")
    assert [(p["name"], p["type"]) for p in vm["provisioners"]] == [
        ("quiet-apt", "shell"),
        ("cluster", "ansible"),
        ("peers", "ansible"),
    ]
    assert provisioners(vm)["cluster"]["config"]["playbook_command"] == "ansible-playbook"


@pytest.mark.slow
def test_the_vms_ansible_virtualenv_holds_the_pinned_versions(machine_config, tmp_path: Path) -> None:
    """The provisioner's script, run here as the VM runs it (twice, as `vagrant provision` does again), its virtualenv
    in a temporary place, from the pinned wheels without the index."""
    vm = controlplane_vm(machine_config)
    virtualenv, cluster = provisioners(vm)["ansible-virtualenv"], provisioners(vm)["cluster"]
    guest_venv, constraints = virtualenv["config"]["args"]
    venv = tmp_path / "ansible"
    offline = {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(wheelhouse(["ansible"]))}
    script = [REPO / virtualenv["config"]["path"], venv, checkout_path(vm, constraints)]
    for _ in range(2):
        result = subprocess.run(["sh", *script], env=os.environ | offline, capture_output=True, text=True, timeout=900)
        assert result.returncode == 0, result.stdout + result.stderr

    pins = pinned_packages()
    playbook_command = cluster["config"]["playbook_command"].replace(guest_venv, str(venv), 1)
    version = subprocess.run([playbook_command, "--version"], capture_output=True, text=True, timeout=120)
    assert version.stdout.startswith(f"ansible-playbook [core {pins['ansible-core']}]"), version.stdout
    listed = subprocess.run(
        [venv / "bin" / "pip", "list", "--format=json"], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    installed = {canonicalize_name(p["name"]): p["version"] for p in json.loads(listed)}
    assert {"ansible", "ansible-core", "jinja2"} <= installed.keys()
    shared = pins.keys() & installed.keys()
    assert {name: installed[name] for name in shared} == {name: pins[name] for name in shared}


LAB_ROLE = REPO / "playbooks" / "roles" / "lab"


def lab_role_variable(name: str) -> object:
    """A variable of the lab role as Ansible renders it from the role's defaults, as on a Vagrant control plane."""
    files = [arg for part in ("defaults", "vars") for arg in ("-e", f"@{LAB_ROLE / part / 'main.yml'}")]
    argv = [Path(sys.executable).parent / "ansible", "localhost", "-m", "ansible.builtin.debug", "-a", f"var={name}"]
    result = subprocess.run([*argv, *files], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout.split("=>", 1)[1])[name]


def test_the_lab_role_installs_lab_with_the_pins_the_vms_ansible_is_built_from(machine_config) -> None:
    """lab runs the scenario playbooks with the Ansible of its own virtualenv: the same pins as the provisioning."""
    vm = controlplane_vm(machine_config)
    _, constraints = provisioners(vm)["ansible-virtualenv"]["config"]["args"]
    source = lab_role_variable("lab_source_dir")
    assert lab_role_variable("lab_constraints_file") == f"{source}/constraints.txt"
    # the source the role copies there is the checkout the VM's constraints.txt lies in
    assert checkout_path(vm, constraints) == CONSTRAINTS
    assert lab_role_variable("lab_copy_source") is True
    tasks = yaml.safe_load((LAB_ROLE / "tasks" / "main.yml").read_text())
    (install,) = [task for task in tasks if "ansible.builtin.pip" in task]
    assert install["ansible.builtin.pip"]["extra_args"] == "--constraint {{ lab_constraints_file }}"
