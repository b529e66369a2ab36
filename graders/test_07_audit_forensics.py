"""Scenario 07, find who read a secret in the audit log and revoke its access: one test per criterion of the task.

The answer is the file on the node; access is what the API server's authorizer decides (SubjectAccessReview for
each ServiceAccount, with the groups a ServiceAccount token carries), so any way of revoking it is judged by effect.
"""

from __future__ import annotations

import pytest

from labs.graderlib.answers import answer_lines

CONTROLPLANE = "controlplane"


def _username(namespace: str, account: str) -> str:
    return f"system:serviceaccount:{namespace}:{account}"


@pytest.fixture(scope="module")
def accounts(params) -> dict[str, str]:
    """letter -> ServiceAccount name"""
    return {letter: params[f"account_{letter}"] for letter in ("a", "b", "c")}


@pytest.fixture(scope="module")
def culprit(params) -> str:
    return params["culprit_account"]


def can_read_secret(kube, namespace: str, account: str, secret: str) -> tuple[bool, str]:
    """(allowed, the authorizer's reason) for `get secret` by the ServiceAccount's token identity."""
    from kubernetes import client

    review = client.V1SubjectAccessReview(
        spec=client.V1SubjectAccessReviewSpec(
            user=_username(namespace, account),
            groups=["system:serviceaccounts", f"system:serviceaccounts:{namespace}", "system:authenticated"],
            resource_attributes=client.V1ResourceAttributes(
                namespace=namespace, verb="get", resource="secrets", name=secret
            ),
        )
    )
    status = client.AuthorizationV1Api(kube.api_client).create_subject_access_review(review).status
    return bool(status.allowed), status.reason or ""


@pytest.mark.points(2)
def test_the_answer_names_the_reader(node, params, culprit):
    """{answer_path} names the identity that read secret {secret}"""
    path, namespace = params["answer_path"], params["namespace"]
    lines = answer_lines(node(CONTROLPLANE), path, CONTROLPLANE)
    expected = _username(namespace, culprit)
    answer = lines[0].strip("'\"") if len(lines) == 1 else " | ".join(lines)[:200]
    if answer in (culprit, f"{namespace}/{culprit}", f"{namespace}:{culprit}"):
        pytest.fail(f"{path} says {answer!r}: right account, but write the user name as the audit log records it "
                    "(system:serviceaccount:NAMESPACE:NAME)", pytrace=False)  # fmt: skip
    assert answer == expected, (
        f"{path} says {answer!r}: that is not the identity that read secret {params['secret']} "
        "(write only its user name, as in the audit log's user.username)"
    )


@pytest.mark.points(2)
def test_the_reader_can_no_longer_read_the_secret(kube, params, culprit):
    """The reader can no longer get secret {secret}"""
    namespace = params["namespace"]
    allowed, reason = can_read_secret(kube, namespace, culprit, params["secret"])
    assert not allowed, (
        f"{_username(namespace, culprit)} may still get secret {params['secret']} ({reason}); delete the RoleBinding "
        "that grants it (deleting the ServiceAccount leaves the RoleBinding: a new account of that name gets it back)"
    )


@pytest.mark.points(2)
def test_everyone_else_keeps_their_access(kube, params, accounts, culprit):
    """The other ServiceAccounts can still read secrets"""
    namespace = params["namespace"]
    lost = [
        _username(namespace, account)
        for account in accounts.values()
        if account != culprit and not can_read_secret(kube, namespace, account, f"{account}-config")[0]
    ]
    assert not lost, f"these lost their access to secrets in {namespace}: {', '.join(lost)}; keep their RoleBindings"
