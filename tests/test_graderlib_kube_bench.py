"""kube-bench's JSON as the grader reads it, on outputs recorded from kube-bench v0.15.6 on the testbed: a check it
audited, and one it could not (a control-plane component down, so it found none of their binaries)."""

import json

from labs.graderlib.kube_bench import command, parse_results


def _report(*results: dict) -> str:
    group = {"section": "1.1", "results": list(results)}
    return json.dumps({"Controls": [{"id": "1", "tests": [group]}, {"id": "4", "tests": None}], "Totals": {}})


AUDITED = {"test_number": "1.1.11", "status": "FAIL", "actual_value": "permissions=755", "reason": ""}
UNAUDITED = {
    "test_number": "1.2.15",
    "status": "FAIL",
    "actual_value": "",
    "reason": 'failed to run: "/bin/ps -ef | grep $apiserverbin | grep -v grep", output: "Usage: grep [OPTION]..."',
}
PASSED = {"test_number": "4.1.9", "status": "PASS", "actual_value": "permissions=600"}


def test_an_audited_failure_is_a_verdict_and_says_what_was_found():
    result = parse_results(_report(AUDITED))["1.1.11"]
    assert result.failed
    assert result.describe() == "kube-bench 1.1.11: FAIL (permissions=755)"


def test_a_check_kube_bench_could_not_audit_is_no_verdict():
    result = parse_results(_report(UNAUDITED))["1.2.15"]
    assert not result.audited and not result.failed


def test_a_pass_is_not_a_failure_and_a_long_finding_is_left_out_of_the_message():
    results = parse_results(_report(PASSED, {**AUDITED, "actual_value": "root 31906 " + "x" * 100}))
    assert not results["4.1.9"].failed
    assert results["1.1.11"].describe() == "kube-bench 1.1.11: FAIL"


def test_the_command_names_the_benchmark_and_hides_the_terminal_width_from_ps():
    assert command(["1.2.15", "4.1.9"]) == (
        "env -u COLUMNS kube-bench run --targets master,node --benchmark cis-1.12 --check 1.2.15,4.1.9 --json"
    )
