"""Clusters a student can plausibly leave broken, made on the testbed by the proofs: the scenario's namespace deleted,
a file the grader reads turned into a directory, the kubelet stopped, the kube-apiserver manifest no longer YAML.
`lab check` on each must be a fail or an error with a message, never a traceback (`Attempt.check_broken`).

Each proof breaks its cluster one way: a deleted namespace last, before the reset that must cope with it; a
directory or a stopped kubelet on the solved attempt, mended afterwards; 08's manifest right after setup, while
kube-apiserver is down anyway. A break costs one `lab check` (and, for the kubelet, its restart). The offline
counterpart, every grader on every break of its recording, is tests/test_broken_clusters.py."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from api_lock import API, settle
from kubernetes.client.exceptions import ApiException

from labs.k8s import Kube
from labs.testbed import cluster

NAMESPACE_DELETION_TIMEOUT = 90


@contextmanager
def made_a_directory(path: Path) -> Iterator[Path]:
    """The file at `path` replaced by an empty directory of that name (what `mkdir -p` on a file's path, or a copy
    into a folder the student meant to create, leaves); the file is put back afterwards."""
    aside = path.with_name(f".{path.name}.cks-lab-aside")
    path.rename(aside)
    path.mkdir()
    try:
        yield path
    finally:
        path.rmdir()
        aside.rename(path)


@contextmanager
def kubelet_stopped() -> Iterator[None]:
    """The kubelet stopped (`systemctl stop kubelet`) and started again afterwards; no other lane uses the cluster
    meanwhile (the API lock is owned, as for a restart of kube-apiserver)."""
    API.own()
    cluster.stop_kubelet()
    try:
        yield
    finally:
        cluster.start_kubelet()
        settle()


def delete_namespace(kube: Kube, name: str) -> None:
    """`kubectl delete namespace NAME`, returning once it is gone. Its pods go first without their grace period: a
    student would wait for them, the proof need not. The scenario's reset must cope with what is left."""
    core = kube.core
    core.delete_collection_namespaced_pod(name, grace_period_seconds=0)
    core.delete_namespace(name)
    deadline = time.monotonic() + NAMESPACE_DELETION_TIMEOUT
    while time.monotonic() < deadline:
        try:
            core.read_namespace(name)
        except ApiException as error:
            if error.status == 404:
                return
            raise
        time.sleep(0.5)
    raise AssertionError(f"namespace {name} was still there {NAMESPACE_DELETION_TIMEOUT} s after its deletion")


def check_without_namespace(lab: Any, namespace: str) -> dict:
    """`lab check` (`Attempt.check_broken`) once `namespace` is deleted, then `lab reset --clean`, which must cope
    with what is left; the check's report."""
    delete_namespace(lab.kube, namespace)
    report = lab.check_broken()
    cleaned = lab.run("reset", "--clean")
    assert cleaned.returncode == 0, cleaned.stdout + cleaned.stderr
    return report
