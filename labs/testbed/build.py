"""Build the testbed's binaries from the Go module proxy, cached under ~/.cache/cks-lab keyed by version.

Each component is built in a small wrapper Go module that requires the upstream module at the pinned version.
Go honours `replace` only in the main module: k8s.io/kubernetes maps its staging modules to local directories, so the
wrapper replaces each of them with its published `v0.MINOR.PATCH` release, and Traefik swaps three dependencies for
its forks, which the wrapper swaps alike. Both are read from the upstream go.mod itself, so a new version needs no
change here. Nothing prebuilt is downloaded.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from labs.paths import cache_dir
from labs.versions import Versions, pinned

GO_DIRECTIVE = "1.26"
FIXED_BUILD_DATE = "2026-01-01T00:00:00Z"  # fixed so that rebuilds are byte-identical and hit Go's build cache
OVERLAYS_DIR = Path(__file__).parent / "files" / "overlays"


class BuildError(RuntimeError):
    """A build step failed; the message names the step and the log file."""


@dataclass(frozen=True)
class Overlay:
    """A dependency's file replaced in one program's build (`go build -overlay`), only where this machine cannot do
    what upstream expects; the replacement (in files/overlays/) says why, and docs/testbed.md lists each one."""

    module: str
    path: str  # inside the module
    replacement: str  # file name in files/overlays/


@dataclass(frozen=True)
class Program:
    """One binary: the Go package to build and the name to give it."""

    name: str
    package: str
    cgo: bool = False
    overlays: tuple[Overlay, ...] = ()


@dataclass(frozen=True)
class Component:
    """A set of programs built from one upstream module at one version."""

    name: str
    module: str
    version: str
    programs: tuple[Program, ...]
    ldflags: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    extra_requires: tuple[tuple[str, str], ...] = ()
    data: tuple[str, ...] = ()  # directories of the module the programs read at run time, copied beside them
    # the wrapper's `replace` lines, (module [version], replacement module, its version), read from the upstream module
    replaces_from: Callable[[Path], list[tuple[str, str, str]]] | None = field(default=None, compare=False)

    @property
    def key(self) -> str:
        return f"{self.name}-{self.version}"


def components(versions: Versions | None = None) -> list[Component]:
    """The components of the testbed, at the pinned versions."""
    v = versions or pinned()
    k8s = "v" + v.kubernetes_version
    major, minor, _ = v.kubernetes_version.split(".")
    k8s_ldflags = tuple(
        f"-X {pkg}.{key}={value}"
        for pkg in ("k8s.io/client-go/pkg/version", "k8s.io/component-base/version")
        for key, value in (
            ("gitVersion", k8s),
            ("gitMajor", major),
            ("gitMinor", minor),
            ("gitTreeState", "clean"),
            ("buildDate", FIXED_BUILD_DATE),
        )
    )
    cmd = "k8s.io/kubernetes/cmd/"
    return [
        Component(
            name="kubernetes",
            module="k8s.io/kubernetes",
            version=k8s,
            programs=(
                Program("kube-apiserver", cmd + "kube-apiserver"),
                Program("kube-controller-manager", cmd + "kube-controller-manager"),
                Program("kube-scheduler", cmd + "kube-scheduler"),
                Program("kubeadm", cmd + "kubeadm"),
                Program("kubectl", cmd + "kubectl"),
                Program("kubelet", cmd + "kubelet", cgo=True),
                Program("kube-proxy", cmd + "kube-proxy"),
                # Kubernetes' own e2e test server (webhook, netexec, ...): the testbed's admission webhook backend
                Program("agnhost", "k8s.io/kubernetes/test/images/agnhost"),
            ),
            ldflags=k8s_ldflags,
            replaces_from=_staging_replaces,
        ),
        Component(
            name="etcd",
            module="go.etcd.io/etcd/server/v3",
            version="v" + v.etcd_version,
            programs=(
                Program("etcd", "go.etcd.io/etcd/server/v3"),
                Program("etcdctl", "go.etcd.io/etcd/etcdctl/v3"),
            ),
            extra_requires=(("go.etcd.io/etcd/etcdctl/v3", "v" + v.etcd_version),),
        ),
        Component(
            name="containerd",
            module="github.com/containerd/containerd/v2",
            version="v" + v.containerd_version,
            programs=(
                Program("containerd", "github.com/containerd/containerd/v2/cmd/containerd"),
                Program("containerd-shim-runc-v2", "github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2"),
                Program("ctr", "github.com/containerd/containerd/v2/cmd/ctr"),
            ),
            ldflags=(f"-X github.com/containerd/containerd/v2/version.Version=v{v.containerd_version}",),
            tags=("no_btrfs", "no_devmapper", "no_zfs"),
        ),
        Component(
            name="coredns",
            module="github.com/coredns/coredns",
            version="v" + v.coredns_version,
            programs=(Program("coredns", "github.com/coredns/coredns"),),
        ),
        Component(
            name="kube-router",
            module="github.com/cloudnativelabs/kube-router/v2",
            version="v" + v.kube_router_version,
            programs=(Program("kube-router", "github.com/cloudnativelabs/kube-router/v2/cmd/kube-router"),),
            ldflags=(
                f"-X github.com/cloudnativelabs/kube-router/v2/pkg/version.Version=v{v.kube_router_version}",
                f"-X github.com/cloudnativelabs/kube-router/v2/pkg/version.BuildDate={FIXED_BUILD_DATE}",
            ),
        ),
        Component(
            name="traefik",
            module="github.com/traefik/traefik/v3",
            version="v" + v.traefik_version,
            # The web UI is not built: upstream's webui/static holds only a placeholder file outside its releases, which
            # go:embed takes as it is; the dashboard stays off, the proxy does not need it.
            programs=(Program("traefik", "github.com/traefik/traefik/v3/cmd/traefik"),),
            ldflags=(
                f"-X github.com/traefik/traefik/v3/pkg/version.Version=v{v.traefik_version}",
                f"-X github.com/traefik/traefik/v3/pkg/version.BuildDate={FIXED_BUILD_DATE}",
            ),
            replaces_from=_module_replaces,
        ),
        Component(
            name="go-containerregistry",
            module="github.com/google/go-containerregistry",
            version="v" + v.crane_version,
            programs=(Program("crane", "github.com/google/go-containerregistry/cmd/crane"),),
            ldflags=(f"-X github.com/google/go-containerregistry/cmd/crane/cmd.Version=v{v.crane_version}",),
        ),
        Component(
            name="gvisor",
            module="gvisor.dev/gvisor",
            version="v" + v.gvisor_go_version,
            programs=(
                Program("runsc", "gvisor.dev/gvisor/runsc"),
                Program(
                    "containerd-shim-runsc-v1",
                    "gvisor.dev/gvisor/shim",
                    overlays=(
                        Overlay(
                            "github.com/containerd/containerd/v2", "pkg/sys/oom_linux.go", "containerd-sys-oom_linux.go"
                        ),
                    ),
                ),
            ),
            ldflags=(f"-X gvisor.dev/gvisor/runsc/version.version=v{v.gvisor_go_version}",),
        ),
        Component(
            name="kube-bench",
            module="github.com/aquasecurity/kube-bench",
            version="v" + v.kube_bench_version,
            programs=(Program("kube-bench", "github.com/aquasecurity/kube-bench"),),
            ldflags=(
                f"-X github.com/aquasecurity/kube-bench/cmd.KubeBenchVersion=v{v.kube_bench_version}",
                # where its release packages put cfg/ (the testbed links it there: cluster.KUBE_BENCH_CFG)
                "-X github.com/aquasecurity/kube-bench/cmd.cfgDir=/etc/kube-bench/cfg",
            ),
            data=("cfg",),
        ),
        Component(
            name="cri-tools",
            module="sigs.k8s.io/cri-tools",
            version="v" + v.cri_tools_version,
            programs=(Program("crictl", "sigs.k8s.io/cri-tools/cmd/crictl"),),
            ldflags=(f"-X sigs.k8s.io/cri-tools/pkg/version.Version=v{v.cri_tools_version}",),
        ),
    ]


def _staging_replaces(upstream: Path) -> list[tuple[str, str, str]]:
    """`k8s.io/api => ./staging/...` in k8s.io/kubernetes' go.mod becomes `k8s.io/api => k8s.io/api v0.MINOR.PATCH`."""
    version = re.search(r"@v1\.(\d+\.\d+)", str(upstream))
    if not version:
        raise BuildError(f"cannot tell the Kubernetes version from {upstream}")
    staging = re.findall(r"^\s*(k8s\.io/[\w.-]+)\s*=>\s*\./staging/", (upstream / "go.mod").read_text(), re.M)
    return [(module, module, "v0." + version.group(1)) for module in staging]


