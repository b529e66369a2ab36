"""`lab falco test` and `lab falco lint`: load rules like Falco, evaluate JSON events, explain the result.

Import-cheap: only the standard library at module level; the engine is imported inside the handlers.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_RULES_INVALID, EXIT_BAD_INPUT = 0, 1, 2


def register(subparsers: Any) -> None:
    """Add `falco test` and `falco lint` to the `lab` command's sub-parsers."""
    falco = subparsers.add_parser("falco", help="check Falco rules and see which rules fire on events")
    commands = falco.add_subparsers(dest="falco_command", metavar="{test,lint}")
    commands.required = True

    test = commands.add_parser("test", help="load rules files and evaluate events (JSON lines) against them")
    _add_rules_argument(test)
    test.add_argument("--events", required=True, metavar="FILE.jsonl",
                      help="one JSON object per line, from Falco field names to values")  # fmt: skip
    test.add_argument(
        "--rule-matching",
        choices=("first", "all"),
        default="first",
        help="first (Falco's default): stop at the first matching rule; all: every matching rule",
    )
    test.add_argument("--priority", default="debug", help="minimum rule priority, like falco.yaml's priority")
    test.add_argument(
        "--explain",
        action="append",
        default=[],
        metavar="RULE",
        help="say why RULE did or did not fire (default: the rules of the last rules file)",
    )
    test.add_argument("--json", action="store_true", help="machine-readable output")
    test.set_defaults(func=run_test)

    lint = commands.add_parser("lint", help="load rules files like Falco and report errors and warnings")
    _add_rules_argument(lint)
    lint.add_argument("--json", action="store_true", help="machine-readable output")
    lint.set_defaults(func=run_lint)


def _add_rules_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rules", action="append", required=True, metavar="FILE",
                        help="a rules file; repeat to load several, in order (like falco -r)")  # fmt: skip


def _print_diagnostics(ruleset: Any) -> None:
    for name in ruleset.files:
        errors = [e for e in ruleset.errors if e.file == name]
        warnings = [w for w in ruleset.warnings if w.file == name]
        status = "Invalid" if errors else ("Ok, with warnings" if warnings else "Ok")
        print(f"{name}: {status}")
        for diagnostic in errors + warnings:
            print(_indent(diagnostic.as_text()))
            line = _source_line(diagnostic)
            if line:
                print(_indent(f"  | {line}"))
    for error in ruleset.errors:
        if error.file not in ruleset.files:
            print(_indent(error.as_text()))
    if ruleset.errors:
        print("Falco would refuse to load these rules (it exits at the first error).")


def _source_line(diagnostic: Any) -> str:
    """The rules-file line the innermost file location points at."""
    for loc in reversed(diagnostic.context.locations):
        if loc.file == diagnostic.file and loc.line > 0:
            try:
                return Path(loc.file).read_text(encoding="utf-8").splitlines()[loc.line - 1].rstrip()
            except (OSError, UnicodeDecodeError, IndexError):
                return ""
    return ""


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())


def run_lint(args: argparse.Namespace) -> int:
    """Report the errors and warnings Falco would give for the rules files; exit 1 if they do not load."""
    from labs.falco.ruleset import load_rules

    ruleset = load_rules(args.rules)
    if args.json:
        print(json.dumps({"errors": [e.as_dict() for e in ruleset.errors],
                          "warnings": [w.as_dict() for w in ruleset.warnings]}, indent=2))  # fmt: skip
    else:
        _print_diagnostics(ruleset)
        if ruleset.ok:
            print(f"{len(ruleset.rules)} rules loaded ({sum(r.enabled for r in ruleset.rules)} enabled).")
    return EXIT_OK if ruleset.ok else EXIT_RULES_INVALID


def _read_events(path: str) -> list[dict[str, Any]]:
    events = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}:{number}: not a JSON object: {error.msg}") from None
        if not isinstance(event, dict):
            raise ValueError(f"{path}:{number}: not a JSON object")
        events.append(event)
    return events


def run_test(args: argparse.Namespace) -> int:
    """Evaluate the events against the rules; exit 0 if the rules loaded, 1 if not, 2 if the events are unreadable."""
    from labs.falco.explain import explain_rule
    from labs.falco.priorities import parse_priority
    from labs.falco.ruleset import load_rules

    if parse_priority(args.priority) is None:
        print(f"error: unknown priority {args.priority!r}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        events = _read_events(args.events)
    except (OSError, UnicodeDecodeError, ValueError) as error:
        print(f"error: cannot read events: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    ruleset = load_rules(args.rules)
    results = []
    for index, event in enumerate(events):
        matches = ruleset.evaluate(event, rule_matching=args.rule_matching, priority=args.priority)
        results.append({"event": index, "matches": [m.as_dict() for m in matches]})
    if args.json:
        print(
            json.dumps(
                {
                    "errors": [e.as_dict() for e in ruleset.errors],
                    "warnings": [w.as_dict() for w in ruleset.warnings],
                    "results": results,
                },
                indent=2,
            )
        )
        return EXIT_OK if ruleset.ok else EXIT_RULES_INVALID
    _print_diagnostics(ruleset)
    if not ruleset.ok:
        print("No event was evaluated: fix the errors above first.")
        return EXIT_RULES_INVALID
    explained = args.explain or [r.name for r in ruleset.rules if r.file == ruleset.files[-1]]
    for result, event in zip(results, events, strict=True):
        fired = [m["rule"] for m in result["matches"]]
        print(f"event {result['event']} ({event.get('evt.type', 'no evt.type')}): "
              + (", ".join(fired) + " fired" if fired else "no rule fired"))  # fmt: skip
        for match in result["matches"]:
            print(f"  {match['priority']} {match['output']}")
        for name in explained:
            rule = ruleset.rule(name)
            if rule is None:
                print(f"  rule '{name}' is not loaded")
                continue
            if name in fired:
                continue
            for line in explain_rule(rule, event, priority=args.priority):
                print("  " + line)
            if rule.enabled and rule.predicate(event) and args.rule_matching == "first" and fired:
                print(f"  rule '{name}' matches too, but '{fired[0]}' comes first and rule_matching is first")
    return EXIT_OK
