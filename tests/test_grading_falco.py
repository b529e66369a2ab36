"""The grading view of a node's Falco: the effective configuration merged like Falco 0.42 (falco.yaml, then each
config_files entry with its strategy), yaml-cpp's booleans, Falco's start errors, and the rules files it loads."""

from __future__ import annotations

from pathlib import Path

import pytest

from labs.falco import behaviours as b
from labs.graderlib.falco import (
    ConfigError,
    LocalFiles,
    alerts,
    fires,
    load_node_rules,
    read_config,
    require_rules,
    rules_paths,
    yaml_cpp_bool,
)

FILES = LocalFiles()


def _layout(root: Path, main: str, **others: str) -> str:
    for name, text in others.items():
        path = root / name.replace("__", "/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    main_file = root / "falco.yaml"
    main_file.write_text(main.replace("ROOT", str(root)))
    return str(main_file)


def test_a_falco_yaml_that_is_a_directory_is_an_empty_configuration_and_falco_refuses_to_start(tmp_path):
    directory = tmp_path / "falco.yaml"
    directory.mkdir()  # yaml-cpp's LoadFile opens it and reads nothing (std::ifstream on a directory)
    config = read_config(FILES, str(directory))
    assert (config.values, config.rules_files) == ({}, [])
    with pytest.raises(AssertionError, match=r"refuse to start: You must specify at least one rules file/directory"):
        require_rules(FILES, config)


def test_drop_ins_are_merged_in_name_order_and_the_last_one_wins(tmp_path):
    drop_ins = {"config.d__b.yaml": "json_output: true\n", "config.d__a.yaml": "json_output: false\n"}
    main = _layout(tmp_path, "config_files: [ROOT/config.d]\njson_output: false\n", **drop_ins)
    config = read_config(FILES, main)
    assert config.json_output is True
    assert config.where("json_output") == f"{tmp_path}/config.d/b.yaml"


def test_a_drop_in_replaces_a_whole_top_level_map_so_a_lone_enabled_loses_the_filename(tmp_path):
    main = _layout(tmp_path, "config_files: [ROOT/config.d]\nfile_output: {enabled: false, filename: ./events.txt}\n",
                   **{"config.d__out.yaml": "file_output:\n  enabled: true\n"})  # fmt: skip
    with pytest.raises(ConfigError, match="file output enabled but no filename in configuration block"):
        read_config(FILES, main)


def test_lists_are_appended_by_default_and_replaced_with_override(tmp_path):
    main = _layout(tmp_path, "config_files: [ROOT/append.yaml, {path: ROOT/override.yaml, strategy: override}]\n"
                   "rules_files: [a.yaml]\n", **{"append.yaml": "rules_files: [b.yaml]\n",
                                                   "override.yaml": "rules_files: [c.yaml]\n"})  # fmt: skip
    assert read_config(FILES, main).rules_files == ["c.yaml"]
    main = _layout(tmp_path, "config_files: [ROOT/append.yaml]\nrules_files: [a.yaml]\n")
    assert read_config(FILES, main).rules_files == ["a.yaml", "b.yaml"]


def test_add_only_keeps_existing_keys(tmp_path):
    main = _layout(tmp_path, "config_files: [{path: ROOT/x.yaml, strategy: add-only}]\npriority: debug\n",
                   **{"x.yaml": "priority: error\nrule_matching: all\n"})  # fmt: skip
    config = read_config(FILES, main)
    assert (config.priority, config.rule_matching) == ("debug", "all")


@pytest.mark.parametrize(("text", "expected"), [("true", True), ("yes", True), ("On", True), ("false", False),
                                                 ("off", False), ("1", False), ("TRue", False)])  # fmt: skip
def test_booleans_are_read_like_yaml_cpp(text, expected):
    assert yaml_cpp_bool(text, default=False) is expected


def test_falcos_start_errors(tmp_path):
    cases = {
        "rules_file: [a.yaml]\nrules_files: [b.yaml]\n": "both 'rules_files' and 'rules_file' keys set",
        "rule_matching: most\n": 'Unknown rule matching strategy "most"',
        "priority: loud\n": 'Unknown priority "loud"',
        "json_output: [true\n": "Cannot read config file",
        "config_files: [ROOT/inc.yaml]\n": "'config_files' directive in included config file",
    }
    (tmp_path / "inc.yaml").write_text("config_files: [x]\n")
    for text, message in cases.items():
        with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace("[", r"\[")):
            read_config(FILES, _layout(tmp_path, text))


def test_missing_entries_are_skipped_and_directories_give_their_yaml_files_sorted(tmp_path):
    main = _layout(tmp_path, "rules_files: [ROOT/missing.yaml, ROOT/one.yaml, ROOT/rules.d, ROOT/notes.txt]\n",
                   **{"one.yaml": "[]\n", "notes.txt": "", "rules.d__b.yml": "[]\n", "rules.d__a.yaml": "[]\n",
                      "rules.d__c.txt": ""})  # fmt: skip
    assert rules_paths(FILES, read_config(FILES, main)) == [
        f"{tmp_path}/one.yaml", f"{tmp_path}/rules.d/a.yaml", f"{tmp_path}/rules.d/b.yml"]  # fmt: skip


def test_probe_rules_are_loaded_after_the_node_files(tmp_path):
    local = "- macro: in_ctr\n  condition: container.id != host\n"
    main = _layout(tmp_path, "rules_files: [ROOT/local.yaml]\n", **{"local.yaml": local})
    extra = {"probe.yaml": "- rule: p\n  desc: p\n  condition: evt.type = execve and in_ctr\n  output: p\n"
                           "  priority: DEBUG\n"}  # fmt: skip
    ruleset = load_node_rules(FILES, read_config(FILES, main), extra)
    assert ruleset.ok and [r.name for r in ruleset.rules] == ["p"]


def test_a_rule_hidden_by_an_earlier_one_fires_but_is_not_reported_with_rule_matching_first(tmp_path):
    rule = "- rule: {}\n  desc: d\n  condition: evt.type = execve and proc.name = sh\n  output: o\n  priority: INFO\n"
    rules = rule.format("any shell") + rule.format("mine")
    main = _layout(tmp_path, "rules_files: [ROOT/rules.yaml]\n", **{"rules.yaml": rules})
    config = read_config(FILES, main)
    ruleset = load_node_rules(FILES, config)
    sh = b.process_in_container("sh")
    assert [m.rule for m in alerts(ruleset, sh, config)] == ["any shell"]
    assert fires(ruleset, "mine", sh)
    assert not fires(ruleset, "mine", b.process_in_container("ls"))
