"""Reading what a steps script printed in a container (labs.graderlib.probes): a step counts as run only when the shell
itself printed both of its markers, so an echoed command line or a cut-off exec never passes for a probe that ran.
The probes themselves run on the testbed in tests/test_engine_fixtures_testbed.py and the scenario tests."""

import subprocess

import pytest
from kubernetes.client.exceptions import ApiException

from labs.graderlib.probes import _marker, _step_results, _steps_script, refusal

NONCE = "0123456789abcdef"


def _run(steps: list[str]) -> str:
    """What the script Probe.steps sends prints when a real /bin/sh runs it."""
    script = _steps_script(NONCE, steps)
    return subprocess.run(["/bin/sh", "-c", script], capture_output=True, text=True, check=False).stdout


def test_each_step_has_its_own_output_and_exit_status(tmp_path):
    read_only = tmp_path / "ro"
    read_only.mkdir(mode=0o500)
    steps = [f": > {tmp_path}/file", "echo one; echo two >&2; exit 3", f"cd {tmp_path} && pwd"]
    results = _step_results(_run(steps), NONCE, 3, "")
    assert [r.ran for r in results] == [True, True, True]
    assert [r.exit_code for r in results] == [0, 3, 0]
    assert results[1].output == "one\ntwo"
    assert results[2].stdout == str(tmp_path)


def test_a_failed_redirection_ends_only_its_own_step():
    results = _step_results(_run([": > /no/such/dir/file", "echo after"]), NONCE, 2, "")
    assert results[0].ran and results[0].exit_code != 0 and "no/such/dir" in results[0].output
    assert results[1].ran and results[1].stdout == "after"


def test_the_command_line_itself_never_counts_as_a_marker():
    printed, command = _marker(NONCE, ":0:begin")
    assert printed == f"{NONCE}:0:begin" and printed not in command
    echoed = _steps_script(NONCE, ["true"])  # a shell that printed its script instead of running it proves nothing
    assert [r.ran for r in _step_results(echoed, NONCE, 1, "")] == [False]


def test_steps_after_a_cut_off_exec_did_not_run():
    output = _run(["echo first", "echo second"])
    cut = output[: output.index("second")]
    results = _step_results(cut, NONCE, 2, "timed out")
    assert results[0].ran and not results[1].ran
    assert results[1].error == "timed out" and results[1].exit_code is None


def test_an_exec_that_never_started_runs_no_step():
    results = _step_results("", NONCE, 2, "exec failed: no /bin/sh")
    assert [(r.ran, r.error) for r in results] == [(False, "exec failed: no /bin/sh")] * 2


@pytest.mark.parametrize(
    ("status", "reason", "body", "said"),
    [
        (  # what the websocket client raised, recorded on the testbed with the kubelet stopped
            0,
            "Handshake status 500 Internal Server Error -+-+- {'audit-id': '9b41', 'content-type': 'application/json'}"
            ' -+-+- {"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"error dialing '
            'backend: dial tcp 10.255.0.1:10250: connect: connection refused","code":500}\n',
            None,
            "500 error dialing backend: dial tcp 10.255.0.1:10250: connect: connection refused",
        ),
        (
            404,
            "Not Found",
            '{"kind":"Status","message":"pods \\"web\\" not found","code":404}',
            '404 pods "web" not found',
        ),
        (0, "Handshake status 502 Bad Gateway", None, "Handshake status 502 Bad Gateway"),
        (400, "Bad Request", "not json", "400 Bad Request not json"),
    ],
)
def test_an_exec_refusal_says_the_api_servers_reason_without_its_headers(status, reason, body, said):
    error = ApiException(status=status, reason=reason)
    error.body = body
    assert refusal(error) == said
