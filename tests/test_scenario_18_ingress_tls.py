"""Scenario 18 on the testbed: setup fails the grader, the reference solution passes it, and each near-miss fails on
the criterion it misses, judged by what Traefik (the testbed's ingress controller, as on the VMs) serves. Seed 1
draws host maple.cks-lab.test and the Services shop and search. Each near-miss changes the solved Ingress or Secret
and puts it back."""

from __future__ import annotations

import base64
import copy
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from broken_cluster import check_without_namespace
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from lab_attempt import Attempt, failed, failed_in, message, started
from mutation import recorded_verdicts_match
from waiting import wait_for

from labs.graderlib.ingress import certificate_in_file, get, served_certificate

pytestmark = [pytest.mark.testbed]

SEED = 1
SECRET = "test_the_secret_holds_the_given_certificate"
CERTIFICATE = "test_https_for_the_host_serves_the_given_certificate"
PATHS = "test_each_path_reaches_its_service"
REDIRECT = "test_plain_http_is_redirected_to_https"
OTHER_NAMESPACE = "default"


@pytest.fixture(scope="module")
def lab(testbed, tmp_path_factory) -> Iterator[Attempt]:
    with started(18, SEED, tmp_path_factory.mktemp("lab-state")) as attempt:
        yield attempt


def _ingress(lab: Attempt):
    return lab.kube.networking.read_namespaced_ingress(lab.params["ingress"], lab.params["namespace"])


@contextmanager
def ingress_changed(lab: Attempt, change) -> Iterator[None]:
    """The solved Ingress's spec changed by `change` (a function of a copy of it), put back afterwards."""
    networking, params = lab.kube.networking, lab.params
    solved = _ingress(lab).to_dict()["spec"]
    spec = copy.deepcopy(solved)
    change(spec)
    networking.replace_namespaced_ingress(params["ingress"], params["namespace"], {**_body(lab), "spec": spec})
    try:
        yield
    finally:
        networking.replace_namespaced_ingress(params["ingress"], params["namespace"], {**_body(lab), "spec": solved})


def _body(lab: Attempt) -> dict:
    metadata = _ingress(lab).metadata
    return {
        "metadata": {
            "name": metadata.name,
            "namespace": metadata.namespace,
            "resourceVersion": metadata.resource_version,
        }
    }


def test_the_seed_draws_what_the_tests_expect(lab):
    assert (lab.params["host"], lab.params["first"], lab.params["second"]) == ("maple.cks-lab.test", "shop", "search")


def test_after_setup_every_criterion_fails(lab):
    report = lab.check()
    assert report["exit_code"] == 1, report
    assert failed_in(report) == {SECRET, CERTIFICATE, PATHS, REDIRECT}, report
    said = failed_in(report).messages
    assert "presents CN = TRAEFIK DEFAULT CERT for maple.cks-lab.test" in said[CERTIFICATE], said
    assert "GET http://maple.cks-lab.test:30080/shop/: 404" in said[REDIRECT], said


def _until_the_controller_serves_the_solution(lab: Attempt, timeout: float = 90) -> None:
    """Traefik's watches come back slowly after kube-apiserver restarts (a proof before this one restarts it), each
    kind of object on its own schedule: it may see the Ingress and not yet the Secret (its log: secret not found), or
    the Secret and not yet the Services' endpoints (503, no available server). The solved state is the one the
    controller serves, its certificate and both paths; grading sooner would judge the controller's lag, not the
    solution. Once it serves them, its watches of every kind are back for the near-misses after."""
    host, params = lab.target.host("controlplane"), lab.params
    given = certificate_in_file(host, f"{params['kept']}/tls.crt")

    def served() -> bool:
        if served_certificate(host, params["host"]).fingerprint != given.fingerprint:
            return False
        paths = (f"/{params[which]}/" for which in ("first", "second"))
        return all(get(host, params["host"], path, ca_file=f"{params['kept']}/ca.crt").status == 200 for path in paths)

    wait_for(served, timeout, "Traefik to present the Secret's certificate and route both paths")


def test_the_reference_solution_passes(lab):
    lab.solve()
    _until_the_controller_serves_the_solution(lab)
    report = lab.check()
    missed = {check["id"]: check["message"] for check in report["checks"] if check["status"] != "pass"}
    assert report["exit_code"] == 0, missed


