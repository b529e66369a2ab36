"""The kubelet's endpoints as clients meet them, asked on its node: its API (10250) anonymously, as a client the
cluster CA vouches for but RBAC grants nothing, and as kube-apiserver's own client; its read-only port (10255); its
health check. The probe client's certificate is made for the occasion in a temporary directory, signed with the
cluster CA's key, and removed with it."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Any

from labs.errors import CannotGrade

PKI = "/etc/kubernetes/pki"
API = "https://127.0.0.1:10250/pods"
READ_ONLY = "http://127.0.0.1:10255/pods"
HEALTH = "http://127.0.0.1:10248/healthz"
PROBE_USER = "cks-lab-kubelet-probe"  # a user no RBAC rule names
SCRIPT = f"""d=$(mktemp -d) && trap 'rm -rf "$d"' EXIT && echo ran
openssl req -newkey rsa:2048 -nodes -subj /CN={PROBE_USER} -keyout $d/probe.key -out $d/probe.csr 2> /dev/null
openssl x509 -req -days 1 -in $d/probe.csr -CA {PKI}/ca.crt -CAkey {PKI}/ca.key -CAcreateserial -CAserial $d/ca.srl \\
  -out $d/probe.crt 2> /dev/null
ask() {{ echo "$1 $(curl -s -m 5 -o /dev/null -w '%{{http_code}}' "${{@:2}}")"; }}
ask anonymous -k {API}
ask probe -k --cert $d/probe.crt --key $d/probe.key {API}
ask apiserver -k --cert {PKI}/apiserver-kubelet-client.crt --key {PKI}/apiserver-kubelet-client.key {API}
ask read-only {READ_ONLY}
ask health {HEALTH}
"""


@dataclass(frozen=True)
class KubeletAnswers:
    """The HTTP status each client got (0: no connection)."""

    anonymous: int
    probe: int
    apiserver: int
    read_only: int
    health: int


def kubelet_answers(host: Any) -> KubeletAnswers:
    """Ask the kubelet of the node (testinfra host) as each client; CannotGrade when the requests did not run."""
    result = host.run(f"bash -c {shlex.quote(SCRIPT)}")
    lines = result.stdout.splitlines()
    answers = dict(line.split(" ", 1) for line in lines[1:] if " " in line)
    wanted = ("anonymous", "probe", "apiserver", "read-only", "health")
    if not lines or lines[0] != "ran" or not all(answers.get(name, "").isdigit() for name in wanted):
        raise CannotGrade(f"could not ask the kubelet on the node: {(result.stderr or result.stdout).strip()[:200]}")
    return KubeletAnswers(*(int(answers[name]) for name in wanted))
