"""The ingress controller on the real testbed: Traefik, applied by `up`, serves an exam-style Ingress (ingressClassName
nginx, spec.tls with a secretName, two paths) through NodePorts 30443 and 30080 as ingress-nginx would: the secret's
certificate and each path's backend over https, a redirect to https over http, 404 for a host no rule names, and
its default certificate for a host whose secret it cannot read (in another namespace)."""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID
from tls_certificates import serving_certificate
from waiting import wait_for

from labs.testbed import build, cluster, images

pytestmark = pytest.mark.testbed

HOST = "secure.cks-lab.test"
HTTP_NODE_PORT, HTTPS_NODE_PORT = 30080, 30443
BACKENDS = ("app1", "app2")
DEFAULT_CERTIFICATE = "TRAEFIK DEFAULT CERT"


def kubectl(*args: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(build.binaries_dir() / "kubectl"), f"--kubeconfig={cluster.KUBECONFIG}", *args],
        input=input,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if check and result.returncode:
        raise AssertionError(f"kubectl {' '.join(args)} failed: {result.stderr}")
    return result


def apply(*objects: dict) -> None:
    kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objects)}))


def create_namespace(name: str) -> None:
    kubectl("create", "namespace", name)
    has_account = lambda: kubectl("get", "serviceaccount", "default", "-n", name, check=False).returncode == 0  # noqa: E731
    wait_for(has_account, 60, f"the default ServiceAccount of namespace {name}")


def backend(namespace: str, name: str) -> list[dict]:
    """A pod answering every path with its own name (agnhost serve-hostname), behind a Service of the same name."""
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": name}},
        "spec": {
            "terminationGracePeriodSeconds": 1,
            "containers": [
                {
                    "name": "main",
                    "image": images.AGNHOST_IMAGE,
                    "imagePullPolicy": "Never",
                    "args": ["serve-hostname", "--http", "--port", "8080"],
                    "ports": [{"containerPort": 8080}],
                }
            ],
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"selector": {"app": name}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]},
    }
    return [pod, service]


def ingress(namespace: str, name: str, host: str, secret: str) -> dict:
    paths = [
        {
            "path": f"/{app}",
            "pathType": "Prefix",
            "backend": {"service": {"name": app, "port": {"number": 80}}},
        }
        for app in BACKENDS
    ]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "ingressClassName": "nginx",
            "tls": [{"hosts": [host], "secretName": secret}],
            "rules": [{"host": host, "http": {"paths": paths}}],
        },
    }


@dataclass(frozen=True)
class Site:
    namespace: str
    other_namespace: str  # an Ingress whose TLS secret lives in `namespace`, not in its own
    ca: Path


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Iterator[Site]:
    suffix = uuid.uuid4().hex[:8]
    namespace, other = f"tb-ingress-{suffix}", f"tb-ingress-other-{suffix}"
    ca, certificate, key = serving_certificate(HOST)
    ca_file = tmp_path_factory.mktemp("ingress") / "ca.pem"
    ca_file.write_text(ca)
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "kubernetes.io/tls",
        "metadata": {"name": "secure-tls", "namespace": namespace},
        "stringData": {"tls.crt": certificate, "tls.key": key},
    }
    try:
        for name in (namespace, other):
            create_namespace(name)
        apply(
            secret,
            *(part for app in BACKENDS for part in backend(namespace, app)),
            *(part for app in BACKENDS for part in backend(other, app)),
            ingress(namespace, "secure", HOST, "secure-tls"),
            ingress(other, "elsewhere", "elsewhere.cks-lab.test", "secure-tls"),
        )
        for name in (namespace, other):
            kubectl("wait", "-n", name, "--for=condition=Ready", "pod", "--all", "--timeout=90s")
        yield Site(namespace, other, ca_file)
    finally:
        for name in (namespace, other):
            kubectl("delete", "namespace", name, "--wait=false", check=False)


