"""On the real testbed: the manifest's flags are read as kube-apiserver reads its argv (compared with the running
process's command line), and its mounts map container paths to host files that exist."""

from __future__ import annotations

from pathlib import Path

import pytest

from labs.audit import parse_manifest
from labs.audit.manifest import parse_flags

MANIFEST = Path("/etc/kubernetes/manifests/kube-apiserver.yaml")


def running_apiserver_argv() -> list[str]:
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if (proc / "comm").read_text().strip() == "kube-apiserver":
                    return (proc / "cmdline").read_bytes().decode().split("\0")[:-1]
            except OSError:
                continue
    pytest.fail("no kube-apiserver process is running on the testbed")


@pytest.mark.testbed
def test_the_manifest_flags_are_the_running_apiservers_flags() -> None:
    manifest = parse_manifest(MANIFEST)
    assert manifest.problems == [] and manifest.warnings == []
    running = parse_flags(running_apiserver_argv()[1:], problems := [])
    assert problems == []
    assert dict(running) == manifest.flags
    assert manifest.flag("audit-policy-file") is None  # the testbed itself does not audit
    certificate = manifest.flag("tls-cert-file")
    assert manifest.host_path_for(certificate) == certificate and Path(certificate).is_file()
