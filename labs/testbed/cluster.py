"""The testbed: a real single-node kubeadm cluster on this machine.

Laid out like a kubeadm node (/etc/kubernetes/{pki,admin.conf,manifests}), the control plane runs as kubelet static
pods written by our own kubeadm build from the same kubeadm config template the Vagrant cluster uses. containerd and
the kubelet run under labs.testbed.supervisor because PID 1 is not systemd.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import socket
import ssl
import subprocess
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import jinja2
import yaml

from labs.paths import cache_dir
from labs.testbed import build, images, metadata, registry, supervisor
from labs.versions import REPO_ROOT, pinned

NODE_NAME = "controlplane"
# kubeadm needs a global unicast address. Given 127.0.0.1 it picks the global address bound to `lo` (its documented
# mode for link-local-only hosts), so the node's address lives on the loopback interface and no traffic leaves it.
ADVERTISE_ADDRESS = "127.0.0.1"
NODE_IP = "10.255.0.1"
REGISTRY = registry.ADDRESS  # the testbed's OCI registry, by name (labs/testbed/registry.py)
REGISTRY_LISTEN = f"{NODE_IP}:{registry.PORT}"  # where it listens: the name maps to the node's address
POD_SUBNET = "10.244.0.0/16"
NODE_POD_SUBNET = "10.244.0.0/24"
SERVICE_SUBNET = "10.96.0.0/12"
CNI_BRIDGE = "cni0"
KUBEADM_TEMPLATE = REPO_ROOT / "playbooks/roles/control_plane/templates/kubeadm-config.yaml.j2"
KUBE_ROUTER_TEMPLATE = Path(__file__).parent / "files" / "kube-router.yaml.j2"
TRAEFIK_TEMPLATE = REPO_ROOT / "playbooks/roles/traefik/templates/traefik.yaml.j2"  # shared with the traefik role
KUBE_ROUTER_HEALTH_PORT = 20244

ETC_KUBERNETES = Path("/etc/kubernetes")
KUBECONFIG = ETC_KUBERNETES / "admin.conf"
MANIFESTS = ETC_KUBERNETES / "manifests"
KUBELET_DIR = Path("/var/lib/kubelet")
SECCOMP_DIR = KUBELET_DIR / "seccomp"  # where a Localhost seccomp profile's path starts (the kubelet's root dir)
ETCD_DIR = Path("/var/lib/etcd")
CONTAINERD_ROOT = Path("/var/lib/containerd")
CONTAINERD_STATE = Path("/run/containerd")
CONTAINERD_SOCKET = CONTAINERD_STATE / "containerd.sock"
CNI_CONF_DIR = Path("/etc/cni/net.d")
CNI_CONF = CNI_CONF_DIR / "10-cks-testbed.conflist"
CNI_BIN_DIR = Path("/usr/lib/cni")
CNI_STATE = Path("/var/lib/cni")
RUNC = Path("/usr/sbin/runc")
RUN_DIR = Path("/run/cks-lab-testbed")
LOG_DIR = Path("/var/log/cks-lab-testbed")
CONFIG_DIR = Path("/etc/cks-lab-testbed")
KUBEADM_PATCHES = CONFIG_DIR / "kubeadm-patches"
RUNSC_CONFIG = CONFIG_DIR / "runsc.toml"
KUBE_BENCH_CFG = Path("/etc/kube-bench/cfg")  # where kube-bench's release packages put its checks, as on the VMs
# The node tools a student (and a grader) runs by name, on PATH as on the VMs (their packages put them in /usr/bin).
NODE_TOOLS = ("crictl", "etcdctl", "kube-bench")
NODE_TOOLS_DIR = Path("/usr/local/bin")
# gVisor's platform: systrap (runsc's default) and ptrace run here; KVM hung (docs/testbed.md).
GVISOR_PLATFORM = "systrap"
# The kubelet kills the old kube-apiserver of a changed manifest only when its pod's grace period is over (30 s by
# default): kube-apiserver drains its long-lived connections for up to 60 s and never exits sooner. Proofs restart it
# on purpose, so the testbed's pod gets a short one (docs/testbed.md); the Vagrant cluster keeps kubeadm's.
APISERVER_PATCH = "spec:\n  terminationGracePeriodSeconds: 1\n"
IPTABLES_COMMANDS = ("iptables", "ip6tables")
# Written when `up` has initialised a cluster and seen its node Ready: without it, an admin.conf is the leftover of an
# `up` that was killed half-way (kubeadm writes admin.conf long before the cluster is complete).
INITIALISED = CONFIG_DIR / "initialised"

PORTS = {
    6443: "kube-apiserver",
    2379: "etcd",
    2380: "etcd peer",
    2381: "etcd metrics",
    10248: "kubelet healthz",
    10250: "kubelet",
    10257: "kube-controller-manager",
    10259: "kube-scheduler",
    10249: "kube-proxy metrics",
    10256: "kube-proxy healthz",
    KUBE_ROUTER_HEALTH_PORT: "kube-router healthz",
    registry.PORT: "the registry",
}

# Preflight checks that cannot pass on this machine, each explained in docs/testbed.md.
IGNORED_PREFLIGHT_ERRORS = ("SystemVerification", "Service-Kubelet")

# The phases the testbed runs one by one before the kubelet starts; `kubeadm init` then runs every other phase.
EARLY_PHASES = ("certs all", "kubeconfig all", "etcd local", "control-plane all", "kubelet-start")


class TestbedError(RuntimeError):
    """The testbed cannot do what was asked; the message says what and where."""


@dataclass(frozen=True)
class Status:
    ready: bool
    kubeconfig: str
    version: str
    components: dict[str, str]

    def as_json(self) -> dict:
        return {
            "ready": self.ready,
            "kubeconfig": self.kubeconfig,
            "version": self.version,
            "components": self.components,
        }


def _path_env() -> dict[str, str]:
    path = f"{build.binaries_dir()}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    return {**os.environ, "PATH": path}


def _bin(name: str) -> str:
    return str(build.binaries_dir() / name)


def _run(argv: list[str], what: str, timeout: float = 300, stdin: str | None = None) -> str:
    try:
        result = subprocess.run(argv, input=stdin, capture_output=True, text=True, env=_path_env(), timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise TestbedError(f"{what}: `{' '.join(argv)}` did not finish within {timeout:.0f}s") from exc
    except FileNotFoundError as exc:
        raise TestbedError(f"{what}: {argv[0]} not found (run `lab testbed build`)") from exc
    if result.returncode:
        output = (result.stderr or result.stdout).strip()[-3000:]
        raise TestbedError(f"{what}: `{' '.join(argv)}` failed (exit {result.returncode}):\n{output}")
    return result.stdout


# ---------------------------------------------------------------------------------------------------------- configs


def kubeadm_config() -> str:
    """The kubeadm config of the testbed: the Vagrant cluster's template, rendered with the testbed's values."""
    if not KUBEADM_TEMPLATE.exists():
        raise TestbedError(f"the kubeadm config template {KUBEADM_TEMPLATE} is missing")
    v = pinned()
    return _render(
        KUBEADM_TEMPLATE,
        kubernetes_version=v.kubernetes_version,
        node_name=NODE_NAME,
        advertise_address=ADVERTISE_ADDRESS,
        pod_subnet=POD_SUBNET,
        service_subnet=SERVICE_SUBNET,
        cri_socket=f"unix://{CONTAINERD_SOCKET}",
        kubelet_cgroup_driver="cgroupfs",
        kubelet_fail_cgroup_v1=False,
        control_plane_taint=False,
        etcd_image_tag=f"{v.etcd_version}-0",
        image_repository="registry.k8s.io",
        # One node, no standby: with leader election on, both exit whenever kube-apiserver is down for longer than
        # their 10 s renew deadline, and the kubelet restarts them with a growing back-off (up to 5 minutes), which
        # the proofs' deliberate apiserver restarts would then wait for (docs/testbed.md).
        patches_directory=str(KUBEADM_PATCHES),
        control_plane_extra_args={
            "controllerManager": {"leader-elect": "false"},
            "scheduler": {"leader-elect": "false"},
        },
        kubelet_extra_config={
            # Imported images cannot be pulled again: never garbage-collect them, never evict for disk.
            "imageGCHighThresholdPercent": 100,
            "imageGCLowThresholdPercent": 99,
            "evictionHard": {"memory.available": "100Mi", "nodefs.available": "1%", "imagefs.available": "1%"},
            "failSwapOn": False,
        },
    )


def _render(template: Path, **variables: object) -> str:
    """A template rendered with plain jinja2, every variable it names required."""
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    return environment.from_string(template.read_text()).render(**variables)


def _has_capability(bit: int) -> bool:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("CapEff:"):
            return bool(int(line.split()[1], 16) >> bit & 1)
    return False


CAP_SYS_RESOURCE = 24


def containerd_config() -> str:
    v = pinned()
    restrict_oom = not _has_capability(CAP_SYS_RESOURCE)
    return f"""version = 3
