"""Targets: where a lab runs. Each gives a kubeconfig (for the API clients) and an Ansible inventory (for the
playbooks and the graders' node access).

- `local`: this machine is the lab's controlplane VM (lab installed there by the Vagrant provisioning).
- `testbed`: the single-node test cluster of labs/testbed on this machine.
- `vagrant`: the Vagrant cluster of this checkout, found through `vagrant ssh-config`.
- `explicit`: --kubeconfig and --inventory given on the command line (any cluster, e.g. a class of cloud VMs).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labs import capabilities
from labs.catalog import REPO_ROOT, Scenario
from labs.errors import TargetError
from labs.paths import cache_dir, state_dir
from labs.state import TargetRef

if TYPE_CHECKING:
    from labs.k8s import Kube

KINDS = ("auto", "local", "testbed", "vagrant")
CONTROLPLANE = "controlplane"
ADMIN_CONF = Path("/etc/kubernetes/admin.conf")
TESTBED_MARKER = Path("/etc/cks-lab-testbed")
VM_LAB_PYTHON = "/opt/cks-lab/venv/bin/python"  # where playbooks/roles/lab installs lab (controlplane only)
VM_SYSTEM_PYTHON = "/usr/bin/python3"  # Ubuntu's, on every VM


@dataclass
class Target:
    """One cluster: API access, node access through the inventory, and image substitutions for the scenarios."""

    ref: TargetRef
    kubeconfig: Path
    inventory: dict | Path
    images: dict[str, str] = field(default_factory=dict)
    capabilities: frozenset[str] = capabilities.EVERYTHING  # what it offers scenarios (labs/capabilities.py)

    @property
    def name(self) -> str:
        return self.ref.kind

    def lacks(self, scenario: Scenario) -> list[str]:
        """What the scenario's setup needs that this target does not have."""
        return capabilities.lacking(scenario.spec.needs, self.capabilities)

    def describe(self) -> str:
        """`testbed (kubeconfig /etc/kubernetes/admin.conf)`."""
        return f"{self.name} (kubeconfig {self.kubeconfig})"

    @cached_property
    def kube(self) -> Kube:
        """Typed API clients for this cluster."""
        from labs.k8s import kube_for

        return kube_for(self.kubeconfig)

    def inventory_file(self) -> Path:
        """The inventory as a file (testinfra and ansible-playbook --syntax-check want a path)."""
        if isinstance(self.inventory, Path):
            return self.inventory
        path = state_dir() / "inventories" / f"{self.name}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.inventory, indent=2))
        return path

    def is_local(self, name: str) -> bool:
        """Whether node `name` is this machine (an inventory host with a local connection)."""
        if not isinstance(self.inventory, dict):
            return False
        host = self.inventory.get("all", {}).get("hosts", {}).get(name) or {}
        return host.get("ansible_connection") == "local"

    def host(self, name: str) -> Any:
        """A pytest-testinfra host for node `name` of the inventory (controlplane, node01, ...); TargetError when
        it cannot be reached."""
        import testinfra

        from labs.ansible import path_with_ansible

        os.environ["PATH"] = path_with_ansible()  # testinfra runs ansible-inventory and ansible from PATH
        host = testinfra.get_host(f"ansible://{name}", ansible_inventory=str(self.inventory_file()))
        try:
            result = host.run("true")
        except Exception as error:  # testinfra reports a broken inventory or connection in many ways
            raise TargetError(f"node {name} of target {self.name}: {str(error).strip()[:300]}") from None
        if result.rc != 0:
            raise TargetError(f"node {name} of target {self.name} is unreachable: {result.stderr.strip()[:300]}")
        return host


def _local_inventory(kubeconfig: Path) -> dict:
    host = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    return {"all": {"hosts": {CONTROLPLANE: host}, "vars": {"kubeconfig": str(kubeconfig)}}}


def _local() -> Target:
    kubeconfig = ADMIN_CONF if os.access(ADMIN_CONF, os.R_OK) else Path.home() / ".kube" / "config"
    if not kubeconfig.exists():
        raise TargetError(f"local: no readable kubeconfig ({ADMIN_CONF} or {kubeconfig})")
    return Target(TargetRef(kind="local"), kubeconfig, _local_inventory(kubeconfig))


def _testbed() -> Target:
    try:
        from labs.testbed import cluster, images
    except ImportError as error:
        raise TargetError(f"testbed: not available in this installation ({error})") from None
    if not cluster.KUBECONFIG.exists():
        raise TargetError(f"testbed: {cluster.KUBECONFIG} does not exist (start it with `lab testbed up`)")
    substitutes = {"nginx:1.27": images.NGINX_IMAGE, "busybox:1.36": images.BUSYBOX_IMAGE}
    return Target(TargetRef(kind="testbed"), cluster.KUBECONFIG, cluster.inventory(), substitutes, capabilities.TESTBED)


