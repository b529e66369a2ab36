#!/usr/bin/env python3
"""Run a command and list every program executed on this machine meanwhile (fanotify FAN_OPEN_EXEC: execve of any
process, the testbed's daemons and containers included, without tracing anyone); then fail when one of them comes
from a Debian package that a new machine would not have: one that is not in .ci/machine-packages.txt (what a new
machine of this kind has), not required in every Debian installation, not in .ci/debian-packages.txt (nor a
dependency of a listed package), and not installed by the command itself. Programs outside Debian's packages must
come from something .ci/run installs (the venv, the build cache) or from the machine's own toolchains; any other is
noted for a human to judge (the machine image has programs no package ships).

    python3 .ci/program_census.py [--report FILE] -- COMMAND ...

Exit code: the command's when it failed, else 1 when a program's package is missing from the list, else 0.
Standard library only: it runs before `make install`.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import re
import select
import shutil
import struct
import subprocess
import sys
import threading
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[1]
PACKAGE_LIST = CHECKOUT / ".ci/debian-packages.txt"
MACHINE_PACKAGES = CHECKOUT / ".ci/machine-packages.txt"
MAINTAINER_SCRIPTS = "/var/lib/dpkg/info/"  # run by dpkg for a package being installed
FAN_CLASS_NOTIF, FAN_CLOEXEC = 0x0, 0x1
FAN_MARK_ADD, FAN_MARK_FILESYSTEM = 0x1, 0x100
FAN_OPEN_EXEC = 0x1000
EVENT = struct.Struct("IBBHQii")  # struct fanotify_event_metadata
MERGED_USR = ("bin", "sbin", "lib", "lib64")


class Recorder:
    """The paths of the files opened for execution (execve, and the ELF interpreter) on the filesystems watched."""

    def __init__(self, mounts: list[str]) -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.fanotify_mark.argtypes = [ctypes.c_int, ctypes.c_uint, ctypes.c_uint64, ctypes.c_int, ctypes.c_char_p]
        self.fd = libc.fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC, os.O_RDONLY | os.O_CLOEXEC)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), f"fanotify_init: {os.strerror(ctypes.get_errno())}")
        for mount in mounts:
            if libc.fanotify_mark(self.fd, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, FAN_OPEN_EXEC, -100, mount.encode()):
                raise OSError(ctypes.get_errno(), f"fanotify_mark {mount}: {os.strerror(ctypes.get_errno())}")
        self.paths: dict[str, str] = {}  # path -> the first command line that ran it (with its parent's)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while True:
            ready, _, _ = select.select([self.fd], [], [], 0.2)
            if not ready:
                if self._stop.is_set():
                    return
                continue
            data, offset = os.read(self.fd, 1 << 16), 0
            while offset + EVENT.size <= len(data):
                length, _, _, _, _, fd, pid = EVENT.unpack_from(data, offset)
                if fd >= 0:
                    try:
                        path = os.readlink(f"/proc/self/fd/{fd}")
                        if path not in self.paths:
                            self.paths[path] = _who(pid)
                    finally:
                        os.close(fd)
                offset += length

    def stop(self) -> dict[str, str]:
        self._stop.set()
        self._thread.join()
        os.close(self.fd)
        return self.paths


def _command_line(pid: int | str) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()[:200]
    except OSError:
        return "?"


def _who(pid: int) -> str:
    """`COMMAND (run by PARENT COMMAND)`: the process as it runs the program, and its parent."""
    try:
        parent = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1]
    except (OSError, IndexError):
        return _command_line(pid)
    return f"{_command_line(pid)} (run by {_command_line(parent)})"


def package_names(path: Path) -> set[str]:
    return {line.split("#")[0].strip() for line in path.read_text().splitlines()} - {""}


def installed() -> dict[str, dict[str, str]]:
    """Every installed package with its Essential, Priority, Provides, Pre-Depends and Depends fields."""
    fields = ("Package", "Essential", "Priority", "Provides", "Pre-Depends", "Depends")
    fmt = "${db:Status-Abbrev}\t" + "\t".join(f"${{{name}}}" for name in fields) + "\n"
    out = subprocess.run(["dpkg-query", "-W", "-f", fmt], capture_output=True, text=True, check=True).stdout
    packages = {}
    for line in out.splitlines():
        status, *values = line.split("\t")
        if status.startswith("ii"):
            packages[values[0]] = dict(zip(fields, values, strict=True))
    return packages


def _names(field: str) -> list[list[str]]:
    """`a (>= 1) | b:any, c` -> [["a", "b"], ["c"]]."""
    groups = []
    for group in filter(None, (g.strip() for g in field.split(","))):
        groups.append([re.split(r"[\s(:\[]", alternative.strip(), maxsplit=1)[0] for alternative in group.split("|")])
    return groups


def allowed_packages(packages: dict[str, dict[str, str]], listed: set[str]) -> set[str]:
    """What a new machine has after .ci/run's apt-get: Debian's required and essential packages, `listed` ones, and
    every installed package they depend on (Depends, Pre-Depends; .ci/run installs no Recommends)."""
    providers: dict[str, set[str]] = {}
    for name, fields in packages.items():
        providers.setdefault(name, set()).add(name)
        for group in _names(fields["Provides"]):
            providers.setdefault(group[0], set()).add(name)
    todo = [name for name, f in packages.items() if f["Essential"] == "yes" or f["Priority"] == "required"] + sorted(
        listed & packages.keys()
    )
    allowed: set[str] = set()
    while todo:
        name = todo.pop()
        if name in allowed:
            continue
        allowed.add(name)
        for group in _names(packages[name]["Pre-Depends"]) + _names(packages[name]["Depends"]):
            for alternative in group:
                todo.extend(providers.get(alternative, ()))
    return allowed


def _aliases(path: str) -> list[str]:
    """The path and its other name under merged /usr (dpkg knows a file by the name its package ships)."""
    parts = Path(path).parts
    if len(parts) > 2 and parts[1] == "usr" and parts[2] in MERGED_USR:
        return [path, str(Path("/", *parts[2:]))]
    if len(parts) > 1 and parts[1] in MERGED_USR:
        return [path, str(Path("/usr", *parts[1:]))]
    return [path]


def owners(paths: set[str]) -> dict[str, str]:
    """path -> the package that ships it (paths no package ships are left out)."""
    candidates = {alias: path for path in paths for alias in _aliases(path)}
    if not candidates:
        return {}
    out = subprocess.run(["dpkg", "-S", *candidates], capture_output=True, text=True).stdout
    found = {}
    for line in out.splitlines():
        if line.startswith("diversion by"):
            continue
        package, _, shipped = line.partition(": ")
        if shipped in candidates:
            found[candidates[shipped]] = package.split(",")[0].split(":")[0].strip()
    return found


def toolchain_roots() -> list[str]:
    """Where programs that are not Debian's may come from: this checkout (its venv), the build cache, temporary
    files, containers' own filesystems, and the machine's Python and Go toolchains."""
    roots = [str(CHECKOUT), str(Path.home() / ".cache"), "/tmp", "/var/lib/containerd", "/run/containerd"]
    roots += [sys.base_prefix, os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv"))]
    roots += [str(Path.home() / ".cargo"), str(Path.home() / ".rustup")]  # pip asks rustc its version
    go = shutil.which("go")
    if go:
        roots.append(str(Path(go).resolve().parents[1]))
        roots.append(os.environ.get("GOPATH", str(Path.home() / "go")))
    return roots


def verdict(paths: dict[str, str], before: set[str]) -> tuple[list[str], list[str]]:
    """(problems, notes): a line per program of a package a new machine would lack (`before`: the packages installed
    when the command started; those it installed itself are on any machine), and a note per program that no package
    ships and nothing of the run installed (the machine image's own, or left by hand: a human must tell)."""
    packages = installed()
    listed = package_names(PACKAGE_LIST)
    problems = [f"{PACKAGE_LIST.name} lists {name}, not installed" for name in sorted(listed - packages.keys())]
    present = listed | package_names(MACHINE_PACKAGES) | (packages.keys() - before)
    allowed = allowed_packages(packages, present)
    owned = owners(set(paths))
    roots, notes = tuple(toolchain_roots()), []
    for path, who in sorted(paths.items()):
        package = owned.get(path)
        if path.startswith(MAINTAINER_SCRIPTS):
            continue
        if package is not None and package not in allowed:
            problems.append(f"{path} ran; its package {package} is not in {PACKAGE_LIST.name}: {who}")
        elif package is None and Path(path).exists() and not path.startswith(roots):
            notes.append(f"{path} ran; no Debian package ships it, nor does .ci/run install it: {who}")
    return problems, notes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--report", type=Path, help="write every program seen, with its package, to this file")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command to run after --")
    before = set(installed())
    try:
        recorder = Recorder(["/"])
    except OSError as error:
        print(f"program census: cannot watch executions ({error}); run as root on Linux", file=sys.stderr)
        return 2
    code = subprocess.run(command).returncode
    paths = recorder.stop()
    if args.report:
        owned = owners(set(paths))
        args.report.write_text("".join(f"{p}\t{owned.get(p, '-')}\t{who}\n" for p, who in sorted(paths.items())))
    problems, notes = verdict(paths, before)
    print(f"== Program census: {len(paths)} programs ran", file=sys.stderr)
    for note in notes:
        print(f"program census (note): {note}", file=sys.stderr)
    for problem in problems:
        print(f"program census: {problem}", file=sys.stderr)
    if code:
        return code
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
