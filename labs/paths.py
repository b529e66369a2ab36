"""Where the lab keeps its cache and its state (XDG directories, overridable by environment variables)."""

from __future__ import annotations

import os
from pathlib import Path


def _xdg(var: str, default: str) -> Path:
    return Path(os.environ.get(var) or Path.home() / default)


def cache_dir() -> Path:
    """Long builds (Go binaries, image tarballs), keyed by version: survives clean clones."""
    return Path(os.environ.get("CKS_LAB_CACHE") or _xdg("XDG_CACHE_HOME", ".cache") / "cks-lab")


def state_dir() -> Path:
    """The current attempt, its seed and parameters: survives a reboot."""
    return Path(os.environ.get("CKS_LAB_STATE") or _xdg("XDG_STATE_HOME", ".local/state") / "cks-lab")
