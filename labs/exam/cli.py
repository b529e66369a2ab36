"""`lab exam start [--tasks 16] [--minutes 120] [--seed S] | status | task N | submit | clean`: a timed, weighted
exam of several scenarios at once (docs/instructors.md#exam-mode). Import-cheap: argparse only."""

from __future__ import annotations

import argparse

from labs.cli import global_options


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "exam",
        help="a timed exam: weighted tasks across domains, graded together against the 67 %% pass mark",
        description="Exam mode: like the CKS exam, many tasks at once, a time limit, one grading at the end.",
    )
    actions = parser.add_subparsers(dest="exam_action", required=True, metavar="ACTION")
    start = actions.add_parser(
        "start", help="choose the tasks, set them all up, print them and start the clock", parents=[global_options()]
    )
    start.add_argument("--tasks", type=int, default=16, metavar="N", help="number of tasks (default 16)")
    start.add_argument("--minutes", type=int, default=120, metavar="M", help="time limit (default 120)")
    start.add_argument("--seed", type=int, help="reproduce an exam's tasks and names")
    start.add_argument("--no-timer", action="store_true", help="no background grading when the time is up")
    actions.add_parser("status", help="time left and the tasks (grades the exam once the time is up)")
    task = actions.add_parser("task", help="print one task again")
    task.add_argument("number", type=int, metavar="N", help="the task's number in the exam")
    submit = actions.add_parser("submit", help="grade every task now and print the score against the pass mark")
    submit.add_argument("--json", action="store_true", help="print the result as JSON")
    actions.add_parser("clean", help="remove the exam's tasks from the cluster and forget the exam")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from labs.commands import reported
    from labs.exam import commands

    return reported(lambda: commands.COMMANDS[args.exam_action](args))
