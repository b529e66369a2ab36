"""Mutation testing of graders (`make test-mutants`, docs/writing-a-scenario.md#mutants).

A scenario's `mutants.yaml` names what its reference solution leaves behind: node files and API objects. Each one is
changed mechanically (tests/mutation_operators.py), one change per mutant. A mutant is killed when a criterion
fails; a survivor is a grader bug unless `mutants.yaml` declares it equivalent (the task text does not care), with
the reason.

- Offline (in `make test`): every mutant is graded on the scenario's recording (tests/data/recordings, made by its
  proof on the testbed: labs.graderlib.recording), changed the way the mutant changes the cluster. A criterion that
  needs behaviour (an exec, a probe request) is not gradable offline: a mutant that survives only because of that
  is left to the testbed.
- On the testbed (`make test-mutants`): the mutants left to it are applied to a solved attempt for real (a file
  written, kube-apiserver restarted where the file is its configuration, an object replaced or deleted) and graded.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any
from unittest import mock

import yaml
from grading_harmless import writes
from mutation_operators import file_changes, object_changes, object_name

from labs.catalog import REPO_ROOT, Scenario
from labs.graderlib.recording import Recorder, Recording, Replay, replay_kube
from labs.grading.context import GradingContext
from labs.grading.plugin import grade
from labs.grading.report import Report
from labs.state import TargetRef
from labs.targets import Target

RECORDINGS = REPO_ROOT / "tests" / "data" / "recordings"
MUTANTS_FILE = "mutants.yaml"


@dataclass(frozen=True)
class NodeFile:
    """A file the solution wrote; `restart`: the component that reads it at start (e.g. kube-apiserver)."""

    node: str
    path: str
    restart: str | None = None


@dataclass(frozen=True)
class ApiObject:
    """An object the solution made or left (read with `request`)."""

    kind: str
    api_version: str
    namespace: str
    name: str
    uid: str
    original: str  # as recorded, JSON


@dataclass(frozen=True)
class Mutant:
    """One change: `id` says where and what; `text` is the new content of the file or object (None: the object is
    deleted); `offline`: whether a recording can show its effect."""

    id: str
    target: NodeFile | ApiObject
    text: str | None
    offline: bool = True

    def on(self, recording: Recording) -> Recording:
        """The recording as the cluster would answer with this mutant applied."""
        if isinstance(self.target, NodeFile):
            return recording.with_file(self.target.node, self.target.path, self.text or "")
        if self.text is None:
            return recording.without_object(self.target.uid)
        return recording.with_object(json.loads(self.text))


@dataclass(frozen=True)
class MutantSpec:
    """A scenario's mutants.yaml, rendered with the attempt's parameters: `files` (node -> paths, or path ->
    {restart}), `objects` (request, optional list item `name`, the parts `within` to change, `delete` for mutants
    that delete it, `offline: false` when only the testbed shows their effect) and `equivalent` (id pattern -> why
    the task does not care)."""

    files: list[NodeFile] = field(default_factory=list)
    objects: list[dict[str, Any]] = field(default_factory=list)
    equivalent: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, scenario: Scenario, params: dict) -> MutantSpec:
        data = yaml.safe_load(scenario.render((scenario.directory / MUTANTS_FILE).read_text(), params)) or {}
        files = [
            NodeFile(node, path, (options or {}).get("restart"))
            for node, paths in (data.get("files") or {}).items()
            for path, options in (paths.items() if isinstance(paths, dict) else ((p, None) for p in paths))
        ]
        return cls(files, list(data.get("objects") or []), dict(data.get("equivalent") or {}))

    def why_equivalent(self, mutant_id: str) -> str | None:
        return next((why for pattern, why in self.equivalent.items() if fnmatchcase(mutant_id, pattern)), None)

    def mutants(self, recording: Recording) -> Iterator[Mutant]:
        """Every mutant of the solution's files and objects as the recording has them."""
        for file in self.files:
            text = recording.file_text(file.node, file.path)
            assert text is not None, f"{file.node}:{file.path} was not read when the scenario was recorded"
            for where, new in file_changes(file.path, text):
                yield Mutant(where, file, new)
        for wanted in self.objects:
            answer = recording.api.get(wanted["request"])
            assert answer is not None and answer["status"] == 200, f"{wanted['request']} was not recorded"
            body = answer["body"]
            kind, api_version = body["kind"].removesuffix("List"), body["apiVersion"]
            items = body["items"] if body["kind"].endswith("List") else [body]
            for item in items:
                if wanted.get("name", item["metadata"]["name"]) != item["metadata"]["name"]:
                    continue
                obj = {"kind": kind, "apiVersion": api_version, **item}  # a list's items lack them
                meta = obj["metadata"]
                target = ApiObject(kind, api_version, meta["namespace"], meta["name"], meta["uid"], json.dumps(obj))
                offline = wanted.get("offline", True)
                if wanted.get("delete"):
                    yield Mutant(f"{object_name(obj, kind)}: deleted", target, None, offline)
                for where, new in object_changes(obj, wanted.get("within") or [], kind, api_version):
                    yield Mutant(where, target, new, offline)


