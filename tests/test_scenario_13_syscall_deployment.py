"""Scenario 13 on the testbed: setup starts four worker Deployments and strace shows the drawn syscall in every
worker of the culprit and in no other (and no other syscall of the culprit's own), for every syscall of the
scenario; the check fails after setup; the reference solution (which finds the culprit with strace -f -c) passes;
and near-misses fail on their criterion: another Deployment and a common syscall named, the culprit's pods deleted
instead of scaled (they come back), another Deployment scaled too (and scaled back), the culprit deleted.
The syscall names a student may write are unit-tested without the testbed."""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from broken_cluster import check_without_namespace
from lab_attempt import Attempt, failed, failed_in, message, started
from mutation import recorded_verdicts_match

from labs.catalog import Catalog
from labs.graderlib.processes import node_processes

SEED = 20261129  # chmod, culprit transcoder (namespace media)
OTHER_SYSCALLS = {"kill": 20261134, "symlink": 20261140, "mkdir": 20261135, "rename": 20261136, "sync": 20261132}
TRACE_SECONDS = 8
DEPLOYMENT = "test_the_answer_names_the_deployment"
SYSCALL = "test_the_answer_names_the_syscall"
SCALED = "test_the_deployment_is_scaled_to_zero"
OTHERS = "test_the_other_deployments_are_untouched"
MAIN_PROCESS = 'sh -c eval "$(echo "$JOB" | base64 -d)" '


def _grader():
    import importlib.util

    spec = importlib.util.spec_from_file_location("grader_13", Catalog().find("13").grader)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _params(seed: int) -> dict:
    scenario = Catalog().find("13")
    return scenario.draw(seed)


# Without the testbed: the names a student may write, and the parameters.


@pytest.mark.parametrize(
    ("written", "name"),
    [("chmod", "chmod"), ("  FCHMODAT ", "fchmodat"), ("kill()", "kill"), ("kill(2)", "kill"), ("SYS_sync", "sync")],
)
def test_a_syscall_may_be_written_the_ways_man_pages_and_headers_do(written, name):
    assert _grader().syscall_name(written) == name


@pytest.mark.parametrize("written", ["kill -0 1", "chmod 600 /tmp/x.state", "openat, kill", ""])
def test_a_command_or_two_names_are_not_a_syscall(written):
    assert _grader().syscall_name(written) is None


def test_every_syscall_of_the_scenario_has_its_names_and_the_seeds_cover_them():
    grader, scenario = _grader(), Catalog().find("13")
    choices = set(scenario.spec.parameters["syscall"].choices)
    assert set(grader.SYSCALL_FAMILIES) == choices
    assert all(name in grader.SYSCALL_FAMILIES[name] for name in choices)
    assert {_params(seed)["syscall"] for seed in [SEED, *OTHER_SYSCALLS.values()]} == choices
    assert {_params(seed)["syscall"] for seed in OTHER_SYSCALLS.values()} == set(OTHER_SYSCALLS)


def test_culprits_and_syscalls_vary_between_attempts():
    drawn = [_params(seed) for seed in range(40)]
    assert {p["culprit"] for p in drawn} == {"thumbnailer", "transcoder", "invoicer", "reporter"}
    assert len({p["syscall"] for p in drawn}) == 6
    assert all(p["media"] != p["finance"] for p in drawn)


# On the testbed.


def _worker_pids(lab: Attempt) -> dict[tuple[str, str], list[int]]:
    """(namespace, deployment) -> the host PID of each of its workers' main process (PID 1 in its container)."""
    grader, params = lab.grader_module(), lab.params
    processes = node_processes(lab.target.host("controlplane"))
    found: dict[tuple[str, str], list[int]] = {}
    for namespace, name in grader.deployments(params).values():
        pods = lab.kube.core.list_namespaced_pod(namespace, label_selector=f"app={name}").items
        for pod in pods:
            container_id = pod.status.container_statuses[0].container_id.split("://")[-1]
            main = [
                p.pid
                for p in processes
                if p.in_container(container_id) and p.args == MAIN_PROCESS and _pid_in_container(p.pid) == "1"
            ]
            assert len(main) == 1, (pod.metadata.name, main)
            found.setdefault((namespace, name), []).extend(main)
    return found


