"""The testbed lane of mutation testing (tests/mutation.py): the mutants whose effect only behaviour shows, applied
for real to a solved attempt on the testbed and graded there.

- a node file is written (and kube-apiserver restarted when the file is its configuration, e.g. an audit policy);
- a pod is deleted and created again as the mutant (a pod's containers cannot change in place), any other object
  replaced; a deletion mutant deletes it (deletions run last: a re-created object has a new uid);
- a mutant the API server refuses (422) is one no student can make: it is set aside, not counted;
- afterwards every file and object is back as the solution left it.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from api_lock import API
from apiserver_scenario import MANIFEST, RESTART_TIMEOUT, replace_manifest
from lab_attempt import Attempt
from mutation import ApiObject, Mutant, NodeFile, Score, vm_only_criteria

from labs.graderlib.apiserver import wait_for_apiserver

VOLATILE_METADATA = ("uid", "resourceVersion", "creationTimestamp", "managedFields", "generation", "selfLink")
GONE_TIMEOUT = 60


def _creatable(text: str) -> dict[str, Any]:
    """The object as a create or replace request: without its status and what the API server sets."""
    obj = json.loads(text)
    obj.pop("status", None)
    for key in VOLATILE_METADATA:
        obj["metadata"].pop(key, None)
    annotations = obj["metadata"].get("annotations") or {}
    annotations.pop("deployment.kubernetes.io/revision", None)
    return obj


class LiveLane:
    """Applies mutants to a solved attempt and puts everything back."""

    def __init__(self, lab: Attempt) -> None:
        self.lab = lab
        self.kube = lab.kube
        self.files: dict[NodeFile, str] = {}  # as the solution left them
        self.objects: dict[str, ApiObject] = {}  # uid -> as recorded

    def _restart_apiserver(self) -> None:
        API.own()
        replace_manifest(MANIFEST.read_text())
        wait_for_apiserver(self.lab.target.host("controlplane"), self.kube, timeout=RESTART_TIMEOUT)

    def _write(self, file: NodeFile, text: str) -> None:
        assert self.lab.target.is_local(file.node), f"node {file.node} is not this machine"
        path = Path(file.path)
        self.files.setdefault(file, path.read_text())
        path.write_text(text)
        if file.restart == "kube-apiserver":
            self._restart_apiserver()
        else:
            assert file.restart is None, f"restarting {file.restart} is not supported"

    def _api(self, kind: str) -> tuple[Any, Any, Any, Any]:
        """(read, create, replace, delete) of a kind."""
        core, apps = self.kube.core, self.kube.apps
        return {
            "Pod": (core.read_namespaced_pod, core.create_namespaced_pod, None, core.delete_namespaced_pod),
            "Deployment": (
                apps.read_namespaced_deployment, apps.create_namespaced_deployment,
                apps.replace_namespaced_deployment, apps.delete_namespaced_deployment,
            ),
        }[kind]  # fmt: skip

    def _delete(self, target: ApiObject) -> None:
        read, _, _, delete = self._api(target.kind)
        if self.kube.get(read, target.name, target.namespace) is None:
            return
        delete(target.name, target.namespace, grace_period_seconds=0, propagation_policy="Foreground")
        deadline = time.monotonic() + GONE_TIMEOUT
        while self.kube.get(read, target.name, target.namespace) is not None and time.monotonic() < deadline:
            time.sleep(0.25)

    def _put(self, target: ApiObject, text: str) -> None:
        """The object as `text`: replaced where the kind allows it, else deleted and created."""
        from kubernetes.client.exceptions import ApiException

        read, create, replace, _ = self._api(target.kind)
        body = _creatable(text)
        if replace is not None and self.kube.get(read, target.name, target.namespace) is not None:
            try:
                replace(target.name, target.namespace, body)
                return
            except ApiException as error:
                if error.status != 409:
                    raise
        self._delete(target)
        create(target.namespace, body)

    def apply(self, mutant: Mutant) -> None:
        """The mutant on the cluster; an ApiException 422 when the API server refuses it."""
        target = mutant.target
        if isinstance(target, NodeFile):
            self._write(target, mutant.text or "")
            return
        self.objects.setdefault(target.uid, target)
        if mutant.text is None:
            self._delete(target)
        else:
            self._put(target, mutant.text)

    def restore(self) -> None:
        """Every file and object as the solution left it."""
        for file, text in self.files.items():
            Path(file.path).write_text(text)
            if file.restart == "kube-apiserver":
                self._restart_apiserver()
        for target in self.objects.values():
            self._put(target, target.original)
        self.files.clear()
        self.objects.clear()

    def judge(self, score: Score) -> None:
        """Grade every mutant the score left to the testbed (deletions last) and file the result."""
        from kubernetes.client.exceptions import ApiException

        vm_only = vm_only_criteria(self.lab.scenario)
        for mutant in sorted(score.left.values(), key=lambda m: m.text is None):
            del score.left[mutant.id]
            try:
                self.apply(mutant)
            except ApiException as error:
                if error.status != 422:
                    raise
                score.refused[mutant.id] = json.loads(error.body or "{}").get("message", "")[:200]
                continue
            score.add(mutant, self.lab.grade(), None, vm_only)
        self.restore()
