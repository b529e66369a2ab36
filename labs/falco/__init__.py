"""Falco rules engine: load rules files like Falco and evaluate JSON events against them (`lab falco ...`).

The package's names are loaded lazily so that `labs.falco.cli` stays cheap to import.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Match", "Ruleset", "load_rules"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from labs.falco import ruleset

        return getattr(ruleset, name)
    raise AttributeError(name)