root = "{CONTAINERD_ROOT}"
state = "{CONTAINERD_STATE}"

[grpc]
  address = "{CONTAINERD_SOCKET}"

[plugins.'io.containerd.cri.v1.images']
  snapshotter = "overlayfs"
  [plugins.'io.containerd.cri.v1.images'.pinned_images]
    sandbox = "registry.k8s.io/pause:{v.pause_version}"
  [plugins.'io.containerd.cri.v1.images'.registry]
    config_path = "{registry.CERTS_DIR}"

[plugins.'io.containerd.cri.v1.runtime']
  # This machine withholds CAP_SYS_RESOURCE even from root, so a container's oom_score_adj cannot go below
  # containerd's own; without this runc fails every sandbox with "can't get final child's PID from pipe".
  restrict_oom_score_adj = {str(restrict_oom).lower()}
  [plugins.'io.containerd.cri.v1.runtime'.containerd]
    default_runtime_name = "runc"
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
        BinaryName = "{RUNC}"
        SystemdCgroup = false
    # gVisor: RuntimeClasses with `handler: runsc` run their pods in its sandbox (containerd-shim-runsc-v1)
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runsc]
      runtime_type = "io.containerd.runsc.v1"
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runsc.options]
        TypeUrl = "io.containerd.runsc.v1.options"
        ConfigPath = "{RUNSC_CONFIG}"
  [plugins.'io.containerd.cri.v1.runtime'.cni]
    bin_dirs = ["{CNI_BIN_DIR}"]
    conf_dir = "{CNI_CONF_DIR}"
