"""`load_policy`: what kube-apiserver 1.37 does with an --audit-policy-file, with the verdict explained.

Order (k8s.io/apiserver pkg/audit/policy/reader.go): read the file; decode strictly, on unknown/duplicate fields log a
warning and decode leniently (those fields are dropped); refuse a group/version other than audit.k8s.io/v1; refuse
validation errors; refuse a policy with 0 rules. Refusing means kube-apiserver exits at startup.
"""

from __future__ import annotations

import difflib
import errno
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labs.audit.decode import decode
from labs.audit.model import GroupResources, Policy, PolicyRule
from labs.audit.validation import FieldError, aggregate_message, validate_policy

_RULE_FIELDS = (
    "level",
    "users",
    "userGroups",
    "verbs",
    "resources",
    "namespaces",
    "nonResourceURLs",
    "omitStages",
    "omitManagedFields",
)
_KNOWN_FIELDS = {
    "": ("apiVersion", "kind", "metadata", "rules", "omitStages", "omitManagedFields"),
    "rule": _RULE_FIELDS,
    "resources": ("group", "resources", "resourceNames"),
}


@dataclass
class PolicyResult:
    """The verdict on a policy file.

    `errors`: why kube-apiserver refuses it (empty: accepted). `warnings`: strict-decoding complaints (unknown or
    duplicate fields), which the apiserver only logs: those fields are dropped. `policy`: what the apiserver evaluates
    (None when refused); `decoded`: whatever decoding produced, even when refused. `notes`: plain-language hints.
    """

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    policy: Policy | None = None
    decoded: Policy | None = None
    source: str | None = None
    apiserver_error: str | None = None
    lenient_warning: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def refused(self) -> bool:
        return bool(self.errors)

    def verdict(self) -> str:
        """A person-readable account of what kube-apiserver does with this policy."""
        lines = []
        where = f" {self.source}" if self.source else ""
        if self.refused:
            lines.append(f"REFUSED: kube-apiserver would exit at startup with{where}:")
            lines.append(f"  {self.apiserver_error}")
        else:
            count = len(self.policy.rules) if self.policy else 0
            lines.append(f"ACCEPTED{where}: {count} rule{'s' if count != 1 else ''}")
        if self.warnings:
            lines.append(
                "kube-apiserver logs 'Audit policy contains errors, falling back to lenient decoding', dropping:"
            )
            lines.extend(f"  - {warning}" for warning in self.warnings)
        lines.extend(f"note: {note}" for note in self.notes)
        return "\n".join(lines)

    def as_json(self) -> dict[str, Any]:
        return {
            "refused": self.refused,
            "errors": self.errors,
            "warnings": self.warnings,
            "apiserverError": self.apiserver_error,
            "notes": self.notes,
        }


def load_policy(text_or_path: str | os.PathLike[str]) -> PolicyResult:
    """Load a policy from a path (a `Path`, or a one-line string that looks like a path) or from its text."""
    if isinstance(text_or_path, os.PathLike) or looks_like_path(text_or_path):
        return load_policy_file(text_or_path)
    return load_policy_text(text_or_path)


def looks_like_path(text: str) -> bool:
    """One line, not JSON/YAML flow, no `key: value`: a file name (existing or not) rather than a document."""
    stripped = text.strip()
    return bool(stripped) and "\n" not in stripped and not stripped.startswith(("{", "[")) and ": " not in stripped


def load_policy_file(path: str | os.PathLike[str]) -> PolicyResult:
    """LoadPolicyFromFile: a read error is refused as `failed to read file path "..."`."""
    name = os.fspath(path)
    try:
        data = Path(name).read_bytes()
    except OSError as error:
        operation = "read" if error.errno == errno.EISDIR else "open"
        reason = os.strerror(error.errno or 0)
        message = f'failed to read file path "{name}": {operation} {name}: {reason[:1].lower()}{reason[1:]}'
        result = PolicyResult(errors=[message], source=name)
        result.apiserver_error = f"loading audit policy file: {message}"
        result.notes.append("the file must exist at that path inside the kube-apiserver container (hostPath mount)")
        return result
    text = data.decode("utf-8", errors="replace")
    return load_policy_text(text, source=name)


