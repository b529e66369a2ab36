"""The kube-apiserver static pod manifest: flags as pflag reads them, mounts as the kubelet reads them (section 6 of
../shared/reference/kubernetes-audit-and-encryption.md), and the stages an apiserver writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from labs.audit import ManifestError, parse_manifest
from labs.audit.model import Decision, Request
from labs.audit.stages import expected_stages

KUBEADM = """\
apiVersion: v1
kind: Pod
metadata:
  name: kube-apiserver
  namespace: kube-system
spec:
  containers:
  - command:
    - kube-apiserver
    - --advertise-address=10.0.213.3
    - --allow-privileged=true
    - --authorization-mode=Node,RBAC
    - --audit-policy-file=/etc/kubernetes/audit-policy.yaml
    - --audit-log-path=/var/log/kubernetes/audit/audit.log
    - --audit-log-maxage=30
    - --audit-log-maxbackup
    - "10"
    - --profiling
    - --audit-log-maxage=12
    image: registry.k8s.io/kube-apiserver:v1.37.2
    name: kube-apiserver
    volumeMounts:
    - mountPath: /etc/kubernetes/pki
      name: k8s-certs
      readOnly: true
    - mountPath: /etc/kubernetes/audit-policy.yaml
      name: audit
      readOnly: true
    - mountPath: /var/log/kubernetes/audit/
      name: audit-log
      readOnly: false
  hostNetwork: true
  volumes:
  - hostPath: {path: /etc/kubernetes/pki, type: DirectoryOrCreate}
    name: k8s-certs
  - name: audit
    hostPath:
      path: /etc/kubernetes/audit-policy.yaml
      type: File
  - name: audit-log
    hostPath:
      path: /var/log/kubernetes/audit/
      type: DirectoryOrCreate
"""


def test_flags_are_read_as_pflag_does(tmp_path: Path) -> None:
    path = tmp_path / "kube-apiserver.yaml"
    path.write_text(KUBEADM)
    manifest = parse_manifest(path)
    assert manifest.path == str(path) and manifest.problems == [] and manifest.warnings == []
    assert manifest.flags["audit-policy-file"] == "/etc/kubernetes/audit-policy.yaml"
    assert manifest.flags["audit-log-maxbackup"] == "10"  # `--flag value` as two items
    assert manifest.flags["profiling"] == "true"  # a boolean alone does not take the next item
    assert manifest.flag("--audit-log-maxage") == "12"  # the last occurrence wins
    assert manifest.flag("audit-log-format") is None


def test_container_paths_map_to_host_paths_through_the_mounts() -> None:
    manifest = parse_manifest(KUBEADM)
    assert manifest.host_path_for("/etc/kubernetes/audit-policy.yaml") == "/etc/kubernetes/audit-policy.yaml"
    assert manifest.host_path_for("/var/log/kubernetes/audit/audit.log") == "/var/log/kubernetes/audit/audit.log"
    assert manifest.host_path_for("/var/log/elsewhere.log") is None
    assert manifest.is_writable("/var/log/kubernetes/audit/audit.log")
    assert not manifest.is_writable("/etc/kubernetes/pki/x")
    assert manifest.mount_for("/etc/kubernetes/pki/apiserver.crt").name == "k8s-certs"


def test_a_mount_under_another_host_directory_is_mapped_with_its_relative_part() -> None:
    manifest = parse_manifest(KUBEADM.replace("/var/log/kubernetes/audit/\n      type", "/srv/audit-logs\n      type"))
    assert manifest.host_path_for("/var/log/kubernetes/audit/sub/audit.log") == "/srv/audit-logs/sub/audit.log"


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (("- --audit-log-maxage=30", "- --audit-log-maxage 30"), "unknown flag: '--audit-log-maxage 30'"),
        (("      name: audit-log\n      readOnly: false", "      name: audit-logs"), "Not found: 'audit-logs'"),
        (("    - kube-apiserver\n", "    - kube-apiserver\n    - extra\n"), "does not take any arguments"),
        (("path: /etc/kubernetes/pki, type: DirectoryOrCreate", "type: Dir"), "hostPath.path: Required value"),
    ],
)
def test_what_stops_the_apiserver_is_a_problem(change: tuple[str, str], problem: str) -> None:
    assert change[0] in KUBEADM
    manifest = parse_manifest(KUBEADM.replace(*change))
    assert any(problem in text for text in manifest.problems), manifest.problems


def test_a_miscased_key_is_dropped_so_the_mount_is_writable() -> None:
    manifest = parse_manifest(
        KUBEADM.replace("readOnly: true\n    - mountPath: /var", "readonly: true\n    - mountPath: /var")
    )
    assert manifest.is_writable("/etc/kubernetes/audit-policy.yaml")
    assert any("readonly" in warning and "'readOnly'" in warning for warning in manifest.warnings)


@pytest.mark.parametrize(
    "text", ["", "kind: Deployment\n", "a: [b\n", "apiVersion: v1\nkind: Pod\nspec: {containers: []}\n"]
)
def test_what_is_not_a_pod_is_refused(text: str) -> None:
    with pytest.raises(ManifestError):
        parse_manifest(text)


def test_a_missing_manifest_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="cannot read"):
        parse_manifest(tmp_path / "nope.yaml")


METADATA = Decision("Metadata", (), 0)
NO_RECEIVED = Decision("Metadata", ("RequestReceived",), 0)
SHORT = ("RequestReceived", "ResponseComplete")
LONG = ("RequestReceived", "ResponseStarted", "ResponseComplete")


@pytest.mark.parametrize(
    ("request_", "decision", "stages"),
    [
        (Request("a", verb="get", resource="pods", name="x"), METADATA, SHORT),
        (Request("a", verb="watch", resource="pods"), METADATA, LONG),
        (Request("a", verb="get", resource="pods", subresource="log"), NO_RECEIVED, LONG[1:]),
        (Request(None, verb="get", path="/healthz"), METADATA, ("ResponseStarted",)),
        (Request("a", verb="get", path="/healthz"), Decision("None", (), None), ()),
    ],
)  # fmt: skip
def test_the_stages_written_follow_the_level_and_the_omitted_stages(request_, decision, stages) -> None:
    assert expected_stages(request_, decision) == stages
