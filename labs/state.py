"""The lab's state on disk (XDG state directory, survives a reboot) and the lock that serializes lab processes."""

from __future__ import annotations

import contextlib
import fcntl
import os
import sys
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from labs.paths import state_dir

Phase = Literal["setting-up", "ready", "setup-failed"]


class TargetRef(BaseModel):
    """Which target an attempt runs on, so that later commands use the same cluster."""

    kind: str
    kubeconfig: str | None = None
    inventory: str | None = None


class Attempt(BaseModel):
    """The scenario being worked on."""

    model_config = ConfigDict(extra="ignore")

    scenario: str
    seed: int
    params: dict
    target: TargetRef
    started_at: datetime
    phase: Phase = "setting-up"
    hints_shown: int = 0
    solution_shown: bool = False

    def elapsed_seconds(self, now: datetime | None = None) -> int:
        """Seconds since the attempt started."""
        return int(((now or datetime.now(UTC)) - self.started_at).total_seconds())


class Result(BaseModel):
    """The last grading of a scenario."""

    verdict: Literal["pass", "fail", "error"]
    score: int
    max_score: int
    seed: int
    checked_at: datetime


class State(BaseModel):
    """Everything lab remembers between commands."""

    model_config = ConfigDict(extra="ignore")

    current: Attempt | None = None
    results: dict[str, Result] = {}


def now() -> datetime:
    """The current time, timezone-aware (UTC)."""
    return datetime.now(UTC)


def _state_file() -> Path:
    return state_dir() / "state.json"


def load() -> State:
    """The saved state; an unreadable file is set aside (`set_aside`) rather than crashing every command."""
    path = _state_file()
    try:
        return State.model_validate_json(path.read_bytes())
    except FileNotFoundError:
        return State()
    except (ValidationError, ValueError, OSError) as error:
        aside = set_aside(path)
        print(f"lab: {path} was unreadable ({type(error).__name__}); kept as {aside.name}", file=sys.stderr)
        return State()


def set_aside(path: Path) -> Path:
    """Rename an unreadable file to NAME.broken (NAME.broken.2, .3, ... when that is taken: an older one is never
    overwritten), so that what it held can still be recovered; the new path."""
    aside = path.with_name(f"{path.name}.broken")
    number = 1
    while aside.exists():
        number += 1
        aside = path.with_name(f"{path.name}.broken.{number}")
    path.replace(aside)
    return aside


def save(state: State) -> None:
    """Write the state atomically (a crash leaves the old file or the new one, never half of one)."""
    write_atomically(_state_file(), state.model_dump_json(indent=2))


def write_atomically(path: Path, text: str) -> None:
    """Replace `path` with `text` so that a crash leaves the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=f".{path.stem}.", delete=False) as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(handle.name, path)


@contextlib.contextmanager
def locked(wait_message: str = "waiting for another lab command to finish ...") -> Iterator[None]:
    """Hold the lab lock: a second lab process that changes state waits here until the first is done."""
    path = state_dir() / "lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip()
            print(f"lab: {wait_message} (pid {holder or '?'})", file=sys.stderr, flush=True)
            fcntl.flock(handle, fcntl.LOCK_EX)
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)


def dump_json(attempt: Attempt) -> dict:
    """`lab status --json`: scenario, seed, params, started_at and the rest."""
    data = attempt.model_dump(mode="json")
    data["elapsed_seconds"] = attempt.elapsed_seconds()
    return data
