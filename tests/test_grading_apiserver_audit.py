"""Unit tests of the kube-apiserver and audit grading helpers (no cluster: a fake testinfra host)."""

from __future__ import annotations

from dataclasses import dataclass

from labs.audit import load_policy_text, parse_manifest
from labs.audit.model import Request
from labs.graderlib.apiserver import (
    ApiserverStatus,
    last_apiserver_log_errors,
    running_apiserver_flags,
    wrong_running_flags,
)
from labs.graderlib.audit import LevelCase, level_mismatches, policy_levels_problem, policy_on_node

MANIFEST = """\
apiVersion: v1
kind: Pod
metadata: {name: kube-apiserver, namespace: kube-system}
spec:
  containers:
  - name: kube-apiserver
    command: [kube-apiserver, --audit-policy-file=/etc/kubernetes/audit/p.yaml, --audit-log-path=/var/log/a/a.log]
    volumeMounts:
    - {name: policy, mountPath: /etc/kubernetes/audit, readOnly: true}
  volumes:
  - {name: policy, hostPath: {path: /srv/audit, type: Directory}}
"""


@dataclass
class Result:
    stdout: str = ""
    rc: int = 0


@dataclass
class File:
    content_string: str | None
    is_directory: bool = False

    @property
    def exists(self) -> bool:
        return self.content_string is not None

    is_file = exists


class FakeHost:
    def __init__(self, outputs: dict[str, str], files: dict[str, str], directories: tuple[str, ...] = ()) -> None:
        self.outputs, self.files, self.directories = outputs, files, directories

    def run(self, command: str) -> Result:
        for key, output in self.outputs.items():
            if key in command:
                return Result(output)
        return Result("", 1)

    def file(self, path: str) -> File:
        return File(self.files.get(path), path in self.directories)


def test_running_flags_are_read_from_the_process_command_line():
    host = FakeHost({"cmdline": "kube-apiserver\n--audit-log-path\n/var/log/a.log\n--secure-port=6443\n"}, {})
    assert running_apiserver_flags(host) == {"audit-log-path": "/var/log/a.log", "secure-port": "6443"}
    assert running_apiserver_flags(FakeHost({}, {})) is None


def test_the_error_lines_of_the_last_container_log_are_found():
    log = (
        "2026-11-29T04:00:00Z stderr F I1129 04:00:00.1 1 server.go:1] starting\n"
        '2026-11-29T04:00:01Z stderr F E1129 04:00:01.1 1 run.go:72] "command failed" err="loading audit policy '
        'file: rules[0].level: Unsupported value: \\"Metdata\\""\n'
    )
    errors = last_apiserver_log_errors(FakeHost({"tail": log}, {}))
    assert len(errors) == 1 and "Unsupported value" in errors[0] and errors[0].startswith("E1129")


def test_a_status_explains_why_the_apiserver_is_not_healthy():
    manifest = parse_manifest(MANIFEST)
    status = ApiserverStatus(False, None, manifest, "no answer from https://x:6443: refused", log_errors=["E1 boom"])
    assert not status.healthy
    described = status.describe()
    assert "no kube-apiserver process runs" in described and "E1 boom" in described and "refused" in described
    running = ApiserverStatus(True, dict(manifest.flags), manifest, "/readyz: HTTP 200 ok")
    assert running.healthy
    stale = ApiserverStatus(True, {"audit-log-path": "/old.log"}, manifest, "ok")
    assert "manifest flags not running: --audit-policy-file=/etc/kubernetes/audit/p.yaml" in stale.describe()


def test_the_policy_is_read_through_the_manifests_host_path():
    manifest = parse_manifest(MANIFEST)
    policy = "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Metadata\n"
    path, result = policy_on_node(FakeHost({}, {"/srv/audit/p.yaml": policy}), manifest, "/etc/kubernetes/audit/p.yaml")
    assert path == "/srv/audit/p.yaml" and not result.refused
    path, result = policy_on_node(FakeHost({}, {}), manifest, "/etc/kubernetes/audit/p.yaml")
    assert result.refused and "no such file or directory" in result.apiserver_error
    _, directory = policy_on_node(FakeHost({}, {}, ("/srv/audit/p.yaml",)), manifest, "/etc/kubernetes/audit/p.yaml")
    assert directory.apiserver_error == (  # Go's os.ReadFile on a directory, wrapped by LoadPolicyFromFile
        'loading audit policy file: failed to read file path "/etc/kubernetes/audit/p.yaml": '
        "read /etc/kubernetes/audit/p.yaml: is a directory"
    )
    assert directory.notes == ["/srv/audit/p.yaml is a directory on the node, not a file"]
    _, unmounted = policy_on_node(FakeHost({}, {}), manifest, "/etc/other/p.yaml")
    assert unmounted.refused and "no hostPath volume" in unmounted.notes[0]


def test_level_mismatches_name_the_request_the_rule_and_the_dropped_fields():
    result = load_policy_text(
        "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: None\n  namespace: [prod]\n  verbs: [delete]\n"
        "- level: Metadata\n"
    )
    prod = Request("alice", (), "delete", "", "pods", namespace="prod", name="web")
    dev = Request("alice", (), "delete", "", "pods", namespace="dev", name="web")
    cases = [LevelCase(prod, "None"), LevelCase(dev, "Metadata")]
    assert level_mismatches(result.policy, cases) == [
        "'alice' delete pods 'web' in namespace 'dev': None (rule 1), expected Metadata"
    ]
    problem = policy_levels_problem(result, cases)
    assert 'unknown field "rules[0].namespace"' in problem and "did you mean 'namespaces'?" in problem


def test_wrong_running_flags_name_each_difference():
    running = {"audit-log-path": "/var/log/a.log", "audit-log-maxage": "7"}
    expected = {"audit-log-path": "/var/log/b.log", "audit-policy-file": "/p.yaml", "audit-log-maxage": "7"}
    assert wrong_running_flags(running, expected) == (
        "the running kube-apiserver has --audit-log-path=/var/log/a.log (expected /var/log/b.log),"
        " no --audit-policy-file"
    )
    assert wrong_running_flags(running, {"audit-log-maxage": "7"}) == ""
