"""Project-wide fixtures. Tests marked `testbed` run against the real single-node cluster, brought up once per session
(or reused when already running). With CI=true an unavailable testbed fails the run instead of skipping it."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import criterion_coverage
import proof_times
import pytest
from api_lock import API, settle

SHARED = Path(__file__).resolve().parents[2] / "shared"
LANELESS: list[str] = []  # testbed tests that pytest-xdist's loadgroup put in no lane
LOCK_WAITED = pytest.StashKey[float]()  # API.waited when the test's current phase began
# Every `lab` the tests run grades in its own process and leaves no grading worker behind (tests/test_engine_worker.py
# switches it on for its own workers).
os.environ["CKS_LAB_GRADING_WORKER"] = "0"


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(proof_times, "proof_times")
    config.pluginmanager.register(criterion_coverage, "criterion_coverage")


@dataclass(frozen=True)
class Testbed:
    kubeconfig: Path
    inventory: dict = field(repr=False)


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def shared_things(item: pytest.Item) -> set[str]:
    """What a testbed test shares with other tests: the scenarios it starts (its module's, or those it names with
    `shares`; another start of one resets the first's namespaces and files), the shared components they take over
    (`exclusive` in scenario.yaml), and components it names with `shares`."""
    from labs.catalog import Catalog

    own = proof_times.scenario_of(item.nodeid)
    marked = item.get_closest_marker("shares")
    named = ([own.split("-")[0]] if own else []) + (list(marked.args) if marked else [])
    things = set()
    for name in named:
        if not name.isdigit():
            things.add(name)
            continue
        scenario = Catalog().find(name)
        things |= {scenario.id, *scenario.spec.exclusive}
    return things or {item.path.stem}


def lanes(items: list[pytest.Item]) -> list[str]:
    """Each item's lane: things that some test shares go to one lane (the connected parts of the graph)."""
    lane: dict[str, str] = {}

    def find(thing: str) -> str:
        while lane.setdefault(thing, thing) != thing:
            thing = lane[thing]
        return thing

    firsts = []
    for item in items:
        first, *others = sorted(shared_things(item))
        root = find(first)
        for other in others:
            lane[find(other)] = root
        firsts.append(first)
    return [find(first) for first in firsts]


def _restarts_apiserver(item: pytest.Item) -> bool:
    """A test of a module marked `restarts_apiserver` (a scenario's proof: the whole module moves), or one test
    marked `owns_apiserver` (only it moves: the rest of its module may need the watchers)."""
    return bool(item.get_closest_marker("restarts_apiserver") or item.get_closest_marker("owns_apiserver"))


@pytest.hookimpl(wrapper=True)  # around pytest-xdist, which reads the xdist_group marks
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]):
    """The modules that restart kube-apiserver run after all the others: every controller that watches it (the
    kubelet, kube-controller-manager, Traefik, kube-router, CoreDNS) loses its watches then, and client-go brings them
    back with a back-off that grows to 30 s over restarts in a row, so a proof after them would wait for, or judge,
    their lag (docs/benchmarks.md). Testbed tests go to lanes (pytest-xdist's loadgroup): tests that share a scenario
    or a component run in one lane, one after another, in the order of collection. Tests that did not get their lane
    are noted: the testbed fixture fails them, as they could run one scenario's proof in two lanes at once."""
    items.sort(key=_restarts_apiserver)  # stable: collection order otherwise
    testbed = [item for item in items if item.get_closest_marker("testbed")]
    for item, lane in zip(testbed, lanes(testbed), strict=True):
        item.add_marker(pytest.mark.xdist_group(lane))
    yield
    if getattr(config.option, "loadgroup", False):
        LANELESS.extend(item.nodeid for item in testbed if "@" not in item.nodeid)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    """A testbed test holds the API shared while it runs (its module's fixtures included); one marked
    `owns_apiserver` holds it exclusively (tests/api_lock.py). A hold an apiserver scenario keeps because it left
    kube-apiserver down outlives the test."""
    if item.get_closest_marker("owns_apiserver"):
        API.own()
    elif item.get_closest_marker("testbed"):
        API.share()
    item.stash[LOCK_WAITED] = API.waited
    yield
    if item.get_closest_marker("owns_apiserver"):
        settle()  # such a test puts kube-apiserver back as it found it
    if API.mode == "shared":
        API.release()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Each phase's report says how long it waited for the other lanes (tests/proof_times.py leaves that out)."""
    report = yield
    waited = API.waited - item.stash.get(LOCK_WAITED, API.waited)
    item.stash[LOCK_WAITED] = API.waited
    report.user_properties.append((proof_times.LOCK_WAIT, round(waited, 2)))
    return report


@pytest.fixture(autouse=True)
def _testbed_for_marked_tests(request: pytest.FixtureRequest) -> None:
    """Tests marked `testbed` get the running testbed without naming the fixture."""
    if request.node.get_closest_marker("testbed"):
        request.getfixturevalue("testbed")


@pytest.fixture(scope="session")
def testbed() -> Testbed:
    """The running testbed cluster (started if needed)."""
    from labs.testbed import cluster

    if LANELESS:
        pytest.fail(
            f"pytest-xdist put {len(LANELESS)} testbed tests in no lane (first: {LANELESS[0]}): is this a pytest "
            "whose node ids loadgroup cannot mark? (pytest-dev/pytest-xdist#1386)",
            pytrace=False,
        )
    try:
        with API.alone("testbed-up"):  # the other lanes find it up
            kubeconfig = cluster.up(log=lambda message: print(f"[testbed] {message}", flush=True))
    except Exception as error:  # any failure to bring it up is reported the same way
        message = f"testbed unavailable: {error}"
        if _in_ci():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return Testbed(kubeconfig=kubeconfig, inventory=cluster.inventory())


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """../shared beside the checkout: upstream data files for tests (never copied into the repo). Missing in CI is a
    failure, like a testbed that will not come up: the proofs that read it must run there."""
    if not SHARED.is_dir():
        message = f"{SHARED} not found: clone the repository beside shared/"
        if _in_ci():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return SHARED


@pytest.fixture(scope="session")
def falco_upstream(shared_dir) -> Path:
    """Upstream Falco's default rules files (falco_rules.yaml and falco_rules_0.32.2.yaml)."""
    return shared_dir / "data" / "falco"
