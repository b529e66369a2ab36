"""`lab falco test` and `lab falco lint` through register(), as labs/cli.py wires them."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from labs.falco import behaviours
from labs.falco.cli import register

STUDENT_RULE = """
- rule: Shell in container
  desc: a shell was started in a container
  condition: spawned_process and container and shell_procs and proc.tty != 0
  output: "Shell in container (user=%user.name pod=%k8s.pod.name ns=%k8s.ns.name)"
  priority: WARNING
"""


def lab(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="lab")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.func(args)


@pytest.fixture
def events(tmp_path: Path) -> Path:
    path = tmp_path / "events.jsonl"
    lines = [behaviours.shell_in_container(interactive=True), behaviours.shell_in_container(interactive=False)]
    path.write_text("\n".join(json.dumps(e) for e in lines) + "\n")
    return path


@pytest.fixture
def current(falco_upstream: Path) -> Path:
    """Upstream Falco's current default rules file."""
    return falco_upstream / "falco_rules.yaml"


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_test_json_has_errors_warnings_and_results_per_event_line(tmp_path, events, capsys, current):
    rules = write(tmp_path, "local.yaml", STUDENT_RULE)
    assert lab("falco", "test", "--rules", str(current), "--rules", rules, "--events", str(events), "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["errors"] == []
    assert [r["event"] for r in report["results"]] == [0, 1]
    assert [m["rule"] for m in report["results"][0]["matches"]] == ["Terminal shell in container"]
    assert report["results"][1]["matches"] == []


def test_rule_matching_all_reports_the_shadowed_student_rule(tmp_path, events, capsys, current):
    rules = write(tmp_path, "local.yaml", STUDENT_RULE)
    lab("falco", "test", "--rules", str(current), "--rules", rules, "--events", str(events), "--json",
        "--rule-matching", "all")  # fmt: skip
    report = json.loads(capsys.readouterr().out)
    [_first, second] = report["results"][0]["matches"]
    assert second == {
        "rule": "Shell in container",
        "priority": "Warning",
        "output": "Shell in container (user=root pod=web-1 ns=default) container_id=3ad7b26ded6d container_name=web "
        "container_image_repository=docker.io/library/nginx container_image_tag=1.27 k8s_pod_name=web-1 "
        "k8s_ns_name=default",
    }


def test_human_output_explains_why_a_rule_did_not_fire(tmp_path, events, capsys, current):
    rules = write(tmp_path, "local.yaml", STUDENT_RULE)
    assert lab("falco", "test", "--rules", str(current), "--rules", rules, "--events", str(events)) == 0
    out = capsys.readouterr().out
    assert "event 1 (execve): no rule fired" in out
    assert "false: proc.tty != 0" in out
    assert "comes first and rule_matching is first" in out


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (STUDENT_RULE.replace("output:", "ouput:"), "Item has no mapping for key 'output'"),
        ("- rule: [unclosed\n", "LOAD_ERR_YAML_PARSE"),
        ("not: [a list\n  of: rules", "LOAD_ERR_YAML_PARSE"),
        (STUDENT_RULE.replace("shell_procs", "shell_procz"), "Undefined macro 'shell_procz' used in filter."),
        (STUDENT_RULE.replace("proc.tty != 0", "proc.tty =! 0"), "unexpected token after '!', expecting 'or', 'and'"),
        (STUDENT_RULE.replace("proc.tty", "proc.ttyy"), "nonexistent field proc.ttyy"),
    ],
)
def test_bad_rules_exit_1_with_falcos_error_and_no_traceback(tmp_path, events, capsys, current, text, expected):
    rules = write(tmp_path, "local.yaml", text)
    assert lab("falco", "lint", "--rules", str(current), "--rules", rules) == 1
    out = capsys.readouterr().out
    assert f"{rules}: Invalid" in out
    assert expected in out
    assert lab("falco", "test", "--rules", rules, "--events", str(events), "--json") == 1
    report = json.loads(capsys.readouterr().out)
    assert report["errors"][0]["file"] == rules


def test_lint_json_and_ok(capsys, current):
    assert lab("falco", "lint", "--rules", str(current), "--json") == 0
    assert json.loads(capsys.readouterr().out)["errors"] == []


def test_unreadable_events_exit_2(tmp_path, capsys, current):
    bad = write(tmp_path, "events.jsonl", '{"evt.type": "execve"}\nnot json\n')
    assert lab("falco", "test", "--rules", str(current), "--events", bad) == 2
    assert "events.jsonl:2" in capsys.readouterr().err
