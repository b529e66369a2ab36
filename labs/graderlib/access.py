"""What a ServiceAccount may do, judged two ways: access reviews (a SubjectAccessReview asks the API server's
authorizers, RBAC and any other, and changes nothing), and real requests made with the account's own token, which
a grader reads from a pod that runs as the account (the token request API would be a write)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from labs.k8s import Kube, cannot_grade

TOKEN_PATH = "/var/run/secrets/kubernetes.io/serviceaccount/token"


@dataclass(frozen=True)
class Request:
    """One API request, as an access review asks about it; `namespace` "" is cluster-scoped, or every namespace
    for a namespaced resource."""

    verb: str
    resource: str
    namespace: str = ""
    name: str = ""
    group: str = ""
    subresource: str = ""

    def describe(self) -> str:
        """`get configmaps/settings in team-x`, `list pods in every namespace`, `list nodes`."""
        resource = f"{self.resource}.{self.group}" if self.group else self.resource
        target = "/".join(part for part in (resource, self.name, self.subresource) if part)
        return f"{self.verb} {target}{f' in {self.namespace}' if self.namespace else ''}"


@dataclass(frozen=True)
class Decision:
    """The API server's answer to an access review: allowed or not, and the authorizer's reason (RBAC names the
    binding and role that allow)."""

    request: Request
    allowed: bool
    reason: str


def service_account_user(namespace: str, account: str) -> tuple[str, list[str]]:
    """The user name and groups the API server gives a ServiceAccount's tokens."""
    groups = ["system:serviceaccounts", f"system:serviceaccounts:{namespace}", "system:authenticated"]
    return f"system:serviceaccount:{namespace}:{account}", groups


def _api_call(kube: Kube, call: Callable[[], Any]) -> Any:
    """`call()`, with an unreachable or refusing API server turned into CannotGrade."""
    try:
        return call()
    except Exception as error:
        translated = cannot_grade(error, kube.server)
        if translated:
            raise translated from None
        raise


def review(kube: Kube, namespace: str, account: str, request: Request) -> Decision:
    """Whether ServiceAccount `namespace/account` may make `request` (one SubjectAccessReview)."""
    from kubernetes import client

    user, groups = service_account_user(namespace, account)
    attributes = client.V1ResourceAttributes(
        verb=request.verb,
        resource=request.resource,
        namespace=request.namespace or None,
        name=request.name or None,
        group=request.group,
        subresource=request.subresource or None,
    )
    body = client.V1SubjectAccessReview(
        spec=client.V1SubjectAccessReviewSpec(user=user, groups=groups, resource_attributes=attributes)
    )
    answer = _api_call(kube, lambda: kube.authorization.create_subject_access_review(body, _request_timeout=15))
    return Decision(request, bool(answer.status.allowed), answer.status.reason or "")


def reviews(kube: Kube, namespace: str, account: str, requests: Iterable[Request]) -> list[Decision]:
    """An access review for each request, in order."""
    return [review(kube, namespace, account, request) for request in requests]


def allowed(decisions: Iterable[Decision]) -> list[str]:
    """The allowed requests of `decisions`, grouped by what allows them: `allowed by RoleBinding "x/team" of Role
    "x" to ServiceAccount "a/team": get pods in team, list pods in team`."""
    by_reason: dict[str, list[str]] = {}
    for decision in decisions:
        if decision.allowed:
            reason = decision.reason.removeprefix("RBAC: ") or "allowed"
            by_reason.setdefault(reason, []).append(decision.request.describe())
    return [f"{reason}: {', '.join(requests)}" for reason, requests in by_reason.items()]


def denied(decisions: Iterable[Decision]) -> list[str]:
    """The denied requests of `decisions`."""
    return [decision.request.describe() for decision in decisions if not decision.allowed]


def token_client(kube: Kube, token: str) -> Any:
    """An ApiClient for the same API server that authenticates with `token` alone (no client certificate)."""
    from kubernetes import client

    base = kube.api_client.configuration
    configuration = client.Configuration()
    configuration.host = base.host
    configuration.ssl_ca_cert = base.ssl_ca_cert
    configuration.verify_ssl = base.verify_ssl
    configuration.tls_server_name = getattr(base, "tls_server_name", None)
    configuration.api_key = {"authorization": f"Bearer {token}"}
    configuration.retries = 1
    return client.ApiClient(configuration)


def status_of(kube: Kube, call: Callable[[], Any]) -> int:
    """The HTTP status the API server answers `call()` (a request made with another client) with: 200 when it
    succeeds, the error's status otherwise; CannotGrade when the API server cannot be reached."""
    from kubernetes.client.exceptions import ApiException

    def answered() -> int:
        try:
            call()
        except ApiException as error:
            return error.status
        return 200

    return _api_call(kube, answered)
