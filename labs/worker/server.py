"""The grading worker process: `python -m labs.worker.server SOCKET [IDLE_SECONDS]`. It imports what a grading needs
once, then runs each `lab` command a client hands it as the client would have (labs/worker/__init__.py)."""

from __future__ import annotations

import contextlib
import gc
import json
import os
import signal
import socket
import struct
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from labs.paths import state_dir
from labs.worker.channel import PACKAGE, SWITCH, answers, private_directory, read_exactly, send

IDLE_SECONDS = 30 * 60
POLL_SECONDS = 2.0
# What a grading imports that is slow to import; the labs package itself is imported whole.
LIBRARIES = (
    "kubernetes.client.api.core_v1_api",
    "kubernetes.client.api.apps_v1_api",
    "kubernetes.client.api.rbac_authorization_v1_api",
    "kubernetes.client.api.networking_v1_api",
    "kubernetes.client.api.batch_v1_api",
    "kubernetes.client.api.authorization_v1_api",
    "kubernetes.client.api.version_api",
    "kubernetes.config",
    "kubernetes.stream",
    "pytest",
    "testinfra",
    "rich.console",
    "rich.table",
)


def _preload() -> None:
    """Import the labs package whole and the slow libraries a grading uses, read the catalog, and run one grading
    of a trivial criterion (pytest imports part of itself on its first run)."""
    import importlib
    import pkgutil
    import tempfile

    import labs
    from labs.catalog import Catalog
    from labs.cli import build_parser
    from labs.grading.context import GradingContext
    from labs.grading.plugin import grade

    for module in pkgutil.walk_packages(labs.__path__, "labs."):
        if not module.name.endswith("__main__"):
            importlib.import_module(module.name)
    for name in LIBRARIES:
        importlib.import_module(name)
    build_parser()
    _ = Catalog().scenarios
    with tempfile.TemporaryDirectory(prefix="cks-lab-worker-") as directory:
        grader = Path(directory) / "test_00_warm_up.py"
        grader.write_text('def test_warm_up():\n    """pytest is ready"""\n')
        grade(grader, GradingContext("00-warm-up", 0, {}, None))


def _code_snapshot() -> dict[str, int]:
    """The modification time of every file of the labs package this process has imported."""
    snapshot = {}
    for module in list(sys.modules.values()):
        location = getattr(module, "__file__", None)
        if location and location.startswith(str(PACKAGE)):
            try:
                snapshot[location] = os.stat(location).st_mtime_ns
            except OSError:
                snapshot[location] = -1
    return snapshot


def _code_changed(snapshot: dict[str, int]) -> bool:
    for location, mtime in snapshot.items():
        try:
            if os.stat(location).st_mtime_ns != mtime:
                return True
        except OSError:
            return True
    return False


def _bind(path: Path) -> socket.socket | None:
    """Listen on `path`; None when another worker already does (or the path cannot be a socket)."""
    if not private_directory(path.parent):
        return None
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        try:
            listener.bind(str(path))
        except OSError:
            if answers(path):
                listener.close()
                return None
            path.unlink(missing_ok=True)  # left by a worker that was killed
            listener.bind(str(path))
        os.chmod(path, 0o600)
    except OSError as error:
        print(f"cannot listen on {path}: {error}", flush=True)
        listener.close()
        return None
    listener.listen(8)
    listener.settimeout(POLL_SECONDS)
    return listener


class _Serving:
    """What the worker is doing: Ctrl-C forwarded by a client interrupts the command it runs (and only that), and
    SIGTERM stops the worker once the command in progress has ended."""

    def __init__(self) -> None:
        self.command = False
        self.stopping = False
        signal.signal(signal.SIGINT, self._interrupt)
        signal.signal(signal.SIGTERM, self._terminate)

    def _interrupt(self, *_: object) -> None:
        if self.command:
            raise KeyboardInterrupt

    def _terminate(self, *_: object) -> None:
        self.stopping = True
        if not self.command:
            raise SystemExit(0)


