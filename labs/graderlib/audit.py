"""Audit logging judged by behaviour: probe requests carrying a unique User-Agent, then their events read from the
audit log on the node. Only this grading's own requests count, so lines left by an earlier attempt never do; a probe
proves it reached the API server (it got an HTTP answer) before the absence of its events counts.

Also: the kube-apiserver's audit policy as it would load it from the node (`policy_on_node`).
"""

from __future__ import annotations

import posixpath
import secrets
import shlex
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from labs.audit.evaluate import evaluate
from labs.audit.loader import PolicyResult, load_policy_text
from labs.audit.log import AuditEvent, AuditLogError, parse_log_line
from labs.audit.manifest import ApiserverManifest
from labs.audit.model import Policy, Request
from labs.graderlib.apiserver import raw_request, read_node_file


@dataclass(frozen=True)
class ProbeCall:
    """One probe request: `status` is the HTTP status the API server answered (None: it was never answered)."""

    description: str
    status: int | None
    error: str = ""

    @property
    def answered(self) -> bool:
        return self.status is not None


class AuditProbe:
    """Requests to the API server marked with a User-Agent unique to this probe, and their audit events."""

    def __init__(self, kube: Any, host: Any, log_path: str, timeout: float = 15) -> None:
        self.marker = f"cks-lab-audit-probe/{secrets.token_hex(6)}"
        self.name = f"lab-probe-{secrets.token_hex(4)}"  # a name for objects the probes touch
        self.host = host
        self.log_path = log_path
        self.timeout = timeout
        self.api = type(kube.api_client)(kube.api_client.configuration)  # a recording's client offline
        self.api.user_agent = self.marker
        self.calls: list[ProbeCall] = []

    def request(self, description: str, method: str, path: str, body: Any = None, **query: str) -> ProbeCall:
        """Send one request (e.g. "POST", "/api/v1/namespaces/x/secrets", body, dryRun="All") and record it."""
        try:
            status, _ = raw_request(self.api, method, path, body, query, self.timeout)
            call = ProbeCall(description, status)
        except Exception as error:  # no HTTP answer at all (an error status is an answer: it is returned)
            call = ProbeCall(description, None, str(error)[:200])
        self.calls.append(call)
        return call

    def events(self) -> list[AuditEvent]:
        """Every audit event of this probe's requests in the log (and its rotated backups) on the node."""
        directory, base = posixpath.split(self.log_path)
        stem, extension = posixpath.splitext(base)
        pattern = f"{shlex.quote(directory)}/{shlex.quote(stem)}*{shlex.quote(extension)}" if directory else base
        result = self.host.run(f"grep -hF {shlex.quote(self.marker)} {pattern} 2>/dev/null")
        events = []
        for line in result.stdout.splitlines():
            try:
                event = parse_log_line(line)
            except AuditLogError:
                continue
            if event.user_agent == self.marker:
                events.append(event)
        return events

    def wait_for_events(self, last: Callable[[AuditEvent], bool], wait: float = 10) -> list[AuditEvent]:
        """The probe's events once a ResponseComplete event for which `last(event)` holds is there, or whatever is
        there after `wait` seconds. kube-apiserver writes an event after the response, so waiting for the last
        probe's event proves every earlier one had its turn."""
        deadline = time.monotonic() + wait
        while True:
            events = self.events()
            if any(e.stage == "ResponseComplete" and last(e) for e in events) or time.monotonic() >= deadline:
                return events
            time.sleep(0.5)


def describe_events(events: list[AuditEvent]) -> str:
    """`level Metadata (stages RequestReceived, ResponseComplete), with requestObject` for messages."""
    if not events:
        return "no event"
    levels = sorted({e.level or "?" for e in events})
    stages = ", ".join(e.stage for e in events)
    bodies = [
        part
        for part, present in (
            ("requestObject", any(e.has_request_object for e in events)),
            ("responseObject", any(e.has_response_object for e in events)),
        )
        if present
    ]
    carried = f", with {' and '.join(bodies)}" if bodies else ", no request/response body"
    return f"level {'/'.join(levels)} (stages {stages}){carried}"


def policy_on_node(host: Any, manifest: ApiserverManifest, policy_flag: str) -> tuple[str, PolicyResult]:
    """(node path, verdict) of the policy file a kube-apiserver started with `--audit-policy-file=policy_flag` reads,
    found through the manifest's hostPath mounts. A file not reachable inside the container is refused the way the
    apiserver refuses it (it cannot open it)."""
    host_path = manifest.host_path_for(policy_flag)
    if host_path is None:
        result = load_policy_missing(policy_flag, "no hostPath volume of the manifest is mounted there")
        return policy_flag, result
    text = read_node_file(host, host_path)
    if text is not None:
        return host_path, load_policy_text(text, source=policy_flag)
    if host.file(host_path).is_directory:
        return host_path, load_policy_unreadable(
            policy_flag, f"read {policy_flag}: is a directory", f"{host_path} is a directory on the node, not a file"
        )
    return host_path, load_policy_missing(policy_flag, f"{host_path} does not exist on the node")


def audit_log_on_node(running_flags: dict[str, str], manifest: ApiserverManifest) -> str:
    """Where on the node the running kube-apiserver writes its audit log; fails the criterion when it writes none,
    writes to stdout, or writes inside its container (no hostPath volume there)."""
    log_flag = running_flags.get("audit-log-path")
    assert log_flag, "kube-apiserver writes no audit log (no --audit-log-path)"
    assert log_flag != "-", "kube-apiserver writes the audit log to its standard output (--audit-log-path=-)"
    log_on_node = manifest.host_path_for(log_flag)
    assert log_on_node, f"{log_flag} is not on a hostPath volume: the log stays inside the container"
    return log_on_node