def test_the_recording_grades_like_the_solved_cluster(lab, shared_dir):
    # make it with: CKS_LAB_RECORD=1 pytest tests/test_scenario_18_ingress_tls.py -k "solution or recording"
    recorded_verdicts_match(lab, shared_dir)


def test_the_secret_in_another_namespace_leaves_the_host_without_its_certificate(lab):
    """The Secret made in Namespace default: the controller cannot read it from the Ingress's namespace, serves its
    default certificate and drops the Ingress (Traefik; ingress-nginx would route with its default certificate)."""
    core, params = lab.kube.core, lab.params
    secret = core.read_namespaced_secret(params["secret"], params["namespace"])
    moved = {"metadata": {"name": params["secret"]}, "type": secret.type, "data": secret.data}
    core.create_namespaced_secret(OTHER_NAMESPACE, moved)
    core.delete_namespaced_secret(params["secret"], params["namespace"])
    try:
        report = lab.grade()
    finally:
        core.create_namespaced_secret(params["namespace"], moved)
        core.delete_namespaced_secret(params["secret"], OTHER_NAMESPACE)
    assert failed(report) == {SECRET, CERTIFICATE, PATHS, REDIRECT}
    assert f"no Secret {params['secret']} in Namespace {params['namespace']}" in message(report, SECRET)
    assert "presents CN = TRAEFIK DEFAULT CERT" in message(report, CERTIFICATE)


@contextmanager
def secret_data_changed(lab: Attempt, **data: bytes) -> Iterator[None]:
    """The solved Secret with some of its data replaced, put back afterwards."""
    core, params = lab.kube.core, lab.params
    solved = core.read_namespaced_secret(params["secret"], params["namespace"]).data
    changed = {**solved, **{key.replace("_", "."): base64.b64encode(value).decode() for key, value in data.items()}}
    core.patch_namespaced_secret(params["secret"], params["namespace"], {"data": changed})
    try:
        yield
    finally:
        core.patch_namespaced_secret(params["secret"], params["namespace"], {"data": solved})


def test_a_key_that_is_not_the_certificate_s_leaves_the_host_without_it(lab):
    """tls.key of another certificate: the controller cannot use the pair and presents its default certificate."""
    other = ec.generate_private_key(ec.SECP256R1())
    pem = other.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with secret_data_changed(lab, tls_key=pem):
        report = lab.grade()
    assert CERTIFICATE in failed(report) and SECRET not in failed(report), failed(report)
    assert "presents CN = TRAEFIK DEFAULT CERT" in message(report, CERTIFICATE)


def test_the_wrong_host_fails_the_paths_and_the_redirect(lab):
    """www. before the host, in the rule and in tls.hosts. Traefik still presents the Secret's certificate to a client
    asking for the real host (it picks certificates by their names), so only what the rule routes fails."""

    def www(spec: dict) -> None:
        spec["rules"][0]["host"] = f"www.{lab.params['host']}"
        spec["tls"][0]["hosts"] = [f"www.{lab.params['host']}"]

    with ingress_changed(lab, www):
        report = lab.grade()
    assert failed(report) == {PATHS, REDIRECT}
    assert "GET https://maple.cks-lab.test:30443/shop/: 404" in message(report, PATHS)
    assert "GET http://maple.cks-lab.test:30080/shop/: 404" in message(report, REDIRECT)


def test_the_paths_sent_to_each_other_s_service_fail_on_the_paths(lab):
    def swapped(spec: dict) -> None:
        paths = spec["rules"][0]["http"]["paths"]
        paths[0]["backend"], paths[1]["backend"] = paths[1]["backend"], paths[0]["backend"]

    with ingress_changed(lab, swapped):
        report = lab.grade()
    assert failed(report) == {PATHS}
    said = message(report, PATHS)
    assert "GET https://maple.cks-lab.test:30443/shop/: 404" in said and "expected 200 from Service shop" in said, said


def test_an_ingress_without_tls_serves_no_certificate_and_no_redirect(lab):
    with ingress_changed(lab, lambda spec: spec.pop("tls")):
        report = lab.grade()
    assert failed(report) == {CERTIFICATE, PATHS, REDIRECT}
    said = message(report, REDIRECT)
    assert "GET http://maple.cks-lab.test:30080/shop/: 200" in said, said


def test_with_its_namespace_deleted_the_check_fails_and_reset_still_cleans_up(lab):
    check_without_namespace(lab, lab.params["namespace"])
