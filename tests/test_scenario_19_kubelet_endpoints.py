"""Scenario 19 on the testbed: setup fails the grader, the reference solution passes it, and each near-miss fails on
the criterion it misses, judged on the running kubelet's answers. Seed 1 opens the kubelet up with flags in
kubeadm-flags.env (which win over its config file); seed 2 (a variant) in the config file. The kubelet restarts for
each stage and near-miss (a couple of seconds each); no other lane uses the cluster meanwhile."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml
from api_lock import API, settle
from apiserver_scenario import ApiserverScenario
from broken_cluster import kubelet_stopped
from lab_attempt import failed, failed_in, message
from mutation import recorded_verdicts_match

from labs.testbed import cluster

pytestmark = [pytest.mark.testbed]

SEED = 1
OTHER_SEED = 2
CONFIG = Path("/var/lib/kubelet/config.yaml")
FLAGS = Path("/var/lib/kubelet/kubeadm-flags.env")
ANONYMOUS = "test_anonymous_requests_are_refused"
AUTHORIZATION = "test_requests_are_authorized_through_the_api"
READ_ONLY = "test_the_read_only_port_is_closed"
READY = "test_the_node_stays_ready"


def _started(number: str, seed: int, tmp_path_factory) -> Iterator[ApiserverScenario]:
    """An attempt whose stages (each restarts the kubelet) own the cluster, as restarts of kube-apiserver do."""
    with ApiserverScenario.started(number, seed, tmp_path_factory.mktemp("lab-state")) as attempt:
        yield attempt


@pytest.fixture(scope="module")
def lab(testbed, tmp_path_factory) -> Iterator[ApiserverScenario]:
    yield from _started("19", SEED, tmp_path_factory)


@contextmanager
def kubelet_reconfigured(config: Callable[[dict], None] | None = None, flags: str | None = None) -> Iterator[None]:
    """The kubelet restarted with its config file changed by `config` and/or its kubeadm flags replaced; both put
    back and the kubelet restarted again afterwards."""
    saved = {path: path.read_text() for path in (CONFIG, FLAGS)}
    API.own()
    try:
        if config is not None:
            changed = yaml.safe_load(saved[CONFIG])
            config(changed)
            CONFIG.write_text(yaml.safe_dump(changed))
        if flags is not None:
            FLAGS.write_text(flags)
        cluster.stop_kubelet()
        cluster.start_kubelet()
        yield
    finally:
        for path, text in saved.items():
            path.write_text(text)
        cluster.stop_kubelet()
        cluster.start_kubelet()
        settle()


def _locked(config: dict) -> None:
    config["authentication"]["anonymous"]["enabled"] = False
    config["authorization"]["mode"] = "Webhook"
    config["readOnlyPort"] = 0


def test_the_seed_opens_the_kubelet_up_with_flags(lab):
    assert lab.params["opened_by"] == "flags"
    assert "--anonymous-auth=true --authorization-mode=AlwaysAllow --read-only-port=10255" in FLAGS.read_text()


def test_after_setup_the_kubelet_answers_everyone(lab):
    report = lab.check()
    assert report["exit_code"] == 1, report
    assert failed_in(report) == {ANONYMOUS, AUTHORIZATION, READ_ONLY}, report
    said = failed_in(report).messages
    assert "without credentials: 200: served; expected 401 Unauthorized" in said[ANONYMOUS], said


def test_the_config_file_fixed_under_flags_that_win_changes_nothing(lab):
    """The config file locked down, the flags that override it left in place."""
    with kubelet_reconfigured(config=_locked):
        report = lab.grade()
    assert failed(report) == {ANONYMOUS, AUTHORIZATION, READ_ONLY}


def test_the_reference_solution_passes(lab):
    lab.solve()
    report = lab.check()
    missed = {check["id"]: check["message"] for check in report["checks"] if check["status"] != "pass"}
    assert report["exit_code"] == 0, missed


def test_the_recording_grades_like_the_solved_cluster(lab, shared_dir):
    # make it with: CKS_LAB_RECORD=1 pytest tests/test_scenario_19_kubelet_endpoints.py -k "solution or recording"
    recorded_verdicts_match(lab, shared_dir)


def test_anonymous_off_but_always_allow_lets_any_client_do_anything(lab):
    with kubelet_reconfigured(config=lambda config: config["authorization"].update(mode="AlwaysAllow")):
        report = lab.grade()
    assert failed(report) == {AUTHORIZATION}
    said = message(report, AUTHORIZATION)
    assert "as cks-lab-kubelet-probe, whom RBAC grants nothing: 200: served; expected 403 Forbidden" in said, said


def test_with_the_kubelet_stopped_the_node_is_not_ready(lab):
    """`systemctl stop kubelet` to edit its files, and not started again."""
    with kubelet_stopped():
        report = lab.grade()
        lab.check_broken()
    assert READY in failed(report)
    assert "the kubelet's health check answered no connection; expected 200" in message(report, READY)


@pytest.fixture(scope="module")
def other_lab(testbed, tmp_path_factory) -> Iterator[ApiserverScenario]:
    yield from _started("19", OTHER_SEED, tmp_path_factory)


@pytest.mark.variants
def test_opened_up_in_the_config_file_it_fails_and_the_solution_passes(other_lab):
    assert other_lab.params["opened_by"] == "config"
    assert yaml.safe_load(CONFIG.read_text())["authorization"]["mode"] == "AlwaysAllow"
    assert failed_in(other_lab.check()) == {ANONYMOUS, AUTHORIZATION, READ_ONLY}
    other_lab.solve()
    assert other_lab.check()["exit_code"] == 0
