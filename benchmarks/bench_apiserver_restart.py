"""One kube-apiserver restart on the testbed, step by step: the manifest written -> the old container stopped -> the
new container started -> /readyz ok, and then -> the whole control plane ready again (kube-controller-manager and
kube-scheduler, which lose their connection meanwhile). The manifest change is an annotation (the kubelet starts a
new static pod for any change of the manifest), written three ways: in place, as a student's editor does; in two
steps waiting for the old pod's folder only (the lab's way until 2026-12-07); and in two steps as the lab's
playbooks do now (playbooks/files/swap_static_pods.sh: the old manifest out of the kubelet's directory, then the new
one in once the kubelet has removed the old pod's folder and its cgroup). Baseline measured in the same run: the new
kube-apiserver's own start (container started -> /readyz ok), the part no testbed setting can shorten.
Run as root on a testbed that is up: `python benchmarks/bench_apiserver_restart.py [--rounds 3] [--append FILE]`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import time
from datetime import datetime
from pathlib import Path

import yaml
from benchlib import publish

from labs.testbed import build, cluster

MANIFEST = cluster.MANIFESTS / "kube-apiserver.yaml"
POD_DIRECTORIES = cluster.KUBELET_DIR / "pods"


def _crictl(*args: str) -> str:
    return subprocess.run(
        [str(build.binaries_dir() / "crictl"), *args], capture_output=True, text=True, check=True
    ).stdout


def _containers() -> list[dict]:
    listing = json.loads(_crictl("ps", "-a", "--name", "^kube-apiserver$", "-o", "json"))["containers"]
    return sorted(listing, key=lambda c: int(c["createdAt"]))


def _seconds(stamp: str) -> float:
    """crictl inspect's RFC 3339 time with nanoseconds, as a Unix time."""
    trimmed = stamp[:26] + "+00:00" if stamp.endswith("Z") else stamp
    return datetime.fromisoformat(trimmed.replace("Z", "+00:00")).timestamp()


def _status(container_id: str) -> dict:
    return json.loads(_crictl("inspect", container_id))["status"]


SWAP = Path(__file__).parents[1] / "playbooks/files/swap_static_pods.sh"
HOW = ("in place", "two steps, folder only", "two steps")


def _write(text: str, how: str) -> None:
    """The manifest `text` written in place, or in two steps: the old manifest out until the kubelet has removed the
    old pod's folder, or until the lab's script (its folder and its cgroup) says it has forgotten the old pod."""
    if how == "in place":
        MANIFEST.write_text(text)
        return
    held, staged = (MANIFEST.parent.parent / f"kube-apiserver.{which}.yaml" for which in ("old", "next"))
    staged.write_text(text)  # renamed into place: the kubelet must never read a half-written manifest
    if how == "two steps":
        subprocess.run(["bash", str(SWAP), str(cluster.KUBELET_DIR), str(MANIFEST)], check=True)
        return
    MANIFEST.rename(held)
    while any(POD_DIRECTORIES.glob("*/containers/kube-apiserver")):
        time.sleep(0.05)
    staged.rename(MANIFEST)
    held.unlink()


def one_restart(original: str, round_: int, how: str) -> dict[str, float]:
    """Timestamps of one restart, relative to the manifest write (the first step of a write in two steps)."""
    old = _containers()[-1]["id"]
    manifest = yaml.safe_load(original)
    manifest["metadata"].setdefault("annotations", {})["cks-lab/bench"] = f"round-{round_}-{how}"
    changed = yaml.safe_dump(manifest)
    written = time.time()
    _write(changed, how)
    stopped = None  # when the old container was first seen not running (or gone)
    while True:
        if time.time() - written > 300:
            raise SystemExit("kube-apiserver did not restart within 300 s")
        containers = _containers()  # none for a moment: the old pod gone, the new one not created yet
        if stopped is None and not any(c["id"] == old and c["state"] == "CONTAINER_RUNNING" for c in containers):
            stopped = time.time()
        newest = containers[-1] if containers else {"id": old}
        if newest["id"] != old and newest["state"] == "CONTAINER_RUNNING" and cluster.apiserver_ready():
            ready = time.time()
            break
        time.sleep(0.05)
    cluster.wait_until_ready(300)
    control_plane = time.time()
    started = _seconds(_status(newest["id"])["startedAt"])
    return {
        "old container stopped": stopped - written,
        "new container started": started - written,
        "/readyz ok": ready - written,
        "control plane ready": control_plane - written,
        "apiserver's own start": ready - started,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--append", type=Path, help="append the Markdown section to this file")
    args = parser.parse_args()
    original = MANIFEST.read_text()
    rounds: dict[str, list[dict[str, float]]] = {how: [] for how in HOW}
    try:
        for round_ in range(args.rounds):
            for how in HOW:
                rounds[how].append(one_restart(original, round_, how))
                print(how, rounds[how][-1], flush=True)
    finally:
        MANIFEST.write_text(original)
        while not cluster.apiserver_ready():
            time.sleep(0.5)
        cluster.wait_until_ready(300)
    rows = [f"| step (seconds after the manifest was written) | {' | '.join(HOW)} |", "|---" * (len(HOW) + 1) + "|"]
    for step in rounds[HOW[0]][0]:
        cells = []
        for how in HOW:
            values = [r[step] for r in rounds[how]]
            cells.append(f"{statistics.median(values):.1f} ({', '.join(f'{v:.1f}' for v in values)})")
        rows.append(f"| {step} | {' | '.join(cells)} |")
    ratios = []
    for how in HOW:
        total, own = (statistics.median(r[k] for r in rounds[how]) for k in ("/readyz ok", "apiserver's own start"))
        ratios.append(f"{total / own:.2f}x")
    rows.append(f"| ratio: restart / the apiserver's own start | {' | '.join(ratios)} |")
    publish(
        f"## One kube-apiserver restart on the testbed ({time.strftime('%Y-%m-%d')})\n\n"
        "`benchmarks/bench_apiserver_restart.py`; median (rounds); baseline in the same run: the new kube-apiserver's "
        "own start (container started -> /readyz ok).\n\n" + "\n".join(rows) + "\n",
        args.append,
    )


if __name__ == "__main__":
    main()
