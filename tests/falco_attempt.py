"""Helpers for the tests that prove the Falco scenarios (02-05) on the testbed, where Falco cannot run:

- the default rules go where the package puts them (/etc/falco/falco_rules.yaml), from ../shared/data/falco
  (never copied into the repository);
- a live criterion must say "not gradable here" (it is reported as not judged), every other one is judged;
- a node file is rewritten for a near-miss and put back afterwards.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from labs.grading.falco import UPSTREAM_RULES
from labs.grading.falco_live import NOT_GRADABLE
from labs.grading.report import Report


def install_default_rules(shared_dir: Path) -> None:
    """Falco's default rules at /etc/falco/falco_rules.yaml, as the package installs them."""
    target = Path(UPSTREAM_RULES)
    target.parent.mkdir(parents=True, exist_ok=True)
    source = shared_dir / "data" / "falco" / "falco_rules.yaml"
    if not target.exists() or target.read_bytes() != source.read_bytes():
        shutil.copyfile(source, target)


def _checks(report: Report | dict) -> list[dict]:
    return report["checks"] if isinstance(report, dict) else [c.as_json() for c in report.checks]


def judged_failures(report: Report | dict, live: set[str]) -> set[str]:
    """The failed criteria; the `live` ones must be not judged with "not gradable here", nothing else an error."""
    checks = _checks(report)
    errors = {c["id"]: c["message"] for c in checks if c["status"] == "error"}
    assert set(errors) == live, errors
    assert all(NOT_GRADABLE in text for text in errors.values()), errors
    return {c["id"] for c in checks if c["status"] == "fail"}


def message_of(report: Report | dict, check_id: str) -> str:
    return next(c["message"] for c in _checks(report) if c["id"] == check_id)


@contextmanager
def rewritten(path: str | Path, text: str) -> Iterator[None]:
    """`path` holds `text` inside the block; afterwards what it held before (or nothing)."""
    file = Path(path)
    before = file.read_bytes() if file.exists() else None
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(text)
    try:
        yield
    finally:
        if before is None:
            file.unlink(missing_ok=True)
        else:
            file.write_bytes(before)
