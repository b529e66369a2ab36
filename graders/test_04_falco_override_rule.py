"""Scenario 04, change a default Falco rule's output and priority: one test per criterion of the task.

The node's rules are loaded the way Falco 0.42 does (labs.graderlib.falco). The changed rule is judged by the alert
it raises for its behaviour in this attempt's pod (priority, output rendered field by field, compared with the
requested format rendered on the same event) and by what it still detects; the default rules file by the checksum
setup recorded. Any correct way passes: an `override` block, or the whole rule redefined in the local file.
"""

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from labs.falco import behaviours as b
from labs.falco.output import parse_output
from labs.graderlib.falco import UPSTREAM_RULES, alerts, container_of, fires
from labs.graderlib.falco_live import exec_in_terminal, exec_without_terminal, is_alert_of, wait_for_line
from labs.graderlib.pods import text_recorded_by_setup
from labs.k8s import Kube

CHECKSUM_ANNOTATION = "cks-lab/falco-rules-sha256"


@dataclass(frozen=True)
class Behaviour:
    """What a rule detects, as events in a container: one it must fire on, others it must not; and the command
    that triggers it live (run in a terminal when `terminal`)."""

    positive: Callable[[b.Container], dict]
    negatives: dict[str, Callable[[b.Container], dict]]
    trigger: tuple[str, ...]
    terminal: bool = False


def _in(container: b.Container, name: str, *args: str) -> dict:
    return b.process_in_container(name, *args, container=container, parent="sh")


BEHAVIOURS = {
    "Read sensitive file untrusted": Behaviour(
        positive=lambda c: b.read_file("/etc/shadow", container=c),
        negatives={"cat /etc/passwd": lambda c: b.read_file("/etc/passwd", container=c)},
        trigger=("cat", "/etc/shadow"),
    ),
    "Terminal shell in container": Behaviour(
        positive=lambda c: b.shell_in_container(shell="sh", container=c),
        negatives={
            "sh without a terminal": lambda c: b.shell_in_container(shell="sh", container=c, interactive=False),
            "bash on the host": lambda c: b.shell_on_host(),
        },
        trigger=("sh",),
        terminal=True,
    ),
    "Search Private Keys or Passwords": Behaviour(
        positive=lambda c: _in(c, "find", "/", "-name", "id_rsa"),
        negatives={"find / -name notes.txt": lambda c: _in(c, "find", "/", "-name", "notes.txt")},
        trigger=("find", "/etc", "-name", "id_rsa"),
    ),
}


@pytest.fixture(scope="module")
def container(attempt_pod) -> b.Container:
    return container_of(attempt_pod, "app")


@pytest.fixture(scope="module")
def event(container, params) -> dict:
    """The rule's behaviour in the pod."""
    return BEHAVIOURS[params["rule"]].positive(container)


@pytest.fixture(scope="module")
def alert(falco_rules, falco_config, event, params):
    """The alert Falco raises for the rule's behaviour in the pod."""
    name = params["rule"]
    reported = alerts(falco_rules, event, falco_config)
    found = next((m for m in reported if m.rule == name), None)
    if found is None:
        rule = falco_rules.rule(name)
        why = (
            "the rule is not loaded" if rule is None
            else "the rule is disabled" if not rule.enabled
            else f"Falco reports {reported[0].rule!r} instead" if reported
            else "the rule no longer matches it"
        )  # fmt: skip
        raise AssertionError(f"no alert of rule {name!r} for its behaviour in pod {event['k8s.pod.name']}: {why}")
    return found


@pytest.mark.points(1)
def test_falco_loads_the_rules(falco_rules):
    """Falco starts with its rules files, without errors"""


@pytest.mark.points(2)
def test_the_default_rules_file_is_untouched(kube: Kube, node, params):
    """/etc/falco/falco_rules.yaml is unchanged"""
    recorded = text_recorded_by_setup(kube, params["namespace"], CHECKSUM_ANNOTATION)
    now = node("controlplane").file(UPSTREAM_RULES)
    assert now.exists, f"{UPSTREAM_RULES} was deleted"
    assert now.sha256sum == recorded, f"{UPSTREAM_RULES} was changed: change the rule in the local rules file instead"


@pytest.mark.points(2)
def test_the_alert_has_the_new_priority(alert, params):
    """Rule "{rule}" alerts with priority {priority}"""
    assert alert.priority.upper() == params["priority"], (
        f"rule {alert.rule!r} alerts with priority {alert.priority}, expected {params['priority']}"
    )


@pytest.mark.points(3)
def test_the_alert_has_the_new_output(falco_rules, alert, event, params):
    """Rule "{rule}" alerts with exactly the requested output"""
    rule = falco_rules.rule(params["rule"])
    seen = rule.output.render(event)
    expected = parse_output(params["output"]).render(event)
    assert seen == expected, f"the alert reads {seen!r}, expected {expected!r} (output: {rule.output_text.strip()!r})"


@pytest.mark.points(1)
def test_the_rule_still_detects_what_it_did(falco_rules, alert, container, params):
    """Rule "{rule}" still fires on its behaviour, and only there"""
    negatives = BEHAVIOURS[params["rule"]].negatives
    noisy = [what for what, build in negatives.items() if fires(falco_rules, params["rule"], build(container))]
    assert not noisy, f"rule {params['rule']!r} now also fires for: {', '.join(noisy)}; keep its condition"


@pytest.mark.points(1)
@pytest.mark.needs("falco")
def test_live_falco_reports_the_changed_alert(kube: Kube, attempt_pod, live_falco, params):
    """Live: triggering the rule in pod {pod} gives an alert with the new priority and output within seconds"""
    output = live_falco(attempt_pod.spec.node_name or "controlplane")
    behaviour, name = BEHAVIOURS[params["rule"]], params["rule"]
    output.mark()
    namespace, pod_name = attempt_pod.metadata.namespace, attempt_pod.metadata.name
    if behaviour.terminal:
        exec_in_terminal(kube.kubeconfig, namespace, pod_name, "app", behaviour.trigger[0])
    else:
        exec_without_terminal(kube.kubeconfig, namespace, pod_name, "app", "sh", "-c", " ".join(behaviour.trigger)
                              + " >/dev/null 2>&1; true")  # fmt: skip
    expected = parse_output(params["output"])
    found = wait_for_line(output.new_lines, lambda line: is_alert_of(line, name, expected, pod_name))
    assert found is not None, f"no alert in the new format for pod {pod_name} within 20 s (was Falco reloaded?)"
    priority = params["priority"]
    assert priority.lower() in found.lower(), f"the alert does not have priority {priority}: {found}"
