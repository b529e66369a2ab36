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
from labs.falco.compiler import CompiledRule
from labs.falco.corpus import compared_values, disagreements
from labs.falco.output import parse_output
from labs.falco.ruleset import load_rules
from labs.graderlib.falco import PRISTINE_UPSTREAM_RULES, UPSTREAM_RULES, alerts, container_of
from labs.graderlib.falco_live import exec_in_terminal, exec_without_terminal, is_alert_of, wait_for_line
from labs.graderlib.pods import text_recorded_by_setup
from labs.k8s import Kube

CHECKSUM_ANNOTATION = "cks-lab/falco-rules-sha256"


@dataclass(frozen=True)
class Behaviour:
    """What a rule detects: the event it must fire on in the pod; the behaviours to compare it with the default rule
    on, generated from the values the default rule's condition compares (its lists and macros expanded); and the
    command that triggers it live (run in a terminal when `terminal`)."""

    positive: Callable[[b.Container], dict]
    corpus: Callable[[CompiledRule, b.Container], dict[str, dict]]
    trigger: tuple[str, ...]
    terminal: bool = False


def _in(container: b.Container, name: str, *args: str) -> dict:
    return b.process_in_container(name, *args, container=container, parent="sh")


def _places(container: b.Container) -> dict[str, b.Container]:
    return {f"in pod {container.pod}": container, "on the host": b.HOST}


def _reads(default: CompiledRule, container: b.Container) -> dict[str, dict]:
    """Every program the default rule names (and cat) reading other files and every file and directory it names."""
    paths = [*compared_values(default, "fd.name"), *(f"{d}/lab" for d in compared_values(default, "fd.directory"))]
    readers = dict.fromkeys(["cat", "python3", *compared_values(default, "proc.name")])
    return {
        f"{reader} reading {path} {where}": b.read_file(path, process=reader, container=place)
        for path in ["/etc/passwd", "/etc/hostname", *paths]
        for reader in readers
        for where, place in _places(container).items()
    }


def _shells(default: CompiledRule, container: b.Container) -> dict[str, dict]:
    """ls and every shell the default rule names, with and without a terminal, below every parent it names."""
    parents = dict.fromkeys([*compared_values(default, "proc.pname"), "bash"])
    events = {}
    for shell in dict.fromkeys(["ls", *compared_values(default, "proc.name")]):
        for interactive in (True, False):
            how = f"{shell} {'with' if interactive else 'without'} a terminal"
            events[f"{how} on the host"] = b.shell_on_host(shell=shell, interactive=interactive)
            for parent in parents:
                events[f"{how} below {parent} in pod {container.pod}"] = b.shell_in_container(
                    shell=shell, interactive=interactive, container=container, parent=parent
                )
    return events


def _searches(default: CompiledRule, container: b.Container) -> dict[str, dict]:
    """Every program the default rule names (and cat) searching for another string and for every one it names."""
    programs = dict.fromkeys(["cat", *compared_values(default, "proc.name")])
    wanted = ["notes.txt", *compared_values(default, "proc.args")]
    events = {}
    for program in programs:
        for text in wanted:
            args = ("/", "-name", text) if program == "find" else ("-r", text, "/")
            for where, place in _places(container).items():
                event = b.process_in_container(program, *args, container=place, parent="sh")
                events[f"{program} {' '.join(args)} {where}"] = event
    return events


BEHAVIOURS = {
    "Read sensitive file untrusted": Behaviour(
        positive=lambda c: b.read_file("/etc/shadow", container=c), corpus=_reads, trigger=("cat", "/etc/shadow")
    ),
    "Terminal shell in container": Behaviour(
        positive=lambda c: b.shell_in_container(shell="sh", container=c), corpus=_shells, trigger=("sh",),
        terminal=True,
    ),
    "Search Private Keys or Passwords": Behaviour(
        positive=lambda c: _in(c, "find", "/", "-name", "id_rsa"), corpus=_searches,
        trigger=("find", "/etc", "-name", "id_rsa"),
    ),
}  # fmt: skip


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


@pytest.fixture(scope="module")
def default_rule(falco_files, params) -> CompiledRule:
    """The rule as Falco's default rules file defines it (the copy kept before any scenario changed /etc/falco)."""
    path = PRISTINE_UPSTREAM_RULES if falco_files.is_file(PRISTINE_UPSTREAM_RULES) else UPSTREAM_RULES
    rule = load_rules([path], contents={path: falco_files.read(path)}).rule(params["rule"])
    assert rule is not None, f"{path} does not define rule {params['rule']!r}: the lab cannot judge the change"
    return rule


@pytest.mark.points(1)
def test_the_rule_still_detects_what_it_did(falco_rules, alert, default_rule, container, params):
    """Rule "{rule}" still fires on exactly what the default rule fires on"""
    events = BEHAVIOURS[params["rule"]].corpus(default_rule, container)
    differ = disagreements(default_rule, falco_rules.rule(params["rule"]), events)
    assert not differ, (
        f"rule {params['rule']!r} no longer detects what it did ({len(events)} behaviours compared with the default "
        f"rule): {differ.describe()}; keep its condition"
    )


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
