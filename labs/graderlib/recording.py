"""A grader judged without a cluster (offline), on what it read from one once.

- `Recorder`, a pytest plugin given to labs.grading.plugin.grade on a cluster, keeps every answer the grader got:
  the API server's responses (method and path -> status and body) and the nodes' command results (node -> command
  -> exit status and output; a node's files are read with commands too). That is a `Recording`.
- `Replay` answers a grader from a recording. A request or command that was not recorded (a probe with a fresh
  name, an exec, a recording older than the grader) makes its criterion not gradable offline, never a guess.

Mutation testing (tests/mutation.py) changes a file or an API object of a recording (`Recording.with_file`,
`with_object`, `without_object`) and grades each mutant offline in a fraction of a second.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shlex
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from labs.grading.plugin import NotGradable
from labs.k8s import Kube

OFFLINE = "not gradable offline"
OFFLINE_SERVER = "https://recorded.invalid"
REDACTED = base64.b64encode(b"redacted by the recording").decode()


@dataclass(frozen=True)
class Recording:
    """What a grader was answered: `api` maps `METHOD /path?query` (and a digest of a request's body) to
    `{"status", "body"}`; `nodes` maps node -> shell command -> `{"rc", "stdout", "stderr"}`."""

    api: dict[str, dict[str, Any]] = field(default_factory=dict)
    nodes: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "api": dict(sorted(self.api.items())),
            "nodes": {node: dict(sorted(commands.items())) for node, commands in sorted(self.nodes.items())},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Recording:
        return cls(api=dict(data.get("api") or {}), nodes={k: dict(v) for k, v in (data.get("nodes") or {}).items()})

    def file_text(self, node: str, path: str) -> str | None:
        """The recorded content of `path` on `node` (None if it was never read)."""
        read = self.nodes.get(node, {}).get(f"cat -- {shlex.quote(path)}")
        return read["stdout"] if read and read["rc"] == 0 else None

    def with_file(self, node: str, path: str, text: str) -> Recording:
        """The recording as if `path` on `node` held `text`: it is a regular file with that content; any other
        recorded command about it (its size, its time, a grep) is forgotten."""
        quoted = shlex.quote(path)
        known = {
            f"cat -- {quoted}": (0, text),
            f"test -e {quoted}": (0, ""),
            f"test -f {quoted}": (0, ""),
            f"test -d {quoted}": (1, ""),
            f"sha256sum {quoted} | cut -d ' ' -f 1": (0, hashlib.sha256(text.encode()).hexdigest() + "\n"),
        }
        commands = {c: answer for c, answer in self.nodes.get(node, {}).items() if quoted not in c and path not in c}
        commands |= {c: {"rc": rc, "stdout": out, "stderr": ""} for c, (rc, out) in known.items()}
        return replace(self, nodes={**self.nodes, node: commands})

    def with_object(self, changed: dict[str, Any]) -> Recording:
        """The recording as if the object with `changed`'s uid were `changed`, in every response that has it."""
        uid = _uid(changed)

        def swapped(body: Any) -> Any:
            if not isinstance(body, dict):
                return body
            if _uid(body) == uid:
                return changed
            if "items" in body:
                return {**body, "items": [changed if _uid(item) == uid else item for item in body["items"] or []]}
            return body

        api = {request: {**answer, "body": swapped(answer.get("body"))} for request, answer in self.api.items()}
        return replace(self, api=api)

    def without_object(self, uid: str) -> Recording:
        """The recording as if the object with this uid had been deleted: reading it answers 404 Not Found, and
        lists no longer have it."""

        def answered(answer: dict[str, Any]) -> dict[str, Any]:
            body = answer.get("body")
            if _uid(body) == uid:
                meta = body.get("metadata") or {}
                message = f"{body.get('kind', 'object')} {meta.get('name', '')!r} not found"
                status = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404}
                return {"status": 404, "body": {**status, "message": message}}
            if isinstance(body, dict) and "items" in body:
                return {**answer, "body": {**body, "items": [i for i in body["items"] or [] if _uid(i) != uid]}}
            return answer

        return replace(self, api={request: answered(answer) for request, answer in self.api.items()})


def _uid(item: Any) -> str | None:
    return (item.get("metadata") or {}).get("uid") if isinstance(item, dict) else None


PUBLIC_SECRET_KEYS = ("tls.crt", "ca.crt")  # a TLS Secret's certificates, which every client is shown anyway


def _redacted(body: Any) -> Any:
    """A Secret's (or a list of them) values replaced, but for certificates: no credentials in a recording."""
    if isinstance(body, dict) and body.get("kind") in ("Secret", "SecretList"):
        items = body.get("items") if body.get("kind") == "SecretList" else [body]
        for item in items or []:
            data = item.get("data") or {}
            item["data"] = {key: value if key in PUBLIC_SECRET_KEYS else REDACTED for key, value in data.items()}
            item.pop("stringData", None)
    return body


def request_key(method: str, url: str, body: Any) -> str:
    """`GET /api/v1/namespaces/x/pods/y?limit=1`, and a digest of the request's body when it has one."""
    path = url.split("://", 1)[-1]
    path = path[path.find("/") :] if "/" in path else "/"
    if body is None:
        return f"{method} {path}"
    digest = hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()[:12]
    return f"{method} {path} body:{digest}"