def parse_ssh_config(text: str) -> dict[str, dict[str, str]]:
    """`vagrant ssh-config` output -> {host: {hostname, user, port, identityfile}}."""
    hosts: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for line in text.splitlines():
        key, _, value = line.strip().partition(" ")
        if key == "Host":
            current = hosts.setdefault(value.strip(), {})
        elif current is not None and key:
            current.setdefault(key.lower(), value.strip().strip('"'))
    return hosts


def vagrant_inventory(ssh_config: dict[str, dict[str, str]], kubeconfig_on_node: str = str(ADMIN_CONF)) -> dict:
    """An inventory reaching the VMs over the SSH settings Vagrant reports; playbooks run as root, with lab's Python
    (it has the kubernetes library) on the control plane and Ubuntu's python3 on the workers, where lab is not
    installed."""
    hosts = {
        name: {
            "ansible_host": options.get("hostname", "127.0.0.1"),
            "ansible_port": int(options.get("port", "22")),
            "ansible_user": options.get("user", "vagrant"),
            "ansible_ssh_private_key_file": options.get("identityfile", ""),
            "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null",
            "ansible_become": True,
            "ansible_python_interpreter": VM_LAB_PYTHON if name == CONTROLPLANE else VM_SYSTEM_PYTHON,
        }
        for name, options in ssh_config.items()
    }
    return {"all": {"hosts": hosts, "vars": {"kubeconfig": kubeconfig_on_node}}}


def _vagrant() -> Target:
    if not shutil.which("vagrant"):
        raise TargetError("vagrant: the vagrant command is not installed")
    if not (REPO_ROOT / ".vagrant").is_dir():
        raise TargetError(f"vagrant: no VMs created from {REPO_ROOT} (run `vagrant up` there)")
    try:
        result = subprocess.run(
            ["vagrant", "ssh-config"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=False
        )
    except subprocess.TimeoutExpired:
        raise TargetError("vagrant: `vagrant ssh-config` did not answer within 60 s") from None
    hosts = parse_ssh_config(result.stdout)
    if CONTROLPLANE not in hosts:
        raise TargetError(f"vagrant: `vagrant ssh-config` reports no running controlplane ({result.stderr.strip()})")
    return Target(TargetRef(kind="vagrant"), _vagrant_kubeconfig(), vagrant_inventory(hosts))


def _vagrant_kubeconfig() -> Path:
    exported = REPO_ROOT / "configs" / "admin.conf"  # written by the provisioning (lab_export_kubeconfig)
    if exported.exists():
        return exported
    fetched = cache_dir() / "vagrant-admin.conf"
    result = subprocess.run(
        ["vagrant", "ssh", CONTROLPLANE, "-c", f"sudo cat {ADMIN_CONF}"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode or "apiVersion" not in result.stdout:
        raise TargetError(f"vagrant: could not fetch {ADMIN_CONF} from controlplane: {result.stderr.strip()[:200]}")
    fetched.parent.mkdir(parents=True, exist_ok=True)
    fetched.write_text(result.stdout)
    fetched.chmod(0o600)
    return fetched


def _explicit(kubeconfig: str | None, inventory: str | None) -> Target:
    if not kubeconfig:
        raise TargetError("--inventory needs --kubeconfig too")
    path = Path(kubeconfig).expanduser().resolve()
    if not path.exists():
        raise TargetError(f"--kubeconfig {path} does not exist")
    if inventory:
        inventory_path = Path(inventory).expanduser().resolve()
        if not inventory_path.exists():
            raise TargetError(f"--inventory {inventory_path} does not exist")
        ref = TargetRef(kind="explicit", kubeconfig=str(path), inventory=str(inventory_path))
        return Target(ref, path, inventory_path)
    ref = TargetRef(kind="explicit", kubeconfig=str(path))
    return Target(ref, path, _local_inventory(path))


def on_controlplane_vm() -> bool:
    """lab runs on the lab cluster's controlplane VM itself."""
    return socket.gethostname() == CONTROLPLANE and ADMIN_CONF.parent.is_dir()


def resolve(kind: str | None = None, kubeconfig: str | None = None, inventory: str | None = None) -> Target:
    """The target to use; `auto` tries local (on the controlplane VM), the testbed, then Vagrant."""
    if kubeconfig or inventory:
        return _explicit(kubeconfig, inventory)
    builders = {"local": _local, "testbed": _testbed, "vagrant": _vagrant}
    if kind and kind != "auto":
        if kind not in builders:
            raise TargetError(f"unknown target {kind!r}; use one of: {', '.join(KINDS)}")
        return builders[kind]()
    order = ["local"] if on_controlplane_vm() else []
    order += ["testbed"] if TESTBED_MARKER.exists() else []
    order += ["vagrant"]
    tried = []
    for name in order:
        try:
            return builders[name]()
        except TargetError as error:
            tried.append(str(error))
    raise TargetError("no cluster found; tried:\n  " + "\n  ".join(tried))


def from_ref(ref: TargetRef) -> Target:
    """The target an attempt was started on."""
    if ref.kind == "explicit":
        return _explicit(ref.kubeconfig, ref.inventory)
    return resolve(ref.kind)
