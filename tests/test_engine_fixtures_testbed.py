"""The graders' fixtures on the testbed: kube, node("controlplane") through the inventory, and an exec probe that
tells a command that never ran (no shell in the container) from one that ran and failed."""

import textwrap

import pytest

from labs.grading.context import GradingContext
from labs.grading.plugin import grade
from labs.targets import resolve

pytestmark = pytest.mark.testbed

GRADER = '''
def test_kube_lists_the_node(kube):
    """The API answers"""
    assert [n.metadata.name for n in kube.core.list_node().items] == ["controlplane"]

def test_node_reads_a_file_on_the_controlplane(node):
    """controlplane has the admin kubeconfig"""
    assert node("controlplane").file("/etc/kubernetes/admin.conf").exists

def test_a_node_outside_the_inventory_cannot_be_graded(node):
    """node01 is not part of the testbed"""
    node("node01")

def test_exec_without_a_shell_did_not_run(kube, exec_probe):
    """A probe in a container without /bin/sh reports that it never ran"""
    etcd = kube.core.list_namespaced_pod("kube-system", label_selector="component=etcd").items[0]
    result = exec_probe.run("kube-system", etcd.metadata.name, "etcd", "touch /x")
    assert not result.ran and result.exit_code is None, result
    write = exec_probe.write("kube-system", etcd.metadata.name, "etcd", "/")
    assert not write.ran and not write.read_only and "did not run" in write.describe()
'''


def test_fixtures_on_the_testbed(tmp_path, monkeypatch):
    monkeypatch.setenv("CKS_LAB_STATE", str(tmp_path / "state"))
    (tmp_path / "conftest.py").write_text("from labs.graderlib.fixtures import *  # noqa: F403\n")
    grader = tmp_path / "test_95_fixtures.py"
    grader.write_text(textwrap.dedent(GRADER))
    report = grade(grader, GradingContext("95-fixtures", 1, {}, resolve("testbed")))
    statuses = {c.id: (c.status, c.message) for c in report.checks}
    assert statuses.pop("test_a_node_outside_the_inventory_cannot_be_graded") == (
        "error",
        "the target testbed has no node 'node01' in its inventory",
    )
    assert all(status == "pass" for status, _ in statuses.values()), statuses
    assert report.verdict == "error"
