"""Scenario 03, Falco's alerts as JSON lines in a file, applied with a hot reload: one test per criterion.

The configuration is judged as Falco reads it (labs.graderlib.falco.read_config): falco.yaml, then the drop-ins of
config_files merged key by key, values read like yaml-cpp. Where Falco runs, the hot reload is proven live: the
pid setup recorded is still Falco's, and a fresh alert raised in the pod arrives in the file as a JSON line.
"""

import json
import os

import pytest

from labs.graderlib.falco import FalcoConfig
from labs.graderlib.falco_live import exec_without_terminal, require_falco, wait_for_line
from labs.graderlib.pods import text_recorded_by_setup
from labs.k8s import Kube

PID_ANNOTATION = "cks-lab/falco-pid"


def _seen(config: FalcoConfig, dotted: str) -> str:
    value = config.value(dotted)
    return f"{dotted} is {'unset' if value is None else repr(value)} (set last in {config.where(dotted)})"


@pytest.mark.points(2)
def test_falco_starts_with_the_configuration_and_rules(falco_rules):
    """Falco accepts the configuration (falco.yaml and its drop-ins) and loads its rules"""


@pytest.mark.points(2)
def test_alerts_are_json(falco_config):
    """json_output is true"""
    assert falco_config.json_output, f"{_seen(falco_config, 'json_output')}, which Falco reads as false; expected true"


@pytest.mark.points(3)
def test_alerts_go_to_the_file(falco_config, params):
    """file_output is enabled and writes to {alerts_file}"""
    enabled, filename = falco_config.file_output
    assert enabled, f"{_seen(falco_config, 'file_output.enabled')}, which Falco reads as false; expected true"
    expected = params["alerts_file"]
    assert os.path.normpath(filename) == expected, f"{_seen(falco_config, 'file_output.filename')}, expected {expected}"


@pytest.mark.points(1)
def test_alerts_still_reach_syslog(falco_config):
    """syslog_output stays enabled"""
    assert falco_config.boolean("syslog_output.enabled"), (
        f"{_seen(falco_config, 'syslog_output.enabled')}; keep it enabled"
    )


@pytest.mark.points(1)
@pytest.mark.needs("falco")
def test_live_falco_was_reloaded_not_restarted(kube: Kube, node, params):
    """Live: Falco still runs as the process setup saw (a hot reload, not a restart)"""
    pid = require_falco(node("controlplane"))
    recorded = text_recorded_by_setup(kube, params["namespace"], PID_ANNOTATION)
    assert str(pid) == recorded, (
        f"Falco runs as pid {pid}, setup saw pid {recorded or 'none'}: it was restarted; "
        "apply configuration changes with systemctl reload (SIGHUP)"
    )


@pytest.mark.points(1)
@pytest.mark.needs("falco")
def test_live_a_fresh_alert_arrives_in_the_file_as_json(kube: Kube, live_falco, params, request):
    """Live: an alert raised in pod {pod} arrives in {alerts_file} as a JSON line within seconds"""
    output = live_falco("controlplane")
    pod = request.getfixturevalue("attempt_pod")
    output.mark()
    exec_without_terminal(kube.kubeconfig, pod.metadata.namespace, pod.metadata.name, "app", "cat", "/etc/shadow")
    line = wait_for_line(output.new_file_lines, lambda text: pod.metadata.name in text)
    assert line is not None, (
        f"no new line about pod {pod.metadata.name} in {params['alerts_file']} within 20 s after reading /etc/shadow "
        "there (was Falco reloaded with the new configuration?)"
    )
    try:
        alert = json.loads(line)
    except ValueError:
        pytest.fail(f"the new line is not JSON: {line[:200]}", pytrace=False)
    missing = [key for key in ("time", "rule", "priority", "output") if key not in alert]
    assert not missing, f"the JSON alert lacks {', '.join(missing)}: {line[:200]}"
