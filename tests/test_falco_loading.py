"""Loading rules files with Falco's semantics: upstream files, required keys, overrides, visibility, versions."""

from __future__ import annotations

import pytest

from labs.falco import load_rules

CURRENT = "falco_rules.yaml"
OLD = "falco_rules_0.32.2.yaml"


def load(*texts: str, **named: str):
    """Load in-memory rules files, named f0.yaml, f1.yaml ... in order."""
    contents = {f"f{i}.yaml": text for i, text in enumerate(texts)}
    return load_rules(list(contents), contents=contents)


def codes(diagnostics) -> list[str]:
    return [d.code for d in diagnostics]


RULE = """
- rule: r
  desc: d
  condition: evt.type = execve and proc.name = bash
  output: shell %proc.name
  priority: WARNING
"""


@pytest.mark.parametrize(("path", "rules"), [(CURRENT, 25), (OLD, 72)])
def test_upstream_rules_files_load_without_errors(path, rules, falco_upstream):
    ruleset = load_rules([falco_upstream / path])
    assert ruleset.errors == []
    assert len(ruleset.rules) == rules


def test_both_upstream_files_load_together(falco_upstream):
    assert load_rules([falco_upstream / OLD, falco_upstream / CURRENT]).ok


def test_old_file_warns_about_deprecated_evt_dir_and_container_info(falco_upstream):
    messages = {w.message for w in load_rules([falco_upstream / OLD]).warnings}
    assert any("evt.dir" in m for m in messages)
    assert any("%container.info is deprecated" in m for m in messages)


def test_a_misspelled_output_key_is_falcos_missing_key_error():
    ruleset = load(RULE.replace("output:", "ouput:"))
    [error] = ruleset.errors
    assert error.code == "LOAD_ERR_YAML_VALIDATE"
    assert error.message == "Item has no mapping for key 'output'"
    assert error.file == "f0.yaml"
    assert error.item == "rule 'r'"
    assert ruleset.rules == []


@pytest.mark.parametrize("key", ["condition", "desc", "priority"])
def test_every_required_rule_key_is_checked(key):
    text = "\n".join(line for line in RULE.splitlines() if not line.strip().startswith(f"{key}:"))
    assert load(text).errors[0].message == f"Item has no mapping for key '{key}'"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- rule: r\n  desc: [a\n", None),
        ("just a string\n", "Rules content is not yaml"),
        ("rule: r\n", "Rules content is not yaml array of objects"),
        ("- just a string\n", "Unexpected element type. Each element should be a yaml associative array."),
        ("- list: l\n", "Item has no mapping for key 'items'"),
        ("- list:\n  items: []\n", "Mapping for key 'list' is empty"),
        (RULE.replace("WARNING", "LOUD"), "Invalid priority"),
        ("- required_engine_version: 9999999\n", "Rules require engine version 0.9999999.0, but engine version is"),
        ("- required_engine_version: seven\n", "Unable to parse engine version 'seven' as a semver string."),
        ("- required_plugin_versions:\n  - name: k8saudit\n    version: 0.1.0\n",
         "Plugin requirement not satisfied, must load one of: k8saudit (>= 0.1.0)"),
    ],
)  # fmt: skip
def test_bad_files_give_falcos_errors(text, message):
    [error] = load(text).errors
    if message is None:
        assert error.code == "LOAD_ERR_YAML_PARSE"
    else:
        assert error.message.startswith(message)


def test_scalars_stay_strings():
    ruleset = load(
        "- list: l\n  items: [yes, 22, on]\n"
        "- rule: r\n  desc: d\n  condition: evt.type = execve and proc.name in (l)\n  output: o\n  priority: INFO\n"
    )
    assert ruleset.rules[0].condition == "(evt.type = execve and proc.name in (yes, 22, on))"


