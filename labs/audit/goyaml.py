"""Read YAML the way kube-apiserver does (sigs.k8s.io/yaml on its go-yaml v2 fork), into JSON-like Python values.

What differs from a plain `yaml.safe_load` and matters for a grader:
* YAML 1.1 scalars as go-yaml v2 resolves them: `y`, `yes`, `on`, `off`, `n` are booleans, `0755` is an octal int,
  timestamps stay strings;
* only the first document counts;
* map keys become strings (`1:` -> "1", `true:` -> "true") and, as `json.Marshal` sorts maps, keys come out sorted;
* duplicate keys: the last one wins, and each is reported as go-yaml's strict mode would
  (`line 5: key "level" already set in map`);
* syntax errors carry go-yaml's message (`yaml: line 4: found character that cannot start any token`).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.scanner import Scanner


class _PureParser(Reader, Scanner, Parser, Composer):
    def __init__(self, text: str) -> None:
        Reader.__init__(self, text)
        Scanner.__init__(self)
        Parser.__init__(self)
        Composer.__init__(self)


try:  # libyaml, the C library go-yaml was ported from: same error messages
    from yaml._yaml import CParser as _FastParser
except ImportError:  # pragma: no cover - PyYAML without libyaml: messages then come from PyYAML's own parser
    _FastParser = _PureParser

_PLAIN = "tag:cks-lab:plain"
_STR = "tag:yaml.org,2002:str"
_MERGE = "tag:yaml.org,2002:merge"

_NULLS = frozenset(("", "~", "null", "Null", "NULL"))
_TRUE = frozenset(("y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"))
_FALSE = frozenset(("n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"))
_SPECIAL_FLOATS = {
    ".inf": math.inf, ".Inf": math.inf, ".INF": math.inf, "+.inf": math.inf, "+.Inf": math.inf, "+.INF": math.inf,
    "-.inf": -math.inf, "-.Inf": -math.inf, "-.INF": -math.inf, ".nan": math.nan, ".NaN": math.nan, ".NAN": math.nan,
}  # fmt: skip
_YAML_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
_DOT_FLOAT = re.compile(r"^\.[0-9]+([eE][-+]?[0-9]+)?$")
_GO_INT = re.compile(r"^[-+]?(0[xX][0-9a-fA-F]+|0[oO]?[0-7]+|0[bB][01]+|[1-9][0-9]*|0)$")
_INT64 = (-(2**63), 2**64 - 1)


class YamlError(ValueError):
    """The text is not YAML go-yaml accepts; the message is go-yaml's (`yaml: line N: problem`)."""


@dataclass
class YamlDocument:
    """The first document as JSON-like values, plus go-yaml strict-mode complaints (duplicate keys)."""

    value: Any
    duplicates: list[str] = field(default_factory=list)


class _Resolving:
    """Scalars are only marked plain or quoted while composing, and resolved later the go-yaml way."""

    def resolve(self, kind: type, value: Any, implicit: tuple[bool, bool]) -> str:
        if kind is ScalarNode:
            return _PLAIN if implicit[0] else _STR
        return "tag:yaml.org,2002:seq" if kind is SequenceNode else "tag:yaml.org,2002:map"

    def descend_resolver(self, *_args: Any) -> None:
        return None

    def ascend_resolver(self, *_args: Any) -> None:
        return None


class _Loader(_Resolving, _FastParser):  # type: ignore[misc, valid-type]
    pass


class _PureLoader(_Resolving, _PureParser):
    pass


def _go_error(error: yaml.MarkedYAMLError) -> YamlError:
    """Format like go-yaml's parser.fail(): the line of the problem (scanner errors count one more), else context."""
    problem_line = error.problem_mark.line if error.problem_mark else 0
    context_line = error.context_mark.line if error.context_mark else 0
    line = 0
    if problem_line:
        line = problem_line + (1 if isinstance(error, yaml.scanner.ScannerError) else 0)
    elif context_line:
        line = context_line
    where = f"line {line}: " if line else ""
    return YamlError(f"yaml: {where}{error.problem or 'unknown problem parsing YAML content'}")


