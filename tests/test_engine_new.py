"""`lab new`: a new scenario's files in a checkout, valid for `lab validate` as written, refused over existing ones."""

from pathlib import Path

import pytest

from labs.catalog import REPO_ROOT, SCENARIOS_VARIABLE, Catalog
from labs.cli import main
from labs.validate import validate


@pytest.fixture
def checkout(tmp_path, monkeypatch) -> Path:
    """An empty checkout (scenarios/, graders/, tests/ to come) beside the project's shared playbooks."""
    (tmp_path / "scenarios").mkdir()
    (tmp_path / "playbooks").symlink_to(REPO_ROOT / "playbooks")
    monkeypatch.setenv(SCENARIOS_VARIABLE, str(tmp_path / "scenarios"))
    return tmp_path


def test_a_new_scenario_is_valid_as_written(checkout, capsys):
    assert main(["new", "99-example", "--domain", "System Hardening"]) == 0
    written = {path.relative_to(checkout).as_posix() for path in checkout.rglob("*") if path.is_file()}
    assert written == {
        "scenarios/99-example/scenario.yaml",
        "scenarios/99-example/setup.yml",
        "scenarios/99-example/solution.yml",
        "scenarios/99-example/reset.yml",
        "scenarios/99-example/mutants.yaml",
        "graders/test_99_example.py",
        "tests/test_scenario_99_example.py",
    }
    assert "pytest tests/test_scenario_99_example.py` fails until" in " ".join(capsys.readouterr().out.split())
    (scenario,) = Catalog().scenarios
    assert (scenario.id, scenario.spec.domain, scenario.grader) == (
        "99-example",
        "System Hardening",
        checkout / "graders" / "test_99_example.py",
    )
    assert validate(Catalog()) == {str(checkout / "scenarios/99-example/scenario.yaml"): []}


def test_its_grader_and_proof_say_what_to_fill_in(checkout):
    main(["new", "42-seccomp-profile", "--domain", "System Hardening"])
    grader = (checkout / "graders/test_42_seccomp_profile.py").read_text()
    proof = (checkout / "tests/test_scenario_42_seccomp_profile.py").read_text()
    assert "TODO: judge the task's first criterion in graders/test_42_seccomp_profile.py" in grader
    assert "with started(42, SEED" in proof and "TODO: a plausible but wrong answer" in proof
    setup = (checkout / "scenarios/42-seccomp-profile/setup.yml").read_text()
    assert (
        "../../playbooks/tasks/scenario_namespace_create.yml" in setup and 'namespace_name: "{{ namespace }}"' in setup
    )


@pytest.mark.parametrize(
    ("arguments", "said"),
    [
        (["new", "example", "--domain", "System Hardening"], "expected NN-slug"),
        (["new", "07-Bad_Slug", "--domain", "System Hardening"], "expected NN-slug"),
        (["new", "07-fine", "--domain", "Hardening"], "'Hardening' is not a CKS domain"),
    ],
)
def test_a_wrong_name_or_domain_writes_nothing(checkout, capsys, arguments, said):
    assert main(arguments) == 1
    assert said in capsys.readouterr().err
    assert list((checkout / "scenarios").iterdir()) == []


def test_a_taken_number_or_an_existing_file_is_refused(checkout, capsys):
    assert main(["new", "12-first", "--domain", "Cluster Setup"]) == 0
    assert main(["new", "12-second", "--domain", "Cluster Setup"]) == 1
    assert "scenario number 12 is taken" in capsys.readouterr().err
    (checkout / "graders" / "test_13_third.py").write_text("# someone's work\n")
    assert main(["new", "13-third", "--domain", "Cluster Setup"]) == 1
    assert "test_13_third.py exists already: nothing was written" in capsys.readouterr().err
    assert (checkout / "graders" / "test_13_third.py").read_text() == "# someone's work\n"
    assert not (checkout / "scenarios" / "13-third").exists()
