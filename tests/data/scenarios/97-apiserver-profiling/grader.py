"""Test-only scenario 97: kube-apiserver runs with --profiling=false and is healthy."""

from __future__ import annotations

import pytest

from labs.graderlib.apiserver import wrong_running_flags


@pytest.mark.points(1)
def test_kube_apiserver_is_running_and_ready(apiserver):
    """kube-apiserver is running with the manifest's flags and ready"""
    assert apiserver.healthy, apiserver.describe()


@pytest.mark.points(1)
def test_kube_apiserver_does_not_profile(running_flags):
    """The running kube-apiserver has --profiling=false"""
    wrong = wrong_running_flags(running_flags, {"profiling": "false"})
    assert not wrong, wrong
