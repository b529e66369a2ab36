"""Audit policy loading, validation and evaluation, read as the apiserver's behaviour (the upstream vectors of
../shared/reference/kubernetes-audit-and-encryption.md, sections 1 to 3)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from labs.audit import Request, load_policy
from labs.audit.evaluate import evaluate, explain, why_not
from labs.audit.loader import load_policy_file, load_policy_text
from labs.audit.model import RequestError, request_from_dict

HEADER = "apiVersion: audit.k8s.io/v1\nkind: Policy\n"
TIM = {"user": "tim@k8s.io", "groups": ["humans", "developers"]}
NAMESPACED = {**TIM, "verb": "get", "resource": "pods", "namespace": "default", "name": "busybox"}
CLUSTER = {**TIM, "verb": "get", "apiGroup": "rbac.authorization.k8s.io", "resource": "clusterroles", "name": "edit"}
NON_RESOURCE = {**TIM, "verb": "get", "path": "/logs/kubelet.log"}
SUBRESOURCE = {**NAMESPACED, "subresource": "log"}
UNAUTHORIZED = {**NAMESPACED, "user": None, "groups": []}


def policy(rules: str, preamble: str = "") -> str:
    return HEADER + preamble + "rules:\n" + rules


def accepted(text: str):
    result = load_policy_text(text)
    assert not result.refused, result.verdict()
    return result.policy


# --- what the apiserver refuses, with its messages ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ("- {}\n", "rules[0].level: Required value"),
        ("- level: FooBar\n", 'rules[0].level: Unsupported value: "FooBar": supported values: "None", "Metadata", '
         '"Request", "RequestResponse"'),
        ("- level: metadata\n", 'rules[0].level: Unsupported value: "metadata"'),
        ("- {level: Metadata, namespaces: [default], nonResourceURLs: ['/logs*']}\n",
         'rules[0].nonResourceURLs: Invalid value: ["/logs*"]: rules cannot apply to both regular resources and '
         "non-resource URLs"),
        ("- {level: Metadata, resources: [{group: rbac.authorization.k8s.io/v1beta1, resources: [roles]}]}\n",
         'rules[0].resources.group: Invalid value: "rbac.authorization.k8s.io/v1beta1": '
         "a lowercase RFC 1123 subdomain"),
        ("- {level: Metadata, nonResourceURLs: [logs]}\n",
         'rules[0].nonResourceURLs[0]: Invalid value: "logs": '
         "non-resource URL rules must begin with a '/' character"),
        ("- {level: Metadata, nonResourceURLs: ['/logs/*/*']}\n",
         'rules[0].nonResourceURLs[0]: Invalid value: "/logs/*/*": '
         "non-resource URL wildcards '*' must be the final character of the rule"),
        ("- {level: Metadata, resources: [{resourceNames: [leader]}]}\n",
         'rules[0].resources.resourceNames: Invalid value: ["leader"]: '
         "using resourceNames requires at least one resource"),
        ("- {level: Metadata, omitStages: [RequestRecieved]}\n",
         'rules[0].omitStages[0]: Invalid value: "RequestRecieved": allowed stages are '
         "RequestReceived,ResponseStarted,ResponseComplete,Panic"),
    ],
)  # fmt: skip
def test_invalid_rules_make_the_apiserver_refuse_to_start(rules: str, message: str) -> None:
    result = load_policy_text(policy(rules))
    assert result.refused and result.policy is None
    assert any(error.startswith(message) for error in result.errors), result.errors
    assert result.apiserver_error.startswith("loading audit policy file: ")


def test_several_errors_are_reported_together_like_an_aggregate() -> None:
    result = load_policy_text(policy("- {}\n- level: bad\n", "omitStages: [foo]\n"))
    assert len(result.errors) == 3
    assert result.apiserver_error.startswith("loading audit policy file: [omitStages[0]: Invalid value")


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("", "unknown group version field audit.k8s.io/__internal, Kind=Policy in policy"),
        ("rules:\n- level: Metadata\n", "unknown group version field audit.k8s.io/__internal, Kind=Policy in policy"),
        (HEADER, "loaded illegal policy with 0 rules"),
        (HEADER + "rules: []\n", "loaded illegal policy with 0 rules"),
        ("apiVersion: audit.k8s.io/v1beta1\nkind: Policy\nrules:\n- level: Metadata\n",
         'failed decoding: no kind "Policy" is registered for version "audit.k8s.io/v1beta1" in scheme '
         '"k8s.io/apiserver/pkg/audit/scheme.go:30"'),
        (HEADER + "rules:\n- level: Metadata\n  verbs: get\n",
         "failed decoding: json: cannot unmarshal string into Go struct field PolicyRule.rules.verbs of type []string"),
        (HEADER + "rules:\n\t- level: Metadata\n",
         "failed decoding: yaml: line 4: found character that cannot start any token"),
        (HEADER + "rules:\n- level: Metadata\n  verbs: [get\n",
         "failed decoding: yaml: line 5: did not find expected ',' or ']'"),
    ],
)  # fmt: skip
def test_the_reader_refuses_what_kube_apiserver_refuses(text: str, error: str) -> None:
    result = load_policy_text(text)
    assert result.errors == [error]
    assert result.verdict().startswith("REFUSED")


def test_a_missing_file_is_refused_as_the_apiserver_would(tmp_path: Path) -> None:
    missing = tmp_path / "policy.yaml"
    result = load_policy(missing)
    assert result.errors == [f'failed to read file path "{missing}": open {missing}: no such file or directory']
    assert result.apiserver_error.startswith("loading audit policy file: failed to read file path")


def test_a_file_error_names_the_file_like_the_apiserver(tmp_path: Path) -> None:
    path = tmp_path / "audit.yaml"
    path.write_text(HEADER)
    result = load_policy(str(path))
    assert result.apiserver_error == f"loading audit policy file: loaded illegal policy with 0 rules: from file {path}"


# --- what it accepts with a warning: strict decoding falls back to lenient -------------------------------------


def test_a_misindented_field_is_dropped_so_the_rule_matches_every_verb() -> None:
    text = policy(
        "- level: None\n  resources:\n  - group: coordination.k8s.io\n    resources: [leases]\n"
        "    verbs: [watch, get, list]\n"
    )
    result = load_policy_text(text)
    assert not result.refused
    assert result.warnings == ['unknown field "rules[0].resources[0].verbs"']
    assert "mis-indented" in result.notes[0]
    assert result.lenient_warning.startswith("Audit policy contains errors, falling back to lenient decoding: ")
    update = {"user": "x", "verb": "update", "apiGroup": "coordination.k8s.io", "resource": "leases"}
    assert evaluate(result.policy, update).level == "None"


def test_json_keys_are_case_sensitive_so_a_capitalised_level_is_missing() -> None:
    result = load_policy_text(policy("- Level: Metadata\n"))
    assert result.warnings == ['unknown field "rules[0].Level"']
    assert result.errors == ["rules[0].level: Required value"]
    assert "case-sensitive" in " ".join(result.notes)


def test_a_duplicate_key_keeps_the_last_value_with_a_warning() -> None:
    result = load_policy_text(policy("- level: Metadata\n  level: None\n"))
    assert result.warnings == ['line 5: key "level" already set in map']
    assert result.policy.rules[0].level == "None"


def test_yaml_1_1_booleans_are_not_strings() -> None:
    result = load_policy_text(policy("- level: Metadata\n  verbs: [yes]\n"))
    assert result.errors == [
        "failed decoding: json: cannot unmarshal bool into Go struct field PolicyRule.rules.verbs of type string"
    ]


def test_json_policy_files_are_read_as_json() -> None:
    text = json.dumps({"apiVersion": "audit.k8s.io/v1", "kind": "Policy", "rules": [{"level": "Metadata"}]})
    assert accepted(text).rules[0].level == "Metadata"
    assert (
        load_policy_text('{"kind": "Policy", "rules": [,]}')
        .errors[0]
        .startswith("failed decoding: couldn't get version/kind; json parse error: invalid character")
    )


def test_a_missing_kind_is_defaulted_but_a_missing_apiversion_is_not() -> None:
    assert accepted("apiVersion: audit.k8s.io/v1\nrules:\n- level: Metadata\n")
    assert load_policy_text("kind: Policy\nrules:\n- level: Metadata\n").refused


def test_group_star_is_valid_since_1_36() -> None:
    assert accepted(policy("- level: Metadata\n  resources: [{group: '*'}]\n"))


# --- evaluation: the checker_test.go vectors ------------------------------------------------------------------

DEFAULT = "- level: Metadata\n"
CREATE = "- {level: Request, verbs: [create]}\n"
TIMS = "- {level: Metadata, users: [tim@k8s.io]}\n"
HUMANS = "- {level: Metadata, userGroups: [humans]}\n"
SERVICE_ACCOUNTS = "- {level: Request, userGroups: ['system:serviceaccounts']}\n"
GET_PODS = "- {level: RequestResponse, verbs: [get], resources: [{resources: [pods]}]}\n"
GET_POD_LOGS = "- {level: Request, verbs: [get], resources: [{resources: [pods/log]}]}\n"
GET_CLUSTER_ROLES = (
    "- {level: RequestResponse, verbs: [get], resources: [{group: rbac.authorization.k8s.io, "
    "resources: [clusterroles]}], namespaces: ['']}\n"
)
GET_LOGS = "- {level: RequestResponse, verbs: [get], nonResourceURLs: ['/logs*']}\n"
GET_METRICS = "- {level: Request, verbs: [get], nonResourceURLs: [/metrics]}\n"
CLUSTER_ROLE_EDIT = (
    "- {level: Request, resources: [{group: rbac.authorization.k8s.io, resources: [clusterroles], "
    "resourceNames: [edit]}]}\n"
)


@pytest.mark.parametrize(
    ("request_", "rules", "level"),
    [
        (NAMESPACED, DEFAULT, "Metadata"),
        (NAMESPACED, CREATE, "None"),
        (NAMESPACED, TIMS, "Metadata"),
        (NAMESPACED, HUMANS, "Metadata"),
        (NAMESPACED, SERVICE_ACCOUNTS, "None"),
        (NAMESPACED, GET_PODS, "RequestResponse"),
        (NAMESPACED, GET_CLUSTER_ROLES, "None"),
        (NAMESPACED, GET_METRICS + GET_PODS + DEFAULT, "RequestResponse"),
        (NAMESPACED, GET_POD_LOGS + GET_PODS, "RequestResponse"),
        (CLUSTER, GET_PODS, "None"),
        (CLUSTER, GET_CLUSTER_ROLES, "RequestResponse"),
        (CLUSTER, CLUSTER_ROLE_EDIT + GET_CLUSTER_ROLES, "Request"),
        (NON_RESOURCE, GET_LOGS, "RequestResponse"),
        (NON_RESOURCE, GET_PODS, "None"),
        (NON_RESOURCE, GET_METRICS + SERVICE_ACCOUNTS + DEFAULT, "Metadata"),
        (SUBRESOURCE, GET_POD_LOGS + GET_PODS, "Request"),
        (SUBRESOURCE, "- {level: Request, verbs: [get], resources: [{resources: ['*/log']}]}\n", "Request"),
        (SUBRESOURCE, "- {level: Request, verbs: [get], resources: [{resources: ['pods/*']}]}\n", "Request"),
        (UNAUTHORIZED, TIMS, "None"),
        (UNAUTHORIZED, TIMS + DEFAULT, "Metadata"),
        (UNAUTHORIZED, HUMANS, "None"),
    ],
)
def test_the_first_matching_rule_decides_the_level(request_: dict, rules: str, level: str) -> None:
    assert evaluate(accepted(policy(rules)), request_).level == level


def test_omit_stages_are_the_union_of_policy_and_rule() -> None:
    only_panic = "- {level: Request, omitStages: [RequestReceived, ResponseStarted, ResponseComplete]}\n"
    evaluated = accepted(policy(only_panic + GET_PODS, "omitStages: [RequestReceived, ResponseStarted]\n"))
    decision = evaluate(evaluated, NAMESPACED)
    assert decision.omit_stages == ("RequestReceived", "ResponseComplete", "ResponseStarted")
    assert decision.rule_index == 0


def test_no_match_means_level_none_and_no_rule() -> None:
    decision = evaluate(accepted(policy(CREATE, "omitStages: [Panic]\n")), NAMESPACED)
    assert (decision.level, decision.omit_stages, decision.rule_index) == ("None", ("Panic",), None)


@pytest.mark.parametrize(("policy_value", "rule_value", "omitted"), [
    ("false", None, False), ("true", None, True), ("true", "false", False), ("false", "true", True),
])  # fmt: skip
def test_omit_managed_fields_in_the_rule_overrides_the_policy(policy_value, rule_value, omitted) -> None:
    rule = "- {level: RequestResponse, verbs: [get]" + (f", omitManagedFields: {rule_value}" if rule_value else "")
    evaluated = accepted(policy(rule + "}\n", f"omitManagedFields: {policy_value}\n"))
    assert evaluate(evaluated, {"user": None, "verb": "get", "path": "/x"}).omit_managed_fields is omitted


@pytest.mark.parametrize(
    ("rule", "request_", "matches"),
    [
        ("resources: [{group: '', resources: ['pods/*']}]", {**NAMESPACED}, True),  # D1: pods/* also matches pods
        ("resources: [{group: '', resources: [pods]}]", {**SUBRESOURCE}, False),  # D2
        ("resources: [{group: '', resources: [deployments]}]", {**NAMESPACED, "apiGroup": "apps",
                                                                "resource": "deployments"}, False),  # D3
        ("namespaces: [''], resources: [{resources: [pods]}]", {**TIM, "verb": "list", "resource": "pods"}, True),
        ("namespaces: [kube-system]", {**TIM, "verb": "get", "resource": "namespaces", "namespace": "kube-system",
                                       "name": "kube-system"}, True),  # D5
        ("resources: [{resources: ['*/*']}]", {**SUBRESOURCE}, False),  # D7
        ("namespaces: [default]", {**TIM, "verb": "get", "path": "/healthz"}, False),  # D8
        ("users: [tim@k8s.io]", {**TIM, "verb": "get", "path": "/healthz"}, True),  # D9
        ("resources: [{resources: [configmaps], resourceNames: [x]}]", {**TIM, "verb": "create",
                                                                        "resource": "configmaps"}, False),  # D10
        ("nonResourceURLs: ['/api*']", {**TIM, "verb": "get", "path": "/apis/apps/v1"}, True),  # D11
        ("nonResourceURLs: ['/healthz*']", {**TIM, "verb": "get", "path": "/healthz"}, True),  # D12
        ("nonResourceURLs: [/version]", {**TIM, "verb": "get", "path": "/version/"}, False),  # D13
        ("resources: [{group: ''}]", {**SUBRESOURCE}, True),  # D14
        ("resources: [{resources: ['*']}]", {**SUBRESOURCE}, True),  # D15
        ("verbs: ['*']", {**NAMESPACED}, False),  # no wildcard verbs
    ],
)  # fmt: skip
def test_derived_matching_vectors(rule: str, request_: dict, matches: bool) -> None:
    evaluated = accepted(policy("- {level: Metadata, " + rule + "}\n"))
    assert (evaluate(evaluated, request_).rule_index == 0) is matches


# --- explanations agree with the evaluator ----------------------------------------------------------------------


def test_explain_names_the_matching_rule_and_why_earlier_ones_did_not() -> None:
    evaluated = accepted(policy(GET_PODS + GET_POD_LOGS.replace("Request,", "Metadata,") + DEFAULT))
    decision, checks = explain(evaluated, request_from_dict(SUBRESOURCE))
    assert decision.rule_index == 1
    assert [check.matched for check in checks] == [False, True]
    assert "'pods' does not cover its subresources" in checks[0].reason


def test_explanations_agree_with_the_evaluator_on_the_recorded_vectors() -> None:
    vectors = Path(__file__).parent / "data" / "audit" / "apiserver_vectors.jsonl"
    compared = 0
    for line in vectors.read_text(encoding="utf-8").splitlines():
        case = json.loads(line)
        if "results" not in case["expected"]:
            continue
        evaluated = load_policy_text(case["policy"]).policy
        for raw in case["requests"]:
            request = request_from_dict(raw)
            first = next((i for i, rule in enumerate(evaluated.rules) if why_not(rule, request) is None), None)
            assert first == evaluate(evaluated, request).rule_index, (case["id"], raw)
            compared += 1
    assert compared > 1000


# --- inputs -------------------------------------------------------------------------------------------------------


def test_load_policy_takes_text_or_a_path(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(policy(DEFAULT))
    assert load_policy(str(path)).source == str(path)
    assert load_policy(path).policy.rules[0].level == "Metadata"
    assert load_policy(policy(DEFAULT)).source is None
    assert load_policy_file(path).policy is not None
    assert "no such file or directory" in load_policy(str(tmp_path / "absent.yaml")).errors[0]
    assert not load_policy('{"apiVersion": "audit.k8s.io/v1", "kind": "Policy", "rules": [{"level": "None"}]}').refused


@pytest.mark.parametrize(
    "raw",
    [[], {"verb": "get"}, {"user": "a", "verb": "get", "path": "/x", "resource": "pods"}, {"user": 1, "verb": "get",
     "resource": "pods"}, {"user": "a", "verb": "get", "resource": "pods", "colour": "red"}],
)  # fmt: skip
def test_malformed_requests_are_rejected_with_a_reason(raw) -> None:
    with pytest.raises(RequestError):
        request_from_dict(raw)


def test_requests_can_be_given_as_objects() -> None:
    evaluated = accepted(policy(GET_PODS))
    request = Request(user="tim@k8s.io", verb="get", resource="pods", namespace="default", name="x")
    assert evaluate(evaluated, request).level == "RequestResponse"


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("&a [*a]", "failed decoding: yaml: anchor 'a' value contains itself"),
        ("rules: [*nope]", "failed decoding: yaml: unknown anchor 'nope' referenced"),
        ("a: &a [x,x,x,x,x,x,x,x,x,x]\n" + "".join(
            f"{n}: &{n} [{', '.join([f'*{p}'] * 10)}]\n" for p, n in zip("abcdef", "bcdefg", strict=True)),
         "failed decoding: yaml: document contains excessive aliasing"),
        ("[" * 5000, "failed decoding: "),
        ("\ud800", "failed decoding: yaml: "),
        ("\x00\x01binary", "failed decoding: yaml: "),
    ],
)  # fmt: skip
def test_hostile_input_gets_a_verdict_not_a_traceback(text: str, error: str) -> None:
    result = load_policy_text(text)
    assert result.refused and result.errors[0].startswith(error)
