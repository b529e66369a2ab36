"""`lab check`: a scenario's pytest module run in-process, each test a criterion with points and a message.

- points: `@pytest.mark.points(n)` (default 1); title: the test's docstring (may use `{param}` placeholders)
- `@pytest.mark.needs("falco", ...)`: on a target without it (labs/capabilities.py) the criterion is not gradable
  there: it does not run, and it is left out of the score and the verdict with the reason
- an assertion (or pytest.fail) -> the criterion fails with the assertion's text, never a traceback
- CannotGrade, access denied, an unreachable cluster or a grader bug -> the criterion is an error: the verdict is
  "error" (exit 2), never counted as a fail
"""

from __future__ import annotations

import os
import string
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from labs.capabilities import explain, lacking
from labs.errors import CannotGrade
from labs.grading.context import CONTEXT_KEY, GradingContext
from labs.grading.report import Check, CheckStatus, Report
from labs.redact import redacted

# The fixtures every grader gets without importing them (a grader imports only what it calls).
FIXTURE_PLUGINS = ("labs.graderlib.fixtures", "labs.graderlib.falco_fixtures", "labs.graderlib.apiserver_fixtures")
# pytest's own plugins that grading has no use for: each one costs time on every `lab check` (unraisableexception
# runs gc.collect() twice per test). Graders get labs' fixtures (FIXTURE_PLUGINS) and pytest's core, not
# tmp_path, monkeypatch, capsys or recwarn.
UNUSED_PLUGINS = (
    "cacheprovider",
    "terminal",
    "unraisableexception",
    "threadexception",
    "junitxml",
    "pastebin",
    "doctest",
    "setuponly",
    "setupplan",
    "stepwise",
    "faulthandler",
    "debugging",
    "unittest",
    "subtests",
    "legacypath",
    "tmpdir",
    "monkeypatch",
    "recwarn",
)


class _Missing(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def criterion_title(item: pytest.Item, params: dict) -> str:
    """The docstring's first paragraph with `{param}` filled in, else the test name in words."""
    doc = getattr(getattr(item, "function", None), "__doc__", None) or ""
    first = " ".join(doc.strip().split("\n\n")[0].split())
    if not first:
        return item.name.removeprefix("test_").replace("_", " ")
    try:
        return string.Formatter().vformat(first, (), _Missing(params))
    except (ValueError, IndexError, AttributeError):
        return first


def criterion_points(item: pytest.Item) -> int:
    """The points of a criterion (`@pytest.mark.points(n)`, default 1)."""
    marker = item.get_closest_marker("points")
    return int(marker.args[0]) if marker and marker.args else 1


def criterion_needs(item: pytest.Item) -> list[str]:
    """What judging a criterion needs of the target (`@pytest.mark.needs(...)`, nothing by default)."""
    return [need for marker in item.iter_markers("needs") for need in marker.args]


class NotGradable(pytest.skip.Exception):
    """The target lacks what judging a criterion needs."""


def assertion_message(excinfo: pytest.ExceptionInfo) -> str:
    """The assertion's own text; for a bare `assert`, the statement that did not hold."""
    text = str(excinfo.value).strip()
    # Where pytest's assertion rewriting is active anyway (a grader run inside another pytest session), the
    # message is followed by its "assert ..." explanation: keep the author's words, or the failed statement.
    lines = text.splitlines()
    explained = next((i for i, line in enumerate(lines) if line.startswith("assert ")), None)
    if explained is not None:
        text = "\n".join(lines[:explained]).strip() or f"not true: {lines[explained]}"
    if text:
        return text
    try:
        statement = str(excinfo.traceback[-1].statement).strip()
    except (IndexError, AttributeError):
        statement = ""
    return f"not true: {statement}" if statement else "the criterion does not hold"


def classify(excinfo: pytest.ExceptionInfo, server: str) -> tuple[CheckStatus, str]:
    """Fail (the answer falls short), error (could not judge) or not gradable on this target, with the message."""
    error = excinfo.value
    if isinstance(error, NotGradable):
        return "not-gradable", str(error.msg)
    if isinstance(error, CannotGrade):
        return "error", str(error)
    if isinstance(error, pytest.fail.Exception):
        return "fail", str(error.msg)
    if isinstance(error, AssertionError):
        return "fail", assertion_message(excinfo)
    if isinstance(error, pytest.skip.Exception):
        return "error", f"not judged: {error.msg}"
    if "kubernetes" in sys.modules:
        from labs.k8s import cannot_grade

        translated = cannot_grade(error, server)
        if translated:
            return "error", str(translated)
    return "error", f"the grader failed: {type(error).__name__}: {error}"


class GradingPlugin:
    """Collects one Check per test while pytest runs a grader module."""

    def __init__(self, context: GradingContext, overrides: Sequence[object] = ()) -> None:
        self.context = context
        self.overrides = overrides  # plugins whose fixtures replace labs' fixtures of the same name
        self.checks: dict[str, Check] = {}
        self.judged: set[str] = set()  # criteria with a failure or error (the first one is what counts)
        self.problems: list[str] = []

    def _server(self) -> str:
        kube = getattr(self.context.target, "kube", None)
        connected = kube is not None and "api_client" in getattr(kube, "__dict__", {})
        return kube.server if connected else "the API server"

    def pytest_configure(self, config: pytest.Config) -> None:
        config.stash[CONTEXT_KEY] = self.context
        for override in self.overrides:  # registered after FIXTURE_PLUGINS, so that their fixtures win
            config.pluginmanager.register(override)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        """A criterion that needs what the target lacks does not run (nor do its fixtures)."""
        needs = criterion_needs(item)
        if needs and (missing := lacking(needs, self.context.target.capabilities)):
            raise NotGradable(f"not gradable on the {self.context.target.name} target: it needs {explain(missing)}")

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        # session.items: after -k deselection. Until a criterion has run and passed it counts as not judged.
        for item in session.items:
            title = criterion_title(item, self.context.params)
            check = Check(item.name, title, criterion_points(item), "error", "not judged: the grading stopped before")
            self.checks[item.nodeid] = check

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            text = str(report.longrepr).strip().splitlines()
            self.problems.append(f"the grader {report.nodeid or ''} could not be loaded: {text[-1] if text else ''}")

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo) -> Any:
        report = yield
        check = self.checks.get(item.nodeid)
        if check is None or item.nodeid in self.judged:
            return report
        if call.excinfo is not None:
            status, message = classify(call.excinfo, self._server())
            check.status, check.message = status, redacted(message)  # it may quote a file with credentials
            self.judged.add(item.nodeid)
        elif call.when == "call":
            check.status, check.message = "pass", ""
        return report


