"""The lab command without a cluster: help, list, validate, bad input and the exit codes that go with it."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from labs.cli import build_parser, main

LAB = [sys.executable, "-m", "labs.cli"]


@pytest.fixture(autouse=True)
def state_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("CKS_LAB_STATE", str(tmp_path / "state"))
    return tmp_path / "state"


@pytest.fixture
def unreachable_kubeconfig(tmp_path) -> Path:
    path = tmp_path / "kubeconfig"
    path.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\n"
        "contexts: [{name: c, context: {cluster: c, user: u}}]\nusers: [{name: u, user: {token: x}}]\n"
    )
    return path


def test_help_lists_every_command_and_imports_nothing_heavy():
    code = "import sys; from labs.cli import build_parser; build_parser(); print(sorted(sys.modules))"
    modules = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    for heavy in ("kubernetes", "ansible_runner", "pytest", "testinfra", "pydantic", "rich"):
        assert f"'{heavy}'" not in modules, f"{heavy} imported by the parser"
    result = subprocess.run([*LAB, "--help"], capture_output=True, text=True, check=True)
    for command in ("list", "start", "task", "status", "check", "hint", "solution", "reset", "validate", "--target"):
        assert command in result.stdout


def test_list_imports_no_cluster_or_grading_library():
    code = "import sys; from labs.cli import main; main(['list']); print(sorted(sys.modules), file=sys.stderr)"
    modules = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stderr
    for heavy in ("kubernetes", "ansible_runner", "pytest", "testinfra"):
        assert f"'{heavy}'" not in modules, f"{heavy} imported by lab list"


@pytest.mark.parametrize(
    "argv",
    [
        ["--target", "testbed", "check"],
        ["check", "--target", "testbed"],
        ["--target", "testbed", "exam", "start"],
        ["exam", "start", "--target", "testbed"],
    ],
)
def test_the_target_may_be_named_before_or_after_the_command(argv):
    assert build_parser().parse_args(argv).target == "testbed"


def test_list_json_has_the_documented_keys(capsys):
    assert main(["list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    first = next(row for row in rows if row["slug"] == "immutable-pod")
    assert first | {"number": 1, "title": first["title"], "domain": first["domain"]} == first
    assert {"number", "slug", "title", "domain", "points", "status"} <= first.keys()
    assert first["status"] == "-"


def test_list_table_without_a_terminal_has_no_colour_codes():
    result = subprocess.run([*LAB, "list"], capture_output=True, text=True, check=True)
    assert "immutable-pod" in result.stdout and "\x1b[" not in result.stdout


def test_an_unknown_scenario_suggests_the_closest(capsys):
    assert main(["start", "immutable-pods", "--force"]) == 2
    assert "did you mean 01-immutable-pod" in capsys.readouterr().err
    assert main(["start", "audit", "--force"]) == 2
    err = capsys.readouterr().err
    assert all(name in err for name in ("06-audit-logging", "07-audit-forensics", "08-audit-repair")), err
    assert main(["start", "99", "--force"]) == 2
    assert "no scenario '99'; `lab list` shows the scenarios" in capsys.readouterr().err


def test_commands_that_need_a_started_scenario_say_so(capsys):
    for command in (["task"], ["check"], ["hint"], ["solution"], ["reset"]):
        assert main(command) == 2, command
        assert "no scenario is started" in capsys.readouterr().err


def test_status_json_without_an_attempt(capsys):
    assert main(["status", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"scenario": None, "seed": None, "params": None, "started_at": None}


def test_no_reachable_cluster_is_exit_2_saying_what_was_tried(capsys, unreachable_kubeconfig, state_dir):
    assert main(["--kubeconfig", str(unreachable_kubeconfig), "start", "1", "--force"]) == 2
    err = capsys.readouterr().err
    assert "cluster unreachable at https://127.0.0.1:1" in err and str(unreachable_kubeconfig) in err
    assert not (state_dir / "state.json").exists(), "nothing was started"


def test_a_missing_kubeconfig_is_exit_2(capsys, tmp_path):
    assert main(["start", "1", "--force", "--kubeconfig", str(tmp_path / "nope")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_a_kubeconfig_that_is_not_yaml_is_exit_2_naming_the_line(capsys, tmp_path, state_dir):
    broken = tmp_path / "bad.conf"
    broken.write_text("apiVersion: v1\nclusters: [\n  - bad: {")
    assert main(["--kubeconfig", str(broken), "start", "1"]) == 2
    err = capsys.readouterr().err
    assert f"kubeconfig {broken} is not valid YAML" in err and "at line 3, column 3" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) <= 2


def test_an_unexpected_error_is_exit_2_with_its_trace_kept_in_a_log(capsys, monkeypatch, state_dir):
    def broken(*_args):
        raise RuntimeError("something nobody foresaw")

    monkeypatch.setattr("labs.commands.run", broken)
    assert main(["list"]) == 2
    err = capsys.readouterr().err
    assert "lab: unexpected error: RuntimeError: something nobody foresaw" in err and "Traceback" not in err
    (log,) = (state_dir / "logs").glob("lab-*.log")
    assert f"the full trace is in {log}" in err
    assert "Traceback" in log.read_text() and "something nobody foresaw" in log.read_text()


def test_validate_reports_each_scenario(capsys):
    main(["validate"])  # exit 0 only when every scenario in the checkout is valid (make lint relies on it)
    assert "ok scenarios/01-immutable-pod/scenario.yaml" in capsys.readouterr().out
