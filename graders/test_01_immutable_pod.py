"""Scenario 01, make a running pod immutable: one test per criterion of the task.

Settings are judged on the pod the API server runs; behaviour through probes inside its containers (each probe
proves it ran before a denied write counts) and an HTTP request through the API server's pod proxy.
"""

import pytest

from labs.graderlib.pods import containers, require_pod, require_ready, security_setting
from labs.graderlib.probes import Probe, WriteProbe
from labs.k8s import Kube

NGINX = "nginx"
NGINX_WRITES = ("/var/cache/nginx", "/var/run")


@pytest.fixture(scope="module")
def pod(kube: Kube, params: dict):
    return require_pod(kube, params["namespace"], params["pod"])


@pytest.fixture(scope="module")
def ready_pod(kube: Kube, pod):
    require_ready(kube, pod)
    return pod


@pytest.fixture(scope="module")
def writes(ready_pod, exec_probe: Probe) -> dict[tuple[str, str], WriteProbe]:
    """Every write the criteria need, (container, directory) -> probe, tried at once (one exec per container)."""
    wanted = [(container.name, "/") for _, container in containers(ready_pod, init=False)]
    wanted += [(NGINX, directory) for directory in NGINX_WRITES]
    return exec_probe.writes(ready_pod.metadata.namespace, ready_pod.metadata.name, wanted)


def _described(setting: bool | None) -> str:
    return "unset" if setting is None else str(setting).lower()


@pytest.mark.points(1)
def test_pod_keeps_its_name_namespace_containers_and_image(pod, params):
    """Pod {pod} in namespace {namespace} keeps its containers and the nginx image"""
    expected = {params["init"], NGINX, params["sidecar"]}
    present = {container.name for _, container in containers(pod)}
    assert expected <= present, (
        f"containers missing: {', '.join(sorted(expected - present))} (the pod has {', '.join(sorted(present))})"
    )
    nginx = next((c for c in pod.spec.containers if c.name == NGINX), None)
    assert nginx is not None, "the pod has no container named nginx (it is an init container now?)"
    assert nginx.image == params["image"], f"container nginx runs image {nginx.image}, expected {params['image']}"


@pytest.mark.points(2)
def test_every_container_has_a_read_only_root_filesystem(pod):
    """Every container, init containers included, has readOnlyRootFilesystem: true"""
    offenders = [
        f"{kind} {c.name} ({_described(security_setting(c, 'read_only_root_filesystem'))})"
        for kind, c in containers(pod)
        if security_setting(c, "read_only_root_filesystem") is not True
    ]
    assert not offenders, f"readOnlyRootFilesystem is not true for: {', '.join(offenders)}"


@pytest.mark.points(1)
def test_no_container_is_privileged(pod):
    """No container is privileged"""
    offenders = [f"{kind} {c.name}" for kind, c in containers(pod) if security_setting(c, "privileged") is True]
    assert not offenders, f"privileged: true in {', '.join(offenders)} (expected false)"


@pytest.mark.points(1)
def test_no_container_allows_privilege_escalation(pod):
    """Every container sets allowPrivilegeEscalation: false"""
    offenders = [
        f"{kind} {c.name} ({_described(security_setting(c, 'allow_privilege_escalation'))})"
        for kind, c in containers(pod)
        if security_setting(c, "allow_privilege_escalation") is not False
    ]
    assert not offenders, f"allowPrivilegeEscalation is not false for: {', '.join(offenders)} (unset means allowed)"


@pytest.mark.points(1)
def test_pod_is_running_and_ready(ready_pod):
    """The pod is Running and Ready"""


@pytest.mark.points(1)
def test_writing_to_the_root_filesystem_fails_in_every_container(ready_pod, writes):
    """Writing to / fails with "Read-only file system" in every running container"""
    problems = []
    for _, container in containers(ready_pod, init=False):
        probe = writes[container.name, "/"]
        if not probe.ran:
            problems.append(f"container {container.name}: {probe.describe()}; a write that never ran proves nothing")
        elif probe.written:
            problems.append(f"container {container.name}: {probe.describe()}, expected a read-only root")
        elif not probe.read_only:
            problems.append(f"container {container.name}: {probe.describe()}, but not because / is read-only")
    assert not problems, "; ".join(problems)


@pytest.mark.points(1)
def test_nginx_can_write_where_it_must(writes):
    """nginx can write to /var/cache/nginx and /var/run"""
    for directory in NGINX_WRITES:
        probe = writes[NGINX, directory]
        assert probe.written, f"container nginx: {probe.describe()}; mount an emptyDir there"


@pytest.mark.points(1)
def test_nginx_answers_http(ready_pod, exec_probe: Probe):
    """nginx answers HTTP on port 80 with the pod's page"""
    name = ready_pod.metadata.name
    response = exec_probe.http(ready_pod.metadata.namespace, name, 80, "index.html")
    assert response.status == 200, f"GET / on port 80 of pod {name}: {response.describe()}"
    page = f"<h1>{name}</h1>"  # what the init container writes
    assert page in response.body, (
        f"GET / on port 80 of pod {name}: {response.describe()}, not the pod's page ({page}: the init container "
        "writes it into the volume nginx serves from /usr/share/nginx/html; keep that mount)"
    )


@pytest.mark.points(1)
def test_no_hostpath_volume(pod):
    """The pod uses no hostPath volume"""
    host_paths = [f"{v.name} ({v.host_path.path})" for v in pod.spec.volumes or [] if v.host_path is not None]
    assert not host_paths, f"hostPath volumes: {', '.join(host_paths)}; use emptyDir for writable directories"
