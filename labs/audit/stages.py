"""Which audit stages kube-apiserver writes for a request, given the policy's decision (WithAudit and
WithFailedAuthenticationAudit, with kube-apiserver's long-running request check)."""

from __future__ import annotations

from labs.audit.model import Decision, Request

LONG_RUNNING_VERBS = frozenset(("watch", "proxy"))
LONG_RUNNING_SUBRESOURCES = frozenset(("attach", "exec", "proxy", "log", "portforward"))


def is_long_running(request: Request) -> bool:
    """watch/proxy, a streaming subresource (exec, attach, log, portforward, proxy), or /debug/pprof/."""
    if request.verb in LONG_RUNNING_VERBS:
        return True
    if request.is_resource_request:
        return request.subresource in LONG_RUNNING_SUBRESOURCES
    return (request.path or "").startswith("/debug/pprof/")


def expected_stages(request: Request, decision: Decision, *, panicked: bool = False) -> tuple[str, ...]:
    """The stages written, in order: none at level None; one ResponseStarted for a failed authentication (no user);
    else RequestReceived, ResponseStarted for long-running requests, then ResponseComplete (Panic if the handler
    panicked); each minus the omitted stages."""
    if decision.level == "None":
        return ()
    if request.user is None:
        stages: tuple[str, ...] = ("ResponseStarted",)
    else:
        middle = ("ResponseStarted",) if is_long_running(request) else ()
        stages = ("RequestReceived", *middle, "Panic" if panicked else "ResponseComplete")
    return tuple(stage for stage in stages if stage not in decision.omit_stages)
