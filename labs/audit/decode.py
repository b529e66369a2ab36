"""kube-apiserver's decoding of an audit policy file (strict first, lenient on strict-only errors), reimplemented.

The steps follow k8s.io/apiserver pkg/audit/policy/reader.go and the apimachinery serializers it uses:
JSON text (first non-space character `{`) is read as JSON, anything else as YAML (sigs.k8s.io/yaml); apiVersion and
kind are read case-insensitively (encoding/json) to pick the type, then the object is decoded case-sensitively
(sigs.k8s.io/json). Unknown and duplicate fields are strict-only errors: the apiserver logs them and decodes again
leniently, so they are dropped. Anything else is fatal (`failed decoding: ...`).
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from labs.audit import goyaml, jsontext
from labs.audit.schema import decode_policy, is_object, json_kind, pairs

AUDIT_GROUP = "audit.k8s.io"
INTERNAL_VERSION = "__internal"
# runtime.NewScheme() names the scheme after its call site; release builds of kube-apiserver print this one
# (a binary built with the modules outside the kubernetes tree prints "pkg/runtime/scheme.go:111" instead).
SCHEME_NAME = "k8s.io/apiserver/pkg/audit/scheme.go:30"

# Kinds the audit scheme knows besides v1 Policy, with the Go type named in "converting (T) to (audit.Policy)".
_OTHER_KINDS: dict[tuple[str, str], dict[str, str]] = {
    (AUDIT_GROUP, "v1"): {
        **{kind: f"v1.{kind}" for kind in ("Event", "EventList", "PolicyList", "WatchEvent")},
        **{f"{verb}Options": f"v1.{verb}Options" for verb in ("Create", "Delete", "Get", "List", "Patch", "Update")},
    },
    (AUDIT_GROUP, INTERNAL_VERSION): {
        "Event": "audit.Event",
        "EventList": "audit.EventList",
        "PolicyList": "audit.PolicyList",
        "WatchEvent": "v1.InternalEvent",
    },
    ("", "v1"): {
        kind: f"v1.{kind}"
        for kind in (
            "APIGroup",
            "APIGroupList",
            "APIResourceList",
            "APIVersions",
            "CreateOptions",
            "DeleteOptions",
            "GetOptions",
            "ListOptions",
            "PatchOptions",
            "Status",
            "UpdateOptions",
            "WatchEvent",
        )
    },
}
_FIND_KIND_TYPE = (
    'struct { APIVersion string "json:\\"apiVersion,omitempty\\""; Kind string "json:\\"kind,omitempty\\"" }'
)


@dataclass
class Decoded:
    """The outcome of decoding: the v1 fields (JSON names) or a fatal error, and the strict-mode complaints."""

    fields: dict[str, Any] | None
    group: str = ""
    version: str = ""
    kind: str = ""
    fatal: str | None = None
    strict: list[str] = field(default_factory=list)
    yaml_duplicates: list[str] = field(default_factory=list)

    @property
    def strict_message(self) -> str | None:
        """The text kube-apiserver logs before falling back to lenient decoding."""
        parts = []
        if self.yaml_duplicates:
            parts.append("yaml: unmarshal errors:\n  " + "\n  ".join(self.yaml_duplicates))
        parts.extend(self.strict)
        return "strict decoding error: " + ", ".join(parts) if parts else None

    @property
    def gvk_text(self) -> str:
        """schema.GroupVersionKind.String()."""
        return f"{self.group}/{self.version}, Kind={self.kind}"


def _is_json(text: str) -> bool:
    """apimachinery's IsJSONBuffer: the first non-space character is '{'."""
    return text.lstrip(_SPACES).startswith("{")


_SPACES = (
    "\t\n\v\f\r \x85\xa0\u1680" + "".join(chr(c) for c in range(0x2000, 0x200B)) + "\u2028\u2029\u202f\u205f\u3000"
)


def decode(text: str) -> Decoded:
    """Decode policy text as kube-apiserver 1.37 does, up to (not including) validation."""
    try:
        return _decode(text)
    except RecursionError:
        return Decoded(None, fatal="document nested too deeply for this reader")


def _decode(text: str) -> Decoded:
    duplicates: list[str] = []
    if _is_json(text):
        try:
            document = jsontext.loads(text)
        except jsontext.JsonSyntaxError as error:
            return Decoded(None, fatal=f"couldn't get version/kind; json parse error: {error}")
    else:
        try:
            parsed = goyaml.load(text)
        except goyaml.YamlError as error:
            return Decoded(None, fatal=str(error))
        document, duplicates = parsed.value, parsed.duplicates
        unsupported = _first_non_finite(document)
        if unsupported:
            return Decoded(None, fatal=f"json: unsupported value: {unsupported}")

    found = _interpret(document)
    if isinstance(found, str):
        return Decoded(None, fatal=found)
    group, version, kind = found
    # gvkWithDefaults against the type decoded into (the internal Policy)
    kind = kind or "Policy"
    if not version and not group:
        group, version = AUDIT_GROUP, INTERNAL_VERSION
    if not version and group == AUDIT_GROUP:
        version = INTERNAL_VERSION
    result = Decoded(None, group=group, version=version, kind=kind)
    if (group, version, kind) == (AUDIT_GROUP, INTERNAL_VERSION, "Policy"):
        return result  # decoded into the internal type: the reader then refuses the group/version
    if (group, version, kind) != (AUDIT_GROUP, "v1", "Policy"):
        go_type = _OTHER_KINDS.get((group, version), {}).get(kind)
        gv = f"{group}/{version}" if group else version
        where = (
            f"the internal version of group {_quote(group)}" if version == INTERNAL_VERSION else f"version {_quote(gv)}"
        )
        result.fatal = (
            f"converting ({go_type}) to (audit.Policy): unknown conversion"
            if go_type
            else f"no kind {_quote(kind)} is registered for {where} in scheme {_quote(SCHEME_NAME)}"
        )
        return result
    fields, state = decode_policy(document)
    result.fields, result.fatal = fields, state.fatal
    if state.fatal is None:
        result.strict, result.yaml_duplicates = state.strict, duplicates
    return result


def _quote(text: str) -> str:
    from labs.audit.gofmt import go_quote

    return go_quote(text)


def _first_non_finite(value: Any) -> str | None:
    """json.Marshal refuses NaN and ±Inf, which YAML can express (`.nan`, `.inf`)."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("+Inf" if value > 0 else "-Inf")
    children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    for child in children:
        found = _first_non_finite(child)
        if found:
            return found
    return None


def _fold(key: str) -> str:
    return unicodedata.normalize("NFC", key).casefold()


def _interpret(document: Any) -> tuple[str, str, str] | str:
    """SimpleMetaFactory.Interpret: apiVersion/kind via encoding/json (keys matched case-insensitively)."""
    if document is not None and not is_object(document):
        return (
            f"couldn't get version/kind; json parse error: json: cannot unmarshal {json_kind(document)} "
            f"into Go value of type {_FIND_KIND_TYPE}"
        )
    found = {"apiversion": "", "kind": ""}
    names = {"apiversion": "apiVersion", "kind": "kind"}
    type_error = None
    for key, value in pairs(document) if document is not None else ():
        folded = _fold(key)
        if folded not in found or value is None:
            continue
        if isinstance(value, str):
            found[folded] = value
        elif type_error is None:
            type_error = (
                f"couldn't get version/kind; json parse error: json: cannot unmarshal {json_kind(value)} "
                f"into Go struct field .{names[folded]} of type string"
            )
    if type_error:
        return type_error
    api_version = found["apiversion"]
    if api_version in ("", "/"):
        return "", "", found["kind"]
    if api_version.count("/") > 1:
        return f"unexpected GroupVersion string: {api_version}"
    group, _, version = api_version.rpartition("/")
    return group, version, found["kind"]
