"""Scenario 20, give a ServiceAccount least privilege: one test per criterion of the task.

Every criterion is judged on what the account may do, never on how the Roles and bindings are written: access
reviews (SubjectAccessReview) for each request the task names and for its near neighbours, whose reason names the
binding that allows a request; and real requests made with the token the workload's pod runs with (read inside the
pod: asking the TokenRequest API for a new token would be a write). Any answer that grants exactly the task's
permissions passes, in one Role or several, or through a RoleBinding to a ClusterRole.
"""

from functools import partial

import pytest

from labs.graderlib.access import TOKEN_PATH, Decision, Request, allowed, denied, reviews, status_of, token_client
from labs.graderlib.probes import Probe
from labs.k8s import Kube

OTHER_NAMESPACES = ("kube-system", "default")


@pytest.fixture(scope="module")
def namespace(kube: Kube, params: dict) -> str:
    """The task's namespace; fails every criterion when it is gone (its ServiceAccount and bindings went with it)."""
    name = params["namespace"]
    if kube.get(kube.core.read_namespace, name) is None:
        pytest.fail(
            f"namespace {name} does not exist: it was deleted, with the ServiceAccount and everything setup put in "
            "it (`lab reset` sets the task up again)",
            pytrace=False,
        )
    return name


def _reviewed(kube: Kube, params: dict, namespace: str, requests: list[Request]) -> list[Decision]:
    """The API server's decision on each request, for the task's ServiceAccount."""
    return reviews(kube, namespace, params["account"], requests)


@pytest.mark.points(2)
def test_the_account_can_get_and_list_pods_in_its_namespace(kube: Kube, params, namespace):
    """ServiceAccount {account} may get and list Pods in Namespace {namespace}"""
    requests = [Request("get", "pods", namespace), Request("list", "pods", namespace)]
    missing = denied(_reviewed(kube, params, namespace, requests))
    assert not missing, f"denied: {'; '.join(missing)}; expected allowed (the workload needs them)"


@pytest.mark.points(1)
def test_the_account_can_get_its_configmap(kube: Kube, params, namespace):
    """ServiceAccount {account} may get ConfigMap {config}"""
    requests = [Request("get", "configmaps", namespace, params["config"])]
    missing = denied(_reviewed(kube, params, namespace, requests))
    assert not missing, f"denied: {'; '.join(missing)}; expected allowed"


@pytest.mark.points(2)
def test_no_other_configmap_is_readable(kube: Kube, params, namespace):
    """No other ConfigMap of Namespace {namespace} is readable: neither by name nor by list or watch"""
    requests = [
        Request("get", "configmaps", namespace, params["database"]),
        Request("get", "configmaps", namespace, params["flags"]),
        Request("list", "configmaps", namespace),
        Request("watch", "configmaps", namespace),
    ]
    extra = allowed(_reviewed(kube, params, namespace, requests))
    assert not extra, f"{'; '.join(extra)}; expected denied: only ConfigMap {params['config']} may be read"


@pytest.mark.points(1)
def test_the_account_can_change_nothing_and_read_no_secret_in_its_namespace(kube: Kube, params, namespace):
    """In Namespace {namespace} the account can change nothing, exec into nothing and read no Secret"""
    config = params["config"]
    requests = [
        Request("watch", "pods", namespace),
        *(Request(verb, "pods", namespace) for verb in ("create", "update", "patch", "delete")),
        Request("create", "pods", namespace, subresource="exec"),
        Request("get", "secrets", namespace),
        Request("list", "secrets", namespace),
        Request("create", "configmaps", namespace),
        *(Request(verb, "configmaps", namespace, config) for verb in ("update", "patch", "delete")),
        Request("patch", "deployments", namespace, params["workload"], group="apps"),
        Request("create", "rolebindings", namespace, group="rbac.authorization.k8s.io"),
        Request("create", "serviceaccounts", namespace, params["account"], subresource="token"),
    ]
    extra = allowed(_reviewed(kube, params, namespace, requests))
    assert not extra, f"{'; '.join(extra)}; expected denied: only get/list pods and get {config}"


@pytest.mark.points(2)
def test_the_account_has_no_access_outside_its_namespace(kube: Kube, params, namespace):
    """ServiceAccount {account} has no access outside Namespace {namespace}: the cluster-wide binding is gone"""
    requests = [
        *(Request(verb, "pods", other) for other in OTHER_NAMESPACES for verb in ("get", "list")),
        *(Request("get", "configmaps", other, params["config"]) for other in OTHER_NAMESPACES),
        Request("list", "pods"),
        Request("list", "configmaps"),
        Request("list", "secrets"),
        Request("list", "namespaces"),
        Request("list", "nodes"),
    ]
    extra = allowed(_reviewed(kube, params, namespace, requests))
    assert not extra, f"{'; '.join(extra)}; expected denied outside Namespace {namespace}"


@pytest.fixture(scope="module")
def workload_token(kube: Kube, params: dict, namespace: str, exec_probe: Probe) -> tuple[str, str]:
    """(pod, token): the ServiceAccount token a running pod of the workload uses, read inside the pod."""
    selector = f"app={params['workload']}"
    pods = kube.core.list_namespaced_pod(namespace, label_selector=selector, _request_timeout=15).items
    running = [p for p in pods if p.status.phase == "Running" and p.metadata.deletion_timestamp is None]
    assert running, f"no running pod of Deployment {params['workload']} to take its token from; keep it running"
    pod = running[0]
    assert pod.spec.service_account_name == params["account"], (
        f"pod {pod.metadata.name} runs as ServiceAccount {pod.spec.service_account_name}, not {params['account']}; "
        f"do not change Deployment {params['workload']}"
    )
    result = exec_probe.run(namespace, pod.metadata.name, "app", f"cat {TOKEN_PATH}")
    assert result.succeeded, f"could not read {TOKEN_PATH} in pod {pod.metadata.name}: {result.output}"
    return pod.metadata.name, result.stdout.strip()


@pytest.mark.points(2)
def test_the_workloads_own_token_reads_what_it_needs_and_no_secret(kube: Kube, params, namespace, workload_token):
    """With the token its pod runs with, the workload lists Pods and gets ConfigMap {config}, and cannot list
    Secrets"""
    from kubernetes import client

    pod, token = workload_token
    config = params["config"]
    api_client = token_client(kube, token)
    core = client.CoreV1Api(api_client)
    timeout = {"_request_timeout": 15}
    calls = [
        (f"list pods in {namespace}", 200, partial(core.list_namespaced_pod, namespace, **timeout)),
        (f"get configmaps/{config}", 200, partial(core.read_namespaced_config_map, config, namespace, **timeout)),
        (f"list secrets in {namespace}", 403, partial(core.list_namespaced_secret, namespace, **timeout)),
    ]
    try:
        answers = [(request, expected, status_of(kube, call)) for request, expected, call in calls]
    finally:
        api_client.close()
    wrong = [f"{request}: {got}, expected {expected}" for request, expected, got in answers if got != expected]
    assert not wrong, f"requests with the token of pod {pod} answered {'; '.join(wrong)}"