def _pid_in_container(pid: int) -> str:
    status = Path(f"/proc/{pid}/status").read_text()
    return next(line.split()[-1] for line in status.splitlines() if line.startswith("NSpid:"))


def _traced(pids: dict[tuple[str, str], list[int]]) -> dict[tuple[str, str], list[set[str]]]:
    """The syscalls strace -f -c sees each worker make within TRACE_SECONDS (all traced at the same time)."""
    with tempfile.TemporaryDirectory() as directory:
        runs = {
            (key, pid): subprocess.Popen(
                ["timeout", str(TRACE_SECONDS), "strace", "-f", "-qq", "-c", "-o", f"{directory}/{pid}", "-p", str(pid)]
            )
            for key, workers in pids.items()
            for pid in workers
        }
        traced: dict[tuple[str, str], list[set[str]]] = {}
        for (key, pid), run in runs.items():
            run.wait()
            table = Path(f"{directory}/{pid}").read_text().splitlines()[2:]
            names = {line.split()[-1] for line in table if line.split() and line.split()[-1].isidentifier()}
            traced.setdefault(key, []).append(names - {"total"})
    return traced


def _only_in(traced: dict[tuple[str, str], list[set[str]]], key: tuple[str, str]) -> set[str]:
    """The syscalls some worker of `key` made and no worker of any other Deployment."""
    others = set().union(*(names for other, runs in traced.items() if other != key for names in runs))
    return set().union(*traced[key]) - others


def _assert_only_the_culprit_makes_its_syscall(lab: Attempt) -> None:
    grader, params = lab.grader_module(), lab.params
    traced = _traced(_worker_pids(lab))
    culprit = grader.culprit(params)
    assert len(traced) == 4 and all(len(runs) == params["replicas"] for runs in traced.values()), traced
    for names in traced[culprit]:
        assert params["syscall"] in names, (params["syscall"], names)
    assert _only_in(traced, culprit) == {params["syscall"]}
    for key in traced:
        if key != culprit:
            assert _only_in(traced, key) == set(), (key, _only_in(traced, key))


def _answer(lab: Attempt, *lines: str) -> None:
    Path(lab.params["answer"]).write_text("".join(f"{line}\n" for line in lines))


def _culprit_answer(lab: Attempt) -> tuple[str, str]:
    namespace, name = lab.grader_module().culprit(lab.params)
    return f"{namespace}/{name}", lab.params["syscall"]


def _innocent(lab: Attempt) -> tuple[str, str]:
    grader, params = lab.grader_module(), lab.params
    return next(key for key in grader.deployments(params).values() if key != grader.culprit(params))


def _scale(lab: Attempt, key: tuple[str, str], replicas: int) -> None:
    namespace, name = key
    lab.kube.apps.patch_namespaced_deployment_scale(name, namespace, {"spec": {"replicas": replicas}})


@pytest.fixture(scope="module")
def lab(testbed, tmp_path_factory) -> Iterator[Attempt]:
    with started(13, SEED, tmp_path_factory.mktemp("lab-state")) as attempt:
        yield attempt


@pytest.mark.testbed
@pytest.mark.slow
def test_setup_makes_only_the_culprits_workers_make_the_syscall(lab):
    assert lab.params["syscall"] == "chmod"
    _assert_only_the_culprit_makes_its_syscall(lab)


@pytest.mark.testbed
@pytest.mark.slow
def test_after_setup_the_check_fails_on_the_finding_and_the_scaling(lab):
    report = lab.check()
    assert report["exit_code"] == 1, report
    assert failed_in(report) == {DEPLOYMENT, SYSCALL, SCALED}
    scaled = next(c["message"] for c in report["checks"] if c["id"] == SCALED)
    assert scaled.startswith("the Deployment to scale down still has spec.replicas 2"), scaled
    assert lab.params["transcoder"] not in scaled, "the message must not give the answer away"


