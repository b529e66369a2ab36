"""Property-based fuzzing of the parsers the lab owns: whatever the input, only the lab's own error types (or the
parser's result carrying the error, the way Falco and kube-apiserver report it) come out, never another exception.

Bounded: each property runs at most FUZZ_EXAMPLES examples, 150 unless CKS_LAB_FUZZ_EXAMPLES says otherwise (the
whole module takes under 10 s). With CI=true the examples are derived from the test's name (derandomized, the same
every run); locally they are random, so every run explores new input.
"""

from __future__ import annotations

import contextlib
import json
import os
import string
from datetime import UTC, datetime
from pathlib import Path
from xml.etree import ElementTree

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labs import state
from labs.audit import load_policy_text
from labs.audit.cli import InputError as AuditInputError
from labs.audit.cli import read_requests
from labs.audit.model import Request
from labs.catalog import ScenarioError
from labs.catalog import load as load_scenario
from labs.classroom.classfile import ClassFileError
from labs.classroom.classfile import load as load_class_file
from labs.classroom.reports import write_json, write_junit
from labs.classroom.results import ClassResult, CriterionResult, ScenarioColumn, ScenarioResult, StudentResult
from labs.errors import CannotGrade
from labs.falco.condition import ConditionSyntaxError, parse_condition
from labs.falco.ruleset import load_rules
from labs.k8s import Kube

FUZZ_EXAMPLES = int(os.environ.get("CKS_LAB_FUZZ_EXAMPLES", "150"))  # more for a longer hunt
settings.register_profile(
    "lab", max_examples=FUZZ_EXAMPLES, deadline=None, derandomize=os.environ.get("CI") == "true",
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)  # fmt: skip
settings.load_profile("lab")

CONDITION_WORDS = st.sampled_from(
    ["and", "or", "not", "(", ")", "=", "!=", "in", "contains", "startswith", "exists", "glob", "pmatch", ",",
     "proc.name", "evt.type", "fd.name", "proc.aname[2]", "container.id", "spawned_process", "host", "'sh'",
     '"a b"', "execve", "bash", "val(proc.pname)", "tolower(proc.name)", "<", ">=", "1", "-1", "shells", "in_ct"]
)  # fmt: skip
CONDITIONS = st.lists(CONDITION_WORDS, max_size=12).map(" ".join)
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.text(string.printable, max_size=12))
ANY = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=8,
)


