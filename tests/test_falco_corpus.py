"""Differential checks against upstream Falco's default rules (labs.falco.corpus): the values a rule's expanded
condition compares, and the behaviours on which a changed rule and the default one disagree."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from labs.falco import behaviours as b
from labs.falco.corpus import compared_values, disagreements
from labs.falco.ruleset import load_rules

SEARCH = "Search Private Keys or Passwords"


@pytest.fixture(scope="module")
def default_rules(falco_upstream):
    return load_rules([falco_upstream / "falco_rules.yaml"])


def _redefined(falco_upstream, rule: str, condition: str):
    local = f"- rule: {rule}\n  condition: {condition}\n  override: {{condition: replace}}\n"
    return load_rules([falco_upstream / "falco_rules.yaml", "local.yaml"], contents={"local.yaml": local}).rule(rule)


def test_compared_values_come_from_the_expanded_lists_and_macros(default_rules):
    search = default_rules.rule(SEARCH)
    assert compared_values(search, "proc.name") == ["grep", "egrep", "fgrep", "find"]
    assert {"BEGIN PRIVATE", "id_rsa", "id_ecdsa"} <= set(compared_values(search, "proc.args"))
    shell = default_rules.rule("Terminal shell in container")
    assert set(compared_values(shell, "proc.name")) == {"ash", "bash", "csh", "ksh", "sh", "tcsh", "zsh", "dash"}
    assert "runc:[0:PARENT]" in compared_values(shell, "proc.pname")
    assert compared_values(shell, "fd.name") == []


def test_the_same_rule_agrees_everywhere_and_a_narrowed_one_names_what_it_misses(default_rules, falco_upstream):
    search = default_rules.rule(SEARCH)
    events = {
        f"{program} {text}": b.process_in_container(program, "-r", text, "/")
        for program in compared_values(search, "proc.name")
        for text in compared_values(search, "proc.args")
    }
    assert not disagreements(search, search, events)
    only_find = 'spawned_process and proc.name = find and proc.args contains "id_rsa"'
    narrowed = _redefined(falco_upstream, SEARCH, only_find)
    found = disagreements(search, narrowed, events)
    assert "grep BEGIN PRIVATE" in found.missed and "find id_rsa" not in found.missed and found.extra == []
    assert found.describe(shown=1) == f"it misses {len(found.missed)}: grep BEGIN PRIVATE ..."


def test_a_rule_fires_only_for_its_event_types(default_rules):
    search = default_rules.rule(SEARCH)
    assert search.matches(b.process_in_container("find", "/", "-name", "id_rsa"))
    assert not search.matches(b.read_file("id_rsa", process="find"))


def test_every_rule_04_can_draw_agrees_with_itself_on_its_corpus_when_only_output_and_priority_change(falco_upstream):
    grader = Path(__file__).parents[1] / "graders" / "test_04_falco_override_rule.py"
    spec = importlib.util.spec_from_file_location("grader_04_corpora", grader)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    default_rules = load_rules([falco_upstream / "falco_rules.yaml"])
    for name, behaviour in module.BEHAVIOURS.items():
        default = default_rules.rule(name)
        override = (
            f"- rule: {name}\n  output: '%proc.name'\n  priority: ALERT\n"
            "  override: {output: replace, priority: replace}\n"
        )
        changed = load_rules([falco_upstream / "falco_rules.yaml", "local.yaml"], contents={"local.yaml": override})
        events = behaviour.corpus(default, b.Container(pod="web-1"))
        assert not disagreements(default, changed.rule(name), events), name
        assert default.matches(behaviour.positive(b.Container(pod="web-1"))), name
