"""Bad input never crashes: every grader, graded offline on broken versions of its scenario's recording (the solved
attempt as its proof recorded it), gives a fail or an error with a message, never a crash of the grader ("the
grader failed: ..."), and never a pass when what it judges is gone (unless a criterion asked what the recording
cannot answer, e.g. which pods are left in a deleted namespace: it is not gradable offline, and fails on a
cluster):

- the namespaces the grader reads deleted, with everything in them (reading one of them answers 404, listing them
  answers nothing);
- the API server answering 503 to everything (starting, or overloaded);
- every node file the grader reads gone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest
from mutation import grade_offline, has_mutants, load_recording

from labs.catalog import Catalog
from labs.graderlib.recording import OFFLINE, Recording

SCENARIOS = [scenario for scenario in Catalog().scenarios if has_mutants(scenario)]
SYSTEM_INFO = ("uname ", "cat /etc/os-release")  # how testinfra knows the node: the node is still there


def _namespaces_deleted(recording: Recording) -> Recording:
    doomed = {
        item["metadata"]["uid"]
        for answer in recording.api.values()
        if isinstance(answer.get("body"), dict)
        for item in [answer["body"], *(answer["body"].get("items") or [])]
        if isinstance(item, dict)
        and item.get("metadata", {}).get("uid")
        and (item.get("kind") == "Namespace" or item["metadata"].get("namespace"))
    }
    for uid in doomed:
        recording = recording.without_object(uid)
    return recording


def _unavailable(recording: Recording) -> Recording:
    status = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "ServiceUnavailable", "code": 503}
    answer = {"status": 503, "body": {**status, "message": "the server is currently unable to handle the request"}}
    return replace(recording, api=dict.fromkeys(recording.api, answer))


def _files_gone(recording: Recording) -> Recording:
    missing = {"rc": 1, "stdout": "", "stderr": "No such file or directory"}
    nodes = {
        node: {c: answer if c.startswith(SYSTEM_INFO) else missing for c, answer in commands.items()}
        for node, commands in recording.nodes.items()
    }
    return replace(recording, nodes=nodes)


BREAKS: dict[str, Callable[[Recording], Recording]] = {
    "namespaces deleted": _namespaces_deleted,
    "API server unavailable": _unavailable,
    "files gone": _files_gone,
}


@pytest.mark.parametrize("broken", BREAKS, ids=str)
@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.id)
def test_a_broken_cluster_is_a_fail_or_an_error_with_a_message(scenario, broken, shared_dir):
    attempt = load_recording(scenario, shared_dir)
    if BREAKS[broken](attempt.recording) == attempt.recording:
        pytest.skip(f"the grader of {scenario.id} reads nothing this breaks")
    report = grade_offline(scenario, attempt, BREAKS[broken](attempt.recording))
    crashed = [f"{c.id}: {c.message}" for c in report.checks if c.message.startswith("the grader failed")]
    assert not crashed, crashed
    assert all(c.message for c in report.checks if c.status != "pass"), report.as_json()
    offline = [c.id for c in report.checks if c.status == "not-gradable" and c.message.startswith(OFFLINE)]
    assert report.verdict in ("fail", "error") or offline, report.as_json()  # those would fail on the cluster
