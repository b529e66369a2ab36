"""The pinned versions, read from versions.yml at the repository root (shared with Ansible and Vagrant)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent
VERSIONS_FILE = REPO_ROOT / "versions.yml"


class Versions(BaseModel):
    """Every version the project pins, one field per component."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kubernetes_version: str
    etcd_version: str
    containerd_version: str
    cri_tools_version: str
    pause_version: str
    coredns_version: str
    crane_version: str
    kube_router_version: str
    traefik_version: str
    gvisor_go_version: str
    gvisor_release: str
    kube_bench_version: str
    calico_version: str
    falco_version: str

    @property
    def kubernetes_minor(self) -> str:
        """`1.37` for `1.37.2`."""
        return ".".join(self.kubernetes_version.split(".")[:2])


@cache
def pinned() -> Versions:
    """The versions pinned in versions.yml."""
    return Versions.model_validate(yaml.safe_load(VERSIONS_FILE.read_text()))
