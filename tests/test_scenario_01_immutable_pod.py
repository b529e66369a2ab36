"""Scenario 01 on the testbed: setup fails the grader, the reference solution passes it, and every near-miss fails
on the criterion it misses (graders are proven on a real cluster, never a mocked one)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator

import pytest
from broken_cluster import kubelet_stopped
from lab_attempt import Attempt, failed, failed_in, message, started
from mutation import recorded_verdicts_match

pytestmark = [pytest.mark.testbed, pytest.mark.slow]

SEED = 20261129
ALL = {
    "test_pod_keeps_its_name_namespace_containers_and_image",
    "test_every_container_has_a_read_only_root_filesystem",
    "test_no_container_is_privileged",
    "test_no_container_allows_privilege_escalation",
    "test_pod_is_running_and_ready",
    "test_writing_to_the_root_filesystem_fails_in_every_container",
    "test_nginx_can_write_where_it_must",
    "test_nginx_answers_http",
    "test_no_hostpath_volume",
}
BEHAVIOUR = {
    "test_pod_is_running_and_ready",
    "test_writing_to_the_root_filesystem_fails_in_every_container",
    "test_nginx_can_write_where_it_must",
    "test_nginx_answers_http",
}


class PodScenario(Attempt):
    """An attempt of scenario 01 that can recreate its pod from the one the reference solution left."""

    solved_pod: dict | None = None

    def replace_pod(self, edit: Callable[[dict], None], name: str | None = None) -> None:
        """Recreate the pod from the solved one, changed by `edit` (and under `name` when given)."""
        core = self.target.kube.core
        namespace, pod = self.params["namespace"], self.params["pod"]
        manifest = self.solved
        manifest["metadata"]["name"] = name or pod
        edit(manifest)
        for existing in core.list_namespaced_pod(namespace).items:
            core.delete_namespaced_pod(existing.metadata.name, namespace, grace_period_seconds=0)
        deadline = time.monotonic() + 60
        while core.list_namespaced_pod(namespace).items and time.monotonic() < deadline:
            time.sleep(0.5)
        core.create_namespaced_pod(namespace, manifest)

    @property
    def solved(self) -> dict:
        assert self.solved_pod is not None, "needs test_the_reference_solution_passes first"
        return json.loads(json.dumps(self.solved_pod))


@pytest.fixture(scope="module")
def lab(testbed, tmp_path_factory) -> Iterator[PodScenario]:
    with started(1, SEED, tmp_path_factory.mktemp("lab-state"), PodScenario) as lab:
        assert lab.target.kubeconfig == testbed.kubeconfig
        yield lab


def test_start_prints_the_task_with_this_attempts_names(lab):
    task = lab.run("task")
    assert task.returncode == 0
    assert f"Pod {lab.params['pod']} in Namespace {lab.params['namespace']}" in task.stdout
    status = json.loads(lab.run("status", "--json").stdout)
    assert (status["scenario"], status["seed"], status["params"]) == ("01-immutable-pod", SEED, lab.params)


def test_after_setup_the_check_fails_on_the_immutability_criteria(lab):
    report = lab.check()
    assert report["exit_code"] == 1, report
    assert (report["scenario"], report["seed"], report["verdict"]) == ("01-immutable-pod", SEED, "fail")
    assert failed_in(report) == {
        "test_every_container_has_a_read_only_root_filesystem",
        "test_no_container_is_privileged",
        "test_no_container_allows_privilege_escalation",
        "test_writing_to_the_root_filesystem_fails_in_every_container",
    }
    assert 0 < report["score"] < report["max_score"] == 10


def test_the_reference_solution_passes(lab):
    lab.solve()
    report = lab.check()
    assert report["exit_code"] == 0, report
    assert (report["verdict"], report["score"], report["max_score"]) == ("pass", 10, 10)
    pod = lab.target.kube.core.read_namespaced_pod(lab.params["pod"], lab.params["namespace"])
    manifest = lab.target.kube.api_client.sanitize_for_serialization(pod)
    manifest.pop("status", None)
    manifest["metadata"] = {"name": pod.metadata.name, "labels": pod.metadata.labels}
    # without the service account token volume the API server injected (it comes back by itself)
    manifest["spec"]["volumes"] = [v for v in manifest["spec"]["volumes"] if "projected" not in v]
    for container in manifest["spec"]["containers"] + manifest["spec"]["initContainers"]:
        container["volumeMounts"] = [m for m in container.get("volumeMounts", []) if not m["name"].startswith("kube-")]
    lab.solved_pod = manifest


def test_the_recording_grades_like_the_solved_cluster(lab, shared_dir):
    recorded_verdicts_match(lab, shared_dir)


def _container(manifest: dict, name: str) -> dict:
    return next(c for c in manifest["spec"]["containers"] + manifest["spec"]["initContainers"] if c["name"] == name)


def test_with_the_kubelet_stopped_the_check_says_its_probes_could_not_run(lab):
    with kubelet_stopped():
        report = lab.check_broken()
    said = failed_in(report).messages["test_writing_to_the_root_filesystem_fails_in_every_container"]
    assert "did not run (exec refused: 500 error dialing backend" in said and "connection refused" in said, said


def test_only_nginx_fixed_fails_on_the_sidecar(lab):
    def sidecar_as_set_up(manifest: dict) -> None:
        _container(manifest, lab.params["sidecar"])["securityContext"] = {"privileged": True}

    lab.replace_pod(sidecar_as_set_up)
    report = lab.grade()
    assert failed(report) == {
        "test_every_container_has_a_read_only_root_filesystem",
        "test_no_container_is_privileged",
        "test_no_container_allows_privilege_escalation",
        "test_writing_to_the_root_filesystem_fails_in_every_container",
    }
    sidecar = lab.params["sidecar"]
    assert message(report, "test_every_container_has_a_read_only_root_filesystem") == (
        f"readOnlyRootFilesystem is not true for: container {sidecar} (unset)"
    )
    assert message(report, "test_writing_to_the_root_filesystem_fails_in_every_container").startswith(
        f"container {sidecar}: write to /.lab-probe-"
    )


def test_read_only_root_without_emptydirs_fails_because_nginx_crashes(lab):
    def without_emptydirs(manifest: dict) -> None:
        manifest["spec"]["volumes"] = [v for v in manifest["spec"]["volumes"] if v["name"] not in ("cache", "run")]
        nginx = _container(manifest, "nginx")
        nginx["volumeMounts"] = [m for m in nginx["volumeMounts"] if m["name"] not in ("cache", "run")]

    lab.replace_pod(without_emptydirs)
    report = lab.grade()
    assert failed(report) == BEHAVIOUR
    said = message(report, "test_pod_is_running_and_ready")
    assert "not Running and Ready" in said and "container nginx" in said
    assert "Read-only file system" in said, f"the crash reason from nginx's log is shown: {said}"


def test_nginx_without_the_pages_volume_fails_on_the_page(lab):
    def page_unmounted(manifest: dict) -> None:
        nginx = _container(manifest, "nginx")
        nginx["volumeMounts"] = [m for m in nginx["volumeMounts"] if m["mountPath"] != "/usr/share/nginx/html"]

    lab.replace_pod(page_unmounted)
    report = lab.grade()
    assert failed(report) == {"test_nginx_answers_http"}
    said = message(report, "test_nginx_answers_http")
    assert f"not the pod's page (<h1>{lab.params['pod']}</h1>" in said and "HTTP 200" in said, said


def test_privileged_sidecar_fails_on_privileged(lab):
    def privileged_sidecar(manifest: dict) -> None:
        context = _container(manifest, lab.params["sidecar"])["securityContext"]
        context["privileged"] = True
        context.pop("allowPrivilegeEscalation")  # the API refuses privileged with allowPrivilegeEscalation false

    lab.replace_pod(privileged_sidecar)
    report = lab.grade()
    assert failed(report) == {"test_no_container_is_privileged", "test_no_container_allows_privilege_escalation"}
    assert lab.params["sidecar"] in message(report, "test_no_container_is_privileged")


def test_privilege_escalation_left_unset_fails_on_that_criterion_only(lab):
    def escalation_unset(manifest: dict) -> None:
        _container(manifest, lab.params["init"])["securityContext"].pop("allowPrivilegeEscalation")

    lab.replace_pod(escalation_unset)
    report = lab.grade()
    assert failed(report) == {"test_no_container_allows_privilege_escalation"}
    assert f"init container {lab.params['init']} (unset)" in message(
        report, "test_no_container_allows_privilege_escalation"
    )


def test_hostpath_instead_of_emptydir_fails_on_hostpath(lab):
    def host_path_cache(manifest: dict) -> None:
        for volume in manifest["spec"]["volumes"]:
            if volume["name"] == "cache":
                volume.pop("emptyDir")
                volume["hostPath"] = {"path": "/tmp/cks-lab-nginx-cache", "type": "DirectoryOrCreate"}

    lab.replace_pod(host_path_cache)
    report = lab.grade()
    assert failed(report) == {"test_no_hostpath_volume"}
    assert "/tmp/cks-lab-nginx-cache" in message(report, "test_no_hostpath_volume")


def test_the_fix_on_a_new_pod_under_another_name_fails(lab):
    lab.replace_pod(lambda manifest: None, name=f"{lab.params['pod']}-fixed")
    report = lab.grade()
    assert failed(report) == ALL
    said = message(report, "test_pod_keeps_its_name_namespace_containers_and_image")
    assert said.startswith(f"pod {lab.params['pod']} not found in namespace {lab.params['namespace']}")
    assert f"{lab.params['pod']}-fixed" in said
