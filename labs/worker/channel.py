"""What the `lab` command and its grading worker share: where the socket is, who may use it, and the framing of the
messages (a 4-byte length, then JSON)."""

from __future__ import annotations

import json
import os
import socket
import struct
import sys
import zlib
from pathlib import Path

from labs.paths import state_dir

SWITCH = "CKS_LAB_GRADING_WORKER"
PACKAGE = Path(__file__).resolve().parents[1]
PROJECT = PACKAGE.parent


def enabled() -> bool:
    """Whether `lab check` may use (and start) a worker here."""
    return sys.platform == "linux" and os.environ.get(SWITCH, "1") != "0"


def socket_path() -> Path:
    """The worker's socket for this user, state directory and installation (a worker per state directory)."""
    runtime = Path(os.environ.get("XDG_RUNTIME_DIR") or os.environ.get("TMPDIR") or "/tmp") / f"cks-lab-{os.getuid()}"
    # a key, not a secret: two checksums (zlib imports in no time, hashlib's OpenSSL does not; lab check waits for it)
    data = f"{state_dir().resolve()}\0{sys.executable}\0{PACKAGE}".encode()
    return runtime / f"grading-{zlib.crc32(data):08x}{zlib.adler32(data):08x}.sock"


def private_directory(path: Path) -> bool:
    """Create `path` 0700, or accept it only when it is this user's and nobody else's."""
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = path.stat()
    except OSError:
        return False
    return info.st_uid == os.getuid() and info.st_mode & 0o077 == 0


def send(connection: socket.socket, message: dict) -> None:
    data = json.dumps(message).encode()
    connection.sendall(struct.pack("!I", len(data)) + data)


def receive(connection: socket.socket) -> dict | None:
    header = read_exactly(connection, 4)
    if header is None:
        return None
    data = read_exactly(connection, struct.unpack("!I", header)[0])
    return None if data is None else json.loads(data)


def read_exactly(connection: socket.socket, size: int) -> bytes | None:
    chunks = b""
    while len(chunks) < size:
        chunk = connection.recv(size - len(chunks))
        if not chunk:
            return None
        chunks += chunk
    return chunks


def answers(path: Path) -> bool:
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
        return True
    except OSError:
        return False
    finally:
        probe.close()
