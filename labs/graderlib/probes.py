"""Probes that run inside containers and prove they ran, so that "the write was denied" is never confused with
"the command never ran" (exec refused, container gone, no shell)."""

from __future__ import annotations

import json
import secrets
import shlex
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

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


@dataclass(frozen=True)
class _Exec:
    """The raw outcome of one exec: what it printed, or why it could not run (`error` with `exit_code` None)."""

    stdout: str
    stderr: str
    exit_code: int | None
    error: str


def _marker(nonce: str, suffix: str) -> tuple[str, str]:
    """A line the shell prints and the text that prints it; the command never contains the printed line itself
    (`echo ab""cd` prints `abcd`), so an echoed command line cannot pass for a probe that ran."""
    half = len(nonce) // 2
    return f"{nonce}{suffix}", f'echo {nonce[:half]}""{nonce[half:]}{suffix}'


def _steps_script(nonce: str, steps: list[str]) -> str:
    """A shell script running each step in a subshell (stderr merged), between a begin and an end marker that
    carries the step's exit status."""
    lines = []
    for index, step in enumerate(steps):
        lines.append(_marker(nonce, f":{index}:begin")[1])
        lines.append(f"( {step} ) 2>&1; status=$?; echo; {_marker(nonce, f':{index}:end:')[1]}$status")
    return "\n".join(lines)


def _step_results(stdout: str, nonce: str, count: int, failure: str) -> list[ExecResult]:
    """Each step's ExecResult from the output of a steps script (see Probe.steps): a step ran when its begin and
    end markers were printed; its output is what it printed between them (stderr included)."""
    outputs: dict[int, list[str]] = {}
    codes: dict[int, int] = {}
    current = None
    for line in stdout.splitlines():
        if not line.startswith(f"{nonce}:"):
            if current is not None:
                outputs[current].append(line)
            continue
        index, mark, *code = line.removeprefix(f"{nonce}:").split(":")
        if mark == "begin":
            current = int(index)
            outputs[current] = []
        elif mark == "end" and current == int(index):
            codes[current] = int(code[0])
            current = None
    return [
        ExecResult(True, codes[i], "\n".join(outputs[i]).strip(), "")
        if i in codes
        else ExecResult(False, None, "", "", failure or "the step never started")
        for i in range(count)
    ]


def refusal(error: Any) -> str:
    """Why the API server refused an exec (an ApiException), without the HTTP headers: the websocket client folds
    the handshake's status line, headers and body into `reason` ("Handshake status 500 Internal Server Error -+-+-
    {headers} -+-+- {Status}"); the Status's code and message say it best."""
    status_line, _, rest = f"{error.reason}".partition(" -+-+- ")
    body = rest.rpartition(" -+-+- ")[2] or error.body or ""
    try:
        said = json.loads(body)
        return f"{said['code']} {said['message']}"
    except (ValueError, TypeError, KeyError):
        return " ".join(str(part) for part in (error.status, status_line, body) if part)


class Probe:
    """Runs shell snippets in containers through the API server's exec (no kubectl, no node access needed)."""

    def __init__(self, kube: Kube, timeout: float = 20) -> None:
        self.kube = kube
        self.timeout = timeout

    def _exec(self, core: Any, namespace: str, pod: str, container: str, script: str) -> _Exec:
        """`/bin/sh -c script` in the container through `core` (a CoreV1Api); CannotGrade when the cluster does not
        answer or refuses exec as such."""
        from kubernetes.client.exceptions import ApiException
        from kubernetes.stream import stream

        try:
            ws = stream(
                core.connect_get_namespaced_pod_exec,
                pod,
                namespace,
                container=container,
                command=["/bin/sh", "-c", script],
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
            return _Exec("", "", None, f"exec refused: {refusal(error)}")
        except Exception as error:
            translated = cannot_grade(error, self.kube.server)
            if translated:
                raise translated from None
            return _Exec("", "", None, f"exec failed: {error}")
        try:
            deadline = time.monotonic() + self.timeout
            while ws.is_open() and time.monotonic() < deadline:
                ws.update(timeout=max(0.0, deadline - time.monotonic()))
            timed_out = ws.is_open()
            stdout, stderr = ws.read_stdout(), ws.read_stderr()
            exit_code, error = _exit_code(ws.read_channel(ERROR_CHANNEL)) if not timed_out else (None, "timed out")
        finally:
            ws.close()
        return _Exec(stdout, stderr, exit_code, error)

    def run(self, namespace: str, pod: str, container: str, script: str) -> ExecResult:
        """Run `script` with /bin/sh in the container; `ran` says whether it really started there."""
        nonce = secrets.token_hex(8)
        printed, echo = _marker(nonce, "")
        outcome = self._exec(self.kube.core, namespace, pod, container, f"{echo}; {script}")
        first, _, rest = outcome.stdout.partition("\n")
        ran = first.strip() == printed
        return ExecResult(
            ran, outcome.exit_code if ran else None, rest if ran else outcome.stdout, outcome.stderr, outcome.error
        )

    def steps(self, namespace: str, pod: str, container: str, steps: list[str], core: Any = None) -> list[ExecResult]:
        """Run several shell snippets in one exec, each in its own subshell, one ExecResult each (its output with
        stderr merged, its exit status); a step that never started is `ran=False`."""
        nonce = secrets.token_hex(8)
        outcome = self._exec(core or self.kube.core, namespace, pod, container, _steps_script(nonce, steps))
        failure = " ".join(part.strip() for part in (outcome.error, outcome.stderr) if part.strip())
        return _step_results(outcome.stdout, nonce, len(steps), failure)

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
        return self.writes(namespace, pod, [(container, directory)])[(container, directory)]

    def writes(self, namespace: str, pod: str, targets: Iterable[tuple[str, str]]) -> dict[tuple[str, str], WriteProbe]:
        """Try to create (then remove) a file in each (container, directory) of a pod: one exec per container, all
        containers at once; each write proves its own attempt happened."""
        directories: dict[str, list[str]] = {}
        for container, directory in targets:
            if directory not in directories.setdefault(container, []):
                directories[container].append(directory)

        def probe(container: str, core: Any = None) -> dict[tuple[str, str], WriteProbe]:
            paths = [f"{d.rstrip('/')}/.lab-probe-{secrets.token_hex(4)}" for d in directories[container]]
            writes = [f": > {q} && {{ rm -f {q} 2>/dev/null; true; }}" for q in map(shlex.quote, paths)]
            results = self.steps(namespace, pod, container, writes, core)
            return {
                (container, d): WriteProbe(p, r) for d, p, r in zip(directories[container], paths, results, strict=True)
            }

        if len(directories) <= 1:
            return {key: value for container in directories for key, value in probe(container).items()}
        return self._at_once(probe, list(directories))

    def _at_once(self, probe: Callable[..., dict], containers: list[str]) -> dict:
        """`probe(container, core)` for every container in parallel threads, each with an API client of its own
        (the kubernetes library's exec swaps a method of the client it runs on while it connects)."""
        from kubernetes import client

        clients = [client.ApiClient(self.kube.api_client.configuration) for _ in containers]
        try:
            with ThreadPoolExecutor(max_workers=len(containers)) as pool:
                futures = [
                    pool.submit(probe, container, client.CoreV1Api(api_client))
                    for container, api_client in zip(containers, clients, strict=True)
                ]
                results: dict = {}
                for future in futures:
                    results |= future.result()
                return results
        finally:
            for api_client in clients:
                api_client.close()
