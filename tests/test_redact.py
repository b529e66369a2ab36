"""labs.redact: credentials never reach a report, and grader messages that merely name them stay as they are."""

import pytest

from labs.redact import redacted


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("    client-key-data: LS0tLS1CRUdJTi", "    client-key-data: [redacted]"),
        ('{"token": "abcdef.0123456789abcdef"}', '{"token": "[redacted]"}'),
        ("PASSWORD=hunter2 rest", "PASSWORD=[redacted] rest"),
        ("a eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln b", "a [redacted] b"),
        (
            "x -----BEGIN EC PRIVATE KEY-----\nMHcC\n-----END EC PRIVATE KEY----- y",
            "x -----BEGIN EC PRIVATE KEY----- [redacted] y",
        ),
    ],
)
def test_credentials_are_redacted(text, shown):
    assert redacted(text) == shown


@pytest.mark.parametrize(
    "text",
    [
        "secrets are logged at Metadata (rule 2)",
        "the reader of secret payment-token-ocelot can no longer get it",
        "service account tokens: not mounted",
        "rule 'Read sensitive file untrusted' fires for: cat reading /etc/shadow",
    ],
)
def test_messages_that_name_credentials_stay_as_they_are(text):
    assert redacted(text) == text
