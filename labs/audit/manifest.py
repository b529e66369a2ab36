"""The kube-apiserver static pod manifest (/etc/kubernetes/manifests/kube-apiserver.yaml): its flags, volumes and
mounts, read the way the kubelet and kube-apiserver read them.

The kubelet decodes the Pod leniently and case-sensitively (a `readonly: true` key is dropped, the mount stays
read-write) and refuses a pod that fails validation (a mount naming no volume). kube-apiserver parses its argv with
pflag: `--flag=value` or `--flag value`; one list item `--flag value` is an unknown flag and the apiserver exits;
for a repeated flag the last one counts.
"""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labs.audit import goyaml
from labs.audit.loader import looks_like_path

BOOL_FLAGS = frozenset(
    (
        "aggregator-reject-forwarding-redirect", "allow-privileged", "anonymous-auth", "audit-log-compress",
        "audit-log-batch-throttle-enable", "audit-log-truncate-enabled", "audit-webhook-batch-throttle-enable",
        "audit-webhook-truncate-enabled", "authentication-skip-lookup", "authentication-tolerate-lookup-failure",
        "contention-profiling", "disable-http2-serving", "emulation-forward-compatible", "enable-aggregator-routing",
        "enable-bootstrap-token-auth", "enable-garbage-collector", "enable-logs-handler",
        "enable-priority-and-fairness", "encryption-provider-config-automatic-reload", "help", "log-json-split-stream",
        "log-text-split-stream", "permit-address-sharing", "permit-port-sharing", "profiling",
        "runtime-config-emulation-forward-compatible", "service-account-extend-token-expiration",
        "service-account-lookup", "shutdown-send-retry-after", "version", "watch-cache",
    )
)  # fmt: skip
"""kube-apiserver's boolean flags: `--flag` alone means true and does not take the next argument as its value."""

HOST_PATH_TYPES = ("", "DirectoryOrCreate", "Directory", "FileOrCreate", "File", "Socket", "CharDevice", "BlockDevice")
_MOUNT_KEYS = ("name", "readOnly", "recursiveReadOnly", "mountPath", "subPath", "mountPropagation", "subPathExpr")


class ManifestError(ValueError):
    """The file cannot be read as a Pod at all (the kubelet would not run it)."""


@dataclass(frozen=True)
class Volume:
    name: str
    host_path: str | None = None  # None: not a hostPath volume
    type: str = ""
    source: str = ""  # the volume source kind: hostPath, emptyDir, configMap...


@dataclass(frozen=True)
class VolumeMount:
    name: str
    mount_path: str
    read_only: bool = False
    sub_path: str = ""


@dataclass
class ApiserverManifest:
    """The kube-apiserver container of a static pod manifest.

    `problems`: what makes the kubelet refuse the pod or kube-apiserver exit (unknown flag, positional argument,
    mount without volume...). `warnings`: keys the kubelet silently drops (wrong case, typos in mounts/volumes).
    """

    path: str | None
    argv: list[str]
    flag_items: list[tuple[str, str]]
    volumes: dict[str, Volume]
    mounts: list[VolumeMount]
    container_name: str = ""
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def flags(self) -> dict[str, str]:
        """Flag name (without dashes) to value; for a repeated flag the last one, as pflag does."""
        return dict(self.flag_items)

    def flag(self, name: str) -> str | None:
        return self.flags.get(name.lstrip("-"))

    def mount_for(self, container_path: str) -> VolumeMount | None:
        """The mount a container path lives under (the deepest mountPath containing it)."""
        target = posixpath.normpath(container_path)
        containing = [
            mount
            for mount in self.mounts
            if mount.mount_path
            and (
                target == posixpath.normpath(mount.mount_path)
                or target.startswith(posixpath.normpath(mount.mount_path).rstrip("/") + "/")
            )
        ]
        return max(containing, key=lambda mount: len(posixpath.normpath(mount.mount_path)), default=None)

    def host_path_for(self, container_path: str) -> str | None:
        """Where on the node a path inside the kube-apiserver container is, or None when it is not on a hostPath
        volume (then it only exists inside the container)."""
        mount = self.mount_for(container_path)
        volume = self.volumes.get(mount.name) if mount else None
        if mount is None or volume is None or volume.host_path is None:
            return None
        relative = posixpath.relpath(posixpath.normpath(container_path), posixpath.normpath(mount.mount_path))
        base = posixpath.join(volume.host_path, mount.sub_path) if mount.sub_path else volume.host_path
        return posixpath.normpath(base if relative == "." else posixpath.join(base, relative))

    def is_writable(self, container_path: str) -> bool:
        """Whether the container can write there through a mount (False: read-only mount, or not mounted at all)."""
        mount = self.mount_for(container_path)
        return mount is not None and not mount.read_only


