"""The grading worker: a resident process of the student's own that has the grading libraries imported (the kubernetes
client alone takes about a second) and keeps its API connections, and runs `lab check` for the `lab` command. The
command runs there as it would in the caller: its arguments, environment, working directory and terminal (its stdin,
stdout and stderr are passed over a Unix socket), its exit code sent back; so `lab check` skips the Python imports.

- `lab start` and a `lab check` that found no worker start one in the background; it exits after
  IDLE_SECONDS without a request, when the code it imported changes on disk, or when its socket or the state
  directory is removed. One command at a time: a `lab check` that finds it busy grades in its own process.
- CKS_LAB_GRADING_WORKER=0 turns it off (every `lab check` then grades in its own process); Linux only.
- Only the same user can use it: the socket sits in a 0700 directory of that user and the peer's uid is checked.
"""

# channel.py: what both sides share (the socket's path, the framing); client.py: the `lab` side (delegate, start
# one in the background); server.py: the worker process (`python -m labs.worker.server`), which runs `lab`.
