"""kubeadm's control-plane components as they run on the node: the flags of each running process (not the manifest's
text), and what each serves on its secure port, asked on the node itself (kube-controller-manager and kube-scheduler
listen on 127.0.0.1 only) as the cluster admin of /etc/kubernetes/admin.conf, or anonymously for health."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Any

from labs.audit.manifest import parse_flags
from labs.errors import CannotGrade

ADMIN_KUBECONFIG = "/etc/kubernetes/admin.conf"
SECURE_PORTS = {"kube-apiserver": 6443, "kube-controller-manager": 10257, "kube-scheduler": 10259}
HEALTH_PATHS = {"kube-apiserver": "/readyz", "kube-controller-manager": "/healthz", "kube-scheduler": "/healthz"}
KUBELET_HEALTH = "http://127.0.0.1:10248/healthz"


@dataclass(frozen=True)
class RunningComponent:
    """The newest process of a component: its PID and its flags as it parsed them (the last of a name wins)."""

    pid: int
    flags: dict[str, str]


def running_component(host: Any, program: str) -> RunningComponent | None:
    """The newest process whose command is `program` (e.g. kube-scheduler), None when none runs."""
    result = host.run(
        f"pid=$(pgrep -n -f {shlex.quote(f'^{program}( |$)')}) && echo $pid && tr '\\0' '\\n' < /proc/$pid/cmdline"
    )
    lines = result.stdout.rstrip("\n").split("\n")
    if result.rc != 0 or len(lines) < 2 or not lines[0].isdigit():
        return None
    return RunningComponent(int(lines[0]), dict(parse_flags(lines[2:], [])))


def _status_script(url: str, as_admin: bool) -> str:
    """A node-side script printing `ran <HTTP status>` (000: no answer) for GET `url`."""
    get = f"curl -sk -m 5 -o /dev/null -w '%{{http_code}}' {shlex.quote(url)}"
    if not as_admin:
        return f"echo ran $({get})"
    data = "kubectl --kubeconfig {kc} config view --raw --minify -o jsonpath='{{.users[0].user.client-{what}-data}}'"
    return (
        "d=$(mktemp -d) && trap 'rm -rf \"$d\"' EXIT && "
        f"{data.format(kc=ADMIN_KUBECONFIG, what='certificate')} | base64 -d > $d/cert && "
        f"{data.format(kc=ADMIN_KUBECONFIG, what='key')} | base64 -d > $d/key && "
        f"echo ran $({get} --cert $d/cert --key $d/key)"
    )


def http_status(host: Any, url: str, as_admin: bool = False) -> int:
    """The HTTP status of GET `url` on the node (0: no answer); CannotGrade when the request could not be made."""
    result = host.run(_status_script(url, as_admin))
    words = result.stdout.split()
    if len(words) != 2 or words[0] != "ran" or not words[1].isdigit():
        said = (result.stderr or result.stdout).strip()[:200]
        raise CannotGrade(f"could not send a request to {url} on the node: {said or 'no output'}")
    return int(words[1])


def secure_url(program: str, path: str) -> str:
    """`https://127.0.0.1:10259/debug/pprof/` for kube-scheduler."""
    return f"https://127.0.0.1:{SECURE_PORTS[program]}{path}"


def profiling_status(host: Any, program: str) -> int:
    """The HTTP status of the component's /debug/pprof/ for the cluster admin: 200 while it serves profiling, 404 when
    --profiling=false took it away, 0 when the component does not answer."""
    return http_status(host, secure_url(program, "/debug/pprof/"), as_admin=True)


def unhealthy_components(host: Any) -> list[str]:
    """The control-plane components and the kubelet that do not answer their health check with 200, worded."""
    checks = {program: secure_url(program, path) for program, path in HEALTH_PATHS.items()}
    checks["kubelet"] = KUBELET_HEALTH
    unhealthy = []
    for name, url in checks.items():
        status = http_status(host, url)
        if status != 200:
            unhealthy.append(f"{name} ({url} answered {status or 'nothing'})")
    return unhealthy
