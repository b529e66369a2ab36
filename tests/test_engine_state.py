"""State on disk (atomic, survives restarts, broken files set aside) and the lock serializing lab processes."""

import multiprocessing
import time

import pytest

from labs import state
from labs.state import Attempt, State, TargetRef


@pytest.fixture(autouse=True)
def state_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("CKS_LAB_STATE", str(tmp_path))
    return tmp_path


def _attempt() -> Attempt:
    return Attempt(
        scenario="01-immutable-pod",
        seed=5,
        params={"pod": "web-otter"},
        target=TargetRef(kind="testbed"),
        started_at=state.now(),
    )


def test_nothing_saved_means_no_attempt():
    assert state.load() == State()


def test_the_state_survives_a_new_process(state_dir):
    saved = State(current=_attempt())
    state.save(saved)
    assert (state_dir / "state.json").exists()
    loaded = state.load()
    assert loaded.current.params == {"pod": "web-otter"}
    assert loaded.current.started_at == saved.current.started_at
    assert not list(state_dir.glob(".state.*")), "no temporary file is left behind"


def test_a_broken_state_file_is_set_aside(state_dir, capsys):
    (state_dir / "state.json").write_text("{not json")
    assert state.load() == State()
    assert (state_dir / "state.json.broken").exists()
    assert "unreadable" in capsys.readouterr().err


def test_a_file_set_aside_never_overwrites_an_older_one(state_dir, capsys):
    for content in ("first", "second", "third"):
        (state_dir / "state.json").write_text(content)
        state.load()
    kept = ["state.json.broken", "state.json.broken.2", "state.json.broken.3"]
    assert [(state_dir / name).read_text() for name in kept] == ["first", "second", "third"]
    assert "kept as state.json.broken.3" in capsys.readouterr().err


def test_status_json_has_the_documented_keys():
    data = state.dump_json(_attempt())
    assert {"scenario", "seed", "params", "started_at"} <= data.keys()
    assert data["elapsed_seconds"] >= 0


def _hold_lock(directory: str, ready, seconds: float) -> None:
    import os

    os.environ["CKS_LAB_STATE"] = directory
    with state.locked():
        ready.set()
        time.sleep(seconds)
        (state.state_dir() / "order").open("a").write("first\n")


def test_a_second_process_waits_for_the_lock(state_dir, capsys):
    context = multiprocessing.get_context("fork")
    ready = context.Event()
    holder = context.Process(target=_hold_lock, args=(str(state_dir), ready, 0.5))
    holder.start()
    assert ready.wait(10)
    started = time.monotonic()
    with state.locked():
        waited = time.monotonic() - started
        (state_dir / "order").open("a").write("second\n")
    holder.join(10)
    assert (state_dir / "order").read_text() == "first\nsecond\n"
    assert waited > 0.2
    assert "waiting for another lab command" in capsys.readouterr().err