def curl(host: str, url_path: str, https: bool, ca: Path) -> tuple[int, dict[str, str], str]:
    """(status, headers, body) of a request to `host` through a NodePort on the node's address, `host` resolved to
    it as a student's /etc/hosts would."""
    port = HTTPS_NODE_PORT if https else HTTP_NODE_PORT
    url = f"{'https' if https else 'http'}://{host}:{port}{url_path}"
    argv = ["curl", "-s", "--max-time", "5", "-D", "-", "--resolve", f"{host}:{port}:{cluster.NODE_IP}", url]
    result = subprocess.run([*argv, "--cacert", str(ca)], capture_output=True, text=True, timeout=15)
    if result.returncode:
        return 0, {}, f"curl exit {result.returncode}: {result.stderr.strip()}"
    head, _, body = result.stdout.replace("\r\n", "\n").partition("\n\n")
    status_line, *header_lines = head.splitlines()
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in header_lines)}
    return int(status_line.split()[1]), headers, body.strip()


def served_certificate(host: str) -> x509.Certificate:
    """The certificate NodePort 30443 presents for the server name `host` (not verified)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with (
        socket.create_connection((cluster.NODE_IP, HTTPS_NODE_PORT), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname=host) as tls,
    ):
        return x509.load_der_x509_certificate(tls.getpeercert(binary_form=True))


def common_name(certificate: x509.Certificate) -> str:
    return certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value


def test_the_controller_runs_and_serves_ingress_class_nginx():
    assert cluster.status().components["traefik"] == "running"
    kubectl("-n", "traefik", "rollout", "status", "deployment/traefik", "--timeout=60s")
    controller = kubectl("get", "ingressclass", "nginx", "-o", "jsonpath={.spec.controller}").stdout
    assert controller == "k8s.io/ingress-nginx"


def test_https_serves_the_secrets_certificate_and_each_paths_backend(site):
    def serves_app1() -> bool:
        return curl(HOST, "/app1", True, site.ca)[2] == "app1"

    wait_for(serves_app1, 30, f"https://{HOST}:{HTTPS_NODE_PORT}/app1 to reach app1 (verified with the test CA)")
    certificate = served_certificate(HOST)
    assert common_name(certificate) == HOST
    assert certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
        x509.DNSName
    ) == [HOST]
    status, _, body = curl(HOST, "/app2/deeper", True, site.ca)
    assert (status, body) == (200, "app2")


def test_http_is_redirected_to_https_without_an_annotation(site):
    """ingress-nginx redirects a host with TLS by default (ssl-redirect: true); Traefik's provider does the same."""
    wait_for(lambda: curl(HOST, "/app1", False, site.ca)[0] == 308, 30, "http to answer with a redirect")
    status, headers, _ = curl(HOST, "/app1?x=1", False, site.ca)
    assert (status, headers["location"]) == (308, f"https://{HOST}/app1?x=1")


def test_a_host_no_rule_names_gets_404(site):
    wait_for(lambda: curl(HOST, "/app1", True, site.ca)[0] == 200, 30, "the Ingress to be served")
    assert curl("nowhere.cks-lab.test", "/app1", False, site.ca)[0] == 404
    assert curl(HOST, "/elsewhere", True, site.ca)[0] == 404


def test_a_secret_in_another_namespace_leaves_the_host_with_the_default_certificate(site):
    """An Ingress reads its TLS secret from its own namespace only: without it the host gets Traefik's default
    certificate, as ingress-nginx gives its fake one. Traefik also drops that Ingress's routes (the request is 404),
    where ingress-nginx would still route it."""
    wait_for(lambda: curl(HOST, "/app1", True, site.ca)[0] == 200, 30, "the Ingress to be served")
    assert common_name(served_certificate("elsewhere.cks-lab.test")) == DEFAULT_CERTIFICATE
    assert curl("elsewhere.cks-lab.test", "/app1", False, site.ca)[0] == 404
