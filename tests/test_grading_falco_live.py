"""The parts of the live Falco checks that run without Falco: recognising an alert line (JSON or text) of a rule
about a pod, reading only the lines Falco's file output got after a mark, skipping where Falco does not run, and
exec'ing into a real pod on the testbed through a real terminal (pexpect) and without one, each proving it ran.
Falco itself cannot run on this machine, so a fresh alert is never produced here: that part needs the VMs."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
import testinfra

from labs.errors import CannotGrade
from labs.falco.output import parse_output
from labs.graderlib.falco import LocalFiles, read_config
from labs.graderlib.falco_live import (
    FalcoOutput,
    exec_in_terminal,
    exec_without_terminal,
    format_pattern,
    is_alert_of,
    require_falco,
    wait_for_line,
)

RULE = "Shell in container (cks)"
OUTPUT = parse_output("Shell spawned (user=%user.name container=%container.id pod=%k8s.pod.name shell=%proc.name)")


def _json_alert(rule: str, pod: str) -> str:
    """An alert as Falco writes it with json_output: true."""
    return json.dumps(
        {
            "hostname": "controlplane",
            "output": f"08:00:00.000000000: Warning Shell spawned (user=root container=3ad7b26ded6d pod={pod} ...)",
            "priority": "Warning",
            "rule": rule,
            "source": "syscall",
            "time": "2026-11-29T08:00:00.000000000Z",
            "output_fields": {"k8s.pod.name": pod, "proc.name": "sh", "user.name": "root"},
        }
    )


def test_a_json_alert_counts_by_its_rule_name_and_pod():
    assert is_alert_of(_json_alert(RULE, "web-1"), RULE, OUTPUT, "web-1")
    assert not is_alert_of(_json_alert("Terminal shell in container", "web-1"), RULE, OUTPUT, "web-1")
    assert not is_alert_of(_json_alert(RULE, "web-2"), RULE, OUTPUT, "web-1")


def test_a_text_alert_counts_by_the_rules_output_with_any_field_values_and_the_pod():
    line = (
        "2026-11-29T08:00:00.000000000+0000: Warning Shell spawned (user=root container=3ad7b26ded6d pod=web-1 "
        "shell=sh)"
    )
    assert is_alert_of(line, RULE, OUTPUT, "web-1")
    assert not is_alert_of(line, RULE, OUTPUT, "web-2")
    other = "2026-11-29T08:00:00.000000000+0000: Notice A shell was spawned in a container (pod=web-1 shell=sh)"
    assert not is_alert_of(other, RULE, OUTPUT, "web-1")


def test_the_literal_text_of_an_output_is_matched_literally():
    pattern = format_pattern(parse_output("cost=$3 (x+y) [%proc.name]"))
    assert pattern.search("cost=$3 (x+y) [sh]")
    assert not pattern.search("cost=3 xy [sh]")


def test_waiting_for_a_line_returns_the_first_accepted_or_none():
    assert wait_for_line(lambda: ["a", "pod=web-1", "pod=web-1 again"], lambda line: "web-1" in line) == "pod=web-1"
    assert wait_for_line(lambda: ["a"], lambda line: "web-1" in line, timeout=0) is None


def test_only_lines_appended_to_the_file_output_after_the_mark_are_new(tmp_path):
    alerts = tmp_path / "alerts.json"
    alerts.write_text(_json_alert(RULE, "old") + "\n")
    falco_yaml = tmp_path / "falco.yaml"
    falco_yaml.write_text(f"file_output:\n  enabled: true\n  filename: {alerts}\n")
    output = FalcoOutput(testinfra.get_host("local://"), read_config(LocalFiles(), str(falco_yaml)))
    output.mark()
    with alerts.open("a") as file:
        file.write(_json_alert(RULE, "fresh") + "\n")
    assert [json.loads(line)["output_fields"]["k8s.pod.name"] for line in output.new_file_lines()] == ["fresh"]
    assert any('"fresh"' in line for line in output.new_lines())  # this machine has no journal: the file only


def test_a_live_criterion_fails_when_falco_is_not_running():
    with pytest.raises(pytest.fail.Exception, match="no Falco process runs on the node; expected Falco running"):
        require_falco(testinfra.get_host("local://"))


@pytest.fixture(scope="module")
def shell_pod(testbed) -> Iterator[tuple[Path, str, str]]:
    """(kubeconfig, namespace, pod) of a running busybox pod, with the testbed's kubectl on PATH."""
    from labs.targets import resolve
    from labs.testbed.build import binaries_dir
    from labs.testbed.images import BUSYBOX_IMAGE

    kube = resolve("testbed").kube
    namespace = f"falco-live-{secrets.token_hex(3)}"
    kube.core.create_namespace({"metadata": {"name": namespace}})
    container = {"name": "app", "image": BUSYBOX_IMAGE, "imagePullPolicy": "Never", "command": ["sleep", "3600"]}
    pod = {"metadata": {"name": "shell"}, "spec": {"containers": [container], "terminationGracePeriodSeconds": 0}}
    kube.core.create_namespaced_pod(namespace, pod)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATH", f"{binaries_dir()}{os.pathsep}{os.environ['PATH']}")
        try:
            from labs.k8s import pod_is_ready, wait_for_pod

            assert pod_is_ready(wait_for_pod(kube, namespace, "shell", timeout=120))
            yield testbed.kubeconfig, namespace, "shell"
        finally:
            kube.core.delete_namespace(namespace)


@pytest.mark.testbed
def test_a_shell_through_a_real_terminal_runs_id(shell_pod):
    kubeconfig, namespace, pod = shell_pod
    assert "uid=0(root)" in exec_in_terminal(kubeconfig, namespace, pod, "app", "sh")


@pytest.mark.testbed
def test_a_terminal_exec_that_did_not_run_the_shell_cannot_grade(shell_pod):
    kubeconfig, namespace, pod = shell_pod
    with pytest.raises(CannotGrade, match=r"bash did not run `id` in .* through a terminal: .*executable file not"):
        exec_in_terminal(kubeconfig, namespace, pod, "app", "bash")


@pytest.mark.testbed
def test_an_exec_without_a_terminal_runs_or_cannot_grade(shell_pod):
    kubeconfig, namespace, pod = shell_pod
    assert "uid=0(root)" in exec_without_terminal(kubeconfig, namespace, pod, "app", "sh", "-c", "id")
    with pytest.raises(CannotGrade, match="kubectl exec into"):
        exec_without_terminal(kubeconfig, namespace, pod, "app", "bash", "-c", "id")
