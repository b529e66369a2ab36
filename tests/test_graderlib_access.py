"""What a ServiceAccount may do, as the graders report it (labs/graderlib/access.py): requests described the way a
student reads them, allowed requests grouped by the binding the API server names, and a status whatever a request
with another client answers."""

import pytest
from kubernetes.client.exceptions import ApiException

from labs.errors import CannotGrade
from labs.graderlib.access import Decision, Request, allowed, denied, service_account_user, status_of

BY_LEGACY = 'RBAC: allowed by ClusterRoleBinding "legacy" of ClusterRole "edit" to ServiceAccount "app/team"'


class _Kube:
    server = "https://127.0.0.1:6443"


def test_a_request_reads_like_kubectl_auth_can_i():
    assert Request("get", "configmaps", "team", "settings").describe() == "get configmaps/settings in team"
    assert Request("create", "pods", "team", subresource="exec").describe() == "create pods/exec in team"
    assert Request("patch", "deployments", "team", "web", group="apps").describe() == (
        "patch deployments.apps/web in team"
    )
    assert Request("list", "pods").describe() == "list pods"


def test_allowed_requests_are_grouped_by_what_allows_them():
    decisions = [
        Decision(Request("list", "pods", "kube-system"), True, BY_LEGACY),
        Decision(Request("get", "pods", "team"), False, ""),
        Decision(Request("list", "nodes"), True, BY_LEGACY),
        Decision(Request("list", "secrets"), True, ""),
    ]
    assert allowed(decisions) == [
        'allowed by ClusterRoleBinding "legacy" of ClusterRole "edit" to ServiceAccount "app/team": '
        "list pods in kube-system, list nodes",
        "allowed: list secrets",
    ]
    assert denied(decisions) == ["get pods in team"]


def test_a_service_account_is_reviewed_with_the_groups_its_tokens_carry():
    user, groups = service_account_user("team", "app")
    assert user == "system:serviceaccount:team:app"
    assert groups == ["system:serviceaccounts", "system:serviceaccounts:team", "system:authenticated"]


def test_a_request_with_another_client_answers_its_status():
    def forbidden() -> None:
        raise ApiException(status=403, reason="Forbidden")

    assert status_of(_Kube(), lambda: None) == 200
    assert status_of(_Kube(), forbidden) == 403


def test_an_unreachable_api_server_cannot_be_graded():
    def unreachable() -> None:
        raise ConnectionError("connection refused")

    with pytest.raises(CannotGrade, match=r"cluster unreachable at https://127\.0\.0\.1:6443"):
        status_of(_Kube(), unreachable)
