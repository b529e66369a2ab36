"""Pure logic of the testbed: image archives, generated configs, the daemon supervisor. No cluster needed."""

from __future__ import annotations

import io
import json
import os
import shutil
import tarfile
import time
import tomllib
from pathlib import Path

import pytest
import yaml

from labs.testbed import build, cluster, images, oci, registry, supervisor
from labs.versions import pinned


def test_layers_are_reproducible_and_add_missing_parent_directories():
    entries = [oci.Entry.text("/usr/share/a/b.txt", "x"), oci.Entry.link("/bin/sh", "busybox")]
    first, second = oci.layer_tar(entries), oci.layer_tar(list(reversed(entries)))
    assert first == second
    with tarfile.open(fileobj=io.BytesIO(first)) as tar:
        names = tar.getnames()
    assert names == ["bin", "bin/sh", "usr", "usr/share", "usr/share/a", "usr/share/a/b.txt"]


def test_image_archive_is_an_oci_layout_naming_the_image(tmp_path):
    out = tmp_path / "img.tar"
    oci.write_archive(
        out,
        "registry.k8s.io/pause:3.10.2",
        [oci.Entry.text("/pause", "#!", 0o755)],
        oci.ImageConfig(entrypoint=["/pause"]),
    )
    with tarfile.open(out) as tar:
        index = json.load(tar.extractfile("index.json"))
        manifest_digest = index["manifests"][0]["digest"].split(":")[1]
        manifest = json.load(tar.extractfile(f"blobs/sha256/{manifest_digest}"))
        config = json.load(tar.extractfile(f"blobs/sha256/{manifest['config']['digest'].split(':')[1]}"))
    assert index["manifests"][0]["annotations"]["io.containerd.image.name"] == "registry.k8s.io/pause:3.10.2"
    assert config["config"]["Entrypoint"] == ["/pause"]
    assert config["rootfs"]["diff_ids"] == [manifest["layers"][0]["digest"]]


def test_kubernetes_is_built_with_every_staging_module_replaced_by_its_published_version(tmp_path):
    upstream = tmp_path / "kubernetes@v1.37.2"
    upstream.mkdir()
    (upstream / "go.mod").write_text(
        "module k8s.io/kubernetes\nreplace (\n\tk8s.io/api => ./staging/src/k8s.io/api\n"
        "\tk8s.io/streaming => ./staging/src/k8s.io/streaming\n)\n"
    )
    assert build._staging_replaces(upstream) == [
        ("k8s.io/api", "k8s.io/api", "v0.37.2"),
        ("k8s.io/streaming", "k8s.io/streaming", "v0.37.2"),
    ]


def test_components_follow_the_pinned_versions():
    versions = {c.name: c.version for c in build.components()}
    assert versions["kubernetes"] == "v" + pinned().kubernetes_version
    assert versions["etcd"] == "v" + pinned().etcd_version


def test_kubeadm_config_keeps_the_node_schedulable_and_tolerates_cgroup_v1():
    documents = {doc["kind"]: doc for doc in yaml.safe_load_all(cluster.kubeadm_config())}
    assert documents["InitConfiguration"]["nodeRegistration"]["name"] == cluster.NODE_NAME
    assert documents["InitConfiguration"]["nodeRegistration"]["taints"] == []
    assert documents["InitConfiguration"]["patches"] == {"directory": str(cluster.KUBEADM_PATCHES)}
    assert documents["ClusterConfiguration"]["kubernetesVersion"] == "v" + pinned().kubernetes_version
    for component in ("controllerManager", "scheduler"):  # they outlive an apiserver restart
        assert documents["ClusterConfiguration"][component]["extraArgs"] == [{"name": "leader-elect", "value": "false"}]
    kubelet = documents["KubeletConfiguration"]
    assert kubelet["cgroupDriver"] == "cgroupfs"
    assert kubelet["failCgroupV1"] is False
    assert kubelet["imageGCHighThresholdPercent"] == 100


def test_containerd_config_pins_the_sandbox_image_and_uses_debians_cni_plugins():
    config = tomllib.loads(cluster.containerd_config())
    cri = config["plugins"]
    assert cri["io.containerd.cri.v1.images"]["pinned_images"]["sandbox"].endswith(pinned().pause_version)
    runtime = cri["io.containerd.cri.v1.runtime"]
    assert runtime["cni"]["bin_dirs"] == [str(cluster.CNI_BIN_DIR)]
    assert runtime["containerd"]["runtimes"]["runc"]["options"]["SystemdCgroup"] is False


