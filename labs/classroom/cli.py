"""`lab grade --inventory class.yml [--scenario N ...] [--concurrency K] [--timeout S] [--out DIR]`: grade every
student's cluster in parallel and write the class's reports (docs/instructors.md). Import-cheap: argparse only."""

from __future__ import annotations

import argparse
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    description = (
        "Grade one cluster per student in parallel, from this checkout's graders; write grades.csv, grades.json, "
        "junit.xml and index.html. Exit 0 when every student was graded, 2 when some could not be graded."
    )
    parser = subparsers.add_parser("grade", help="grade a class: one cluster per student", description=description)
    parser.add_argument(
        "--inventory", dest="class_file", metavar="CLASS.yml", required=True, help="the class file (students, clusters)"
    )
    parser.add_argument(
        "--scenario",
        dest="scenarios",
        metavar="N",
        nargs="+",
        action="extend",
        default=[],
        help="scenarios to grade (default: the class file's scenarios)",
    )
    parser.add_argument("--concurrency", type=int, default=4, metavar="K", help="students graded at once (default 4)")
    parser.add_argument("--timeout", type=float, default=300, metavar="S", help="seconds per student (default 300)")
    parser.add_argument("--out", default="grades", metavar="DIR", help="where the reports go (default ./grades)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from labs import output
    from labs.classroom import classfile, grading, reports
    from labs.classroom.results import StudentResult
    from labs.errors import LabError

    if args.concurrency < 1 or args.timeout <= 0:
        output.error("--concurrency must be at least 1 and --timeout positive")
        return 2

    def progress(student: StudentResult) -> None:
        total = "could not grade" if student.total is None else f"{student.total}/{student.max_total}"
        print(f"graded {student.name}: {total} ({student.seconds:.1f} s)", file=sys.stderr, flush=True)

    try:
        loaded = classfile.load(Path(args.class_file))
        result = grading.grade_class(loaded, args.scenarios, args.concurrency, args.timeout, progress)
    except LabError as error:
        output.error(str(error))
        return error.exit_code
    paths = reports.write_all(result, Path(args.out))
    _summary(result)
    output.note("reports: " + ", ".join(str(path) for path in paths))
    return 0 if all(student.graded for student in result.students) else 2


def _summary(result) -> None:
    from rich.markup import escape
    from rich.table import Table

    from labs import output

    table = Table(box=None, pad_edge=False, header_style="bold")
    table.add_column("student")
    for column in result.scenarios:
        table.add_column(f"{column.id} ({column.points})", justify="right")
    table.add_column("total", justify="right")
    for student in result.students:
        cells = []
        for column in result.scenarios:
            scenario = student.scenarios[column.id]
            style = output.STATUS_STYLES[scenario.status]
            text = str(scenario.score) if scenario.graded else "could not grade"
            cells.append(f"[{style}]{text}[/{style}]")
        total = "could not grade" if student.total is None else f"{student.total}/{student.max_total}"
        style = output.STATUS_STYLES[student.status]
        table.add_row(escape(student.name), *cells, f"[{style}]{total}[/{style}]")
    output.console().print(table)
