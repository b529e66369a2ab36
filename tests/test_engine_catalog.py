"""The scenario catalog: loading, validation messages naming file and field, lookup and suggestions."""

from pathlib import Path

import pytest

from labs.catalog import Catalog, ScenarioError, UnknownScenario, load

VALID = """\
number: 7
slug: demo-task
title: A demo task
domain: Cluster Hardening
points: 3
minutes: 5
nodes: [controlplane]
parameters:
  namespace: {generator: namespace, prefix: team}
task: |
  Do something in namespace {{ namespace }} that is long enough.
hints: [first hint]
solution: |
  The solution explained in more than twenty characters.
"""


def _scenario(root: Path, folder: str, text: str) -> Path:
    directory = root / folder
    directory.mkdir(parents=True)
    (directory / "scenario.yaml").write_text(text)
    return directory


def test_the_repository_catalog_loads_and_finds_scenario_01_every_way():
    catalog = Catalog()
    ids = [s.id for s in catalog.scenarios]
    assert "01-immutable-pod" in ids
    for wanted in ("1", "01", "immutable-pod", "01-immutable-pod", " Immutable-Pod "):
        assert catalog.find(wanted).id == "01-immutable-pod"


def test_an_unknown_scenario_suggests_the_closest_names():
    with pytest.raises(UnknownScenario) as raised:
        Catalog().find("imutable-pod")
    assert raised.value.suggestions[0] == "01-immutable-pod"
    assert "did you mean 01-immutable-pod" in str(raised.value)


def test_a_valid_scenario_loads(tmp_path):
    scenario = load(_scenario(tmp_path, "07-demo-task", VALID))
    assert scenario.id == "07-demo-task"
    assert scenario.grader.name == "test_07_demo_task.py"
    assert scenario.render(scenario.spec.task, {"namespace": "team-x"}).startswith("Do something in namespace team-x")
    assert scenario.spec.exclusive == []
    assert load(_scenario(tmp_path, "b/07-demo-task", VALID + "exclusive: [kube-apiserver]\n")).spec.exclusive == [
        "kube-apiserver"
    ]


@pytest.mark.parametrize(
    ("change", "field", "problem"),
    [
        (("points: 3", "points: 0"), "points", "greater than or equal to 1"),
        (("domain: Cluster Hardening", "domain: Hardening"), "domain", "is not a CKS domain"),
        (("nodes: [controlplane]", "nodes: [master]"), "nodes.0", "should match pattern"),
        (("generator: namespace, prefix: team", "generator: colour"), "parameters.namespace", "tag 'colour'"),
        (("hints: [first hint]", "hints: []"), "hints", "at least 1 item"),
        (("minutes: 5\n", "minutes: 5\nauthor: me\n"), "author", "Extra inputs are not permitted"),
        (("minutes: 5\n", "minutes: 5\nexclusive: [Kube APIServer]\n"), "exclusive.0", "should match pattern"),
        (("minutes: 5\n", "minutes: 5\nexclusive: kube-apiserver\n"), "exclusive", "valid list"),
    ],
)
def test_an_invalid_field_is_named_with_its_problem(tmp_path, change, field, problem):
    directory = _scenario(tmp_path, "07-demo-task", VALID.replace(*change))
    with pytest.raises(ScenarioError) as raised:
        load(directory)
    message = str(raised.value)
    assert str(directory / "scenario.yaml") in message
    assert any(p.startswith(f"{field}: ") and problem in p for p in raised.value.problems), raised.value.problems


def test_broken_yaml_names_the_line(tmp_path):
    directory = _scenario(tmp_path, "07-demo-task", VALID.replace("points: 3", "points: [3"))
    with pytest.raises(ScenarioError) as raised:
        load(directory)
    assert "invalid YAML" in str(raised.value)
    assert "line " in str(raised.value)


def test_the_folder_must_match_number_and_slug(tmp_path):
    with pytest.raises(ScenarioError, match="must be named '07-demo-task'"):
        load(_scenario(tmp_path, "07-other", VALID))


def test_catalog_is_ordered_by_number(tmp_path):
    _scenario(tmp_path, "07-demo-task", VALID)
    _scenario(tmp_path, "02-demo-two", VALID.replace("number: 7", "number: 2").replace("demo-task", "demo-two"))
    assert [s.id for s in Catalog(tmp_path).scenarios] == ["02-demo-two", "07-demo-task"]


def test_an_invalid_scenario_is_set_aside_and_named_when_asked_for(tmp_path):
    _scenario(tmp_path, "07-demo-task", VALID)
    _scenario(tmp_path, "08-broken", VALID.replace("number: 7", "number: 8").replace("points: 3", "points: x"))
    catalog = Catalog(tmp_path)
    assert [s.id for s in catalog.scenarios] == ["07-demo-task"]
    assert [e.path.parent.name for e in catalog.invalid] == ["08-broken"]
    with pytest.raises(ScenarioError, match="points"):
        catalog.find("8")
