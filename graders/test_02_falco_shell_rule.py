"""Scenario 02, a Falco rule for shells in containers: one test per criterion of the task.

The node's Falco configuration and rules files are read and loaded the way Falco 0.42 does (labs.graderlib.falco);
the student's list, macro and rule are judged by what they do on events built for this attempt's pod (its real
container id, image, pod and namespace), with the configuration's rule_matching and priority, and compared with the
rule the task describes on a corpus made of every process name either rule names and a few more, each started with
execve and execveat, with and without a terminal, in the pod and on the host, and opening a file
(labs.falco.corpus). Where Falco runs, shells are also started in the pod for real and the alerts looked for in
Falco's output.
"""

import pytest

from labs.falco import Ruleset
from labs.falco import behaviours as b
from labs.falco.compiler import CompiledRule
from labs.falco.corpus import Disagreements, compared_values, disagreements
from labs.falco.priorities import priority_name
from labs.graderlib.falco import LOCAL_RULES, alerts, container_of, fires, load_node_rules, probe_rule
from labs.graderlib.falco_live import exec_in_terminal, exec_without_terminal, is_alert_of, wait_for_line
from labs.k8s import Kube

SHELLS = ("bash", "zsh", "ksh", "sh", "csh")
NOT_LISTED = ("ash", "dash", "tcsh", "sshd", "cat", "nginx")
PROBE = "cks-lab probe"
TASK_CONDITION = f"spawned_process and container.id != host and proc.name in ({', '.join(SHELLS)})"


@pytest.fixture(scope="module")
def rule(falco_rules, params):
    """The task's rule among the rules Falco loads."""
    found = falco_rules.rule(params["rule"])
    assert found is not None, (
        f"no rule named {params['rule']!r} is loaded; rules of {LOCAL_RULES}: "
        f"{', '.join(repr(r.name) for r in falco_rules.rules if r.file == LOCAL_RULES) or 'none'}"
    )
    return found


@pytest.fixture(scope="module")
def container(attempt_pod):
    return container_of(attempt_pod)


def _probe(falco_files, falco_config, condition: str) -> Ruleset:
    """The rules Falco loads plus one probe rule with `condition`, to judge a list or macro on its own."""
    loaded = load_node_rules(falco_files, falco_config, extra={"cks-lab-probe.yaml": probe_rule(PROBE, condition)})
    if not loaded.ok:
        error = loaded.errors[0]
        where = "" if error.file == "cks-lab-probe.yaml" else f" in {error.file}"
        pytest.fail(f"`{condition}` cannot be evaluated{where}: {error.message}", pytrace=False)
    return loaded


def _corpus(container: b.Container, *rules: CompiledRule) -> dict[str, dict]:
    """Every process name the rules name (and the task's shells and other programs), started with execve and
    execveat, with and without a terminal, in the pod and on the host, and opening a file in the pod."""
    names = dict.fromkeys([*SHELLS, *NOT_LISTED, *(n for rule in rules for n in compared_values(rule, "proc.name"))])
    events = {}
    for name in names:
        for interactive in (True, False):
            how, pod = ("with" if interactive else "without"), f"in pod {container.pod}"
            started = {
                pod: b.shell_in_container(shell=name, interactive=interactive, container=container),
                "on the host": b.shell_on_host(shell=name, interactive=interactive),
            }
            for where, event in started.items():
                events[f"{name} started {how} a terminal {where}"] = event
                events[f"{name} started by execveat {how} a terminal {where}"] = {**event, "evt.type": "execveat"}
        events[f"{name} in pod {container.pod} opening /etc/profile"] = b.read_file(
            "/etc/profile", process=name, container=container
        )
    return events


@pytest.fixture(scope="module")
def compared(falco_files, falco_config, rule, container) -> Disagreements:
    """Where the rule and the rule the task describes disagree, on the corpus."""
    task_rule = _probe(falco_files, falco_config, TASK_CONDITION).rule(PROBE)
    return disagreements(task_rule, rule, _corpus(container, task_rule, rule))


def _shell_events(container) -> list[tuple[str, dict]]:
    events = []
    for shell in SHELLS:
        events.append((f"kubectl exec -it ... -- {shell}", b.shell_in_container(shell=shell, container=container)))
        events.append(
            (f"kubectl exec ... -- {shell} -c ...", b.shell_in_container(shell=shell, container=container,
                                                                         interactive=False))
        )  # fmt: skip
    return events


@pytest.mark.points(1)
def test_the_rules_load_together_with_the_default_rules(falco_config, falco_rules):
    """Falco starts with falco_rules.local.yaml loaded after its default rules, without errors"""
    loaded = falco_rules.files
    assert "/etc/falco/falco_rules.yaml" in loaded, (
        f"Falco would not load its default rules /etc/falco/falco_rules.yaml (it loads: {', '.join(loaded)}; "
        f"rules_files is set in {falco_config.where('rules_files')})"
    )
    assert LOCAL_RULES in loaded, f"Falco would not load {LOCAL_RULES} (it loads: {', '.join(loaded)})"


@pytest.mark.points(1)
def test_the_rule_is_in_the_local_rules_file(rule):
    """Rule "{rule}" is defined in /etc/falco/falco_rules.local.yaml"""
    assert rule.file == LOCAL_RULES, f"rule {rule.name!r} is defined in {rule.file}, expected {LOCAL_RULES}"


