"""Scenario 12, make a deployment immutable without downtime: one test per criterion of the task.

Everything is judged on the pods the Deployment actually rolled out (its current ReplicaSet, once the rollout is
complete): their live spec, and probes inside each of them that prove they ran (a write to /, a write to the data
directory, `id -u`, NoNewPrivs in /proc/self/status).
"""

import pytest

from labs.graderlib.pods import containers
from labs.graderlib.probes import Probe
from labs.graderlib.rollout import wait_for_rollout
from labs.k8s import Kube

NO_NEW_PRIVS = "grep NoNewPrivs /proc/$$/status"  # the probe shell's own flag, inherited from the container


@pytest.fixture(scope="module")
def rollout(kube: Kube, params: dict):
    found = wait_for_rollout(kube, params["namespace"], params["deployment"])
    assert found is not None, (
        f"deployment {params['deployment']} not found in namespace {params['namespace']}; keep its name"
    )
    return found


@pytest.fixture(scope="module")
def pods(rollout) -> list:
    name = rollout.deployment.metadata.name
    assert rollout.complete, f"the new pods of deployment {name} did not roll out: {rollout.describe()}"
    return rollout.pods


def _each_container(pods: list) -> list[tuple[object, object]]:
    return [(pod, container) for pod in pods for _, container in containers(pod, init=False)]


def _effective(pod, container, field: str):
    """A securityContext field as the kubelet applies it: the container's, else the pod's."""
    own = getattr(container.security_context, field, None) if container.security_context else None
    if own is not None:
        return own
    return getattr(pod.spec.security_context, field, None) if pod.spec.security_context else None


@pytest.mark.points(2)
def test_the_deployment_is_available_with_all_its_replicas(rollout, params):
    """Deployment {deployment} rolled out its new pods and is Available with {replicas} replicas"""
    deployment = rollout.deployment
    wanted = params["replicas"]
    assert deployment.spec.replicas == wanted, f"the deployment has {deployment.spec.replicas} replicas, keep {wanted}"
    assert rollout.complete, f"the rollout is not complete: {rollout.describe()}"
    conditions = {c.type: c.status for c in deployment.status.conditions or []}
    assert conditions.get("Available") == "True", f"condition Available is {conditions.get('Available')}"


@pytest.mark.points(2)
def test_writing_to_the_root_filesystem_fails_in_every_pod(pods, exec_probe: Probe):
    """Writing to / fails with "Read-only file system" in every container of every new pod"""
    problems = []
    for pod, container in _each_container(pods):
        probe = exec_probe.write(pod.metadata.namespace, pod.metadata.name, container.name, "/")
        where = f"pod {pod.metadata.name} container {container.name}"
        if not probe.ran:
            problems.append(f"{where}: {probe.describe()}; a write that never ran proves nothing")
        elif not probe.read_only:
            problems.append(f"{where}: {probe.describe()}, expected a read-only root filesystem")
    assert not problems, "; ".join(problems)


@pytest.mark.points(1)
def test_the_application_can_write_its_data(pods, params, exec_probe: Probe):
    """The application can write to {data_dir} in every new pod"""
    for pod, container in _each_container(pods):
        probe = exec_probe.write(pod.metadata.namespace, pod.metadata.name, container.name, params["data_dir"])
        assert probe.written, f"pod {pod.metadata.name} container {container.name}: {probe.describe()}"


@pytest.mark.points(1)
def test_the_containers_run_as_the_given_user_and_never_as_root(pods, params, exec_probe: Probe):
    """Every container runs as user ID {uid}, with runAsNonRoot: true"""
    for pod, container in _each_container(pods):
        where = f"pod {pod.metadata.name} container {container.name}"
        non_root = _effective(pod, container, "run_as_non_root")
        assert non_root is True, f"{where}: runAsNonRoot is {'unset' if non_root is None else non_root}, expected true"
        result = exec_probe.run(pod.metadata.namespace, pod.metadata.name, container.name, "id -u")
        assert result.succeeded, f"{where}: `id -u` did not run ({result.output or 'no output'})"
        uid = result.stdout.strip()
        assert uid == str(params["uid"]), f"{where}: runs as user ID {uid}, expected {params['uid']}"


@pytest.mark.points(1)
def test_no_container_can_gain_privileges(pods, exec_probe: Probe):
    """No container allows privilege escalation (no_new_privs is set for its processes)"""
    for pod, container in _each_container(pods):
        where = f"pod {pod.metadata.name} container {container.name}"
        result = exec_probe.run(pod.metadata.namespace, pod.metadata.name, container.name, NO_NEW_PRIVS)
        assert result.succeeded, f"{where}: reading /proc/self/status did not work ({result.output or 'no output'})"
        flag = result.stdout.split()[-1] if result.stdout.split() else "?"
        setting = _effective(pod, container, "allow_privilege_escalation")
        assert flag == "1", (
            f"{where}: NoNewPrivs is {flag}, so setuid binaries could gain privileges; allowPrivilegeEscalation is "
            f"{'unset (allowed)' if setting is None else str(setting).lower()}, expected false"
        )


@pytest.mark.points(1)
def test_an_emptydir_only_where_the_application_writes(pods, params):
    """The pods mount an emptyDir at {data_dir} and no other emptyDir or hostPath volume"""
    pod = pods[0]
    volumes = {volume.name: volume for volume in pod.spec.volumes or []}
    host_paths = [f"{v.name} ({v.host_path.path})" for v in volumes.values() if v.host_path is not None]
    assert not host_paths, f"hostPath volumes: {', '.join(host_paths)}; use an emptyDir at {params['data_dir']}"
    empty_dirs = {name for name, volume in volumes.items() if volume.empty_dir is not None}
    mounted = [
        (container.name, mount.mount_path.rstrip("/") or "/", mount.name)
        for _, container in containers(pod)
        for mount in container.volume_mounts or []
        if mount.name in empty_dirs
    ]
    elsewhere = [f"{name} at {path} in container {c}" for c, path, name in mounted if path != params["data_dir"]]
    assert not elsewhere, f"emptyDir mounted elsewhere: {', '.join(elsewhere)}; only {params['data_dir']} is written"
    assert any(path == params["data_dir"] for _, path, _ in mounted), f"no emptyDir is mounted at {params['data_dir']}"
