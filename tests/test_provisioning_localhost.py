"""The parts of playbooks/site.yml that can run on this machine (Debian, root, no systemd as PID 1) run for real
against localhost through ansible-runner, selected by tags:

* common (swap, kernel, tools, shell): for real, into /etc, twice (the second run changes nothing);
* the configuration templates of containerd, control_plane and calico: for real, into a temporary directory, then
  checked by the programs that read them (kubeadm and containerd as built for the testbed);
* the kubernetes role's package pins, resolved by Ansible for the pinned version and for overrides, and the kubelet
  and containerd service templates, rendered by their roles;
* the lab role: for real, into temporary paths (virtualenv, copied source, a throwaway student's kubeconfig, the
  exported admin.conf, the link onto the PATH), twice (the second run changes nothing).

Everything that needs systemd, a package repository on the internet or a VM is checked only statically
(test_provisioning_static.py) and by `vagrant up` on a laptop (docs/provisioning.md)."""

from __future__ import annotations

import configparser
import json
import os
import pwd
import secrets
import shutil
import stat
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import ansible_runner
import jinja2
import pytest
import testinfra
import yaml
from packaging.utils import canonicalize_name
from python_pins import pinned_packages, wheelhouse

from labs.testbed import registry
from labs.testbed.build import bin_dir, components
from labs.versions import pinned

REPO = Path(__file__).resolve().parents[1]
SITE = REPO / "playbooks" / "site.yml"
ROLES = REPO / "playbooks" / "roles"
KUBEADM_TEMPLATE = ROLES / "control_plane" / "templates" / "kubeadm-config.yaml.j2"
SHARED_VARS = yaml.safe_load((REPO / "playbooks" / "group_vars" / "all.yml").read_text())

pytestmark = pytest.mark.slow


def run_playbook(
    workdir: Path,
    playbook: Path,
    tags: str | None = None,
    extravars: dict[str, object] | None = None,
    envvars: dict[str, str] | None = None,
) -> ansible_runner.Runner:
    """Run a playbook on localhost (as the control plane `controlplane`), which must succeed."""
    inventory = workdir / "inventory.ini"
    inventory.write_text(
        "[control_plane]\n"
        f"controlplane ansible_connection=local ansible_python_interpreter={sys.executable} node_ip=192.168.56.10\n"
        "[workers]\n"
    )
    (workdir / "runner").mkdir(exist_ok=True)
    result = ansible_runner.run(
        private_data_dir=str(workdir / "runner"),
        playbook=str(playbook),
        envvars={"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}", **(envvars or {})},
        inventory=str(inventory),
        limit="controlplane",
        tags=tags,
        extravars=extravars or {},
        quiet=True,
        rotate_artifacts=1,
    )
    assert result.status == "successful", result.stdout.read()
    return result


def run_site(
    workdir: Path,
    tags: str,
    extravars: dict[str, object] | None = None,
    envvars: dict[str, str] | None = None,
    site: Path = SITE,
) -> dict[str, int]:
    """Run site.yml (of this checkout unless told) with the given tags; return the changed-task count."""
    result = run_playbook(workdir, site, tags, extravars, envvars)
    return {"changed": result.stats["changed"].get("controlplane", 0)}


def built_binary(name: str) -> Path:
    """A program built for the testbed (`lab testbed build`); CI builds them before the tests."""
    for component in components():
        if any(program.name == name for program in component.programs):
            path = bin_dir(component) / name
            if path.exists():
                return path
    message = f"{name} is not built; run `lab testbed build`"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


# --- common, for real --------------------------------------------------------------------------------------------

COMMON_TAGS = "swap,kernel,tools,shell"


@pytest.fixture(scope="module")
def common_runs(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, int]]:
    workdir = tmp_path_factory.mktemp("common")
    return [run_site(workdir, COMMON_TAGS), run_site(workdir, COMMON_TAGS)]


@pytest.fixture(scope="module")
def host(common_runs: list[dict[str, int]]) -> testinfra.host.Host:
    return testinfra.get_host("local://")


