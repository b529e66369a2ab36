"""The grading worker behind `lab check`: real worker processes on a real Unix socket, and `lab check` run as the
student runs it. Without a cluster: what it answers must be what `lab check` answers on its own, and it must never
serve what it should not (stale code, another worker's child, a directory others can write to)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from lab_attempt import started

from labs import state
from labs.cli import VALUED_GLOBAL_OPTIONS, _command_of, global_options
from labs.worker import channel, client, server

LAB = [sys.executable, "-m", "labs.cli"]
PROJECT_FILE = channel.PACKAGE / "words.py"  # a module every worker has imported


@pytest.fixture
def env(tmp_path, monkeypatch) -> Iterator[dict[str, str]]:
    """A state directory and a short runtime directory of this test's own, the worker switched on."""
    runtime = tempfile.mkdtemp(prefix="w")  # Unix socket paths must stay short
    monkeypatch.setenv("CKS_LAB_STATE", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", runtime)
    monkeypatch.setenv(channel.SWITCH, "1")
    (tmp_path / "state").mkdir()
    yield dict(os.environ)
    subprocess.run(["rm", "-rf", runtime], check=False)


def _wait_for(condition, timeout: float = 60, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


class RunningWorker:
    """A worker process for the test's state directory; what it prints goes to a file."""

    def __init__(self, env: dict, log: Path) -> None:
        self.path = channel.socket_path()
        self.log_file = log
        with log.open("w") as out:
            command = [sys.executable, "-m", "labs.worker.server", str(self.path), "60"]
            self.process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        _wait_for(lambda: channel.answers(self.path) or self.process.poll() is not None, what="the worker's socket")
        assert self.process.poll() is None, self.log()

    def log(self) -> str:
        return self.log_file.read_text()

    def served(self) -> list[str]:
        """The commands it ran."""
        return [line.removesuffix(": served") for line in self.log().splitlines() if line.endswith(": served")]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


@pytest.fixture
def running_worker(env, tmp_path) -> Iterator[RunningWorker]:
    """A worker for this test's state directory, answering on its socket."""
    running = RunningWorker(env, tmp_path / "worker.log")
    yield running
    running.stop()


def _lab(*argv: str, env: dict, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([*LAB, *argv], env=env, capture_output=True, text=True, timeout=60, **kwargs)


@pytest.mark.parametrize(
    ("argv", "command"),
    [
        (["check"], "check"),
        (["--target", "testbed", "check", "--json"], "check"),
        (["--kubeconfig", "/k", "--inventory", "/i", "check"], "check"),
        (["--kubeconfig=/k", "check"], "check"),
        (["start", "check"], "start"),
        (["--help"], None),
        ([], None),
    ],
)
def test_the_command_is_found_before_the_parser_is_built(argv, command):
    assert _command_of(argv) == command


def test_every_global_option_with_a_value_is_skipped_when_finding_the_command():
    valued = {name for action in global_options()._actions if action.nargs != 0 for name in action.option_strings}
    assert valued == set(VALUED_GLOBAL_OPTIONS)


def test_a_check_through_the_worker_answers_as_lab_check_alone(env, running_worker):
    alone = _lab("check", "--json", env={**env, channel.SWITCH: "0"})
    served = _lab("check", "--json", env=env)
    assert (served.returncode, served.stdout, served.stderr) == (alone.returncode, alone.stdout, alone.stderr)
    assert served.returncode == 2 and "no scenario is started" in served.stderr
    assert running_worker.served() == ["lab check --json"]


def test_the_child_works_in_the_callers_directory(env, running_worker, tmp_path):
    (tmp_path / "reports").mkdir()  # a relative --junit path is found from there, or refused before grading
    served = _lab("check", "--junit", "reports/x.xml", env=env, cwd=tmp_path)
    assert served.returncode == 2 and "no scenario is started" in served.stderr, served.stderr
    assert running_worker.served() == ["lab check --junit reports/x.xml"]


def test_a_worker_whose_code_changed_steps_aside_and_exits(env, running_worker):
    before = PROJECT_FILE.stat()
    os.utime(PROJECT_FILE, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000_000))
    try:
        served = _lab("check", env=env)
    finally:
        os.utime(PROJECT_FILE, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert served.returncode == 2 and "no scenario is started" in served.stderr, "graded in-process instead"
    assert running_worker.process.wait(timeout=10) == 0
    assert "code changed on disk: exiting" in running_worker.log() and running_worker.served() == []
    assert not channel.socket_path().exists()


def test_a_request_from_a_workers_child_is_refused(env, running_worker, monkeypatch):
    monkeypatch.setenv(channel.SWITCH, "0")  # what every child of a worker has: it must never fork again
    assert client.delegate(["check"]) is None
    assert running_worker.served() == []


def test_an_idle_worker_exits_and_removes_its_socket(env):
    path = channel.socket_path()
    result = subprocess.run(
        [sys.executable, "-m", "labs.worker.server", str(path), "0.5"], env=env, capture_output=True, timeout=60
    )
    assert result.returncode == 0 and b"ready on" in result.stdout
    assert not path.exists()


def test_a_worker_whose_state_directory_is_removed_exits(env, running_worker, tmp_path):
    subprocess.run(["rm", "-rf", str(tmp_path / "state")], check=True)
    assert running_worker.process.wait(timeout=server.POLL_SECONDS * 3) == 0


def test_a_second_worker_for_the_same_socket_leaves(env, running_worker):
    second = subprocess.run(
        [sys.executable, "-m", "labs.worker.server", str(channel.socket_path()), "60"],
        env=env,
        capture_output=True,
        timeout=60,
    )
    assert second.returncode == 0 and b"ready on" not in second.stdout
    assert running_worker.process.poll() is None and channel.answers(channel.socket_path())


def test_a_socket_directory_others_can_write_to_is_not_used(env):
    directory = channel.socket_path().parent
    directory.mkdir(mode=0o700)
    directory.chmod(0o777)
    client.start_in_background()
    time.sleep(0.5)
    assert not channel.private_directory(directory)
    assert list(directory.iterdir()) == []


def test_no_worker_when_switched_off_or_not_answering(env, monkeypatch):
    assert client.delegate(["check"]) is None  # nobody listens: lab check grades in its own process
    monkeypatch.setenv(channel.SWITCH, "0")
    assert not channel.enabled()


def test_lab_check_starts_a_worker_for_the_next_check(env):
    path = channel.socket_path()
    try:
        client.start_in_background()
        _wait_for(lambda: channel.answers(path), what="the background worker")
        log = Path(env["CKS_LAB_STATE"]) / "grading-worker.log"
        assert "ready on" in log.read_text()
    finally:
        _stop_worker_on(path)


def _stop_worker_on(path: Path) -> None:
    """Stop the worker answering on `path` (a detached process: found through its socket's peer credentials)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.connect(str(path))
        pid = server.peer(probe)[0]
    os.kill(pid, signal.SIGTERM)
    _wait_for(lambda: not path.exists(), timeout=30, what="the worker to stop")


@pytest.fixture
def silent_api_server() -> Iterator[int]:
    """A TCP port that accepts connections and never answers: a check against it hangs until interrupted."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    for connection in [*accepted, server]:
        connection.close()


def test_ctrl_c_reaches_the_check_running_in_the_worker(env, running_worker, silent_api_server, tmp_path):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        f"clusters: [{{name: c, cluster: {{server: 'https://127.0.0.1:{silent_api_server}'}}}}]\n"
        "contexts: [{name: c, context: {cluster: c, user: u}}]\nusers: [{name: u, user: {token: x}}]\n"
    )
    target = state.TargetRef(kind="explicit", kubeconfig=str(kubeconfig))
    attempt = state.Attempt(scenario="01-immutable-pod", seed=1, params={}, target=target, started_at=state.now())
    state.save(state.State(current=attempt.model_copy(update={"phase": "ready"})))
    client = subprocess.Popen([*LAB, "check"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for(lambda: running_worker.served(), timeout=30, what="the check to reach the worker")
    time.sleep(0.5)
    client.send_signal(signal.SIGINT)
    _, err = client.communicate(timeout=15)
    assert client.returncode == 130 and "interrupted" in err


@pytest.mark.testbed
@pytest.mark.shares("1")
def test_on_the_testbed_the_worker_grades_what_lab_check_alone_grades(testbed, tmp_path, monkeypatch):
    runtime = tempfile.mkdtemp(prefix="w")
    monkeypatch.setenv("XDG_RUNTIME_DIR", runtime)
    try:
        with started(1, 20261130, tmp_path / "state") as lab:
            assert lab.run("solution", "--apply").returncode == 0
            served_env = {**lab.env, "XDG_RUNTIME_DIR": runtime, channel.SWITCH: "1"}
            running = RunningWorker(served_env, tmp_path / "worker.log")
            try:
                alone = json.loads(lab.run("check", "--json").stdout)
                served = json.loads(_lab("check", "--json", env=served_env).stdout)
            finally:
                running.stop()
        assert running.served() == ["lab check --json"]
        assert served == alone and served["verdict"] == "pass" and served["score"] == served["max_score"] == 10
    finally:
        subprocess.run(["rm", "-rf", runtime], check=False)


def test_a_check_the_worker_answers_imports_neither_argparse_nor_the_kubernetes_client(env, running_worker):
    code = "import sys; from labs.cli import main; code = main(['check']); print(sorted(sys.modules), file=sys.stderr)"
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert running_worker.served() == ["lab check"]
    for heavy in ("argparse", "kubernetes", "pytest", "pydantic", "rich", "typing"):
        assert f"'{heavy}'" not in result.stderr.splitlines()[-1], f"{heavy} imported by the lab check client"


def test_a_check_from_a_directory_that_is_gone_is_graded_by_lab_check_itself(env, running_worker, tmp_path):
    gone = tmp_path / "gone"
    gone.mkdir()
    code = f"import os, sys; os.rmdir({str(gone)!r}); from labs.cli import main; sys.exit(main(['check']))"
    client = subprocess.run([sys.executable, "-c", code], cwd=gone, env=env, capture_output=True, text=True, timeout=60)
    assert client.returncode == 2 and "no scenario is started" in client.stderr
    assert running_worker.served() == [] and running_worker.process.poll() is None
