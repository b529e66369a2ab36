"""Nothing of a student's work is lost: before a setup, solution or reset runs, the node files it may overwrite (the
scenario's `keeps`: manifests, Falco rules, policies, answer files) are copied under the state directory, in a
folder named by time, scenario and stage, and the lab says where."""

from __future__ import annotations

import base64
import io
import shlex
import subprocess
import sys
import tarfile
from datetime import datetime
from pathlib import Path

from labs.catalog import Scenario
from labs.errors import TargetError
from labs.paths import state_dir
from labs.targets import Target


def _archive_command(paths: list[str]) -> str:
    """A shell command printing a base64 tar.gz of those of `paths` that exist (nothing when none does)."""
    quoted = " ".join(shlex.quote(path) for path in paths)
    return (
        f'set --; for p in {quoted}; do [ -e "$p" ] && set -- "$@" "${{p#/}}"; done; '
        '[ $# -eq 0 ] || tar -C / -czf - "$@" | base64 -w0'
    )


def _run(target: Target, node: str, command: str) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of a shell command on the node (directly when the node is this machine)."""
    if target.is_local(node):
        done = subprocess.run(["/bin/sh", "-c", command], capture_output=True, text=True, check=False)
        return done.returncode, done.stdout, done.stderr
    result = target.host(node).run(command)
    return result.rc, result.stdout, result.stderr


def _folder(scenario: Scenario, stage: str) -> Path:
    return state_dir() / "kept" / f"{datetime.now().strftime('%Y%m%d-%H%M%S-%f')}-{scenario.id}-{stage}"


def keep_files(scenario: Scenario, target: Target, stage: str) -> Path | None:
    """Copy the files of `scenario.spec.keeps` from their nodes into a new folder (node/path inside); its path, or
    None when there was nothing to keep. A node that cannot be reached is a TargetError, before anything changed."""
    folder = _folder(scenario, stage)
    for node, paths in scenario.spec.keeps.items():
        code, archive, problem = _run(target, node, _archive_command(paths))
        if code != 0:
            copied = ", ".join(paths)
            raise TargetError(f"could not copy {copied} on {node} before the {stage}: {problem.strip()}")
        if not archive.strip():
            continue
        destination = folder / node
        destination.mkdir(parents=True, exist_ok=True)
        with tarfile.open(fileobj=io.BytesIO(base64.b64decode(archive)), mode="r:gz") as files:
            files.extractall(destination, filter="data")
    if not folder.exists():
        return None
    print(f"lab: copies of the files the {stage} may overwrite are kept in {folder}", file=sys.stderr)
    return folder
