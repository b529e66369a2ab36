"""Scenario 02 on the testbed: setup fails the grader, the reference solution passes it (the live criterion says
"not gradable here": Falco cannot run on this machine), an equivalent answer passes (rule_matching: all instead of
disabling the default rule), and near-misses fail on their criterion with Falco's own words where Falco has them.

Seed 20261202 draws: namespace shop-gecko, pod api-ember, rule "Shell spawned in a container", list
container_shells, macro in_a_container, priority CRITICAL, fields user.name,proc.name,proc.cmdline."""

from __future__ import annotations

import pytest
from broken_cluster import check_without_namespace
from falco_attempt import SolvedText, check_the_solution, falco_lab, grade_with, judged_failures, message_of, rewritten
from lab_attempt import failed_in
from mutation import recorded_verdicts_match

from labs.graderlib.falco import LOCAL_RULES

pytestmark = [pytest.mark.testbed, pytest.mark.slow]

SEED = 20261202
LOADS = "test_the_rules_load_together_with_the_default_rules"
IN_LOCAL = "test_the_rule_is_in_the_local_rules_file"
LIST = "test_the_list_holds_exactly_the_five_shells"
MACRO = "test_the_macro_is_true_in_containers_and_false_on_the_host"
REPORTED = "test_the_rule_is_reported_for_every_listed_shell_in_the_pod"
QUIET = "test_the_rule_stays_quiet_on_the_host_and_for_other_programs"
PRIORITY = "test_the_alert_has_the_priority"
FIELDS = "test_the_alert_output_has_the_fields"
LIVE = {"test_live_falco_alerts_for_shells_exec_d_into_the_pod"}
RULE_CRITERIA = {IN_LOCAL, REPORTED, QUIET, PRIORITY, FIELDS}
SOLVED = SolvedText(LOCAL_RULES)

lab = falco_lab(2, SEED)


def test_the_task_names_this_attempts_rule_list_and_macro(lab):
    task = lab.run("task").stdout
    assert "a rule named `Shell spawned in a container`" in task
    assert "a list `container_shells`" in task and "a macro `in_a_container`" in task
    assert "`%user.name`, `%proc.name`, `%proc.cmdline`" in task


def test_after_setup_the_check_fails_on_every_rule_criterion(lab):
    report = lab.check()
    assert report["exit_code"] == 1, "the criteria judged here fail; the live one is not gradable here"
    assert judged_failures(report, LIVE) == {LIST, MACRO} | RULE_CRITERIA
    assert message_of(report, PRIORITY) == (
        "no rule named 'Shell spawned in a container' is loaded; rules of /etc/falco/falco_rules.local.yaml: none"
    )
    assert message_of(report, LIST) == "list container_shells is not defined in a rules file Falco loads (or is empty)"


def test_the_reference_solution_passes(lab):
    check_the_solution(lab, LIVE, score=(9, 9))
    SOLVED.keep()


def test_the_recording_grades_like_the_solved_cluster(lab, shared_dir):
    recorded_verdicts_match(lab, shared_dir)


def test_rule_matching_all_instead_of_disabling_the_default_rule_passes(lab):
    without_disable = SOLVED.text.split("- rule: Terminal shell in container")[0]
    with rewritten("/etc/falco/config.d/matching.yaml", "rule_matching: all\n"):
        report = grade_with(lab, LOCAL_RULES, without_disable)
    assert judged_failures(report, LIVE) == set()


def test_the_seed_example_misspelling_output_fails_with_falcos_error(lab):
    report = grade_with(lab, LOCAL_RULES, SOLVED.text.replace("  output: ", "  ouput: "))
    assert judged_failures(report, LIVE) == {LOADS, LIST, MACRO} | RULE_CRITERIA
    text = message_of(report, LOADS)
    assert text.startswith("Falco would refuse to start: /etc/falco/falco_rules.local.yaml:7:")
    assert "rule 'Shell spawned in a container': Item has no mapping for key 'output'" in text
    assert "LOAD_ERR_YAML_VALIDATE" in text


def test_keeping_the_default_terminal_shell_rule_hides_the_rule_for_kubectl_exec_it(lab):
    report = grade_with(lab, LOCAL_RULES, SOLVED.text.split("- rule: Terminal shell in container")[0])
    assert judged_failures(report, LIVE) == {REPORTED}
    assert message_of(report, REPORTED).startswith(
        "kubectl exec -it ... -- bash: Falco reports 'Terminal shell in container' instead (rule_matching: first)"
    )


def test_a_rule_requiring_a_terminal_misses_non_interactive_exec(lab):
    tty_only = SOLVED.text.replace(
        "proc.name in (container_shells)", "proc.name in (container_shells) and proc.tty != 0"
    )
    report = grade_with(lab, LOCAL_RULES, tty_only)
    assert judged_failures(report, LIVE) == {REPORTED}
    assert "kubectl exec ... -- bash -c ...: the rule does not match" in message_of(report, REPORTED)


