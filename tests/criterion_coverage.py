"""A pytest plugin: which proofs saw each grader criterion fail and which saw it pass. Every grading a proof makes
(tests/lab_attempt.py: `lab check --json` and in-process grading) is recorded under the test that made it; at the end
of the run every criterion of the graders whose proofs ran is listed with the proofs that saw it fail and pass.
With CKS_LAB_REQUIRE_CRITERIA=1 (`make test`) the run fails when one was never seen failing, or never passing: no
grader criterion goes unproven. A criterion that needs what the testbed lacks (`@pytest.mark.needs`) is listed as
VM-only instead: its logic is unit-tested on recorded outputs. Works under xdist (workers hand their records to the
controller). With CKS_LAB_CRITERIA=FILE the whole record is written as JSON:
{scenario: {criterion: {"failed": [test ids], "passed": [test ids]}}}."""

from __future__ import annotations

import json
import os
from collections import defaultdict
from pathlib import Path

import pytest

from labs import capabilities
from labs.catalog import Catalog

Seen = dict[str, dict[str, dict[str, set[str]]]]
seen: Seen = defaultdict(lambda: defaultdict(lambda: {"failed": set(), "passed": set()}))


def record(scenario: str, checks: list[dict]) -> None:
    """One grading of `scenario` (its checks as `lab check --json` gives them) by the test running now."""
    test = os.environ.get("PYTEST_CURRENT_TEST", "?").split(" ")[0]
    for check in checks:
        if check["status"] in ("pass", "fail"):
            seen[scenario][check["id"]]["passed" if check["status"] == "pass" else "failed"].add(test)


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


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:
    merge(json.loads(getattr(node, "workeroutput", {}).get("criteria", "{}")))


def proof_name(nodeid: str) -> str:
    """`test_scenario_01_immutable_pod.py::test_x` for a test id (its directory and xdist lane left out)."""
    path, separator, test = nodeid.partition("::")
    if not separator:
        return nodeid
    return f"{path.rpartition('/')[2]}::{test.rpartition('@')[0] if '@' in test else test}"


def table() -> list[tuple[str, list[str], list[str], str]]:
    """(scenario::criterion, proofs that saw it fail, proofs that saw it pass, what is missing) for every criterion
    of the graders whose proofs ran; what is missing is "", "never seen failing/passing" or "VM-only (needs ...)"."""
    rows = []
    for scenario in Catalog().scenarios:
        if scenario.id not in seen:
            continue
        for criterion, needs in scenario.criteria.items():
            sides = seen[scenario.id].get(criterion, {"failed": set(), "passed": set()})
            missing = capabilities.lacking(needs, capabilities.TESTBED)
            if missing:
                gap = f"VM-only (needs {', '.join(missing)})"
            else:
                gap = " and ".join(f"never seen {side}" for side in ("failed", "passed") if not sides[side])
            proofs = {side: sorted({proof_name(test) for test in sides[side]}) for side in ("failed", "passed")}
            rows.append((f"{scenario.id}::{criterion}", proofs["failed"], proofs["passed"], gap))
    return rows


def gaps() -> list[str]:
    """Criteria the testbed can judge that no proof saw failing, or none saw passing."""
    return [f"{name} {gap}" for name, _, _, gap in table() if gap.startswith("never")]


def _required() -> bool:
    return os.environ.get("CKS_LAB_REQUIRE_CRITERIA", "") not in ("", "0")


def pytest_sessionfinish(session: pytest.Session) -> None:
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: the controller reports
        workeroutput["criteria"] = json.dumps(as_json(seen))
    elif seen and _required() and gaps() and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter) -> None:
    if not seen:
        return
    rows = table()
    write = terminalreporter.write_line
    terminalreporter.section("grader criteria: proofs that saw each fail and pass")
    for name, failed, passed, gap in rows:
        write(f"{name}  {gap}".rstrip())
        write(f"    failed in: {', '.join(failed) or '-'}")
        write(f"    passed in: {', '.join(passed) or '-'}")
    missing = gaps()
    verdict = "the run fails (CKS_LAB_REQUIRE_CRITERIA)" if missing and _required() else ""
    scenarios = len({name.split("::")[0] for name, *_ in rows})
    write(f"{len(rows)} criteria of {scenarios} scenarios, {len(missing)} not seen both ways {verdict}".rstrip())
    if target := os.environ.get("CKS_LAB_CRITERIA"):
        Path(target).write_text(json.dumps(as_json(seen), indent=1, sort_keys=True) + "\n")
