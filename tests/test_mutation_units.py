"""Unit tests of mutation testing's parts: the operators (tests/mutation_operators.py) and the recording a grader
is replayed from (labs.graderlib.recording)."""

from __future__ import annotations

import hashlib
import json

import pytest
from grading_harmless import writes
from mutation_operators import condition_changes, object_changes, output_changes, priority_changes, text_changes

from labs.graderlib.recording import Recording, replay_host, replay_kube
from labs.grading.plugin import NotGradable

POD = {
    "metadata": {"name": "web", "namespace": "team", "uid": "u-1"},
    "spec": {
        "containers": [
            {
                "name": "nginx",
                "image": "nginx:1.27",
                "securityContext": {"readOnlyRootFilesystem": True},
                "volumeMounts": [
                    {"name": "cache", "mountPath": "/var/cache/nginx"},
                    {"name": "kube-api-access-x1", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"},
                ],
            }
        ],
        "volumes": [{"name": "cache", "emptyDir": {}}],
    },
}


def test_a_condition_loses_each_operand_of_its_top_level_chain_and_swaps_and_or():
    changes = dict(condition_changes('spawned_process and (a or b) and proc.name = "x and y"'))
    assert changes == {
        "drop 'spawned_process'": '(a or b) and proc.name = "x and y"',
        "drop '(a or b)'": 'spawned_process and proc.name = "x and y"',
        "drop 'proc.name = \"x and y\"'": "spawned_process and (a or b)",
        "and -> or": 'spawned_process or (a or b) or proc.name = "x and y"',
        "negated": 'not (spawned_process and (a or b) and proc.name = "x and y")',
    }


def test_a_condition_in_parentheses_is_unwrapped_and_a_single_one_only_negated():
    assert dict(condition_changes("(container.id != host)")) == {"negated": "not (container.id != host)"}
    assert "drop 'b'" in dict(condition_changes("((a) or b)"))


def test_an_output_loses_each_field_and_a_priority_moves_one_step_in_its_case():
    assert [change for change, _ in output_changes("user=%user.name args=%proc.aname[2]")] == [
        "drop %user.name",
        "drop %proc.aname[2]",
    ]
    assert dict(priority_changes("CRITICAL")) == {"one step more severe": "ALERT", "one step less severe": "ERROR"}
    assert dict(priority_changes("emergency")) == {"one step less severe": "alert"}


def test_an_answer_loses_and_misspells_each_word():
    changes = dict(text_changes("/opt/answer.txt", "shop,api-7d\n"))
    assert changes == {
        "answer.txt: emptied": "",
        "answer.txt: line 1: 'shop' dropped": "api-7d\n",
        "answer.txt: line 1: 'shop' typo": "shopx,api-7d\n",
        "answer.txt: line 1: 'api-7d' dropped": "shop\n",
        "answer.txt: line 1: 'api-7d' typo": "shop,api-7dx\n",
    }


def test_an_object_changes_only_within_the_parts_named_never_the_token_mount_and_stays_valid():
    changes = dict(object_changes(POD, ["spec.containers.*.volumeMounts"], "Pod", "v1"))
    assert "Pod team/web:/spec/containers/0/volumeMounts/0: dropped" in changes
    assert "Pod team/web:/spec/containers/0/volumeMounts/0/mountPath: typo" in changes
    assert not [c for c in changes if "/volumeMounts/1" in c or "securityContext" in c], changes
    assert "Pod team/web:/spec/containers/0/volumeMounts/0/name: dropped" not in changes, "a mount needs a name"
    changed = json.loads(changes["Pod team/web:/spec/containers/0/volumeMounts/0: dropped"])
    assert [m["name"] for m in changed["spec"]["containers"][0]["volumeMounts"]] == ["kube-api-access-x1"]


def _recording() -> Recording:
    answers = {
        "uname -s": (0, "Linux\n"),
        "uname -m": (0, "x86_64\n"),
        "cat /etc/os-release": (0, 'ID=debian\nVERSION_ID="12"\n'),
        "cat -- /etc/policy.yaml": (0, "old\n"),
        "test -f /etc/policy.yaml": (0, ""),
        "stat -c %s /etc/policy.yaml": (0, "4\n"),
    }
    nodes = {"controlplane": {c: {"rc": rc, "stdout": out, "stderr": ""} for c, (rc, out) in answers.items()}}
    pod_list = {"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": [POD]}
    api = {
        "GET /api/v1/namespaces/team/pods/web": {"status": 200, "body": {"kind": "Pod", "apiVersion": "v1", **POD}},
        "GET /api/v1/namespaces/team/pods": {"status": 200, "body": pod_list},
    }
    return Recording(api=api, nodes=nodes)


def test_a_file_changed_in_a_recording_is_read_with_its_new_content_and_every_other_answer_about_it_forgotten():
    changed = _recording().with_file("controlplane", "/etc/policy.yaml", "new\n")
    file = replay_host("controlplane", changed.nodes["controlplane"]).file("/etc/policy.yaml")
    assert (file.is_file, file.is_directory, file.content_string) == (True, False, "new\n")
    assert file.sha256sum == hashlib.sha256(b"new\n").hexdigest()
    assert "stat -c %s /etc/policy.yaml" not in changed.nodes["controlplane"]
    assert changed.file_text("controlplane", "/etc/policy.yaml") == "new\n"


def test_an_object_changed_or_deleted_in_a_recording_is_so_in_every_response():
    edited = json.loads(json.dumps(POD))
    edited["spec"]["containers"][0]["image"] = "nginx:1.28"
    kube = replay_kube(_recording().with_object(edited))
    assert kube.core.read_namespaced_pod("web", "team").spec.containers[0].image == "nginx:1.28"
    assert kube.core.list_namespaced_pod("team").items[0].spec.containers[0].image == "nginx:1.28"
    gone = replay_kube(_recording().without_object("u-1"))
    assert gone.get(gone.core.read_namespaced_pod, "web", "team") is None
    assert gone.core.list_namespaced_pod("team").items == []


def test_what_was_not_recorded_is_not_gradable_offline_never_a_guess():
    kube = replay_kube(_recording())
    with pytest.raises(NotGradable, match="the API server was not asked GET /api/v1/namespaces/team/secrets"):
        kube.core.list_namespaced_secret("team")
    host = replay_host("controlplane", _recording().nodes["controlplane"])
    with pytest.raises(NotGradable, match="node controlplane was not asked `pgrep kube-apiserver`"):
        host.run("pgrep kube-apiserver")


def test_a_grading_may_read_dry_run_and_review_but_nothing_else():
    answered = {"status": 200, "body": {}}
    recording = Recording(
        api={
            "GET /api/v1/namespaces/team/pods": answered,
            "POST /api/v1/namespaces/team/secrets?dryRun=All body:1f2e": answered,
            "POST /apis/authorization.k8s.io/v1/subjectaccessreviews body:9a8b": answered,
            "DELETE /api/v1/namespaces/team/pods/web": answered,
        }
    )
    assert writes(recording) == ["DELETE /api/v1/namespaces/team/pods/web"]
