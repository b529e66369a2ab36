"""Which Falco the engine behaves like: the version pinned in versions.yml, its engine and container plugin versions."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from labs.versions import pinned

# Falco minor -> (engine version, bundled container plugin version); from falco's falco_engine_version.h and
# CMakeLists.txt at each tag. 0.42's plugin version is the one falco-rules 5.x requires (its CMake pin is not stored).
_FALCO_RELEASES = {
    "0.42": ("0.57.0", "0.4.0"),
    "0.43": ("0.58.0", "0.6.1"),
    "0.44": ("0.62.0", "0.7.1"),
}


@dataclass(frozen=True, order=True, slots=True)
class Semver:
    major: int
    minor: int
    patch: int

    @classmethod
    def parse(cls, text: str) -> Semver | None:
        match = re.fullmatch(r"(\d+)\.(\d+)\.(\d+)(?:[-+][0-9A-Za-z.-]*)?", text.strip())
        return cls(*(int(g) for g in match.groups())) if match else None

    def compatible_with(self, required: Semver) -> bool:
        """libsinsp's sinsp_version::compatible_with: same major, and at least the required version."""
        return self.major == required.major and self >= required

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"


def falco_version() -> str:
    return pinned().falco_version


@cache
def _release() -> tuple[str, str]:
    minor = ".".join(falco_version().split(".")[:2])
    if minor not in _FALCO_RELEASES:
        raise RuntimeError(f"labs.falco does not know Falco {minor}; add it to labs/falco/emulation.py")
    return _FALCO_RELEASES[minor]


def engine_version() -> Semver:
    """The rules engine version of the pinned Falco (what `required_engine_version` is checked against)."""
    return Semver.parse(_release()[0])


def loaded_plugins() -> dict[str, Semver]:
    """The plugins the pinned Falco loads by default, by name."""
    return {"container": Semver.parse(_release()[1])}
