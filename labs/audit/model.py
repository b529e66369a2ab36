"""The audit.k8s.io/v1 Policy as kube-apiserver holds it after decoding, and the request attributes it evaluates."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

LEVELS = ("None", "Metadata", "Request", "RequestResponse")
STAGES = ("RequestReceived", "ResponseStarted", "ResponseComplete", "Panic")
DEFAULT_LEVEL = "None"


@dataclass(frozen=True)
class GroupResources:
    """One `resources[]` entry of a rule: an API group, optionally narrowed to resources and object names."""

    group: str = ""
    resources: tuple[str, ...] = ()
    resource_names: tuple[str, ...] = ()


@dataclass(frozen=True)
class PolicyRule:
    """One rule; empty lists mean "any", as in the Go type. `omit_managed_fields` None means "use the policy's"."""

    level: str = ""
    users: tuple[str, ...] = ()
    user_groups: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ()
    resources: tuple[GroupResources, ...] = ()
    namespaces: tuple[str, ...] = ()
    non_resource_urls: tuple[str, ...] = ()
    omit_stages: tuple[str, ...] = ()
    omit_managed_fields: bool | None = None


@dataclass(frozen=True)
class Request:
    """The attributes the apiserver evaluates a policy on. `path` set means a non-resource request (e.g. /healthz);
    `user` None means failed authentication (no user at all)."""

    user: str | None
    groups: tuple[str, ...] = ()
    verb: str = ""
    api_group: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    path: str | None = None

    @property
    def is_resource_request(self) -> bool:
        return self.path is None

    @property
    def combined_resource(self) -> str:
        """`pods` or `pods/log`: what a `resources` entry is compared with."""
        return f"{self.resource}/{self.subresource}" if self.subresource else self.resource

    def describe(self) -> str:
        """A one-line human description, e.g. `alice delete pods "web" in namespace prod`."""
        who = "a request that failed authentication (no user)" if self.user is None else repr(self.user)
        if not self.is_resource_request:
            return f"{who} {self.verb} {self.path}"
        group = f"{self.api_group}/" if self.api_group else ""
        what = f"{group}{self.combined_resource}"
        name = f" {self.name!r}" if self.name else ""
        where = f" in namespace {self.namespace!r}" if self.namespace else " (cluster-scoped or all namespaces)"
        return f"{who} {self.verb} {what}{name}{where}"


class RequestError(ValueError):
    """A request given to the evaluator is malformed (not the apiserver's business: our input format)."""


_RESOURCE_KEYS = ("apiGroup", "resource", "subresource", "namespace", "name")
_KNOWN_KEYS = frozenset(("user", "groups", "verb", "path", *_RESOURCE_KEYS))


def request_from_dict(data: Mapping[str, Any]) -> Request:
    """Build a Request from the JSON form {"user", "groups", "verb", "apiGroup", "resource", "subresource",
    "namespace", "name"} or, for a non-resource request, {"user", "groups", "verb", "path"}."""
    if not isinstance(data, Mapping):
        raise RequestError(f"a request must be a JSON object, got {type(data).__name__}")
    unknown = sorted(set(data) - _KNOWN_KEYS)
    if unknown:
        raise RequestError(f"unknown request field(s) {', '.join(unknown)}; known: {', '.join(sorted(_KNOWN_KEYS))}")
    user = data.get("user")
    if user is not None and not isinstance(user, str):
        raise RequestError('"user" must be a string or null')
    groups = data.get("groups") or []
    if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
        raise RequestError('"groups" must be a list of strings')
    verb = data.get("verb")
    if not isinstance(verb, str) or not verb:
        raise RequestError('"verb" is required (a Kubernetes verb such as "get", or a lower-case HTTP method)')
    path = data.get("path")
    if path is not None:
        if not isinstance(path, str):
            raise RequestError('"path" must be a string')
        mixed = [key for key in _RESOURCE_KEYS if data.get(key)]
        if mixed:
            raise RequestError(f'a non-resource request ("path") cannot also have {", ".join(mixed)}')
        return Request(user=user, groups=tuple(groups), verb=verb, path=path)
    values = {}
    for key in _RESOURCE_KEYS:
        value = data.get(key) or ""
        if not isinstance(value, str):
            raise RequestError(f'"{key}" must be a string')
        values[key] = value
    if not values["resource"]:
        raise RequestError('a resource request needs "resource" (or give "path" for a non-resource request)')
    return Request(
        user=user,
        groups=tuple(groups),
        verb=verb,
        api_group=values["apiGroup"],
        resource=values["resource"],
        subresource=values["subresource"],
        namespace=values["namespace"],
        name=values["name"],
    )


@dataclass(frozen=True)
class Decision:
    """What the apiserver decides for one request: the level, the stages it will not emit (the policy's plus the
    rule's), the 0-based index of the first matching rule (None: no rule matched, level None), omitManagedFields."""

    level: str
    omit_stages: tuple[str, ...]
    rule_index: int | None
    omit_managed_fields: bool = False

    def as_json(self) -> dict[str, Any]:
        return {"level": self.level, "omitStages": list(self.omit_stages), "rule": self.rule_index}


@dataclass
class Policy:
    """A decoded policy (what survived lenient decoding): data only; labs.audit.evaluate evaluates requests on it."""

    rules: tuple[PolicyRule, ...] = ()
    omit_stages: tuple[str, ...] = ()
    omit_managed_fields: bool = False
    compiled: Any = field(default=None, init=False, repr=False, compare=False)  # labs.audit.evaluate's, once
