"""The `lab` side of the grading worker: hand a command to the worker (`delegate`), or start one in the background."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import struct
import sys
from collections.abc import Sequence

from labs.paths import state_dir
from labs.worker.channel import PROJECT, SWITCH, answers, enabled, private_directory, receive, socket_path

HANDSHAKE_SECONDS = 5.0


def delegate(argv: Sequence[str]) -> int | None:
    """Run `lab <argv>` in the worker; its exit code, or None when no worker took it (then grade in-process).

    The command's output goes straight to this process's stdout and stderr; Ctrl-C is passed on to it."""
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    connection.settimeout(HANDSHAKE_SECONDS)  # a worker that hangs is skipped, not waited for
    try:
        connection.connect(str(socket_path()))
        request = {
            "argv": list(argv),
            "cwd": os.getcwd(),
            "env": dict(os.environ),
            "encoding": getattr(sys.stdout, "encoding", None),
        }
        data = json.dumps(request).encode()
        socket.send_fds(connection, [struct.pack("!I", len(data)) + data], [0, 1, 2])
        started = receive(connection)
    except (OSError, ValueError):
        connection.close()
        return None
    if not started or "pid" not in started:  # busy, or its code is out of date (it exits)
        connection.close()
        return None
    connection.settimeout(None)
    previous = signal.signal(signal.SIGINT, lambda *_: _interrupt(started["pid"]))
    try:
        ended = receive(connection)
    except (OSError, ValueError):
        ended = None
    finally:
        signal.signal(signal.SIGINT, previous)
        connection.close()
    if not ended or "exit" not in ended:
        print(f"lab: the grading worker stopped before the end; run again with {SWITCH}=0", file=sys.stderr)
        return 2
    return int(ended["exit"])


def _interrupt(pid: int) -> None:
    with contextlib.suppress(OSError):  # it may have ended in between
        os.kill(pid, signal.SIGINT)


def start_in_background() -> None:
    """Start a worker for this state directory unless one answers (it imports for about a second, detached)."""
    import subprocess

    if not enabled():
        return
    path = socket_path()
    if answers(path) or not private_directory(path.parent):
        return
    log = state_dir() / "grading-worker.log"
    try:
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as out:
            subprocess.Popen(
                [sys.executable, "-m", "labs.worker.server", str(path)],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                start_new_session=True,
                cwd=PROJECT,
            )
    except OSError:
        pass  # grading works without a worker, only slower