@pytest.mark.testbed
@pytest.mark.slow
def test_naming_another_deployment_and_a_syscall_every_worker_makes_fails_on_both_lines(lab):
    namespace, name = _innocent(lab)
    _answer(lab, f"{namespace}/{name}", "wait4")
    report = lab.grade()
    assert failed(report) == {DEPLOYMENT, SYSCALL, SCALED}
    assert message(report, DEPLOYMENT).startswith(f"line 1 names {namespace}/{name}, but its workers make no syscall")
    assert message(report, SYSCALL).startswith("line 2 names wait4, which is not the syscall")


@pytest.mark.testbed
@pytest.mark.slow
def test_deleting_the_culprits_pods_instead_of_scaling_fails_because_they_come_back(lab):
    _answer(lab, *_culprit_answer(lab))
    namespace, name = lab.grader_module().culprit(lab.params)
    lab.kube.core.delete_collection_namespaced_pod(namespace, label_selector=f"app={name}", grace_period_seconds=0)
    report = lab.grade()
    assert failed(report) == {SCALED}
    assert message(report, SCALED).startswith("the Deployment to scale down still has spec.replicas 2")
    assert lab.kube.core.list_namespaced_pod(namespace, label_selector=f"app={name}").items, "no pod came back"


@pytest.mark.testbed
@pytest.mark.slow
def test_the_reference_solution_passes(lab):
    lab.solve()
    report = lab.check()
    assert (report["exit_code"], report["verdict"], report["score"]) == (0, "pass", 8), report
    assert Path(lab.params["answer"]).read_text().splitlines() == list(_culprit_answer(lab))


@pytest.mark.testbed
@pytest.mark.slow
def test_the_recording_grades_like_the_solved_cluster(lab, shared_dir):
    recorded_verdicts_match(lab, shared_dir)


@pytest.mark.testbed
@pytest.mark.slow
def test_another_name_of_the_same_syscall_passes(lab):
    _answer(lab, _culprit_answer(lab)[0], "fchmodat()")
    assert not failed(lab.grade())


@pytest.mark.testbed
@pytest.mark.slow
def test_scaling_another_deployment_too_fails_even_when_scaled_back(lab):
    namespace, name = _innocent(lab)
    _scale(lab, (namespace, name), 0)
    report = lab.grade()
    assert failed(report) == {OTHERS}
    assert message(report, OTHERS).startswith(f"changed: {namespace}/{name} (scaled to 0 replicas (was 2))")
    _scale(lab, (namespace, name), 2)
    report = lab.grade()
    assert failed(report) == {OTHERS}
    assert message(report, OTHERS).startswith(f"changed: {namespace}/{name} (its spec was edited since setup")


@pytest.mark.testbed
@pytest.mark.slow
def test_deleting_the_culprits_deployment_fails(lab):
    namespace, name = lab.grader_module().culprit(lab.params)
    lab.kube.apps.delete_namespaced_deployment(name, namespace)
    report = lab.grade()
    assert SCALED in failed(report)
    assert message(report, SCALED).startswith("the Deployment to scale down was deleted; scale it to 0 instead")


@pytest.mark.testbed
@pytest.mark.slow
def test_with_its_namespace_deleted_the_check_fails_and_reset_still_cleans_up(lab):
    culprit_namespace = lab.grader_module().culprit(lab.params)[0]
    report = check_without_namespace(lab, culprit_namespace)
    said = failed_in(report).messages[SCALED]
    assert said.startswith(f"namespace {culprit_namespace} does not exist: it was deleted"), said


@pytest.mark.variants
@pytest.mark.testbed
@pytest.mark.slow
@pytest.mark.parametrize("syscall", sorted(OTHER_SYSCALLS))
def test_every_syscall_is_made_by_the_culprit_alone_and_solved(syscall, testbed, tmp_path_factory):
    with started(13, OTHER_SYSCALLS[syscall], tmp_path_factory.mktemp("lab-state")) as attempt:
        assert attempt.params["syscall"] == syscall
        _assert_only_the_culprit_makes_its_syscall(attempt)
        attempt.assert_fails_until_solved(score=8)
