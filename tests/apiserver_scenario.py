"""Test harness for scenarios that edit the kube-apiserver manifest (06-08, later encryption at rest): the lab
command against the testbed with its own state directory, in-process grading, restarts of kube-apiserver, and the
guarantee that the manifest the test found is back (and the apiserver healthy) when the module ends, even on failure.
Whatever may restart kube-apiserver or leave it down owns the API (tests/api_lock.py) until it is healthy again, so
the other proof lane never meets one of these restarts.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml
from api_lock import API, settle
from lab_attempt import Attempt, started

from labs.graderlib.apiserver import APISERVER_MANIFEST, ApiserverStatus, wait_for_apiserver
from labs.targets import Target, resolve
from labs.testbed import cluster

MANIFEST = Path(APISERVER_MANIFEST)
RESTART_TIMEOUT = 240
STAGES_THAT_EDIT_THE_MANIFEST = ("start", "solution", "reset")


def _running_apiserver_pid() -> int | None:
    found = subprocess.run(["pgrep", "-n", "-x", "kube-apiserver"], capture_output=True, text=True, check=False)
    return int(found.stdout) if found.returncode == 0 else None


def _down_after_the_edit(before: int | None) -> Callable[[ApiserverStatus], bool]:
    """Not serving, and the process from before the edit is gone (an edit of the mounts alone leaves the flags as
    they were, so the flags cannot tell the old process from the new one)."""
    return lambda status: not status.ready and (before is None or not Path(f"/proc/{before}").exists())


SWAP = Path(__file__).parents[1] / "playbooks/files/swap_static_pods.sh"


def replace_manifests(texts: dict[str, str]) -> None:
    """Write the static pod manifests `texts` (control-plane component -> text) the way
    playbooks/tasks/static_pod_replace.yml does, with the same script: staged beside the kubelet's directory, the old
    manifests out, and the new ones renamed in once the kubelet has forgotten the old pods (sooner, it would start
    the new pods only 10-15 s later)."""
    for component, text in texts.items():
        (MANIFEST.parent.parent / f"{component}.next.yaml").write_text(text)
    manifests = [str(MANIFEST.with_name(f"{component}.yaml")) for component in texts]
    subprocess.run(["bash", str(SWAP), str(cluster.KUBELET_DIR), *manifests], check=True, timeout=120)


def replace_manifest(text: str, component: str = "kube-apiserver") -> None:
    """Write the static pod manifest `text` of one control-plane component (replace_manifests)."""
    replace_manifests({component: text})


RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"


def _without_restart_stamp(text: str) -> object:
    manifest = yaml.safe_load(text)
    if isinstance(manifest, dict) and isinstance(manifest.get("metadata"), dict):
        (manifest["metadata"].get("annotations") or {}).pop(RESTARTED_AT, None)
    return manifest


def same_manifest(one: str, other: str) -> bool:
    """The same pod (the kubelet compares the parsed pod, not the text), but for the restartedAt annotation that
    playbooks/tasks/static_pod_flags.yml stamps on every change it makes (to leave no crash-loop back-off behind): a
    reset that took its flags out again leaves the manifest as it found it, and restarts nothing more."""
    try:
        return _without_restart_stamp(one) == _without_restart_stamp(other)
    except yaml.YAMLError:
        return one == other


def restore_manifest(target: Target, text: str) -> None:
    """Write the manifest `text` (when it describes another pod) and wait until kube-apiserver runs it and is ready."""
    if not same_manifest(MANIFEST.read_text(), text):
        API.own()
        replace_manifest(text)
    status = wait_for_apiserver(target.host("controlplane"), target.kube, timeout=RESTART_TIMEOUT)
    assert status.healthy, f"kube-apiserver did not come back: {status.describe()}"
    settle()


class ApiserverScenario(Attempt):
    """One started attempt of a scenario that edits the kube-apiserver manifest. The test owns the apiserver: a
    down apiserver is what gets judged, so nothing waits for it to answer before checking or grading."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.original_manifest = MANIFEST.read_text()
        self.solved_manifest: str | None = None

    @classmethod
    @contextmanager
    def started(cls, number: str, seed: int, state_directory: Path) -> Iterator[ApiserverScenario]:
        """`lab start NUMBER --seed SEED`; afterwards `lab reset --clean` and the original manifest restored, even
        when the start failed."""
        original = MANIFEST.read_text()
        try:
            with started(number, seed, state_directory, cls) as lab:
                yield lab
        finally:
            restore_manifest(resolve("testbed"), original)

    def run(self, *args: str, timeout: float = 600):
        """`lab ARGS`; a stage that may restart kube-apiserver (start, solution, reset) owns the API meanwhile."""
        if not set(args) & set(STAGES_THAT_EDIT_THE_MANIFEST):
            return super().run(*args, timeout=timeout)
        API.own()
        try:
            return super().run(*args, timeout=timeout)
        finally:
            settle()

    @property
    def host(self):
        return self.target.host("controlplane")

    def apiserver(self, **wait) -> ApiserverStatus:
        """kube-apiserver once it runs the manifest's flags and is ready (or the wait's own condition)."""
        return wait_for_apiserver(self.host, self.target.kube, **{"timeout": RESTART_TIMEOUT, **wait})

    def solve(self) -> None:
        """The reference solution applied; the manifest it leaves is the one near-misses start from."""
        super().solve()
        self.solved_manifest = MANIFEST.read_text()

    def require_solved(self) -> None:
        """Near-misses start from the solved state: put the solved manifest back if a test left another."""
        assert self.solved_manifest is not None, "needs test_the_reference_solution_passes first"
        self.restore(self.solved_manifest)

    def restore(self, text: str) -> None:
        restore_manifest(self.target, text)

    def restart_apiserver(self, edit: Callable[[dict], None], expect_down: bool = False) -> None:
        """The solved manifest changed by `edit`; waits for the restart (or, expect_down, for it to stop serving).
        Files the apiserver reads at startup are as the test left them: call require_solved() before changing them."""
        assert self.solved_manifest is not None, "needs test_the_reference_solution_passes first"
        manifest = yaml.safe_load(self.solved_manifest)
        edit(manifest)
        self.restart_with(yaml.safe_dump(manifest), expect_down)

    def restart_with(self, text: str, expect_down: bool = False) -> None:
        """The manifest `text` written; waits for the restart (or, expect_down, for it to stop serving)."""
        API.own()
        before = _running_apiserver_pid()
        replace_manifest(text)
        if expect_down:
            status = self.apiserver(until=_down_after_the_edit(before))
            assert not status.ready, "kube-apiserver kept serving"
        else:
            status = self.apiserver()
            assert status.healthy, f"kube-apiserver did not restart: {status.describe()}"
        settle()
