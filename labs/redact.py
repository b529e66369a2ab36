"""Credentials out of what the lab shows and writes: a grader's message may quote a file a student pointed it at
(a kubeconfig, a token, a key), and reports travel (CI artifacts, an instructor's mail)."""

from __future__ import annotations

import re

REDACTED = "[redacted]"
_PEM = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----.*?(?:-----END \1-----|\Z)", re.DOTALL)
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*")
_SECRET_KEYS = re.compile(
    r"(?i)\b(client-key-data|client-certificate-data|certificate-authority-data|token|password)"
    r"([\"']?\s*[:=]\s*[\"']?)([^\s\"',;}]+)"
)


def redacted(text: str) -> str:
    """`text` with PEM blocks, JSON Web Tokens and the values of credential keys (a kubeconfig's key data, a token,
    a password) replaced by [redacted]."""
    text = _PEM.sub(lambda found: f"-----BEGIN {found.group(1)}----- {REDACTED}", text)
    text = _JWT.sub(REDACTED, text)
    return _SECRET_KEYS.sub(lambda found: f"{found.group(1)}{found.group(2)}{REDACTED}", text)
