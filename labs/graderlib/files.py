"""Reading what a student wrote: a file that cannot be parsed fails the criterion with the parser's own words
(file, line, column, problem), never a crash."""

from __future__ import annotations

from typing import Any, NoReturn

import pytest
import yaml


def _unparsable(error: yaml.YAMLError, source: str) -> NoReturn:
    mark = getattr(error, "problem_mark", None)
    where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    problem = getattr(error, "problem", None) or str(error)
    pytest.fail(f"{source}{where}: cannot be parsed as YAML: {problem}", pytrace=False)


def parse_yaml(text: str, source: str) -> Any:
    """The YAML document in `text` (`source` names it in messages), or a failed criterion saying what is wrong."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        _unparsable(error, source)


def parse_yaml_documents(text: str, source: str) -> list[Any]:
    """Every document of a multi-document YAML text (`---` separated, empty ones dropped), or a failed criterion."""
    try:
        return [document for document in yaml.safe_load_all(text) if document is not None]
    except yaml.YAMLError as error:
        _unparsable(error, source)
