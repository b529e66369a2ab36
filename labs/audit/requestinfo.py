"""From a request URI to the attributes the audit policy is evaluated on (kube-apiserver's RequestInfoFactory)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

_API_PREFIXES = ("api", "apis")
_SPECIAL_VERBS = ("proxy", "watch")
_NAMESPACE_SUBRESOURCES = ("status", "finalize")


@dataclass(frozen=True)
class UriInfo:
    """What the apiserver reads from a URL: a resource request (group, namespace, resource, name, subresource, and
    the verb when the path itself names it: /api/v1/watch/...), or a non-resource path."""

    is_resource_request: bool
    path: str
    api_group: str = ""
    namespace: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""
    path_verb: str = ""


def parse_request_uri(uri: str, verb: str = "") -> UriInfo:
    """Split `uri` (path and query) like NewRequestInfo; `verb` (the audit event's) decides whether a
    `fieldSelector=metadata.name=X` names the object (list and watch only)."""
    split = urlsplit(uri)
    path = split.path
    parts = [part for part in path.strip("/").split("/")] if path.strip("/") else []
    if len(parts) < 3 or parts[0] not in _API_PREFIXES:
        return UriInfo(False, path)
    group = ""
    rest = parts[1:]
    if parts[0] == "apis":
        if len(rest) < 3:
            return UriInfo(False, path)
        group, rest = rest[0], rest[1:]
    rest = rest[1:]  # the version
    path_verb = ""
    if rest[0] in _SPECIAL_VERBS and len(rest) >= 2:
        path_verb, rest = rest[0], rest[1:]
    namespace = ""
    if rest[0] == "namespaces" and len(rest) > 1:
        namespace = rest[1]
        if len(rest) > 2 and rest[2] not in _NAMESPACE_SUBRESOURCES:
            rest = rest[2:]
    resource = rest[0]
    name = rest[1] if len(rest) >= 2 else ""
    subresource = rest[2] if len(rest) >= 3 and (path_verb or verb) != "proxy" else ""
    if not name and not path_verb and verb in ("list", "watch"):
        name = _name_from_field_selector(split.query)
    return UriInfo(True, path, group, namespace, resource, subresource, name, path_verb)


def _name_from_field_selector(query: str) -> str:
    selectors = parse_qs(query).get("fieldSelector")
    if not selectors:
        return ""
    for requirement in selectors[0].split(","):
        for operator in ("==", "="):
            key, found, value = requirement.partition(operator)
            if found and key.strip() == "metadata.name" and "!" not in key:
                value = value.strip()
                if value and "/" not in value and "%" not in value and value not in (".", ".."):
                    return value
                return ""
    return ""
