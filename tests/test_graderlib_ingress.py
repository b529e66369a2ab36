"""Requests through the ingress controller and the recording of the Secrets they use, on outputs recorded on the
testbed (curl and openssl as the grader runs them on the node)."""

from labs.graderlib.ingress import Answer, _parse_certificate
from labs.graderlib.recording import REDACTED, _redacted

OPENSSL = "sha256 Fingerprint=AB:CD:EF\nsubject=O = CKS Lab, CN = maple.cks-lab.test\n"


def test_the_served_certificate_is_read_from_openssl_s_output():
    served = _parse_certificate(OPENSSL)
    assert (served.fingerprint, served.subject) == ("AB:CD:EF", "O = CKS Lab, CN = maple.cks-lab.test")
    assert _parse_certificate("").fingerprint == ""  # no handshake, no certificate


def test_an_answer_says_what_curl_got_or_why_it_got_nothing():
    url = "https://maple.cks-lab.test:30443/shop/"
    refused = Answer(url, 0, "", "", "curl: (60) SSL certificate problem: self-signed certificate")
    assert refused.describe() == f"GET {url}: no answer (curl: (60) SSL certificate problem: self-signed certificate)"
    redirect = Answer(
        url.replace("https", "http").replace("30443", "30080"), 308, "https://maple.cks-lab.test/shop/", "", ""
    )
    assert redirect.describe().endswith(": 308, Location https://maple.cks-lab.test/shop/")
    assert Answer(url, 404, "", "404 page not found\n", "").describe() == f"GET {url}: 404 ('404 page not found')"


def test_a_recorded_tls_secret_keeps_its_certificate_and_loses_its_key():
    secret = {"kind": "Secret", "type": "kubernetes.io/tls", "data": {"tls.crt": "Q0VSVA==", "tls.key": "S0VZ"}}
    assert _redacted(secret)["data"] == {"tls.crt": "Q0VSVA==", "tls.key": REDACTED}