def test_unknown_top_level_item_is_a_warning():
    ruleset = load("- something: x\n")
    assert ruleset.ok
    assert codes(ruleset.warnings) == ["LOAD_UNKNOWN_ITEM"]


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ("evt.type = execve and proc.nobody = x", "filter_check called with nonexistent field proc.nobody"),
        ("evt.type = some_invalid_event", "unknown event type some_invalid_event"),
        ("evt.type = execve and undefined_macro", "Undefined macro 'undefined_macro' used in filter."),
        ("evt.type = execve and proc.name === bash", "expected a string value or a field with a valid transformer"),
        ("evt.type = execve and proc.name is bash", "expected a valid check operator: one of 'exists'"),
        (
            "evt.type = execve and proc.tty contains 1",
            "filter error: 'CONTAINS' operator not supported for numeric filters",
        ),
        ("evt.type = execve and proc.tty > abc", "expected a number value"),
        ("evt.type = execve and proc.pid = abc", "abc is not a valid number"),
        ("evt.type=execve foo", "unexpected token after 'execve', expecting 'or', 'and'"),
    ],
)
def test_condition_errors_name_the_rule(condition, message):
    [error] = load(RULE.replace("evt.type = execve and proc.name = bash", condition)).errors
    assert error.message.startswith(message) or message in error.message
    assert error.item == "rule 'r'"


def test_skip_if_unknown_filter_turns_the_error_into_a_warning_and_drops_the_rule():
    ruleset = load(RULE.replace("proc.name = bash", "proc.nobody = x") + "  skip-if-unknown-filter: true\n")
    assert ruleset.ok
    assert ruleset.rules == []
    assert codes(ruleset.warnings) == ["LOAD_UNKNOWN_FILTER"]


def test_unknown_output_field_is_an_output_error():
    [error] = load(RULE.replace("%proc.name", "%not_a_real_field")).errors
    assert error.code == "LOAD_ERR_COMPILE_OUTPUT"
    assert error.message == "invalid formatting token not_a_real_field"


def test_macro_may_only_use_macros_defined_before_it_but_rules_any():
    later = "- macro: m2\n  condition: m1\n- macro: m1\n  condition: proc.name = x\n"
    assert load(later + RULE.replace("proc.name = bash", "m2")).errors[0].message == (
        "Undefined macro 'm1' used in filter."
    )
    assert load(RULE.replace("proc.name = bash", "m1"), "- macro: m1\n  condition: proc.name = x\n").errors != []
    assert load(RULE.replace("proc.name = bash", "m1") + "- macro: m1\n  condition: proc.name = x\n").ok


def test_macro_loop_is_an_error():
    loop = "- macro: a\n  condition: b\n- macro: b\n  condition: a\n"
    assert not load(loop + RULE.replace("proc.name = bash", "a")).ok


def test_redefinition_wins_keeps_position_and_inherits_nothing():
    first = RULE + "  enabled: false\n" + RULE.replace("rule: r", "rule: s")
    ruleset = load(first, RULE.replace("bash", "zsh"))
    assert [r.name for r in ruleset.rules] == ["r", "s"]
    assert ruleset.rules[0].enabled
    assert "zsh" in ruleset.rules[0].condition


def test_append_and_override():
    base = RULE + "- list: l\n  items: [a]\n- macro: m\n  condition: proc.name = a or proc.name = b\n"
    extra = (
        "- list: l\n  items: [b]\n  override:\n    items: append\n"
        "- rule: r\n  condition: and m\n  output: '%user.name'\n"
        "  override:\n    condition: append\n    output: append\n"
        "- rule: r\n  priority: ERROR\n  override:\n    priority: replace\n"
    )
    ruleset = load(base, extra)
    rule = ruleset.rules[0]
    assert rule.condition == "(evt.type = execve and proc.name = bash and (proc.name = a or proc.name = b))"
    assert rule.output_text == "shell %proc.name %user.name"
    assert rule.priority == 3
    assert codes(ruleset.errors) == []


