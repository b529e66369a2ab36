"""Targets without a cluster: Vagrant's ssh-config, explicit files, auto-detection errors."""

import pytest

from labs.errors import TargetError
from labs.targets import parse_ssh_config, resolve, vagrant_inventory

SSH_CONFIG = """\
Host controlplane
  HostName 127.0.0.1
  User vagrant
  Port 2222
  UserKnownHostsFile /dev/null
  StrictHostKeyChecking no
  IdentityFile "/home/me/cks/.vagrant/machines/controlplane/virtualbox/private_key"
  IdentitiesOnly yes

Host node01
  HostName 127.0.0.1
  User vagrant
  Port 2200
  IdentityFile /home/me/cks/.vagrant/machines/node01/virtualbox/private_key
"""


def test_vagrant_ssh_config_becomes_an_inventory_of_every_node():
    hosts = parse_ssh_config(SSH_CONFIG)
    assert hosts["controlplane"]["port"] == "2222"
    assert hosts["controlplane"]["identityfile"].endswith("controlplane/virtualbox/private_key")
    inventory = vagrant_inventory(hosts)
    controlplane = inventory["all"]["hosts"]["controlplane"]
    assert controlplane["ansible_port"] == 2222 and controlplane["ansible_become"] is True
    assert set(inventory["all"]["hosts"]) == {"controlplane", "node01"}
    assert inventory["all"]["vars"]["kubeconfig"] == "/etc/kubernetes/admin.conf"


def test_only_the_control_plane_runs_playbooks_with_labs_python():
    """playbooks/roles/lab installs the virtualenv on the control plane alone; workers have Ubuntu's python3."""
    hosts = vagrant_inventory(parse_ssh_config(SSH_CONFIG))["all"]["hosts"]
    assert hosts["controlplane"]["ansible_python_interpreter"] == "/opt/cks-lab/venv/bin/python"
    assert hosts["node01"]["ansible_python_interpreter"] == "/usr/bin/python3"


def test_explicit_files_must_exist(tmp_path):
    with pytest.raises(TargetError, match="does not exist"):
        resolve(kubeconfig=str(tmp_path / "missing"))
    with pytest.raises(TargetError, match="needs --kubeconfig"):
        resolve(inventory=str(tmp_path / "hosts.ini"))


def test_explicit_target_with_inventory(tmp_path):
    (tmp_path / "kubeconfig").write_text("apiVersion: v1\n")
    (tmp_path / "hosts.ini").write_text("controlplane ansible_connection=local\n")
    target = resolve(kubeconfig=str(tmp_path / "kubeconfig"), inventory=str(tmp_path / "hosts.ini"))
    assert target.name == "explicit" and target.inventory_file() == tmp_path / "hosts.ini"
    assert target.ref.kubeconfig == str(tmp_path / "kubeconfig")


def test_an_unknown_target_kind_is_refused():
    with pytest.raises(TargetError, match="unknown target"):
        resolve("cloud")


def test_auto_tries_the_controlplane_vm_then_the_testbed_then_vagrant_and_says_what_it_tried(monkeypatch, tmp_path):
    from labs import targets

    def refusing(name: str):
        def build():
            raise TargetError(f"{name}: not here")

        return build

    for name in ("local", "testbed", "vagrant"):
        monkeypatch.setattr(targets, f"_{name}", refusing(name))
    monkeypatch.setattr(targets, "on_controlplane_vm", lambda: True)
    monkeypatch.setattr(targets, "TESTBED_MARKER", tmp_path)
    with pytest.raises(TargetError) as raised:
        resolve()
    assert str(raised.value) == "no cluster found; tried:\n  local: not here\n  testbed: not here\n  vagrant: not here"
    monkeypatch.setattr(targets, "on_controlplane_vm", lambda: False)
    monkeypatch.setattr(targets, "TESTBED_MARKER", tmp_path / "absent")
    with pytest.raises(TargetError, match=r"tried:\n  vagrant: not here$"):
        resolve("auto")