def load_policy_text(text: str, source: str | None = None) -> PolicyResult:
    """LoadPolicyFromBytes on `text`; `source` only adds `: from file PATH` to the apiserver's message."""
    result = PolicyResult(source=source)
    decoded = decode(text)
    if decoded.fatal is not None:
        _refuse(result, [f"failed decoding: {decoded.fatal}"], _decode_notes(decoded.fatal))
        return result
    result.lenient_warning = (
        f"Audit policy contains errors, falling back to lenient decoding: {decoded.strict_message}"
        if decoded.strict_message
        else None
    )
    if decoded.fields is None:
        _refuse(
            result,
            [f"unknown group version field {decoded.gvk_text} in policy"],
            ["the file needs `apiVersion: audit.k8s.io/v1` and `kind: Policy`"],
        )
        return result
    result.warnings = [*decoded.yaml_duplicates, *decoded.strict]
    result.notes.extend(_strict_notes(decoded.yaml_duplicates, decoded.strict))
    policy = policy_from_fields(decoded.fields)
    result.decoded = policy
    field_errors = validate_policy(policy)
    if field_errors:
        _refuse(
            result,
            [str(error) for error in field_errors],
            [e.hint for e in field_errors if e.hint],
            aggregate=aggregate_message(field_errors),
        )
        return result
    if not policy.rules:
        _refuse(result, ["loaded illegal policy with 0 rules"], ["a policy needs at least one rule under `rules:`"])
        return result
    result.policy = policy
    return result


def _refuse(result: PolicyResult, errors: list[str], notes: list[str], aggregate: str | None = None) -> None:
    result.errors = errors
    message = aggregate if aggregate is not None else errors[0]
    suffix = f": from file {result.source}" if result.source else ""
    result.apiserver_error = f"loading audit policy file: {message}{suffix}"
    result.notes.extend(dict.fromkeys(notes))


def _decode_notes(fatal: str) -> list[str]:
    if "is registered for version" in fatal:
        return ["only apiVersion audit.k8s.io/v1 with kind Policy is accepted (v1alpha1/v1beta1 were removed in 1.24)"]
    if fatal.startswith("yaml:") or "json parse error" in fatal:
        return ["the file is not valid YAML/JSON"]
    if "cannot unmarshal" in fatal:
        return ["a field has the wrong type (a string where a list is expected? write verbs: [get], not verbs: get)"]
    return []


_STRICT_FIELD = re.compile(r'^(unknown|duplicate) field "(.*)"$')


def _strict_notes(yaml_duplicates: list[str], strict: list[str]) -> list[str]:
    notes = [f"{dup}: only the last value counts" for dup in yaml_duplicates]
    for message in strict:
        match = _STRICT_FIELD.match(message)
        if not match:
            continue
        what, path = match.groups()
        if what == "duplicate":
            notes.append(f"{path} appears twice: the last one counts")
            continue
        notes.append(f"{path} is not a field: ignored, so it restricts nothing{_suggestion(path)}")
    return notes


def _suggestion(path: str) -> str:
    parent, _, name = path.rpartition(".")
    if re.search(r"resources\[\d+\]$", parent) and name in _RULE_FIELDS and name != "resources":
        return f" ({name!r} belongs to the rule: it looks mis-indented inside resources[])"
    in_resources = re.search(r"resources\[\d+\]$", parent)
    scope = "resources" if in_resources else "rule" if re.search(r"rules\[\d+\]$", parent) else ""
    known = _KNOWN_FIELDS.get(scope, ()) if scope or not parent else ()
    for candidate in known:
        if candidate.lower() == name.lower():
            return f" (did you mean {candidate!r}? field names are case-sensitive)"
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def policy_from_fields(fields: dict[str, Any]) -> Policy:
    """The Policy model from decoded v1 fields (lists that were null or absent are empty)."""
    rules = []
    for rule in fields.get("rules") or []:
        rule = rule or {}
        resources = tuple(
            GroupResources(
                group=entry.get("group") or "",
                resources=tuple(entry.get("resources") or ()),
                resource_names=tuple(entry.get("resourceNames") or ()),
            )
            for entry in (entry or {} for entry in rule.get("resources") or [])
        )
        rules.append(
            PolicyRule(
                level=rule.get("level") or "",
                users=tuple(rule.get("users") or ()),
                user_groups=tuple(rule.get("userGroups") or ()),
                verbs=tuple(rule.get("verbs") or ()),
                resources=resources,
                namespaces=tuple(rule.get("namespaces") or ()),
                non_resource_urls=tuple(rule.get("nonResourceURLs") or ()),
                omit_stages=tuple(rule.get("omitStages") or ()),
                omit_managed_fields=rule.get("omitManagedFields"),
            )
        )
    return Policy(
        rules=tuple(rules),
        omit_stages=tuple(fields.get("omitStages") or ()),
        omit_managed_fields=bool(fields.get("omitManagedFields")),
    )


__all__ = ["FieldError", "PolicyResult", "load_policy", "load_policy_file", "load_policy_text"]
