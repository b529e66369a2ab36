"""Pure logic of the runtime-security scenarios (09-12) and their grading helpers, without a cluster: what the
parameters draw, and how the node's process listing is read."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from types import ModuleType

import pytest

from labs.catalog import Catalog
from labs.errors import CannotGrade
from labs.graderlib.processes import NodeProcess, lasting, node_processes, running_binary

SEEDS = range(300)


def _grader(number: int) -> tuple[ModuleType, object]:
    scenario = Catalog().find(str(number))
    spec = importlib.util.spec_from_file_location(f"grader_{number}", scenario.grader)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module, scenario


def test_every_attempt_of_09_has_mutable_and_compliant_pods_with_distinct_names():
    grader, scenario = _grader(9)
    for seed in SEEDS:
        kinds = scenario.draw(seed)["pod_kinds"]
        assert len(kinds) == 6
        assert any(kind.startswith(("privileged-", "writable-")) for kind in kinds.values())
        assert any(kind in grader.COMPLIANT_BECAUSE for kind in kinds.values())


def test_the_culprit_of_10_varies_and_its_binary_is_never_one_of_the_image():
    grader, scenario = _grader(10)
    drawn = [scenario.draw(seed) for seed in SEEDS]
    assert {p["culprit_pod"].split("-")[0] for p in drawn} == {"web", "api", "ledger", "notifier"}
    assert {p["behaviour"] for p in drawn} == {"listener", "shadow-reader", "miner", "binary-writer"}
    assert not any(p["binary"].startswith(grader.IMAGE_BINARIES) for p in drawn)


def test_the_daemons_of_11_have_distinct_binaries():
    _, scenario = _grader(11)
    for seed in SEEDS:
        params = scenario.draw(seed)
        binaries = params["daemon_binaries"]
        assert len(set(binaries.values())) == 3 and params["culprit_binary"] in binaries.values()


@pytest.mark.parametrize(
    ("behaviour", "line", "accepted"),
    [("connects", "127.0.0.1:43210", True), ("connects", "43210", True), ("connects", "4321", False)],
)
def test_11_accepts_the_port_alone_or_with_its_address(behaviour, line, accepted):
    grader, _ = _grader(11)
    assert (grader._finding(line, behaviour) == "43210") is accepted


@dataclass
class _Result:
    stdout: str
    rc: int = 0
    stderr: str = ""


class _Host:
    def __init__(self, stdout: str) -> None:
        self.stdout = stdout

    def run(self, command: str) -> _Result:
        marker = command.split()[1]
        return _Result(self.stdout.replace("MARKER", marker))


def test_the_process_listing_is_read_field_by_field():
    listing = (
        "MARKER 7\n7\x1fsh\x1f/bin/dash\x1fsh -c x \x1f0::/\n"
        "42\x1fxmrig\x1f/tmp/xmrig (deleted)\x1fsleep 9 \x1f0::/kubepods/abc\n"
    )
    processes = node_processes(_Host(listing))
    assert [p.pid for p in running_binary(processes, "/tmp/xmrig")] == [42]
    assert processes[1].in_container("abc") and not processes[0].in_container("abc")


def test_a_listing_that_did_not_run_cannot_grade():
    with pytest.raises(CannotGrade):
        node_processes(_Host("sh: /proc: not found\n"))
    with pytest.raises(CannotGrade, match="listing shell itself"):
        node_processes(_Host("MARKER 7\n8\x1fsh\x1f/bin/sh\x1fsh \x1f0::/\n"))


def test_only_processes_alive_in_both_listings_last():
    daemon = NodeProcess(10, "syncd", "/opt/bin/syncd", "sh ", "0::/")
    child = NodeProcess(11, "syncd", "/opt/bin/syncd", "sleep 3 ", "0::/")
    reused_pid = NodeProcess(10, "cat", "/bin/cat", "cat ", "0::/")
    assert lasting([daemon, child], [daemon]) == [daemon]
    assert lasting([child], [daemon, child]) == [child]
    assert lasting([daemon], [reused_pid]) == []
