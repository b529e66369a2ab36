"""The testbed's OCI registry on the node: `crane registry serve` (github.com/google/go-containerregistry), holding
the lab's utility images, so that pods pull by tag and by digest, `imagePullPolicy: Always` (the AlwaysPullImages
admission plugin) works, and tasks can push to it. containerd reaches it over plain HTTP (its hosts.toml).

Its name, HOSTNAME:PORT, is the same on the testbed and on the Vagrant VMs (the registry role), so a task names the same
images on both: each node's /etc/hosts maps HOSTNAME to the node running the registry.

crane's registry keeps blobs on disk and manifests in memory: each time `up` starts it, the lab's images are pushed
again (their blobs are on disk already: a second), and what a student pushed is gone after the registry restarts.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterable
from pathlib import Path

from labs.testbed import supervisor

HOSTNAME = "registry.cks-lab.internal"  # also registry_hostname in playbooks/group_vars/all.yml
PORT = 5000
ADDRESS = f"{HOSTNAME}:{PORT}"
HOSTS_FILE = Path("/etc/hosts")
HOSTS_COMMENT = "# cks-lab testbed registry"
DATA = Path("/var/lib/cks-lab-registry")
CERTS_DIR = Path("/etc/containerd/certs.d")  # containerd's per-registry host configuration
NAME = "registry"


class RegistryError(RuntimeError):
    """The registry could not be given the lab's images; the message says which and why."""


def hosts_toml(address: str) -> str:
    """containerd's configuration for the registry at `address` (host:port): plain HTTP, pull, resolve and push."""
    return f'server = "http://{address}"\n\n[host."http://{address}"]\n  capabilities = ["pull", "resolve", "push"]\n'


def configure_containerd(address: str) -> None:
    host_dir = CERTS_DIR / address
    host_dir.mkdir(parents=True, exist_ok=True)
    (host_dir / "hosts.toml").write_text(hosts_toml(address))


def _without_our_line(text: str) -> str:
    return "".join(line for line in text.splitlines(keepends=True) if not line.endswith(HOSTS_COMMENT + "\n"))


def map_hostname(ip: str, hosts: Path = HOSTS_FILE) -> None:
    """/etc/hosts maps HOSTNAME to `ip` (one line of ours, rewritten in place: the file may be a bind mount)."""
    ours = f"{ip} {HOSTNAME} {HOSTS_COMMENT}\n"
    text = hosts.read_text()
    if ours in text:
        return
    kept = _without_our_line(text)
    hosts.write_text(kept + ("\n" if kept and not kept.endswith("\n") else "") + ours)


def unmap_hostname(hosts: Path = HOSTS_FILE) -> None:
    """Our line out of /etc/hosts again."""
    text = hosts.read_text()
    kept = _without_our_line(text)
    if kept != text:
        hosts.write_text(kept)


def start(crane: str, address: str, run_dir: Path, log_dir: Path, env: dict[str, str]) -> bool:
    """The registry under the supervisor, unless it runs already; whether it was started now."""
    if supervisor.pid_of(NAME, run_dir) is not None:
        return False
    DATA.mkdir(parents=True, exist_ok=True)
    argv = [crane, "registry", "serve", "--address", address, "--disk", str(DATA)]
    supervisor.start(NAME, argv, run_dir, log_dir, env)
    return True


def push(crane: str, address: str, layouts: Iterable[tuple[Path, str]], log: Callable[[str], None]) -> None:
    """Push each OCI image layout (a directory) to the registry under its repository:tag."""
    for layout, reference in layouts:
        target = f"{address}/{reference}"
        log(f"pushing {target}")
        done = subprocess.run([crane, "push", "--insecure", str(layout), target], capture_output=True, text=True)
        if done.returncode:
            raise RegistryError(f"`crane push {layout} {target}` failed: {done.stderr.strip()}")


def stop(run_dir: Path, log: Callable[[str], None]) -> None:
    if supervisor.stop(NAME, run_dir):
        log("stopped the registry")