"""


def runsc_config() -> str:
    """containerd-shim-runsc-v1's options: which runsc to run and with which flags (`runsc_config`)."""
    return f'binary_name = "{_bin("runsc")}"\n\n[runsc_config]\n  platform = "{GVISOR_PLATFORM}"\n'


def cni_config() -> str:
    return json.dumps(
        {
            "cniVersion": "1.0.0",
            "name": "cks-testbed",
            "plugins": [
                {
                    "type": "bridge",
                    "bridge": CNI_BRIDGE,
                    "isGateway": True,
                    "ipMasq": True,
                    "hairpinMode": True,
                    "ipam": {
                        "type": "host-local",
                        "ranges": [[{"subnet": NODE_POD_SUBNET}]],
                        "routes": [{"dst": "0.0.0.0/0"}],
                    },
                },
                {"type": "portmap", "capabilities": {"portMappings": True}},
            ],
        },
        indent=2,
    )


def inventory() -> dict:
    """The Ansible inventory of the testbed: `controlplane` is this machine."""
    import sys

    return {
        "all": {
            "hosts": {
                NODE_NAME: {
                    "ansible_connection": "local",
                    "ansible_python_interpreter": sys.executable,
                }
            },
            "vars": {"kubeconfig": str(KUBECONFIG), "testbed": True},
        }
    }


# ------------------------------------------------------------------------------------------------------------- up


def up(log: Callable[[str], None] = print) -> Path:
    """Bring the testbed up (building what is missing) and return the kubeconfig path. Idempotent."""
    started = time.monotonic()
    build.build_all(log=lambda m: None if "cached" in m else log(m))
    _check_host()
    if KUBECONFIG.exists():
        _refuse_half_initialised()
        if status().ready:
            log(f"testbed already up ({time.monotonic() - started:.1f}s)")
            return KUBECONFIG
        log("testbed configured but not running: starting what is not")
        _prepare_host()
        _start_containerd(log)
        images.import_all(Path(_bin("ctr")), str(CONTAINERD_SOCKET), log=log)  # those added since its `up`
        _start_kubelet()
        _wait_ready(log, timeout=180)
        _add_missing_addons(log)
    else:
        _refuse_leftovers()
        _check_ports()
        _prepare_host()
        _start_containerd(log)
        if _pods_left():  # an earlier cluster's pods in containerd's store would confuse the new kubelet
            log("removing the pods of an earlier cluster")
            _remove_pods()
        images.import_all(Path(_bin("ctr")), str(CONTAINERD_SOCKET), log=log)
        _kubeadm_init(log)
        _wait_ready(log, timeout=240)
        INITIALISED.write_text(f"{pinned().kubernetes_version}\n")
    _apply_addons()
    SECCOMP_DIR.mkdir(parents=True, exist_ok=True)
    metadata.start(RUN_DIR, LOG_DIR, CONFIG_DIR / "metadata", _path_env())
    _start_registry(log)
    _wait_addons(log, timeout=120)
    log(f"testbed ready in {time.monotonic() - started:.1f}s; kubeconfig: {KUBECONFIG}")
    return KUBECONFIG


def _check_host() -> None:
    missing = [str(p) for p in (RUNC, CNI_BIN_DIR / "bridge", CNI_BIN_DIR / "host-local") if not p.exists()]
    missing += [tool for tool in ("iptables", "conntrack", "socat") if not shutil.which(tool, path=_path_env()["PATH"])]
    if missing:
        raise TestbedError(
            "missing on this machine: "
            + ", ".join(missing)
            + " (install the Debian packages in .ci/debian-packages.txt)"
        )
    if os.geteuid() != 0:
        raise TestbedError("the testbed runs a kubelet and containerd: it needs root")


def _refuse_half_initialised() -> None:
    if not INITIALISED.exists():
        raise TestbedError(
            f"an earlier `lab testbed up` stopped before the cluster was complete: {KUBECONFIG} exists but "
            f"{INITIALISED} does not; run `lab testbed down` to clean up, then `lab testbed up`"
        )


def _refuse_leftovers() -> None:
    leftovers = [str(p) for p in (MANIFESTS, KUBELET_DIR / "config.yaml", ETCD_DIR / "member") if p.exists()]
    if leftovers:
        raise TestbedError(
            "leftovers of an earlier cluster without its admin.conf: "
            + ", ".join(leftovers)
            + "; run `lab testbed down` to clean them up, then `lab testbed up`"
        )


def _check_ports() -> None:
    busy = []
    for port, owner in PORTS.items():
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                busy.append(f"{port} ({owner})")
    if busy:
        raise TestbedError(
            "ports in use by another program: "
            + ", ".join(busy)
            + "; find it with `ss -ltnp` and stop it, or run `lab testbed down` if it is a leftover testbed"
        )


