"""Benchmark the audit policy evaluator; results as ratios against baselines measured in the same run.

    .venv/bin/python benchmarks/bench_audit.py [--append docs/benchmarks.md]

1. Requests evaluated per second (goal >= 50 000/s) by Policy.evaluate on a 10-rule CKS-style policy, against
   (a) the rule-by-rule explanation path (labs.audit.evaluate.why_not: the apiserver's checks done on the rule's
   lists, no precomputed sets) and (b) json.loads of the same requests as JSON lines (the cost of merely reading them).
2. Loading the policy (decode + validate), against yaml.safe_load of the same text.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sys
from datetime import date
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchlib import best_of, publish  # noqa: E402

from labs.audit import load_policy_text, request_from_dict  # noqa: E402
from labs.audit.evaluate import why_not  # noqa: E402

POLICY = """\
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: None
  users: ["system:kube-proxy"]
  verbs: [watch]
  resources: [{group: "", resources: [endpoints, services, services/status]}]
- level: None
  userGroups: ["system:nodes"]
  verbs: [get]
  resources: [{group: "", resources: [nodes, nodes/status]}]
- level: None
  nonResourceURLs: ["/healthz*", "/version", "/livez", "/readyz"]
- level: RequestResponse
  verbs: [create, update, patch, delete]
  resources: [{group: "", resources: [namespaces]}]
- level: Request
  resources: [{group: "", resources: [secrets, configmaps]}]
  namespaces: [kube-system]
- level: Metadata
  resources: [{group: "", resources: [secrets, configmaps, serviceaccounts/token]}]
- level: RequestResponse
  resources: [{group: "", resources: ["pods/exec", "pods/attach", "pods/portforward"]}]
- level: Request
  verbs: [create, update, patch, delete, deletecollection]
  resources: [{group: apps}, {group: batch}, {group: rbac.authorization.k8s.io, resources: ["*"]}]
- level: Metadata
  resources: [{group: "*", resources: ["*/status", "*/scale"]}]
- level: Metadata
"""

USERS = [None, "alice", "bob", "system:kube-proxy", "system:node:worker", "kubernetes-admin"]
GROUPS = ["system:authenticated", "system:nodes", "system:serviceaccounts", "dev", "kubeadm:cluster-admins"]
VERBS = ["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"]
RESOURCES = [("", "pods"), ("", "secrets"), ("", "configmaps"), ("", "namespaces"), ("", "nodes"), ("", "endpoints"),
             ("apps", "deployments"), ("batch", "jobs"), ("rbac.authorization.k8s.io", "roles"),
             ("coordination.k8s.io", "leases")]  # fmt: skip
SUBRESOURCES = ["", "", "", "", "status", "log", "exec", "scale"]
NAMESPACES = ["", "default", "kube-system", "prod", "dev"]
PATHS = ["/healthz", "/livez", "/readyz", "/metrics", "/version", "/apis", "/openapi/v3"]


def make_requests(count: int, seed: int = 1) -> list[dict]:
    rnd = random.Random(seed)
    requests = []
    for _ in range(count):
        user = rnd.choice(USERS)
        base = {"user": user, "groups": rnd.sample(GROUPS, rnd.randint(0, 2)), "verb": rnd.choice(VERBS)}
        if rnd.random() < 0.15:
            requests.append({**base, "verb": "get", "path": rnd.choice(PATHS)})
            continue
        group, resource = rnd.choice(RESOURCES)
        requests.append({**base, "apiGroup": group, "resource": resource, "subresource": rnd.choice(SUBRESOURCES),
                         "namespace": rnd.choice(NAMESPACES), "name": rnd.choice(["", "web", "db"])})  # fmt: skip
    return requests


def bench_eval(count: int) -> dict[str, float]:
    policy = load_policy_text(POLICY).policy
    raw = make_requests(count)
    lines = [json.dumps(request) for request in raw]
    requests = [request_from_dict(request) for request in raw]
    rules = policy.rules
    policy.evaluate(requests[0])  # compile once, as a grader would before evaluating many requests

    def explained() -> None:
        for request in requests:
            next((i for i, rule in enumerate(rules) if why_not(rule, request) is None), None)

    def evaluated() -> None:
        for request in requests:
            policy.evaluate(request)

    def from_lines() -> None:
        for line in lines:
            policy.evaluate(request_from_dict(json.loads(line)))

    def read_only() -> None:
        for line in lines:
            json.loads(line)

    ours = count / best_of(evaluated)
    baseline = count / best_of(explained)
    reading = count / best_of(read_only)
    return {
        "requests": count,
        "evaluate() requests/s": ours,
        "baseline rule-by-rule (why_not) requests/s": baseline,
        "ratio evaluate/rule-by-rule (throughput)": ours / baseline,
        "JSON line -> request -> evaluate requests/s": count / best_of(from_lines),
        "baseline json.loads only lines/s": reading,
        "ratio evaluate/json.loads (throughput)": ours / reading,
    }


def bench_load() -> dict[str, float]:
    ours = best_of(lambda: load_policy_text(POLICY), repeat=50)
    baseline = best_of(lambda: yaml.safe_load(POLICY), repeat=50)
    return {"load_policy_text ms": ours * 1000, "yaml.safe_load ms": baseline * 1000, "ratio": ours / baseline}


def table(results: dict[str, dict[str, float]]) -> str:
    rows = [
        f"| {section}: {name} | {value:,.2f} |" for section, values in results.items() for name, value in values.items()
    ]
    return "| measurement | value |\n|---|---|\n" + "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100_000, help="requests per measurement")
    parser.add_argument("--append", type=Path, metavar="FILE", help="append the Markdown section to FILE")
    args = parser.parse_args()
    results = {"eval": bench_eval(args.requests), "load": bench_load()}
    rate = results["eval"]["evaluate() requests/s"]
    section = (
        f"## Audit policy evaluator ({date.today()}, Python {platform.python_version()}, {platform.machine()})\n\n"
        "`benchmarks/bench_audit.py`; best of several runs; baselines measured in the same run: the rule-by-rule "
        "explanation path on the same requests, json.loads of the same requests as JSON lines, yaml.safe_load of "
        "the policy.\n\n"
        f"{table(results)}\n\n"
        f"Goal: >= 50,000 requests evaluated per second: {'met' if rate >= 50_000 else 'NOT met'} ({rate:,.0f}/s).\n"
    )
    publish(section, args.append)
    return 0


if __name__ == "__main__":
    sys.exit(main())
