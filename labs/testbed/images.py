"""The testbed's container images, built locally (no registry) and imported into containerd.

Control-plane images carry our own builds of the pinned version under the exact names kubeadm expects. The utility
images are honest about what they are: busybox and nginx from Debian's packages, under a local registry name.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from labs.paths import cache_dir
from labs.testbed import oci
from labs.testbed.build import binaries_dir
from labs.versions import pinned

FILES = Path(__file__).parent / "files"
BUSYBOX_BINARY = Path("/bin/busybox")
NGINX_BINARY = Path("/usr/sbin/nginx")
LOCAL_REGISTRY = "cks-lab.local"
BUSYBOX_IMAGE = f"{LOCAL_REGISTRY}/busybox:1.35"
NGINX_IMAGE = f"{LOCAL_REGISTRY}/nginx:1.22"
KUBE_ROUTER_IMAGE = f"{LOCAL_REGISTRY}/kube-router:v{pinned().kube_router_version}"
TRAEFIK_IMAGE = f"{LOCAL_REGISTRY}/traefik:v{pinned().traefik_version}"  # the ingress controller (our build)
AGNHOST_IMAGE = f"{LOCAL_REGISTRY}/agnhost:v{pinned().kubernetes_version}"  # built from k8s.io/kubernetes' test/images
NGINX_UID = 101
XTABLES_EXTENSIONS = Path("/usr/lib/x86_64-linux-gnu/xtables")


class ImageError(RuntimeError):
    """An image could not be built or imported; the message says which and why."""


@dataclass(frozen=True)
class Image:
    name: str
    entries: Callable[[], list[oci.Entry]]
    config: oci.ImageConfig


def _control_plane_binary(program: str) -> list[oci.Entry]:
    return [oci.Entry.host_file(f"/usr/local/bin/{program}", binaries_dir() / program)]


def _busybox() -> list[oci.Entry]:
    if not BUSYBOX_BINARY.exists():
        raise ImageError(f"{BUSYBOX_BINARY} is missing: install Debian's busybox-static")
    applets = subprocess.run([BUSYBOX_BINARY, "--list"], capture_output=True, text=True, check=True).stdout.split()
    entries = [oci.Entry.host_file("/bin/busybox", BUSYBOX_BINARY)]
    entries += [oci.Entry.link(f"/bin/{applet}", "busybox") for applet in applets if applet != "busybox"]
    entries += [
        oci.Entry.text("/etc/passwd", "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n"),
        oci.Entry.text("/etc/group", "root:x:0:\nnogroup:x:65534:\n"),
        oci.Entry.directory("/tmp", mode=0o1777),
        oci.Entry.directory("/root", mode=0o700),
        oci.Entry.directory("/var/run"),
    ]
    return entries


def _shared_libraries(binary: Path) -> list[Path]:
    output = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=True).stdout
    return [Path(path) for path in re.findall(r"(/\S+) \(0x", output)]


def _nginx() -> list[oci.Entry]:
    if not NGINX_BINARY.exists():
        raise ImageError(f"{NGINX_BINARY} is missing: install Debian's nginx-light")
    entries = [entry for entry in _busybox() if entry.path not in ("/etc/passwd", "/etc/group")]
    entries += [oci.Entry.host_file(str(lib), lib) for lib in _shared_libraries(NGINX_BINARY)]
    entries += [
        oci.Entry.host_file("/usr/sbin/nginx", NGINX_BINARY),
        oci.Entry.host_file("/etc/nginx/mime.types", Path("/etc/nginx/mime.types")),
        oci.Entry.host_file("/etc/nginx/nginx.conf", FILES / "nginx.conf", mode=0o644),
        oci.Entry.host_file("/usr/share/nginx/html/index.html", FILES / "index.html", mode=0o644),
        oci.Entry.text(
            "/etc/passwd",
            "root:x:0:0:root:/root:/bin/sh\nnginx:x:101:101:nginx user:/nonexistent:/bin/false\n"
            "nobody:x:65534:65534:nobody:/:/bin/false\n",
        ),
        oci.Entry.text("/etc/group", "root:x:0:\nnginx:x:101:\nnogroup:x:65534:\n"),
        oci.Entry.directory("/var/cache/nginx"),
        oci.Entry.directory("/var/log/nginx"),
        oci.Entry.link("/var/log/nginx/access.log", "/dev/stdout"),
        oci.Entry.link("/var/log/nginx/error.log", "/dev/stderr"),
    ]
    return entries


def _iptables() -> list[oci.Entry]:
    """The host's iptables in the mode the host uses (nf_tables or legacy): the bridge CNI plugin writes its rules
    with the host's iptables, kube-proxy writes its own beside them with these, so both must use the same backend."""
    iptables = Path(shutil.which("iptables", path="/usr/sbin:/sbin") or "/usr/sbin/iptables").resolve()
    if not iptables.exists():
        raise ImageError("iptables is missing: install Debian's iptables")
    extensions = sorted(XTABLES_EXTENSIONS.glob("*.so"))  # loaded at run time: `statistic` needs libm, for one
    libraries = sorted({lib for program in (iptables, *extensions) for lib in _shared_libraries(program)})
    entries = [oci.Entry.host_file(str(path), path) for path in (iptables, *extensions, *libraries)]
    entries += [
        oci.Entry.link(f"/usr/sbin/{command}{suffix}", iptables.name)
        for command in ("iptables", "ip6tables")
        for suffix in ("", "-save", "-restore")
    ]
    return entries


