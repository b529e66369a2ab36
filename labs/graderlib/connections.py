"""Connections tried from inside pods, each proving it ran: what NetworkPolicies let through, judged by behaviour.

A connection is an HTTP GET with the container's `wget` under `timeout` (busybox's wget has no reliable timeout of
its own), so "connected" means a server answered. "No connection" counts only when the attempt ran: an exec that
failed, or a container without a shell, is `ran=False` and proves nothing. Whether the server listens at all is for
the caller to prove (an attempt from inside the server's own pod, which no NetworkPolicy can block).
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from labs.graderlib.probes import ExecResult, Probe
from labs.graderlib.settle import wait_until_settled

SECONDS = 2  # a NetworkPolicy drops or rejects at once; a connection that is allowed is made well within this


@dataclass(frozen=True)
class Source:
    """A container connections are tried from."""

    namespace: str
    pod: str
    container: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.pod}"


@dataclass(frozen=True)
class Attempt:
    """One connection to try: from a container to host:port (a pod IP, a Service name, ...)."""

    source: Source
    host: str
    port: int
    label: str = ""  # how messages name the target, e.g. "backend api-otter"

    def __str__(self) -> str:
        target = f"{self.label} ({self.host}:{self.port})" if self.label else f"{self.host}:{self.port}"
        return f"{self.source} -> {target}"


@dataclass(frozen=True)
class Outcome:
    """What became of an attempt."""

    attempt: Attempt
    result: ExecResult

    @property
    def ran(self) -> bool:
        return self.result.ran

    @property
    def connected(self) -> bool:
        return self.result.succeeded

    def describe(self) -> str:
        """`ns/pod -> backend (10.0.0.5:8080): connected` and the like, for criterion messages."""
        if not self.ran:
            return f"{self.attempt}: could not try ({self.result.output or 'the exec did not run'})"
        if self.connected:
            return f"{self.attempt}: connected"
        timed_out = self.result.exit_code in (124, 143)  # `timeout` ran out
        return f"{self.attempt}: no connection ({'timed out' if timed_out else self.result.output or 'refused'})"


def connect_step(host: str, port: int, seconds: int = SECONDS) -> str:
    """The shell snippet of one attempt."""
    return f"timeout {seconds} wget -q -O /dev/null {shlex.quote(f'http://{host}:{port}/')}"


def resolve_step(name: str, seconds: int = SECONDS + 1) -> str:
    """A shell snippet that succeeds when the container resolves `name` (through its resolv.conf: the cluster DNS)."""
    return f"timeout {seconds} nslookup {shlex.quote(name)}"


def try_all(probe: Probe, steps: Iterable[tuple[Source, str]]) -> list[ExecResult]:
    """Run each (source, shell snippet), every snippet in an exec of its own and all of them at once (a connection
    that is refused costs its timeout, so one after another they would add up); results in the given order."""
    steps = list(steps)
    if not steps:
        return []
    from kubernetes import client

    clients = [client.ApiClient(probe.kube.api_client.configuration) for _ in steps]

    def run(source: Source, snippet: str, api_client: Any) -> ExecResult:
        core = client.CoreV1Api(api_client)
        return probe.steps(source.namespace, source.pod, source.container, [snippet], core)[0]

    try:
        with ThreadPoolExecutor(max_workers=len(steps)) as pool:
            futures = [pool.submit(run, *step, api_client) for step, api_client in zip(steps, clients, strict=True)]
            return [future.result() for future in futures]
    finally:
        for api_client in clients:
            api_client.close()


SETTLE_SECONDS = 3.0  # how long an enforcer (Calico, kube-router) may take to apply a policy just written


def wait_for_policies_to_apply(kube: Any, namespaces: Iterable[str], seconds: float = SETTLE_SECONDS) -> None:
    """Give the NetworkPolicy enforcer time to apply what was written just now: until the newest change to a
    NetworkPolicy of `namespaces` is `seconds` old."""
    wait_until_settled(
        (p for n in namespaces for p in kube.networking.list_namespaced_network_policy(n, _request_timeout=15).items),
        seconds,
    )
