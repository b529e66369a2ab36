"""Evaluating events like Falco: missing fields, operators, ancestors, matching strategy, priorities, outputs."""

from __future__ import annotations

import pytest

from labs.falco import behaviours, load_rules


def ruleset_with(condition: str, output: str = "out %proc.name", priority: str = "WARNING", name: str = "r"):
    text = f"- rule: {name}\n  desc: d\n  condition: {condition!r}\n  output: {output!r}\n  priority: {priority}\n"
    ruleset = load_rules(["t.yaml"], contents={"t.yaml": text})
    assert ruleset.ok, [e.as_text() for e in ruleset.errors]
    return ruleset


def fires(condition: str, event: dict) -> bool:
    return bool(ruleset_with(condition).evaluate(event))


@pytest.mark.parametrize(
    "condition",
    ["proc.name = x", "proc.name != x", "proc.name in (x)", "proc.name exists", "proc.name contains x",
     "proc.tty > 0", "proc.tty != 0"],
)  # fmt: skip
def test_a_check_on_a_missing_field_is_false_whatever_the_operator(condition):
    assert not fires(condition, {"evt.type": "execve"})
    assert fires(f"not {condition}", {"evt.type": "execve"})


@pytest.mark.parametrize(
    ("condition", "event", "expected"),
    [
        ("fd.name glob /var/*", {"fd.name": "/var/run/file.txt"}, True),
        ("fd.name glob '/etc/*.conf'", {"fd.name": "/etc/a.conf"}, True),
        ("fd.name iglob /ETC/*", {"fd.name": "/etc/x"}, True),
        ("fd.name pmatch (/opt/dir)", {"fd.name": "/opt/dir/subdir/file.txt"}, True),
        ("fd.name pmatch (/opt/*/subdir)", {"fd.name": "/opt/dir/subdir/file.txt"}, True),
        ("fd.name pmatch (/opt/di)", {"fd.name": "/opt/dir/subdir/file.txt"}, False),
        ("fd.name pmatch (/tmp/hello)", {"fd.name": "/tmp/hello_world"}, False),
        ("fd.name startswith /etc/", {"fd.name": "/etc/shadow"}, True),
        ("fd.name endswith shadow", {"fd.name": "/etc/shadow"}, True),
        ("proc.cmdline icontains CURL", {"proc.cmdline": "curl x"}, True),
        ("proc.name regex 'ba.h'", {"proc.name": "bash"}, True),
        ("proc.name regex 'ba'", {"proc.name": "bash"}, False),
        ("proc.tty != 0", {"proc.tty": 34816}, True),
        ("proc.tty >= 34816", {"proc.tty": "34816"}, True),
        ("evt.is_open_read = true", {"evt.is_open_read": True}, True),
        ("evt.is_open_read = false", {"evt.is_open_read": True}, False),
        ("fd.sip in (10.0.0.1, 10.0.0.2)", {"fd.sip": "10.0.0.2"}, True),
        ("fd.snet in ('10.0.0.0/8')", {"fd.sip": "10.1.2.3"}, True),
        ("proc.aname = sshd", {"proc.aname[2]": "sshd", "proc.pname": "bash", "proc.name": "sh"}, True),
        ("proc.aname = sh", {"proc.aname[2]": "sshd", "proc.pname": "bash", "proc.name": "sh"}, False),
        ("proc.aname[1] = bash", {"proc.pname": "bash"}, True),
        ("proc.aname[0] = sh", {"proc.name": "sh"}, True),
        ("proc.env[HOME] = /root", {"proc.env": {"HOME": "/root"}}, True),
        ("evt.arg.flags contains O_TRUNC", {"evt.arg[flags]": "O_WRONLY|O_TRUNC"}, True),
        ("evt.arg[flags] contains O_TRUNC", {"evt.arg.flags": "O_WRONLY|O_TRUNC"}, True),
        ("tolower(proc.name) = bash", {"proc.name": "BASH"}, True),
        ("basename(proc.exepath) = bash", {"proc.exepath": "/usr/bin/bash"}, True),
        ("len(proc.name) = 4", {"proc.name": "bash"}, True),
        ("b64(proc.args) = hello", {"proc.args": "aGVsbG8="}, True),
        ("proc.name = val(proc.pname)", {"proc.name": "bash", "proc.pname": "bash"}, True),
        ("proc.name = val(proc.pname)", {"proc.name": "bash"}, False),
        ("proc.name = proc.pname", {"proc.name": "proc.pname"}, True),
        ("evt.dir = <", {}, True),
        ("evt.dir = >", {}, False),
    ],
)
def test_operators(condition, event, expected):
    assert fires(condition, {"evt.type": "execve", **event}) is expected


