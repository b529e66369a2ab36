"""The kube-apiserver a node really runs: the flags of the running process (not the manifest's text), whether it is
ready, why it is down, and waiting for the kubelet to restart the static pod after a manifest change.

Reused by every scenario that edits /etc/kubernetes/manifests/kube-apiserver.yaml (audit logging, encryption at
rest, admission). `host` is a pytest-testinfra host (the `node("controlplane")` fixture); `kube` a labs.k8s.Kube.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from labs.audit.manifest import ApiserverManifest, ManifestError, parse_flags, parse_manifest

APISERVER_MANIFEST = "/etc/kubernetes/manifests/kube-apiserver.yaml"
POD_LOGS = "/var/log/pods"
RESTART_TIMEOUT = 150  # seconds: the kubelet notices a changed manifest within ~20 s, the apiserver starts in ~30 s
_ERROR_WORDS = ("error", "failed", "unable", "invalid", "unknown flag", "no such file", "read-only")


def running_apiserver_argv(host: Any) -> list[str] | None:
    """The command line of the newest kube-apiserver process on the node (program name first), None if none runs."""
    result = host.run("pid=$(pgrep -n -x kube-apiserver) && tr '\\0' '\\n' < /proc/$pid/cmdline")
    if result.rc != 0 or not result.stdout.strip():
        return None
    return result.stdout.rstrip("\n").split("\n")


def running_apiserver_flags(host: Any) -> dict[str, str] | None:
    """The running kube-apiserver's flags as it parsed them (name without dashes -> value, the last one wins)."""
    argv = running_apiserver_argv(host)
    return None if argv is None else dict(parse_flags(argv[1:], []))


def wrong_running_flags(running_flags: dict[str, str], expected: dict[str, str]) -> str:
    """What differs between the running kube-apiserver's flags and `expected` (flag name without dashes -> value),
    worded for a failed criterion ("the running kube-apiserver has --x=1 (expected 2), no --y"); "" when nothing."""
    wrong = [
        f"--{flag}={running_flags[flag]} (expected {value})" if flag in running_flags else f"no --{flag}"
        for flag, value in expected.items()
        if running_flags.get(flag) != value
    ]
    return f"the running kube-apiserver has {', '.join(wrong)}" if wrong else ""


def manifest_on_node(host: Any, path: str = APISERVER_MANIFEST) -> ApiserverManifest:
    """The node's kube-apiserver manifest, parsed; ManifestError when it is missing or not a Pod."""
    manifest_file = host.file(path)
    if not manifest_file.exists:
        raise ManifestError(f"{path} does not exist on the node (the kubelet runs no kube-apiserver)")
    try:
        manifest = parse_manifest(manifest_file.content_string)
    except ManifestError as error:
        raise ManifestError(str(error).replace("manifest:", f"{path}:", 1)) from None
    manifest.path = path
    return manifest


def raw_request(
    api_client: Any, method: str, path: str, body: Any = None, query: dict[str, str] | None = None, timeout: float = 15
) -> tuple[int, bytes]:
    """(HTTP status, body) of one request through a kubernetes ApiClient (its credentials and User-Agent). Raises
    what the client raises when no answer came (connection refused, TLS, timeout)."""
    method_, url, headers, serialized, post = api_client.param_serialize(
        method,
        path,
        query_params=list((query or {}).items()),
        header_params={"Content-Type": "application/json", "Accept": "application/json"},
        body=body,
        auth_settings=["BearerToken"],
    )
    response = api_client.call_api(method_, url, headers, serialized, post, _request_timeout=timeout)
    return response.status, response.read() or b""


def apiserver_ready(kube: Any, timeout: float = 5) -> tuple[bool, str]:
    """(ready, what /readyz answered or why it could not be asked)."""
    try:
        status, body = raw_request(kube.api_client, "GET", "/readyz", timeout=timeout)
    except Exception as error:  # connection refused, TLS, timeouts: all mean "not ready"
        return False, f"no answer from {kube.server}: {_short(error)}"
    text = body.decode(errors="replace").strip()
    return status == 200 and text == "ok", f"/readyz: HTTP {status} {text[:200]}"


def _short(error: BaseException) -> str:
    text = str(getattr(error, "reason", None) or error)
    return text.split(": ", 1)[-1][:160]


