"""Scenario 03 on the testbed: setup fails the grader, the reference solution (a drop-in) passes it, the same keys
edited in falco.yaml pass too, and near-misses fail on their criterion: a drop-in with `file_output: {enabled:
true}` alone (Falco refuses it), `json_output: 1` (yaml-cpp reads false), another filename, the drop-in in a
directory Falco does not read, syslog turned off. The live criteria say "not gradable here" (no Falco here).

Seed 20261203 draws: namespace audit-tundra, pod probe-delta, alerts file /var/log/falco/orchid.json."""

from __future__ import annotations

from pathlib import Path

import pytest
from broken_cluster import made_a_directory
from falco_attempt import check_the_solution, falco_lab, grade_with, judged_failures, message_of
from lab_attempt import failed_in
from mutation import recorded_verdicts_match

from labs.graderlib.falco import FALCO_YAML

# In the lane of 02 and 04 (exclusive: [falco-rules]): its reset puts /etc/falco back as a whole, their rules included.
pytestmark = [pytest.mark.testbed, pytest.mark.slow, pytest.mark.shares("falco-rules")]

SEED = 20261203
ALERTS = "/var/log/falco/orchid.json"
DROP_IN = "/etc/falco/config.d/outputs.yaml"
STARTS = "test_falco_starts_with_the_configuration_and_rules"
JSON = "test_alerts_are_json"
FILE = "test_alerts_go_to_the_file"
SYSLOG = "test_alerts_still_reach_syslog"
LIVE = {"test_live_falco_was_reloaded_not_restarted", "test_live_a_fresh_alert_arrives_in_the_file_as_json"}
SOLVED = f"json_output: true\nfile_output:\n  enabled: true\n  keep_alive: false\n  filename: {ALERTS}\n"

lab = falco_lab(3, SEED)


def test_after_setup_the_check_fails_on_json_and_file(lab):
    report = lab.check()
    assert report["exit_code"] == 1, "the criteria judged here fail; the live ones are not gradable here"
    assert judged_failures(report, LIVE) == {JSON, FILE}
    assert message_of(report, JSON) == (
        "json_output is 'false' (set last in /etc/falco/falco.yaml), which Falco reads as false; expected true"
    )
    assert Path(ALERTS).parent.is_dir(), "setup creates the alerts directory"


def test_the_reference_solution_passes_and_its_recording_grades_alike(lab, shared_dir):
    check_the_solution(lab, LIVE, score=(8, 8))
    assert Path(DROP_IN).read_text() == SOLVED
    recorded_verdicts_match(lab, shared_dir)
    Path(DROP_IN).unlink()  # the tests below start without it


def test_with_falco_yaml_made_a_directory_the_check_fails_and_says_so(lab):
    with made_a_directory(Path(FALCO_YAML)):
        report = lab.check_broken()
    said = failed_in(report).messages["test_falco_starts_with_the_configuration_and_rules"]
    assert said.startswith("Falco would refuse to start: You must specify at least one rules file"), said


def test_the_same_keys_in_falco_yaml_pass(lab):
    main = Path(FALCO_YAML).read_text()
    edited = main.replace("json_output: false", "json_output: true").replace(
        "file_output:\n  enabled: false\n  keep_alive: false\n  filename: ./events.txt",
        f"file_output:\n  enabled: true\n  keep_alive: false\n  filename: {ALERTS}",
    )
    assert edited.count("true") > main.count("true") + 1
    report = grade_with(lab, FALCO_YAML, edited)
    assert judged_failures(report, LIVE) == set()


def test_a_drop_in_with_only_enabled_loses_the_filename_and_falco_refuses_it(lab):
    report = grade_with(lab, DROP_IN, "json_output: true\nfile_output:\n  enabled: true\n")
    assert judged_failures(report, LIVE) == {STARTS, JSON, FILE, SYSLOG}
    assert message_of(report, STARTS) == (
        "Falco would refuse to start: Error reading config file (/etc/falco/falco.yaml): file output enabled but no "
        f"filename in configuration block (file_output set last by {DROP_IN})"
    )


def test_json_output_1_is_false_for_falco(lab):
    report = grade_with(lab, DROP_IN, SOLVED.replace("json_output: true", "json_output: 1"))
    assert judged_failures(report, LIVE) == {JSON}
    assert message_of(report, JSON) == (
        f"json_output is '1' (set last in {DROP_IN}), which Falco reads as false; expected true"
    )


def test_another_filename_fails_on_the_file(lab):
    report = grade_with(lab, DROP_IN, SOLVED.replace(ALERTS, "./events.txt"))
    assert judged_failures(report, LIVE) == {FILE}
    assert message_of(report, FILE) == (
        f"file_output.filename is 'events.txt' (set last in {DROP_IN}), expected {ALERTS}".replace(
            "'events.txt'", "'./events.txt'")
    )  # fmt: skip


def test_a_drop_in_where_falco_does_not_look_changes_nothing(lab):
    report = grade_with(lab, "/etc/falco/conf.d/outputs.yaml", SOLVED)
    assert judged_failures(report, LIVE) == {JSON, FILE}


def test_turning_syslog_off_fails_on_syslog(lab):
    report = grade_with(lab, DROP_IN, SOLVED + "syslog_output:\n  enabled: false\n")
    assert judged_failures(report, LIVE) == {SYSLOG}
