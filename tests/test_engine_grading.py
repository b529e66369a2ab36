"""The grading plugin on small grader modules: points, partial credit, fail versus could-not-grade, messages."""

import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest

from labs.grading.context import GradingContext
from labs.grading.plugin import grade


def _grade(tmp_path: Path, body: str, params: dict | None = None, capabilities: frozenset[str] = frozenset()):
    """The grader `body` graded on a fake target with `capabilities`; it gets labs' fixtures without imports."""
    grader = tmp_path / "test_99_demo.py"
    grader.write_text("import pytest\nfrom labs.errors import CannotGrade\n\n" + textwrap.dedent(body))
    target = SimpleNamespace(name="fake", kube=SimpleNamespace(), capabilities=capabilities)
    return grade(grader, GradingContext("99-demo", 3, params or {}, target))


def test_every_criterion_passing_is_a_pass_with_full_score(tmp_path):
    report = _grade(
        tmp_path,
        """
        @pytest.mark.points(2)
        def test_a():
            '''First criterion'''

        def test_b():
            '''Second criterion'''
        """,
    )
    assert (report.verdict, report.score, report.max_score, report.exit_code) == ("pass", 3, 3, 0)
    assert [c.title for c in report.checks] == ["First criterion", "Second criterion"]


def test_partial_credit_and_the_assertion_text_as_message(tmp_path):
    report = _grade(
        tmp_path,
        """
        @pytest.mark.points(3)
        def test_ok():
            '''Holds'''

        @pytest.mark.points(2)
        def test_namespace(params):
            '''Namespace {namespace} has the label'''
            assert params["namespace"] == "prod", f"namespace {params['namespace']} lacks the label"

        def test_bare():
            '''Bare assertion'''
            value = 1
            assert value == 2
        """,
        params={"namespace": "team-otter"},
    )
    assert (report.verdict, report.score, report.max_score, report.exit_code) == ("fail", 3, 6, 1)
    namespace = report.checks[1]
    assert namespace.title == "Namespace team-otter has the label"
    assert namespace.message == "namespace team-otter lacks the label"
    # the failed statement (with its values when pytest's assertion rewriting is active, as inside this test run)
    assert report.checks[2].message in ("not true: assert value == 2", "not true: assert 1 == 2")
    assert all("Traceback" not in c.message and "File " not in c.message for c in report.checks)


def test_could_not_grade_is_an_error_never_a_fail(tmp_path):
    report = _grade(
        tmp_path,
        """
        def test_fine():
            '''Fine'''

        def test_unjudgeable():
            '''Needs the cluster'''
            raise CannotGrade("cluster unreachable at https://10.0.0.1:6443")

        def test_wrong():
            '''Wrong answer'''
            assert False, "wrong"
        """,
    )
    assert report.verdict == "error" and report.exit_code == 2
    statuses = {c.id: c.status for c in report.checks}
    assert statuses == {"test_fine": "pass", "test_unjudgeable": "error", "test_wrong": "fail"}
    assert report.as_json()["checks"][1]["message"] == "cluster unreachable at https://10.0.0.1:6443"


def test_a_fixture_that_cannot_reach_the_cluster_makes_every_user_an_error(tmp_path):
    report = _grade(
        tmp_path,
        """
        @pytest.fixture(scope="module")
        def cluster():
            raise CannotGrade("forbidden: cannot list pods")

        def test_one(cluster):
            '''One'''

        def test_two(cluster):
            '''Two'''
        """,
    )
    assert [c.status for c in report.checks] == ["error", "error"]
    assert report.verdict == "error"


def test_a_failing_fixture_assertion_fails_its_criteria(tmp_path):
    report = _grade(
        tmp_path,
        """
        @pytest.fixture(scope="module")
        def pod():
            raise AssertionError("pod web not found in namespace shop")

        def test_uses_pod(pod):
            '''Uses the pod'''
        """,
    )
    assert report.checks[0].status == "fail"
    assert report.checks[0].message == "pod web not found in namespace shop"


def test_pytest_fail_and_a_grader_bug(tmp_path):
    report = _grade(
        tmp_path,
        """
        def test_broken_yaml():
            '''Policy file parses'''
            pytest.fail("policy.yaml line 3: mapping values are not allowed here", pytrace=False)

        def test_bug():
            '''Grader bug'''
            {}["missing"]
        """,
    )
    broken, bug = report.checks
    assert (broken.status, broken.message) == ("fail", "policy.yaml line 3: mapping values are not allowed here")
    assert bug.status == "error" and bug.message == "the grader failed: KeyError: 'missing'"


def test_a_grader_that_cannot_be_imported_is_an_error(tmp_path):
    report = _grade(tmp_path, "import no_such_module\n\ndef test_a():\n    pass\n")
    assert report.verdict == "error"
    assert report.problems and "could not be loaded" in report.problems[0]


def test_junit_report_has_messages_and_points_but_no_traceback(tmp_path):
    report = _grade(
        tmp_path,
        """
        @pytest.mark.points(2)
        def test_a():
            '''A'''
            assert False, "not A"
        """,
    )
    path = tmp_path / "out" / "junit.xml"
    report.write_junit(path)
    text = path.read_text()
    assert 'failures="1"' in text and 'message="not A"' in text and "<system-out>points: 2</system-out>" in text
    assert "Traceback" not in text


