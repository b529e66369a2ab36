"""The public API: load rules files like Falco, then evaluate events against them.

ruleset = load_rules(["falco_rules.yaml", "falco_rules.local.yaml"])
if ruleset.errors: ...                      # Falco would refuse to start
for match in ruleset.evaluate(event): ...   # rule_matching first (Falco's default) or all
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labs.falco.collector import Collector
from labs.falco.compiler import CompiledRule, compile_collected
from labs.falco.diagnostics import Diagnostic, file_context
from labs.falco.emulation import Semver, loaded_plugins
from labs.falco.output import parse_output
from labs.falco.priorities import parse_priority, priority_name
from labs.falco.reader import read_rules_content

RULE_MATCHING = ("first", "all")
# Falco >= 0.41 appends the container plugin's suggested output fields to every rule output (append_output default).
SUGGESTED_OUTPUT = parse_output(
    " container_id=%container.id container_name=%container.name"
    " container_image_repository=%container.image.repository container_image_tag=%container.image.tag"
    " k8s_pod_name=%k8s.pod.name k8s_ns_name=%k8s.ns.name"
)


@dataclass(frozen=True)
class Match:
    """A rule that fired on an event, with its rendered output and Falco's output_fields."""

    rule: str
    priority: str
    output: str
    output_fields: dict[str, Any]
    tags: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "priority": self.priority, "output": self.output}


@dataclass
class Ruleset:
    """Loaded rules in evaluation order, with Falco's load errors and warnings."""

    files: list[str]
    rules: list[CompiledRule] = field(default_factory=list)
    lists: dict[str, list[str]] = field(default_factory=dict)  # name -> items, as substituted into conditions
    errors: list[Diagnostic] = field(default_factory=list)
    warnings: list[Diagnostic] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def rule(self, name: str) -> CompiledRule | None:
        return next((r for r in self.rules if r.name == name), None)

    def evaluate(
        self,
        event: dict[str, Any],
        rule_matching: str = "first",
        priority: str = "debug",
        suggested_output: bool = True,
    ) -> list[Match]:
        """The alerts Falco would raise for `event`: enabled rules at least as severe as `priority`, in order."""
        if rule_matching not in RULE_MATCHING:
            raise ValueError(f'Unknown rule matching strategy "{rule_matching}"--must be one of first, all')
        threshold = parse_priority(priority)
        if threshold is None:
            raise ValueError(
                f'Unknown priority "{priority}"--must be one of emergency, alert, critical, error, '
                "warning, notice, informational, debug"
            )
        matches = []
        for rule in self.rules:
            if not rule.enabled or rule.priority > threshold or not rule.matches(event):
                continue
            output = rule.output.render(event)
            fields = rule.output.fields(event)
            if suggested_output:
                output += SUGGESTED_OUTPUT.render(event)
                fields |= SUGGESTED_OUTPUT.fields(event)
            matches.append(Match(rule.name, priority_name(rule.priority), output, fields, rule.tags))
            if rule_matching == "first":
                break
        return matches

    def evaluate_all(self, events: Iterable[dict[str, Any]], **options: Any) -> list[list[Match]]:
        return [self.evaluate(e, **options) for e in events]


def load_rules(paths: Sequence[str | Path], contents: dict[str, str] | None = None) -> Ruleset:
    """Load rules files in order with Falco's semantics; stop at the first file with an error, as Falco does.

    `contents` maps a path to its text, for rules that are not on disk.
    """
    names = [str(p) for p in paths]
    ruleset = Ruleset(files=names)
    collector = Collector()
    compile_warnings: list = []
    for name in names:
        ctx = file_context(name)
        try:
            text = contents[name] if contents and name in contents else Path(name).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            ruleset.errors.append(
                Diagnostic(
                    "LOAD_ERR_FILE_READ",
                    f"Could not open file {name} for reading: {getattr(error, 'strerror', None) or error}",
                    ctx,
                )
            )
            break
        read_error = read_rules_content(collector, text, ctx)
        if read_error is not None:
            ruleset.errors.append(read_error)
            break
        compiled = compile_collected(collector)
        compile_warnings = compiled.warnings
        if compiled.error is not None:
            ruleset.errors.append(compiled.error)
            break
        ruleset.rules, ruleset.lists = compiled.rules, compiled.lists
    ruleset.warnings = [*collector.warnings, *compile_warnings]
    if not ruleset.errors:
        plugin_error = _check_plugins(collector)
        if plugin_error is not None:
            ruleset.errors.append(plugin_error)
    if ruleset.errors:
        ruleset.rules, ruleset.lists = [], {}
    return ruleset


def _check_plugins(collector: Collector) -> Diagnostic | None:
    """Falco's check_plugin_requirements against the plugins the pinned Falco loads."""
    plugins = loaded_plugins()
    for alternatives, ctx in collector.required_plugins:
        for name, version in alternatives:
            if name in plugins:
                if not plugins[name].compatible_with(Semver.parse(version)):
                    return Diagnostic(
                        "LOAD_ERR_VALIDATE",
                        f"Plugin '{name}' version '{plugins[name]}' is not "
                        f"compatible with required plugin version '{version}'",
                        ctx,
                    )
                break
        else:
            wanted = ", ".join(f"{n} (>= {v})" for n, v in alternatives)
            return Diagnostic("LOAD_ERR_VALIDATE", f"Plugin requirement not satisfied, must load one of: {wanted}", ctx)
    return None
