"""The testbed's kube-apiserver as a reader-writer lock shared by the proof lanes (pytest-xdist workers, one process
each). Every testbed test holds it shared while it runs (conftest.py); a test that restarts kube-apiserver, or may
leave it down, owns it exclusively from before the manifest changes until kube-apiserver is healthy again, across
tests if need be (tests/apiserver_scenario.py). So no test ever meets a restart it did not make: a guarantee, where
retrying on error texts was a guess.

Writers are preferred: a lane waiting to restart passes a turnstile that new readers must also pass, so it waits for
the tests running now, not for every test the other lane would start meanwhile. flock(2) locks belong to the open
file and are released when the process dies, so a killed lane never leaves the API locked.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LOCK_DIR = Path("/run/cks-lab-tests")
CONTROL_PLANE_TIMEOUT = 180


class ApiLock:
    """This process's hold on the API: None, "shared" or "exclusive"."""

    def __init__(self, directory: Path = LOCK_DIR) -> None:
        self.directory = directory
        self.mode: str | None = None
        self._fd: int | None = None
        self.waited = 0.0  # seconds this process spent waiting for the other lanes, in all

    def _lock(self, fd: int, operation: int) -> None:
        began = time.monotonic()
        fcntl.flock(fd, operation)
        self.waited += time.monotonic() - began

    def _open(self, name: str) -> int:
        self.directory.mkdir(parents=True, exist_ok=True)
        return os.open(self.directory / name, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)

    def share(self) -> None:
        """Hold the API shared (no-op when this process holds it already)."""
        if self.mode is not None:
            return
        turnstile = self._open("turnstile")
        try:
            self._lock(turnstile, fcntl.LOCK_EX)  # behind a writer that waits
        finally:
            os.close(turnstile)
        self._fd = self._open("api")
        self._lock(self._fd, fcntl.LOCK_SH)
        self.mode = "shared"

    def own(self) -> None:
        """Hold the API exclusively: wait for the tests that use it now, and keep new ones out."""
        if self.mode == "exclusive":
            return
        self.release()
        turnstile = self._open("turnstile")
        try:
            self._lock(turnstile, fcntl.LOCK_EX)
            fd = self._open("api")
            self._lock(fd, fcntl.LOCK_EX)
        finally:
            os.close(turnstile)
        self._fd, self.mode = fd, "exclusive"

    def settle(self, healthy: bool) -> None:
        """After a change of kube-apiserver: back to shared once it is healthy, still exclusive while it is not."""
        if healthy and self.mode == "exclusive":
            self.release()
            self.share()

    @contextmanager
    def alone(self, name: str) -> Iterator[None]:
        """An exclusive lock of its own beside the API lock, for what one lane must do while the others wait."""
        fd = self._open(name)
        try:
            self._lock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the last descriptor of the open file releases its flock
        self._fd, self.mode = None, None


API = ApiLock()


def settle() -> None:
    """After a change of kube-apiserver: give the API back to the other lane once kube-apiserver serves and the rest
    of the control plane (which may have lost its leader leases meanwhile) runs again; keep it while kube-apiserver
    is down. A control plane that does not come back is left to the tests to report: the API is given back anyway,
    so that no lane waits for ever."""
    from labs.testbed import cluster

    if not cluster.apiserver_ready():
        API.settle(healthy=False)
        return
    try:
        cluster.wait_until_ready(CONTROL_PLANE_TIMEOUT)
    except cluster.TestbedError as error:
        print(f"[api-lock] giving the API back: {error}", flush=True)
    API.settle(healthy=True)