def test_a_rule_on_execve_only_misses_shells_started_by_execveat(lab):
    execve_only = SOLVED.text.replace("spawned_process and in_a_container", "evt.type = execve and in_a_container")
    report = grade_with(lab, LOCAL_RULES, execve_only)
    assert judged_failures(report, LIVE) == {REPORTED}
    assert message_of(report, REPORTED).startswith(
        "rule 'Shell spawned in a container' does not fire whenever a shell starts in a container: it misses 10: "
        "bash started by execveat with a terminal in pod api-ember"
    ), message_of(report, REPORTED)


def test_a_rule_without_the_container_macro_fires_on_the_host(lab):
    report = grade_with(
        lab, LOCAL_RULES, SOLVED.text.replace("spawned_process and in_a_container and", "spawned_process and")
    )
    assert judged_failures(report, LIVE) == {QUIET}
    assert message_of(report, QUIET) == (
        "rule 'Shell spawned in a container' fires for: bash on the host (ssh session), "
        "sh on the host without a terminal"
    )


def test_a_rule_without_spawned_process_fires_on_everything_a_shell_does(lab):
    report = grade_with(
        lab, LOCAL_RULES, SOLVED.text.replace("spawned_process and in_a_container and", "in_a_container and")
    )
    assert judged_failures(report, LIVE) == {QUIET}
    assert message_of(report, QUIET).startswith(
        "rule 'Shell spawned in a container' fires for: bash in pod api-ember opening /etc/profile (not a start)"
    )


def test_matching_shells_by_substring_fires_for_other_programs(lab):
    report = grade_with(
        lab, LOCAL_RULES, SOLVED.text.replace("proc.name in (container_shells)", "proc.name contains sh")
    )
    assert judged_failures(report, LIVE) == {QUIET}
    assert "ash in pod api-ember, dash in pod api-ember, tcsh in pod api-ember, sshd in pod api-ember" in (
        message_of(report, QUIET)
    )


def test_a_list_with_an_extra_shell_and_a_macro_true_everywhere_fail_their_criteria(lab):
    text = SOLVED.text.replace("[bash, zsh, ksh, sh, csh]", "[bash, zsh, ksh, sh, csh, dash, fish]")
    report = grade_with(
        lab, LOCAL_RULES, text.replace("condition: (container.id != host)", "condition: (container.id exists)")
    )
    assert judged_failures(report, LIVE) == {LIST, MACRO, QUIET}
    assert message_of(report, LIST) == "list container_shells: missing nothing, not asked for dash, fish"
    assert "is true for a process in container app of pod api-ember and true for a process on the host" in (
        message_of(report, MACRO)
    )


def test_wrong_priority_and_missing_output_field_fail_their_criteria(lab):
    text = SOLVED.text.replace("priority: CRITICAL", "priority: WARNING").replace("proc.cmdline=%proc.cmdline ", "")
    report = grade_with(lab, LOCAL_RULES, text)
    assert judged_failures(report, LIVE) == {PRIORITY, FIELDS}
    assert message_of(report, PRIORITY) == (
        "rule 'Shell spawned in a container' has priority Warning, expected CRITICAL"
    )
    lacks = "the output of rule 'Shell spawned in a container' lacks %proc.cmdline"
    assert message_of(report, FIELDS).startswith(lacks)


def test_an_undefined_macro_is_falcos_compile_error(lab):
    report = grade_with(
        lab, LOCAL_RULES, SOLVED.text.replace("spawned_process and in_a_container", "spawned_process and in_pod")
    )
    assert LOADS in judged_failures(report, LIVE)
    text = message_of(report, LOADS)
    assert "rule 'Shell spawned in a container'" in text and "in_pod" in text, text
    assert "Undefined macro 'in_pod' used in filter" in text and "LOAD_ERR_VALIDATE" in text


def test_a_file_that_is_not_yaml_fails_with_the_line(lab):
    report = grade_with(lab, LOCAL_RULES, "- rule: Shell spawned in a container\n  desc: [unclosed\n")
    assert LOADS in judged_failures(report, LIVE)
    assert message_of(report, LOADS).startswith("Falco would refuse to start: /etc/falco/falco_rules.local.yaml:")


def test_the_rule_in_another_rules_file_fails_on_its_place(lab):
    with rewritten("/etc/falco/rules.d/shells.yaml", SOLVED.text):
        report = grade_with(lab, LOCAL_RULES, "# moved to rules.d\n")
    assert judged_failures(report, LIVE) == {IN_LOCAL}
    assert message_of(report, IN_LOCAL) == (
        "rule 'Shell spawned in a container' is defined in /etc/falco/rules.d/shells.yaml, "
        "expected /etc/falco/falco_rules.local.yaml"
    )


def test_with_its_namespace_deleted_the_check_fails_and_reset_still_cleans_up(lab):
    params = lab.params  # the state of the attempt is gone after the reset
    report = check_without_namespace(lab, params["namespace"])
    said = failed_in(report).messages[MACRO]
    assert said.startswith(f"pod {params['pod']} not found in namespace {params['namespace']}"), said
