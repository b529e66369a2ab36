"""labs.graderlib.pods: what a scenario's setup recorded in annotations of its namespace, read by the graders (a
missing or unreadable record is "could not grade", never a failed criterion; a deleted namespace is a failed one)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from labs.errors import CannotGrade
from labs.graderlib.pods import recorded_by_setup, text_recorded_by_setup


def _kube(annotations: dict[str, str] | None, exists: bool = True) -> SimpleNamespace:
    namespace = SimpleNamespace(metadata=SimpleNamespace(annotations=annotations)) if exists else None
    return SimpleNamespace(core=SimpleNamespace(read_namespace=None), get=lambda read, name: namespace)


def test_the_recorded_text_is_returned_as_it_is_even_when_empty():
    assert text_recorded_by_setup(_kube({"cks-lab/falco-pid": "4242"}), "ns", "cks-lab/falco-pid") == "4242"
    assert text_recorded_by_setup(_kube({"cks-lab/falco-pid": ""}), "ns", "cks-lab/falco-pid") == ""


@pytest.mark.parametrize("kube", [_kube({"other": "x"}), _kube(None)])
def test_a_missing_record_cannot_be_graded(kube):
    with pytest.raises(CannotGrade, match=r"^namespace ns lacks the annotation cks-lab/falco-pid setup writes$"):
        text_recorded_by_setup(kube, "ns", "cks-lab/falco-pid")


def test_a_deleted_namespace_fails_the_criterion_and_says_how_to_start_again():
    with pytest.raises(pytest.fail.Exception, match=r"^namespace ns does not exist: it was deleted, .*`lab reset`"):
        text_recorded_by_setup(_kube(None, exists=False), "ns", "cks-lab/falco-pid")


def test_a_json_record_is_an_object_or_cannot_be_graded():
    assert recorded_by_setup(_kube({"cks-lab/original-pods": '{"web": "u1"}'}), "ns", "cks-lab/original-pods") == {
        "web": "u1"
    }
    for broken in ({"cks-lab/original-pods": "[1]"}, {"cks-lab/original-pods": "{"}, {}):
        with pytest.raises(CannotGrade, match="lacks the annotation cks-lab/original-pods setup writes"):
            recorded_by_setup(_kube(broken), "ns", "cks-lab/original-pods")
