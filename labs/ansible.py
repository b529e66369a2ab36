"""Scenario playbooks through ansible-runner: extra vars in, progress events out, failures summarized."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labs.paths import state_dir

# How often, at most, a running playbook looks whether Ctrl-C was pressed (ansible-runner's poll of its pty).
CANCEL_POLL_SECONDS = 0.5
# Every process of one playbook run has this variable, with the run's id, in its environment.
RUN_ID_VARIABLE = "CKS_LAB_PLAYBOOK_RUN"

ANSIBLE_ENV = {
    "ANSIBLE_HOST_KEY_CHECKING": "False",
    "ANSIBLE_RETRY_FILES_ENABLED": "False",
    "ANSIBLE_NOCOLOR": "True",
    "ANSIBLE_LOCALHOST_WARNING": "False",
    "ANSIBLE_INVENTORY_UNPARSED_WARNING": "False",
    "ANSIBLE_DEPRECATION_WARNINGS": "False",
    "ANSIBLE_SYSTEM_WARNINGS": "False",
}


@dataclass
class PlaybookResult:
    """How a playbook run ended; `failures` say which task failed on which host and why."""

    status: str
    rc: int
    failures: list[str] = field(default_factory=list)
    artifacts: Path | None = None

    @property
    def ok(self) -> bool:
        return self.status == "successful" and self.rc == 0


def path_with_ansible() -> str:
    """PATH with the directory of this interpreter first: ansible-playbook and ansible-inventory sit there, in a
    virtualenv that need not be activated."""
    tools = str(Path(sys.executable).parent)
    path = os.environ.get("PATH", "")
    return path if path.split(os.pathsep)[0] == tools else f"{tools}{os.pathsep}{path}"


def _environment() -> dict[str, str]:
    return {**ANSIBLE_ENV, "PATH": path_with_ansible()}


def _failure(event: dict) -> str | None:
    if event.get("event") not in ("runner_on_failed", "runner_on_unreachable", "runner_item_on_failed"):
        return None
    data = event.get("event_data", {})
    if data.get("ignore_errors"):
        return None
    result = data.get("res", {})
    message = result.get("msg") or result.get("stderr") or result.get("reason") or "failed"
    if message == "One or more items failed":
        return None  # each item's failure was reported on its own
    said = str(result.get("stderr") or result.get("stdout") or "").strip()
    if said and said not in str(message):  # "non-zero return code" alone does not say why
        message = f"{str(message).strip()}: {said[-300:]}"
    item = f" (item {result['item']})" if isinstance(result.get("item"), str | int) else ""
    return f"{data.get('host', '?')}: task '{data.get('task', '?')}'{item}: {str(message).strip()[:500]}"


def task_name(event: dict) -> str | None:
    """The task name of a 'task started' event (for progress displays)."""
    if event.get("event") == "playbook_on_task_start":
        return event.get("event_data", {}).get("task") or None
    return None


@contextlib.contextmanager
def _interruptible() -> Iterator[threading.Event]:
    """An event set by Ctrl-C (or SIGTERM) while a playbook runs, so that ansible-runner stops ansible-playbook and
    the caller gets a KeyboardInterrupt; the previous handlers are back afterwards. Outside the main thread (where
    no handler can be set, e.g. a class graded in threads) the event is never set."""
    interrupted = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield interrupted
        return
    previous = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    for number in previous:
        signal.signal(number, lambda _number, _frame: interrupted.set())
    try:
        yield interrupted
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _kill_processes_of(run_id: str) -> None:
    """Kill what a stopped playbook still runs on this machine: ansible-runner kills ansible-playbook's process
    group, but each ansible worker runs in a session of its own, and so do the tasks it runs over a local connection.
    They all inherit the run's id in their environment."""
    needle = f"{RUN_ID_VARIABLE}={run_id}".encode()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            if needle in (proc / "environ").read_bytes().split(b"\0"):
                os.kill(int(proc.name), signal.SIGKILL)
        except (OSError, ValueError):
            continue


def run_playbook(
    playbook: Path,
    inventory: dict | Path,
    extravars: dict[str, Any],
    on_task: Callable[[str], None] = lambda name: None,
    ident: str = "lab",
) -> PlaybookResult:
    """Run `playbook` against `inventory` with `extravars`; `on_task` is called with each task's name."""
    import ansible_runner

    failures: list[str] = []

    def handle(event: dict) -> bool:
        name = task_name(event)
        if name:
            on_task(name)
        failure = _failure(event)
        if failure:
            failures.append(failure)
        return True

    private = state_dir() / "ansible"
    private.mkdir(parents=True, exist_ok=True)
    run_id = uuid.uuid4().hex
    with _interruptible() as interrupted:
        runner = ansible_runner.run(
            private_data_dir=str(private),
            playbook=str(playbook.resolve()),
            inventory=inventory if isinstance(inventory, dict) else str(inventory),
            extravars=extravars,
            envvars={**_environment(), RUN_ID_VARIABLE: run_id},
            event_handler=handle,
            cancel_callback=interrupted.is_set,
            settings={"pexpect_timeout": CANCEL_POLL_SECONDS},
            quiet=True,
            ident=ident,
            rotate_artifacts=10,
        )
    if interrupted.is_set():
        _kill_processes_of(run_id)
        raise KeyboardInterrupt  # ansible-playbook was stopped; the caller says what the interrupted run leaves
    artifacts = Path(runner.config.artifact_dir)
    if runner.rc != 0 and not failures:
        stdout = artifacts / "stdout"
        tail = stdout.read_text(errors="replace").strip().splitlines()[-5:] if stdout.exists() else []
        failures.append(" ".join(tail) or f"ansible-playbook exited with {runner.rc}")
    return PlaybookResult(runner.status, runner.rc, failures, artifacts)


def syntax_check(playbooks: list[Path]) -> str | None:
    """`ansible-playbook --syntax-check` on the playbooks: None when fine, else what ansible said."""
    inventory = "controlplane,node01,"
    command = ["ansible-playbook", "--syntax-check", "-i", inventory, *map(str, playbooks)]
    result = subprocess.run(command, capture_output=True, text=True, env={**os.environ, **_environment()}, check=False)
    if result.returncode == 0:
        return None
    return (result.stderr.strip() or result.stdout.strip())[-1500:]