def _kube_router() -> list[oci.Entry]:
    ipset = Path("/usr/sbin/ipset")
    if not ipset.exists():
        raise ImageError(f"{ipset} is missing: install Debian's ipset")
    entries = [oci.Entry.host_file("/usr/local/bin/kube-router", binaries_dir() / "kube-router")]
    entries += [oci.Entry.host_file(str(path), path) for path in (ipset, *_shared_libraries(ipset))]
    return _unique(entries + _iptables() + [oci.Entry.directory("/tmp", mode=0o1777)])


def _unique(entries: list[oci.Entry]) -> list[oci.Entry]:
    """The entries without repeats of a path (two programs sharing a library), the first one kept."""
    return list({entry.path: entry for entry in reversed(entries)}.values())[::-1]


def _kube_proxy() -> list[oci.Entry]:
    return _control_plane_binary("kube-proxy") + _iptables() + [oci.Entry.directory("/tmp", mode=0o1777)]


def _pause() -> list[oci.Entry]:
    binary = cache_dir() / "bin" / "pause"
    source = FILES / "pause.c"
    if not binary.exists() or binary.stat().st_mtime < source.stat().st_mtime:
        binary.parent.mkdir(parents=True, exist_ok=True)
        result = subprocess.run(
            ["gcc", "-Os", "-Wall", "-Werror", "-static", "-o", str(binary), str(source)],
            capture_output=True,
            text=True,
        )
        if result.returncode:
            raise ImageError(f"compiling {source} failed:\n{result.stderr}")
    return [oci.Entry.host_file("/pause", binary)]


def images() -> list[Image]:
    """Every image the testbed imports, at the pinned versions."""
    v = pinned()
    k8s = "v" + v.kubernetes_version
    plain = oci.ImageConfig()
    images = [
        Image(f"registry.k8s.io/pause:{v.pause_version}", _pause, oci.ImageConfig(entrypoint=["/pause"])),
        Image(
            f"registry.k8s.io/etcd:{v.etcd_version}-0",
            lambda: _control_plane_binary("etcd") + _control_plane_binary("etcdctl"),
            plain,
        ),
        Image(BUSYBOX_IMAGE, _busybox, oci.ImageConfig(cmd=["sh"])),
        Image(
            NGINX_IMAGE,
            _nginx,
            oci.ImageConfig(cmd=["nginx", "-g", "daemon off;"], exposed_ports=["80/tcp"], stop_signal="SIGQUIT"),
        ),
    ]
    for component in ("kube-apiserver", "kube-controller-manager", "kube-scheduler"):
        images.append(Image(f"registry.k8s.io/{component}:{k8s}", lambda c=component: _control_plane_binary(c), plain))
    images += [
        Image(f"registry.k8s.io/kube-proxy:{k8s}", _kube_proxy, plain),
        Image(
            f"registry.k8s.io/coredns/coredns:v{v.coredns_version}",
            lambda: [oci.Entry.host_file("/coredns", binaries_dir() / "coredns")],
            oci.ImageConfig(entrypoint=["/coredns"], exposed_ports=["53/tcp", "53/udp"]),
        ),
        Image(KUBE_ROUTER_IMAGE, _kube_router, oci.ImageConfig(entrypoint=["/usr/local/bin/kube-router"])),
        Image(
            TRAEFIK_IMAGE,
            lambda: [oci.Entry.host_file("/usr/local/bin/traefik", binaries_dir() / "traefik")],
            oci.ImageConfig(entrypoint=["/usr/local/bin/traefik"], exposed_ports=["8000/tcp", "8443/tcp"]),
        ),
        Image(
            AGNHOST_IMAGE,
            lambda: [oci.Entry.host_file("/agnhost", binaries_dir() / "agnhost")],
            oci.ImageConfig(entrypoint=["/agnhost"]),
        ),
    ]
    return images


