"""Audit log lines as kube-apiserver writes them: `--audit-log-format=json` (one audit.k8s.io/v1 Event per line,
the default) or `legacy` (`<time> AUDIT: id="..." stage="..." ...`)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from labs.audit.model import Request
from labs.audit.requestinfo import parse_request_uri


class AuditLogError(ValueError):
    """A line that is not an audit event; the message says what was expected."""


@dataclass(frozen=True)
class UserInfo:
    username: str = ""
    uid: str = ""
    groups: tuple[str, ...] = ()
    extra: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class ObjectReference:
    resource: str = ""
    namespace: str = ""
    name: str = ""
    uid: str = ""
    api_group: str = ""
    api_version: str = ""
    resource_version: str = ""
    subresource: str = ""


@dataclass(frozen=True)
class AuditEvent:
    """One audit event. `has_request_object`/`has_response_object` tell what the level put in; `raw` is the JSON
    object (empty for legacy lines, which carry less: no level, no objectRef, verb as `method`)."""

    format: str
    audit_id: str
    stage: str
    request_uri: str
    verb: str
    user: UserInfo
    level: str = ""
    impersonated_user: UserInfo | None = None
    source_ips: tuple[str, ...] = ()
    user_agent: str = ""
    object_ref: ObjectReference | None = None
    response_code: int | None = None
    response_status: dict[str, Any] | None = None
    has_request_object: bool = False
    has_response_object: bool = False
    request_object: Any = None
    response_object: Any = None
    request_received_timestamp: datetime | None = None
    stage_timestamp: datetime | None = None
    annotations: dict[str, str] = field(default_factory=dict)
    namespace: str = ""
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


def parse_log_line(line: str) -> AuditEvent:
    """Parse one line of an audit log, JSON or legacy format. Raises AuditLogError on anything else."""
    text = line.strip()
    if not text:
        raise AuditLogError("empty line")
    if text.startswith("{"):
        return _parse_json(text)
    if " AUDIT: " in text:
        return _parse_legacy(text)
    raise AuditLogError(f"not an audit event (neither a JSON object nor a legacy 'AUDIT:' line): {_clip(text)}")


def parse_log(lines: Iterable[str]) -> Iterator[AuditEvent]:
    """Every event of a log, skipping blank lines; a malformed line raises AuditLogError naming its line number."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield parse_log_line(line)
        except AuditLogError as error:
            raise AuditLogError(f"line {number}: {error}") from None


def request_from_event(event: AuditEvent) -> Request:
    """The request attributes the policy was evaluated on, rebuilt from the event: the authenticated user, the
    verb, and the URL (not objectRef.name, which on create comes from the body the policy never saw). An event of a
    failed authentication (401, no username) has no user."""
    info = parse_request_uri(event.request_uri, event.verb)
    user: str | None = event.user.username
    if not user and event.response_code == 401:
        user = None
    groups = event.user.groups
    if not info.is_resource_request:
        return Request(user=user, groups=groups, verb=event.verb, path=info.path)
    return Request(
        user=user,
        groups=groups,
        verb=event.verb,
        api_group=info.api_group,
        resource=info.resource,
        subresource=info.subresource,
        namespace=info.namespace,
        name=info.name,
    )