@pytest.mark.points(1)
def test_the_list_holds_exactly_the_five_shells(falco_files, falco_config, params):
    """List {list} holds bash, zsh, ksh, sh and csh, and nothing else"""
    name = params["list"]
    probe = _probe(falco_files, falco_config, f"spawned_process and proc.name in ({name})")
    items = [item.strip("'\"") for item in probe.lists.get(name, [])]  # after every append and override
    spawned = {p: b.process_in_container(p) for p in dict.fromkeys((*SHELLS, *NOT_LISTED, *items))}
    matched = {p for p, event in spawned.items() if fires(probe, PROBE, event)}
    if not matched:
        pytest.fail(f"list {name} is not defined in a rules file Falco loads (or is empty)", pytrace=False)
    missing, extra = [s for s in SHELLS if s not in matched], sorted(matched - set(SHELLS))
    assert not missing and not extra, (
        f"list {name}: missing {', '.join(missing) or 'nothing'}, not asked for {', '.join(extra) or 'nothing'}"
    )


@pytest.mark.points(1)
def test_the_macro_is_true_in_containers_and_false_on_the_host(falco_files, falco_config, params, container):
    """Macro {macro} is true for events in a container and false on the host"""
    probe = _probe(falco_files, falco_config, f"spawned_process and {params['macro']}")
    in_container = fires(probe, PROBE, b.process_in_container("ls", container=container))
    on_host = fires(probe, PROBE, b.shell_on_host(shell="bash"))
    assert in_container and not on_host, (
        f"macro {params['macro']} is {str(in_container).lower()} for a process in container "
        f"{container.name} of pod {container.pod} and {str(on_host).lower()} for a process on the host "
        "(expected true and false)"
    )


@pytest.mark.points(2)
def test_the_rule_is_reported_for_every_listed_shell_in_the_pod(falco_rules, rule, falco_config, container, compared):
    """Falco reports rule "{rule}" for bash, zsh, ksh, sh and csh started in pod {pod}, with and without a terminal"""
    problems = []
    for how, event in _shell_events(container):
        reported = alerts(falco_rules, event, falco_config)
        if any(m.rule == rule.name for m in reported):
            continue
        if fires(falco_rules, rule.name, event):
            hidden_by = reported[0].rule if reported else "nothing"
            matching = falco_config.rule_matching
            problems.append(f"{how}: Falco reports {hidden_by!r} instead (rule_matching: {matching})")
        elif not rule.enabled:
            problems.append(f"{how}: the rule is disabled")
        else:
            problems.append(f"{how}: the rule does not match")
    assert not problems, "; ".join(problems[:4]) + (f" (and {len(problems) - 4} more)" if len(problems) > 4 else "")
    missed = Disagreements(compared.missed, [])
    assert not missed, f"rule {rule.name!r} does not fire whenever a shell starts in a container: {missed.describe()}"


@pytest.mark.points(1)
def test_the_rule_stays_quiet_on_the_host_and_for_other_programs(falco_rules, rule, container, compared):
    """Rule "{rule}" does not fire for shells on the host, for other programs in containers, or for what a shell
    does after it started"""
    quiet = {
        "bash on the host (ssh session)": b.shell_on_host(shell="bash"),
        "sh on the host without a terminal": b.shell_on_host(shell="sh", interactive=False),
        **{f"{p} in pod {container.pod}": b.process_in_container(p, container=container) for p in NOT_LISTED},
        f"cat /etc/hostname in pod {container.pod}": b.read_file("/etc/hostname", container=container),
        **{
            f"{shell} in pod {container.pod} opening /etc/profile (not a start)": b.read_file(
                "/etc/profile", process=shell, container=container
            )
            for shell in SHELLS
        },
    }
    noisy = [what for what, event in quiet.items() if fires(falco_rules, rule.name, event)]
    assert not noisy, f"rule {rule.name!r} fires for: {', '.join(noisy)}"
    extra = Disagreements([], compared.extra)
    assert not extra, f"rule {rule.name!r} fires beyond shells starting in containers: {extra.describe()}"


@pytest.mark.points(1)
def test_the_alert_has_the_priority(rule, params):
    """The rule's alerts have priority {priority}"""
    actual = priority_name(rule.priority)
    expected = params["priority"]
    assert actual.upper() == expected, f"rule {rule.name!r} has priority {actual}, expected {expected}"


@pytest.mark.points(1)
def test_the_alert_output_has_the_fields(rule, params, container):
    """The rule's output contains the fields {fields}"""
    wanted = params["fields"].split(",")
    event = b.shell_in_container(shell="sh", container=container, interactive=False)
    fields = rule.output.fields(event)
    missing = [f for f in wanted if f not in fields]
    assert not missing, (
        f"the output of rule {rule.name!r} lacks %{', %'.join(missing)} (it is: {rule.output_text.strip()})"
    )


@pytest.mark.points(1)
@pytest.mark.needs("falco")
def test_live_falco_alerts_for_shells_exec_d_into_the_pod(kube: Kube, attempt_pod, live_falco, request):
    """Live: a shell exec'd into pod {pod} with and without a terminal appears in Falco's alerts within seconds"""
    output = live_falco(attempt_pod.spec.node_name or "controlplane")
    rule = request.getfixturevalue("rule")
    kubeconfig, namespace, pod = kube.kubeconfig, attempt_pod.metadata.namespace, attempt_pod.metadata.name
    problems = []
    for how, run in (
        ("kubectl exec -it (a terminal)", lambda: exec_in_terminal(kubeconfig, namespace, pod, "app", "sh")),
        (
            "kubectl exec (no terminal)",
            lambda: exec_without_terminal(kubeconfig, namespace, pod, "app", "sh", "-c", "id"),
        ),
    ):
        output.mark()
        run()
        found = wait_for_line(output.new_lines, lambda line: is_alert_of(line, rule.name, rule.output, pod))
        if found is None:
            problems.append(f"{how}: no alert of rule {rule.name!r} for pod {pod} within 20 s")
    assert not problems, "; ".join(problems) + " (was Falco reloaded after the change?)"