def test_common_role_changes_nothing_the_second_time(common_runs: list[dict[str, int]]) -> None:
    assert common_runs[1]["changed"] == 0


def test_kubernetes_sysctls_are_set_now_and_at_boot(host) -> None:
    for key in ("net.ipv4.ip_forward", "net.bridge.bridge-nf-call-iptables", "net.bridge.bridge-nf-call-ip6tables"):
        assert host.sysctl(key) == 1, key
        assert host.file("/etc/sysctl.d/90-cks-lab.conf").contains(f"^{key}=1$"), key


def test_kernel_modules_load_at_boot(host) -> None:
    modules = host.file("/etc/modules-load.d/cks-lab.conf").content_string.split()
    assert "overlay" in modules
    assert "br_netfilter" in modules


def test_the_candidate_tools_are_installed(host) -> None:
    for command in ("vim", "jq", "yq", "tmux", "strace", "curl", "conntrack"):
        assert host.exists(command), command
    assert host.package("bash-completion").is_installed


def test_scenario_11s_busybox_is_installed_by_provisioning(host) -> None:
    """Scenario 11 copies /bin/busybox; provisioning puts it there so that `lab start` needs no apt repository."""
    assert host.package("busybox-static").is_installed
    assert host.file("/bin/busybox").is_file


def test_a_login_shell_has_the_k_alias(host) -> None:
    result = host.run("bash -lc 'alias k'")
    assert result.rc == 0, result.stderr
    assert result.stdout.strip() == "alias k='kubectl'"


def test_vim_indents_with_two_spaces(host, tmp_path: Path) -> None:
    report = tmp_path / "vim-settings"
    # Batch mode (-Es) skips the start-up files; -u loads the system vimrc as an interactive vim does.
    show = "set expandtab? tabstop? shiftwidth?"
    result = host.run(f"vim -Es -u /etc/vim/vimrc -c 'redir! > {report}' -c '{show}' -c 'redir END' -c q")
    assert result.rc == 0, result.stderr
    assert report.read_text().split() == ["expandtab", "tabstop=2", "shiftwidth=2"]


# --- configuration templates, rendered by the roles into a temporary directory -----------------------------------


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    workdir = tmp_path_factory.mktemp("templates")
    out = workdir / "out"
    run_site(
        workdir,
        "kubeadm_config,containerd_config,gvisor_config,calico_manifest",
        {
            "control_plane_kubeadm_config": str(out / "kubeadm-config.yaml"),
            "containerd_config_file": str(out / "containerd" / "config.toml"),
            "runsc_config_file": str(out / "containerd" / "runsc.toml"),
            "containerd_certs_dir": str(out / "containerd" / "certs.d"),
            "containerd_crictl_config_file": str(out / "crictl.yaml"),
            "containerd_proxy_dropin": str(out / "containerd" / "containerd.service.d" / "cks-lab-proxy.conf"),
            "calico_manifest_dir": str(out / "calico"),
        },
    )
    return out


def kubeadm_documents(path: Path) -> dict[str, dict]:
    return {doc["kind"]: doc for doc in yaml.safe_load_all(path.read_text())}


