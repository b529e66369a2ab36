"""Scenario 18, an Ingress with TLS and an HTTP to HTTPS redirect: one test per criterion of the task.

Everything but the Secret is judged by what the ingress controller serves, asked on controlplane the way the task
says to check (its NodePorts on 127.0.0.1, the host's name in SNI and the Host header): the certificate it presents
for the host, each path's answer (the backends answer with their name and a token of this attempt), and the answer
to plain HTTP. Any Ingress that makes the controller do so passes, however it is written. The given certificate and
CA are the copies setup kept, not the student's files. The key in the Secret is proven by the handshake: the
controller presents a certificate only with its key.
"""

import base64
import binascii

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from labs.graderlib.ingress import certificate_in_file, get, served_certificate, wait_for_ingress_to_apply
from labs.k8s import Kube

REDIRECTS = {301, 302, 303, 307, 308}


@pytest.fixture(scope="module")
def settled(kube: Kube, params) -> None:
    """The controller has had time to serve the Ingress and the Secret as they are now."""
    wait_for_ingress_to_apply(kube, params["namespace"])


@pytest.fixture(scope="module")
def given(node, params):
    """The certificate setup made for the host (its fingerprint and subject), from the grader's own copy."""
    return certificate_in_file(node("controlplane"), f"{params['kept']}/tls.crt")


def _decoded(secret, key: str) -> bytes:
    try:
        return base64.b64decode((secret.data or {}).get(key) or "", validate=True)
    except (binascii.Error, ValueError):
        return b""


@pytest.mark.points(2)
def test_the_secret_holds_the_given_certificate(kube: Kube, params, given):
    """TLS Secret {secret} in Namespace {namespace} holds {files}/tls.crt"""
    secret = kube.get(kube.core.read_namespaced_secret, params["secret"], params["namespace"])
    assert secret is not None, f"no Secret {params['secret']} in Namespace {params['namespace']}; expected a TLS Secret"
    assert secret.type == "kubernetes.io/tls", (
        f"Secret {params['secret']} has type {secret.type}; expected kubernetes.io/tls"
    )
    try:
        certificate = x509.load_pem_x509_certificate(_decoded(secret, "tls.crt"))
    except ValueError as error:
        pytest.fail(f"Secret {params['secret']}: tls.crt is not a PEM certificate ({error})", pytrace=False)
    fingerprint = certificate.fingerprint(hashes.SHA256()).hex(":").upper()
    assert fingerprint == given.fingerprint, (
        f"Secret {params['secret']} holds a certificate for {certificate.subject.rfc4514_string()}; expected the one "
        f"in {params['files']}/tls.crt"
    )


@pytest.mark.points(2)
def test_https_for_the_host_serves_the_given_certificate(node, params, given, settled):
    """HTTPS for {host} presents the certificate of {files}/tls.crt"""
    served = served_certificate(node("controlplane"), params["host"])
    assert served.fingerprint == given.fingerprint, (
        f"the controller presents {served.subject or 'no certificate'} for {params['host']} on NodePort 30443; "
        f"expected the given certificate ({given.subject})"
    )


@pytest.mark.points(2)
def test_each_path_reaches_its_service(node, params, settled):
    """https://{host}/{first}/ reaches Service {first} and https://{host}/{second}/ Service {second}"""
    host = node("controlplane")
    wrong = []
    for service in (params["first"], params["second"]):
        answer = get(host, params["host"], f"/{service}/", ca_file=f"{params['kept']}/ca.crt")
        if answer.body != f"{service} {params['token']}":
            wrong.append(f"{answer.describe()}; expected 200 from Service {service}")
    assert not wrong, "; ".join(wrong)


@pytest.mark.points(2)
def test_plain_http_is_redirected_to_https(node, params, settled):
    """http://{host}/ answers with a redirect to https://{host}/"""
    path = f"/{params['first']}/"
    answer = get(node("controlplane"), params["host"], path, https=False)
    assert answer.status in REDIRECTS and answer.location.startswith(f"https://{params['host']}"), (
        f"{answer.describe()}; expected a redirect to https://{params['host']}{path}"
    )
