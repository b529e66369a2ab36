"""The student provisioning passes its static checks: yamllint, ansible-lint (production profile, offline),
ansible-playbook --syntax-check with both example inventories, and Ruby's syntax check of the Vagrantfile; these and
every other test run the Ansible pinned in constraints.txt, which the VMs run too."""

from __future__ import annotations

import importlib.metadata
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from python_pins import pinned_packages

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
PLAYBOOKS = REPO / "playbooks"
PROVISIONING_YAML = ["playbooks", "vagrant", ".yamllint", ".ansible-lint"]
EXAMPLE_INVENTORIES = sorted((PLAYBOOKS / "inventories" / "examples").glob("*.ini"))


def run(*argv: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in argv], cwd=REPO, capture_output=True, text=True, timeout=600)


def assert_clean(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"


def test_yamllint_finds_nothing() -> None:
    assert_clean(run(VENV_BIN / "yamllint", "--strict", *PROVISIONING_YAML))


@pytest.mark.slow
def test_ansible_lint_production_profile_passes_offline() -> None:
    result = run(VENV_BIN / "ansible-lint", "--offline", "--profile", "production", "playbooks/")
    assert_clean(result)
    assert "Profile 'production' was required, and it passed" in result.stdout + result.stderr


@pytest.mark.parametrize("playbook", ["site.yml", "peers.yml"])
@pytest.mark.parametrize("inventory", EXAMPLE_INVENTORIES, ids=lambda p: p.name)
def test_playbook_syntax_is_valid(inventory: Path, playbook: str) -> None:
    assert_clean(run(VENV_BIN / "ansible-playbook", "--syntax-check", "-i", inventory, PLAYBOOKS / playbook))


@pytest.mark.parametrize("inventory", EXAMPLE_INVENTORIES, ids=lambda p: p.name)
def test_example_inventory_has_the_groups_site_yml_targets(inventory: Path) -> None:
    result = run(VENV_BIN / "ansible-inventory", "-i", inventory, "--graph")
    assert_clean(result)
    assert "@control_plane:" in result.stdout
    assert "@workers:" in result.stdout


@pytest.mark.parametrize("package", pinned_packages())
def test_this_virtualenv_runs_the_pinned_version(package: str) -> None:
    """CI tests the Ansible the VMs run: `make install` applies constraints.txt, and a drift fails here."""
    assert importlib.metadata.version(package) == pinned_packages()[package]


def test_the_ansible_that_runs_the_playbooks_is_the_pinned_core() -> None:
    result = run(VENV_BIN / "ansible-playbook", "--version")
    assert_clean(result)
    assert result.stdout.startswith(f"ansible-playbook [core {pinned_packages()['ansible-core']}]"), result.stdout


@pytest.mark.parametrize(
    "ruby_file",
    ["Vagrantfile", "vagrant/lab_settings.rb", "tests/lab_settings_probe.rb", "tests/vagrant_machine_config.rb"],
)
def test_ruby_syntax_is_valid(ruby_file: str) -> None:
    ruby = shutil.which("ruby")
    if ruby is None:
        pytest.fail("ruby is missing: install the Debian package listed in .ci/debian-packages.txt")
    result = run(ruby, "-c", ruby_file)
    assert_clean(result)
    assert "Syntax OK" in result.stdout


def test_versions_are_pinned_only_in_versions_yml_and_constraints_txt() -> None:
    """No role, template or settings file spells out a pinned version: they all read versions.yml or, for Python
    packages, constraints.txt."""
    pinned = yaml.safe_load((REPO / "versions.yml").read_text()) | pinned_packages()
    provisioning_files = [REPO / "Vagrantfile", *(REPO / "vagrant").rglob("*"), *PLAYBOOKS.rglob("*")]
    for path in (p for p in provisioning_files if p.is_file()):
        text = path.read_text()
        for name, version in pinned.items():
            assert version not in text, f"{path.relative_to(REPO)} repeats {name} {version}; read it from versions.yml"


def test_lab_is_installed_from_a_copy_on_the_hosts_own_disk_by_default() -> None:
    """Vagrant passes nothing for the lab role: its defaults must keep `lab` off the /vagrant share, which NFS and
    virtiofs do not mount again after an in-guest reboot."""
    defaults = yaml.safe_load((PLAYBOOKS / "roles" / "lab" / "defaults" / "main.yml").read_text())
    assert defaults["lab_copy_source"] is True
    assert not defaults["lab_source_dir"].startswith("/vagrant")


def test_containerd_is_restarted_before_the_kubelet_and_falco_start() -> None:
    """The roles that notify `Restart containerd` flush it at their end, and run before those that use containerd
    (the handler cannot run here: it needs systemd)."""
    first_play = yaml.safe_load((PLAYBOOKS / "site.yml").read_text())[0]
    roles = [entry["role"] for entry in first_play["roles"]]
    for notifier in ("containerd", "gvisor"):
        tasks = yaml.safe_load((PLAYBOOKS / "roles" / notifier / "tasks" / "main.yml").read_text())
        assert tasks[-1].get("ansible.builtin.meta") == "flush_handlers", notifier
        assert roles.index(notifier) < roles.index("kubernetes") < roles.index("falco")


def test_first_boot_script_parses() -> None:
    """vagrant/quiet-apt.sh runs as root in every VM before Ansible; here only /bin/sh's syntax check (it stops and
    masks apt timers, which this machine must keep)."""
    assert_clean(run("sh", "-n", "vagrant/quiet-apt.sh"))


@pytest.mark.parametrize("path", ["vagrant/quiet-apt.sh", "Vagrantfile", "playbooks/files/falco-testbed/falco.yaml"])
def test_files_reach_windows_checkouts_with_lf_endings(path: str) -> None:
    result = run("git", "check-attr", "text", "eol", "--", path)
    assert_clean(result)
    assert result.stdout.splitlines() == [f"{path}: text: auto", f"{path}: eol: lf"]
