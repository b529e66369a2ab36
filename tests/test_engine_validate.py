"""`lab validate` on broken scenarios: each problem names the file, the field and what is wrong."""

import shutil

from labs.capabilities import CAPABILITIES
from labs.catalog import GRADERS_DIR, SCENARIOS_DIR, Catalog
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


def test_a_star_import_in_a_grader_is_named(tmp_path):
    directory = _copy_of_scenario_01(tmp_path)
    grader = (GRADERS_DIR / "test_01_immutable_pod.py").read_text()
    (directory / "grader.py").write_text(grader.replace("import pytest\n", "import pytest\nfrom os.path import *\n", 1))
    (problems,) = validate(Catalog(tmp_path)).values()
    (star,) = [p for p in problems if "import *" in p]
    assert star.startswith("grader ") and "grader.py line " in star and "`from os.path import *`" in star, star


def test_a_criterion_that_needs_no_known_capability_is_named(tmp_path):
    directory = _copy_of_scenario_01(tmp_path)
    grader = (GRADERS_DIR / "test_01_immutable_pod.py").read_text()
    first = grader.index("@pytest.mark.points(")
    (directory / "grader.py").write_text(grader[:first] + '@pytest.mark.needs("selinux")\n' + grader[first:])
    (problems,) = validate(Catalog(tmp_path)).values()
    (wrong,) = [p for p in problems if "selinux" in p]
    assert "needs selinux: no capability; use one of: apparmor, falco," in wrong, wrong


def test_a_scenario_that_needs_no_known_capability_is_refused(tmp_path):
    directory = _copy_of_scenario_01(tmp_path)
    path = directory / "scenario.yaml"
    path.write_text(path.read_text() + "needs: [apparmor, selinux]\n")
    (problems,) = validate(Catalog(tmp_path)).values()
    assert problems == ["needs: Value error, 'selinux': not a capability; use one of: " + ", ".join(CAPABILITIES)]
