"""The `lab` command. Import-cheap on purpose (`lab --help` and `lab list` stay fast): argparse once a command is
parsed, every command's work when it runs (labs.commands); a `lab check` that a grading worker answers (see
labs/worker) needs not even argparse."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Sequence

from labs import __version__

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: a worker's `lab check` waits for every import
if TYPE_CHECKING:
    import argparse

# Command groups owned by other parts of the project; each module exposes register(subparsers).
COMMAND_GROUPS = ("labs.testbed.cli", "labs.falco.cli", "labs.audit.cli", "labs.classroom.cli", "labs.exam.cli")
TARGET_KINDS = ("auto", "local", "testbed", "vagrant")
# The options of global_options() that take a value: what `lab` skips to find the sub-command before any parser.
VALUED_GLOBAL_OPTIONS = ("--target", "--kubeconfig", "--inventory")


def global_options() -> argparse.ArgumentParser:
    """The options naming where the lab runs, for every command that acts on a cluster (a parent parser)."""
    import argparse

    # SUPPRESS: given before or after the sub-command, the option lands once in the namespace.
    options = argparse.ArgumentParser(add_help=False)
    group = options.add_argument_group("target (where the lab runs)")
    group.add_argument(
        "--target",
        choices=TARGET_KINDS,
        default=argparse.SUPPRESS,
        help="auto (default): this controlplane VM, else the testbed, else this checkout's Vagrant cluster",
    )
    group.add_argument("--kubeconfig", metavar="FILE", default=argparse.SUPPRESS, help="an explicit cluster")
    group.add_argument("--inventory", metavar="FILE", default=argparse.SUPPRESS, help="its Ansible inventory")
    return options


@functools.cache
def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `lab` with every sub-command (built once per process)."""
    import argparse
    import importlib
    import importlib.util

    common = global_options()
    parser = argparse.ArgumentParser(
        prog="lab",
        description="CKS practice lab: start a task, solve it on a real cluster, get graded per criterion.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add(name: str, help: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help, description=help, parents=[common])
        sub.set_defaults(func=_handler(name))
        return sub

    listing = add("list", "list the scenarios with their points and your status")
    listing.add_argument("--json", action="store_true", help="print JSON")

    start = add("start", "set up a scenario on the cluster and print its task")
    start.add_argument("scenario", metavar="N|SLUG", help="scenario number or slug (see lab list)")
    start.add_argument("--seed", type=int, help="reproduce an attempt's names and values")
    start.add_argument("--force", action="store_true", help="replace a started scenario without asking")
    start.add_argument(
        "--ignore-needs",
        action="store_true",
        help="set up on a target that lacks what the scenario needs (authors' proofs on the testbed); the criteria "
        "that need it are not gradable there",
    )

    add("task", "print the started scenario's task again")

    status = add("status", "the started scenario, its seed, parameters and elapsed time")
    status.add_argument("--json", action="store_true", help="print JSON")

    check = add("check", "grade the started scenario (exit 0 pass, 1 fail, 2 could not grade)")
    check.add_argument("scenario", nargs="?", metavar="N|SLUG", help="must be the started one (optional)")
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    check.add_argument("--junit", metavar="FILE", help="also write a JUnit XML report")
    check.add_argument("-k", dest="keyword", metavar="EXPR", help="only the criteria matching (pytest -k)")

    add("hint", "show the next hint")

    solution = add("solution", "show the solution explanation")
    solution.add_argument("--apply", action="store_true", help="also apply the reference solution to the cluster")

    reset = add("reset", "set the started scenario up again from scratch (same names), or clean one up")
    reset.add_argument("scenario", nargs="?", metavar="N|SLUG", help="default: the started scenario")
    reset.add_argument("--clean", action="store_true", help="only remove what the scenario set up, and stop it")

    validate = add("validate", "check every scenario: schema, templates, playbooks, grader")
    validate.add_argument("--json", action="store_true", help="print JSON")

    new = add("new", "write a new scenario's files (scenario.yaml, playbooks, grader, proof) to fill in")
    new.add_argument("name", metavar="NN-SLUG", help="number and slug, e.g. 42-seccomp-profile")
    new.add_argument("--domain", required=True, help="the CKS domain, e.g. 'System Hardening'")

    for module in COMMAND_GROUPS:
        if importlib.util.find_spec(module) is not None:
            importlib.import_module(module).register(commands)
    return parser


def _handler(name: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        from labs import commands

        return commands.run(name, args)

    return run


def _command_of(arguments: Sequence[str]) -> str | None:
    """The sub-command named in `arguments` (the first word that is neither an option nor an option's value)."""
    words = iter(arguments)
    for word in words:
        if word in VALUED_GLOBAL_OPTIONS:
            next(words, None)
        elif not word.startswith("-"):
            return word
    return None


def _unexpected(error: Exception) -> int:
    """The one place an error nobody foresaw ends: its trace in a log file under the state directory, and two lines
    that say so (exit 2: the lab could not do its work; it is no verdict on the student's)."""
    import traceback
    from datetime import datetime

    from labs.paths import state_dir

    trace = "".join(traceback.format_exception(error))
    try:
        logs = state_dir() / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        log = logs / f"lab-{datetime.now().strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
        log.write_text(f"lab {' '.join(sys.argv[1:])}\n{trace}")
        kept = f"the full trace is in {log}"
    except OSError as unwritable:
        kept = f"its trace could not be kept ({unwritable}):\n{trace}"
    print(f"lab: unexpected error: {type(error).__name__}: {error}", file=sys.stderr)
    print(f"lab: {kept}; please report it with that trace (lab {__version__})", file=sys.stderr)
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `lab` console script; returns the exit code."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    try:
        if _command_of(arguments) == "check":  # before building the parser: a warm worker answers in a fraction
            from labs.worker import client

            if client.enabled() and (code := client.delegate(arguments)) is not None:
                return code
        args = build_parser().parse_args(arguments)
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("\nlab: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`lab list | head`): stop quietly, as other commands do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as error:  # the boundary for what no command foresaw
        return _unexpected(error)


if __name__ == "__main__":
    sys.exit(main())
