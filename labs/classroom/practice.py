"""A practice class on one kubeadm cluster: more users of the same cluster, each with a client-certificate kubeconfig
made by `kubeadm kubeconfig user` from the cluster's CA and bound to cluster-admin. Instructors use it to try
`lab grade` on a single cluster; the project's tests and benchmark use it on the testbed."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import yaml

from labs.errors import LabError
from labs.versions import pinned

ADMIN_CONF = Path("/etc/kubernetes/admin.conf")
BINDING_LABEL = "cks-lab/practice-user"


def server_of(kubeconfig: Path) -> str:
    """The API server address of a kubeconfig's first cluster (`https://10.0.0.1:6443`)."""
    clusters = yaml.safe_load(kubeconfig.read_text()).get("clusters") or []
    if not clusters:
        raise LabError(f"{kubeconfig} names no cluster")
    return clusters[0]["cluster"]["server"]


def user_kubeconfig(user: str, kubeadm: str, admin: Path = ADMIN_CONF) -> str:
    """A kubeconfig for `user` (CN=user) on the cluster of `admin`, signed by the cluster's CA (run as root)."""
    endpoint = server_of(admin).removeprefix("https://")
    config = {
        "apiVersion": "kubeadm.k8s.io/v1beta4",
        "kind": "ClusterConfiguration",
        "kubernetesVersion": f"v{pinned().kubernetes_version}",
        "controlPlaneEndpoint": endpoint,
    }
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as handle:
        yaml.safe_dump(config, handle)
        handle.flush()
        result = subprocess.run(
            [kubeadm, "kubeconfig", "user", f"--client-name={user}", f"--config={handle.name}"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    if result.returncode != 0 or "apiVersion" not in result.stdout:
        raise LabError(f"kubeadm kubeconfig user {user} failed: {result.stderr.strip()[-300:]}")
    return result.stdout


def cluster_admin_binding(user: str) -> dict:
    """A ClusterRoleBinding of `user` to cluster-admin, labelled so that it can be found and removed."""
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": f"cks-lab-practice-{user}", "labels": {BINDING_LABEL: user}},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}],
    }
