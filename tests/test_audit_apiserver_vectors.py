"""labs.audit against vectors recorded from kube-apiserver's own code.

tests/data/audit/apiserver_vectors.jsonl was produced by running k8s.io/apiserver v0.37.2 (the module kube-apiserver
1.37.2 is built from: policy.LoadPolicyFromBytes, the strict decoder, NewPolicyRuleEvaluator) on each case; the
harness is not part of this repository. Each line: the policy text, requests, and what the apiserver said: the
load error (null: accepted), the strict-decoding warning it logs before falling back to lenient decoding, the
number of rules, and per request the level, omitStages, the index of the first matching rule and omitManagedFields.
Cases: decoding corner cases, the upstream validation/reader/checker test vectors, the docs example policy on random
requests, random policies on random requests, and random typos in a small policy.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from labs.audit.decode import decode
from labs.audit.evaluate import evaluate
from labs.audit.loader import load_policy_text

VECTORS = Path(__file__).parent / "data" / "audit" / "apiserver_vectors.jsonl"
CASES = [json.loads(line) for line in VECTORS.read_text(encoding="utf-8").splitlines() if line]
PREFIX = "loading audit policy file: "


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_loading_agrees_with_the_apiserver(case: dict) -> None:
    expected = case["expected"]
    result = load_policy_text(case["policy"])
    error = result.apiserver_error.removeprefix(PREFIX) if result.refused else None
    assert error == expected["error"]
    if expected["warning"] is not None or expected["error"] is None:
        assert decode(case["policy"]).strict_message == expected["warning"]
        assert (result.lenient_warning is not None) == (expected["warning"] is not None)
    assert (len(result.policy.rules) if result.policy else 0) == expected["rules"]


@pytest.mark.parametrize("case", [case for case in CASES if "results" in case["expected"]], ids=lambda case: case["id"])
def test_evaluation_agrees_with_the_apiserver(case: dict) -> None:
    policy = load_policy_text(case["policy"]).policy
    assert policy is not None
    for request, expected in zip(case["requests"], case["expected"]["results"], strict=True):
        decision = evaluate(policy, request)
        got = {
            "level": decision.level,
            "omitStages": list(decision.omit_stages),
            "rule": decision.rule_index,
            "omitManagedFields": decision.omit_managed_fields,
        }
        assert got == expected, request