def _clip(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def _parse_json(text: str) -> AuditEvent:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise AuditLogError(f"invalid JSON ({error.msg} at column {error.colno}): {_clip(text)}") from None
    if not isinstance(data, dict):
        raise AuditLogError("a JSON audit event must be an object")
    if data.get("kind") != "Event" or data.get("apiVersion") != "audit.k8s.io/v1":
        seen = f"kind={data.get('kind')!r} apiVersion={data.get('apiVersion')!r}"
        raise AuditLogError(f'not an audit event: expected kind "Event", apiVersion "audit.k8s.io/v1", got {seen}')
    try:
        return _event_from_json(data)
    except (TypeError, ValueError, AttributeError) as error:
        raise AuditLogError(f"malformed audit event: {error}") from None


def _text(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"{key} must be a string, got {type(value).__name__}")
    return value


def _strings(value: Any, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError(f"{what} must be a list of strings")
    return tuple(value)


def _user(data: Any, what: str) -> UserInfo:
    if data is None:
        return UserInfo()
    if not isinstance(data, dict):
        raise ValueError(f"{what} must be an object")
    extra = data.get("extra") or {}
    if not isinstance(extra, dict):
        raise ValueError(f"{what}.extra must be an object")
    return UserInfo(
        username=_text(data, "username"),
        uid=_text(data, "uid"),
        groups=_strings(data.get("groups"), f"{what}.groups"),
        extra={key: _strings(values, f"{what}.extra.{key}") for key, values in extra.items()},
    )


def _object_ref(data: Any) -> ObjectReference | None:
    if data is None:
        return None
    if not isinstance(data, dict):
        raise ValueError("objectRef must be an object")
    return ObjectReference(
        resource=_text(data, "resource"),
        namespace=_text(data, "namespace"),
        name=_text(data, "name"),
        uid=_text(data, "uid"),
        api_group=_text(data, "apiGroup"),
        api_version=_text(data, "apiVersion"),
        resource_version=_text(data, "resourceVersion"),
        subresource=_text(data, "subresource"),
    )


_TIMESTAMP = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$")


def parse_timestamp(value: Any) -> datetime | None:
    """A MicroTime or RFC3339Nano timestamp as an aware datetime (None for null)."""
    if value is None:
        return None
    match = _TIMESTAMP.match(value) if isinstance(value, str) else None
    if not match:
        raise ValueError(f"invalid timestamp {value!r}")
    base, fraction, zone = match.groups()
    fraction = (fraction or "0")[:6].ljust(6, "0")
    zone = "+00:00" if zone == "Z" else zone
    return datetime.fromisoformat(f"{base}.{fraction}{zone}")


def _event_from_json(data: dict[str, Any]) -> AuditEvent:
    status = data.get("responseStatus")
    if status is not None and not isinstance(status, dict):
        raise ValueError("responseStatus must be an object")
    code = status.get("code") if status else None
    if code is not None and not isinstance(code, int):
        raise ValueError("responseStatus.code must be a number")
    annotations = data.get("annotations") or {}
    if not isinstance(annotations, dict):
        raise ValueError("annotations must be an object")
    impersonated = data.get("impersonatedUser")
    object_ref = _object_ref(data.get("objectRef"))
    return AuditEvent(
        format="json",
        level=_text(data, "level"),
        audit_id=_text(data, "auditID"),
        stage=_text(data, "stage"),
        request_uri=_text(data, "requestURI"),
        verb=_text(data, "verb"),
        user=_user(data.get("user"), "user"),
        impersonated_user=_user(impersonated, "impersonatedUser") if impersonated is not None else None,
        source_ips=_strings(data.get("sourceIPs"), "sourceIPs"),
        user_agent=_text(data, "userAgent"),
        object_ref=object_ref,
        response_code=code,
        response_status=status,
        has_request_object="requestObject" in data,
        has_response_object="responseObject" in data,
        request_object=data.get("requestObject"),
        response_object=data.get("responseObject"),
        request_received_timestamp=parse_timestamp(data.get("requestReceivedTimestamp")),
        stage_timestamp=parse_timestamp(data.get("stageTimestamp")),
        annotations={str(key): str(value) for key, value in annotations.items()},
        namespace=object_ref.namespace if object_ref else "",
        raw=data,
    )


_GO_STRING = r'"(?:[^"\\]|\\.)*"'
_LEGACY_KEYS = ("id", "stage", "ip", "method", "user", "groups", "as", "asgroups", "user-agent", "namespace", "uri")
_LEGACY = re.compile(
    r"^(?P<time>\S+) AUDIT: "
    + " ".join(f"{key}=(?P<{key.replace('-', '_')}>{_GO_STRING})" for key in _LEGACY_KEYS)
    + rf' response=(?P<response>{_GO_STRING}|"[^"]*")$'
)
_GO_ESCAPES = {
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
    '"': '"',
    "'": "'",
}
_GO_ESCAPE = re.compile(r"\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{3}|.)")


def go_unquote(quoted: str) -> str:
    """The inverse of Go's %q for a double-quoted string."""
    if len(quoted) < 2 or quoted[0] != '"' or quoted[-1] != '"':
        raise ValueError(f"not a quoted string: {quoted!r}")

    def replace(match: re.Match[str]) -> str:
        escape = match.group(1)
        if escape[0] in "xuU":
            return chr(int(escape[1:], 16))
        if escape[0].isdigit():
            return chr(int(escape, 8))
        if escape in _GO_ESCAPES:
            return _GO_ESCAPES[escape]
        raise ValueError(f"invalid escape \\{escape}")

    return _GO_ESCAPE.sub(replace, quoted[1:-1])


def _legacy_list(value: str, empty: str) -> tuple[str, ...]:
    """Groups are each %q-quoted and comma-joined (then quoted again), or a placeholder like <none>."""
    if value == empty:
        return ()
    return tuple(go_unquote(item) for item in re.findall(_GO_STRING, value))


def _parse_legacy(text: str) -> AuditEvent:
    match = _LEGACY.match(text)
    if not match:
        raise AuditLogError(
            'malformed legacy audit line: expected `<time> AUDIT: id="..." stage="..." ip="..." method="..." '
            f'user="..." groups="..." as="..." asgroups="..." user-agent="..." namespace="..." uri="..." '
            f'response="..."`, got: {_clip(text)}'
        )
    try:
        fields = {key: go_unquote(value) for key, value in match.groupdict().items() if key != "time"}
        received = parse_timestamp(match.group("time"))
    except ValueError as error:
        raise AuditLogError(f"malformed legacy audit line: {error}") from None
    username = "" if fields["user"] == "<none>" else fields["user"]
    impersonated = None
    if fields["as"] != "<self>":
        impersonated = UserInfo(username=fields["as"], groups=_legacy_list(fields["asgroups"], "<lookup>"))
    response = fields["response"]
    return AuditEvent(
        format="legacy",
        audit_id=fields["id"],
        stage=fields["stage"],
        request_uri=fields["uri"],
        verb=fields["method"],
        user=UserInfo(username=username, groups=_legacy_list(fields["groups"], "<none>")),
        impersonated_user=impersonated,
        source_ips=() if fields["ip"] == "<unknown>" else (fields["ip"],),
        user_agent=fields["user_agent"],
        response_code=int(response) if response.lstrip("-").isdigit() else None,
        request_received_timestamp=received,
        namespace="" if fields["namespace"] == "<none>" else fields["namespace"],
    )