def has_mutants(scenario: Scenario) -> bool:
    return (scenario.directory / MUTANTS_FILE).exists()


def recording_path(scenario: Scenario) -> Path:
    return RECORDINGS / f"{scenario.id}.json"


@dataclass(frozen=True)
class RecordedAttempt:
    """A recording with the attempt it was made on (seed and parameters)."""

    seed: int
    params: dict
    recording: Recording

    def as_json(self, shared: dict[str, str]) -> dict:
        """The JSON committed: an output that is one of `shared` (name -> text: upstream files, never copied into
        the repository) is kept as its name."""
        data = self.recording.as_json()
        names = {text: name for name, text in shared.items()}

        def named(answer: dict) -> dict:
            out = answer["stdout"]
            return {**answer, "stdout": {"shared": names[out]}} if out in names else answer

        nodes = {node: {c: named(a) for c, a in commands.items()} for node, commands in data["nodes"].items()}
        return {"seed": self.seed, "params": self.params, **data, "nodes": nodes}

    @classmethod
    def from_json(cls, data: dict, shared: dict[str, str]) -> RecordedAttempt:
        def resolved(answer: dict) -> dict:
            out = answer["stdout"]
            return {**answer, "stdout": shared[out["shared"]]} if isinstance(out, dict) else answer

        nodes = {node: {c: resolved(a) for c, a in commands.items()} for node, commands in data["nodes"].items()}
        return cls(data["seed"], data["params"], Recording.from_json({**data, "nodes": nodes}))


def shared_texts(shared_dir: Path) -> dict[str, str]:
    """The upstream files a recording may name: path below ../shared -> text."""
    return {
        str(path.relative_to(shared_dir)): path.read_text()
        for path in sorted((shared_dir / "data" / "falco").glob("*.yaml"))
    }


def load_recording(scenario: Scenario, shared_dir: Path) -> RecordedAttempt:
    path = recording_path(scenario)
    assert path.exists(), (
        f"no recording {path}: make it with CKS_LAB_RECORD=1 pytest tests/test_scenario_{scenario.id[:2]}_*.py "
        '-k "solution or recording"'
    )
    data = json.loads(path.read_text())
    return RecordedAttempt.from_json(data, shared_texts(shared_dir))


def record(scenario: Scenario, seed: int, params: dict, target: Target) -> tuple[RecordedAttempt, Report]:
    """The grader run on the cluster, and everything it was answered."""
    recorder = Recorder(target.kube)
    report = grade(scenario.grader, GradingContext(scenario.id, seed, params, target), overrides=[recorder])
    return RecordedAttempt(seed, params, recorder.recording()), report


def grade_offline(scenario: Scenario, attempt: RecordedAttempt, recording: Recording | None = None) -> Report:
    """The grader on a recording (the attempt's own unless another is given), without a cluster."""
    recording = recording or attempt.recording
    kube = replay_kube(recording)
    target = Target(TargetRef(kind="offline"), Path(os.devnull), {}, capabilities=frozenset())
    target.__dict__["kube"] = kube  # the cached property, filled: labs' fixtures reach the API through it
    context = GradingContext(scenario.id, attempt.seed, attempt.params, target)
    with _instant_waits():
        return grade(scenario.grader, context, overrides=[Replay(recording, kube)])


@contextmanager
def _instant_waits() -> Iterator[None]:
    """A recording never changes while a grader waits for the cluster to settle: time.sleep returns at once and
    moves time.monotonic on by as much, so that every deadline passes at the first wait that would reach it."""
    skipped = 0.0
    monotonic = time.monotonic

    def sleep(seconds: float) -> None:
        nonlocal skipped
        skipped += max(seconds, 0)

    with mock.patch("time.sleep", sleep), mock.patch("time.monotonic", lambda: monotonic() + skipped):
        yield


