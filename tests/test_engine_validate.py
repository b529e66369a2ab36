"""`lab validate` on broken scenarios: each problem names the file, the field and what is wrong."""

import shutil

from labs.catalog import SCENARIOS_DIR, Catalog
from labs.validate import validate


def _copy_of_scenario_01(tmp_path):
    target = tmp_path / "01-immutable-pod"
    shutil.copytree(SCENARIOS_DIR / "01-immutable-pod", target)
    return target


def test_scenario_01_is_valid(tmp_path):
    _copy_of_scenario_01(tmp_path)
    assert validate(Catalog(tmp_path)) == {str(tmp_path / "01-immutable-pod" / "scenario.yaml"): []}


def test_schema_errors_name_the_file_and_field(tmp_path):
    directory = _copy_of_scenario_01(tmp_path)
    path = directory / "scenario.yaml"
    path.write_text(path.read_text().replace("points: 10", "points: ten"))
    results = validate(Catalog(tmp_path))
    ((file, problems),) = results.items()
    assert file.endswith("01-immutable-pod/scenario.yaml")
    assert problems == ["points: Input should be a valid integer, unable to parse string as an integer"]


def test_template_playbook_and_points_problems(tmp_path):
    directory = _copy_of_scenario_01(tmp_path)
    path = directory / "scenario.yaml"
    text = path.read_text().replace("Pod {{ pod }} in Namespace", "Pod {{ podname }} in Namespace", 1)
    path.write_text(text.replace("points: 10", "points: 12"))
    (directory / "reset.yml").write_text("- name: broken\n  hosts: controlplane\n  tasks:\n    - no_such.module: {}\n")
    (problems,) = validate(Catalog(tmp_path)).values()
    assert any(p.startswith("task: 'podname' is undefined") for p in problems), problems
    assert any("--syntax-check failed" in p and "no_such.module" in p for p in problems), problems
    assert "points: scenario.yaml says 12, the grader's criteria add up to 10" in problems


def test_a_missing_playbook_is_named(tmp_path):
    directory = _copy_of_scenario_01(tmp_path)
    (directory / "solution.yml").unlink()
    (problems,) = validate(Catalog(tmp_path)).values()
    assert "solution.yml: missing" in problems