def _prepare_host() -> None:
    if NODE_IP not in subprocess.run(["ip", "-o", "addr", "show", "dev", "lo"], capture_output=True, text=True).stdout:
        subprocess.run(["ip", "addr", "add", f"{NODE_IP}/32", "dev", "lo"], check=True)
    for key in ("net/ipv4/ip_forward", "net/bridge/bridge-nf-call-iptables", "net/bridge/bridge-nf-call-ip6tables"):
        path = Path("/proc/sys") / key
        if path.exists():
            path.write_text("1\n")
    _reject_unserved_service_addresses()
    for directory in (CONFIG_DIR, CNI_CONF_DIR, LOG_DIR, RUN_DIR):
        directory.mkdir(parents=True, exist_ok=True)
    (CONFIG_DIR / "containerd.toml").write_text(containerd_config())
    RUNSC_CONFIG.write_text(runsc_config())
    _link_kube_bench_checks()
    _link_node_tools()
    CNI_CONF.write_text(cni_config())
    registry.configure_containerd(REGISTRY)
    registry.map_hostname(NODE_IP)
    # The Vagrant nodes have crictl configured the same way (playbooks' containerd role).
    Path("/etc/crictl.yaml").write_text(
        f"runtime-endpoint: unix://{CONTAINERD_SOCKET}\nimage-endpoint: unix://{CONTAINERD_SOCKET}\n"
    )


def _link_kube_bench_checks() -> None:
    """/etc/kube-bench/cfg: the checks of the built kube-bench (its cfg/), where its packages install them."""
    checks = build.bin_dir(next(c for c in build.components() if c.name == "kube-bench")) / "cfg"
    if KUBE_BENCH_CFG.exists() and not KUBE_BENCH_CFG.is_symlink():
        return  # a kube-bench package installed its own: it stays
    KUBE_BENCH_CFG.parent.mkdir(parents=True, exist_ok=True)
    KUBE_BENCH_CFG.unlink(missing_ok=True)
    KUBE_BENCH_CFG.symlink_to(checks)


def _link_node_tools() -> None:
    """/usr/local/bin/crictl and the other NODE_TOOLS: links to the built ones, unless a package installed its own."""
    for tool in NODE_TOOLS:
        link = NODE_TOOLS_DIR / tool
        if link.exists() and not link.is_symlink():
            continue
        link.unlink(missing_ok=True)
        link.symlink_to(build.binaries_dir() / tool)


SERVICE_REJECT = [
    "FORWARD", "-s", POD_SUBNET, "-d", SERVICE_SUBNET, "-m", "comment", "--comment", "cks-testbed: no such Service",
    "-j", "REJECT",
]  # fmt: skip


def _reject_unserved_service_addresses() -> None:
    """Pods' packets to a Service address kube-proxy has not translated (yet) are refused. This machine sends
    every unknown address to a proxy that answers TLS with a certificate of its own; a node would drop them. Before
    kube-proxy's first sync, CoreDNS met that certificate, and one replica then answered NXDOMAIN for every new
    Service until it was restarted; refused, it retries as on a node. Translated packets already carry the
    endpoint's address when they reach FORWARD, so they pass. Appended, not inserted: kube-router keeps its own jump
    first in FORWARD by inserting it again and deleting the old one by number, which races with any other rule
    inserted there (one of ours vanished that way)."""
    if subprocess.run(["iptables", "-C", *SERVICE_REJECT], capture_output=True).returncode != 0:
        subprocess.run(["iptables", "-A", *SERVICE_REJECT], check=True, capture_output=True)


def _start_containerd(log: Callable[[str], None]) -> None:
    if supervisor.pid_of("containerd", RUN_DIR) is None:
        log("starting containerd")
        _supervise("containerd", [_bin("containerd"), "--config", str(CONFIG_DIR / "containerd.toml")])
    _wait(
        lambda: _crictl_ok(), 30, f"containerd did not answer on {CONTAINERD_SOCKET}; see {LOG_DIR / 'containerd.log'}"
    )


def _crictl(*args: str, timeout: float | None = 10) -> subprocess.CompletedProcess[str]:
    """Run the built crictl against the testbed's containerd (its endpoint is in /etc/crictl.yaml)."""
    return subprocess.run([_bin("crictl"), *args], capture_output=True, text=True, env=_path_env(), timeout=timeout)


def _crictl_ok() -> bool:
    return _crictl("info", timeout=None).returncode == 0


def _kubelet_argv() -> list[str]:
    flags_file = KUBELET_DIR / "kubeadm-flags.env"
    kubeadm_args: list[str] = []
    if flags_file.exists():
        for line in flags_file.read_text().splitlines():
            if line.startswith("KUBELET_KUBEADM_ARGS="):
                kubeadm_args = shlex.split(shlex.split(line.split("=", 1)[1])[0])
    return [
        _bin("kubelet"),
        f"--bootstrap-kubeconfig={ETC_KUBERNETES / 'bootstrap-kubelet.conf'}",
        f"--kubeconfig={ETC_KUBERNETES / 'kubelet.conf'}",
        f"--config={KUBELET_DIR / 'config.yaml'}",
        *kubeadm_args,
        f"--node-ip={NODE_IP}",
    ]


def _start_kubelet() -> None:
    if supervisor.pid_of("kubelet", RUN_DIR) is None:
        _supervise("kubelet", _kubelet_argv())


def stop_kubelet() -> None:
    """Stop the kubelet as `systemctl stop kubelet` does on a node: the pods' containers keep running."""
    supervisor.stop("kubelet", RUN_DIR)


