"""Audit log lines (JSON and legacy) and the request attributes rebuilt from them (section 2.4 and 5 of
../shared/reference/kubernetes-audit-and-encryption.md)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from labs.audit import AuditLogError, parse_log_line
from labs.audit.log import go_unquote, parse_log, request_from_event
from labs.audit.requestinfo import parse_request_uri

LEASE_UPDATE = (
    '{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"0286b87c-b86c-443f-bb1e-807844b35307",'
    '"stage":"ResponseComplete","requestURI":"/apis/coordination.k8s.io/v1beta1/namespaces/kube-node-lease/leases/'
    'gce-scale-cluster-minion-group-4-zr07?timeout=10s","verb":"update","user":{"username":"system:node:gce-scale-'
    'cluster-minion-group-4-zr07","groups":["system:nodes","system:authenticated"]},"sourceIPs":["35.227.76.61"],'
    '"userAgent":"kubelet/v1.14.0 (linux/amd64) kubernetes/aef1179","objectRef":{"resource":"leases","namespace":'
    '"kube-node-lease","name":"gce-scale-cluster-minion-group-4-zr07","uid":"411615ce-0e66-11e9-a584-42010a280002",'
    '"apiGroup":"coordination.k8s.io","apiVersion":"v1beta1","resourceVersion":"17652814"},"responseStatus":'
    '{"metadata":{},"code":200},"requestReceivedTimestamp":"2019-01-02T15:01:16.105964Z","stageTimestamp":'
    '"2019-01-02T15:01:16.108038Z","annotations":{"authorization.k8s.io/decision":"allow",'
    '"authorization.k8s.io/reason":""}}'
)
SECRET_CREATE_RECEIVED = (
    '{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"70607cf4-c644-4642-af31-0d9a173259fe",'
    '"stage":"RequestReceived","requestURI":"/api/v1/namespaces/default/secrets?fieldManager=kubectl-create\\u0026'
    'fieldValidation=Strict","verb":"create","user":{"username":"kubernetes-admin","groups":["kubeadm:cluster-admins",'
    '"system:authenticated"],"extra":{"authentication.kubernetes.io/credential-id":["X509SHA256=ffe1"]}},'
    '"sourceIPs":["192.168.10.150"],"userAgent":"kubectl/v1.35.8 (linux/amd64) kubernetes/1c2e10a","objectRef":'
    '{"resource":"secrets","namespace":"default","apiVersion":"v1"},"requestReceivedTimestamp":'
    '"2026-09-15T14:26:53.946487Z","stageTimestamp":"2026-09-15T14:26:53.946487Z"}'
)
LEGACY = (
    '2017-03-21T03:57:09.106841886-04:00 AUDIT: id="c939d2a7-1c37-4ef1-b2f7-4ba9b1e43b53" stage="RequestReceived" '
    'ip="127.0.0.1" method="get" user="admin" groups="\\"system:masters\\",\\"system:authenticated\\"" as="<self>" '
    'asgroups="<lookup>" user-agent="kube-admin" namespace="default" uri="/apis/rbac.authorization.k8s.io/v1/roles" '
    'response="200"'
)


def test_a_json_event_is_read_field_by_field() -> None:
    event = parse_log_line(LEASE_UPDATE)
    assert (event.format, event.level, event.stage, event.verb) == ("json", "Metadata", "ResponseComplete", "update")
    assert event.user.username == "system:node:gce-scale-cluster-minion-group-4-zr07"
    assert event.user.groups == ("system:nodes", "system:authenticated")
    assert event.object_ref.api_group == "coordination.k8s.io" and event.object_ref.resource == "leases"
    assert event.response_code == 200
    assert event.request_received_timestamp == datetime(2019, 1, 2, 15, 1, 16, 105964, tzinfo=UTC)
    assert event.annotations["authorization.k8s.io/decision"] == "allow"
    assert not event.has_request_object and not event.has_response_object


def test_the_request_is_rebuilt_from_the_url_not_from_the_body() -> None:
    event = parse_log_line(SECRET_CREATE_RECEIVED)
    assert event.user.extra["authentication.kubernetes.io/credential-id"] == ("X509SHA256=ffe1",)
    assert event.response_code is None
    request = request_from_event(event)
    assert (request.verb, request.resource, request.namespace, request.name) == ("create", "secrets", "default", "")
    lease = request_from_event(parse_log_line(LEASE_UPDATE))
    assert (lease.api_group, lease.namespace, lease.name) == (
        "coordination.k8s.io",
        "kube-node-lease",
        "gce-scale-cluster-minion-group-4-zr07",
    )


def test_a_legacy_line_is_read_too() -> None:
    event = parse_log_line(LEGACY)
    assert (event.format, event.audit_id, event.verb) == ("legacy", "c939d2a7-1c37-4ef1-b2f7-4ba9b1e43b53", "get")
    assert event.user.groups == ("system:masters", "system:authenticated")
    assert event.impersonated_user is None and event.source_ips == ("127.0.0.1",)
    assert event.namespace == "default" and event.response_code == 200
    assert event.request_received_timestamp.utcoffset().total_seconds() == -4 * 3600


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("", "empty line"),
        ("hello", "not an audit event"),
        ('{"kind": "Pod", "apiVersion": "v1"}', 'expected kind "Event"'),
        ('{"kind": "Event", "apiVersion": "audit.k8s.io/v1", "user": []}', "user must be an object"),
        ('{"kind": "Event", "apiVersion": "audit.k8s.io/v1", "stageTimestamp": "yesterday"}', "invalid timestamp"),
        ("{not json", "invalid JSON"),
        ("2017-03-21T03:57:09Z AUDIT: id=broken", "malformed legacy audit line"),
    ],
)
def test_anything_else_is_refused_with_a_reason(line: str, message: str) -> None:
    with pytest.raises(AuditLogError, match=message):
        parse_log_line(line)


def test_a_log_names_the_line_that_is_broken() -> None:
    assert len(list(parse_log([LEASE_UPDATE, "", LEGACY]))) == 2
    with pytest.raises(AuditLogError, match=r"^line 2: "):
        list(parse_log([LEASE_UPDATE, "garbage"]))


def test_failed_authentication_events_have_no_user() -> None:
    line = (
        '{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"x","stage":"ResponseStarted",'
        '"requestURI":"/api/v1/pods","verb":"list","user":{},"responseStatus":{"metadata":{},"code":401}}'
    )
    assert request_from_event(parse_log_line(line)).user is None


def test_go_quoted_strings_are_unquoted() -> None:
    assert go_unquote('"a\\"b\\\\c\\n\\x41\\u00e9"') == 'a"b\\c\nAé'


@pytest.mark.parametrize(
    ("uri", "verb", "expected"),
    [
        ("/api/v1/namespaces", "list", ("", "namespaces", "", "")),
        ("/api/v1/namespaces/other", "get", ("other", "namespaces", "", "other")),
        ("/api/v1/namespaces/other/pods", "list", ("other", "pods", "", "")),
        ("/api/v1/namespaces/other/pods/foo", "get", ("other", "pods", "", "foo")),
        ("/api/v1/pods", "list", ("", "pods", "", "")),
        ("/api/v1/proxy/namespaces/other/pods/foo", "proxy", ("other", "pods", "", "foo")),
        ("/api/v1/watch/pods", "watch", ("", "pods", "", "")),
        ("/api/v1/namespaces/other/pods/foo/status", "get", ("other", "pods", "status", "foo")),
        ("/api/v1/namespaces/other/pods/foo/proxy/subpath", "get", ("other", "pods", "proxy", "foo")),
        ("/api/v1/namespaces/other/finalize", "update", ("other", "namespaces", "finalize", "other")),
        ("/api/v1/namespaces/other/status", "update", ("other", "namespaces", "status", "other")),
        ("/api/v1/namespaces/default/pods?fieldSelector=metadata.name%3Dweb", "watch", ("default", "pods", "", "web")),
        ("/apis/extensions/v1/namespaces/other/pods", "create", ("other", "pods", "", "")),
    ],
)
def test_urls_are_split_like_the_apiservers_request_info(uri: str, verb: str, expected: tuple) -> None:
    info = parse_request_uri(uri, verb)
    assert info.is_resource_request
    assert (info.namespace, info.resource, info.subresource, info.name) == expected


@pytest.mark.parametrize("uri", ["/healthz", "/api", "/api/v1", "/apis/apps", "/apis/apps/v1", "/version", "/"])
def test_short_api_paths_are_non_resource_requests(uri: str) -> None:
    assert not parse_request_uri(uri).is_resource_request