def assert_kubeadm_accepts(path: Path) -> None:
    result = subprocess.run(
        [built_binary("kubeadm"), "config", "validate", "--config", path], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_vm_kubeadm_config_is_accepted_by_kubeadm(rendered: Path) -> None:
    assert_kubeadm_accepts(rendered / "kubeadm-config.yaml")


def test_vm_kubeadm_config_describes_an_exam_like_control_plane(rendered: Path) -> None:
    docs = kubeadm_documents(rendered / "kubeadm-config.yaml")
    init, cluster, kubelet = docs["InitConfiguration"], docs["ClusterConfiguration"], docs["KubeletConfiguration"]
    assert init["localAPIEndpoint"]["advertiseAddress"] == "192.168.56.10"
    assert init["nodeRegistration"]["name"] == "controlplane"
    assert init["nodeRegistration"]["taints"] == [
        {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}
    ]
    assert cluster["kubernetesVersion"] == f"v{pinned().kubernetes_version}"
    assert cluster["networking"] == {
        "podSubnet": SHARED_VARS["pod_subnet"],
        "serviceSubnet": SHARED_VARS["service_subnet"],
    }
    assert "etcd" not in cluster
    assert kubelet["cgroupDriver"] == "systemd"
    assert kubelet["failCgroupV1"] is True


TESTBED_VALUES = {
    "kubernetes_version": pinned().kubernetes_version,
    "node_name": "controlplane",
    "advertise_address": "127.0.0.1",
    "pod_subnet": "10.244.0.0/16",
    "service_subnet": "10.96.0.0/12",
    "cri_socket": "unix:///run/containerd/containerd.sock",
    "image_repository": "registry.k8s.io",
    "kubelet_cgroup_driver": "cgroupfs",
    "kubelet_fail_cgroup_v1": False,
    "control_plane_taint": False,
    "etcd_image_tag": "3.7.3-0",
    "kubelet_extra_config": {
        "failSwapOn": False,
        "cgroupDriver": "cgroupfs",
        "evictionHard": {"memory.available": "1%"},
    },
}


@pytest.mark.testbed
@pytest.mark.parametrize("trim_blocks", [True, False], ids=["trim_blocks", "jinja2-defaults"])
def test_testbed_renders_the_same_template_with_plain_jinja2(testbed, tmp_path: Path, trim_blocks: bool) -> None:
    """kubeadm validates the testbed's configuration where it applies: with the testbed's addresses on this machine
    (without them it cannot choose an address on lo)."""
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined, trim_blocks=trim_blocks)
    config = tmp_path / "kubeadm-config.yaml"
    config.write_text(environment.from_string(KUBEADM_TEMPLATE.read_text()).render(**TESTBED_VALUES))
    docs = kubeadm_documents(config)
    assert docs["InitConfiguration"]["nodeRegistration"]["taints"] == []
    assert docs["ClusterConfiguration"]["etcd"] == {"local": {"imageTag": "3.7.3-0"}}
    assert docs["KubeletConfiguration"] == {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "cgroupDriver": "cgroupfs",
        "failCgroupV1": False,
        "failSwapOn": False,
        "evictionHard": {"memory.available": "1%"},
    }
    assert_kubeadm_accepts(config)


def test_containerd_uses_systemd_cgroups_and_the_pinned_pause_image(rendered: Path) -> None:
    config = tomllib.loads((rendered / "containerd" / "config.toml").read_text())
    plugins = config["plugins"]
    runc = plugins["io.containerd.cri.v1.runtime"]["containerd"]["runtimes"]["runc"]
    assert config["version"] == 3
    assert runc["options"]["SystemdCgroup"] is True
    assert plugins["io.containerd.cri.v1.images"]["pinned_images"]["sandbox"] == (
        f"registry.k8s.io/pause:{pinned().pause_version}"
    )


