"""Named behaviours as Falco events (JSON objects from field names to values), for graders and tests.

Each function returns the event(s) Falco's modern eBPF driver would produce for the behaviour, with the fields the
default rules read filled in the way libsinsp fills them (e.g. `proc.cmdline` = comm + args, `fd.directory`).
Everything that varies between attempts (names, paths, pods) is a parameter.

    shell_in_container(interactive=True, pod="web-1", namespace="prod")
    read_file(path="/etc/shadow", process="cat", container=Container(...))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Event = dict[str, Any]

RUNC_PARENT = "runc"
CONTAINERD_SHIM = "containerd-shim"


@dataclass(frozen=True)
class Container:
    """Where a process runs: a Kubernetes container (fields from the container plugin) or the host."""

    id: str = "3ad7b26ded6d"
    name: str = "web"
    image_repository: str = "docker.io/library/nginx"
    image_tag: str = "1.27"
    pod: str | None = "web-1"
    namespace: str | None = "default"
    privileged: bool = False

    def fields(self) -> Event:
        out: Event = {
            "container.id": self.id,
            "container.name": self.name,
            "container.image.repository": self.image_repository,
            "container.image.tag": self.image_tag,
            "container.image": f"{self.image_repository}:{self.image_tag}" if self.image_repository else "",
            "container.privileged": self.privileged,
        }
        if self.pod is not None:
            out["k8s.pod.name"] = self.pod
        if self.namespace is not None:
            out["k8s.ns.name"] = self.namespace
        return out


# Host processes: the container plugin reports id and name "host" and empty image fields; no k8s fields.
HOST = Container(id="host", name="host", image_repository="", image_tag="", pod=None, namespace=None)


@dataclass(frozen=True)
class Process:
    """A process and its ancestry (parent first)."""

    name: str
    args: tuple[str, ...] = ()
    exepath: str | None = None
    ancestors: tuple[str, ...] = (RUNC_PARENT,)
    tty: int = 0
    user: str = "root"
    uid: int = 0
    loginuid: int = -1
    cwd: str = "/"
    pid: int = 4242
    vpid: int = 42

    def fields(self) -> Event:
        exepath = self.exepath or f"/usr/bin/{self.name}"
        out: Event = {
            "proc.name": self.name,
            "proc.exe": self.name,
            "proc.exepath": exepath,
            "proc.args": " ".join(self.args),
            "proc.cmdline": " ".join((self.name, *self.args)),
            "proc.tty": self.tty,
            "proc.pid": self.pid,
            "proc.vpid": self.vpid,
            "proc.cwd": self.cwd,
            "user.name": self.user,
            "user.uid": self.uid,
            "user.loginuid": self.loginuid,
            "user.loginname": self.user if self.loginuid >= 0 else "",
            "group.gid": self.uid,
            "group.name": self.user,
            "proc.sname": self.ancestors[-1] if self.ancestors else self.name,
        }
        if self.ancestors:
            parent = self.ancestors[0]
            out |= {"proc.pname": parent, "proc.pexe": parent, "proc.pexepath": f"/usr/bin/{parent}",
                    "proc.pcmdline": parent, "proc.ppid": self.pid - 1}  # fmt: skip
        for i, name in enumerate(self.ancestors, start=1):
            out[f"proc.aname[{i}]"] = name
        return out


def _event(evt_type: str, process: Process, container: Container, **extra: Any) -> Event:
    return {"evt.type": evt_type, "evt.res": "SUCCESS", "evt.rawres": 0, **process.fields(), **container.fields(),
            **extra}  # fmt: skip


def spawn(process: Process, container: Container = HOST) -> Event:
    """An execve exit event: the new process's fields (Falco updates proc.* once execve returns)."""
    return _event("execve", process, container, **{"evt.arg.flags": "EXE_WRITABLE|EXE_LOWER_LAYER"})


