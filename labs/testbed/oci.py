"""Write single-layer OCI image archives (what `ctr images import` reads) from a list of files, deterministically."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

LAYER_MEDIA_TYPE = "application/vnd.oci.image.layer.v1.tar"
CONFIG_MEDIA_TYPE = "application/vnd.oci.image.config.v1+json"
MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"


@dataclass(frozen=True)
class Entry:
    """One path in the image: a regular file (from bytes or a host file), a directory or a symlink."""

    path: str
    data: bytes | None = None
    source: Path | None = None
    mode: int = 0o644
    symlink_to: str | None = None
    is_dir: bool = False
    uid: int = 0
    gid: int = 0

    @classmethod
    def directory(cls, path: str, mode: int = 0o755, uid: int = 0, gid: int = 0) -> Entry:
        return cls(path, mode=mode, is_dir=True, uid=uid, gid=gid)

    @classmethod
    def host_file(cls, path: str, source: Path, mode: int | None = None) -> Entry:
        resolved = source.resolve()
        return cls(path, source=resolved, mode=mode if mode is not None else resolved.stat().st_mode & 0o7777)

    @classmethod
    def text(cls, path: str, content: str, mode: int = 0o644) -> Entry:
        return cls(path, data=content.encode(), mode=mode)

    @classmethod
    def link(cls, path: str, target: str) -> Entry:
        return cls(path, symlink_to=target, mode=0o777)


@dataclass
class ImageConfig:
    """The runtime part of an image config (what `docker inspect` shows under Config)."""

    entrypoint: list[str] | None = None
    cmd: list[str] | None = None
    env: list[str] = field(
        default_factory=lambda: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
    )
    working_dir: str = "/"
    user: str = ""
    exposed_ports: list[str] = field(default_factory=list)
    stop_signal: str | None = None

    def as_json(self) -> dict:
        config: dict = {"Env": self.env, "WorkingDir": self.working_dir}
        if self.entrypoint:
            config["Entrypoint"] = self.entrypoint
        if self.cmd:
            config["Cmd"] = self.cmd
        if self.user:
            config["User"] = self.user
        if self.exposed_ports:
            config["ExposedPorts"] = {port: {} for port in self.exposed_ports}
        if self.stop_signal:
            config["StopSignal"] = self.stop_signal
        return config


def layer_tar(entries: list[Entry]) -> bytes:
    """A reproducible tar of the entries (sorted, parents first, mtime 0), with missing parent directories added."""
    by_path: dict[str, Entry] = {}
    for entry in entries:
        path = entry.path.strip("/")
        by_path[path] = entry
        parts = path.split("/")
        for depth in range(1, len(parts)):
            by_path.setdefault("/".join(parts[:depth]), Entry.directory("/".join(parts[:depth])))
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(by_path):
            entry = by_path[path]
            info = tarfile.TarInfo(path)
            info.mode, info.uid, info.gid, info.mtime = entry.mode, entry.uid, entry.gid, 0
            if entry.is_dir:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif entry.symlink_to is not None:
                info.type, info.linkname = tarfile.SYMTYPE, entry.symlink_to
                tar.addfile(info)
            else:
                data = entry.data if entry.data is not None else entry.source.read_bytes()  # type: ignore[union-attr]
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _blob(content: bytes) -> tuple[str, bytes]:
    return "sha256:" + hashlib.sha256(content).hexdigest(), content


def write_archive(out: Path, name: str, entries: list[Entry], config: ImageConfig, arch: str = "amd64") -> None:
    """Write an OCI image-layout tarball for image `name` (e.g. `registry.k8s.io/pause:3.10.2`) to `out`."""
    layer_digest, layer = _blob(layer_tar(entries))
    image_config = {
        "architecture": arch,
        "os": "linux",
        "config": config.as_json(),
        "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
        "history": [{"created_by": "cks-lab testbed image builder"}],
    }
    config_digest, config_blob = _blob(json.dumps(image_config, sort_keys=True).encode())
    manifest = {
        "schemaVersion": 2,
        "mediaType": MANIFEST_MEDIA_TYPE,
        "config": {"mediaType": CONFIG_MEDIA_TYPE, "digest": config_digest, "size": len(config_blob)},
        "layers": [{"mediaType": LAYER_MEDIA_TYPE, "digest": layer_digest, "size": len(layer)}],
    }
    manifest_digest, manifest_blob = _blob(json.dumps(manifest, sort_keys=True).encode())
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": MANIFEST_MEDIA_TYPE,
                "digest": manifest_digest,
                "size": len(manifest_blob),
                "platform": {"architecture": arch, "os": "linux"},
                "annotations": {
                    "io.containerd.image.name": name,
                    "org.opencontainers.image.ref.name": name.rsplit(":", 1)[-1],
                },
            }
        ],
    }
    files = {
        "oci-layout": json.dumps({"imageLayoutVersion": "1.0.0"}).encode(),
        "index.json": json.dumps(index, sort_keys=True).encode(),
    }
    for digest, blob in ((layer_digest, layer), (config_digest, config_blob), (manifest_digest, manifest_blob)):
        files["blobs/sha256/" + digest.split(":", 1)[1]] = blob
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_suffix(".partial")
    with tarfile.open(partial, mode="w") as tar:
        for path in ("blobs", "blobs/sha256"):
            info = tarfile.TarInfo(path)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        for path, content in files.items():
            info = tarfile.TarInfo(path)
            info.size, info.mode = len(content), 0o644
            tar.addfile(info, io.BytesIO(content))
    partial.replace(out)