def test_first_match_stops_at_the_first_rule_in_definition_order_all_reports_every_rule():
    text = "".join(
        f"- rule: {name}\n  desc: d\n  condition: {cond}\n  output: o\n  priority: {prio}\n"
        for name, cond, prio in [
            ("open_dev_null", "evt.type=openat and fd.name=/dev/null", "WARNING"),
            ("dev_null", "evt.type in (openat, close) and fd.name=/dev/null", "INFO"),
        ]
    )
    ruleset = load_rules(["t.yaml"], contents={"t.yaml": text})
    event = {"evt.type": "openat", "fd.name": "/dev/null"}
    assert [m.rule for m in ruleset.evaluate(event)] == ["open_dev_null"]
    assert [m.rule for m in ruleset.evaluate(event, rule_matching="all")] == ["open_dev_null", "dev_null"]
    assert [m.rule for m in ruleset.evaluate({**event, "evt.type": "close"})] == ["dev_null"]
    assert ruleset.evaluate(event, rule_matching="all", priority="warning")[-1].rule == "open_dev_null"
    assert len(ruleset.evaluate(event, rule_matching="all", priority="warning")) == 1


def test_disabled_rules_never_fire():
    text = "- rule: r\n  desc: d\n  condition: evt.type=execve\n  output: o\n  priority: INFO\n  enabled: false\n"
    ruleset = load_rules(["t.yaml"], contents={"t.yaml": text})
    assert ruleset.evaluate({"evt.type": "execve"}) == []


def test_output_renders_fields_and_na_for_missing_values():
    ruleset = ruleset_with(
        "evt.type = execve",
        output="shell %proc.name (pod=%k8s.pod.name parent=%proc.aname[2] up=%toupper(proc.name) %5proc.tty|)",
    )
    [match] = ruleset.evaluate({"evt.type": "execve", "proc.name": "bash", "proc.tty": 1}, suggested_output=False)
    assert match.output == "shell bash (pod=<NA> parent=<NA> up=BASH 1    |)"
    assert match.priority == "Warning"
    assert match.output_fields["k8s.pod.name"] is None


def test_suggested_output_fields_are_appended_like_falco():
    [match] = ruleset_with("evt.type = execve").evaluate(behaviours.shell_in_container())
    assert match.output.endswith("k8s_pod_name=web-1 k8s_ns_name=default")


@pytest.mark.parametrize(
    ("event", "rule"),
    [
        (behaviours.shell_in_container(interactive=True), "Terminal shell in container"),
        (behaviours.read_file("/etc/shadow", container=behaviours.Container()), "Read sensitive file untrusted"),
        (behaviours.netcat_listen(shell=True), "Netcat Remote Code Execution in Container"),
    ],
)
def test_behaviours_fire_the_upstream_rules(event, rule, falco_upstream):
    ruleset = load_rules([falco_upstream / "falco_rules.yaml"])
    assert [m.rule for m in ruleset.evaluate(event)] == [rule]


@pytest.mark.parametrize(
    "event",
    [
        behaviours.shell_in_container(interactive=False),
        behaviours.shell_on_host(),
        behaviours.process_in_container("ls"),
    ],
)
def test_quiet_behaviours_fire_nothing_upstream(event, falco_upstream):
    assert load_rules([falco_upstream / "falco_rules.yaml"]).evaluate(event, rule_matching="all") == []


def test_old_rules_see_writes_below_etc_and_package_managers(falco_upstream):
    ruleset = load_rules([falco_upstream / "falco_rules_0.32.2.yaml"])
    assert ruleset.evaluate(behaviours.write_file("/etc/cron.d/x", container=behaviours.Container()))[0].rule == (
        "Write below etc"
    )
    assert ruleset.evaluate(behaviours.package_manager())[0].rule == "Launch Package Management Process in Container"