def serve(path: Path, idle_seconds: float = IDLE_SECONDS) -> int:
    """Answer `lab check` requests on `path` until idle for `idle_seconds`, the code changed or the socket went."""
    from labs.k8s import keep_connections

    _preload()
    keep_connections()
    gc.freeze()  # the preloaded modules stay: garbage collections need not walk them every time
    serving = _Serving()
    listener = _bind(path)
    if listener is None:
        return 0
    inode = path.stat().st_ino
    state = state_dir()
    snapshot = _code_snapshot()
    last_request = time.monotonic()
    print(f"grading worker {os.getpid()} ready on {path} ({len(sys.modules)} modules)", flush=True)
    try:
        while time.monotonic() - last_request < idle_seconds and not serving.stopping:
            try:
                if path.stat().st_ino != inode or not state.is_dir():
                    break
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                break
            last_request = time.monotonic()
            with connection:
                if not _handle(connection, snapshot, serving):
                    print("code changed on disk: exiting", flush=True)
                    break
    finally:
        listener.close()
        if path.exists() and path.stat().st_ino == inode:
            path.unlink()
    return 0


def peer(connection: socket.socket) -> tuple[int, int, int]:
    """The pid, uid and gid of the process at the other end of a Unix socket (Linux's SO_PEERCRED)."""
    credentials = connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    pid, uid, gid = struct.unpack("3i", credentials)
    return pid, uid, gid


def _handle(connection: socket.socket, snapshot: dict[str, int], serving: _Serving) -> bool:
    """Serve one request; False when this worker's code is out of date (it should exit)."""
    connection.settimeout(10)
    fds: list[int] = []
    try:
        if peer(connection)[1] != os.getuid():
            return True
        header, fds, _, _ = socket.recv_fds(connection, 4, 3)
        data = read_exactly(connection, struct.unpack("!I", header)[0]) if len(header) == 4 else None
        if data is None or len(fds) != 3:
            return True
        request = json.loads(data)
        if _code_changed(snapshot):
            send(connection, {"stale": True})
            return False
        if request["env"].get(SWITCH) == "0":  # a command run by this worker: it must not wait for itself
            send(connection, {"busy": True})
            return True
        print(f"lab {' '.join(request['argv'])}: served", flush=True)
        _run(connection, fds, request, serving)
        return True
    except (OSError, ValueError, KeyError, struct.error) as error:
        print(f"request dropped: {error}", flush=True)
        return True
    finally:
        for fd in fds:
            os.close(fd)


def _run(connection: socket.socket, fds: list[int], request: dict, serving: _Serving) -> None:
    """Run the request's `lab` command here as the caller would have (its terminal, directory and environment), tell
    the caller its exit code, and put this process's own back."""
    from labs.cli import main

    saved_directory = os.getcwd()
    try:
        os.chdir(request["cwd"])
    except OSError:  # gone since: the caller grades in its own process
        send(connection, {"busy": True})
        return
    saved_fds = [os.dup(fd) for fd in (0, 1, 2)]
    saved = (sys.stdin, sys.stdout, sys.stderr, sys.argv, dict(os.environ), saved_directory)
    code = 2
    try:
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
        os.environ.clear()
        os.environ.update(request["env"])
        os.environ[SWITCH] = "0"
        encoding = request.get("encoding") or "utf-8"
        sys.stdin = open(0, encoding=encoding, closefd=False)  # noqa: SIM115
        sys.stdout = open(1, "w", buffering=1 if os.isatty(1) else -1, encoding=encoding, closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", buffering=1, encoding=encoding, errors="backslashreplace", closefd=False)  # noqa: SIM115
        sys.argv = ["lab", *request["argv"]]
        send(connection, {"pid": os.getpid()})
        serving.command = True
        try:
            code = main(request["argv"])
        finally:
            serving.command = False
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 2
    except KeyboardInterrupt:
        code = 130
    except Exception as error:  # report it to the caller, and go on serving
        print(f"lab: the grading worker failed: {type(error).__name__}: {error}", file=sys.stderr)
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        sys.stdin, sys.stdout, sys.stderr, sys.argv, environment, directory = saved
        for target, fd in enumerate(saved_fds):
            os.dup2(fd, target)
            os.close(fd)
        os.environ.clear()
        os.environ.update(environment)
        with contextlib.suppress(OSError):
            os.chdir(directory)
        with contextlib.suppress(OSError):  # the caller may be gone
            send(connection, {"exit": code})


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m labs.worker.server SOCKET [IDLE_SECONDS]`: what `client.start_in_background` runs."""
    args = list(sys.argv[1:] if argv is None else argv)
    idle = float(args[1]) if len(args) > 1 else IDLE_SECONDS
    return serve(Path(args[0]), idle)


if __name__ == "__main__":
    from labs.worker import server  # the module itself, not a second copy named __main__

    sys.exit(server.main())
