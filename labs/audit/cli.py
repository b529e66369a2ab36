"""`lab audit validate | eval | explain`: judge an audit policy the way kube-apiserver 1.37 does.

Import-cheap on purpose (stdlib only here): the work is imported inside the handlers.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

EXIT_OK, EXIT_REFUSED, EXIT_CANNOT_GRADE = 0, 1, 2


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "audit",
        help="load, validate and evaluate Kubernetes audit policies as kube-apiserver does",
        description="Judge an audit.k8s.io/v1 Policy exactly as kube-apiserver 1.37 does: whether it starts with it, "
        "and which level each request is logged at.",
    )
    actions = parser.add_subparsers(dest="audit_action", required=True, metavar="ACTION")

    validate = actions.add_parser("validate", help="would kube-apiserver accept this policy file? (exit 1 if not)")
    validate.add_argument("--policy", required=True, metavar="FILE", help="the audit policy file")
    validate.add_argument("--json", action="store_true", help="print JSON")
    validate.set_defaults(func=run_validate)

    evaluate = actions.add_parser("eval", help="level, omitted stages and matching rule for each request")
    evaluate.add_argument("--policy", required=True, metavar="FILE", help="the audit policy file")
    evaluate.add_argument("--requests", required=True, metavar="FILE.jsonl", help="one request per line ('-': stdin)")
    evaluate.add_argument("--json", action="store_true", help="print JSON")
    evaluate.set_defaults(func=run_eval)

    explain = actions.add_parser("explain", help="say in words which rule matches each request and why earlier don't")
    explain.add_argument("--policy", required=True, metavar="FILE", help="the audit policy file")
    given = explain.add_mutually_exclusive_group(required=True)
    given.add_argument("--requests", metavar="FILE.jsonl", help="one request per line ('-': stdin)")
    given.add_argument("--request", action="append", metavar="JSON", help="a request as JSON (repeatable)")
    explain.set_defaults(func=run_explain)


class InputError(Exception):
    """Our own input (the requests) is unusable: exit 2, could not grade."""


def read_requests(source: str) -> list[Any]:
    from labs.audit.model import RequestError, request_from_dict

    try:
        text = sys.stdin.read() if source == "-" else open(source, encoding="utf-8").read()  # noqa: SIM115
    except OSError as error:
        raise InputError(f"cannot read requests file {source}: {error.strerror}") from None
    except UnicodeDecodeError as error:
        raise InputError(f"cannot read requests file {source}: not UTF-8 text (byte {error.start})") from None
    requests = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            requests.append(request_from_dict(json.loads(line)))
        except json.JSONDecodeError as error:
            raise InputError(f"{source} line {number}: not JSON ({error.msg})") from None
        except RequestError as error:
            raise InputError(f"{source} line {number}: {error}") from None
    return requests


def _requests_from_args(values: list[str]) -> list[Any]:
    from labs.audit.model import RequestError, request_from_dict

    requests = []
    for value in values:
        try:
            requests.append(request_from_dict(json.loads(value)))
        except json.JSONDecodeError as error:
            raise InputError(f"--request {value!r}: not JSON ({error.msg})") from None
        except RequestError as error:
            raise InputError(f"--request {value!r}: {error}") from None
    return requests


def _fail_input(message: str, as_json: bool) -> int:
    if as_json:
        print(json.dumps({"errors": [], "inputErrors": [message], "results": []}))
    print(f"lab audit: {message}", file=sys.stderr)
    return EXIT_CANNOT_GRADE


def run_validate(args: argparse.Namespace) -> int:
    from labs.audit.loader import load_policy_file

    result = load_policy_file(args.policy)
    print(json.dumps(result.as_json(), indent=2) if args.json else result.verdict())
    return EXIT_REFUSED if result.refused else EXIT_OK


def run_eval(args: argparse.Namespace) -> int:
    from labs.audit.evaluate import evaluate
    from labs.audit.loader import load_policy_file

    result = load_policy_file(args.policy)
    try:
        requests = read_requests(args.requests)
    except InputError as error:
        return _fail_input(str(error), args.json)
    decisions = [] if result.policy is None else [evaluate(result.policy, request) for request in requests]
    if args.json:
        print(
            json.dumps(
                {
                    "errors": result.errors,
                    "warnings": result.warnings,
                    "results": [decision.as_json() for decision in decisions],
                }
            )
        )
    else:
        print(result.verdict())
        for number, (request, decision) in enumerate(zip(requests, decisions, strict=False), start=1):
            rule = "no rule matched" if decision.rule_index is None else f"rule {decision.rule_index}"
            omitted = f", omits {', '.join(decision.omit_stages)}" if decision.omit_stages else ""
            print(f"{number}. {decision.level} ({rule}{omitted}): {request.describe()}")
    return EXIT_REFUSED if result.refused else EXIT_OK


def run_explain(args: argparse.Namespace) -> int:
    from labs.audit.evaluate import explain
    from labs.audit.loader import load_policy_file
    from labs.audit.stages import expected_stages

    result = load_policy_file(args.policy)
    try:
        requests = read_requests(args.requests) if args.requests else _requests_from_args(args.request)
    except InputError as error:
        return _fail_input(str(error), False)
    print(result.verdict())
    if result.policy is None:
        print("No request is audited: kube-apiserver does not run with this policy.")
        return EXIT_REFUSED
    for number, request in enumerate(requests, start=1):
        decision, checks = explain(result.policy, request)
        print(f"\nRequest {number}: {request.describe()}")
        for check in checks:
            if check.matched:
                print(f"  rule {check.index} (level {check.rule.level}) MATCHES: {_conditions(check.rule)}")
            else:
                print(f"  rule {check.index} (level {check.rule.level}) does not match: {check.reason}")
        if decision.rule_index is None:
            print("  => no rule matched: level None, nothing is logged")
            continue
        if decision.level == "None":
            print("  => level None: nothing is logged")
            continue
        stages = expected_stages(request, decision)
        omitted = ", ".join(decision.omit_stages) or "none"
        written = ", ".join(stages) or "none"
        print(f"  => level {decision.level}; stages omitted: {omitted}; events written: {written}")
    return EXIT_OK


def _conditions(rule: Any) -> str:
    parts = []
    for label, values in (
        ("users", rule.users),
        ("userGroups", rule.user_groups),
        ("verbs", rule.verbs),
        ("namespaces", rule.namespaces),
        ("nonResourceURLs", rule.non_resource_urls),
    ):
        if values:
            parts.append(f"{label} {list(values)}")
    for i, entry in enumerate(rule.resources):
        text = f"resources[{i}] group {entry.group!r}"
        if entry.resources:
            text += f" resources {list(entry.resources)}"
        if entry.resource_names:
            text += f" resourceNames {list(entry.resource_names)}"
        parts.append(text)
    return "; ".join(parts) if parts else "it sets no condition (a catch-all)"