def open_file(
    path: str, process: Process, container: Container = HOST, *, write: bool = False, create: bool = False
) -> Event:
    """An openat exit event on a regular file, for reading or writing."""
    directory, _, filename = path.rpartition("/")
    flags = "O_WRONLY|O_CREAT|O_TRUNC" if create else ("O_WRONLY" if write else "O_RDONLY")
    return _event("openat", process, container, **{
        "fd.name": path, "fd.nameraw": path, "fd.directory": directory or "/", "fd.filename": filename,
        "fd.typechar": "f", "fd.type": "file", "fd.num": 3, "evt.rawres": 3,
        "evt.is_open_read": not write, "evt.is_open_write": write, "evt.is_open_exec": False,
        "evt.arg.flags": flags, "evt.arg.name": path,
    })  # fmt: skip


def shell_in_container(
    *, interactive: bool = True, shell: str = "bash", container: Container | None = None, parent: str = RUNC_PARENT
) -> Event:
    """`kubectl exec [-it] POD -- bash`: a shell started by runc in a container, with a terminal if interactive."""
    process = Process(shell, ancestors=(parent, CONTAINERD_SHIM, "systemd"), tty=34816 if interactive else 0)
    return spawn(process, container or Container())


def shell_on_host(*, interactive: bool = True, shell: str = "bash", parent: str = "sshd") -> Event:
    """A shell on the node itself (e.g. after ssh)."""
    process = Process(shell, ancestors=(parent, "systemd"), tty=34816 if interactive else 0, loginuid=1000,
                      user="vagrant", uid=1000)  # fmt: skip
    return spawn(process, HOST)


def read_file(path: str = "/etc/shadow", *, process: str = "cat", container: Container | None = HOST) -> Event:
    """A process (by default `cat`, run from a shell) opening a file for reading."""
    proc = Process(process, args=(path,), ancestors=("bash", RUNC_PARENT, CONTAINERD_SHIM))
    return open_file(path, proc, container or HOST)


def write_file(path: str = "/etc/passwd", *, process: str = "touch", container: Container | None = HOST) -> Event:
    """A process creating/writing a file, e.g. below /etc or /usr/bin."""
    proc = Process(process, args=(path,), ancestors=("bash", RUNC_PARENT, CONTAINERD_SHIM))
    return open_file(path, proc, container or HOST, write=True, create=True)


def package_manager(tool: str = "apt", *, args: tuple[str, ...] = ("install", "-y", "curl"),
                    container: Container | None = None) -> Event:  # fmt: skip
    """A package manager run inside a container (mutating an immutable container)."""
    proc = Process(tool, args=args, ancestors=("bash", RUNC_PARENT, CONTAINERD_SHIM))
    return spawn(proc, container or Container())


def netcat_listen(port: int = 4444, *, shell: bool = False, container: Container | None = None) -> Event:
    """`nc -lvnp PORT` (with `-e /bin/sh` when shell=True) started in a container."""
    args = ("-lvnp", str(port), *(("-e", "/bin/sh") if shell else ()))
    proc = Process("nc", args=args, ancestors=("bash", RUNC_PARENT, CONTAINERD_SHIM))
    return spawn(proc, container or Container())


def process_in_container(name: str, *args: str, container: Container | None = None, parent: str = "bash") -> Event:
    """Any program started in a container from a shell."""
    proc = Process(name, args=args, ancestors=(parent, RUNC_PARENT, CONTAINERD_SHIM))
    return spawn(proc, container or Container())


BEHAVIOURS = {
    "shell-in-container-interactive": lambda: shell_in_container(interactive=True),
    "shell-in-container": lambda: shell_in_container(interactive=False),
    "shell-on-host": shell_on_host,
    "read-shadow-in-container": lambda: read_file("/etc/shadow", container=Container()),
    "read-shadow-on-host": lambda: read_file("/etc/shadow"),
    "write-below-etc": lambda: write_file("/etc/cron.d/evil", container=Container()),
    "write-below-usr-bin": lambda: write_file("/usr/bin/evil", container=Container()),
    "package-manager-in-container": package_manager,
    "netcat-listening": netcat_listen,
    "netcat-remote-shell": lambda: netcat_listen(shell=True),
}
