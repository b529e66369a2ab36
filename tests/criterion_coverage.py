"""A pytest plugin: which proofs saw each grader criterion fail and which saw it pass. Every grading a proof makes
(tests/lab_attempt.py: `lab check --json` and in-process grading) is recorded under the test that made it; at the end
of the run, the criteria of the graders whose proofs ran are listed that no proof saw failing, or saw passing.
Works under xdist (workers hand their records to the controller). With CKS_LAB_CRITERIA=FILE the whole record is
written as JSON: {scenario: {criterion: {"failed": [test ids], "passed": [test ids]}}}."""

from __future__ import annotations

import ast
import json
import os
from collections import defaultdict
from pathlib import Path

import pytest

from labs.catalog import Catalog

Seen = dict[str, dict[str, dict[str, set[str]]]]
seen: Seen = defaultdict(lambda: defaultdict(lambda: {"failed": set(), "passed": set()}))


def record(scenario: str, checks: list[dict]) -> None:
    """One grading of `scenario` (its checks as `lab check --json` gives them) by the test running now."""
    test = os.environ.get("PYTEST_CURRENT_TEST", "?").split(" ")[0]
    for check in checks:
        if check["status"] in ("pass", "fail"):
            seen[scenario][check["id"]]["passed" if check["status"] == "pass" else "failed"].add(test)


def criteria(grader: Path) -> list[str]:
    """The criteria of a grader: its test functions marked with points."""
    tree = ast.parse(grader.read_text())
    return [
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef)
        and any("points" in ast.unparse(decorator) for decorator in node.decorator_list)
    ]


def as_json(record_: Seen) -> dict:
    return {
        scenario: {criterion: {k: sorted(v) for k, v in sides.items()} for criterion, sides in by_criterion.items()}
        for scenario, by_criterion in record_.items()
    }


def merge(data: dict) -> None:
    for scenario, by_criterion in data.items():
        for criterion, sides in by_criterion.items():
            for side, tests in sides.items():
                seen[scenario][criterion][side].update(tests)


def pytest_sessionfinish(session: pytest.Session) -> None:
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: the controller reports
        workeroutput["criteria"] = json.dumps(as_json(seen))


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:
    merge(json.loads(getattr(node, "workeroutput", {}).get("criteria", "{}")))


def gaps() -> list[str]:
    """Criteria of the graded scenarios that no proof saw failing, or none saw passing."""
    found = []
    for scenario in Catalog().scenarios:
        if scenario.id not in seen:
            continue
        for criterion in criteria(scenario.grader):
            sides = seen[scenario.id].get(criterion, {"failed": set(), "passed": set()})
            found += [f"{scenario.id}::{criterion} never seen {side}" for side in sides if not sides[side]]
    return found


def pytest_terminal_summary(terminalreporter) -> None:
    if not seen:
        return
    terminalreporter.section("grader criteria seen failing and passing")
    missing = gaps()
    total = sum(len(criteria(s.grader)) for s in Catalog().scenarios if s.id in seen)
    terminalreporter.write_line(f"{len(seen)} scenarios graded, {total} criteria, {len(missing)} not seen both ways")
    for line in missing:
        terminalreporter.write_line(f"  {line}")
    if target := os.environ.get("CKS_LAB_CRITERIA"):
        Path(target).write_text(json.dumps(as_json(seen), indent=1, sort_keys=True) + "\n")