def start_kubelet(timeout: float = 60) -> None:
    """Start the kubelet again and wait until it answers its health check."""
    _start_kubelet()
    _wait(lambda: _probe_http(KUBELET_HEALTH), timeout, f"the kubelet was not healthy within {timeout:.0f}s")


def _supervise(name: str, argv: list[str]) -> None:
    if not os.access(argv[0], os.X_OK):
        raise TestbedError(f"cannot start {name}: {argv[0]} is missing or not executable; run `lab testbed build`")
    supervisor.start(name, argv, RUN_DIR, LOG_DIR, _path_env())


def _kubeadm_init(log: Callable[[str], None]) -> None:
    config = CONFIG_DIR / "kubeadm-config.yaml"
    config.write_text(kubeadm_config())
    KUBEADM_PATCHES.mkdir(exist_ok=True)
    (KUBEADM_PATCHES / "kube-apiserver+strategic.yaml").write_text(APISERVER_PATCH)
    kubeadm = _bin("kubeadm")
    ignore = "--ignore-preflight-errors=" + ",".join(IGNORED_PREFLIGHT_ERRORS)
    log("kubeadm: preflight")
    _run([kubeadm, "init", "phase", "preflight", f"--config={config}", ignore], "kubeadm preflight")
    for phase in EARLY_PHASES:
        log(f"kubeadm: {phase}")
        _run([kubeadm, "init", "phase", *phase.split(), f"--config={config}"], f"kubeadm phase {phase}")
    log("starting the kubelet")
    _start_kubelet()
    skipped = ["preflight", *(phase.split()[0] for phase in EARLY_PHASES)]
    log("kubeadm: waiting for the control plane, then the remaining phases")
    _run(
        [kubeadm, "init", f"--config={config}", "--skip-phases=" + ",".join(skipped)],
        "kubeadm init",
        timeout=300,
    )


def _add_missing_addons(log: Callable[[str], None]) -> None:
    """kubeadm's addons (kube-proxy, CoreDNS) on a cluster made before the testbed ran them: `kubeadm init phase
    addon all`, which creates what is missing and leaves what is there."""
    found = subprocess.run(
        [_bin("kubectl"), f"--kubeconfig={KUBECONFIG}", "-n", "kube-system", "get", "daemonset", "kube-proxy"],
        capture_output=True,
        text=True,
        env=_path_env(),
        timeout=15,
    )
    if found.returncode == 0:
        return
    log("kubeadm: addon all (kube-proxy and CoreDNS)")
    config = CONFIG_DIR / "kubeadm-config.yaml"
    config.write_text(kubeadm_config())
    _run([_bin("kubeadm"), "init", "phase", "addon", "all", f"--config={config}"], "kubeadm phase addon all")


def kube_router_manifest() -> str:
    """The RBAC and DaemonSet of kube-router's NetworkPolicy firewall (files/kube-router.yaml.j2)."""
    return _render(KUBE_ROUTER_TEMPLATE, image=images.KUBE_ROUTER_IMAGE, health_port=KUBE_ROUTER_HEALTH_PORT)


def traefik_manifest() -> str:
    """The ingress controller: Traefik serving IngressClass nginx, the traefik role's manifest with our image."""
    return _render(TRAEFIK_TEMPLATE, traefik_image=images.TRAEFIK_IMAGE)


def _apply_addons() -> None:
    """kube-router's and Traefik's objects, created or brought back to their manifests (`kubectl apply`: idempotent)."""
    for name, manifest in (("kube-router", kube_router_manifest()), ("traefik", traefik_manifest())):
        _run(
            [_bin("kubectl"), f"--kubeconfig={KUBECONFIG}", "apply", "-f", "-"],
            f"kubectl apply {name}",
            stdin=manifest,
        )


def _start_registry(log: Callable[[str], None]) -> None:
    """The registry, and the lab's images pushed to it when it was not running (it keeps manifests in memory)."""
    if not registry.start(_bin("crane"), REGISTRY_LISTEN, RUN_DIR, LOG_DIR, _path_env()):
        return
    _wait(lambda: _probe_http(f"http://{REGISTRY}/v2/"), 30, f"the registry did not answer on {REGISTRY}")
    try:
        registry.push(_bin("crane"), REGISTRY, images.registry_layouts(), log)
    except registry.RegistryError as error:
        raise TestbedError(str(error)) from None


def _wait_addons(log: Callable[[str], None], timeout: float) -> None:
    """Until kube-proxy and kube-router answer their health checks and CoreDNS and Traefik run."""
    log("waiting for kube-proxy, CoreDNS, kube-router and Traefik")
    try:
        _wait(_addons_run, timeout, f"kube-proxy, CoreDNS, kube-router and Traefik did not run within {timeout:.0f}s")
    except TestbedError as error:
        reasons = [f"{name}: {state}" for name, state in status().components.items() if state != "running"]
        raise TestbedError("; ".join([str(error), *reasons])) from None


def _addons_run() -> bool:
    return all(state == "running" for state in _addon_states().values())


def _addon_states() -> dict[str, str]:
    return {
        "kube-proxy": _addon_state("kube-proxy", KUBE_PROXY_HEALTH),
        "coredns": _addon_state("coredns"),
        "kube-router": _addon_state("kube-router", f"http://127.0.0.1:{KUBE_ROUTER_HEALTH_PORT}/healthz"),
        "traefik": _addon_state("traefik"),
    }


