"""Kubernetes audit logging as kube-apiserver 1.37 does it: load and validate an audit.k8s.io/v1 Policy, evaluate
requests on it, parse audit log lines and the kube-apiserver static pod manifest.

Exports are imported lazily so that `labs.audit.cli` stays cheap to import.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "load_policy": "labs.audit.loader",
    "load_policy_file": "labs.audit.loader",
    "load_policy_text": "labs.audit.loader",
    "PolicyResult": "labs.audit.loader",
    "Policy": "labs.audit.model",
    "PolicyRule": "labs.audit.model",
    "GroupResources": "labs.audit.model",
    "Request": "labs.audit.model",
    "RequestError": "labs.audit.model",
    "request_from_dict": "labs.audit.model",
    "Decision": "labs.audit.model",
    "explain": "labs.audit.evaluate",
    "parse_log_line": "labs.audit.log",
    "parse_log": "labs.audit.log",
    "AuditEvent": "labs.audit.log",
    "AuditLogError": "labs.audit.log",
    "parse_manifest": "labs.audit.manifest",
    "ApiserverManifest": "labs.audit.manifest",
    "ManifestError": "labs.audit.manifest",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'labs.audit' has no attribute {name!r}")
    return getattr(import_module(module), name)