def forget_modules_in(directory: Path, known: set[str]) -> None:
    """Drop the modules pytest imported from `directory` (those not in `known` before), so that the next grading in
    this process (tests, an instructor's batch, the grading worker) imports the graders afresh instead of reusing a
    same-named module."""
    for name in set(sys.modules) - known:
        location = getattr(sys.modules[name], "__file__", None)
        if location and os.path.dirname(location) == str(directory):
            del sys.modules[name]


def grade(
    grader: Path, context: GradingContext, keyword: str | None = None, overrides: Sequence[object] = ()
) -> Report:
    """Run the grader module against the context's target; the report has one check per test. `overrides`: plugins
    whose fixtures replace labs' own (labs.graderlib.recording: record what a grading read, or grade offline)."""
    plugin = GradingPlugin(context, overrides)
    args = [
        str(grader),
        "-c",
        os.devnull,
        f"--rootdir={grader.parent}",
        f"--confcutdir={grader.parent}",  # else collection lists every directory from / down to the grader
        "--import-mode=importlib",
        "--assert=plain",
        "--disable-plugin-autoload",  # graders get labs' fixtures only, whatever else is installed
        *(option for plugin in UNUSED_PLUGINS for option in ("-p", f"no:{plugin}")),
        *(option for plugin in FIXTURE_PLUGINS for option in ("-p", plugin)),
    ]
    if keyword:
        args += ["-k", keyword]
    report = Report(context.scenario, context.seed)
    if not grader.exists():
        report.problems.append(f"no grader at {grader}")
        return report
    known = set(sys.modules)
    try:
        code = pytest.main(args, plugins=[plugin])
    finally:
        forget_modules_in(grader.parent, known)
    if code in (pytest.ExitCode.INTERNAL_ERROR, pytest.ExitCode.USAGE_ERROR):
        plugin.problems.append(f"pytest could not run the grader {grader} (exit code {int(code)})")
    report.checks = list(plugin.checks.values())
    report.problems = plugin.problems
    return report