def _wait_ready(log: Callable[[str], None], timeout: float) -> None:
    log("waiting for the node to be Ready")
    try:
        _wait(lambda: _node_ready(), timeout, f"node {NODE_NAME} did not become Ready within {timeout:.0f}s")
    except TestbedError as error:
        reasons = [f"{name}: {state}" for name, state in status().components.items() if state != "running"]
        raise TestbedError("; ".join([str(error), *reasons, f"see {LOG_DIR / 'kubelet.log'}"])) from None


def _node_ready() -> bool:
    result = subprocess.run(
        [
            _bin("kubectl"),
            f"--kubeconfig={KUBECONFIG}",
            "get",
            "node",
            NODE_NAME,
            "-o",
            "jsonpath={.status.conditions[?(@.type=='Ready')].status}",
        ],
        capture_output=True,
        text=True,
        env=_path_env(),
        timeout=15,
    )
    return result.returncode == 0 and result.stdout.strip() == "True"


def _wait(predicate: Callable[[], bool], timeout: float, message: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except (OSError, subprocess.SubprocessError):
            pass
        time.sleep(0.5)
    raise TestbedError(message)


# ------------------------------------------------------------------------------------------------------------ down


def down(log: Callable[[str], None] = print) -> None:
    """Stop everything the testbed started and remove its state: no process, container, mount, interface or rule."""
    started = time.monotonic()
    if supervisor.stop("kubelet", RUN_DIR):
        log("stopped the kubelet")
    if build.binaries_dir().exists() and Path(_bin("containerd")).exists():
        if supervisor.pid_of("containerd", RUN_DIR) is None and CONTAINERD_ROOT.exists():
            _prepare_host()
            _start_containerd(log)
        if _crictl_ok():
            log("removing every pod")
            _remove_pods()
            if _pods_left():  # a pod that would not stop: kill what runs in it, then remove it again
                _kill_pod_processes(log)
                _remove_pods()
        supervisor.stop("containerd", RUN_DIR)
        log("stopped containerd")
    metadata.stop(RUN_DIR, log)
    registry.stop(RUN_DIR, log)
    registry.unmap_hostname()
    _kill_leftover_processes(log)
    _unmount_below((KUBELET_DIR, CONTAINERD_STATE, Path("/run/netns")), log)
    _remove_network(log)
    for path in (
        ETC_KUBERNETES,
        KUBELET_DIR,
        ETCD_DIR,
        CNI_CONF,
        CNI_STATE / "networks" / "cks-testbed",
        CONFIG_DIR,
        RUN_DIR,
        registry.DATA,
        registry.CERTS_DIR / REGISTRY,
        registry.CERTS_DIR / REGISTRY_LISTEN,  # an older testbed's `up` named the registry by its address
        CONTAINERD_STATE,
    ):
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    for link in (KUBE_BENCH_CFG, *(NODE_TOOLS_DIR / tool for tool in NODE_TOOLS)):
        if link.is_symlink() and str(link.readlink()).startswith(str(build.cache_dir())):  # ours; others' stay
            link.unlink()
    log(f"testbed down in {time.monotonic() - started:.1f}s")


# What outlives containerd: its shims (by design), gVisor's sandboxes and gofers (runsc), a kubelet not yet stopped.
LEFTOVER_PROGRAMS = ("containerd-shim-runc-v2", "containerd-shim-runsc-v1", "runsc", "kubelet", "containerd")


def _kill_leftover_processes(log: Callable[[str], None]) -> None:
    """containerd shims outlive containerd by design, and containers outlive their shims: kill whatever is left."""
    ours = str(build.cache_dir())
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            exe = os.readlink(proc / "exe")
        except OSError:
            continue
        if exe.startswith(ours) and Path(exe).name in LEFTOVER_PROGRAMS:
            log(f"killing leftover {Path(exe).name} (pid {proc.name})")
            try:
                os.killpg(int(proc.name), 9)
            except (ProcessLookupError, PermissionError):
                os.kill(int(proc.name), 9)
    _kill_pod_processes(log)


def _kill_pod_processes(log: Callable[[str], None]) -> None:
    for pid, command in pod_processes():
        log(f"killing leftover container process {command} (pid {pid})")
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, 9)
    deadline = time.monotonic() + 10
    while pod_processes() and time.monotonic() < deadline:
        time.sleep(0.1)  # a killed process lives on until the kernel has torn it down


def _remove_pods() -> None:
    """Stop and remove every pod sandbox containerd knows (what `crictl rmp` cannot remove, it leaves)."""
    with contextlib.suppress(subprocess.TimeoutExpired):
        _crictl("rmp", "--all", "--force", timeout=120)


def _pods_left() -> bool:
    """Whether containerd still knows a pod sandbox (when it does not answer in time: assume so)."""
    try:
        return bool(_crictl("pods", "-q", timeout=30).stdout.strip())
    except subprocess.TimeoutExpired:
        return True


