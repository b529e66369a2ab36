"""The condition grammar: what libsinsp's parser accepts and rejects, precedence, and its error messages."""

from __future__ import annotations

import pytest

from labs.falco.condition import ConditionSyntaxError, parse_condition, to_text


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("a.a=1 or b.b=2 and c", "(a.a = 1 or (b.b = 2 and c))"),
        ("not a.b = 1 and c", "(not a.b = 1 and c)"),
        ("not not a", "a"),
        ("not(a) and not (b)", "(not a and not b)"),
        ("(a)and(b)", "(a and b)"),
        ("a.b in()", "a.b in ()"),
        ("a.b in(x, 'y z')", 'a.b in (x, "y z")'),
        ("proc.aname[2] = sshd", "proc.aname[2] = sshd"),
        ('evt.arg["key with space"] = 1', "evt.arg[key with space] = 1"),
        ("proc.env[HOME] startswith /root", "proc.env[HOME] startswith /root"),
        ("evt.arg.flags contains O_TRUNC", "evt.arg.flags contains O_TRUNC"),
        ("fd.name=*.log", "fd.name = *.log"),
        ("proc.pname in (runc:[0:PARENT], runc)", "proc.pname in (runc:[0:PARENT], runc)"),
        ("evt.dir = <", "evt.dir = <"),
        ("a.b = not", "a.b = not"),
        ("test.op existsand macro", "(test.op exists and macro)"),
        ("not_macro or notb", "(not_macro or notb)"),
        ("tolower(proc.name) = toupper(proc.pname)", "tolower(proc.name) = toupper(proc.pname)"),
        ("proc.name = val(proc.pname)", "proc.name = val(proc.pname)"),
        ("len(b64(proc.args)) > 3", "len(b64(proc.args)) > 3"),
        ("proc.cmdline contains\n  curl", "proc.cmdline contains curl"),
        ("c.q = 'hello \\'quoted\\''", "c.q = \"hello 'quoted'\""),
        ('c.q = "tab\\tx\\x41"', 'c.q = "tab\\txA"'),
    ],
)
def test_accepted(text, canonical):
    assert to_text(parse_condition(text)) == canonical


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "filter input string is empty"),
        ("a andb", "expected blank or '(' after 'and'"),
        ("a.b = 1 orb", "expected blank or '(' after 'or'"),
        ("evt.type=execve foo", "unexpected token after 'execve', expecting 'or', 'and'"),
        ("proc.name=bash)", "unexpected token after 'bash', expecting 'or', 'and'"),
        ("(a.b = 1", "expected a ')' token"),
        ("a.b containsvalue", "expected a valid check operator"),
        ("a.b ExIsTs", "expected a valid check operator"),
        ("a.b <= x", "expected a number value or a field with a valid transformer"),
        ("a.b in (a,)", "expected a string value"),
        ("a.b in (,)", "expected a ')' token"),
        ("a.b = b = 1", "unexpected token after 'b', expecting 'or', 'and'"),
        ("proc.aname[] = x", "expected a valid field argument: a quoted string or a bare string"),
        ("b64 (x.y) = 1", "unexpected token after 'b64', expecting 'or', 'and'"),
        ("proc.name = val(x)", "expected a field within 'val' transformer"),
        ("tolower(proc.name = 1", "expected a ')' token closing the transformer"),
        ("= 1", "expected a '(' token, a field check, or an identifier"),
    ],
)
def test_rejected(text, message):
    with pytest.raises(ConditionSyntaxError) as raised:
        parse_condition(text)
    assert raised.value.message.startswith(message)
