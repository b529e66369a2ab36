"""Benchmark the Falco rules engine; results as ratios against baselines measured in the same run.

    .venv/bin/python benchmarks/bench_falco.py [--append docs/benchmarks.md]

1. Loading the current upstream rules file (goal < 0.5 s), against yaml.safe_load of the same file.
2. Event x rule evaluations per second (rule_matching all over every rule of the file), against a hand-written
   Python predicate per (event, rule) pair doing one dict lookup and comparison.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchlib import best_of, publish  # noqa: E402

from labs.falco import load_rules  # noqa: E402
from labs.falco.behaviours import BEHAVIOURS  # noqa: E402

RULES = REPO.parent / "shared" / "data" / "falco" / "falco_rules.yaml"


def bench_load() -> dict[str, float]:
    text = RULES.read_text()
    cold_start = time.perf_counter()
    load_rules([RULES])  # the first load also builds the lark parser
    cold = time.perf_counter() - cold_start
    baseline = best_of(lambda: yaml.safe_load(text), 7)
    ours = best_of(lambda: load_rules([RULES]), 7)
    return {"yaml.safe_load s": baseline, "load_rules s": ours, "load_rules incl. grammar build s": cold,
            "ratio": ours / baseline}  # fmt: skip


def bench_eval() -> dict[str, float]:
    ruleset = load_rules([RULES])
    events = [make() for make in BEHAVIOURS.values()] * 50
    pairs = len(events) * len(ruleset.rules)
    predicates = [r.predicate for r in ruleset.rules]
    rules = ruleset.rules
    baseline_checks = [lambda e, n=r.name: e.get("proc.name") == n for r in rules]

    def engine() -> None:
        for event in events:
            ruleset.evaluate(event, rule_matching="all")

    def raw_predicates() -> None:
        for event in events:
            for predicate in predicates:
                predicate(event)

    def baseline() -> None:
        for event in events:
            for check in baseline_checks:
                check(event)

    t_engine, t_raw, t_base = best_of(engine, 5), best_of(raw_predicates, 5), best_of(baseline, 5)
    return {
        "event x rule pairs": pairs,
        "evaluate() pairs/s": pairs / t_engine,
        "predicates without evt.type index pairs/s": pairs / t_raw,
        "baseline dict-lookup pairs/s": pairs / t_base,
        "ratio evaluate/baseline (throughput)": (pairs / t_engine) / (pairs / t_base),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--append", type=Path, help="append a results section to this markdown file")
    args = parser.parse_args()
    load, evaluation = bench_load(), bench_eval()
    lines = [
        f"## Falco rules engine ({time.strftime('%Y-%m-%d')}, Python {platform.python_version()}, "
        f"{platform.machine()})",
        "",
        "`benchmarks/bench_falco.py`; best of several runs; baselines measured in the same run.",
        "",
        "| measurement | value |",
        "|---|---|",
        *(f"| load: {k} | {v:.4f} |" for k, v in load.items()),
        *(f"| eval: {k} | {v:,.2f} |" for k, v in evaluation.items()),
        "",
        f"Goal: loading the current upstream file < 0.5 s: {'met' if load['load_rules s'] < 0.5 else 'NOT met'}.",
        "",
    ]
    text = "\n".join(lines)
    publish(text, args.append)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
