"""Scenario 04 on the testbed: setup fails the grader, the reference solution (an override block) passes it, the
whole rule redefined in the local file passes too, and near-misses fail on their criterion: the default rules file
edited, `append` instead of `replace`, the priority left as it was, the override in a file Falco does not load, an
override of a misspelled rule (Falco refuses to load it), a condition widened or narrowed (compared with the
default rule on every program and string its condition names).

Seed 20261204 draws: rule "Search Private Keys or Passwords", priority ALERT, output
"%evt.time,%user.name,%container.name,%proc.name,%k8s.ns.name,%k8s.pod.name"."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from broken_cluster import made_a_directory
from falco_attempt import SolvedText, check_the_solution, falco_lab, grade_with, judged_failures, message_of, rewritten
from lab_attempt import failed_in
from mutation import recorded_verdicts_match

from labs.graderlib.falco import LOCAL_RULES, UPSTREAM_RULES

pytestmark = [pytest.mark.testbed, pytest.mark.slow]

SEED = 20261204
RULE = "Search Private Keys or Passwords"
UNTOUCHED = "test_the_default_rules_file_is_untouched"
PRIORITY = "test_the_alert_has_the_new_priority"
OUTPUT = "test_the_alert_has_the_new_output"
DETECTS = "test_the_rule_still_detects_what_it_did"
LIVE = {"test_live_falco_reports_the_changed_alert"}
SOLVED = SolvedText(LOCAL_RULES)

lab = falco_lab(4, SEED)


def _override(**changes: object) -> str:
    item = {"rule": RULE, "output": "%evt.time,%user.name,%container.name,%proc.name,%k8s.ns.name,%k8s.pod.name",
            "priority": "ALERT", "override": {"output": "replace", "priority": "replace"}} | changes  # fmt: skip
    return yaml.safe_dump([{k: v for k, v in item.items() if v is not None}], sort_keys=False)


def test_after_setup_the_check_fails_on_the_alert_criteria(lab):
    report = lab.check()
    assert report["exit_code"] == 1, "the criteria judged here fail; the live one is not gradable here"
    assert judged_failures(report, LIVE) == {PRIORITY, OUTPUT}
    assert message_of(report, PRIORITY) == f"rule '{RULE}' alerts with priority Warning, expected ALERT"
    assert message_of(report, OUTPUT).startswith("the alert reads 'Grep private keys or passwords activities found |")


def test_the_reference_solution_passes(lab):
    check_the_solution(lab, LIVE, score=(9, 9))
    SOLVED.keep()


def test_the_recording_grades_like_the_solved_cluster(lab, shared_dir):
    recorded_verdicts_match(lab, shared_dir)


def test_with_the_local_rules_made_a_directory_the_check_fails_and_says_so(lab):
    with made_a_directory(Path(LOCAL_RULES)):
        report = lab.check_broken()  # Falco loads the YAML files of a directory: none there, no override
    assert failed_in(report).messages[PRIORITY] == f"rule '{RULE}' alerts with priority Warning, expected ALERT"


def test_redefining_the_whole_rule_in_the_local_file_passes(lab):
    upstream = yaml.safe_load(Path(UPSTREAM_RULES).read_text())
    rule = next(item for item in upstream if item.get("rule") == RULE)
    redefined = rule | {"priority": "ALERT", "output": yaml.safe_load(_override())[0]["output"]}
    report = grade_with(lab, LOCAL_RULES, yaml.safe_dump([redefined], sort_keys=False))
    assert judged_failures(report, LIVE) == set()


def test_the_change_written_into_the_default_rules_file_fails_on_untouched(lab):
    changed = Path(UPSTREAM_RULES).read_text() + "\n" + _override()
    with rewritten(UPSTREAM_RULES, changed), rewritten(LOCAL_RULES, "# Your custom rules!\n"):
        report = lab.grade()
    assert judged_failures(report, LIVE) == {UNTOUCHED}
    assert message_of(report, UNTOUCHED) == (
        f"{UPSTREAM_RULES} was changed: change the rule in the local rules file instead"
    )


def test_append_instead_of_replace_fails_on_the_output(lab):
    report = grade_with(lab, LOCAL_RULES, _override(override={"output": "append", "priority": "replace"}))
    assert judged_failures(report, LIVE) == {OUTPUT}
    assert "the alert reads 'Grep private keys or passwords activities found |" in message_of(report, OUTPUT)


def test_the_priority_left_as_it_was_fails_on_the_priority(lab):
    report = grade_with(lab, LOCAL_RULES, _override(priority=None, override={"output": "replace"}))
    assert judged_failures(report, LIVE) == {PRIORITY}


def test_the_override_in_a_file_falco_does_not_load_changes_nothing(lab):
    with rewritten("/etc/falco/custom_rules.yaml", SOLVED.text), rewritten(LOCAL_RULES, "# Your custom rules!\n"):
        report = lab.grade()
    assert judged_failures(report, LIVE) == {PRIORITY, OUTPUT}


def _detection_failure(lab, condition: str) -> str:
    """The message of the detection criterion, the only one failing, for the rule's condition replaced."""
    changed = _override(condition=condition, override={
        "output": "replace", "priority": "replace", "condition": "replace"})  # fmt: skip
    report = grade_with(lab, LOCAL_RULES, changed)
    assert judged_failures(report, LIVE) == {DETECTS}
    return message_of(report, DETECTS)


def test_a_condition_widened_by_the_override_fails_on_detection(lab):
    detects = _detection_failure(lab, "spawned_process and proc.name = find")
    assert detects.startswith(f"rule '{RULE}' no longer detects what it did (130 behaviours compared with the")
    assert "it misses 30: grep -r BEGIN PRIVATE / in pod" in detects
    assert f"it now also fires on 18: find / -name notes.txt in pod {lab.params['pod']}; " in detects


def test_a_condition_narrowed_to_the_drawn_trigger_fails_on_detection(lab):
    detects = _detection_failure(lab, 'spawned_process and proc.name = find and proc.args contains "id_rsa"')
    assert f"default rule): it misses 36: grep -r BEGIN PRIVATE / in pod {lab.params['pod']}; " in detects
    assert "now also fires" not in detects and detects.endswith(" ...; keep its condition")


def test_an_override_of_a_misspelled_rule_fails_on_loading_the_rules(lab):
    report = grade_with(lab, LOCAL_RULES, _override(rule=RULE.replace("Keys", "Key")))
    assert {"test_falco_loads_the_rules", PRIORITY, OUTPUT} <= judged_failures(report, LIVE)
    assert "An 'override.<key>: replace' to a rule was requested but no rule by that name already exists" in (
        message_of(report, "test_falco_loads_the_rules")
    )
