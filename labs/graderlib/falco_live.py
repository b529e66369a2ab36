"""Live checks against a running Falco: is it running on the node, trigger behaviours in pods (through a real
terminal driven with pexpect, or without one), and find fresh alerts in what Falco wrote (its journal, which holds
the syslog output of the packaged units, and the file_output file when enabled).

A live criterion is marked `@pytest.mark.needs("falco")`: on a target without Falco (the testbed) it does not run
and is not gradable there (labs/grading/plugin.py). On one with Falco, a Falco that is not running fails it
(`require_falco`): keeping Falco up is part of every Falco task.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from labs.errors import CannotGrade
from labs.falco.output import OutputFormat, Token
from labs.graderlib.falco import FalcoConfig

ALERT_WAIT_SECONDS = 20


def falco_pid(host: Any) -> int | None:
    """The pid of the oldest process named falco on the node, None when there is none."""
    result = host.run("pgrep -xo falco")
    text = result.stdout.strip()
    return int(text) if result.rc == 0 and text.isdigit() else None


def require_falco(host: Any) -> int:
    """Falco's pid on the node; a Falco that is not running fails the criterion."""
    pid = falco_pid(host)
    if pid is None:
        pytest.fail(
            "no Falco process runs on the node; expected Falco running (systemctl status falco, and journalctl -u "
            "falco says why it stopped)",
            pytrace=False,
        )
    return pid


class FalcoOutput:
    """What Falco writes on a node from the moment `mark()` is called: its journal (syslog output of the packaged
    units) and the lines appended to its file output, if enabled."""

    def __init__(self, host: Any, config: FalcoConfig) -> None:
        self.host = host
        self.config = config
        self.since = 0.0
        self.file_lines = 0

    def _file(self) -> str:
        enabled, filename = self.config.file_output
        return filename if enabled and filename else ""

    def _file_content(self) -> list[str]:
        path = self._file()
        if not path or not self.host.file(path).exists:
            return []
        return self.host.file(path).content_string.splitlines()

    def mark(self) -> None:
        """From now on: the node's clock and the current length of the alerts file."""
        self.since = float(self.host.run("date +%s").stdout.strip() or time.time())
        self.file_lines = len(self._file_content())

    def new_lines(self) -> list[str]:
        journal = self.host.run(f"journalctl _COMM=falco --since @{self.since:.0f} -o cat --no-pager")
        lines = journal.stdout.splitlines() if journal.rc == 0 else []
        return lines + self._file_content()[self.file_lines :]

    def new_file_lines(self) -> list[str]:
        """Only the lines appended to the file output since mark()."""
        return self._file_content()[self.file_lines :]


def format_pattern(output: OutputFormat) -> re.Pattern[str]:
    """A regex for text lines of a rule's output: its literal text in order, anything where a field goes."""
    parts = [".*?" if isinstance(part, Token) else re.escape(part) for part in output.parts]
    return re.compile("".join(parts))


def is_alert_of(line: str, rule: str, output: OutputFormat, pod: str) -> bool:
    """The line is an alert of `rule` about pod `pod` (a JSON alert by its rule name, a text one by its output)."""
    try:
        alert = json.loads(line)
    except ValueError:
        alert = None
    if isinstance(alert, dict):
        fields = alert.get("output_fields") or {}
        return alert.get("rule") == rule and (fields.get("k8s.pod.name") == pod or pod in alert.get("output", ""))
    return pod in line and format_pattern(output).search(line) is not None


def wait_for_line(lines: Callable[[], list[str]], accept: Callable[[str], bool],
                  timeout: float = ALERT_WAIT_SECONDS) -> str | None:  # fmt: skip
    """The first of `lines()` that `accept`s, polling every second for up to `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        found = next((line for line in lines() if accept(line)), None)
        if found is not None or time.monotonic() >= deadline:
            return found
        time.sleep(1)


def _kubectl(kubeconfig: Path) -> list[str]:
    binary = shutil.which("kubectl")
    if binary is None:
        raise CannotGrade("kubectl is not installed where lab runs: it is needed to exec into the pod")
    return [binary, "--kubeconfig", str(kubeconfig)]


def exec_in_terminal(kubeconfig: Path, namespace: str, pod: str, container: str, shell: str) -> str:
    """`kubectl exec -it POD -- SHELL` through a real terminal (pexpect): run `id` and exit; returns the output.
    CannotGrade unless the output shows that `id` ran in the shell (an absent alert proves nothing otherwise)."""
    import pexpect

    command = [*_kubectl(kubeconfig), "exec", "-it", "-n", namespace, pod, "-c", container, "--", shell]
    session = pexpect.spawn(shlex.join(command), encoding="utf-8", timeout=20, dimensions=(24, 120))
    try:
        if session.expect([r"[#$] ", pexpect.TIMEOUT, pexpect.EOF], timeout=15) == 2:
            said = session.before or ""  # kubectl ended before a prompt: its error says why
        else:
            session.sendline("id; exit")
            session.expect(pexpect.EOF, timeout=15)
            said = session.before or ""
    except pexpect.ExceptionPexpect as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise CannotGrade(f"kubectl exec -it into {namespace}/{pod} did not complete: {reason}") from None
    finally:
        session.close(force=True)
    if "uid=" not in said:
        raise CannotGrade(f"{shell} did not run `id` in {namespace}/{pod} through a terminal: {said.strip()[-200:]}")
    return said


def exec_without_terminal(kubeconfig: Path, namespace: str, pod: str, container: str, *command: str) -> str:
    """`kubectl exec POD -- COMMAND` with no terminal; returns its output."""
    args = [*_kubectl(kubeconfig), "exec", "-n", namespace, pod, "-c", container, "--", *command]
    result = subprocess.run(args, capture_output=True, text=True, timeout=30, check=False)
    if result.returncode != 0:
        raise CannotGrade(f"kubectl exec into {namespace}/{pod} failed: {result.stderr.strip()[:300]}")
    return result.stdout