def load(text: str) -> YamlDocument:
    """Parse the first YAML document of `text` as sigs.k8s.io/yaml.YAMLToJSON would see it."""
    try:
        node = _first_node(_Loader, text)
    except YamlError:
        raise
    except Exception:  # libyaml's composer trips on some broken input: PyYAML's own parser says what is wrong
        try:
            node = _first_node(_PureLoader, text)
        except YamlError:
            raise
        except Exception as error:  # e.g. characters YAML does not allow (lone surrogates)
            raise YamlError(f"yaml: {error}") from None
    converter = _Converter(text)
    try:
        value = None if node is None else converter.convert(node)
    except RecursionError:
        raise YamlError("yaml: document nested too deeply for this reader") from None
    return YamlDocument(value=value, duplicates=converter.duplicates)


_ALIAS = re.compile(r"\*([0-9A-Za-z_-]+)")  # libyaml's anchor characters


def _first_node(loader_class: type, text: str) -> Node | None:
    loader = loader_class(text)
    try:
        return loader.get_node() if loader.check_node() else None
    except yaml.MarkedYAMLError as error:
        if error.problem == "found undefined alias" and error.problem_mark is not None:
            alias = _ALIAS.match(text, error.problem_mark.index)
            if alias:
                raise YamlError(f"yaml: unknown anchor '{alias.group(1)}' referenced") from None
        raise _go_error(error) from None
    except yaml.YAMLError as error:
        raise YamlError(f"yaml: {error}") from None
    finally:
        loader.dispose()


def _resolve_plain(text: str) -> Any:
    """go-yaml v2's resolve() for an untagged plain scalar decoded into interface{}."""
    if text in _NULLS:
        return None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    if text in _SPECIAL_FLOATS:
        return _SPECIAL_FLOATS[text]
    if text.startswith("."):
        return float(text) if _DOT_FLOAT.match(text) else text
    if text and (text[0].isdigit() or text[0] in "+-"):
        plain = text.replace("_", "")
        number = _go_int(plain)
        if number is not None:
            return number
        if _YAML_FLOAT.match(plain):
            try:
                return float(plain)
            except ValueError:  # pragma: no cover - the regex only lets floats through
                return text
        if plain.startswith(("0b", "-0b")):
            digits = plain.replace("0b", "", 1)
            try:
                return int(digits, 2)
            except ValueError:
                return text
    return text


def _go_int(plain: str) -> int | None:
    """strconv.ParseInt(s, 0, 64) then ParseUint: base prefixes 0x/0o/0b, a leading 0 means octal."""
    if not _GO_INT.match(plain):
        return None
    sign = -1 if plain.startswith("-") else 1
    body = plain.lstrip("+-")
    octal = len(body) > 1 and body[0] == "0" and body[1].isdigit()
    value = sign * (int(body, 8) if octal else int(body, 0))
    if not _INT64[0] <= value <= _INT64[1]:
        return None
    return value


def _go_key(key: Any, value: Any) -> str:
    """sigs.k8s.io/yaml turns YAML map keys into JSON object keys; a null key is an error."""
    if isinstance(key, str):
        return key
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, int):
        return str(key)
    if isinstance(key, float):
        if math.isinf(key):
            return ".inf" if key > 0 else "-.inf"
        if math.isnan(key):
            return ".nan"
        return _format_float32(key)
    from labs.audit.gofmt import go_quote

    shown = go_quote(value) if isinstance(value, str) else "<nil>" if value is None else repr(value)
    raise YamlError(f"unsupported map key of type: %!s(<nil>), key: <nil>, value: {shown}")


def _format_float32(value: float) -> str:
    """strconv.FormatFloat(v, 'g', -1, 32): the shortest representation at float32 precision."""
    import struct

    single = struct.unpack("f", struct.pack("f", value))[0]
    for digits in range(1, 10):
        text = f"{single:.{digits}g}"
        if struct.unpack("f", struct.pack("f", float(text)))[0] == single:
            break
    mantissa, _, exponent = text.partition("e")
    if exponent:
        exp = int(exponent)
        return f"{mantissa}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    return mantissa


