"""`lab audit validate | eval | explain`, driven through register() with a parser of our own, and end to end."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from labs.audit import cli

POLICY = """\
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: None
  users: [system:kube-proxy]
- level: RequestResponse
  verbs: [delete]
  resources:
  - group: ""
    resources: [pods]
  namespaces: [prod]
- level: Metadata
"""
REQUESTS = [
    {"user": "alice", "groups": [], "verb": "delete", "apiGroup": "", "resource": "pods", "subresource": "",
     "namespace": "prod", "name": "webapp-pod"},
    {"user": None, "groups": [], "verb": "get", "path": "/healthz"},
    {"user": "system:kube-proxy", "groups": [], "verb": "watch", "resource": "endpoints"},
]  # fmt: skip


def run(*argv: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="lab")
    cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    code = args.func(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    requests = tmp_path / "requests.jsonl"
    requests.write_text("".join(json.dumps(request) + "\n" for request in REQUESTS))
    return policy, requests


def test_eval_json_gives_level_stages_and_rule_per_request(files, capsys) -> None:
    policy, requests = files
    code, out, _ = run("audit", "eval", "--policy", str(policy), "--requests", str(requests), "--json", capsys=capsys)
    assert code == 0
    assert json.loads(out) == {
        "errors": [],
        "warnings": [],
        "results": [
            {"level": "RequestResponse", "omitStages": ["RequestReceived"], "rule": 1},
            {"level": "Metadata", "omitStages": ["RequestReceived"], "rule": 2},
            {"level": "None", "omitStages": ["RequestReceived"], "rule": 0},
        ],
    }


def test_eval_exits_1_when_the_apiserver_would_refuse_the_policy(files, capsys) -> None:
    policy, requests = files
    policy.write_text(POLICY.replace("level: Metadata", "level: metadata"))
    code, out, _ = run("audit", "eval", "--policy", str(policy), "--requests", str(requests), "--json", capsys=capsys)
    assert code == 1
    report = json.loads(out)
    assert report["results"] == []
    assert report["errors"] == [
        'rules[2].level: Unsupported value: "metadata": supported values: "None", "Metadata", "Request", '
        '"RequestResponse"'
    ]


def test_eval_reports_dropped_fields_as_warnings(files, capsys) -> None:
    policy, requests = files
    policy.write_text(POLICY.replace("  namespaces: [prod]", "  namespace: [prod]"))
    code, out, _ = run("audit", "eval", "--policy", str(policy), "--requests", str(requests), "--json", capsys=capsys)
    assert code == 0
    assert json.loads(out)["warnings"] == ['unknown field "rules[1].namespace"']


@pytest.mark.parametrize(
    ("content", "message"),
    [("not json\n", "line 1: not JSON"), ('{"verb": "get"}\n', "line 1: a resource request needs")],
)
def test_eval_exits_2_on_unusable_requests(files, capsys, content: str, message: str) -> None:
    policy, requests = files
    requests.write_text(content)
    code, _, err = run("audit", "eval", "--policy", str(policy), "--requests", str(requests), capsys=capsys)
    assert code == 2 and message in err


def test_eval_text_names_the_rule_for_each_request(files, capsys) -> None:
    policy, requests = files
    code, out, _ = run("audit", "eval", "--policy", str(policy), "--requests", str(requests), capsys=capsys)
    assert code == 0
    assert "1. RequestResponse (rule 1, omits RequestReceived): 'alice' delete pods 'webapp-pod'" in out


def test_explain_says_why_earlier_rules_did_not_match(files, capsys) -> None:
    policy, _ = files
    request = json.dumps(REQUESTS[0])
    code, out, _ = run("audit", "explain", "--policy", str(policy), "--request", request, capsys=capsys)
    assert code == 0
    assert "rule 0 (level None) does not match: user 'alice' is not in users ['system:kube-proxy']" in out
    assert "rule 1 (level RequestResponse) MATCHES" in out
    assert "events written: ResponseComplete" in out


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("rules: [\n", "yaml: line 1: did not find expected node content"),
        ("apiVersion: audit.k8s.io/v1beta1\nkind: Policy\nrules: [{level: Metadata}]\n", 'no kind "Policy"'),
        ("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules: [{level: Everything}]\n", "Unsupported value"),
    ],
)
def test_validate_refuses_bad_policies_with_the_apiservers_message(tmp_path, capsys, content, expected) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text(content)
    code, out, _ = run("audit", "validate", "--policy", str(policy), capsys=capsys)
    assert code == 1
    assert out.startswith("REFUSED") and expected in out and "loading audit policy file:" in out


def test_validate_json_on_a_missing_file(tmp_path, capsys) -> None:
    code, out, _ = run("audit", "validate", "--policy", str(tmp_path / "none.yaml"), "--json", capsys=capsys)
    assert code == 1
    assert "no such file or directory" in json.loads(out)["errors"][0]


def test_the_cli_module_imports_nothing_heavy() -> None:
    probe = "import sys, labs.audit.cli; print(any(m in sys.modules for m in ('yaml', 'labs.audit.loader')))"
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout == "False\n"


def test_lab_audit_end_to_end(files) -> None:
    lab_cli = pytest.importorskip("labs.cli")
    policy, requests = files
    completed = subprocess.run(
        [sys.executable, "-c", "import sys, labs.cli; sys.exit(labs.cli.main())", "audit", "eval",
         "--policy", str(policy), "--requests", str(requests), "--json"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert lab_cli is not None
    assert completed.returncode == 0, completed.stderr
    assert [result["rule"] for result in json.loads(completed.stdout)["results"]] == [1, 2, 0]