def parse_manifest(path_or_text: str | os.PathLike[str]) -> ApiserverManifest:
    """Read a kube-apiserver static pod manifest from a file path or its YAML text. Raises ManifestError when it is
    not a Pod the kubelet could read."""
    source: str | None = None
    text = os.fspath(path_or_text)
    if isinstance(path_or_text, os.PathLike) or looks_like_path(text):
        source = text
        try:
            text = Path(source).read_text(encoding="utf-8", errors="replace")
        except OSError as error:
            raise ManifestError(f"cannot read {source}: {error.strerror}") from None
    try:
        document = goyaml.load(text).value
    except goyaml.YamlError as error:
        raise ManifestError(f"{source or 'manifest'}: not valid YAML: {error}") from None
    if not isinstance(document, dict) or document.get("kind") != "Pod":
        kind = document.get("kind") if isinstance(document, dict) else type(document).__name__
        raise ManifestError(f"{source or 'manifest'}: not a Pod (kind {kind!r})")
    spec = document.get("spec")
    containers = spec.get("containers") if isinstance(spec, dict) else None
    if not isinstance(containers, list) or not containers or not all(isinstance(c, dict) for c in containers):
        raise ManifestError(f"{source or 'manifest'}: spec.containers is missing or empty")
    index, container = next(
        ((i, c) for i, c in enumerate(containers) if c.get("name") == "kube-apiserver"), (0, containers[0])
    )
    problems: list[str] = []
    warnings: list[str] = []
    argv = _argv(container, f"spec.containers[{index}]", problems)
    flag_items = parse_flags(argv[1:] if argv else [], problems)
    volumes = _volumes(spec.get("volumes"), problems, warnings)
    mounts = _mounts(container.get("volumeMounts"), f"spec.containers[{index}].volumeMounts", volumes, problems,
                     warnings)  # fmt: skip
    return ApiserverManifest(
        path=source,
        argv=argv,
        flag_items=flag_items,
        volumes=volumes,
        mounts=mounts,
        container_name=str(container.get("name") or ""),
        problems=problems,
        warnings=warnings,
    )


def _strings(value: Any, where: str, problems: list[str]) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        problems.append(f"{where}: must be a list of strings")
        return [str(item) for item in value] if isinstance(value, list) else []
    return value


def _argv(container: dict[str, Any], where: str, problems: list[str]) -> list[str]:
    return _strings(container.get("command"), f"{where}.command", problems) + _strings(
        container.get("args"), f"{where}.args", problems
    )


def parse_flags(args: list[str], problems: list[str]) -> list[tuple[str, str]]:
    """pflag's long-flag parsing of kube-apiserver's argv (after the program name): (name, value) in order; what
    would make the apiserver exit is appended to `problems`."""
    items: list[tuple[str, str]] = []
    positional: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if arg == "--":
            positional.extend(args[i:])
            break
        if not arg.startswith("-") or arg == "-":
            positional.append(arg)
            continue
        body = arg[2:] if arg.startswith("--") else arg[1:]
        name, has_value, value = body.partition("=")
        if not name or name.startswith("-") or any(char.isspace() for char in name):
            problems.append(
                f"unknown flag: {arg.split('=')[0]!r}: one list item holds a flag and its value; write "
                f"'--{name.split()[0] if name.split() else name}=VALUE' (kube-apiserver exits on an unknown flag)"
            )
            continue
        if not has_value:
            if name in BOOL_FLAGS:
                value = "true"
            elif i < len(args):
                value = args[i]
                i += 1
            else:
                problems.append(f"flag needs an argument: {arg}")
                continue
        items.append((name, value))
    if any(positional):
        problems.append(f'"kube-apiserver" does not take any arguments, got {positional!r} (it exits)')
    return items


