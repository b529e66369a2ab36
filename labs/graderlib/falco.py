"""Falco on a node, read the way Falco 0.42 reads it at start and at every hot reload:

- `read_config`: the effective configuration: /etc/falco/falco.yaml, then each `config_files` entry (a file, or a
  directory's regular files in sorted order) merged key by key with its strategy (append, override, add-only);
  values converted like yaml-cpp (`json_output: yes` is true, `json_output: 1` falls back to the default);
- `load_node_rules`: the `rules_files` entries expanded like Falco (missing entries skipped, directories sorted,
  only *.yaml/*.yml), loaded in order with labs.falco, optionally followed by in-memory probe rules;
- `container_of`: a behaviours.Container for a real pod's container (its runtime id, image, pod and namespace),
  so that events look like the ones Falco sees on that node;
- `alerts`: the alerts Falco would raise for an event with the configuration's rule_matching and priority;
  `fires`: whether one rule matches an event whatever the rules before it do.

Files are read through `NodeFiles` (a testinfra host in graders, the local filesystem in tests).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml

from labs.falco import Match, Ruleset, load_rules
from labs.falco.behaviours import Container

FALCO_YAML = "/etc/falco/falco.yaml"
UPSTREAM_RULES = "/etc/falco/falco_rules.yaml"
LOCAL_RULES = "/etc/falco/falco_rules.local.yaml"
# The default rules as the package installed them: playbooks/tasks/falco_prepare.yml keeps /etc/falco there once.
PRISTINE_UPSTREAM_RULES = "/var/lib/cks-lab/falco-pristine/falco_rules.yaml"
CONFIG_FILES_KEY = "config_files"
STRATEGIES = ("append", "override", "add-only")
YAML_CPP_TRUE = {"y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"}
YAML_CPP_FALSE = {"n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"}
PRIORITY_NAMES = ("emergency", "alert", "critical", "error", "warning", "notice", "informational", "info", "debug")


class NodeFiles(Protocol):
    """Read-only access to a node's files."""

    def is_file(self, path: str) -> bool: ...

    def is_dir(self, path: str) -> bool: ...

    def listdir(self, path: str) -> list[str]: ...

    def read(self, path: str) -> str: ...


class LocalFiles:
    """NodeFiles on this machine."""

    def is_file(self, path: str) -> bool:
        return Path(path).is_file()

    def is_dir(self, path: str) -> bool:
        return Path(path).is_dir()

    def listdir(self, path: str) -> list[str]:
        return [p.name for p in Path(path).iterdir()]

    def read(self, path: str) -> str:
        return Path(path).read_text(encoding="utf-8")


class HostFiles:
    """NodeFiles on a pytest-testinfra host (the `node` fixture)."""

    def __init__(self, host: Any) -> None:
        self.host = host

    def is_file(self, path: str) -> bool:
        return self.host.file(path).is_file

    def is_dir(self, path: str) -> bool:
        return self.host.file(path).is_directory

    def listdir(self, path: str) -> list[str]:
        return self.host.file(path).listdir()

    def read(self, path: str) -> str:
        return self.host.file(path).content_string


class ConfigError(Exception):
    """Falco would refuse to start with this configuration; the message is what it would say."""


def yaml_cpp_bool(value: Any, default: bool) -> bool:
    """yaml-cpp's `as<bool>(default)`: the YAML 1.1 spellings of true/false, anything else gives the default."""
    if isinstance(value, str):
        if value in YAML_CPP_TRUE:
            return True
        if value in YAML_CPP_FALSE:
            return False
    return default


def _parse(text: str, path: str) -> dict:
    """A config file as yaml-cpp sees it (every scalar a string); ConfigError naming file, line and problem."""
    try:
        document = yaml.load(text, Loader=yaml.BaseLoader)  # BaseLoader: every scalar a string, like yaml-cpp
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error)
        raise ConfigError(f"Cannot read config file ({path}):{where}: {problem}") from None
    if document is None or document == "":
        return {}
    if not isinstance(document, dict):
        raise ConfigError(f"Cannot read config file ({path}): the document is not a mapping of keys to values")
    return document


