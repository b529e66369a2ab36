"""Finding processes on a node the way a student does, from /proc: each process's PID, name (comm), binary
(/proc/<pid>/exe), arguments and cgroup (which names the container of a containerized process). The listing proves
it ran: it must contain the listing shell itself, else the node cannot be judged."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

from labs.errors import CannotGrade

FIELD = "\x1f"
# One line per process: pid, comm, exe, args, cgroup (the cgroup's lines joined by spaces).
LIST_PROCESSES = (
    "echo {marker} $$; for d in /proc/[0-9]*; do "
    'printf "%s\\037%s\\037%s\\037%s\\037%s\\n" "${{d#/proc/}}" "$(cat $d/comm 2>/dev/null)" '
    '"$(readlink $d/exe 2>/dev/null)" "$(tr "\\000\\n" "  " < $d/cmdline 2>/dev/null)" '
    '"$(tr "\\n" " " < $d/cgroup 2>/dev/null)"; done'
)


@dataclass(frozen=True)
class NodeProcess:
    """A process as /proc shows it. `exe` is empty for kernel threads and processes that are gone; a deleted binary
    reads `<path> (deleted)`."""

    pid: int
    comm: str
    exe: str
    args: str
    cgroup: str

    def in_container(self, container_id: str) -> bool:
        """Whether the process belongs to the container with this (containerd) id."""
        return bool(container_id) and container_id in self.cgroup

    def describe(self) -> str:
        """`pid 4242 (xmrig, /tmp/xmrig: sleep 100)`, for messages."""
        return f"pid {self.pid} ({self.comm}, {self.exe or 'no binary'}: {self.args.strip()[:80]})"


def node_processes(host: Any) -> list[NodeProcess]:
    """Every process of the node (testinfra host); CannotGrade when the listing did not run there."""
    marker = secrets.token_hex(8)
    result = host.run(LIST_PROCESSES.format(marker=marker))
    first, _, rest = result.stdout.partition("\n")
    parts = first.split()
    if result.rc != 0 or len(parts) != 2 or parts[0] != marker:
        raise CannotGrade(f"could not list the node's processes: {(result.stderr or result.stdout).strip()[:200]}")
    processes = []
    for line in rest.splitlines():
        fields = line.split(FIELD)
        if len(fields) == 5 and fields[0].isdigit():
            processes.append(NodeProcess(int(fields[0]), fields[1], fields[2], fields[3], fields[4]))
    if not any(process.pid == int(parts[1]) for process in processes):
        raise CannotGrade("the node's process listing does not contain the listing shell itself: /proc unreadable?")
    return processes


def running_binary(processes: list[NodeProcess], path: str) -> list[NodeProcess]:
    """The processes whose binary is `path` (a binary deleted after the start still counts)."""
    return [p for p in processes if p.exe in (path, f"{path} (deleted)")]


def lasting(before: list[NodeProcess], after: list[NodeProcess]) -> list[NodeProcess]:
    """The processes of `after` that were already there in `before` (same PID, same binary)."""
    seen = {(process.pid, process.exe) for process in before}
    return [process for process in after if (process.pid, process.exe) in seen]


def lasting_processes(host: Any, seconds: float) -> list[NodeProcess]:
    """The node's processes that live through `seconds`: long-running ones such as daemons, not the short-lived
    children a daemon forks (which may outlive a stopped daemon for a moment and would make it look alive)."""
    before = node_processes(host)
    time.sleep(seconds)
    return lasting(before, node_processes(host))
