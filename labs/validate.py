"""`lab validate`: every scenario's schema, templates, playbooks and grader, each problem naming its file and field."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

from labs.ansible import syntax_check
from labs.capabilities import CAPABILITIES, unknown
from labs.catalog import PLAYBOOKS, REPO_ROOT, Catalog, Scenario, ScenarioError, load
from labs.grading.plugin import criterion_needs, criterion_points, forget_modules_in
from labs.params import DNS_LABEL, WordParameter, generate

SAMPLE_SEEDS = range(5)


def _relative(path: Path) -> str:
    try:
        return str(path.relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def _templates(scenario: Scenario) -> list[str]:
    import jinja2

    problems = []
    spec = scenario.spec
    texts = {"task": spec.task, "solution": spec.solution} | {f"hints.{i}": h for i, h in enumerate(spec.hints)}
    for seed in SAMPLE_SEEDS:
        try:
            params = scenario.draw(seed)
        except ScenarioError as error:
            return error.problems
        for field, text in texts.items():
            try:
                scenario.render(text, params)
            except jinja2.TemplateSyntaxError as error:
                problems.append(f"{field}: line {error.lineno}: {error.message}")
            except jinja2.UndefinedError as error:
                problems.append(f"{field}: {error.message} (parameters: {', '.join(params) or 'none'})")
            except (jinja2.TemplateError, TypeError, ValueError) as error:  # a filter or test misused at render time
                problems.append(f"{field}: {type(error).__name__}: {error}")
        if problems:
            break
    return sorted(set(problems))


def _parameters(scenario: Scenario) -> list[str]:
    problems = []
    for seed in SAMPLE_SEEDS:
        values = generate(scenario.spec.parameters, seed, scenario.id)  # the drawn ones: derived come after
        for name, spec in scenario.spec.parameters.items():
            dns = isinstance(spec, WordParameter) and spec.generator in ("name", "namespace")
            if dns and not (re.match(DNS_LABEL, values[name]) and len(values[name]) <= 63):
                problems.append(f"parameters.{name}: {values[name]!r} (seed {seed}) is not a valid DNS label")
    return sorted(set(problems))


def _playbooks(scenario: Scenario) -> list[str]:
    missing = [name for name in PLAYBOOKS if not scenario.playbook(name).exists()]
    if missing:
        return [f"{name}: missing" for name in missing]
    output = syntax_check([scenario.playbook(name) for name in PLAYBOOKS])
    return [f"ansible-playbook --syntax-check failed: {output}"] if output else []


class _Collector:
    def __init__(self) -> None:
        self.items: list[pytest.Item] = []
        self.errors: list[str] = []

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        self.items = list(items)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            lines = str(report.longrepr).strip().splitlines()
            self.errors.append(lines[-1] if lines else "cannot be collected")


def _star_imports(grader: Path, where: str) -> list[str]:
    """A grader imports only what it calls: the fixtures come without an import (labs.grading.plugin)."""
    try:
        tree = ast.parse(grader.read_text(), str(grader))
    except SyntaxError:
        return []  # collecting the grader reports it
    return [
        f"grader {where} line {node.lineno}: `from {node.module} import *`; every grader gets the fixtures without "
        "an import, so import only the names the grader calls"
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and any(alias.name == "*" for alias in node.names)
    ]


def _grader(scenario: Scenario) -> list[str]:
    grader = scenario.grader
    where = _relative(grader)
    if not grader.exists():
        return [f"grader: {where} does not exist"]
    collector = _Collector()
    args = [str(grader), "--collect-only", "-c", "/dev/null", f"--rootdir={grader.parent}", "--import-mode=importlib"]
    known = set(sys.modules)
    try:
        pytest.main([*args, "-p", "no:cacheprovider", "-p", "no:terminal"], plugins=[collector])
    finally:
        forget_modules_in(grader.parent, known)  # else the next grader.py of another folder is this one again
    problems = [f"grader {where}: {error}" for error in collector.errors] + _star_imports(grader, where)
    if not collector.items and not problems:
        problems.append(f"grader {where}: no criteria (test functions) found")
    for item in collector.items:
        if item.get_closest_marker("points") is None:
            problems.append(f"grader {where}: {item.name} has no @pytest.mark.points(n)")
        if not (getattr(getattr(item, "function", None), "__doc__", None) or "").strip():
            problems.append(f"grader {where}: {item.name} has no docstring (its title)")
        if wrong := unknown(criterion_needs(item)):
            known = ", ".join(CAPABILITIES)
            problems.append(f"grader {where}: {item.name} needs {', '.join(wrong)}: no capability; use one of: {known}")
    total = sum(criterion_points(item) for item in collector.items)
    if collector.items and total != scenario.spec.points:
        problems.append(f"points: scenario.yaml says {scenario.spec.points}, the grader's criteria add up to {total}")
    return problems


def validate(catalog: Catalog) -> dict[str, list[str]]:
    """Problems per scenario file (an empty list: the scenario is fine)."""
    results: dict[str, list[str]] = {}
    numbers: dict[int, str] = {}
    for directory in catalog.directories():
        path = _relative(directory / "scenario.yaml")
        try:
            scenario = load(directory)
        except ScenarioError as error:
            results[path] = error.problems
            continue
        problems = _parameters(scenario) + _templates(scenario) + _playbooks(scenario) + _grader(scenario)
        if scenario.spec.number in numbers:
            problems.append(f"number: {scenario.spec.number} is also used by {numbers[scenario.spec.number]}")
        numbers[scenario.spec.number] = path
        results[path] = problems
    return results