def test_a_criterion_that_needs_what_the_target_lacks_is_not_gradable_and_counts_for_nothing(tmp_path):
    report = _grade(
        tmp_path,
        """
        @pytest.fixture
        def profiles():
            raise AssertionError("a criterion that is not gradable must not run, nor its fixtures")

        @pytest.mark.points(2)
        @pytest.mark.needs("apparmor")
        def test_enforced(profiles):
            '''The profile is enforced'''

        @pytest.mark.needs("falco")
        def test_alerts():
            '''Falco alerts'''

        @pytest.mark.points(3)
        def test_spec():
            '''The pod names the profile'''
            assert False, "it does not"
        """,
        capabilities=frozenset({"falco"}),
    )
    apparmor = "not gradable on the fake target: it needs AppArmor enforcing profiles in the kernel (apparmor)"
    statuses = {c.id: (c.status, c.message) for c in report.checks}
    assert statuses == {
        "test_enforced": ("not-gradable", apparmor),
        "test_alerts": ("pass", ""),
        "test_spec": ("fail", "it does not"),
    }
    assert (report.verdict, report.score, report.max_score, report.exit_code) == ("fail", 1, 4, 1)


def test_with_every_criterion_not_gradable_the_grading_could_not_grade(tmp_path):
    report = _grade(tmp_path, "@pytest.mark.needs('systemd')\ndef test_a():\n    '''A'''\n")
    assert (report.checks[0].status, report.verdict, report.max_score) == ("not-gradable", "error", 0)


def test_the_junit_report_of_lab_check_is_valid_junit_10_xml(tmp_path):
    """Passed, failed and errored criteria and a grader problem, validated against the Jenkins xunit plugin's
    junit-10.xsd (the schema tests/class_checks.py uses for the class reports too)."""
    from class_checks import validate_junit

    from labs.grading.report import Check, Report

    report = Report("99-demo", 3, problems=["the grader tests/x.py could not be loaded: SyntaxError"])
    report.checks = [
        Check("test_a", "A <holds> & more", 2),
        Check("test_b", "B", 1, "fail", 'not "B"'),
        Check("test_c", "C", 3, "error", "cluster unreachable"),
        Check("test_d", "D", 2, "not-gradable", "not gradable on the testbed target: it needs Falco (falco)"),
    ]
    path = tmp_path / "junit.xml"
    report.write_junit(path)
    validate_junit(path)
    text = path.read_text()
    assert 'skipped="1"' in text and '<skipped message="not gradable on the testbed target' in text


def test_the_kube_fixture_reports_an_unreachable_cluster_as_could_not_grade(tmp_path):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\n"
        "contexts: [{name: c, context: {cluster: c, user: u}}]\nusers: [{name: u, user: {token: x}}]\n"
    )
    from labs.k8s import Kube

    grader = tmp_path / "test_98_kube.py"
    grader.write_text("def test_a(kube):\n    '''Uses the API'''\n")
    target = SimpleNamespace(name="fake", kube=Kube(kubeconfig))
    report = grade(grader, GradingContext("98-kube", 1, {}, target))
    assert report.verdict == "error"
    assert "cluster unreachable at https://127.0.0.1:1" in report.checks[0].message


@pytest.mark.parametrize("missing", ["no_grader.py"])
def test_a_missing_grader_is_an_error(tmp_path, missing):
    report = grade(tmp_path / missing, GradingContext("97-x", 1, {}, SimpleNamespace()))
    assert report.verdict == "error" and "no grader" in report.problems[0]


def test_a_students_broken_yaml_is_a_failed_criterion_naming_the_problem(tmp_path):
    report = _grade(
        tmp_path,
        """
        from labs.graderlib.files import parse_yaml, parse_yaml_documents

        def test_policy_parses():
            '''The policy file parses'''
            parse_yaml("rules:\\n  - level: Metadata\\n   bad: [", "/etc/kubernetes/audit/policy.yaml")

        def test_manifests_parse():
            '''The manifests parse'''
            assert len(parse_yaml_documents("a: 1\\n---\\nb: 2\\n---\\n", "pod.yaml")) == 2
        """,
    )
    broken, fine = report.checks
    assert broken.status == "fail" and fine.status == "pass"
    assert broken.message.startswith("/etc/kubernetes/audit/policy.yaml line 3, column 4: cannot be parsed as YAML")


def test_only_the_selected_criteria_are_reported_and_none_counts_unrun(tmp_path):
    grader = tmp_path / "test_96_select.py"
    grader.write_text(
        "def test_alpha():\n    '''Alpha'''\n    assert False, 'no'\n\ndef test_beta():\n    '''Beta'''\n"
    )
    report = grade(grader, GradingContext("96-select", 1, {}, SimpleNamespace()), keyword="beta")
    assert [(c.id, c.status) for c in report.checks] == [("test_beta", "pass")]
