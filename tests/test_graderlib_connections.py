"""Connections tried from pods (labs.graderlib.connections), on this machine's own shell and HTTP server: a
connection counts only when a server answered, "none" only when the attempt ran, and a NetworkPolicy's fresh change
gets the enforcer's settling time, no more. The connections themselves run on the testbed in scenario 14's proof."""

from __future__ import annotations

import http.server
import socket
import subprocess
import threading
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from labs.graderlib import connections, settle
from labs.graderlib.connections import Attempt, Outcome, Source
from labs.graderlib.probes import ExecResult

SOURCE = Source("shop", "web", "main")


def run_here(snippet: str) -> ExecResult:
    """What a container's shell would make of the snippet, with this machine's wget and timeout."""
    done = subprocess.run(["/bin/sh", "-c", snippet], capture_output=True, text=True, check=False)
    return ExecResult(True, done.returncode, done.stdout, done.stderr)


@pytest.fixture(scope="module")
def server_port():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_an_answering_server_is_a_connection(server_port):
    attempt = Attempt(SOURCE, "127.0.0.1", server_port, "backend api")
    outcome = Outcome(attempt, run_here(connections.connect_step("127.0.0.1", server_port)))
    assert outcome.connected
    assert outcome.describe() == f"shop/web -> backend api (127.0.0.1:{server_port}): connected"


def test_a_refused_connection_is_none_and_says_why():
    port = closed_port()
    outcome = Outcome(Attempt(SOURCE, "127.0.0.1", port), run_here(connections.connect_step("127.0.0.1", port)))
    assert outcome.ran and not outcome.connected
    assert outcome.describe().startswith(f"shop/web -> 127.0.0.1:{port}: no connection (")


def test_an_unanswered_connection_times_out_within_the_attempts_seconds():
    with socket.socket() as silent:  # listens, never answers: what wget sees of dropped packets, a timeout
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        snippet = connections.connect_step("127.0.0.1", port, seconds=1)
        outcome = Outcome(Attempt(SOURCE, "127.0.0.1", port), run_here(snippet))
    assert outcome.result.exit_code == 124
    assert outcome.describe() == f"shop/web -> 127.0.0.1:{port}: no connection (timed out)"


def test_an_attempt_that_never_ran_proves_nothing():
    outcome = Outcome(Attempt(SOURCE, "10.0.0.1", 80), ExecResult(False, None, "", "", "exec refused: 404 not found"))
    assert not outcome.connected and not outcome.ran
    assert outcome.describe() == "shop/web -> 10.0.0.1:80: could not try (exec refused: 404 not found)"


def test_the_snippets_quote_what_they_are_given():
    assert connections.connect_step("a b", 80) == "timeout 2 wget -q -O /dev/null 'http://a b:80/'"
    assert connections.resolve_step("x;y") == "timeout 3 nslookup 'x;y'"


def policies(*ages: float):
    now = datetime.now(UTC)
    items = [
        SimpleNamespace(metadata=SimpleNamespace(creation_timestamp=now - timedelta(seconds=age), managed_fields=[]))
        for age in ages
    ]
    listing = SimpleNamespace(items=items)
    return SimpleNamespace(networking=SimpleNamespace(list_namespaced_network_policy=lambda *a, **k: listing))


@pytest.mark.parametrize(
    ("ages", "slept"),
    [((), None), ((60.0,), 0.0), ((1.0, 60.0), 2.0), ((-5.0,), 3.0)],
    ids=["none", "old", "fresh", "skewed"],
)
def test_a_fresh_policy_gets_the_rest_of_the_settling_time_and_no_more(monkeypatch, ages, slept):
    sleeps: list[float] = []
    monkeypatch.setattr(settle.time, "sleep", sleeps.append)
    connections.wait_for_policies_to_apply(policies(*ages), ["shop"])
    if slept is None:
        assert sleeps == []
    else:
        assert sleeps == [pytest.approx(slept, abs=0.2)]
