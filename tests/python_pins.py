"""The Python packages pinned in constraints.txt, and wheelhouses that hold them, for the tests of every place that
installs Ansible (the developers' .venv, the VMs' provisioning virtualenv, the lab's virtualenv)."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from labs.paths import cache_dir

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


def wheelhouse(requirements: list[str]) -> Path:
    """Wheels of these requirements and their dependencies at the pinned versions, downloaded once per set of
    requirements and pins into the cache, so that a test's pip fills a fresh virtualenv without asking the index
    (this machine's PyPI answers are not cached by pip)."""
    recipe = "\n".join([*requirements, CONSTRAINTS.read_text()])
    digest = hashlib.sha256(recipe.encode()).hexdigest()[:16]
    wheels = cache_dir() / "provisioning-test-wheels" / digest
    if not wheels.is_dir():
        partial = wheels.with_name(f"{digest}.partial")
        shutil.rmtree(partial, ignore_errors=True)
        pip = Path(sys.executable).parent / "pip"
        download = [pip, "download", "--quiet", "--constraint", CONSTRAINTS, "--dest", partial, *requirements]
        subprocess.run(download, check=True, timeout=1800)
        partial.rename(wheels)
    return wheels