def _fingerprint(image: Image, entries: list[oci.Entry]) -> str:
    digest = hashlib.sha256(image.name.encode())
    digest.update(repr(image.config).encode())
    for entry in entries:
        digest.update(repr((entry.path, entry.mode, entry.symlink_to, entry.is_dir, entry.uid)).encode())
        if entry.data is not None:
            digest.update(entry.data)
        if entry.source is not None:
            stat = entry.source.stat()
            digest.update(f"{entry.source}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def archive(image: Image) -> Path:
    """The image's OCI archive in the cache, built if its inputs changed."""
    entries = image.entries()
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", image.name)
    path = cache_dir() / "images" / f"{safe}-{_fingerprint(image, entries)}.tar"
    if not path.exists():
        for stale in path.parent.glob(f"{safe}-*"):  # an older archive, its import marker, its unpacked layout
            if stale.is_dir():
                shutil.rmtree(stale)
            else:
                stale.unlink()
        oci.write_archive(path, image.name, entries, image.config)
    return path


def registry_images() -> list[Image]:
    """The images the testbed's registry holds, named by their repository:tag there: the utility images with one
    file more (/etc/cks-lab-registry-image), so that their image IDs differ from the imported ones. An image the
    kubelet pulled is one it has a pull record for; had the registry's copy the ID of an imported image, a pod
    naming the imported one with `imagePullPolicy: Never` would then be refused (ErrImageNeverPull)."""
    marker = oci.Entry.text("/etc/cks-lab-registry-image", "pulled from the testbed's registry\n")
    return [
        Image(image.name.removeprefix(f"{LOCAL_REGISTRY}/"), lambda i=image: [*i.entries(), marker], image.config)
        for image in images()
        if image.name in (BUSYBOX_IMAGE, NGINX_IMAGE)
    ]


def registry_layouts() -> list[tuple[Path, str]]:
    """(OCI image layout directory, repository:tag in the testbed's registry) of each of `registry_images()`, the
    directory unpacked once from the image's archive."""
    layouts = []
    for image in registry_images():
        path = archive(image)
        layout = path.with_suffix(".layout")
        if not (layout / "index.json").exists():
            shutil.rmtree(layout, ignore_errors=True)
            layout.mkdir()
            with tarfile.open(path) as unpacked:
                unpacked.extractall(layout, filter="data")
        layouts.append((layout, image.name))
    return layouts


def import_all(ctr: Path, address: str, log: Callable[[str], None] = print) -> None:
    """Import every image into containerd's k8s.io namespace unless that exact archive is already there."""
    for image in images():
        path = archive(image)
        marker = path.with_suffix(".imported")
        listed = _run([str(ctr), "--address", address, "-n", "k8s.io", "images", "ls", "-q"])
        if marker.exists() and image.name in listed.split():
            continue
        log(f"importing {image.name}")
        _run([str(ctr), "--address", address, "-n", "k8s.io", "images", "import", "--local", str(path)])
        marker.touch()


def _run(argv: list[str]) -> str:
    if not shutil.which(argv[0]) and not Path(argv[0]).exists():
        raise ImageError(f"{argv[0]} not found")
    result = subprocess.run(argv, capture_output=True, text=True)
    if result.returncode:
        raise ImageError(f"`{' '.join(argv)}` failed: {result.stderr.strip()}")
    return result.stdout