def _module_replaces(upstream: Path) -> list[tuple[str, str, str]]:
    """The upstream go.mod's replacements by another module at a version (`a [vX] => b vY`, in a block or on a line
    of its own), as they are; those by a local directory have no version and are left out."""
    line = r"^[ \t]*(?:replace[ \t]+)?([^\s(]+(?:[ \t]+v\S+)?)[ \t]*=>[ \t]*(\S+)[ \t]+(v\S+)[ \t]*(?://.*)?$"
    return re.findall(line, (upstream / "go.mod").read_text(), re.M)


def bin_dir(component: Component) -> Path:
    return cache_dir() / "bin" / component.key


def is_built(component: Component) -> bool:
    """The build finished and every program and data directory is still there (one deleted by hand is built
    again)."""
    out = bin_dir(component)
    complete = out / ".complete"
    return (
        complete.exists()
        and complete.read_text() == _stamp(component)
        and all(os.access(out / p.name, os.X_OK) for p in component.programs)
        and all((out / directory).is_dir() for directory in component.data)
    )


def _stamp(component: Component) -> str:
    """What a finished build writes to .complete: its version, and the hash of each overlay (a changed one rebuilds)."""
    overlays = [o.replacement for p in component.programs for o in p.overlays]
    hashes = [f"{name} {hashlib.sha256((OVERLAYS_DIR / name).read_bytes()).hexdigest()}\n" for name in overlays]
    return component.version + "\n" + "".join(hashes)


