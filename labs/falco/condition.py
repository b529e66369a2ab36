"""Falco condition syntax: a lark grammar for libsinsp's filter language and the syntax tree it produces.

The grammar follows libs 0.22's recursive-descent parser (`userspace/libsinsp/filter/parser.cpp`): `not` > `and` >
`or`, `and`/`or` need a blank or `(` after them, word operators need a blank after them, list operators do not,
field arguments sit directly after the field name, `val()` and the one-argument transformers. Parse errors carry
libsinsp's wording and the offset where parsing stopped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, lru_cache

from lark import Lark, Token, Transformer, UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

TRANSFORMERS = ("tolower", "toupper", "b64", "basename", "len")
UNARY_OPERATORS = ("exists",)
NUMERIC_OPERATORS = ("<=", "<", ">=", ">")
STRING_OPERATORS = (
    "==",
    "=",
    "!=",
    "glob",
    "iglob",
    "contains",
    "icontains",
    "bcontains",
    "startswith",
    "bstartswith",
    "endswith",
    "regex",
)
LIST_OPERATORS = ("intersects", "in", "pmatch")
OPERATORS = UNARY_OPERATORS + NUMERIC_OPERATORS + STRING_OPERATORS + LIST_OPERATORS

_BLANK = r"[ \t\b\r\n]"
# a quoted string ends at the first delimiter not preceded by a backslash (backslashes doubled for lark's escaping)
_QUOTED = r""""(\\\\"|[^"])*"|'(\\'|[^'])*'"""
_WORD_STRING_OPERATORS = [op for op in STRING_OPERATORS if op.isalpha()]

# Terminal priorities stand in for the order in which libsinsp's parser tries its lexer rules.
_GRAMMAR = rf"""
?start: or_expr

?or_expr: and_expr (_OR and_expr)*
?and_expr: not_expr (_AND not_expr)*
?not_expr: check
         | _NOT not_expr                      -> negation
         | _NOTPAREN or_expr _RPAR            -> negation

?check: _LPAR or_expr _RPAR
      | lhs condition                         -> check
      | IDENTIFIER                            -> macro_ref

?lhs: field | transformer
field: FIELD
transformer: TRANSFORMER (field | transformer) _RPAR
valref: VAL field _RPAR
      | transformer

condition: UNARY_OP
         | NUM_OP (NUMBER | valref)
         | STR_OP (QUOTED | BARESTR | valref)
         | LIST_OP (list | IDENTIFIER | valref)
list: _LPAR [list_value (_COMMA list_value)*] _RPAR
?list_value: QUOTED | BARESTR

_OR.2: /or(?={_BLANK}|\()/
_AND.2: /and(?={_BLANK}|\()/
_NOT.4: /not[ \t\b\r\n\v\f]+/
_NOTPAREN.4: "not("
_LPAR: "("
_RPAR: ")"
_COMMA: ","
TRANSFORMER.4: /({"|".join(TRANSFORMERS)})\(/
VAL.4: "val("
FIELD.3: /[a-zA-Z]+[a-zA-Z0-9_]*(\.[a-zA-Z]+[a-zA-Z0-9_]*)+(\[({_QUOTED}|[^\]\["' \t\b\r\n\v\f]+)\])?/
IDENTIFIER.1: /[a-zA-Z]+[a-zA-Z0-9_]*/
UNARY_OP.3: "exists"
NUM_OP.3: /<=|<|>=|>/
STR_OP.3: /==|=|!=|({"|".join(_WORD_STRING_OPERATORS)})(?={_BLANK})/
LIST_OP.2: /intersects|in|pmatch/
NUMBER.2: /0[xX][0-9a-fA-F]+|[+\-]?[0-9]+\.?[0-9]*([eE][+\-][0-9]+)?/
QUOTED.2: /{_QUOTED}/
BARESTR.1: /[^()"' \t\b\r\n\v\f=,]+/

%ignore /{_BLANK}+/
"""


class ConditionSyntaxError(ValueError):
    """A condition libsinsp's parser would reject; `offset` is where parsing stopped."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset


# --- syntax tree ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FieldExpr:
    """A field as written, e.g. `proc.aname[2]` (name `proc.aname`, arg `2`) or `evt.arg.flags` (no arg)."""

    name: str
    arg: str | None
    offset: int

    def text(self) -> str:
        return self.name if self.arg is None else f"{self.name}[{self.arg}]"


@dataclass(frozen=True, slots=True)
class TransformerExpr:
    """`tolower(...)` and friends, or `val(field)` (transformer `val`) on the right-hand side."""

    transformer: str
    inner: FieldExpr | TransformerExpr
    offset: int

    def text(self) -> str:
        return f"{self.transformer}({self.inner.text()})"


Operand = FieldExpr | TransformerExpr


@dataclass(frozen=True, slots=True)
class CheckExpr:
    """`left op value`; value is None (exists), a string, a tuple of strings (list) or an operand (val/transformer)."""

    left: Operand
    op: str
    value: str | tuple[str, ...] | Operand | None
    offset: int


@dataclass(frozen=True, slots=True)
class MacroRef:
    name: str
    offset: int


@dataclass(frozen=True, slots=True)
class NotExpr:
    child: Expr


@dataclass(frozen=True, slots=True)
class AndExpr:
    children: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class OrExpr:
    children: tuple[Expr, ...]


Expr = CheckExpr | MacroRef | NotExpr | AndExpr | OrExpr


# --- string escapes (libsinsp escaping.cpp) -----------------------------------------------------------------------

_SIMPLE_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "\\": "\\", "/": "/", " ": "\\"}


def unquote(token: str) -> str:
    """The value of a quoted string token, with libsinsp's escape rules."""
    quote, body = token[0], token[1:-1]
    out: list[str] = []
    i = 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        nxt = body[i + 1] if i + 1 < len(body) else ""
        if nxt in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[nxt])
            i += 2
        elif nxt == quote:
            out.append(quote)
            i += 2
        elif nxt == "x" and re.fullmatch(r"[0-9a-fA-F]{2}", body[i + 2 : i + 4]):
            out.append(chr(int(body[i + 2 : i + 4], 16)))
            i += 4
        else:
            raise ConditionSyntaxError(f"unsupported string escape sequence: \\{nxt}", 0)
    return "".join(out)


def _value(token: Token) -> str:
    return unquote(str(token)) if token.type == "QUOTED" else str(token)


def _split_field(token: Token) -> FieldExpr:
    text = str(token)
    bracket = text.find("[")
    if bracket < 0:
        return FieldExpr(text, None, token.start_pos)
    arg = text[bracket + 1 : -1]
    if arg[:1] in "\"'":
        arg = unquote(arg)
    return FieldExpr(text[:bracket], arg, token.start_pos)


class _ToAst(Transformer):
    def field(self, items):
        return _split_field(items[0])

    def transformer(self, items):
        token, inner = items
        return TransformerExpr(str(token)[:-1], inner, token.start_pos)

    def valref(self, items):
        if len(items) == 1:
            return items[0]
        token, inner = items
        return TransformerExpr("val", inner, token.start_pos)

    def list(self, items):
        return tuple(_value(t) for t in items if t is not None)

    def condition(self, items):
        op_token = items[0]
        op = str(op_token)
        if len(items) == 1:
            return (op, None)
        value = items[1]
        return (op, _value(value) if isinstance(value, Token) else value)

    def check(self, items):
        left, (op, value) = items
        return CheckExpr(left, op, value, left.offset)

    def macro_ref(self, items):
        return MacroRef(str(items[0]), items[0].start_pos)

    def negation(self, items):
        child = items[0]
        return child.child if isinstance(child, NotExpr) else NotExpr(child)

    def and_expr(self, items):
        return AndExpr(tuple(items))

    def or_expr(self, items):
        return OrExpr(tuple(items))


@cache
def _parser() -> Lark:
    return Lark(_GRAMMAR, parser="lalr", lexer="contextual", propagate_positions=False, maybe_placeholders=True)


_TRANSFORMER_NAMES = ", ".join(f"'{t}'" for t in ("val", *TRANSFORMERS))
_OPERATOR_NAMES = ", ".join(f"'{op}'" for op in OPERATORS)


def _expectation(expected: set[str], text: str, offset: int, last: str, opened: list[str]) -> str:
    """libsinsp's message for a parse that stopped at `offset` while expecting one of `expected` terminals."""
    rest = text[offset:]
    innermost = opened[-1] if opened else ""
    if expected & {"_AND", "_OR", "$END"} or (expected == {"_RPAR"} and innermost in ("(", "not(")):
        for word in ("and", "or"):
            if rest.startswith(word):
                return f"expected blank or '(' after '{word}'"
        if innermost in ("(", "not("):
            return "expected a ')' token"
        return f"unexpected token after '{last}', expecting 'or', 'and'"
    in_transformer = innermost.endswith("(") and innermost not in ("(", "not(", "list(")
    if "UNARY_OP" in expected and not in_transformer:
        if rest.startswith("["):
            after = rest[1:2]
            if after in ("]", "", " ", "\t", "\r", "\n"):
                return "expected a valid field argument: a quoted string or a bare string"
            return "expected a ']' token"
        return f"expected a valid check operator: one of {_OPERATOR_NAMES}"
    if "NUMBER" in expected and "QUOTED" not in expected:
        return f"expected a number value or a field with a valid transformer: {_TRANSFORMER_NAMES}"
    if "IDENTIFIER" in expected and "VAL" in expected:
        return f"expected a list, an identifier, or a field with a valid transformer: {_TRANSFORMER_NAMES}"
    if "QUOTED" in expected and "VAL" in expected:
        return f"expected a string value or a field with a valid transformer: {_TRANSFORMER_NAMES}"
    if "QUOTED" in expected and "_RPAR" not in expected:
        return "expected a string value"
    if "FIELD" in expected and "IDENTIFIER" not in expected:
        if innermost == "val(":
            return "expected a field within 'val' transformer"
        return f"expected a field or a nested valid transformer: {_TRANSFORMER_NAMES}"
    if "_RPAR" in expected or "UNARY_OP" in expected:
        if in_transformer:
            return "expected a ')' token closing the transformer"
        return "expected a ')' token"
    return "expected a '(' token, a field check, or an identifier"


def _token_before(text: str, offset: int) -> str:
    """The last token libsinsp's lexer read before `offset` (named in "unexpected token after ..." messages)."""
    head = text[:offset].rstrip(" \t\b\r\n")
    if not head:
        return ""
    if head[-1] in "(),":
        return head[-1]
    if head[-1] in "\"'":
        match = re.search(r"(\"(\\\"|[^\"])*\"|'(\\'|[^'])*')$", head)
        return unquote(match.group(0)) if match else head[-1]
    match = re.search(r"[^()\"' \t\b\r\n=,]+$", head)
    return match.group(0) if match else head[-1]


@lru_cache(maxsize=4096)
def parse_condition(text: str) -> Expr:
    """Parse a condition (lists already substituted) into a syntax tree; raise ConditionSyntaxError like libsinsp.
    Trees are immutable, so each text is parsed once per process (a grader loads the default rules several times)."""
    if not text:
        raise ConditionSyntaxError("filter input string is empty", 0)
    interactive = _parser().parse_interactive(text)
    opened: list[str] = []
    previous_type = ""
    try:
        for token in interactive.iter_parse():
            if token.type == "_LPAR":
                opened.append("list(" if previous_type == "LIST_OP" else "(")
            elif token.type in ("_NOTPAREN", "TRANSFORMER", "VAL"):
                opened.append(str(token))
            elif token.type == "_RPAR" and opened:
                opened.pop()
            previous_type = token.type
        tree = interactive.resume_parse()
    except UnexpectedCharacters as error:
        offset = error.pos_in_stream
        message = _expectation(set(error.allowed or ()), text, offset, _token_before(text, offset), opened)
        raise ConditionSyntaxError(message, offset) from None
    except UnexpectedToken as error:
        offset = len(text) if error.token.type == "$END" else error.token.start_pos
        if error.token.type == "_RPAR" and opened:
            opened.pop()
        message = _expectation(set(error.expected), text, offset, _token_before(text, offset), opened)
        raise ConditionSyntaxError(message, offset) from None
    except (UnexpectedEOF, UnexpectedInput) as error:  # pragma: no cover - lark reports the cases above
        raise ConditionSyntaxError(str(error), len(text)) from None
    return _ToAst().transform(tree)


# --- canonical text (libsinsp ast string_visitor) -----------------------------------------------------------------

_NEEDS_QUOTES = re.compile(r"[\s=\"'\\\x00-\x1f(),]")


def _escape(value: str) -> str:
    if value and not _NEEDS_QUOTES.search(value):
        return value
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'"{escaped}"'


def to_text(expr: Expr) -> str:
    """The canonical text of a syntax tree, as Falco prints `condition_compiled`."""
    if isinstance(expr, AndExpr | OrExpr):
        joiner = " and " if isinstance(expr, AndExpr) else " or "
        return "(" + joiner.join(to_text(c) for c in expr.children) + ")"
    if isinstance(expr, NotExpr):
        return "not " + to_text(expr.child)
    if isinstance(expr, MacroRef):
        return expr.name
    left = expr.left.text()
    if expr.value is None:
        return f"{left} {expr.op}"
    if isinstance(expr.value, tuple):
        return f"{left} {expr.op} (" + ", ".join(_escape(v) for v in expr.value) + ")"
    if isinstance(expr.value, str):
        return f"{left} {expr.op} {_escape(expr.value)}"
    return f"{left} {expr.op} {expr.value.text()}"
