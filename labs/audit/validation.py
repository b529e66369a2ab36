"""kube-apiserver's ValidatePolicy (k8s.io/apiserver pkg/apis/audit/validation), reimplemented with its messages."""

from __future__ import annotations

import re
from dataclasses import dataclass

from labs.audit.gofmt import go_json, go_quote
from labs.audit.model import LEVELS, STAGES, GroupResources, Policy, PolicyRule

_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS1123_MESSAGE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start "
    "and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
_STAGES_DETAIL = "allowed stages are " + ",".join(STAGES)
_STAGES_HINT = "stage names are case-sensitive"
_URL_SLASH = "non-resource URL rules must begin with a '/' character"
_URL_STAR = "non-resource URL wildcards '*' must be the final character of the rule"
_NAMES_NEED_RESOURCES = "using resourceNames requires at least one resource"


@dataclass(frozen=True)
class FieldError:
    """One field.Error: `path: body`, e.g. `rules[0].level: Required value`."""

    path: str
    body: str
    hint: str = ""

    def __str__(self) -> str:
        return f"{self.path}: {self.body}"


def validate_policy(policy: Policy) -> list[FieldError]:
    """All validation errors, in the apiserver's order. Any error makes kube-apiserver refuse to start."""
    errors = _omit_stages(policy.omit_stages, "omitStages")
    for i, rule in enumerate(policy.rules):
        errors.extend(_rule(rule, f"rules[{i}]"))
    return errors


def aggregate_message(errors: list[FieldError]) -> str:
    """utilerrors.NewAggregate(...).Error(): one message alone, several in [..] joined by ", ", duplicates dropped."""
    messages = list(dict.fromkeys(str(error) for error in errors))
    return messages[0] if len(messages) == 1 else "[" + ", ".join(messages) + "]"


def _rule(rule: PolicyRule, path: str) -> list[FieldError]:
    errors = _level(rule.level, f"{path}.level")
    errors += _non_resource_urls(rule.non_resource_urls, f"{path}.nonResourceURLs")
    errors += _resources(rule.resources, f"{path}.resources")
    errors += _omit_stages(rule.omit_stages, f"{path}.omitStages")
    if rule.non_resource_urls and (rule.resources or rule.namespaces):
        errors.append(
            FieldError(
                f"{path}.nonResourceURLs",
                f"Invalid value: {go_json(list(rule.non_resource_urls))}: "
                "rules cannot apply to both regular resources and non-resource URLs",
                "split it into two rules: one with resources/namespaces, one with nonResourceURLs",
            )
        )
    return errors


def _level(level: str, path: str) -> list[FieldError]:
    if level in LEVELS:
        return []
    if level == "":
        return [FieldError(path, "Required value", f"every rule needs a level: one of {', '.join(LEVELS)}")]
    supported = ", ".join(go_quote(name) for name in LEVELS)
    hint = "levels are case-sensitive" if level.lower() in (name.lower() for name in LEVELS) else ""
    return [FieldError(path, f"Unsupported value: {go_json(level)}: supported values: {supported}", hint)]


def _non_resource_urls(urls: tuple[str, ...], path: str) -> list[FieldError]:
    errors = []
    for i, url in enumerate(urls):
        if url == "*":
            continue
        if not url.startswith("/"):
            errors.append(FieldError(f"{path}[{i}]", f"Invalid value: {go_quote(url)}: {_URL_SLASH}"))
        if url and "*" in url[:-1]:
            errors.append(
                FieldError(
                    f"{path}[{i}]",
                    f"Invalid value: {go_quote(url)}: {_URL_STAR}",
                )
            )
    return errors


def _resources(entries: tuple[GroupResources, ...], path: str) -> list[FieldError]:
    errors = []
    for entry in entries:
        if entry.group and entry.group != "*":
            problems = []
            if len(entry.group) > 253:
                problems.append("must be no more than 253 characters")
            if not _DNS1123_SUBDOMAIN.match(entry.group):
                problems.append(_DNS1123_MESSAGE)
            if problems:
                hint = "the group must not include the version (apps, not apps/v1)" if "/" in entry.group else ""
                errors.append(
                    FieldError(f"{path}.group", f"Invalid value: {go_quote(entry.group)}: {','.join(problems)}", hint)
                )
        if entry.resource_names and not entry.resources:
            errors.append(
                FieldError(
                    f"{path}.resourceNames",
                    f"Invalid value: {go_json(list(entry.resource_names))}: {_NAMES_NEED_RESOURCES}",
                )
            )
    return errors


def _omit_stages(stages: tuple[str, ...], path: str) -> list[FieldError]:
    return [
        FieldError(f"{path}[{i}]", f"Invalid value: {go_quote(stage)}: {_STAGES_DETAIL}", _STAGES_HINT)
        for i, stage in enumerate(stages)
        if stage not in STAGES
    ]