def binaries_dir() -> Path:
    """One directory with links to every built binary (what the testbed puts first on PATH)."""
    return cache_dir() / "bin" / "current"


def build_all(log: Callable[[str], None] = print, force: bool = False) -> Path:
    """Build every component missing from the cache; return the directory holding all binaries."""
    for component in components():
        if force or not is_built(component):
            build(component, log)
        else:
            log(f"{component.key}: cached in {bin_dir(component)}")
    _link_current(components())
    return binaries_dir()


def _link_current(built: Iterable[Component]) -> None:
    current = binaries_dir()
    shutil.rmtree(current, ignore_errors=True)
    current.mkdir(parents=True)
    for component in built:
        for program in component.programs:
            (current / program.name).symlink_to(bin_dir(component) / program.name)


def build(component: Component, log: Callable[[str], None] = print) -> None:
    """Build one component into its cache directory (replacing a partial earlier build)."""
    work = cache_dir() / "gomod" / component.key
    work.mkdir(parents=True, exist_ok=True)
    out = bin_dir(component)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    logfile = cache_dir() / "logs" / f"build-{component.key}.log"
    logfile.parent.mkdir(parents=True, exist_ok=True)
    logfile.write_text("")

    def go(*args: str, cgo: bool = False) -> str:
        env = {**os.environ, "GOTOOLCHAIN": "local", "GOFLAGS": "-mod=mod", "CGO_ENABLED": "1" if cgo else "0"}
        with logfile.open("a") as fh:
            fh.write(f"$ go {' '.join(args)}\n")
            fh.flush()
            result = subprocess.run(["go", *args], cwd=work, env=env, stdout=subprocess.PIPE, stderr=fh, text=True)
        if result.returncode:
            raise BuildError(
                f"{component.key}: `go {' '.join(args[:2])}` failed (exit {result.returncode}); see {logfile}"
            )
        return result.stdout

    log(f"{component.key}: resolving {component.module}@{component.version} from the Go module proxy")
    (work / "go.mod").write_text(f"module cks-lab.invalid/build/{component.name}\n\ngo {GO_DIRECTIVE}\n")
    upstream = Path(
        go("mod", "download", "-json", f"{component.module}@{component.version}").split('"Dir": "')[1].split('"')[0]
    )
    requires = [(component.module, component.version), *component.extra_requires]
    replaces = component.replaces_from(upstream) if component.replaces_from else []
    (work / "go.mod").write_text(_wrapper_go_mod(component, requires, replaces))
    go("mod", "tidy")
    for program in component.programs:
        log(f"{component.key}: building {program.name} (this can take minutes on a cold cache)")
        flags = ["-trimpath", "-ldflags", " ".join(("-s", "-w", *component.ldflags))]
        if component.tags:
            flags += ["-tags", ",".join(component.tags)]
        if program.overlays:  # Go overlays nothing in its module cache: build this one from a vendor directory
            go("mod", "vendor")
            flags += ["-mod=vendor", f"-overlay={_write_overlay(program, work)}"]
        go("build", *flags, "-o", str(out / program.name), program.package, cgo=program.cgo)
    for directory in component.data:
        shutil.copytree(upstream / directory, out / directory)
    (out / ".complete").write_text(_stamp(component))
    log(f"{component.key}: built into {out}")


def _write_overlay(program: Program, work: Path) -> Path:
    """The `go build -overlay` file of a program: each replaced file's path in the vendor directory -> ours."""
    replace = {str(work / "vendor" / o.module / o.path): str(OVERLAYS_DIR / o.replacement) for o in program.overlays}
    path = work / f"overlay-{program.name}.json"
    path.write_text(json.dumps({"Replace": replace}, indent=2) + "\n")
    return path


def _wrapper_go_mod(component: Component, requires: list[tuple[str, str]], replaces: list[tuple[str, str, str]]) -> str:
    lines = [f"module cks-lab.invalid/build/{component.name}", "", f"go {GO_DIRECTIVE}", "", "require ("]
    lines += [f"\t{module} {version}" for module, version in requires]
    lines.append(")")
    if replaces:
        lines += ["", "replace ("]
        lines += [f"\t{module} => {replacement} {version}" for module, replacement, version in replaces]
        lines.append(")")
    lines += ["", "tool ("]
    lines += [f"\t{program.package}" for program in component.programs]
    lines.append(")")
    return "\n".join(lines) + "\n"
