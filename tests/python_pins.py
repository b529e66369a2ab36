"""The Python packages pinned in constraints.txt, for the tests of every place that installs Ansible (the
developers' .venv, the VMs' provisioning virtualenv, the lab's virtualenv)."""

from __future__ import annotations

from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]
CONSTRAINTS = REPO / "constraints.txt"


def pinned_packages() -> dict[str, str]:
    """Package name (canonical: lower case, dashes) => the one version the constraints file allows."""
    pins = {}
    for line in CONSTRAINTS.read_text().splitlines():
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        requirement = Requirement(text)
        (specifier,) = requirement.specifier
        assert specifier.operator == "==", f"{CONSTRAINTS.name}: {text} must pin one version (==)"
        pins[canonicalize_name(requirement.name)] = specifier.version
    return pins
