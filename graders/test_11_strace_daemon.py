"""Scenario 11, investigate a daemon's syscalls with strace: one test per criterion of the task.

What setup started follows from the attempt's parameters (derived in scenario.yaml: `daemon_binaries`,
`culprit_binary`, `finding`;
the tests prove on the testbed that the culprit really does it, seen through strace). Whether the daemons run is
read from the node's /proc (the listing proves it ran): a daemon is a process that lives through two listings a few
seconds apart, so that the last children of a daemon just stopped do not count. The finding comes from the student's
file.
"""

import posixpath

import pytest

from labs.graderlib.answers import answer_line, answer_lines
from labs.graderlib.processes import lasting_processes, running_binary

CHILD_LIFETIME_SECONDS = 4  # a daemon's children (cat, nc -w 1, sleep 3) live shorter than this


def _finding(line: str, behaviour: str) -> str:
    if behaviour == "reads-key":
        return posixpath.normpath(line) if line.startswith("/") else line
    return line.rsplit(":", 1)[-1].strip()  # "127.0.0.1:43210" names the port as well


@pytest.fixture(scope="module")
def lines(node, params) -> list[str]:
    return answer_lines(node("controlplane"), params["answer"])


@pytest.fixture(scope="module")
def processes(node) -> list:
    """The node's long-running processes: a stopped daemon's last children may outlive it for a few seconds, and
    must not make it look alive."""
    return lasting_processes(node("controlplane"), CHILD_LIFETIME_SECONDS)


@pytest.mark.points(2)
def test_the_answer_names_the_daemons_binary(lines, params):
    """Line 1 of {answer} is the path of the misbehaving daemon's binary"""
    line = answer_line(lines, 1, params["answer"], "the path of the daemon's binary")
    written = posixpath.normpath(line) if line.startswith("/") else line
    binaries = params["daemon_binaries"].values()
    assert written == params["culprit_binary"], (
        f"line 1 is {line!r}: that daemon does not misbehave; strace each daemon with -f"
        if written in binaries
        else f"line 1 is {line!r}; expected the full path of one of the daemons' binaries in {params['bin_dir']}"
    )


@pytest.mark.points(2)
def test_the_answer_names_what_it_does(lines, params):
    """Line 2 of {answer} is what strace shows the daemon doing (the key file it opens or the port it connects to)"""
    what = "the key file's full path" if params["behaviour"] == "reads-key" else "the port number"
    line = answer_line(lines, 2, params["answer"], what)
    assert _finding(line, params["behaviour"]) == str(params["finding"]), (
        f"line 2 is {line!r}, but the daemon does not {'open' if params['behaviour'] == 'reads-key' else 'use'} that;"
        f" expected {what} as strace shows it"
    )


@pytest.mark.points(2)
def test_the_daemon_is_stopped(processes, params):
    """The misbehaving daemon no longer runs"""
    left = running_binary(processes, params["culprit_binary"])
    assert not left, f"the misbehaving daemon still runs ({len(left)} process(es)); stop it once you found it"


@pytest.mark.points(1)
def test_the_daemons_binary_is_deleted(node, params):
    """The misbehaving daemon's binary is deleted"""
    exists = node("controlplane").file(params["culprit_binary"]).exists
    assert not exists, "the misbehaving daemon's binary still exists on controlplane; delete it once you found it"


@pytest.mark.points(1)
def test_the_other_daemons_keep_running(node, processes, params):
    """The other two daemons still run from their binaries"""
    host = node("controlplane")
    others = {name: path for name, path in params["daemon_binaries"].items() if path != params["culprit_binary"]}
    stopped = [name for name, path in others.items() if not running_binary(processes, path)]
    assert not stopped, f"no longer running: {', '.join(stopped)}; only the misbehaving daemon is to be stopped"
    deleted = [path for path in others.values() if not host.file(path).exists]
    assert not deleted, f"deleted: {', '.join(deleted)}; only the misbehaving daemon's binary is to be deleted"
