"""`lab testbed build | up | down | status [--json] | restart-kubelet`: the real single-node cluster used by tests
and CI."""

from __future__ import annotations

import argparse
import json
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "testbed",
        help="build, start, stop or inspect the local single-node test cluster",
        description="A real kubeadm cluster on this machine (etcd, kube-apiserver, kubelet, containerd built offline).",
    )
    actions = parser.add_subparsers(dest="testbed_action", required=True, metavar="ACTION")
    build = actions.add_parser("build", help="build the binaries and images into ~/.cache/cks-lab (cached by version)")
    build.add_argument("--force", action="store_true", help="rebuild even when the cache has this version")
    actions.add_parser("up", help="start the cluster (builds first if needed); prints the kubeconfig path")
    actions.add_parser("down", help="stop everything and remove the cluster's state")
    status = actions.add_parser("status", help="show each component and whether the node is Ready")
    status.add_argument("--json", action="store_true", help="print JSON")
    actions.add_parser(
        "restart-kubelet",
        help="restart the kubelet as `systemctl restart kubelet` does on a node (it reads its config again)",
    )
    parser.set_defaults(func=run)


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    from labs.testbed import build, cluster, images

    try:
        match args.testbed_action:
            case "build":
                build.build_all(log=_log, force=args.force)
                for image in images.images():
                    images.archive(image)
                _log(f"binaries in {build.binaries_dir()}")
            case "up":
                print(cluster.up(log=_log))
            case "down":
                cluster.down(log=_log)
            case "status":
                state = cluster.status()
                if args.json:
                    print(json.dumps(state.as_json()))
                else:
                    readiness = "ready" if state.ready else "NOT ready"
                    print(f"testbed {readiness} ({state.version}); kubeconfig {state.kubeconfig}")
                    for name, value in state.components.items():
                        print(f"  {name:<24} {value}")
                return 0 if state.ready else 1
            case "restart-kubelet":
                cluster.stop_kubelet()
                cluster.start_kubelet()
    except (cluster.TestbedError, build.BuildError, images.ImageError) as error:
        _log(f"testbed: {error}")
        return 2
    return 0
