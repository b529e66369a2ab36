"""Recording what kube-apiserver logs when it cannot start, for the unit tests of the check's messages
(tests/test_grading_apiserver_faults.py). The live proofs of 08 that take it down call record_apiserver_log(NAME); with
CKS_LAB_RECORD_LOGS=1 in the environment it keeps the lines the check reads (the last 40 of the newest
kube-apiserver container's log under /var/log/pods) as tests/data/apiserver/NAME.log:

    CKS_LAB_RECORD_LOGS=1 .venv/bin/pytest -m "testbed or variants" tests/test_scenario_08_audit_repair.py
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from labs.graderlib.apiserver import POD_LOGS

RECORDINGS = Path(__file__).parent / "data" / "apiserver"
LINES = 40  # what labs.graderlib.apiserver.last_apiserver_log_errors reads


def record_apiserver_log(name: str) -> None:
    """Keep the newest kube-apiserver container's log tail as NAME.log (only when asked to: see the module)."""
    if os.environ.get("CKS_LAB_RECORD_LOGS") != "1":
        return
    deadline = time.monotonic() + 60  # a crash-looping container's log is gone between two attempts
    while not (logs := list(Path(POD_LOGS).glob("kube-system_kube-apiserver-*/kube-apiserver/*.log"))):
        assert time.monotonic() < deadline, f"no kube-apiserver log under {POD_LOGS} to record"
        time.sleep(1)
    newest = max(logs, key=lambda path: path.stat().st_mtime)
    RECORDINGS.mkdir(parents=True, exist_ok=True)
    (RECORDINGS / f"{name}.log").write_text("".join(newest.read_text().splitlines(keepends=True)[-LINES:]))
