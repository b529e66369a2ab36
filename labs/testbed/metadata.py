"""A node metadata endpoint for the testbed, as clouds give their nodes: 169.254.169.254 answers HTTP with what a
pod should not read (CKS: "restrict access to the node metadata endpoint" with an egress NetworkPolicy).

It lives in a network namespace of its own, reached from the host through a veth pair, so pods reach it the way
they reach a cloud's endpoint: through the node. A second address in the same namespace (OTHER_ADDRESS) answers too,
so a test can tell a policy that blocks the endpoint from one that blocks everything. The server is Python's
http.server under the testbed's supervisor, serving a small tree of files.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from labs.testbed import supervisor

NETNS = "cks-lab-metadata"
HOST_LINK, NETNS_LINK = "cksmd0", "cksmd1"
ENDPOINT = "169.254.169.254"
OTHER_ADDRESS = "169.254.169.250"
HOST_ADDRESS = "169.254.169.253"
SERVER = "metadata-server"
FILES = {
    "latest/meta-data/instance-id": "i-0cks0lab0testbed\n",
    "latest/meta-data/local-ipv4": "10.255.0.1\n",
    "latest/meta-data/iam/security-credentials/cks-lab-node": (
        '{"Code": "Success", "AccessKeyId": "CKSLABEXAMPLEKEYID", "SecretAccessKey": "not-a-real-secret-cks-lab",'
        ' "Note": "what a pod must not be able to read"}\n'
    ),
    "index.html": "cks-lab node metadata endpoint\n",
}


def _ip(*args: str, netns: bool = False, check: bool = True) -> subprocess.CompletedProcess[str]:
    argv = ["ip", *(("netns", "exec", NETNS, "ip") if netns else ()), *args]
    return subprocess.run(argv, capture_output=True, text=True, check=check)


def exists() -> bool:
    return NETNS in _ip("netns", "list").stdout.split()


def start(run_dir: Path, log_dir: Path, root: Path, env: dict[str, str]) -> None:
    """The namespace, its links, addresses and routes, and the server (each step only when missing)."""
    if not exists():
        _ip("netns", "add", NETNS)
        _ip("link", "add", HOST_LINK, "type", "veth", "peer", "name", NETNS_LINK, "netns", NETNS)
        _ip("addr", "add", f"{HOST_ADDRESS}/32", "dev", HOST_LINK)
        _ip("link", "set", HOST_LINK, "up")
        for address in (ENDPOINT, OTHER_ADDRESS):
            _ip("addr", "add", f"{address}/32", "dev", NETNS_LINK, netns=True)
            _ip("route", "add", f"{address}/32", "dev", HOST_LINK)
        _ip("link", "set", "lo", "up", netns=True)
        _ip("link", "set", NETNS_LINK, "up", netns=True)
        _ip("route", "add", f"{HOST_ADDRESS}/32", "dev", NETNS_LINK, netns=True)
        _ip("route", "add", "default", "via", HOST_ADDRESS, "dev", NETNS_LINK, netns=True)
    for name, text in FILES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    if supervisor.pid_of(SERVER, run_dir) is None:
        server = [sys.executable, "-m", "http.server", "80", "--bind", "0.0.0.0", "--directory", str(root)]
        supervisor.start(SERVER, ["ip", "netns", "exec", NETNS, *server], run_dir, log_dir, env)


def stop(run_dir: Path, log: Callable[[str], None]) -> None:
    """The server stopped and the namespace gone (with it the veth pair, its addresses and the host's routes)."""
    if supervisor.stop(SERVER, run_dir):
        log("stopped the metadata endpoint's server")
    if exists():
        _ip("netns", "delete", NETNS)
        log(f"removed network namespace {NETNS} ({ENDPOINT})")
