"""Kubernetes access for the engine and the graders: typed API clients from a kubeconfig, errors translated into
"could not grade", and waiting for pods to settle. Imports the kubernetes library lazily (it is slow to import)."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from labs.errors import CannotGrade

if TYPE_CHECKING:
    from kubernetes import client

# Waiting reasons after which a container will not become ready by itself.
STUCK_REASONS = frozenset(
    {
        "CrashLoopBackOff",
        "ErrImagePull",
        "ImagePullBackOff",
        "InvalidImageName",
        "CreateContainerConfigError",
        "CreateContainerError",
        "RunContainerError",
    }
)
REQUEST_TIMEOUT = 15


_kept: dict[tuple[str, bytes], Kube] | None = None


def keep_connections() -> None:
    """From now on `kube_for` gives the same Kube (and its open connections) for a kubeconfig until the file's content
    changes: for a process that runs many commands one after the other (the grading worker)."""
    global _kept
    _kept = {}


def kube_for(kubeconfig: Path) -> Kube:
    """Typed API clients for the cluster of `kubeconfig` (kept between commands after `keep_connections()`)."""
    if _kept is None:
        return Kube(kubeconfig)
    try:
        content = hashlib.sha256(Path(kubeconfig).read_bytes()).digest()
    except OSError:
        return Kube(kubeconfig)  # the error is reported where the kubeconfig is used
    key = (str(kubeconfig), content)
    if key not in _kept:
        _kept[key] = Kube(kubeconfig)
    return _kept[key]


def cannot_grade(error: BaseException, server: str) -> CannotGrade | None:
    """The CannotGrade that an API or connection error amounts to (None for anything else)."""
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    if isinstance(error, CannotGrade):
        return error
    if isinstance(error, ApiException) and error.status in (401, 403):
        reason = "not authenticated" if error.status == 401 else "forbidden"
        refused = f"the API server at {server} refused the request ({error.status} {reason})"
        return CannotGrade(f"{refused}: {_api_message(error)}")
    if isinstance(error, ApiException) and (error.status or 0) >= 500:
        unavailable = f"the API server at {server} answered {error.status} {error.reason or ''}".rstrip()
        return CannotGrade(f"{unavailable}: {_api_message(error)} (is it starting? try again in a minute)")
    if isinstance(error, HTTPError | ConnectionError | TimeoutError):
        return CannotGrade(f"cluster unreachable at {server}: {_reason(error)}")
    return None


def _reason(error: BaseException) -> str:
    inner = getattr(error, "reason", None)
    return str(inner or error).split(": ", 1)[-1][:200]


def _api_message(error: Any) -> str:
    import json

    try:
        return json.loads(error.body).get("message", error.reason)
    except (TypeError, ValueError, AttributeError):
        return str(error.reason)


@dataclass
class Kube:
    """Typed API clients for one cluster: `kube.core`, `kube.apps`, `kube.rbac`, `kube.networking`,
    `kube.authorization`, ..."""

    kubeconfig: Path
    _clients: dict = field(default_factory=dict, repr=False)

    @cached_property
    def api_client(self) -> client.ApiClient:
        from kubernetes import client, config
        from kubernetes.config.config_exception import ConfigException

        configuration = client.Configuration()
        try:
            config.load_kube_config(config_file=str(self.kubeconfig), client_configuration=configuration)
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            problem = getattr(error, "problem", None) or "not YAML"
            raise CannotGrade(
                f"kubeconfig {self.kubeconfig} is not valid YAML ({problem}{where}): fix it, or name another with "
                "--kubeconfig"
            ) from None
        except (ConfigException, OSError, ValueError, TypeError, AttributeError) as error:
            raise CannotGrade(f"cannot use kubeconfig {self.kubeconfig}: {error}") from None
        configuration.retries = 1
        return client.ApiClient(configuration)

    @property
    def server(self) -> str:
        """The API server's URL."""
        return self.api_client.configuration.host

    def _api(self, name: str) -> Any:
        if name not in self._clients:
            from kubernetes import client

            self._clients[name] = getattr(client, name)(self.api_client)
        return self._clients[name]

    @property
    def core(self) -> client.CoreV1Api:
        return self._api("CoreV1Api")

    @property
    def apps(self) -> client.AppsV1Api:
        return self._api("AppsV1Api")

    @property
    def rbac(self) -> client.RbacAuthorizationV1Api:
        return self._api("RbacAuthorizationV1Api")

    @property
    def networking(self) -> client.NetworkingV1Api:
        return self._api("NetworkingV1Api")

    @property
    def batch(self) -> client.BatchV1Api:
        return self._api("BatchV1Api")

    @property
    def authorization(self) -> client.AuthorizationV1Api:
        return self._api("AuthorizationV1Api")

    def ping(self, timeout: float = 5) -> str:
        """The cluster's version; raises CannotGrade saying what was tried when it does not answer."""
        from kubernetes import client

        try:
            return client.VersionApi(self.api_client).get_code(_request_timeout=timeout).git_version
        except Exception as error:
            translated = cannot_grade(error, self.server)
            if translated is None:
                raise CannotGrade(f"cluster at {self.server} did not answer: {error}") from None
            raise translated from None

    def get(self, reader: Any, *args: Any) -> Any | None:
        """`reader(*args)` (e.g. kube.core.read_namespaced_pod), or None when the object does not exist."""
        from kubernetes.client.exceptions import ApiException

        try:
            return reader(*args, _request_timeout=REQUEST_TIMEOUT)
        except ApiException as error:
            if error.status == 404:
                return None
            raise

    def close(self) -> None:
        """Release the connection pool."""
        if "api_client" in self.__dict__:
            self.api_client.close()


