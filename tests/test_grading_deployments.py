"""labs.graderlib.deployments: how a Deployment setup created is described when a student changed it (pure logic;
waiting for a scale-down is proven on the testbed by the scenarios that use it)."""

from __future__ import annotations

from types import SimpleNamespace

from labs.graderlib.deployments import ScaleDown, deployment_changes


def _deployment(uid: str = "u1", replicas: int | None = 2, generation: int = 1, revision: str = "1"):
    metadata = SimpleNamespace(
        uid=uid, generation=generation, annotations={"deployment.kubernetes.io/revision": revision}
    )
    return SimpleNamespace(metadata=metadata, spec=SimpleNamespace(replicas=replicas))


def test_an_untouched_deployment_has_no_changes():
    assert deployment_changes(_deployment(), "u1", 2) == []


def test_a_deleted_or_recreated_deployment_says_so():
    assert deployment_changes(None, "u1", 2) == ["deleted"]
    assert deployment_changes(_deployment(uid="u2"), "u1", 2) == ["deleted and recreated"]


def test_scaling_and_a_new_pod_template_are_both_named():
    changed = _deployment(replicas=0, generation=3, revision="2")
    assert deployment_changes(changed, "u1", 2) == [
        "scaled to 0 replicas (was 2)",
        "its Pod template was changed (revision 2)",
    ]


def test_scaling_away_and_back_counts_as_an_edit():
    assert deployment_changes(_deployment(generation=3), "u1", 2) == ["its spec was edited since setup (generation 3)"]


def test_a_scale_down_is_complete_only_at_zero_replicas_without_pods():
    assert ScaleDown(_deployment(replicas=0)).complete
    assert not ScaleDown(_deployment(replicas=0), pods=[object()]).complete
    assert not ScaleDown(_deployment(replicas=1)).complete
    assert ScaleDown(_deployment(replicas=None)).replicas == 1