def test_containerd_offers_gvisor_as_runtime_handler_runsc_on_a_platform_that_runs_here():
    runtime = tomllib.loads(cluster.containerd_config())["plugins"]["io.containerd.cri.v1.runtime"]
    runsc = runtime["containerd"]["runtimes"]["runsc"]
    assert runsc["runtime_type"] == "io.containerd.runsc.v1"  # containerd runs containerd-shim-runsc-v1 from PATH
    assert runsc["options"]["ConfigPath"] == str(cluster.RUNSC_CONFIG)
    options = tomllib.loads(cluster.runsc_config())
    assert options["binary_name"] == str(build.binaries_dir() / "runsc")
    assert options["runsc_config"] == {"platform": "systrap"}  # KVM hung here


def test_gvisors_shim_is_built_with_the_one_overlay_this_machine_needs_and_a_changed_overlay_rebuilds(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("CKS_LAB_CACHE", str(tmp_path))
    gvisor = next(c for c in build.components() if c.name == "gvisor")
    overlays = {p.name: p.overlays for p in gvisor.programs}
    assert overlays["runsc"] == ()
    (oom,) = overlays["containerd-shim-runsc-v1"]
    assert (oom.module, oom.path) == ("github.com/containerd/containerd/v2", "pkg/sys/oom_linux.go")
    assert (build.OVERLAYS_DIR / oom.replacement).is_file()
    replaced = json.loads(build._write_overlay(gvisor.programs[1], tmp_path).read_text())["Replace"]
    assert replaced == {str(tmp_path / "vendor" / oom.module / oom.path): str(build.OVERLAYS_DIR / oom.replacement)}

    out = build.bin_dir(gvisor)
    out.mkdir(parents=True)
    for program in gvisor.programs:
        (out / program.name).write_text("#!/bin/sh\n")
        (out / program.name).chmod(0o755)
    (out / ".complete").write_text(build._stamp(gvisor))
    assert build.is_built(gvisor)
    (out / ".complete").write_text(gvisor.version + "\n")  # built before the overlay existed, or with another one
    assert not build.is_built(gvisor)


def test_containerd_reaches_the_registry_over_plain_http():
    config = tomllib.loads(cluster.containerd_config())
    assert config["plugins"]["io.containerd.cri.v1.images"]["registry"]["config_path"] == str(registry.CERTS_DIR)
    hosts = tomllib.loads(registry.hosts_toml(cluster.REGISTRY))
    assert hosts["server"] == f"http://{cluster.REGISTRY}"
    assert hosts["host"][f"http://{cluster.REGISTRY}"]["capabilities"] == ["pull", "resolve", "push"]


def test_the_registrys_name_maps_to_the_node_in_etc_hosts_and_goes_again_leaving_the_rest(tmp_path):
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 localhost\n10.0.0.9 other")
    registry.map_hostname("10.255.0.1", hosts)
    registry.map_hostname("10.255.0.1", hosts)  # once is enough
    mapped = hosts.read_text().splitlines()
    assert mapped[:2] == ["127.0.0.1 localhost", "10.0.0.9 other"]
    assert mapped[2:] == [f"10.255.0.1 {registry.HOSTNAME} {registry.HOSTS_COMMENT}"]
    registry.map_hostname("10.255.0.2", hosts)  # another address replaces ours
    assert hosts.read_text().count(registry.HOSTNAME) == 1 and "10.255.0.2" in hosts.read_text()
    registry.unmap_hostname(hosts)
    assert hosts.read_text() == "127.0.0.1 localhost\n10.0.0.9 other\n"


def test_kube_router_runs_its_network_policy_firewall_alone():
    documents = {doc["kind"]: doc for doc in yaml.safe_load_all(cluster.kube_router_manifest())}
    container = documents["DaemonSet"]["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == images.KUBE_ROUTER_IMAGE
    assert {"--run-firewall=true", "--run-router=false", "--run-service-proxy=false"} <= set(container["args"])
    granted = {resource for rule in documents["ClusterRole"]["rules"] for resource in rule["resources"]}
    assert {"networkpolicies", "pods", "namespaces"} <= granted


def test_the_kube_proxy_image_has_the_hosts_iptables_backend_and_what_its_extensions_load():
    entries = {entry.path: entry for entry in images._iptables()}
    backend = entries["/usr/sbin/iptables"].symlink_to
    assert backend == Path(shutil.which("iptables")).resolve().name  # xtables-nft-multi on Debian 12
    assert "/lib/x86_64-linux-gnu/libm.so.6" in entries  # libxt_statistic.so, kube-proxy's load balancing, needs it


def test_cni_config_is_a_bridge_with_host_local_addresses_in_the_pod_subnet():
    config = json.loads(cluster.cni_config())
    bridge = config["plugins"][0]
    assert bridge["type"] == "bridge"
    assert bridge["ipam"]["ranges"][0][0]["subnet"] == cluster.NODE_POD_SUBNET


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


def test_supervisor_restarts_its_daemon_and_stop_leaves_no_process(tmp_path, monkeypatch):
    monkeypatch.setattr(supervisor, "RESTART_DELAY_SECONDS", 0.1)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    pid = supervisor.start("sleeper", ["sh", "-c", "echo started; exec sleep 30"], tmp_path, tmp_path, env)
    assert supervisor.pid_of("sleeper", tmp_path) == pid

    def children() -> list[int]:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]

    deadline = time.monotonic() + 10
    while not children() and time.monotonic() < deadline:
        time.sleep(0.05)
    first = children()[0]
    os.kill(first, 9)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (not children() or children()[0] == first):
        time.sleep(0.05)
    second = children()[0]
    assert second != first, "the daemon was not restarted"
    assert supervisor.stop("sleeper", tmp_path)
    time.sleep(0.2)
    assert not _alive(second)
    assert supervisor.pid_of("sleeper", tmp_path) is None
    assert (tmp_path / "sleeper.log").read_text().count("started") >= 2


def test_up_refuses_leftovers_of_an_earlier_cluster_with_a_message_that_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setattr(cluster, "MANIFESTS", tmp_path / "manifests")
    (tmp_path / "manifests").mkdir()
    with pytest.raises(cluster.TestbedError, match="lab testbed down"):
        cluster._refuse_leftovers()


def test_up_refuses_a_cluster_whose_up_was_killed_half_way(tmp_path, monkeypatch):
    monkeypatch.setattr(cluster, "INITIALISED", tmp_path / "initialised")
    with pytest.raises(cluster.TestbedError, match=r"stopped before the cluster was complete.*lab testbed down"):
        cluster._refuse_half_initialised()
    (tmp_path / "initialised").write_text("1.37.2\n")
    cluster._refuse_half_initialised()


def test_a_deleted_program_makes_its_component_unbuilt(tmp_path, monkeypatch):
    monkeypatch.setenv("CKS_LAB_CACHE", str(tmp_path))
    component = next(c for c in build.components() if c.name == "cri-tools")
    out = build.bin_dir(component)
    out.mkdir(parents=True)
    (out / ".complete").write_text(component.version + "\n")
    assert not build.is_built(component), "built although its program is missing"
    for program in component.programs:
        (out / program.name).write_text("#!/bin/sh\n")
        (out / program.name).chmod(0o755)
    assert build.is_built(component)


def test_kube_bench_keeps_its_checks_beside_it_and_is_unbuilt_without_them(tmp_path, monkeypatch):
    monkeypatch.setenv("CKS_LAB_CACHE", str(tmp_path))
    kube_bench = next(c for c in build.components() if c.name == "kube-bench")
    assert kube_bench.data == ("cfg",)
    assert "-X github.com/aquasecurity/kube-bench/cmd.cfgDir=/etc/kube-bench/cfg" in kube_bench.ldflags
    out = build.bin_dir(kube_bench)
    out.mkdir(parents=True)
    (out / "kube-bench").write_text("#!/bin/sh\n")
    (out / "kube-bench").chmod(0o755)
    (out / ".complete").write_text(build._stamp(kube_bench))
    assert not build.is_built(kube_bench), "built although its checks are missing"
    (out / "cfg").mkdir()
    assert build.is_built(kube_bench)


def test_a_daemon_without_its_binary_is_not_started_and_the_message_says_how_to_build_it():
    with pytest.raises(cluster.TestbedError, match=r"cannot start kubelet: /nonexistent/kubelet .*lab testbed build"):
        cluster._supervise("kubelet", ["/nonexistent/kubelet"])


def test_the_supervisor_logs_why_its_daemon_could_not_start(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    log = tmp_path / "ghost.log"
    supervisor.start("ghost", ["/nonexistent/ghost"], tmp_path, tmp_path, env)
    deadline = time.monotonic() + 10
    while not (log.exists() and "cannot start" in log.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "cannot start ghost: [Errno 2] No such file or directory" in log.read_text()
    while supervisor.pid_of("ghost", tmp_path) is not None and time.monotonic() < deadline:
        time.sleep(0.05)  # it writes that line, then exits: give it the moment between the two
    assert supervisor.pid_of("ghost", tmp_path) is None
