"""The last log line of a crashed container (labs.k8s.last_log_line), which criteria quote: what the kubelet sends
in place of a log it cannot read yet is never quoted as the container's own words; the lookup asks again."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from labs import k8s

POD = SimpleNamespace(metadata=SimpleNamespace(name="catalog-1", namespace="store"))
ROTATED = (
    'failed to try resolving symlinks in path "/var/log/pods/store_catalog-1_b6/app/0.log": lstat '
    "/var/log/pods/store_catalog-1_b6/app/0.log: no such file or directory"
)
CRASH = 'nginx: [emerg] mkdir() "/var/cache/nginx/client_temp" failed (30: Read-only file system)'


def kube_answering(*texts: str) -> SimpleNamespace:
    answers = iter(texts)
    return SimpleNamespace(core=SimpleNamespace(read_namespaced_pod_log=lambda *args, **kwargs: next(answers)))


@pytest.mark.parametrize("kubelet_says", [ROTATED, "unable to retrieve container logs for containerd://4f2"])
def test_the_kubelets_own_answer_is_not_the_log_and_the_lookup_asks_again(monkeypatch, kubelet_says):
    monkeypatch.setattr(k8s.time, "sleep", lambda seconds: None)
    kube = kube_answering(kubelet_says, f"starting\n{CRASH}\n")
    assert k8s.last_log_line(kube, POD, "app", previous=True) == CRASH


def test_a_log_that_never_comes_is_no_line(monkeypatch):
    monkeypatch.setattr(k8s.time, "sleep", lambda seconds: None)
    assert k8s.last_log_line(kube_answering(*[ROTATED] * 4), POD, "app", previous=True) == ""