def _go_sharp_v(value: Any) -> str:
    """fmt's %#v of a value go-yaml decoded into interface{} (maps print with sorted keys)."""
    if isinstance(value, dict):
        items = ",".join(f"{_go_sharp_v(key)}:{_go_sharp_v(item)}" for key, item in sorted(value.items()))
        return "map[interface {}]interface {}{" + items + "}"
    if isinstance(value, list):
        return "[]interface {}{" + ", ".join(_go_sharp_v(item) for item in value) + "}"
    if value is None:
        return "interface {}(nil)"
    return _go_key_literal(value)


def _go_key_literal(key: Any) -> str:
    """The %#v rendering go-yaml uses in `key %#v already set in map`."""
    if isinstance(key, str):
        from labs.audit.gofmt import go_quote

        return go_quote(key)
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "interface {}(nil)"
    return str(key)


_MAX_NODES = 1_000_000  # aliases can expand a small file exponentially ("billion laughs")
_ANCHOR = re.compile(r"&([0-9A-Za-z_-]+)")


class _Converter:
    def __init__(self, text: str) -> None:
        self.text = text
        self.duplicates: list[str] = []
        self.open: set[int] = set()  # collection nodes being converted: an alias back to one is a cycle
        self.visited = 0

    def convert(self, node: Node) -> Any:
        self.visited += 1
        if self.visited > _MAX_NODES:
            raise YamlError("yaml: document contains excessive aliasing")
        if isinstance(node, ScalarNode):
            return self._scalar(node)
        if id(node) in self.open:
            anchor = _ANCHOR.match(self.text, node.start_mark.index)
            raise YamlError(f"yaml: anchor '{anchor.group(1) if anchor else '?'}' value contains itself")
        self.open.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                return [self.convert(child) for child in node.value]
            return self._mapping(node)
        finally:
            self.open.discard(id(node))

    def _scalar(self, node: ScalarNode) -> Any:
        if node.tag == _PLAIN:
            return _resolve_plain(node.value)
        if node.tag == _STR or (node.tag.startswith("!") and node.tag != "!"):
            return node.value
        short = node.tag.rsplit(":", 1)[-1]
        if short == "null":
            return None
        if short in ("int", "float", "bool"):
            value = _resolve_plain(node.value)
            return value if isinstance(value, int | float | bool) else node.value
        return node.value

    def _mapping(self, node: MappingNode) -> dict[str, Any]:
        raw: dict[tuple[str, Any], Any] = {}
        self._fill(node, raw)
        converted = ((_go_key(key, value), value) for (_kind, key), value in raw.items())
        return dict(sorted(converted, key=lambda pair: pair[0]))

    def _fill(self, node: MappingNode, out: dict[tuple[str, Any], Any]) -> None:
        for key_node, value_node in node.value:
            if isinstance(key_node, ScalarNode) and (
                (key_node.tag == _PLAIN and key_node.value == "<<") or key_node.tag == _MERGE
            ):
                self._merge(value_node, out)
                continue
            key = self.convert(key_node)
            if isinstance(key, list | dict):
                raise YamlError(f"yaml: invalid map key: {_go_sharp_v(key)}")
            value = self.convert(value_node)
            typed = (type(key).__name__, id(key_node) if isinstance(key, float) and math.isnan(key) else key)
            if typed in out:
                line = value_node.start_mark.line + 1
                self.duplicates.append(f"line {line}: key {_go_key_literal(key)} already set in map")
            out[typed] = value

    def _merge(self, node: Node, out: dict[tuple[str, Any], Any]) -> None:
        """go-yaml v2 merge (`<<: *anchor` or a list of anchors), applied where it appears."""
        sources = list(reversed(node.value)) if isinstance(node, SequenceNode) else [node]
        for source in sources:
            if not isinstance(source, MappingNode):
                raise YamlError("yaml: map merge requires map or sequence of maps as the value")
            self._fill(source, out)