def test_containerd_accepts_its_configuration(rendered: Path) -> None:
    result = subprocess.run(
        [built_binary("containerd"), "--config", rendered / "containerd" / "config.toml", "config", "dump"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    effective = tomllib.loads(result.stdout)["plugins"]
    runc = effective["io.containerd.cri.v1.runtime"]["containerd"]["runtimes"]["runc"]
    assert runc["options"]["SystemdCgroup"] is True
    assert runc["runtime_type"] == "io.containerd.runc.v2"


def test_containerd_runs_gvisor_for_runtime_handler_runsc_with_the_roles_options(rendered: Path) -> None:
    config = tomllib.loads((rendered / "containerd" / "config.toml").read_text())
    runsc = config["plugins"]["io.containerd.cri.v1.runtime"]["containerd"]["runtimes"]["runsc"]
    assert runsc["runtime_type"] == "io.containerd.runsc.v1"
    assert runsc["options"]["ConfigPath"] == str(rendered / "containerd" / "runsc.toml")
    assert tomllib.loads((rendered / "containerd" / "runsc.toml").read_text())["runsc_config"] == {
        "platform": "systrap"
    }


def test_containerd_reaches_the_labs_registry_by_name_over_plain_http(rendered: Path) -> None:
    config = tomllib.loads((rendered / "containerd" / "config.toml").read_text())
    certs = rendered / "containerd" / "certs.d"
    assert config["plugins"]["io.containerd.cri.v1.images"]["registry"]["config_path"] == str(certs)
    address = f"{SHARED_VARS['registry_hostname']}:{SHARED_VARS['registry_port']}"
    assert address == registry.ADDRESS, "the VMs and the testbed name the registry alike"
    hosts = tomllib.loads((certs / address / "hosts.toml").read_text())
    assert hosts == tomllib.loads(registry.hosts_toml(address))


def test_crictl_talks_to_containerd(rendered: Path) -> None:
    crictl = yaml.safe_load((rendered / "crictl.yaml").read_text())
    assert crictl["runtime-endpoint"] == crictl["image-endpoint"] == SHARED_VARS["cri_socket"]


def test_calico_pool_is_the_pod_network_and_nodes_use_their_internal_ip(rendered: Path) -> None:
    installation = yaml.safe_load((rendered / "calico" / "calico-installation.yaml").read_text())
    network = installation["spec"]["calicoNetwork"]
    assert [pool["cidr"] for pool in network["ipPools"]] == [SHARED_VARS["pod_subnet"]]
    assert network["nodeAddressAutodetectionV4"] == {"kubernetes": "NodeInternalIP"}


def test_calico_spares_the_small_workers_bgp_and_the_csi_driver(rendered: Path) -> None:
    """VXLAN needs no BIRD, and no scenario uses Calico's CSI driver: both stay off (the operator's string None)."""
    spec = yaml.safe_load((rendered / "calico" / "calico-installation.yaml").read_text())["spec"]
    assert [pool["encapsulation"] for pool in spec["calicoNetwork"]["ipPools"]] == ["VXLAN"]
    assert spec["calicoNetwork"]["bgp"] == "Disabled"
    assert spec["kubeletVolumePluginPath"] == "None"


# --- role variables and templates, as Ansible resolves them ------------------------------------------------------


def role_values(
    workdir: Path, roles: list[str], values: dict[str, str], extravars: dict[str, str] | None = None
) -> dict[str, object]:
    """Jinja expressions evaluated by Ansible on the control plane with versions.yml and the roles' defaults and vars
    loaded (extravars e.g. as Vagrant passes a kubernetes_version override)."""
    role_files = (ROLES / role / part / "main.yml" for role in roles for part in ("defaults", "vars"))
    answer = workdir / "values.json"
    play = {
        "name": "Evaluate role variables",
        "hosts": "controlplane",
        "gather_facts": False,
        "vars_files": [str(REPO / "versions.yml"), *(str(path) for path in role_files if path.exists())],
        "tasks": [
            {
                "name": "Write them down",
                "ansible.builtin.copy": {"content": "{{ values | to_json }}", "dest": str(answer), "mode": "0644"},
                "vars": {"values": values},
            }
        ],
    }
    playbook = workdir / "values.yml"
    playbook.write_text(yaml.safe_dump([play]))
    run_playbook(workdir, playbook, extravars=extravars)
    return json.loads(answer.read_text())


def kubernetes_packages(workdir: Path, extravars: dict[str, str] | None = None) -> dict[str, object]:
    """The repository and package pins the kubernetes role installs."""
    return role_values(
        workdir,
        ["kubernetes"],
        {"repo": "{{ kubernetes_repo_url }}", "packages": "{{ kubernetes_packages }}"},
        extravars,
    )


def test_kubernetes_packages_are_the_pinned_versions(tmp_path: Path) -> None:
    versions = pinned()
    resolved = kubernetes_packages(tmp_path)
    assert resolved["repo"] == f"https://pkgs.k8s.io/core:/stable:/v{versions.kubernetes_minor}/deb/"
    assert resolved["packages"] == [
        f"kubelet={versions.kubernetes_version}-*",
        f"kubeadm={versions.kubernetes_version}-*",
        f"kubectl={versions.kubernetes_version}-*",
        f"cri-tools={versions.cri_tools_version}-*",
    ]


def test_another_patch_of_the_pinned_minor_keeps_the_pinned_crictl(tmp_path: Path) -> None:
    versions = pinned()
    patch = f"{versions.kubernetes_minor}.99"
    resolved = kubernetes_packages(tmp_path, {"kubernetes_version": patch})
    assert resolved["repo"] == f"https://pkgs.k8s.io/core:/stable:/v{versions.kubernetes_minor}/deb/"
    assert resolved["packages"][0] == f"kubelet={patch}-*"
    assert resolved["packages"][3] == f"cri-tools={versions.cri_tools_version}-*"


def test_another_minor_installs_crictl_from_that_minors_repository(tmp_path: Path) -> None:
    """pkgs.k8s.io's v1.33 repository carries only crictl 1.33.x: the pinned crictl of another minor is not there."""
    resolved = kubernetes_packages(tmp_path, {"kubernetes_version": "1.33.4"})
    assert resolved["repo"] == "https://pkgs.k8s.io/core:/stable:/v1.33/deb/"
    assert resolved["packages"] == ["kubelet=1.33.4-*", "kubeadm=1.33.4-*", "kubectl=1.33.4-*", "cri-tools=1.33.*"]


def rendered_template(workdir: Path, role: str, template: str) -> str:
    """A role's template as the role renders it (node_ip 192.168.56.10)."""
    path = ROLES / role / "templates" / template
    return role_values(workdir, [role], {"text": f"{{{{ lookup('ansible.builtin.template', '{path}') }}}}"})["text"]


def test_kubelet_registers_with_the_nodes_private_address(tmp_path: Path) -> None:
    lines = rendered_template(tmp_path, "kubernetes", "kubelet-defaults.j2").splitlines()
    assert [line for line in lines if not line.startswith("#")] == ["KUBELET_EXTRA_ARGS=--node-ip=192.168.56.10"]


def test_containerd_service_starts_the_unpacked_binary_with_the_rendered_config(tmp_path: Path) -> None:
    unit = configparser.ConfigParser(interpolation=None)
    unit.optionxform = str  # systemd keys are case-sensitive
    unit.read_string(rendered_template(tmp_path, "containerd", "containerd.service.j2"))
    assert unit["Service"]["ExecStart"] == "/usr/local/bin/containerd --config /etc/containerd/config.toml"
    assert unit["Service"]["Type"] == "notify"  # containerd tells systemd when its socket is ready
    assert unit["Service"]["Delegate"] == "yes"  # kubelet's systemd cgroup driver manages the pods' cgroups below it
    assert unit["Service"]["KillMode"] == "process"  # restarting containerd leaves the containers running
    assert unit["Install"]["WantedBy"] == "multi-user.target"
    assert pinned().containerd_version in unit["Unit"]["Description"]


# --- the lab role, for real, into temporary paths ---------------------------------------------------------------

ADMIN_KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters:
- name: cks-lab
  cluster: {server: "https://192.168.56.10:6443"}
contexts:
- name: admin@cks-lab
  context: {cluster: cks-lab, user: admin}
current-context: admin@cks-lab
users:
- name: admin
  user: {token: not-a-real-token}
"""


def lab_wheelhouse() -> Path:
    """Wheels of lab's dependencies and build backend at the pinned versions (constraints.txt)."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    return wheelhouse([*project["project"]["dependencies"], *project["build-system"]["requires"]])


def copy_checkout(destination: Path) -> None:
    """This checkout's files as git sees them (tracked or new, not ignored), frozen: the controller's source must not
    change between two runs of the role while others work in the checkout."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = REPO / name
        if source.is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)


@pytest.fixture(scope="module")
def student(tmp_path_factory: pytest.TempPathFactory) -> Iterator[pwd.struct_passwd]:
    """A throwaway account standing for the student (vagrant on the VMs), removed afterwards."""
    name = f"cks-lab-test-{secrets.token_hex(3)}"
    home = tmp_path_factory.mktemp("student") / name
    subprocess.run(["useradd", "--create-home", "--home-dir", home, "--shell", "/bin/bash", name], check=True)
    try:
        yield pwd.getpwnam(name)
    finally:
        subprocess.run(["userdel", "--remove", name], capture_output=True, check=False)


@dataclass
class LabInstall:
    """Where the lab role put things, and how many tasks each of its two runs changed."""

    source: Path
    venv: Path
    link: Path
    artifacts: Path
    changed: list[int]


@pytest.fixture(scope="module")
def lab_install(tmp_path_factory: pytest.TempPathFactory, student: pwd.struct_passwd) -> LabInstall:
    """The lab role run twice on localhost as on a cloud control plane: the source copied from the controller's
    checkout, the student's and the exported kubeconfig, the command linked onto the PATH; all in temporary paths
    (no root kubeconfig, nothing in /usr/local/bin)."""
    workdir = tmp_path_factory.mktemp("lab")
    checkout, admin_conf = workdir / "checkout", workdir / "admin.conf"
    copy_checkout(checkout)
    admin_conf.write_text(ADMIN_KUBECONFIG)
    install = LabInstall(
        source=workdir / "opt" / "src",
        venv=workdir / "opt" / "venv",
        link=workdir / "bin" / "lab",
        artifacts=workdir / "configs",
        changed=[],
    )
    install.link.parent.mkdir()
    extravars = {
        "lab_copy_source": True,
        "lab_source_dir": str(install.source),
        "lab_venv": str(install.venv),
        "lab_command_link": str(install.link),
        "lab_user": student.pw_name,
        "lab_kubeconfig_users": [student.pw_name],
        "lab_admin_kubeconfig": str(admin_conf),
        "lab_artifacts_dir": str(install.artifacts),
    }
    offline = {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(lab_wheelhouse())}
    site = checkout / "playbooks" / "site.yml"
    for _ in range(2):
        install.changed.append(run_site(workdir, "lab", extravars, offline, site)["changed"])
    return install


def test_lab_runs_from_its_virtualenv_through_the_link(lab_install: LabInstall) -> None:
    assert lab_install.link.resolve() == lab_install.venv / "bin" / "lab"
    result = subprocess.run([lab_install.link, "--help"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: lab")


def test_lab_is_installed_editable_from_the_copied_source(lab_install: LabInstall) -> None:
    """scenarios/ and graders/ are found beside the package, so the package must be the copy's, not a copy of it."""
    where = subprocess.run(
        [lab_install.venv / "bin" / "python", "-c", "import labs; print(labs.__file__)"],
        cwd=lab_install.venv,  # not this checkout, whose labs/ python -c would import first
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert Path(where) == lab_install.source / "labs" / "__init__.py"
    assert (lab_install.source / "scenarios").is_dir()
    assert not (lab_install.source / ".git").exists()
    assert not (lab_install.source / ".venv").exists()


def test_the_lab_virtualenv_holds_the_pinned_versions(lab_install: LabInstall) -> None:
    """The scenario playbooks run with the Ansible (and kubernetes client) the VMs provision with and CI tests."""
    listed = subprocess.run(
        [lab_install.venv / "bin" / "pip", "list", "--format=json"], capture_output=True, text=True, check=True
    ).stdout
    installed = {canonicalize_name(p["name"]): p["version"] for p in json.loads(listed)}
    assert {name: installed.get(name) for name in pinned_packages()} == pinned_packages()


def test_the_student_gets_the_admin_kubeconfig(student: pwd.struct_passwd, lab_install: LabInstall) -> None:
    kube = Path(student.pw_dir) / ".kube"
    config = kube / "config"
    assert config.read_text() == ADMIN_KUBECONFIG
    for path, mode in ((kube, 0o700), (config, 0o600)):
        info = path.stat()
        assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (student.pw_uid, mode), path


def test_the_admin_kubeconfig_is_exported_to_the_controller(lab_install: LabInstall) -> None:
    assert (lab_install.artifacts / "admin.conf").read_text() == ADMIN_KUBECONFIG


def test_lab_role_changes_nothing_the_second_time(lab_install: LabInstall) -> None:
    assert lab_install.changed[0] > 0
    assert lab_install.changed[1] == 0
