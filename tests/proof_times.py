"""A pytest plugin: at the end of the run, the wall time of each scenario's proof (every tests/test_scenario_NN_*
module: its tests' setup, call and teardown, module fixtures included, less the time they waited for the other
lanes' tests), so that each scenario is seen against the proof budget (docs/writing-a-scenario.md#the-proof-budget).
Works under xdist: the controller gets every report. With CKS_LAB_PROOF_TIMES=FILE the table is also written to
FILE as JSON."""

from __future__ import annotations

import json
import os
import re
import statistics
from collections import defaultdict
from pathlib import Path

import pytest

BUDGET_SECONDS = 60  # one scenario's proof (docs/writing-a-scenario.md#the-proof-budget)
MEDIAN_BUDGET_SECONDS = 45  # the median scenario's proof
MODULE = re.compile(r"(?:^|/)test_scenario_(\d\d)_(\w+?)\.py::")

LOCK_WAIT = "api_lock_wait"  # a report's user property: seconds it waited for the other lanes (tests/conftest.py)

seconds: dict[str, float] = defaultdict(float)
waited: dict[str, float] = defaultdict(float)
tests: dict[str, set[str]] = defaultdict(set)


def scenario_of(nodeid: str) -> str | None:
    """`01-immutable-pod` for a node of tests/test_scenario_01_immutable_pod.py (units modules excluded)."""
    found = MODULE.search(nodeid)
    if found is None or found.group(2).endswith("_units"):
        return None
    return f"{found.group(1)}-{found.group(2).replace('_', '-')}"


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    scenario = scenario_of(report.nodeid)
    if scenario is not None:
        lock_wait = dict(report.user_properties).get(LOCK_WAIT, 0.0)
        seconds[scenario] += report.duration - lock_wait
        waited[scenario] += lock_wait
        tests[scenario].add(report.nodeid)


def table() -> list[dict]:
    return [
        {
            "scenario": scenario,
            "tests": len(tests[scenario]),
            "seconds": round(seconds[scenario], 1),
            "waited": round(waited[scenario], 1),
        }
        for scenario in sorted(seconds)
    ]


def pytest_terminal_summary(terminalreporter) -> None:
    rows = [row for row in table() if row["seconds"] >= 1]  # modules that only ran their unit tests are left out
    if not rows:
        return
    write = terminalreporter.write_line
    terminalreporter.section("proof time per scenario")
    write(f"{'scenario':<32} {'tests':>5} {'seconds':>8} {'waited':>8}  (waited: for the other lanes, not counted)")
    for row in rows:
        over = "  over the budget" if row["seconds"] > BUDGET_SECONDS else ""
        write(f"{row['scenario']:<32} {row['tests']:>5} {row['seconds']:>8.1f} {row['waited']:>8.1f}{over}")
    times = [row["seconds"] for row in rows]
    write(f"{'median':<32} {'':>5} {statistics.median(times):>8.1f}  (budget {MEDIAN_BUDGET_SECONDS} s)")
    write(f"{'sum':<32} {sum(row['tests'] for row in rows):>5} {sum(times):>8.1f}")
    if target := os.environ.get("CKS_LAB_PROOF_TIMES"):
        Path(target).write_text(json.dumps(rows, indent=2) + "\n")