@dataclass
class FalcoConfig:
    """The merged configuration and, for each top-level key, the file that set it last."""

    values: dict[str, Any] = field(default_factory=dict)
    origin: dict[str, str] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)

    def value(self, dotted: str) -> Any:
        """The value at a dotted path (`file_output.filename`), None when absent."""
        node: Any = self.values
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                return None
            node = node[part]
        return node

    def boolean(self, dotted: str, default: bool = False) -> bool:
        return yaml_cpp_bool(self.value(dotted), default)

    def where(self, dotted: str) -> str:
        """The file that set the top-level key of `dotted` (for messages)."""
        return self.origin.get(dotted.split(".")[0], "Falco's built-in default")

    @property
    def rules_files(self) -> list[str]:
        for key in ("rules_files", "rules_file"):
            entries = self.values.get(key)
            if entries is not None:
                return [str(e) for e in entries] if isinstance(entries, list) else [str(entries)]
        return []

    @property
    def rule_matching(self) -> str:
        return str(self.value("rule_matching") or "first")

    @property
    def priority(self) -> str:
        value = str(self.value("priority") or "debug").lower()
        return "informational" if value == "info" else value

    @property
    def json_output(self) -> bool:
        return self.boolean("json_output")

    @property
    def file_output(self) -> tuple[bool, str]:
        """(enabled, filename) of file_output."""
        return self.boolean("file_output.enabled"), str(self.value("file_output.filename") or "")


def _include_entries(value: Any) -> list[tuple[str, str]]:
    """`config_files` entries as (path, strategy): a plain string is appended, a map gives path and strategy."""
    entries = value if isinstance(value, list) else [] if value is None else [value]
    found = []
    for entry in entries:
        if isinstance(entry, dict):
            strategy = str(entry.get("strategy", "append"))
            found.append((str(entry.get("path", "")), strategy if strategy in STRATEGIES else "append"))
        else:
            found.append((str(entry), "append"))
    return found


def _merge(config: FalcoConfig, document: dict, strategy: str, path: str) -> None:
    for key, value in document.items():
        if key == CONFIG_FILES_KEY:
            raise ConfigError(f"Config error: '{CONFIG_FILES_KEY}' directive in included config file {path}.")
        if strategy == "add-only" and key in config.values:
            continue
        existing = config.values.get(key)
        if strategy == "append" and isinstance(value, list):
            config.values[key] = [*(existing if isinstance(existing, list) else []), *value]
        else:
            config.values[key] = value
        config.origin[key] = path


def read_config(files: NodeFiles, path: str = FALCO_YAML) -> FalcoConfig:
    """The effective configuration Falco would start with; ConfigError with Falco's reason when it would not."""
    if files.is_dir(path):
        main = {}  # yaml-cpp's LoadFile opens a directory and reads nothing: an empty configuration
    elif files.is_file(path):
        main = _parse(files.read(path), path)
    else:
        raise ConfigError(f"Cannot read config file ({path}): it does not exist")
    config = FalcoConfig(dict(main), dict.fromkeys(main, path), [path])
    for include, strategy in _include_entries(main.get(CONFIG_FILES_KEY)):
        if include == path:
            raise ConfigError(
                f"Config error: '{CONFIG_FILES_KEY}' directive tried to recursively include main config file: {path}."
            )
        if files.is_file(include):
            included = [include]
        elif files.is_dir(include):
            included = sorted(f"{include.rstrip('/')}/{name}" for name in files.listdir(include))
            included = [f for f in included if files.is_file(f)]
        else:
            continue  # Falco skips entries that do not exist
        for name in included:
            _merge(config, _parse(files.read(name), name), strategy, name)
            config.files.append(name)
    _validate(config, path)
    return config


def _validate(config: FalcoConfig, path: str) -> None:
    """The checks Falco makes while reading the merged configuration (configuration.cpp, load_yaml)."""
    if "rules_files" in config.values and "rules_file" in config.values:
        raise ConfigError(f"Error reading config file ({path}): both 'rules_files' and 'rules_file' keys set")
    enabled, filename = config.file_output
    if enabled and not filename:
        raise ConfigError(
            f"Error reading config file ({path}): file output enabled but no filename in configuration block"
            f" (file_output set last by {config.where('file_output')})"
        )
    if config.rule_matching not in ("first", "all"):
        raise ConfigError(f'Unknown rule matching strategy "{config.rule_matching}"--must be one of first, all')
    if config.priority not in PRIORITY_NAMES:
        raise ConfigError(
            f'Unknown priority "{config.value("priority")}"--must be one of emergency, alert, critical, error, '
            "warning, notice, informational, debug"
        )


