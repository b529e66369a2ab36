"""The testbed is a real cluster: these tests prove each property scenarios rely on, on the running testbed."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from tls_certificates import serving_certificate
from waiting import wait_for

from labs.testbed import build, cluster, images, metadata
from labs.versions import pinned

pytestmark = pytest.mark.testbed

APISERVER_MANIFEST = cluster.MANIFESTS / "kube-apiserver.yaml"


def kubectl(
    *args: str, input: str | None = None, check: bool = True, timeout: float = 60
) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [str(build.binaries_dir() / "kubectl"), f"--kubeconfig={cluster.KUBECONFIG}", *args],
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check and result.returncode:
        raise AssertionError(f"kubectl {' '.join(args)} failed: {result.stderr}")
    return result


SLEEP = ["sleep", "3600"]


def create_namespace(name: str) -> None:
    """A new namespace, once kube-controller-manager has given it the default ServiceAccount pods need."""
    kubectl("create", "namespace", name)
    has_account = lambda: kubectl("get", "serviceaccount", "default", "-n", name, check=False).returncode == 0  # noqa: E731
    wait_for(has_account, 60, f"the default ServiceAccount of namespace {name}")


@pytest.fixture
def namespace() -> Iterator[str]:
    name = f"tb-{uuid.uuid4().hex[:8]}"
    create_namespace(name)
    yield name
    kubectl("delete", "namespace", name, "--wait=false", check=False)


def run_pod(
    namespace: str,
    name: str,
    image: str,
    security: dict | None = None,
    command: list[str] | None = None,
    labels: dict[str, str] | None = None,
    pull: str = "Never",
    runtime_class: str | None = None,
) -> None:
    container = {"name": "main", "image": image, "imagePullPolicy": pull, "securityContext": security or {}}
    if command:
        container["command"] = command
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
        "spec": {"containers": [container], "terminationGracePeriodSeconds": 1},
    }
    if runtime_class:
        pod["spec"]["runtimeClassName"] = runtime_class
    kubectl("apply", "-f", "-", input=json.dumps(pod))
    kubectl("wait", f"--namespace={namespace}", "--for=condition=Ready", f"pod/{name}", "--timeout=90s", timeout=100)


def test_node_is_ready_and_schedulable():
    node = json.loads(kubectl("get", "node", cluster.NODE_NAME, "-o", "json").stdout)
    ready = {c["type"]: c["status"] for c in node["status"]["conditions"]}["Ready"]
    assert ready == "True"
    assert not node["spec"].get("taints"), f"the node has taints: {node['spec'].get('taints')}"


def test_status_json_says_ready_with_every_component_running():
    result = subprocess.run(
        [sys.executable, "-m", "labs.cli", "testbed", "status", "--json"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    assert status == {
        "ready": True,
        "kubeconfig": str(cluster.KUBECONFIG),
        "version": "v" + pinned().kubernetes_version,
        "components": dict.fromkeys(
            (
                "containerd",
                "kubelet",
                "etcd",
                "kube-apiserver",
                "kube-controller-manager",
                "kube-scheduler",
                "kube-proxy",
                "coredns",
                "kube-router",
                "traefik",
                "metadata-endpoint",
                "registry",
                "gvisor",
            ),
            "running",
        ),
    }


def test_control_plane_runs_as_static_pods_from_the_manifests_directory():
    for component in ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"):
        assert (cluster.MANIFESTS / f"{component}.yaml").exists()
        pod = json.loads(
            kubectl("get", "pod", "-n", "kube-system", f"{component}-{cluster.NODE_NAME}", "-o", "json").stdout
        )
        assert pod["metadata"]["annotations"]["kubernetes.io/config.source"] == "file"
        assert pod["status"]["phase"] == "Running"


def test_a_pod_runs_and_exec_works(namespace):
    run_pod(namespace, "shell", images.BUSYBOX_IMAGE, command=["sleep", "3600"])
    result = kubectl("exec", "-n", namespace, "shell", "--", "sh", "-c", "echo hello-from-$(hostname)")
    assert result.stdout.strip() == "hello-from-shell"
    logs = kubectl("logs", "-n", namespace, "shell")
    assert logs.returncode == 0


def test_read_only_root_filesystem_denies_writes(namespace):
    run_pod(namespace, "ro", images.BUSYBOX_IMAGE, {"readOnlyRootFilesystem": True}, ["sleep", "3600"])
    result = kubectl("exec", "-n", namespace, "ro", "--", "sh", "-c", "echo ran; touch /probe", check=False)
    assert result.stdout.strip() == "ran", "the probe did not run"
    assert result.returncode != 0
    assert "Read-only file system" in result.stderr


def test_nginx_image_serves_http_and_needs_its_writable_directories(namespace):
    run_pod(namespace, "web", images.NGINX_IMAGE)
    ip = kubectl("get", "pod", "-n", namespace, "web", "-o", "jsonpath={.status.podIP}").stdout
    body = subprocess.run(["curl", "-s", "--max-time", "5", f"http://{ip}/"], capture_output=True, text=True).stdout
    assert "Welcome to nginx!" in body
    # Like the official image, nginx cannot start on a read-only root without emptyDirs for its cache and pid file.
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web-ro", "namespace": namespace},
        "spec": {
            "containers": [
                {
                    "name": "nginx",
                    "image": images.NGINX_IMAGE,
                    "imagePullPolicy": "Never",
                    "securityContext": {"readOnlyRootFilesystem": True},
                }
            ]
        },
    }
    kubectl("apply", "-f", "-", input=json.dumps(pod))

    def crashed() -> bool:
        state = kubectl("get", "pod", "-n", namespace, "web-ro", "-o", "json").stdout
        statuses = json.loads(state)["status"].get("containerStatuses", [])
        return any(s.get("restartCount", 0) > 0 or "terminated" in s.get("lastState", {}) for s in statuses)

    wait_for(crashed, 60, "nginx on a read-only root filesystem to crash")
    logs = [kubectl("logs", "-n", namespace, "web-ro", *flag, check=False).stdout for flag in ((), ("--previous",))]
    assert any('mkdir() "/var/cache/nginx/client_temp" failed (30: Read-only file system)' in log for log in logs)


@pytest.fixture(scope="module")
def web_service() -> Iterator[str]:
    """A namespace with nginx behind Service `web` (ClusterIP) and `web-nodeport` (NodePort), and a busybox client."""
    name = f"tb-svc-{uuid.uuid4().hex[:8]}"
    create_namespace(name)
    run_pod(name, "web", images.NGINX_IMAGE, labels={"app": "web"})
    run_pod(name, "client", images.BUSYBOX_IMAGE, command=["sleep", "3600"])
    kubectl("create", "service", "clusterip", "web", "--tcp=80:80", "-n", name)
    kubectl("create", "service", "nodeport", "web-nodeport", "--tcp=80:80", "-n", name)
    kubectl("set", "selector", "-n", name, "service/web-nodeport", "app=web")  # `create service` selects app=NAME
    address = kubectl("get", "service", "-n", name, "web", "-o", "jsonpath={.spec.clusterIP}").stdout
    wait_for(lambda: _fetches(name, "client", f"http://{address}/"), 30, "kube-proxy to serve the new Service")
    yield name
    kubectl("delete", "namespace", name, "--wait=false", check=False)


def test_the_kube_dns_service_is_at_the_kubelets_cluster_dns_address():
    service_ip = kubectl("get", "service", "-n", "kube-system", "kube-dns", "-o", "jsonpath={.spec.clusterIP}").stdout
    kubelet = yaml.safe_load((cluster.KUBELET_DIR / "config.yaml").read_text())
    assert kubelet["clusterDNS"] == [service_ip]
    assert kubelet["clusterDomain"] == "cluster.local"


@pytest.mark.parametrize("name", ["web", "web.{namespace}", "web.{namespace}.svc.cluster.local"])
def test_a_pod_fetches_a_service_by_its_dns_name(web_service, name):
    url = f"http://{name.format(namespace=web_service)}/"
    wait_for(lambda: _fetches(web_service, "client", url), 10, f"the client to fetch {url}")  # CoreDNS's watch


def test_a_nodeport_answers_on_the_node_address(web_service):
    port = kubectl("get", "service", "-n", web_service, "web-nodeport", "-o", "jsonpath={.spec.ports[0].nodePort}")
    url = f"http://{cluster.NODE_IP}:{port.stdout}/"
    fetch = ["curl", "-s", "--max-time", "3", url]
    answers = lambda: "Welcome to nginx!" in subprocess.run(fetch, capture_output=True, text=True).stdout  # noqa: E731
    wait_for(answers, 15, f"{url} to answer (kube-proxy's sync of the Service's endpoints)")


def _fetches(namespace: str, pod: str, url: str, page: str = "Welcome to nginx!") -> bool:
    """Whether `pod` gets the page from `url` within 3 s (a dropped connection just times out). `timeout`, not
    wget's -T: Debian's busybox-static wget crashes (SIGSEGV) with -T."""
    fetched = kubectl("exec", "-n", namespace, pod, "--", "timeout", "3", "wget", "-qO-", url, check=False)
    return page in fetched.stdout


def _apply(namespace: str, *policies: dict) -> None:
    for policy in policies:
        manifest = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", **policy}
        manifest["metadata"]["namespace"] = namespace
        kubectl("apply", "-f", "-", input=json.dumps(manifest))


def _eventually(predicate, what: str, timeout: float = 20) -> None:
    """kube-router applies a policy within a second or two of its creation."""
    wait_for(predicate, timeout, what)


DENY_INGRESS = {"metadata": {"name": "default-deny"}, "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}}
ALLOW_FRONTEND = {
    "metadata": {"name": "web-from-frontend"},
    "spec": {
        "podSelector": {"matchLabels": {"app": "web"}},
        "ingress": [{"from": [{"podSelector": {"matchLabels": {"role": "frontend"}}}], "ports": [{"port": 80}]}],
    },
}


def test_network_policies_deny_ingress_and_let_only_the_allowed_label_through(namespace):
    run_pod(namespace, "web", images.NGINX_IMAGE, labels={"app": "web"})
    run_pod(namespace, "frontend", images.BUSYBOX_IMAGE, command=SLEEP, labels={"role": "frontend"})
    run_pod(namespace, "intruder", images.BUSYBOX_IMAGE, command=SLEEP, labels={"role": "other"})
    kubectl("create", "service", "clusterip", "web", "--tcp=80:80", "-n", namespace)
    url = f"http://web.{namespace}.svc.cluster.local/"
    _eventually(lambda: _fetches(namespace, "frontend", url), "the new Service to answer (no policy yet)")
    assert _fetches(namespace, "intruder", url), "no policy yet: every pod fetches"

    _apply(namespace, DENY_INGRESS)
    _eventually(lambda: not _fetches(namespace, "frontend", url), "default-deny to block the frontend")
    assert not _fetches(namespace, "intruder", url)

    _apply(namespace, ALLOW_FRONTEND)
    _eventually(lambda: _fetches(namespace, "frontend", url), "the allow policy to let the frontend through")
    assert not _fetches(namespace, "intruder", url), "a pod without the label is still kept out"


def test_a_policy_admits_only_the_labelled_pods_of_the_labelled_namespace_on_the_one_port(namespace):
    """`from: [{namespaceSelector, podSelector}]` (one entry: both must match) and `ports: [80]`: the client pod of a
    trusted namespace gets port 80; its port 8080, another pod of that namespace and the client pod of an untrusted
    namespace are refused."""
    two_ports = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web", "namespace": namespace, "labels": {"app": "web"}},
        "spec": {
            "terminationGracePeriodSeconds": 1,
            "containers": [
                {"name": "nginx", "image": images.NGINX_IMAGE, "imagePullPolicy": "Never"},
                {
                    "name": "other-port",
                    "image": images.BUSYBOX_IMAGE,
                    "imagePullPolicy": "Never",
                    "command": [
                        "sh",
                        "-c",
                        "mkdir /tmp/www && echo port-8080 > /tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www",
                    ],
                },
            ],
        },
    }
    kubectl("apply", "-f", "-", input=json.dumps(two_ports))
    kubectl("wait", "-n", namespace, "--for=condition=Ready", "pod/web", "--timeout=90s", timeout=100)
    ip = kubectl("get", "pod", "-n", namespace, "web", "-o", "jsonpath={.status.podIP}").stdout
    trusted, untrusted = (f"{namespace}-{kind}" for kind in ("trusted", "untrusted"))
    try:
        for name in (trusted, untrusted):
            create_namespace(name)
        kubectl("label", "namespace", trusted, "team=trusted")
        run_pod(trusted, "client", images.BUSYBOX_IMAGE, command=SLEEP, labels={"role": "client"})
        run_pod(trusted, "other", images.BUSYBOX_IMAGE, command=SLEEP, labels={"role": "other"})
        run_pod(untrusted, "client", images.BUSYBOX_IMAGE, command=SLEEP, labels={"role": "client"})
        web, other_port = f"http://{ip}/", f"http://{ip}:8080/"
        for client_namespace, pod in ((trusted, "client"), (trusted, "other"), (untrusted, "client")):
            assert _fetches(client_namespace, pod, web), f"no policy yet: {client_namespace}/{pod} reaches port 80"
        assert _fetches(trusted, "client", other_port, "port-8080"), "no policy yet: port 8080 answers too"

        client = {
            "namespaceSelector": {"matchLabels": {"team": "trusted"}},
            "podSelector": {"matchLabels": {"role": "client"}},
        }
        allow = {
            "podSelector": {"matchLabels": {"app": "web"}},
            "ingress": [{"from": [client], "ports": [{"port": 80}]}],
        }
        _apply(namespace, {"metadata": {"name": "web-from-trusted-clients"}, "spec": allow})
        _eventually(lambda: not _fetches(untrusted, "client", web), "the policy to keep the untrusted client out")
        assert _fetches(trusted, "client", web), "the trusted namespace's client pod gets port 80"
        assert not _fetches(trusted, "client", other_port, "port-8080"), "but not port 8080"
        assert not _fetches(trusted, "other", web), "another pod of the trusted namespace is kept out"
    finally:
        for name in (trusted, untrusted):
            kubectl("delete", "namespace", name, "--wait=false", check=False)


NO_METADATA = {
    "metadata": {"name": "no-metadata"},
    "spec": {
        "podSelector": {},
        "policyTypes": ["Egress"],
        "egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": [f"{metadata.ENDPOINT}/32"]}}]}],
    },
}


def test_an_egress_policy_blocks_the_metadata_endpoint_and_only_it(namespace):
    run_pod(namespace, "app", images.BUSYBOX_IMAGE, command=SLEEP)
    path = "latest/meta-data/instance-id"
    endpoint, other = (f"http://{address}/{path}" for address in (metadata.ENDPOINT, metadata.OTHER_ADDRESS))
    instance = metadata.FILES[path].strip()
    assert _fetches(namespace, "app", endpoint, instance), "no policy yet: the pod reads the metadata endpoint"

    _apply(namespace, NO_METADATA)
    _eventually(lambda: not _fetches(namespace, "app", endpoint, instance), "the egress policy to block the endpoint")
    assert _fetches(namespace, "app", other, instance), "another address of the same host still answers"


def _webhook_backend(namespace: str) -> str:
    """agnhost's admission webhook in a pod behind Service `webhook`, serving TLS for webhook.NAMESPACE.svc; the CA
    bundle that verifies it."""
    ca, certificate, key = serving_certificate(f"webhook.{namespace}.svc")
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "webhook-tls", "namespace": namespace},
        "type": "kubernetes.io/tls",
        "stringData": {"tls.crt": certificate, "tls.key": key},
    }
    server = {
        "name": "main",
        "image": images.AGNHOST_IMAGE,
        "imagePullPolicy": "Never",
        "args": ["webhook", "--tls-cert-file=/tls/tls.crt", "--tls-private-key-file=/tls/tls.key", "--port=8443"],
        "volumeMounts": [{"name": "tls", "mountPath": "/tls", "readOnly": True}],
    }
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "webhook", "namespace": namespace, "labels": {"app": "webhook"}},
        "spec": {"containers": [server], "volumes": [{"name": "tls", "secret": {"secretName": "webhook-tls"}}]},
    }
    for manifest in (secret, pod):
        kubectl("apply", "-f", "-", input=json.dumps(manifest))
    kubectl("create", "service", "clusterip", "webhook", "--tcp=443:8443", "-n", namespace)
    kubectl("wait", "-n", namespace, "--for=condition=Ready", "pod/webhook", "--timeout=90s", timeout=100)
    return ca


def test_a_validating_webhook_served_by_a_pod_denies_a_request(namespace):
    ca = _webhook_backend(namespace)
    configuration = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": f"{namespace}-deny"},
        "webhooks": [
            {
                "name": "deny.cks-lab.test",
                "clientConfig": {
                    "service": {"namespace": namespace, "name": "webhook", "path": "/pods"},
                    "caBundle": base64.b64encode(ca.encode()).decode(),
                },
                "rules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["pods"]}],
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}},
                "failurePolicy": "Fail",
                "sideEffects": "None",
                "admissionReviewVersions": ["v1"],
            }
        ],
    }
    kubectl("apply", "-f", "-", input=json.dumps(configuration))
    try:
        # agnhost's /pods refuses a pod labelled webhook-e2e-test=webhook-disallow and admits any other
        said = 'admission webhook "deny.cks-lab.test" denied the request: the pod contains unwanted label'
        denied = lambda: said in kubectl(  # noqa: E731
            "run", "refused", "-n", namespace, f"--image={images.BUSYBOX_IMAGE}", "--image-pull-policy=Never",
            "--labels=webhook-e2e-test=webhook-disallow", "--dry-run=server", "--", "sleep", "1", check=False,
        ).stderr  # fmt: skip
        wait_for(denied, 30, "the webhook to deny the labelled pod")
        refused = kubectl("run", "refused", "-n", namespace, f"--image={images.BUSYBOX_IMAGE}",
                          "--labels=webhook-e2e-test=webhook-disallow", "--", "sleep", "1", check=False)  # fmt: skip
        assert refused.returncode != 0, refused.stdout
        assert said in refused.stderr, refused.stderr
        admitted = kubectl("run", "admitted", "-n", namespace, f"--image={images.BUSYBOX_IMAGE}",
                           "--image-pull-policy=Never", "--", "sleep", "1", check=False)  # fmt: skip
        assert admitted.returncode == 0, admitted.stderr
    finally:
        kubectl("delete", "validatingwebhookconfiguration", f"{namespace}-deny", check=False)


def test_a_pushed_image_is_pulled_by_tag_and_by_digest_from_the_local_registry(namespace):
    crane = str(build.binaries_dir() / "crane")
    pushed = f"{cluster.REGISTRY}/{namespace}/app:v1"  # what a task pushes, by the registry's name
    copied = subprocess.run(
        [crane, "copy", "--insecure", f"{cluster.REGISTRY}/busybox:1.35", pushed], capture_output=True, text=True
    )
    assert copied.returncode == 0, copied.stderr
    digest = subprocess.run([crane, "digest", "--insecure", pushed], capture_output=True, text=True, check=True)
    run_pod(namespace, "tagged", pushed, command=SLEEP, pull="Always")
    pinned_image = f"{cluster.REGISTRY}/{namespace}/app@{digest.stdout.strip()}"
    run_pod(namespace, "pinned", pinned_image, command=SLEEP, pull="Always")
    for name in ("tagged", "pinned"):
        pod = json.loads(kubectl("get", "pod", "-n", namespace, name, "-o", "json").stdout)
        assert pod["status"]["containerStatuses"][0]["imageID"].endswith(digest.stdout.strip()), name
    # the pulled image is not the imported one: a pod naming that one with `imagePullPolicy: Never` still runs
    run_pod(namespace, "imported", images.BUSYBOX_IMAGE, command=SLEEP)


DENY_MKDIR = {
    "defaultAction": "SCMP_ACT_ALLOW",
    "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}],
}


def test_a_runtime_default_pod_runs_under_seccomp(namespace):
    run_pod(namespace, "filtered", images.BUSYBOX_IMAGE, {"seccompProfile": {"type": "RuntimeDefault"}}, SLEEP)
    status = kubectl("exec", "-n", namespace, "filtered", "--", "grep", "^Seccomp:", "/proc/1/status").stdout
    assert status.split() == ["Seccomp:", "2"]  # 2: a filter, 0: none


def test_a_localhost_profile_denies_its_syscalls_and_allows_the_rest(namespace):
    profile = cluster.SECCOMP_DIR / "profiles" / f"{namespace}-deny-mkdir.json"
    profile.parent.mkdir(parents=True, exist_ok=True)
    profile.write_text(json.dumps(DENY_MKDIR))
    try:
        local = {"type": "Localhost", "localhostProfile": f"profiles/{profile.name}"}
        run_pod(namespace, "no-mkdir", images.BUSYBOX_IMAGE, {"seccompProfile": local}, SLEEP)
        denied = kubectl("exec", "-n", namespace, "no-mkdir", "--", "mkdir", "/tmp/denied", check=False)
        assert denied.returncode != 0 and "Operation not permitted" in denied.stderr, denied
        written = kubectl("exec", "-n", namespace, "no-mkdir", "--", "sh", "-c", "echo ok > /tmp/file && cat /tmp/file")
        assert written.stdout.strip() == "ok"
    finally:
        profile.unlink()


def test_rbac_denies_a_user_with_no_bindings():
    result = kubectl("get", "secrets", "-A", "--as=mallory", check=False)
    assert result.returncode != 0
    assert "forbidden" in result.stderr.lower()
    assert kubectl("auth", "can-i", "get", "secrets", "--as=mallory", check=False).stdout.strip() == "no"


# --------------------------------------------------------------------------- editing the kube-apiserver manifest


def running_apiserver_args() -> list[str]:
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and (proc / "comm").read_text().strip() == "kube-apiserver":
                return (proc / "cmdline").read_bytes().decode().split("\0")
        except OSError:
            continue
    return []


def apiserver_healthy() -> bool:
    return kubectl("get", "--raw", "/readyz", check=False, timeout=10).returncode == 0


@pytest.fixture
def apiserver_manifest() -> Iterator[dict]:
    """The parsed kube-apiserver manifest; restored (and the apiserver back up) after the test."""
    original = APISERVER_MANIFEST.read_text()
    yield yaml.safe_load(original)
    APISERVER_MANIFEST.write_text(original)
    wait_for(
        lambda: (
            not any("--audit-policy-file" in a or "encryption-provider" in a for a in running_apiserver_args())
            and apiserver_healthy()
        ),
        180,
        "the original kube-apiserver to be back",
    )


def apply_apiserver_change(manifest: dict, flags: list[str], mounts: list[tuple[str, str, str]]) -> None:
    """Add flags and hostPath mounts (name, host path, type) as a student would, and wait for the restart."""
    container = manifest["spec"]["containers"][0]
    container["command"] += flags
    for name, path, kind in mounts:
        manifest["spec"]["volumes"].append({"name": name, "hostPath": {"path": path, "type": kind}})
        container["volumeMounts"].append({"name": name, "mountPath": path})
    APISERVER_MANIFEST.write_text(yaml.safe_dump(manifest))
    wait_for(
        lambda: all(f in running_apiserver_args() for f in flags) and apiserver_healthy(),
        180,
        "the kubelet to restart kube-apiserver with the new flags",
    )


@pytest.mark.owns_apiserver
def test_audit_policy_in_the_manifest_makes_the_kubelet_restart_the_apiserver_and_log(apiserver_manifest, tmp_path):
    policy_dir, log_dir = Path("/etc/kubernetes/tb-audit"), Path("/var/log/tb-audit")
    policy_dir.mkdir(exist_ok=True)
    log_dir.mkdir(exist_ok=True)
    (policy_dir / "policy.yaml").write_text(
        "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Metadata\n  resources:\n"
        "  - group: ''\n    resources: [configmaps]\n"
    )
    apply_apiserver_change(
        apiserver_manifest,
        [f"--audit-policy-file={policy_dir}/policy.yaml", f"--audit-log-path={log_dir}/audit.log"],
        [
            ("tb-audit-policy", str(policy_dir), "DirectoryOrCreate"),
            ("tb-audit-log", str(log_dir), "DirectoryOrCreate"),
        ],
    )
    marker = f"audit-probe-{uuid.uuid4().hex[:8]}"
    kubectl("create", "configmap", marker, "-n", "default")
    kubectl("delete", "configmap", marker, "-n", "default")

    def logged() -> bool:
        log = log_dir / "audit.log"
        return log.exists() and any(
            json.loads(line).get("objectRef", {}).get("name") == marker for line in log.read_text().splitlines() if line
        )

    wait_for(logged, 30, f"an audit event for configmap {marker} in {log_dir}/audit.log")


@pytest.mark.owns_apiserver
def test_encryption_configuration_encrypts_new_secrets_in_etcd(apiserver_manifest):
    config_dir = Path("/etc/kubernetes/tb-enc")
    config_dir.mkdir(exist_ok=True)
    key = base64.b64encode(os.urandom(32)).decode()
    (config_dir / "enc.yaml").write_text(
        "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: [secrets]\n"
        f"  providers:\n  - aescbc:\n      keys:\n      - name: key1\n        secret: {key}\n  - identity: {{}}\n"
    )
    apply_apiserver_change(
        apiserver_manifest,
        [f"--encryption-provider-config={config_dir}/enc.yaml"],
        [("tb-enc", str(config_dir), "DirectoryOrCreate")],
    )
    name = f"enc-probe-{uuid.uuid4().hex[:8]}"
    kubectl("create", "secret", "generic", name, "-n", "default", "--from-literal=k=plaintext-value")
    pki = cluster.ETC_KUBERNETES / "pki"
    raw = subprocess.run(
        [
            str(build.binaries_dir() / "etcdctl"),
            "--endpoints=https://127.0.0.1:2379",
            f"--cacert={pki}/etcd/ca.crt",
            f"--cert={pki}/apiserver-etcd-client.crt",
            f"--key={pki}/apiserver-etcd-client.key",
            "get",
            f"/registry/secrets/default/{name}",
            "--print-value-only",
        ],
        capture_output=True,
        timeout=30,
    )
    kubectl("delete", "secret", name, "-n", "default")
    assert raw.returncode == 0, raw.stderr
    assert raw.stdout.startswith(b"k8s:enc:aescbc:v1:key1:"), raw.stdout[:40]
    assert b"plaintext-value" not in raw.stdout


def test_kube_bench_judges_the_node_with_its_cis_checks():
    """kube-bench runs as on a kubeadm node, from its checks in /etc/kube-bench/cfg, and reads the running flags."""
    result = subprocess.run(
        [str(build.binaries_dir() / "kube-bench"), "run", "--targets", "master", "--benchmark", "cis-1.12", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    report = json.loads(result.stdout)
    results = {
        r["test_number"]: r for control in report["Controls"] for group in control["tests"] for r in group["results"]
    }
    assert results["1.2.15"]["status"] == "FAIL", results["1.2.15"]  # kubeadm leaves --profiling on
    assert results["1.1.13"]["status"] == "PASS", results["1.1.13"]  # admin.conf is 600
    assert (
        cluster.KUBE_BENCH_CFG.resolve()
        == build.binaries_dir().resolve().parent / f"kube-bench-v{pinned().kube_bench_version}" / "cfg"
    )