class _Response:
    """What the kubernetes client reads of an HTTP response."""

    def __init__(self, status: int, body: Any) -> None:
        self.status = status
        self.reason = "recorded"
        self.data = (body if isinstance(body, str) else json.dumps(body)).encode()
        self.headers = {"content-type": "application/json"}

    def read(self) -> bytes:
        return self.data

    def getheaders(self) -> dict[str, str]:
        return self.headers

    def getheader(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)


def _decoded(data: bytes) -> Any:
    text = data.decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        return text


class Recorder:
    """Pytest plugin for a grading on a cluster: keeps every answer of the API server (through `kube`, the
    target's API clients) and of the nodes (`recording()`)."""

    def __init__(self, kube: Kube) -> None:
        self._kube = kube
        self._api: dict[str, dict[str, Any]] = {}
        self._nodes: dict[str, dict[str, dict[str, Any]]] = {}

    def recording(self) -> Recording:
        return Recording(api=dict(self._api), nodes={k: dict(v) for k, v in self._nodes.items()})

    @pytest.fixture(scope="session", autouse=True)
    def _api_recorded(self) -> Iterator[None]:
        rest = self._kube.api_client.rest_client
        request = rest.request

        def recorded(method: str, url: str, headers: Any = None, body: Any = None, **kwargs: Any) -> Any:
            response = request(method, url, headers=headers, body=body, **kwargs)
            data = response.read()
            self._api[request_key(method, url, body)] = {"status": response.status, "body": _redacted(_decoded(data))}
            return response

        rest.request = recorded
        yield
        rest.request = request

    @pytest.fixture(scope="session")
    def node(self, node: Callable[[str], Any]) -> Callable[[str], Any]:
        def get(name: str) -> Any:
            host = node(name)
            backend = host.backend
            if not getattr(backend, "_cks_recorded", False):
                run, commands = backend.run, self._nodes.setdefault(name, {})

                def recorded(command: str, *args: str, **kwargs: Any) -> Any:
                    result = run(command, *args, **kwargs)
                    commands[backend.quote(command, *args)] = {
                        "rc": result.rc, "stdout": result.stdout, "stderr": result.stderr
                    }  # fmt: skip
                    return result

                backend.run, backend._cks_recorded = recorded, True
            return host

        return get


class _Rest:
    """The kubernetes client's REST client, answering from a recording."""

    def __init__(self, api: dict[str, dict[str, Any]]) -> None:
        self._api = api

    def request(self, method: str, url: str, headers: Any = None, body: Any = None, **kwargs: Any) -> _Response:
        key = request_key(method, url, body)
        answer = self._api.get(key)
        if answer is None:
            raise NotGradable(f"{OFFLINE}: the API server was not asked {key} when the scenario was recorded")
        return _Response(answer["status"], answer["body"])


def replay_kube(recording: Recording) -> Kube:
    """A Kube whose API clients answer from the recording."""
    from kubernetes import client

    class RecordedApiClient(client.ApiClient):
        """An ApiClient (and any other made like it, e.g. by a probe) that answers from the recording."""

        def __init__(self, configuration: client.Configuration) -> None:
            super().__init__(configuration)
            self.rest_client = _Rest(recording.api)

    configuration = client.Configuration()
    configuration.host = OFFLINE_SERVER
    kube = Kube(Path(os.devnull))
    kube.__dict__["api_client"] = RecordedApiClient(configuration)  # the cached property, filled
    return kube


def replay_host(name: str, commands: dict[str, dict[str, Any]]) -> Any:
    """A pytest-testinfra host for node `name` whose commands answer from the recording."""
    import testinfra.host
    from testinfra.backend.base import BaseBackend, CommandResult

    class Recorded(BaseBackend):
        NAME = "recorded"

        def run(self, command: str, *args: str, **kwargs: Any) -> CommandResult:
            line = self.quote(command, *args)
            answer = commands.get(line)
            if answer is None:
                raise NotGradable(f"{OFFLINE}: node {name} was not asked `{line[:120]}` when the scenario was recorded")
            return CommandResult(self, answer["rc"], line.encode(), answer["stdout"], answer["stderr"])

    backend = Recorded(name)
    backend._encoding = "utf-8"
    return testinfra.host.Host(backend)


class Replay:
    """Pytest plugin for a grading without a cluster: the API server and the nodes answer from a recording
    (give the grading `replay.target` as its target: labs' fixtures reach the cluster through it too)."""

    def __init__(self, recording: Recording, kube: Kube) -> None:
        self._recording = recording
        self._kube = kube

    @pytest.fixture(scope="session")
    def kube(self) -> Kube:
        return self._kube

    @pytest.fixture(scope="session")
    def node(self) -> Callable[[str], Any]:
        def get(name: str) -> Any:
            if name not in self._recording.nodes:
                raise NotGradable(f"{OFFLINE}: node {name} was not reached when the scenario was recorded")
            return replay_host(name, self._recording.nodes[name])

        return get

    @pytest.fixture(scope="session")
    def exec_probe(self) -> Any:
        raise NotGradable(f"{OFFLINE}: it runs commands in containers")
