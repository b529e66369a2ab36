"""What the check says when kube-apiserver cannot start, on log lines recorded from the real kube-apiserver of the
testbed (tests/data/apiserver/, recorded by the live proofs of 08: tests/recorded_logs.py). CI proves one
such fault live (08's setup); these prove the message for every other fault without restarting kube-apiserver."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from recorded_logs import RECORDINGS

from labs.graderlib.apiserver import ApiserverStatus, last_apiserver_log_errors

SAID = {  # recording -> what the check must quote from it
    "missing-mount": ".yaml: no such file or directory",
    "wrong-path": ".yml: no such file or directory",
    "unknown-level": 'Unsupported value: "Metdata"',
    "old-api-version": 'no kind "Policy" is registered for version "audit.k8s.io/v1beta1"',
    "read-only-log-directory": "read-only file system",
}


@dataclass
class Ran:
    rc: int
    stdout: str


class RecordedNode:
    """The controlplane node as the check sees it, its kube-apiserver log being the recording."""

    def __init__(self, log: str) -> None:
        self.log = log

    def run(self, script: str) -> Ran:
        assert "kube-apiserver" in script and "tail -n 40" in script, script  # the only command the check runs
        return Ran(0, self.log)


def recorded(name: str) -> str:
    path = RECORDINGS / f"{name}.log"
    assert path.is_file(), f"{path} is missing: record it (tests/recorded_logs.py)"
    return path.read_text()


@pytest.mark.parametrize(("recording", "said"), SAID.items(), ids=list(SAID))
def test_the_check_quotes_why_kube_apiserver_exits(recording, said):
    errors = last_apiserver_log_errors(RecordedNode(recorded(recording)))
    assert any(said in line for line in errors), errors
    status = ApiserverStatus(
        ready=False,
        running_flags=None,
        manifest=None,
        readyz="no answer from https://127.0.0.1:6443: Connection refused",
        log_errors=errors,
    )
    down = status.describe()
    assert "no kube-apiserver process runs on the node" in down and "not ready (no answer" in down, down
    assert "its last log lines: " in down and said in down, down
