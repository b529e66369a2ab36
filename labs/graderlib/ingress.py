"""Requests through the cluster's ingress controller, made on a node the way a student checks with curl: to its
NodePorts on 127.0.0.1, with the host's name in SNI and the Host header, the served certificate verified against a
CA. Each request proves it ran: its output starts with a marker, else the node cannot be judged."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Any

from labs.errors import CannotGrade
from labs.graderlib.settle import wait_until_settled

HTTP_NODE_PORT = 30080
HTTPS_NODE_PORT = 30443
BODY = "---body"
ERROR = "---error"


@dataclass(frozen=True)
class Answer:
    """What curl got: the HTTP status (0: none, e.g. the certificate was refused), the redirect's target, the start of
    the body and curl's error."""

    url: str
    status: int
    location: str
    body: str
    error: str

    def describe(self) -> str:
        """`GET https://shop.cks-lab.test:30443/api/: 404` or curl's error, for messages."""
        if not self.status:
            return f"GET {self.url}: no answer ({self.error or 'curl said nothing'})"
        said = f", Location {self.location}" if self.location else ""
        body = " ".join(self.body.split())[:80]
        return f"GET {self.url}: {self.status}{said}" + (f" ({body!r})" if body else "")


def _url(name: str, path: str, https: bool) -> str:
    scheme, port = ("https", HTTPS_NODE_PORT) if https else ("http", HTTP_NODE_PORT)
    return f"{scheme}://{name}:{port}{path}"


def get(host: Any, name: str, path: str, https: bool = True, ca_file: str | None = None) -> Answer:
    """GET `path` of host `name` through the controller's NodePort on the node (testinfra host), redirects not
    followed; over https the certificate is verified against `ca_file`."""
    url = _url(name, path, https)
    port = HTTPS_NODE_PORT if https else HTTP_NODE_PORT
    ca = f"--cacert {shlex.quote(ca_file)} " if ca_file else ""
    script = (
        "d=$(mktemp -d) && trap 'rm -rf \"$d\"' EXIT && echo ran && "
        f"out=$(curl -sS -m 5 {ca}--resolve {shlex.quote(f'{name}:{port}:127.0.0.1')} -o $d/body "
        f"-w '%{{http_code}} %{{redirect_url}}' {shlex.quote(url)} 2> $d/error); "
        f'echo "$out"; echo {BODY}; head -c 400 $d/body; echo; echo {ERROR}; head -c 400 $d/error'
    )
    result = host.run(script)
    lines = result.stdout.split("\n")
    if not lines or lines[0] != "ran" or BODY not in lines or ERROR not in lines:
        raise CannotGrade(f"could not send a request to {url} on the node: {result.stderr.strip()[:200]}")
    status, _, location = lines[1].partition(" ")
    body = "\n".join(lines[lines.index(BODY) + 1 : lines.index(ERROR)])
    error = next((line for line in lines[lines.index(ERROR) + 1 :] if line.strip()), "")  # curl's first line
    return Answer(url, int(status) if status.isdigit() else 0, location.strip(), body.strip(), error)


@dataclass(frozen=True)
class ServedCertificate:
    """The leaf certificate the controller presented for a name: its SHA-256 fingerprint and subject (empty when the
    handshake failed)."""

    fingerprint: str
    subject: str


def fingerprint_script(source: str) -> str:
    """A node-side pipeline printing `sha256 Fingerprint=..` and `subject=..` of the PEM certificate `source` gives."""
    return f"{source} | openssl x509 -noout -fingerprint -sha256 -subject -nameopt oneline 2> /dev/null"


def _parse_certificate(text: str) -> ServedCertificate:
    fields = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    return ServedCertificate(fields.get("sha256 Fingerprint", "").strip(), fields.get("subject", "").strip())


def served_certificate(host: Any, name: str) -> ServedCertificate:
    """The certificate the controller serves on its https NodePort to a client asking for `name` (SNI)."""
    connect = f"openssl s_client -connect 127.0.0.1:{HTTPS_NODE_PORT} -servername {shlex.quote(name)} < /dev/null"
    result = host.run("echo ran; " + fingerprint_script(f"{connect} 2> /dev/null"))
    if not result.stdout.startswith("ran"):
        raise CannotGrade(f"could not connect to the ingress controller on the node: {result.stderr.strip()[:200]}")
    return _parse_certificate(result.stdout)


def certificate_in_file(host: Any, path: str) -> ServedCertificate:
    """The fingerprint and subject of the PEM certificate in `path` on the node; CannotGrade when it is unreadable."""
    found = _parse_certificate(host.run(fingerprint_script(f"cat {shlex.quote(path)}")).stdout)
    if not found.fingerprint:
        raise CannotGrade(f"cannot read the certificate {path} on the node")
    return found


SETTLE_SECONDS = 3.0  # how long the controller may take to serve an Ingress or a Secret just written


def wait_for_ingress_to_apply(kube: Any, namespace: str, seconds: float = SETTLE_SECONDS) -> None:
    """Give the controller time to serve what was written just now: until the newest change to an Ingress or a
    Secret of `namespace` is `seconds` old."""
    ingresses = kube.networking.list_namespaced_ingress(namespace, _request_timeout=15).items
    secrets = kube.core.list_namespaced_secret(namespace, _request_timeout=15).items
    wait_until_settled([*ingresses, *secrets], seconds)