def test_macro_append_is_textual_so_precedence_is_not_protected():
    base = "- macro: m\n  condition: proc.name = a or proc.name = b\n" + RULE.replace("proc.name = bash", "m")
    ruleset = load(base, "- macro: m\n  condition: and proc.pname = c\n  append: true\n")
    assert ruleset.rules[0].condition == (
        "(evt.type = execve and (proc.name = a or (proc.name = b and proc.pname = c)))"
    )
    assert "LOAD_DEPRECATED_ITEM" in codes(ruleset.warnings)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("- rule: zz\n  condition: and x.y = 1\n  append: true\n",
         "Rule uses 'append' or 'override.<key>: append' but no rule by that name already exists"),
        ("- rule: r\n  priority: ERROR\n  override:\n    priority: append\n",
         "Key 'priority' cannot be appended to, use 'replace' instead"),
        ("- rule: r\n  condition: and x.y = 1\n  append: true\n  override:\n    condition: append\n",
         "Keys 'override' and 'append: true' cannot be used together."),
        ("- rule: r\n  condition: x\n  desc: y\n  override:\n    condition: replace\n",
         "Unexpected key 'desc': no corresponding entry under 'override' is defined."),
        ("- list: nolist\n  items: [a]\n  append: true\n",
         "List uses 'append' or 'override.items: append' but no list by that name already exists"),
        ("- rule: zz\n  enabled: true\n", "Rule has 'enabled' key but no rule by that name already exists"),
    ],
)  # fmt: skip
def test_override_errors(extra, message):
    assert load(RULE, extra).errors[0].message.startswith(message)


def test_standalone_enabled_and_override_enabled():
    disabled = load(RULE, "- rule: r\n  enabled: false\n")
    assert not disabled.rules[0].enabled
    assert "The standalone 'enabled' key usage is deprecated" in disabled.warnings[0].message
    enabled = load(RULE + "  enabled: false\n", "- rule: r\n  enabled: true\n  override:\n    enabled: replace\n")
    assert enabled.rules[0].enabled


def test_exceptions_become_and_not_clauses():
    text = RULE.replace("evt.type = execve and proc.name = bash", "proc.cmdline contains curl") + (
        "  exceptions:\n  - name: local\n    fields: [proc.cmdline, proc.pname]\n    comps: [contains, in]\n"
        "    values:\n    - [curl 127.0.0.1, [bash, sh]]\n"
        "  - name: names\n    fields: proc.name\n    values: [curl, wget]\n"
    )
    ruleset = load(text)
    assert ruleset.rules[0].condition == (
        '(proc.cmdline contains curl and not (proc.cmdline contains "curl 127.0.0.1" and proc.pname in (bash, sh))'
        " and not proc.name in (curl, wget))"
    )


@pytest.mark.parametrize(
    ("exception", "message"),
    [
        ("    fields: [proc.name]\n    comps: [no-comp]\n", "'no-comp' is not a supported comparison operator"),
        ("    fields: [not.exist]\n", "'not.exist' is not a supported filter field"),
        ("    fields: [proc.name, proc.pname]\n    comps: [=]\n", "Fields and comps lists must have equal length"),
    ],
)
def test_exception_errors(exception, message):
    assert load(RULE + "  exceptions:\n  - name: e\n" + exception).errors[0].message == message


def test_broad_condition_warns_about_event_types():
    ruleset = load(RULE.replace("evt.type = execve and ", ""))
    assert "LOAD_NO_EVTTYPE" in codes(ruleset.warnings)
    assert "LOAD_NO_EVTTYPE" not in codes(load(RULE).warnings)


def test_misused_field_as_value_warns():
    ruleset = load(RULE.replace("proc.name = bash", "proc.name = proc.pname"))
    assert "'proc.pname' may be a valid field misused as a const string value" in [w.message for w in ruleset.warnings]


def test_later_file_cannot_rescue_an_earlier_file_and_loading_stops_at_the_first_bad_file():
    ruleset = load(RULE.replace("proc.name = bash", "m"), "- macro: m\n  condition: proc.name = x\n")
    assert [e.file for e in ruleset.errors] == ["f0.yaml"]


def test_missing_file_is_a_read_error(tmp_path):
    [error] = load_rules([tmp_path / "nope.yaml"]).errors
    assert error.code == "LOAD_ERR_FILE_READ"