def last_apiserver_log_errors(host: Any, lines: int = 3) -> list[str]:
    """The last error lines the newest kube-apiserver container wrote (the kubelet keeps them in /var/log/pods)."""
    script = (
        f"ls -t {POD_LOGS}/kube-system_kube-apiserver-*/kube-apiserver/*.log 2>/dev/null | head -1 | "
        "xargs -r tail -n 40"
    )
    result = host.run(script)
    found = []
    for line in result.stdout.splitlines():
        # CRI log lines: "<time> stderr F <klog line>"
        message = line.split(" ", 3)[-1] if " stderr " in line or " stdout " in line else line
        message = message.replace('\\"', '"')  # klog quotes err="..." Go-style
        if (message[:1] in "EF" and message[1:5].isdigit()) or any(w in message.lower() for w in _ERROR_WORDS):
            found.append(message.strip()[:400])
    return found[-lines:]


@dataclass
class ApiserverStatus:
    """What a wait for kube-apiserver found: ready, running with the manifest's flags, and if not, why."""

    ready: bool
    running_flags: dict[str, str] | None
    manifest: ApiserverManifest | None
    readyz: str = ""
    manifest_error: str = ""
    log_errors: list[str] = field(default_factory=list)
    causes: list[str] = field(default_factory=list)  # why it cannot start, known from its files (e.g. the policy)

    @property
    def runs_the_manifest(self) -> bool:
        """The running process has exactly the manifest's flags (the kubelet has applied the last edit)."""
        return (
            self.running_flags is not None and self.manifest is not None and self.running_flags == self.manifest.flags
        )

    @property
    def healthy(self) -> bool:
        return self.ready and self.runs_the_manifest

    def describe(self) -> str:
        """Why kube-apiserver is not healthy, from what the node shows (for a failed criterion)."""
        if self.healthy:
            return "kube-apiserver is ready and runs with the manifest's flags"
        parts = []
        if self.manifest_error:
            parts.append(f"the manifest cannot be used: {self.manifest_error}")
        elif self.manifest is not None and self.manifest.problems:
            parts.append(f"{APISERVER_MANIFEST}: {'; '.join(self.manifest.problems)}")
        if self.running_flags is None:
            parts.append("no kube-apiserver process runs on the node")
        elif self.manifest is not None and not self.runs_the_manifest:
            parts.append("the running kube-apiserver was not started from the current manifest" + _flag_diff(self))
        if not self.ready:
            parts.append(f"not ready ({self.readyz})")
        parts += [f"it cannot start: {cause}" for cause in self.causes]
        if self.log_errors:
            parts.append("its last log lines: " + " | ".join(self.log_errors))
        return "; ".join(parts)


def _flag_diff(status: ApiserverStatus) -> str:
    running, wanted = status.running_flags or {}, status.manifest.flags if status.manifest else {}
    missing = [f"--{k}={v}" for k, v in wanted.items() if running.get(k) != v]
    extra = [f"--{k}" for k in running if k not in wanted]
    details = ([f"manifest flags not running: {', '.join(missing)}"] if missing else []) + (
        [f"running flags not in the manifest: {', '.join(extra)}"] if extra else []
    )
    return f" ({'; '.join(details)})" if details else ""


def apiserver_status(host: Any, kube: Any) -> ApiserverStatus:
    """kube-apiserver right now: the running flags, the manifest on the node, /readyz."""
    try:
        manifest, manifest_error = manifest_on_node(host), ""
    except ManifestError as error:
        manifest, manifest_error = None, str(error)
    ready, readyz = apiserver_ready(kube)
    return ApiserverStatus(ready, running_apiserver_flags(host), manifest, readyz, manifest_error)


def wait_for_apiserver(
    host: Any,
    kube: Any,
    timeout: float = RESTART_TIMEOUT,
    until: Callable[[ApiserverStatus], bool] = lambda status: status.healthy,
    interval: float = 1,
) -> ApiserverStatus:
    """Poll until `until(status)` holds (default: ready with the manifest's flags, i.e. the kubelet has restarted
    it after the last edit) or `timeout` passes; the last status, with the log's error lines when it never held."""
    deadline = time.monotonic() + timeout
    while True:
        status = apiserver_status(host, kube)
        if until(status) or time.monotonic() >= deadline:
            break
        time.sleep(interval)
    if not until(status):
        status.log_errors = last_apiserver_log_errors(host)
    return status


def read_node_file(host: Any, path: str) -> str | None:
    """A text file on the node, None when it does not exist."""
    node_file = host.file(path)
    return node_file.content_string if node_file.exists and node_file.is_file else None


def modified_after_start(host: Any, path: str) -> bool:
    """The file on the node changed after the running kube-apiserver started (it read its files at startup)."""
    quoted = shlex.quote(path)
    script = (
        f"pid=$(pgrep -n -x kube-apiserver) && started=$(stat -c %Y /proc/$pid) && changed=$(stat -c %Y {quoted}) "
        '&& [ "$changed" -gt "$started" ]'
    )
    return host.run(script).rc == 0