@dataclass
class Score:
    """What became of a scenario's mutants."""

    killed: dict[str, list[str]] = field(default_factory=dict)  # mutant -> the criteria that failed
    equivalent: dict[str, str] = field(default_factory=dict)  # mutant -> why it changes nothing the task asks
    survived: list[str] = field(default_factory=list)
    left: dict[str, Mutant] = field(default_factory=dict)  # to the testbed: only behaviour shows their effect
    refused: dict[str, str] = field(default_factory=dict)  # the API server refuses them: no student can make them
    killed_but_declared: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def judged(self) -> int:
        return len(self.killed) + len(self.survived)

    def summary(self, scenario: str) -> str:
        lines = [
            f"{scenario}: {len(self.killed)}/{self.judged} killed, {len(self.equivalent)} equivalent, "
            f"{len(self.left)} left to the testbed, {len(self.refused)} refused by the API server"
        ]
        lines += [f"  equivalent: {m} ({why})" for m, why in self.equivalent.items()]
        lines += [f"  left to the testbed: {m}" for m in self.left]
        lines += [f"  refused: {m} ({why})" for m, why in self.refused.items()]
        lines += [f"  SURVIVED: {m}" for m in self.survived]
        lines += [f"  declared equivalent but killed: {m}" for m in self.killed_but_declared]
        lines += [f"  ERROR: {m}: {e}" for m, e in self.errors.items()]
        return "\n".join(lines)

    def add(self, mutant: Mutant, report: Report, why_equivalent: str | None, vm_only: set[str]) -> None:
        """File one graded mutant; `vm_only`: the criteria that only a VM can judge (not the testbed either), which
        leave nothing to the testbed."""
        errors = [f"{c.id}: {c.message}" for c in report.checks if c.status == "error"] + report.problems
        failed = [c.id for c in report.checks if c.status == "fail"]
        not_judged = {c.id for c in report.checks if c.status == "not-gradable"} - vm_only
        if errors:
            self.errors[mutant.id] = "; ".join(errors)[:600]
        elif failed:
            self.killed[mutant.id] = failed
            if why_equivalent is not None:
                self.killed_but_declared.append(mutant.id)
        elif why_equivalent is not None:
            self.equivalent[mutant.id] = why_equivalent
        elif not_judged:
            self.left[mutant.id] = mutant
        else:
            self.survived.append(mutant.id)


def vm_only_criteria(scenario: Scenario) -> set[str]:
    return {criterion for criterion, needs in scenario.criteria.items() if needs}


def run_offline(scenario: Scenario, spec: MutantSpec, attempt: RecordedAttempt) -> Score:
    """Every mutant graded offline (those whose effect no recording can show are left to the testbed)."""
    vm_only = vm_only_criteria(scenario)
    score = Score()
    for mutant in spec.mutants(attempt.recording):
        why = spec.why_equivalent(mutant.id)
        if not mutant.offline:
            if why is None:
                score.left[mutant.id] = mutant
            else:
                score.equivalent[mutant.id] = why
            continue
        report = grade_offline(scenario, attempt, mutant.on(attempt.recording))
        score.add(mutant, report, why, vm_only)
    return score


class _Asked(dict):
    """A dict that notes the keys it was asked for."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.asked: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:
        self.asked.add(key)
        return super().get(key, default)


def replayed_part(scenario: Scenario, attempt: RecordedAttempt) -> Recording:
    """The answers an offline grading of the attempt asks for: what a probe asked with a fresh name (an audit
    marker, a nonce) can never be replayed, and is not kept."""
    api, nodes = _Asked(attempt.recording.api), {n: _Asked(c) for n, c in attempt.recording.nodes.items()}
    grade_offline(scenario, attempt, Recording(api=api, nodes=nodes))
    return Recording(
        api={k: v for k, v in api.items() if k in api.asked},
        nodes={n: {k: v for k, v in c.items() if k in c.asked} for n, c in nodes.items() if c.asked},
    )


def recorded_verdicts_match(lab: Any, shared_dir: Path) -> None:
    """For a proof, right after the reference solution and its `lab check`: the committed recording was made on the
    solution as it is now. The configuration files it holds are the solution's, it asks the API server to change
    nothing, and graded offline it gives every criterion gradable offline the verdict that `lab check` gave (the
    check itself changed nothing: tests/lab_attempt.py). With CKS_LAB_RECORD=1 the grader runs once more, recorded,
    and the recording is written."""
    path = recording_path(lab.scenario)
    if os.environ.get("CKS_LAB_RECORD") == "1":
        attempt, _ = record(lab.scenario, lab.seed, lab.params, lab.target)
        kept = RecordedAttempt(attempt.seed, attempt.params, replayed_part(lab.scenario, attempt))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(kept.as_json(shared_texts(shared_dir)), indent=1, sort_keys=True) + "\n")
    assert lab.solved_report is not None, "needs lab.solve() then lab.check() first"
    committed = load_recording(lab.scenario, shared_dir)
    assert (committed.seed, committed.params) == (lab.seed, lab.params), f"{path} is of another attempt"
    assert not writes(committed.recording), f"the grading asked the API server to change: {writes(committed.recording)}"
    for file in MutantSpec.of(lab.scenario, lab.params).files:
        if file.path.endswith((".yaml", ".yml")):  # an answer may name a generated pod: judged by the verdicts
            now = Path(file.path).read_text()
            assert committed.recording.file_text(file.node, file.path) == now, f"{file.path} changed: record again"
    offline = {c.id: c.status for c in grade_offline(lab.scenario, committed).checks}
    expected = {c["id"]: c["status"] for c in lab.solved_report["checks"] if offline.get(c["id"]) != "not-gradable"}
    assert {k: offline[k] for k in expected} == expected, f"{path} grades unlike the cluster: record again"
