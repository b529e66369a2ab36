"""Scenario 16, verify platform binaries: one test per criterion of the task.

The grader hashes everything itself: the genuine binaries are the node's own, next to the running kubelet (what
setup copied), and each file of the release is compared with them. SHA512SUMS, which a student could edit, is only
checked to be still there and unchanged.
"""

import shlex

import pytest

from labs.errors import CannotGrade
from labs.graderlib.answers import answer_lines

BINARIES = ("kubeadm", "kubectl", "kubelet")
KUBELET_DIR = 'dirname "$(readlink -f /proc/$(pgrep -xo kubelet)/exe)"'


def _sha512(host, paths: list[str]) -> dict[str, str | None]:
    """sha512 of each path on the node (None: no such regular file); CannotGrade when the command did not run."""
    script = "; ".join(f"if [ -f {p} ]; then sha512sum {p}; else echo missing {p}; fi" for p in map(shlex.quote, paths))
    result = host.run(f"echo ran; {script}")
    lines = result.stdout.splitlines()
    if not lines or lines[0] != "ran":
        raise CannotGrade(f"could not hash files on controlplane: {result.stderr.strip()[:200]}")
    found = {}
    for line in lines[1:]:
        first, _, path = line.partition(" ")
        found[path.strip()] = None if first == "missing" else first
    return found


@pytest.fixture(scope="module")
def genuine(node) -> dict[str, str]:
    """The sha512 of each binary as the publisher built it: the node's own, next to its running kubelet."""
    host = node("controlplane")
    directory = host.run(KUBELET_DIR).stdout.strip()
    if not directory.startswith("/"):
        raise CannotGrade("no running kubelet on controlplane to find the genuine binaries by")
    hashes = _sha512(host, [f"{directory}/{name}" for name in BINARIES])
    return {name: hashes[f"{directory}/{name}"] for name in BINARIES}


@pytest.fixture(scope="module")
def release(node, params) -> dict[str, str | None]:
    """The sha512 of each binary of the release as it is now (None: gone)."""
    paths = {name: f"{params['release']}/{name}" for name in BINARIES}
    hashes = _sha512(node("controlplane"), list(paths.values()))
    return {name: hashes[path] for name, path in paths.items()}


@pytest.mark.points(4)
def test_the_tampered_binary_is_gone(genuine, release, params):
    """No binary in {release} differs from the one the publisher built"""
    differing = [f"{params['release']}/{name}" for name in BINARIES if release[name] not in (None, genuine[name])]
    assert not differing, f"{', '.join(differing)}: its sha512 is not the published one; expected it deleted"


@pytest.mark.points(3)
def test_the_genuine_binaries_and_the_checksum_list_are_kept(genuine, release, node, params):
    """The genuine binaries and SHA512SUMS are still in {release}"""
    deleted = [name for name in BINARIES if name != params["tampered"] and release[name] is None]
    assert not deleted, f"{', '.join(deleted)} deleted from {params['release']}, though genuine; keep them"
    listed = node("controlplane").file(f"{params['release']}/SHA512SUMS")
    assert listed.exists, f"{params['release']}/SHA512SUMS was deleted; keep it"
    expected = {f"{genuine[name]}  {name}" for name in BINARIES}
    assert set(listed.content_string.splitlines()) == expected, f"{params['release']}/SHA512SUMS was changed; keep it"


@pytest.mark.points(3)
def test_the_answer_names_the_tampered_binary(node, params):
    """{answer} names the binary that was tampered with"""
    lines = answer_lines(node("controlplane"), params["answer"])
    named = [line.rsplit("/", 1)[-1] for line in lines]
    assert named == [params["tampered"]], (
        f"{params['answer']} names {', '.join(named)}; expected the one binary that fails its checksum"
    )
