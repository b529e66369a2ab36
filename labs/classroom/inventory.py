"""A student's nodes out of the class's Ansible inventory: the hosts of their group, renamed to the lab's node names
(controlplane, node01, ...) that the graders ask for."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from labs.catalog import NODES
from labs.classroom.classfile import ClassFileError

NODE_NAME_VAR = "node_name"  # the host variable the provisioning inventory already sets (docs/provisioning.md)


def list_inventory(path: Path) -> dict:
    """`ansible-inventory --list` of an inventory file (any format Ansible reads), as a dict."""
    from labs.ansible import ANSIBLE_ENV, path_with_ansible

    strict = {"ANSIBLE_INVENTORY_UNPARSED_FAILED": "True", "ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED": "True"}
    environment = {**ANSIBLE_ENV, **strict, "PATH": path_with_ansible()}
    try:
        result = subprocess.run(
            ["ansible-inventory", "-i", str(path), "--list"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env=environment,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise ClassFileError(f"inventory {path}: ansible-inventory failed: {error}") from None
    if result.returncode != 0:
        raise ClassFileError(f"inventory {path}: {result.stderr.strip()[-500:]}")
    try:
        return json.loads(result.stdout)
    except ValueError:
        raise ClassFileError(f"inventory {path}: ansible-inventory printed no JSON") from None


def hosts_of(listing: dict, group: str) -> list[str]:
    """The hosts of a group (its child groups included), or [group] when it names a host."""
    hostvars = listing.get("_meta", {}).get("hostvars", {})
    if group not in listing:
        return [group] if group in hostvars else []
    hosts: list[str] = []
    pending, seen = [group], set()
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        entry = listing.get(name, {})
        hosts += [host for host in entry.get("hosts", []) if host not in hosts]
        pending += entry.get("children", [])
    return hosts


def node_name(host: str, variables: dict) -> str | None:
    """The lab node a host is: its `node_name` variable, else its own name when that is a node name."""
    name = variables.get(NODE_NAME_VAR, host)
    return name if isinstance(name, str) and re.match(NODES, name) else None


def student_inventory(listing: dict, group: str, where: str) -> dict:
    """An inventory with the group's hosts under their node names; ClassFileError when the group is unknown or a
    host has no node name."""
    hostvars = listing.get("_meta", {}).get("hostvars", {})
    hosts = hosts_of(listing, group)
    if not hosts:
        raise ClassFileError(f"{where}: the inventory has no group or host {group!r}")
    nodes: dict[str, dict] = {}
    for host in hosts:
        variables = dict(hostvars.get(host, {}))
        name = node_name(host, variables)
        if name is None:
            raise ClassFileError(f"{where}: host {host} has no {NODE_NAME_VAR} (e.g. {NODE_NAME_VAR}=controlplane)")
        if name in nodes:
            raise ClassFileError(f"{where}: two hosts of group {group!r} are node {name}")
        variables.setdefault("ansible_host", host)  # renamed to its node name, still reached at its address
        nodes[name] = variables
    return {"all": {"hosts": nodes}}