def pod_is_ready(pod: Any) -> bool:
    """Running with condition Ready=True."""
    conditions = pod.status.conditions or []
    return pod.status.phase == "Running" and any(c.type == "Ready" and c.status == "True" for c in conditions)


def pod_is_stuck(pod: Any) -> bool:
    """A container crashed, or waits for something that will not come by itself (bad image, bad config)."""
    statuses = (pod.status.init_container_statuses or []) + (pod.status.container_statuses or [])
    for status in statuses:
        waiting = status.state and status.state.waiting
        if waiting and waiting.reason in STUCK_REASONS:
            return True
        terminated = status.state and status.state.terminated
        if terminated and terminated.exit_code != 0:
            return True
        if status.restart_count:
            return True
    return pod.status.phase in ("Failed", "Succeeded")


def wait_for_pod(kube: Kube, namespace: str, name: str, timeout: float = 60, interval: float = 1) -> Any | None:
    """The pod once it is Ready, stuck, or the timeout passed (None if it does not exist)."""
    deadline = time.monotonic() + timeout
    while True:
        pod = kube.get(kube.core.read_namespaced_pod, name, namespace)
        if pod is None or pod_is_ready(pod) or pod_is_stuck(pod) or time.monotonic() >= deadline:
            return pod
        time.sleep(interval)


def describe_containers(kube: Kube, pod: Any) -> list[str]:
    """One line per container that is not running and ready: its state, and its last log line when it crashed."""
    lines = []
    spec_init = {c.name for c in pod.spec.init_containers or []}
    statuses = (pod.status.init_container_statuses or []) + (pod.status.container_statuses or [])
    for status in statuses:
        kind = "init container" if status.name in spec_init else "container"
        state = status.state
        if status.ready or (kind == "init container" and state.terminated and state.terminated.exit_code == 0):
            continue
        if state.waiting:
            text = f"{kind} {status.name}: {state.waiting.reason or 'waiting'}"
        elif state.terminated:
            text = f"{kind} {status.name}: exited with {state.terminated.exit_code}"
        else:
            text = f"{kind} {status.name}: running but not ready"
        last = status.last_state and status.last_state.terminated
        if last or state.terminated:
            # the crashed run's log: the previous one once restarted, else the current one
            log = last_log_line(kube, pod, status.name, previous=bool(last)) or last_log_line(
                kube, pod, status.name, previous=not last, attempts=1
            )
            if log:
                text += f" (log: {log})"
        lines.append(text)
    return lines


# What the kubelet answers instead of a log it cannot read (as the log's text, not as an error): no log yet, or the
# file of a run it has just rotated away while the container restarts again.
KUBELET_LOG_ERRORS = ("unable to retrieve container logs", "failed to try resolving symlinks in path")


def last_log_line(kube: Kube, pod: Any, container: str, previous: bool, attempts: int = 4) -> str:
    """The last non-empty log line of a container (of its previous run when `previous`), or ''. Right after a
    container exits the kubelet may not serve its log yet: ask again a few times."""
    from kubernetes.client.exceptions import ApiException

    for attempt in range(attempts):
        try:
            text = kube.core.read_namespaced_pod_log(
                pod.metadata.name,
                pod.metadata.namespace,
                container=container,
                previous=previous,
                tail_lines=5,
                _request_timeout=REQUEST_TIMEOUT,
            )
        except ApiException:
            text = ""
        lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
        if lines and not lines[-1].startswith(KUBELET_LOG_ERRORS):
            return lines[-1][:300]
        if attempt + 1 < attempts:
            time.sleep(0.5)
    return ""
