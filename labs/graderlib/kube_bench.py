"""kube-bench, the CIS Kubernetes Benchmark's checks as Aqua Security ships them, run on a node the way a student runs
it; the grader reads its JSON verdict for the checks a task names."""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from labs.errors import CannotGrade

BENCHMARK = "cis-1.12"  # kube-bench's version mapping stops at Kubernetes 1.34: name the newest benchmark
TARGETS = ("master", "node")  # the controlplane node's (etcd's file checks are in master's section 1.1)


@dataclass(frozen=True)
class CheckResult:
    """One check's verdict: `status` PASS, FAIL, WARN or INFO; `found` what its audit command read (`permissions=644`,
    a `ps` line)."""

    number: str
    status: str
    found: str
    reason: str = ""  # why its audit command failed: then FAIL is no verdict

    @property
    def audited(self) -> bool:
        """Whether its audit command ran. With one control-plane component down, kube-bench finds none of their
        binaries and every master check FAILs unaudited (`grep $apiserverbin`: an empty pattern)."""
        return not self.reason.startswith("failed to run")

    @property
    def failed(self) -> bool:
        """Whether kube-bench audited the check and did not pass it."""
        return self.audited and self.status != "PASS"

    def describe(self) -> str:
        """`kube-bench 4.1.9: FAIL (permissions=644)`; a long finding (a whole `ps` line) is left out."""
        found = " ".join(self.found.split())
        return f"kube-bench {self.number}: {self.status}" + (f" ({found})" if found and len(found) <= 60 else "")


def command(numbers: Iterable[str]) -> str:
    """The kube-bench command line that judges the checks `numbers` and prints JSON."""
    # Its audits grep `ps -ef`, which cuts its lines at $COLUMNS (pytest exports 80): etcd's --data-dir is further.
    return (
        f"env -u COLUMNS kube-bench run --targets {','.join(TARGETS)} --benchmark {BENCHMARK} "
        f"--check {shlex.quote(','.join(numbers))} --json"
    )


def parse_results(text: str) -> dict[str, CheckResult]:
    """kube-bench's JSON report -> check number -> its result; ValueError when it is not such a report."""
    report: Any = json.loads(text)
    results = {}
    for control in report["Controls"]:
        for group in control.get("tests") or []:
            for result in group.get("results") or []:
                number = result["test_number"]
                results[number] = CheckResult(
                    number=number,
                    status=result["status"],
                    found=result.get("actual_value", ""),
                    reason=result.get("reason", ""),
                )
    return results


def run_checks(host: Any, numbers: list[str]) -> dict[str, CheckResult]:
    """Run kube-bench on the node (testinfra host) for the checks `numbers`; CannotGrade when it did not run or left
    one of them out (a check it does not know)."""
    result = host.run(command(numbers))
    try:
        results = parse_results(result.stdout)
    except (ValueError, KeyError, TypeError):
        said = (result.stderr or result.stdout).strip().splitlines()
        raise CannotGrade(
            f"kube-bench did not run on the node (exit {result.rc}): {said[-1][:200] if said else 'no output'}"
        ) from None
    missing = [number for number in numbers if number not in results]
    if missing:
        raise CannotGrade(f"kube-bench ({BENCHMARK}) reported nothing for check {', '.join(missing)}")
    return results
