"""Run a node daemon (containerd, kubelet) the way systemd would on a real node: in the background, restarted when it
exits, its output appended to a log file. PID 1 here is not systemd, so the testbed supervises its daemons itself.

`python -m labs.testbed.supervisor NAME LOGFILE -- COMMAND...` is what `start()` launches, detached.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

RESTART_DELAY_SECONDS = 2.0


def start(name: str, argv: list[str], run_dir: Path, log_dir: Path, env: dict[str, str]) -> int:
    """Start `argv` under a detached supervisor; return the supervisor's pid (also written to RUN_DIR/NAME.pid)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    log_dir.mkdir(parents=True, exist_ok=True)
    logfile = log_dir / f"{name}.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "labs.testbed.supervisor", name, str(logfile), "--", *argv],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        env=env,
        cwd="/",
    )
    (run_dir / f"{name}.pid").write_text(f"{process.pid}\n")
    deadline = time.monotonic() + 5
    while pid_of(name, run_dir) is None and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)  # until the child has exec'd the supervisor: pid_of() recognises it by its command line
    return process.pid


def pid_of(name: str, run_dir: Path) -> int | None:
    """The supervisor's pid if it is alive, else None."""
    try:
        pid = int((run_dir / f"{name}.pid").read_text())
    except (OSError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0") if Path(f"/proc/{pid}").exists() else []
    return pid if b"labs.testbed.supervisor" in cmdline and name.encode() in cmdline else None


def stop(name: str, run_dir: Path, timeout: float = 20.0) -> bool:
    """Stop the supervisor and its daemon (SIGTERM, then SIGKILL after `timeout`). True if one was running."""
    pid = pid_of(name, run_dir)
    (run_dir / f"{name}.pid").unlink(missing_ok=True)
    if pid is None:
        return False
    os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _group_alive(pid):
            return True
        time.sleep(0.1)
    os.killpg(pid, signal.SIGKILL)
    return True


def _group_alive(pgid: int) -> bool:
    """Whether any process of the group still runs. Zombies do not count; our own exited children are reaped."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pgid, os.WNOHANG)
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def _supervise(name: str, logfile: Path, argv: list[str]) -> int:
    stopping = False
    child: subprocess.Popen[bytes] | None = None

    def on_term(signo: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        if child and child.poll() is None:
            child.send_signal(signo)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    with logfile.open("ab", buffering=0) as log:
        while not stopping:
            log.write(f"--- supervisor: starting {name}: {' '.join(argv)}\n".encode())
            try:
                child = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
            except OSError as error:
                log.write(f"--- supervisor: cannot start {name}: {error}\n".encode())
                return 127
            code = child.wait()
            log.write(f"--- supervisor: {name} exited with {code}\n".encode())
            if not stopping:
                time.sleep(RESTART_DELAY_SECONDS)
    return 0


if __name__ == "__main__":
    name, logfile, separator, *command = sys.argv[1:]
    if separator != "--" or not command:
        sys.exit("usage: python -m labs.testbed.supervisor NAME LOGFILE -- COMMAND...")
    sys.exit(_supervise(name, Path(logfile), command))