# Each structured document is mostly well-formed, with any field's value sometimes replaced by anything at all, so
# that the parsers' deeper checks run too, not only the first type check.
def _sometimes(value: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(value, value, value, ANY)


def _mapping(required: dict, optional: dict | None = None) -> st.SearchStrategy:
    return st.fixed_dictionaries(
        {k: _sometimes(v) for k, v in required.items()},
        optional={k: _sometimes(v) for k, v in (optional or {}).items()},
    )


FALCO_ITEMS = st.one_of(
    _mapping({"list": st.sampled_from(["shells", "bins"]), "items": st.lists(st.sampled_from(["sh", "bash", "a b"]))},
             {"append": st.booleans(), "override": st.just({"items": "append"})}),
    _mapping({"macro": st.sampled_from(["in_ct", "spawned_process"]), "condition": CONDITIONS},
             {"append": st.booleans(), "override": st.just({"condition": "replace"})}),
    _mapping({"rule": st.sampled_from(["r1", "Terminal shell in container"]), "condition": CONDITIONS},
             {"desc": st.text(max_size=8), "output": st.text(string.printable, max_size=30),
              "priority": st.sampled_from(["WARNING", "error", "Informational", "LOUD"]), "enabled": st.booleans(),
              "override": st.dictionaries(st.sampled_from(["condition", "output", "enabled", "priority"]),
                                          st.sampled_from(["append", "replace", "sideways"]), max_size=2),
              "exceptions": st.lists(_mapping({"name": st.text(max_size=4)},
                                              {"fields": st.lists(st.sampled_from(["proc.name", "fd.name"])),
                                               "values": ANY, "comps": ANY}), max_size=2),
              "tags": st.lists(st.text(max_size=4), max_size=2), "source": st.sampled_from(["syscall", "k8s_audit"])}),
    _mapping({"required_engine_version": st.sampled_from(["0.26.0", "99", "x"])}, {}),
)  # fmt: skip
AUDIT_RULES = _mapping(
    {"level": st.sampled_from(["None", "Metadata", "Request", "RequestResponse", "Metdata"])},
    {"resources": st.lists(_mapping({"group": st.sampled_from(["", "apps"])},
                                    {"resources": st.lists(st.sampled_from(["pods", "pods/log", "*", "secrets"]))})),
     "verbs": st.lists(st.sampled_from(["get", "delete", "*"])), "users": st.lists(st.text(max_size=6)),
     "namespaces": st.lists(st.text(max_size=6)), "omitStages": st.lists(st.sampled_from(["RequestReceived", "X"])),
     "nonResourceURLs": st.lists(st.sampled_from(["/healthz*", "/api", "bad"]))},
)  # fmt: skip
AUDIT_POLICIES = _mapping(
    {"apiVersion": st.sampled_from(["audit.k8s.io/v1", "audit.k8s.io/v1beta1", "v1"]), "kind": st.just("Policy"),
     "rules": st.lists(AUDIT_RULES, max_size=4)},
    {"omitStages": st.lists(st.sampled_from(["RequestReceived", "ResponseStarted"]))},
)  # fmt: skip
VALID_SCENARIO = yaml.safe_load(
    (Path(__file__).parents[1] / "scenarios" / "01-immutable-pod" / "scenario.yaml").read_text()
)
SCENARIOS = st.builds(
    lambda key, value: {**VALID_SCENARIO, key: value}, st.sampled_from([*sorted(VALID_SCENARIO), "derived", "keeps"]),
    ANY
)  # fmt: skip
CLASS_FILES = _mapping(
    {"students": st.lists(_mapping({"name": st.text(max_size=6)},
                                   {"kubeconfig": st.text(max_size=10), "group": st.text(max_size=4),
                                    "seeds": st.dictionaries(st.integers(0, 99), st.integers())}), max_size=3)},
    {"name": st.text(max_size=8), "scenarios": st.lists(st.integers(0, 99) | st.text(max_size=4)),
     "inventory": st.text(max_size=10)},
)  # fmt: skip
KUBECONFIGS = _mapping(
    {"apiVersion": st.just("v1"), "kind": st.just("Config"), "current-context": st.sampled_from(["c", "d"]),
     "clusters": st.lists(_mapping({"name": st.just("c"),
                                    "cluster": _mapping({"server": st.sampled_from(["https://127.0.0.1:1", "x", ""])},
                                                        {"certificate-authority-data": st.text(max_size=8)})})),
     "contexts": st.lists(_mapping({"name": st.just("c"), "context": _mapping({"cluster": st.just("c"),
                                                                              "user": st.just("u")}, {})})),
     "users": st.lists(_mapping({"name": st.just("u")}, {"user": _mapping({}, {"token": st.text(max_size=8)})}))},
    {},
)  # fmt: skip


def _texts(documents: st.SearchStrategy) -> st.SearchStrategy:
    """The documents as YAML, or any text at all (not YAML, half YAML, binary-ish)."""
    return st.one_of(documents.map(yaml.safe_dump), documents.map(yaml.safe_dump), st.text(max_size=200))


@given(CONDITIONS | st.text(max_size=60))
def test_a_falco_condition_either_parses_or_is_a_syntax_error(text):
    with contextlib.suppress(ConditionSyntaxError):
        parse_condition(text)


@given(_texts(st.lists(FALCO_ITEMS, max_size=5)))
def test_a_falco_rules_file_either_loads_or_reports_falcos_error(text):
    ruleset = load_rules(["rules.yaml"], contents={"rules.yaml": text})
    assert ruleset.ok or all(error.code.startswith("LOAD_ERR") for error in ruleset.errors)


@given(_texts(AUDIT_POLICIES))
def test_an_audit_policy_either_loads_or_is_refused_with_a_message(text):
    result = load_policy_text(text)
    assert result.policy is not None or result.errors


@given(_texts(SCENARIOS))
def test_a_scenario_file_either_loads_or_names_its_problem(tmp_path_factory, text):
    directory = tmp_path_factory.mktemp("fuzz") / "42-fuzz"
    directory.mkdir()
    (directory / "scenario.yaml").write_text(text)
    try:
        load_scenario(directory)
    except ScenarioError as error:
        assert str(error)


@given(_texts(CLASS_FILES))
def test_a_class_file_either_loads_or_names_its_problem(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("fuzz") / "class.yml"
    path.write_text(text)
    try:
        load_class_file(path)
    except ClassFileError as error:
        assert str(error)


@given(st.binary(max_size=300) | st.text(max_size=200).map(str.encode))
def test_a_corrupt_state_file_is_kept_aside_and_the_lab_starts_afresh(tmp_path_factory, monkeypatch, content):
    directory = tmp_path_factory.mktemp("state")
    monkeypatch.setenv("CKS_LAB_STATE", str(directory))
    (directory / "state.json").write_bytes(content)
    loaded = state.load()
    assert isinstance(loaded, state.State)
    assert (directory / "state.json").exists() or (directory / "state.json.broken").read_bytes() == content


@given(_texts(KUBECONFIGS))
def test_a_kubeconfig_either_gives_a_client_or_cannot_grade(tmp_path_factory, text):
    path = Path(tmp_path_factory.mktemp("kube")) / "config"
    path.write_text(text)
    try:
        Kube(path).api_client  # noqa: B018 - building the client is what is fuzzed
    except CannotGrade as error:
        assert str(error)


STUDENT_TEXT = st.text(max_size=40)  # names, titles and messages quoting what a student wrote: anything at all
CRITERIA = st.builds(
    CriterionResult,
    id=st.from_regex(r"test_[a-z_]{1,20}", fullmatch=True),
    title=STUDENT_TEXT,
    points=st.integers(0, 5),
    status=st.sampled_from(["pass", "fail", "error", "not-gradable"]),
    message=STUDENT_TEXT,
)
CLASSES = st.builds(
    lambda name, students: ClassResult(
        name=name,
        graded_at=datetime(2026, 12, 7, tzinfo=UTC),
        seconds=1.5,
        scenarios=[ScenarioColumn(id="01-immutable-pod", title="x", points=5)],
        students=[
            StudentResult(
                name=student,
                scenarios={"01-immutable-pod": ScenarioResult(
                    scenario="01-immutable-pod", status=status, max_score=5, message=message, criteria=criteria
                )},
                notes=[message],
            )
            for student, status, message, criteria in students
        ],
    ),
    STUDENT_TEXT,
    st.lists(st.tuples(STUDENT_TEXT, st.sampled_from(["pass", "fail", "error"]), STUDENT_TEXT, st.lists(CRITERIA,
             max_size=3)), max_size=3),
)  # fmt: skip


@given(CLASSES)
def test_the_class_reports_read_back_whatever_the_students_wrote(tmp_path_factory, result):
    directory = tmp_path_factory.mktemp("reports")
    write_json(result, directory / "grades.json")
    assert ClassResult.model_validate(json.loads((directory / "grades.json").read_text())) == result
    write_junit(result, directory / "junit.xml")
    cases = ElementTree.parse(directory / "junit.xml").getroot().iter("testcase")
    expected = sum(len(s.scenarios["01-immutable-pod"].criteria) or 1 for s in result.students)
    expected += sum(1 for s in result.students if s.scenarios["01-immutable-pod"].criteria and s.scenarios[
        "01-immutable-pod"].message)  # fmt: skip
    assert len(list(cases)) == expected


REQUEST_FIELDS = st.sampled_from(["user", "groups", "verb", "path", "apiGroup", "resource", "subresource", "namespace",
                                  "name", "other"])  # fmt: skip
REQUEST_LINES = st.one_of(
    st.dictionaries(REQUEST_FIELDS, ANY, max_size=5).map(json.dumps),
    st.text(max_size=30),
)


@given(st.lists(REQUEST_LINES, max_size=4).map("\n".join).map(str.encode) | st.binary(max_size=60))
def test_a_requests_file_either_gives_requests_or_says_which_line_is_wrong(tmp_path_factory, content):
    path = Path(tmp_path_factory.mktemp("requests")) / "requests.jsonl"
    path.write_bytes(content)
    try:
        requests = read_requests(str(path))
    except AuditInputError as error:
        assert str(path) in str(error)
    else:
        assert all(isinstance(request, Request) for request in requests)
