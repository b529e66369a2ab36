"""Evaluate a policy on requests exactly like kube-apiserver's policy checker (k8s.io/apiserver pkg/audit/policy).

First matching rule wins. A rule matches when every non-empty list matches (users, userGroups, verbs); then, if it has
namespaces or resources, only resource requests can match it; else, if it has nonResourceURLs, only non-resource
requests; else every request. A failed authentication (no user) never matches users/userGroups. No match: level
None with the policy-wide omitStages. A matching rule omits the union of its own and the policy-wide omitStages.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from labs.audit.model import DEFAULT_LEVEL, Decision, GroupResources, Policy, PolicyRule, Request, request_from_dict


class _CompiledRule:
    """One rule turned into sets and prefixes so that matching a request costs a few hash look-ups."""

    __slots__ = ("decision", "groups", "mode", "namespaces", "non_resource", "resources", "users", "verbs")

    def __init__(self, rule: PolicyRule, decision: Decision) -> None:
        self.decision = decision
        self.users = frozenset(rule.users) or None
        self.groups = frozenset(rule.user_groups) or None
        self.verbs = frozenset(rule.verbs) or None
        self.namespaces = frozenset(rule.namespaces) or None
        if rule.namespaces or rule.resources:
            self.mode = "resource"
        elif rule.non_resource_urls:
            self.mode = "non-resource"
        else:
            self.mode = "any"
        self.resources = tuple(_CompiledGroupResources(entry) for entry in rule.resources) or None
        urls = rule.non_resource_urls
        self.non_resource = (
            "*" in urls,
            frozenset(urls),
            tuple(url.rstrip("*") for url in urls if url.endswith("*")),
        )

    def matches(self, request: Request) -> bool:
        if self.users is not None and (request.user is None or request.user not in self.users):
            return False
        if self.groups is not None and (request.user is None or self.groups.isdisjoint(request.groups)):
            return False
        if self.verbs is not None and request.verb not in self.verbs:
            return False
        if self.mode == "resource":
            if request.path is not None:
                return False
            if self.namespaces is not None and request.namespace not in self.namespaces:
                return False
            if self.resources is None:
                return True
            return any(entry.matches(request) for entry in self.resources)
        if self.mode == "non-resource":
            path = request.path
            if path is None:
                return False
            star, exact, prefixes = self.non_resource
            return star or path in exact or (bool(prefixes) and path.startswith(prefixes))
        return True


class _CompiledGroupResources:
    __slots__ = ("any_resource", "exact", "group", "names", "resource_wildcards", "star", "subresource_wildcards")

    def __init__(self, entry: GroupResources) -> None:
        self.group = entry.group
        self.any_resource = not entry.resources
        self.names = frozenset(entry.resource_names) or None
        self.exact = frozenset(entry.resources)
        self.star = "*" in self.exact
        self.subresource_wildcards = frozenset(r[2:] for r in entry.resources if r.startswith("*/"))
        self.resource_wildcards = frozenset(r[:-2] for r in entry.resources if r.endswith("/*"))

    def matches(self, request: Request) -> bool:
        if self.group != request.api_group and self.group != "*":
            return False
        if self.any_resource:
            return True
        if self.names is not None and request.name not in self.names:
            return False
        if self.star or request.resource in self.resource_wildcards:
            return True
        sub = request.subresource
        if sub:
            return f"{request.resource}/{sub}" in self.exact or sub in self.subresource_wildcards
        return request.resource in self.exact


class CompiledPolicy:
    """A policy prepared for fast evaluation (as NewPolicyRuleEvaluator: rule omitStages plus the policy's)."""

    def __init__(self, policy: Policy) -> None:
        self.rules = tuple(
            _CompiledRule(rule, _decision_for(policy, rule, index)) for index, rule in enumerate(policy.rules)
        )
        self.default = Decision(DEFAULT_LEVEL, tuple(sorted(set(policy.omit_stages))), None, policy.omit_managed_fields)

    def evaluate(self, request: Request) -> Decision:
        for rule in self.rules:
            if rule.matches(request):
                return rule.decision
        return self.default


def evaluate(policy: Policy, request: Request | Mapping[str, Any]) -> Decision:
    """First matching rule wins; no match means level None (kube-apiserver's policy checker). The policy is compiled
    once, on its first evaluation."""
    if policy.compiled is None:
        policy.compiled = CompiledPolicy(policy)
    if not isinstance(request, Request):
        request = request_from_dict(request)
    return policy.compiled.evaluate(request)


def _decision_for(policy: Policy, rule: PolicyRule, index: int) -> Decision:
    omit = tuple(sorted(set(policy.omit_stages) | set(rule.omit_stages)))
    managed = policy.omit_managed_fields if rule.omit_managed_fields is None else rule.omit_managed_fields
    return Decision(rule.level, omit, index, managed)


@dataclass(frozen=True)
class RuleCheck:
    """Whether one rule matched a request, and if not, the first reason (the order the apiserver checks in)."""

    index: int
    rule: PolicyRule
    reason: str | None

    @property
    def matched(self) -> bool:
        return self.reason is None


def why_not(rule: PolicyRule, request: Request) -> str | None:
    """The first reason `rule` does not match `request`, in plain words; None when it matches."""
    if rule.users:
        if request.user is None:
            return f"it requires users {_list(rule.users)}, and a request that failed authentication has no user"
        if request.user not in rule.users:
            return f"user {request.user!r} is not in users {_list(rule.users)} (exact, case-sensitive names)"
    if rule.user_groups:
        if request.user is None:
            return (
                f"it requires userGroups {_list(rule.user_groups)}, and a request that failed authentication has none"
            )
        if not set(rule.user_groups) & set(request.groups):
            return f"none of the user's groups {_list(request.groups)} is in userGroups {_list(rule.user_groups)}"
    if rule.verbs and request.verb not in rule.verbs:
        return f"verb {request.verb!r} is not in verbs {_list(rule.verbs)}"
    if rule.namespaces or rule.resources:
        if request.path is not None:
            return "it has resources/namespaces, so it only applies to resource requests, not to a non-resource URL"
        if rule.namespaces and request.namespace not in rule.namespaces:
            shown = repr(request.namespace) if request.namespace else '"" (cluster-scoped or all namespaces)'
            return f"namespace {shown} is not in namespaces {_list(rule.namespaces)}"
        if rule.resources:
            reasons = [_why_not_entry(entry, request) for entry in rule.resources]
            if all(reasons):
                return "no resources entry matches: " + "; ".join(
                    f"resources[{i}]: {reason}" for i, reason in enumerate(reasons)
                )
        return None
    if rule.non_resource_urls:
        if request.path is None:
            return "it has nonResourceURLs, so it only applies to non-resource URLs, and this is a resource request"
        if not any(_path_matches(request.path, spec) for spec in rule.non_resource_urls):
            return f"path {request.path!r} matches none of nonResourceURLs {_list(rule.non_resource_urls)}"
    return None


def _why_not_entry(entry: GroupResources, request: Request) -> str | None:
    if entry.group != request.api_group and entry.group != "*":
        return f"group {entry.group!r} is not the request's group {request.api_group!r}" + (
            ' (the core group is written "")' if request.api_group == "" else ""
        )
    if not entry.resources:
        return None
    if entry.resource_names and request.name not in entry.resource_names:
        if not request.name:
            return f"resourceNames {_list(entry.resource_names)} never match a request without a name ({request.verb})"
        return f"name {request.name!r} is not in resourceNames {_list(entry.resource_names)}"
    for res in entry.resources:
        if _resource_matches(res, request):
            return None
    target = request.combined_resource
    hint = ""
    if request.subresource and request.resource in entry.resources:
        hint = f" ({request.resource!r} does not cover its subresources: add {target!r} or '{request.resource}/*')"
    return f"{target!r} is not matched by resources {_list(entry.resources)}{hint}"


def _resource_matches(res: str, request: Request) -> bool:
    if res == request.combined_resource or res == "*":
        return True
    if request.subresource and res.startswith("*/") and request.subresource == res[2:]:
        return True
    return res.endswith("/*") and request.resource == res[:-2]


def _path_matches(path: str, spec: str) -> bool:
    if spec == "*" or spec == path:
        return True
    return spec.endswith("*") and path.startswith(spec.rstrip("*"))


def _list(values: tuple[str, ...] | list[str]) -> str:
    return "[" + ", ".join(repr(value) for value in values) + "]"


def explain(policy: Policy, request: Request) -> tuple[Decision, list[RuleCheck]]:
    """The decision plus, for every rule up to the one that matched, whether and why (not) it matched."""
    checks = []
    for index, rule in enumerate(policy.rules):
        check = RuleCheck(index, rule, why_not(rule, request))
        checks.append(check)
        if check.matched:
            break
    return evaluate(policy, request), checks
