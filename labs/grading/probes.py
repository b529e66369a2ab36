"""Probes that run inside containers and prove they ran, so that "the write was denied" is never confused with
"the command never ran" (exec refused, container gone, no shell)."""

from __future__ import annotations

import secrets
import shlex
import time
from dataclasses import dataclass

import yaml

from labs.errors import CannotGrade
from labs.k8s import Kube, cannot_grade

ERROR_CHANNEL = 3


@dataclass(frozen=True)
class ExecResult:
    """What happened to a command run in a container.

    `ran` is True only when the shell echoed this run's random nonce before the command, i.e. the command really
    started inside the container; `exit_code` is then the command's exit status.
    """

    ran: bool
    exit_code: int | None
    stdout: str
    stderr: str
    error: str = ""

    @property
    def succeeded(self) -> bool:
        return self.ran and self.exit_code == 0

    @property
    def output(self) -> str:
        """stdout and stderr (or the reason the exec failed), stripped, for messages."""
        return " ".join(part.strip() for part in (self.stdout, self.stderr, self.error) if part.strip())[:400]


@dataclass(frozen=True)
class WriteProbe:
    """The outcome of trying to create a file in a directory of a container."""

    path: str
    exec: ExecResult

    @property
    def ran(self) -> bool:
        return self.exec.ran

    @property
    def written(self) -> bool:
        return self.exec.succeeded

    @property
    def read_only(self) -> bool:
        """The write was attempted and the kernel said the filesystem is read-only (EROFS)."""
        return self.ran and not self.written and "read-only file system" in self.exec.output.lower()

    def describe(self) -> str:
        """`write to /x: denied (Read-only file system)` and the like, for criterion messages."""
        if not self.ran:
            return f"the write probe for {self.path} did not run ({self.exec.output or 'no output'})"
        if self.written:
            return f"write to {self.path}: succeeded"
        return f"write to {self.path}: failed ({self.exec.output or f'exit code {self.exec.exit_code}'})"


@dataclass(frozen=True)
class HttpResponse:
    """An HTTP response obtained through the API server's proxy to a pod (status None: no response at all)."""

    status: int | None
    body: str
    error: str = ""

    def describe(self) -> str:
        """`HTTP 200 (612 bytes)` or what went wrong."""
        if self.status is None:
            return f"no response ({self.error})"
        text = f"HTTP {self.status} ({len(self.body)} bytes)"
        return f"{text}: {self.error}" if self.error else text


def _exit_code(error_channel: str) -> tuple[int | None, str]:
    try:
        status = yaml.safe_load(error_channel) or {}
    except yaml.YAMLError:
        return None, error_channel.strip()
    if status.get("status") == "Success":
        return 0, ""
    for cause in (status.get("details") or {}).get("causes") or []:
        if cause.get("reason") == "ExitCode":
            return int(cause.get("message", "1")), ""
    return None, status.get("message", "") or error_channel.strip()


class Probe:
    """Runs shell snippets in containers through the API server's exec (no kubectl, no node access needed)."""

    def __init__(self, kube: Kube, timeout: float = 20) -> None:
        self.kube = kube
        self.timeout = timeout

    def run(self, namespace: str, pod: str, container: str, script: str) -> ExecResult:
        """Run `script` with /bin/sh in the container; `ran` says whether it really started there."""
        from kubernetes.client.exceptions import ApiException
        from kubernetes.stream import stream

        nonce = secrets.token_hex(8)
        command = ["/bin/sh", "-c", f"echo {nonce}; {script}"]
        try:
            ws = stream(
                self.kube.core.connect_get_namespaced_pod_exec,
                pod,
                namespace,
                container=container,
                command=command,
                stdout=True,
                stderr=True,
                stdin=False,
                tty=False,
                _preload_content=False,
            )
        except ApiException as error:
            translated = cannot_grade(error, self.kube.server)
            if translated and error.status != 403:
                raise translated from None
            if error.status == 403 and "exec" in str(error.body):
                raise CannotGrade(f"not allowed to exec into {namespace}/{pod}: {error.reason}") from None
            return ExecResult(False, None, "", "", f"exec refused: {error.status} {error.reason} {error.body or ''}")
        except Exception as error:
            translated = cannot_grade(error, self.kube.server)
            if translated:
                raise translated from None
            return ExecResult(False, None, "", "", f"exec failed: {error}")
        try:
            deadline = time.monotonic() + self.timeout
            while ws.is_open() and time.monotonic() < deadline:
                ws.update(timeout=max(0.0, deadline - time.monotonic()))
            timed_out = ws.is_open()
            stdout, stderr = ws.read_stdout(), ws.read_stderr()
            exit_code, error = _exit_code(ws.read_channel(ERROR_CHANNEL)) if not timed_out else (None, "timed out")
        finally:
            ws.close()
        first, _, rest = stdout.partition("\n")
        ran = first.strip() == nonce
        return ExecResult(ran, exit_code if ran else None, rest if ran else stdout, stderr, error)

    def http(self, namespace: str, pod: str, port: int, path: str = "") -> HttpResponse:
        """GET `path` on a port of the pod, through the API server's pod proxy (works wherever the API does)."""
        from kubernetes.client.exceptions import ApiException

        try:
            response = self.kube.core.connect_get_namespaced_pod_proxy_with_path(
                f"{pod}:{port}", namespace, path, _preload_content=False, _request_timeout=self.timeout
            )
        except ApiException as error:
            translated = cannot_grade(error, self.kube.server)
            if translated:
                raise translated from None
            return HttpResponse(error.status, "", str(error.body or error.reason)[:300])
        except Exception as error:
            translated = cannot_grade(error, self.kube.server)
            if translated:
                raise translated from None
            return HttpResponse(None, "", str(error)[:300])
        return HttpResponse(response.status, response.data.decode(errors="replace"))

    def write(self, namespace: str, pod: str, container: str, directory: str) -> WriteProbe:
        """Try to create (then remove) a file in `directory`; the probe proves the attempt happened."""
        path = f"{directory.rstrip('/')}/.lab-probe-{secrets.token_hex(4)}"
        quoted = shlex.quote(path)
        result = self.run(namespace, pod, container, f": > {quoted} && {{ rm -f {quoted} 2>/dev/null; true; }}")
        return WriteProbe(path, result)