def pod_processes() -> list[tuple[int, str]]:
    """Live processes in a pod's cgroup (below /kubepods), with their command names: what runs inside containers.
    A zombie (dead, waiting for its new parent to reap it) no longer runs anything and is not counted."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            groups = (proc / "cgroup").read_text().splitlines()
            command = (proc / "comm").read_text().strip()
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state != "Z" and any(line.split(":", 2)[-1].startswith("/kubepods") for line in groups):
            found.append((int(proc.name), command))
    return found


def _unmount_below(roots: tuple[Path, ...], log: Callable[[str], None]) -> None:
    mounts = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()]
    targets = [m for m in mounts if any(m == str(r) or m.startswith(str(r) + "/") for r in roots)]
    for target in sorted(targets, key=len, reverse=True):
        if subprocess.run(["umount", "-l", target], capture_output=True).returncode == 0:
            log(f"unmounted {target}")


def _remove_network(log: Callable[[str], None]) -> None:
    links = subprocess.run(["ip", "-j", "link", "show"], capture_output=True, text=True).stdout
    for link in json.loads(links or "[]"):
        name = link.get("ifname", "")
        if name == CNI_BRIDGE or (name.startswith("veth") and link.get("master") == CNI_BRIDGE):
            subprocess.run(["ip", "link", "delete", name], capture_output=True)
            log(f"deleted interface {name}")
    if subprocess.run(["ip", "addr", "del", f"{NODE_IP}/32", "dev", "lo"], capture_output=True).returncode == 0:
        log(f"removed the node address {NODE_IP} from lo")
    _remove_cni_iptables(log)


def _remove_cni_iptables(log: Callable[[str], None]) -> None:
    """Delete the rules and chains the bridge and portmap plugins made (all named CNI-*), and the kubelet's KUBE-*,
    from IPv4 and IPv6 tables alike (the kubelet makes its canary chains in both)."""
    for command in IPTABLES_COMMANDS:
        if not shutil.which(command):
            continue
        for table in ("nat", "filter", "mangle"):
            rules = subprocess.run([command, "-t", table, "-S"], capture_output=True, text=True).stdout.splitlines()
            ours = [r for r in rules if r.startswith("-A") and ("CNI-" in r or "KUBE-" in r or "cks-testbed" in r)]
            for rule in ours:
                subprocess.run([command, "-t", table, "-D", *shlex.split(rule)[1:]], capture_output=True)
            chains = [r.split()[1] for r in rules if r.startswith("-N") and r.split()[1].startswith(("CNI-", "KUBE-"))]
            for chain in chains:
                subprocess.run([command, "-t", table, "-F", chain], capture_output=True)
            for chain in chains:
                subprocess.run([command, "-t", table, "-X", chain], capture_output=True)
            if ours or chains:
                log(f"removed {len(ours)} {command} rules and {len(chains)} chains from table {table}")


# ---------------------------------------------------------------------------------------------------------- status


def _probe_https(url: str) -> bool:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with urllib.request.urlopen(url, context=context, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def _probe_http(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


KUBELET_HEALTH = "http://127.0.0.1:10248/healthz"
KUBE_PROXY_HEALTH = "http://127.0.0.1:10256/healthz"
STATIC_POD_HEALTH = {
    "etcd": ("http", "http://127.0.0.1:2381/health"),
    "kube-apiserver": ("https", "https://127.0.0.1:6443/livez"),
    "kube-controller-manager": ("https", "https://127.0.0.1:10257/healthz"),
    "kube-scheduler": ("https", "https://127.0.0.1:10259/healthz"),
}


def _static_pod_state(component: str) -> str:
    scheme, url = STATIC_POD_HEALTH[component]
    if (_probe_https if scheme == "https" else _probe_http)(url):
        return "running"
    manifest = MANIFESTS / f"{component}.yaml"
    if not manifest.exists():
        return f"stopped: {manifest} is missing"
    try:
        parsed = yaml.safe_load(manifest.read_text())
    except yaml.YAMLError as error:
        return f"stopped: {manifest} is not valid YAML ({str(error).splitlines()[0]}); the kubelet cannot run it"
    if not isinstance(parsed, dict) or parsed.get("kind") != "Pod":
        return f"stopped: {manifest} is not a Pod manifest; the kubelet cannot run it"
    return f"stopped: {_last_container(component)}; see {LOG_DIR / 'kubelet.log'}"


def _last_container(component: str) -> str:
    """What the CRI says of the component's newest container: its exit code and last log line, or its state (and, in
    a crash loop caught between two attempts, how the attempt before it ended)."""
    try:
        listing = _crictl("ps", "-a", "--name", f"^{component}$", "-o", "json")
        containers = json.loads(listing.stdout or "{}").get("containers") or []
    except (OSError, subprocess.SubprocessError, ValueError):
        return f"containerd does not answer (`{_bin('crictl')} ps -a`)"
    if not containers:
        return "the kubelet has created no container for it (yet)"
    containers.sort(key=lambda c: int(c.get("createdAt") or 0), reverse=True)
    newest = containers[0]
    if newest.get("state") == "CONTAINER_EXITED":
        return _exited(newest, "its container")
    now = f"its container {newest['id'][:13]} is {newest.get('state', 'in an unknown state')}"
    before = next(
        (
            c
            for c in containers[1:]
            if c.get("podSandboxId") == newest.get("podSandboxId") and c.get("state") == "CONTAINER_EXITED"
        ),
        None,
    )
    return now if before is None else f"{now}; {_exited(before, 'the one before it')}"


def _exited(container: dict, label: str) -> str:
    """`its container 9e1998bcafec9 exited with code 1: <its last log line>` for an exited container."""
    crictl, short = _bin("crictl"), container["id"][:13]
    try:
        code = json.loads(_crictl("inspect", container["id"]).stdout or "{}").get("status", {}).get("exitCode", "?")
        logs = _crictl("logs", "--tail", "5", container["id"])
    except (OSError, subprocess.SubprocessError, ValueError):
        return f"{label} {short} exited; see `{crictl} logs {short}`"
    lines = [line.strip() for line in (logs.stdout + logs.stderr).splitlines() if line.strip()]
    said = f": {lines[-1][:300]}" if lines else ""
    return f"{label} {short} exited with code {code}{said} (`{crictl} logs {short}`)"


def _addon_state(container: str, health: str | None = None) -> str:
    """An addon (kube-proxy, CoreDNS, kube-router, Traefik): running when its health endpoint answers (those on the
    host network) or a container of its runs (CoreDNS and Traefik, whose pod network the host does not probe by
    name)."""
    if health and _probe_http(health):
        return "running"
    try:
        listing = _crictl("ps", "--name", f"^{container}$", "-o", "json")
        running = json.loads(listing.stdout or "{}").get("containers") or []
    except (OSError, subprocess.SubprocessError, ValueError):
        running = []
    if running and not health:
        return "running"
    return f"stopped: {_last_container(container)}"


def _registry_state() -> str:
    url = f"http://{REGISTRY}/v2/"
    if _probe_http(url):
        return "running"
    return f"stopped: no answer from {url}; see {LOG_DIR / (registry.NAME + '.log')}"


def _metadata_state() -> str:
    url = f"http://{metadata.ENDPOINT}/"
    if _probe_http(url):
        return "running"
    if not metadata.exists():
        return f"stopped: network namespace {metadata.NETNS} is missing (`lab testbed up` makes it)"
    return f"stopped: no answer from {url}; see {LOG_DIR / (metadata.SERVER + '.log')}"


def _gvisor_state() -> str:
    """gVisor is ready when containerd offers the runtime handler `runsc` and the runsc it names runs."""
    try:
        info = json.loads(_crictl("info").stdout or "{}")
    except (OSError, subprocess.TimeoutExpired, json.JSONDecodeError):  # crictl missing or silent, or no JSON
        info = {}
    if not info:
        return f"stopped: containerd does not answer (`{_bin('crictl')} info`)"
    if "runsc" not in {handler.get("name") for handler in info.get("runtimeHandlers", [])}:
        return f"stopped: containerd has no runtime handler runsc; see {CONFIG_DIR / 'containerd.toml'}"
    try:
        version = subprocess.run([_bin("runsc"), "--version"], capture_output=True, text=True, check=False)
    except OSError as error:
        return f"stopped: {_bin('runsc')} does not run ({error.strerror}; `lab testbed build` builds it)"
    if version.returncode:
        return f"stopped: `{_bin('runsc')} --version` failed: {version.stderr.strip()[:200]}"
    return "running"


def status() -> Status:
    """What is running: each component's state (with a reason when it is not) and whether the node is Ready."""
    components = {"containerd": "running" if supervisor.pid_of("containerd", RUN_DIR) else "stopped"}
    if _probe_http(KUBELET_HEALTH):
        components["kubelet"] = "running"
    else:
        components["kubelet"] = "starting" if supervisor.pid_of("kubelet", RUN_DIR) else "stopped"
    components |= {component: _static_pod_state(component) for component in STATIC_POD_HEALTH}
    components |= _addon_states()
    components["metadata-endpoint"] = _metadata_state()
    components["registry"] = _registry_state()
    components["gvisor"] = _gvisor_state()
    ready = all(state == "running" for state in components.values()) and _safe_node_ready()
    return Status(
        ready=ready, kubeconfig=str(KUBECONFIG), version="v" + pinned().kubernetes_version, components=components
    )


def apiserver_ready() -> bool:
    """Whether kube-apiserver answers /readyz with ok."""
    return _probe_https("https://127.0.0.1:6443/readyz")


def wait_until_ready(timeout: float) -> None:
    """Return once every component runs and the node is Ready; TestbedError naming what is not, after `timeout`."""
    deadline = time.monotonic() + timeout
    while not (state := status()).ready:
        if time.monotonic() > deadline:
            waiting = [f"{name}: {reason}" for name, reason in state.components.items() if reason != "running"]
            raise TestbedError(f"the testbed is not ready after {timeout:.0f}s: {'; '.join(waiting) or 'node'}")
        time.sleep(0.5)


def _safe_node_ready() -> bool:
    try:
        return KUBECONFIG.exists() and _node_ready()
    except (OSError, subprocess.SubprocessError):
        return False


def static_pod_manifest(component: str) -> dict:
    """The parsed static pod manifest of a control-plane component (for tests and graders)."""
    return yaml.safe_load((MANIFESTS / f"{component}.yaml").read_text())


def cache_size_bytes() -> int:
    return sum(p.stat().st_size for p in cache_dir().rglob("*") if p.is_file() and not p.is_symlink())