def load_policy_missing(path: str, why: str) -> PolicyResult:
    """The verdict on a policy file kube-apiserver cannot open inside its container."""
    problem = f"open {path}: no such file or directory"
    return load_policy_unreadable(path, problem, f"{path} is not there inside the kube-apiserver container: {why}")


def load_policy_unreadable(path: str, problem: str, note: str) -> PolicyResult:
    """The verdict on a policy file kube-apiserver cannot read: `problem` as Go's os.ReadFile words it, which
    LoadPolicyFromFile wraps (k8s.io/apiserver/pkg/audit/policy/reader.go); `note` says why, for the student."""
    message = f'failed to read file path "{path}": {problem}'
    result = PolicyResult(errors=[message], source=path)
    result.apiserver_error = f"loading audit policy file: {message}"
    result.notes.append(note)
    return result


@dataclass(frozen=True)
class LevelCase:
    """A request class and the audit level the task asks for it."""

    request: Request
    level: str


OTHER = "cks-lab-other"  # a value no policy names: "anything else" of its kind
CORPUS_VERBS = ("get", "list", "watch", "create", "update", "patch", "delete", "deletecollection")
User = tuple[str, tuple[str, ...]]  # a user name and its groups


def request_corpus(policy: Policy, users: Iterable[User], asked: Iterable[Request]) -> list[Request]:
    """Resource requests made of every value the policy's rules and the `asked` requests name (verbs, groups and
    resources, namespaces, object names, users and user groups) and, of each kind, one value none of them names:
    every verb with every resource, namespace, name and user. Where a policy's rule reaches further or less far
    than the task asks, one of these requests lands on the wrong side of it."""
    asked = [request for request in asked if request.is_resource_request]
    resource_rules = [rule for rule in policy.rules if not rule.non_resource_urls]
    verbs = {*CORPUS_VERBS, *(verb for rule in resource_rules for verb in rule.verbs if verb != "*")}
    named = {(r.api_group, r.combined_resource) for r in asked} | {
        (entry.group, resource)
        for rule in resource_rules
        for entry in rule.resources
        for resource in entry.resources
        if "*" not in resource
    }
    resources = named | {(group, OTHER) for group, _ in named}
    namespaces = {"", OTHER, *(r.namespace for r in asked), *(ns for rule in resource_rules for ns in rule.namespaces)}
    names = {"", OTHER, *(r.name for r in asked)} | {
        name for rule in resource_rules for entry in rule.resources for name in entry.resource_names
    }
    people = {*users, *((user, ()) for rule in policy.rules for user in rule.users)} | {
        (OTHER, (group,)) for rule in policy.rules for group in rule.user_groups
    }
    return [
        Request(user=user, groups=groups, verb=verb, api_group=group, resource=resource.split("/")[0],
                subresource=resource.partition("/")[2], namespace=namespace, name=name)
        for verb in sorted(verbs)
        for group, resource in sorted(resources)
        for namespace in sorted(namespaces)
        for name in sorted(names)
        for user, groups in sorted(people)
    ]  # fmt: skip


def level_mismatches(policy: Policy, cases: list[LevelCase], limit: int = 4) -> list[str]:
    """`'alice' delete pods "web" in namespace 'x': Metadata (rule 2), expected None` for each case the policy gets
    wrong, as kube-apiserver evaluates it (first matching rule wins; no match: None)."""
    wrong = []
    for case in cases:
        decision = evaluate(policy, case.request)
        if decision.level != case.level:
            rule = f"rule {decision.rule_index + 1}" if decision.rule_index is not None else "no rule matches"
            wrong.append(f"{case.request.describe()}: {decision.level} ({rule}), expected {case.level}")
    shown = wrong[:limit] + ([f"... and {len(wrong) - limit} more"] if len(wrong) > limit else [])
    return shown


def policy_levels_problem(result: PolicyResult, cases: list[LevelCase]) -> str:
    """'' when the accepted policy gives each case its level, else the mismatches, with the fields kube-apiserver
    dropped from the policy when there are any (they often explain the mismatch)."""
    wrong = level_mismatches(result.policy, cases)
    if not wrong:
        return ""
    dropped = f" (kube-apiserver drops {'; '.join([*result.warnings, *result.notes])})" if result.warnings else ""
    return "; ".join(wrong) + dropped


@dataclass(frozen=True)
class ProbeRequest:
    """A request a grader makes (dry-run where it would change something) and the level its events must have."""

    description: str
    method: str
    path: str
    level: str
    body: Any = None
    query: tuple[tuple[str, str], ...] = ()


def probe_levels_problems(probe: AuditProbe, requests: list[ProbeRequest]) -> list[str]:
    """Send the requests in order and compare the levels of their events in the log with the expected ones. The last
    request must be logged: once its event is there, every earlier one had its turn, so a missing event means "not
    logged". Fails the criterion when a request got no answer (its absence from the log would prove nothing)."""
    calls = [probe.request(r.description, r.method, r.path, r.body, **dict(r.query)) for r in requests]
    unanswered = [f"{c.description} ({c.error})" for c in calls if not c.answered]
    assert not unanswered, f"probe requests got no answer, so their absence proves nothing: {'; '.join(unanswered)}"
    last = requests[-1]
    events = probe.wait_for_events(lambda e: e.request_uri.split("?")[0] == last.path)
    problems = []
    for request in requests:
        found = [e for e in events if e.request_uri.split("?")[0] == request.path]
        levels = {e.level for e in found} or {"None"}
        if levels != {request.level}:
            problems.append(f"{request.description}: {describe_events(found)}, expected level {request.level}")
    return problems
