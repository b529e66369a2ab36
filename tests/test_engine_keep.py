"""Nothing of a student's work is lost (labs/keep.py): before a stage runs, the files its scenario `keeps` are copied
from the node under the state directory. The node here is this machine, reached the way the testbed's is."""

from __future__ import annotations

from pathlib import Path

import pytest

from labs import keep, session
from labs.catalog import Catalog, Scenario
from labs.errors import TargetError
from labs.state import TargetRef
from labs.targets import Target, _local_inventory


@pytest.fixture
def state_dir(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("CKS_LAB_STATE", str(tmp_path / "state"))
    return tmp_path / "state"


@pytest.fixture
def target(tmp_path) -> Target:
    return Target(TargetRef(kind="local"), tmp_path / "kubeconfig", _local_inventory(tmp_path / "kubeconfig"))


@pytest.fixture
def work(tmp_path) -> Path:
    """A student's work on the node: a rules file, a folder with a policy, an answer."""
    node = tmp_path / "node"
    (node / "etc" / "audit").mkdir(parents=True)
    (node / "etc" / "rules.local.yaml").write_text("- rule: mine\n")
    (node / "etc" / "audit" / "policy.yaml").write_text("rules: [{level: Metadata}]\n")
    return node


def _scenario(catalog_scenario: Scenario, keeps: dict) -> Scenario:
    return Scenario(catalog_scenario.directory, catalog_scenario.spec.model_copy(update={"keeps": keeps}))


@pytest.fixture
def scenario() -> Scenario:
    return Catalog().find("2")


def test_the_files_and_folders_are_copied_with_their_node_paths(scenario, target, work, state_dir, capsys):
    rules, audit = work / "etc" / "rules.local.yaml", work / "etc" / "audit"
    kept = keep.keep_files(_scenario(scenario, {"controlplane": [str(rules), str(audit), "/nonexistent"]}), target,
                           "reset")  # fmt: skip
    assert kept is not None and kept.parent == state_dir / "kept" and kept.name.endswith("-02-falco-shell-rule-reset")
    copy = kept / "controlplane" / str(work).lstrip("/") / "etc"
    assert (copy / "rules.local.yaml").read_text() == "- rule: mine\n"
    assert (copy / "audit" / "policy.yaml").read_text() == "rules: [{level: Metadata}]\n"
    assert f"copies of the files the reset may overwrite are kept in {kept}" in capsys.readouterr().err


def test_nothing_to_keep_makes_no_folder(scenario, target, work, state_dir):
    assert keep.keep_files(_scenario(scenario, {"controlplane": ["/nonexistent/answer.txt"]}), target, "setup") is None
    assert keep.keep_files(_scenario(scenario, {}), target, "setup") is None
    assert not (state_dir / "kept").exists()


def test_an_unreachable_node_stops_the_stage_before_anything_changed(scenario, work, state_dir, tmp_path):
    unreachable = {"all": {"hosts": {"controlplane": {"ansible_host": "127.0.0.1", "ansible_port": 1}}}}
    target = Target(TargetRef(kind="vagrant"), tmp_path / "kubeconfig", unreachable)
    with pytest.raises(TargetError, match="node controlplane of target vagrant"):
        session.run_stage(_scenario(scenario, {"controlplane": [str(work)]}), "reset.yml", target, None, print)
    assert not (state_dir / "ansible").exists(), "the playbook did not run"