def _is_yaml(name: str) -> bool:
    return name.endswith((".yaml", ".yml"))


def rules_paths(files: NodeFiles, config: FalcoConfig) -> list[str]:
    """The rules files Falco loads, in order: read_rules_file_directory for each `rules_files` entry."""
    paths = []
    for entry in config.rules_files:
        if files.is_dir(entry):
            names = sorted(f"{entry.rstrip('/')}/{name}" for name in files.listdir(entry))
            paths += [n for n in names if _is_yaml(n) and files.is_file(n)]
        elif files.is_file(entry) and _is_yaml(entry):
            paths.append(entry)
    return paths


def load_node_rules(files: NodeFiles, config: FalcoConfig, extra: dict[str, str] | None = None) -> Ruleset:
    """The rules Falco loads on the node, followed by `extra` ({name: rules text}, e.g. probe rules)."""
    paths = rules_paths(files, config)
    contents = {p: files.read(p) for p in paths} | (extra or {})
    return load_rules([*paths, *(extra or {})], contents=contents)


def load_failure(ruleset: Ruleset) -> str:
    """What Falco says when the rules do not load: file, line, item and message of its first error."""
    error = ruleset.errors[0]
    return f"Falco would refuse to start: {error.summary()} ({error.code}: {error.title})"


def probe_rule(name: str, condition: str) -> str:
    """A rules file with one rule, to evaluate a macro or list of the student's on its own."""
    return yaml.safe_dump(
        [{"rule": name, "desc": "cks-lab probe", "condition": condition, "output": "probe", "priority": "DEBUG"}],
        sort_keys=False,
    )


def alerts(ruleset: Ruleset, event: dict[str, Any], config: FalcoConfig | None = None) -> list[Match]:
    """The alerts Falco would raise for `event` with the configuration's rule_matching and priority."""
    if config is None:
        return ruleset.evaluate(event)
    return ruleset.evaluate(event, rule_matching=config.rule_matching, priority=config.priority)


def fires(ruleset: Ruleset, rule: str, event: dict[str, Any]) -> bool:
    """Rule `rule` matches `event` on its own (with rule_matching: all, so that no rule before it hides it)."""
    return any(m.rule == rule for m in ruleset.evaluate(event, rule_matching="all"))


def container_of(pod: Any, name: str | None = None) -> Container:
    """The container `name` (default: the first) of a running pod, as Falco's container plugin describes it."""
    statuses = pod.status.container_statuses or []
    status = next((s for s in statuses if name is None or s.name == name), None)
    container_id = (status.container_id or "").split("://")[-1][:12] if status else ""
    image = (status.image if status else None) or next(c.image for c in pod.spec.containers if c.name == name)
    repository, _, tag = image.rpartition(":") if ":" in image.split("/")[-1] else (image, "", "latest")
    return Container(
        id=container_id or "0123456789ab",
        name=status.name if status else (name or pod.spec.containers[0].name),
        image_repository=repository,
        image_tag=tag,
        pod=pod.metadata.name,
        namespace=pod.metadata.namespace,
    )


def require_config(files: NodeFiles) -> FalcoConfig:
    """The effective configuration, or a failed criterion with what Falco would say at start."""
    try:
        return read_config(files)
    except ConfigError as error:
        raise AssertionError(f"Falco would refuse to start: {error}") from None


def require_rules(files: NodeFiles, config: FalcoConfig) -> Ruleset:
    """The rules Falco loads on the node, or a failed criterion with Falco's first load error."""
    if not config.rules_files:  # load_rules_files.cpp, for a Falco started without -r (as its services are)
        raise AssertionError(
            "Falco would refuse to start: You must specify at least one rules file/directory via -r or a rules_file"
            f" entry in falco.yaml (none in {', '.join(config.files)})"
        )
    loaded = load_node_rules(files, config)
    if not loaded.ok:
        raise AssertionError(load_failure(loaded))
    return loaded