def _volumes(raw: Any, problems: list[str], warnings: list[str]) -> dict[str, Volume]:
    volumes: dict[str, Volume] = {}
    if raw is None:
        return volumes
    if not isinstance(raw, list):
        problems.append("spec.volumes: must be a list")
        return volumes
    for i, entry in enumerate(raw):
        where = f"spec.volumes[{i}]"
        if not isinstance(entry, dict):
            problems.append(f"{where}: must be an object")
            continue
        name = entry.get("name")
        if not isinstance(name, str) or not name:
            problems.append(f"{where}.name: Required value")
            continue
        if name in volumes:
            problems.append(f"{where}.name: Duplicate value: {name!r}")
            continue
        sources = [key for key in entry if key != "name"]
        for key in sources:
            if key.lower() == "hostpath" and key != "hostPath":
                warnings.append(f"{where}.{key}: unknown field, dropped (the field is 'hostPath')")
        host = entry.get("hostPath")
        if isinstance(host, dict):
            for key in host:
                if key not in ("path", "type"):
                    warnings.append(f"{where}.hostPath.{key}: unknown field, dropped")
            path = host.get("path")
            kind = host.get("type") or ""
            if not isinstance(path, str) or not path:
                problems.append(f"{where}.hostPath.path: Required value")
                path = ""
            if kind not in HOST_PATH_TYPES:
                problems.append(f"{where}.hostPath.type: Unsupported value: {kind!r}")
            volumes[name] = Volume(name=name, host_path=path, type=str(kind), source="hostPath")
        else:
            volumes[name] = Volume(name=name, source=next((key for key in sources if key != "hostPath"), ""))
    return volumes


def _mounts(
    raw: Any, where: str, volumes: dict[str, Volume], problems: list[str], warnings: list[str]
) -> list[VolumeMount]:
    mounts: list[VolumeMount] = []
    if raw is None:
        return mounts
    if not isinstance(raw, list):
        problems.append(f"{where}: must be a list")
        return mounts
    seen_paths: set[str] = set()
    for i, entry in enumerate(raw):
        at = f"{where}[{i}]"
        if not isinstance(entry, dict):
            problems.append(f"{at}: must be an object")
            continue
        for key in entry:
            if key not in _MOUNT_KEYS:
                proper = next((known for known in _MOUNT_KEYS if known.lower() == key.lower()), None)
                hint = f" (the field is {proper!r}; keys are case-sensitive)" if proper else ""
                warnings.append(f"{at}.{key}: unknown field, dropped{hint}")
        name = entry.get("name") if isinstance(entry.get("name"), str) else ""
        mount_path = entry.get("mountPath") if isinstance(entry.get("mountPath"), str) else ""
        read_only = entry.get("readOnly") is True
        if not name:
            problems.append(f"{at}.name: Required value")
        elif name not in volumes:
            problems.append(f"{at}.name: Not found: {name!r} (no volume of that name: the kubelet refuses the pod)")
        if not mount_path:
            problems.append(f"{at}.mountPath: Required value")
        elif mount_path in seen_paths:
            problems.append(f"{at}.mountPath: Invalid value: {mount_path!r}: must be unique")
        seen_paths.add(mount_path)
        sub_path = entry.get("subPath") if isinstance(entry.get("subPath"), str) else ""
        mounts.append(VolumeMount(name=name, mount_path=mount_path, read_only=read_only, sub_path=sub_path))
    return mounts
