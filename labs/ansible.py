"""Scenario playbooks through ansible-runner: extra vars in, progress events out, failures summarized."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labs.paths import state_dir

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
    item = f" (item {result['item']})" if isinstance(result.get("item"), str | int) else ""
    return f"{data.get('host', '?')}: task '{data.get('task', '?')}'{item}: {str(message).strip()[:500]}"


def task_name(event: dict) -> str | None:
    """The task name of a 'task started' event (for progress displays)."""
    if event.get("event") == "playbook_on_task_start":
        return event.get("event_data", {}).get("task") or None
    return None


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
    runner = ansible_runner.run(
        private_data_dir=str(private),
        playbook=str(playbook.resolve()),
        inventory=inventory if isinstance(inventory, dict) else str(inventory),
        extravars=extravars,
        envvars=_environment(),
        event_handler=handle,
        quiet=True,
        ident=ident,
        rotate_artifacts=10,
    )
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
