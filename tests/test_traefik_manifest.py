"""The ingress controller's manifest (playbooks/roles/traefik/templates/traefik.yaml.j2), as the testbed renders it
and as the traefik role does, and the build of Traefik: no cluster needed."""

from __future__ import annotations

from pathlib import Path

import jinja2
import pytest
import yaml

from labs.testbed import build, cluster, images
from labs.versions import REPO_ROOT, pinned

ROLE = REPO_ROOT / "playbooks/roles/traefik"


def documents() -> dict[str, dict]:
    return {document["kind"]: document for document in yaml.safe_load_all(cluster.traefik_manifest())}


def container() -> dict:
    return documents()["Deployment"]["spec"]["template"]["spec"]["containers"][0]


def flags() -> dict[str, str]:
    return dict(arg.removeprefix("--").split("=", 1) for arg in container()["args"])


def test_the_testbed_runs_its_own_build_of_traefik_as_one_replica():
    deployment = documents()["Deployment"]
    assert container()["image"] == images.TRAEFIK_IMAGE == f"cks-lab.local/traefik:v{pinned().traefik_version}"
    assert deployment["spec"]["replicas"] == 1
    account = documents()["ServiceAccount"]["metadata"]
    assert deployment["metadata"]["namespace"] == account["namespace"] == documents()["Namespace"]["metadata"]["name"]
    assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == account["name"]


def test_ingress_class_nginx_belongs_to_the_controller_the_provider_serves():
    ingress_class = documents()["IngressClass"]
    assert ingress_class["metadata"]["name"] == "nginx"
    assert ingress_class["spec"]["controller"] == "k8s.io/ingress-nginx"
    assert flags()["providers.kubernetesIngressNGINX"] == "true"
    assert flags()["providers.kubernetesIngressNGINX.ingressClass"] == "nginx"
    assert flags()["providers.kubernetesIngressNGINX.controllerClass"] == ingress_class["spec"]["controller"]


def test_the_nodeports_reach_the_entry_points_and_https_is_the_tls_one():
    service = documents()["Service"]
    ports = {port["name"]: port["containerPort"] for port in container()["ports"]}
    assert service["spec"]["type"] == "NodePort"
    assert service["spec"]["selector"] == documents()["Deployment"]["spec"]["selector"]["matchLabels"]
    served = {port["nodePort"]: (port["port"], port["targetPort"]) for port in service["spec"]["ports"]}
    assert served == {30080: (80, "web"), 30443: (443, "websecure")}
    for entry_point in ("web", "websecure", "traefik"):
        assert flags()[f"entryPoints.{entry_point}.address"] == f":{ports[entry_point]}"
    assert flags()["entryPoints.websecure.http.tls"] == "true"
    namespace = service["metadata"]["namespace"]
    assert flags()["providers.kubernetesIngressNGINX.publishService"] == f"{namespace}/{service['metadata']['name']}"


def test_readiness_is_traefiks_ping_on_its_own_entry_point():
    probe = container()["readinessProbe"]["httpGet"]
    assert (probe["path"], probe["port"]) == ("/ping", "traefik")
    assert flags()["ping"] == "true"
    assert flags()["ping.entryPoint"] == "traefik"


def test_the_service_account_may_read_what_the_provider_watches_and_nothing_more():
    binding = documents()["ClusterRoleBinding"]
    account = documents()["ServiceAccount"]["metadata"]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": account["name"], "namespace": account["namespace"]}
    ]
    assert binding["roleRef"]["name"] == documents()["ClusterRole"]["metadata"]["name"]
    granted = {
        (group, resource, verb)
        for rule in documents()["ClusterRole"]["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }
    watched = {
        ("", "services"),
        ("", "secrets"),
        ("discovery.k8s.io", "endpointslices"),
        ("networking.k8s.io", "ingresses"),
        ("networking.k8s.io", "ingressclasses"),
    }
    expected = {(group, resource, verb) for group, resource in watched for verb in ("list", "watch")}
    assert granted == expected | {("networking.k8s.io", "ingresses/status", "update")}


def test_the_container_runs_unprivileged_on_a_read_only_root():
    security = container()["securityContext"]
    assert security["runAsNonRoot"] is True and security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False and security["capabilities"] == {"drop": ["ALL"]}


@pytest.mark.parametrize("trim_blocks", [True, False], ids=["ansible", "jinja2-defaults"])
def test_the_role_renders_the_same_manifest_with_the_official_image(trim_blocks: bool):
    """Ansible's template module trims blocks, the testbed's plain jinja2 does not: the manifest is the same, and
    the role's default image is the official one at the pinned version."""
    defaults = yaml.safe_load((ROLE / "defaults/main.yml").read_text())
    image = jinja2.Template(defaults["traefik_image"]).render(traefik_version=pinned().traefik_version)
    assert image == f"traefik:v{pinned().traefik_version}"
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined, trim_blocks=trim_blocks)
    rendered = environment.from_string((ROLE / "templates/traefik.yaml.j2").read_text()).render(traefik_image=image)
    expected = cluster.traefik_manifest().replace(images.TRAEFIK_IMAGE, image)
    assert rendered.rstrip("\n") == expected.rstrip("\n")


def test_traefik_is_built_at_the_pinned_version_with_its_version_stamped():
    (traefik,) = [component for component in build.components() if component.name == "traefik"]
    assert traefik.version == "v" + pinned().traefik_version
    assert [program.package for program in traefik.programs] == ["github.com/traefik/traefik/v3/cmd/traefik"]
    assert f"-X github.com/traefik/traefik/v3/pkg/version.Version=v{pinned().traefik_version}" in traefik.ldflags


def test_the_wrapper_takes_over_the_upstream_replacements_by_other_modules(tmp_path: Path):
    upstream = tmp_path / "traefik@v3.6.12"
    upstream.mkdir()
    (upstream / "go.mod").write_text(
        "module github.com/traefik/traefik/v3\n\nrequire github.com/gorilla/mux v1.8.1\n\n// Containous forks\n"
        "replace (\n\tgithub.com/abbot/go-http-auth => github.com/containous/go-http-auth v0.4.1-0.2020\n"
        "\tgithub.com/gorilla/mux => github.com/containous/mux v0.0.0-2025\n\texample.com/local => ./local\n)\n\n"
        "replace example.com/old v1.0.0 => example.com/fork v1.0.1 // one version only\n"
        "exclude github.com/tencentcloud/tencentcloud-sdk-go v3.0.83+incompatible\n"
    )
    (traefik,) = [component for component in build.components() if component.name == "traefik"]
    assert traefik.replaces_from is not None
    replaces = traefik.replaces_from(upstream)
    assert replaces == [
        ("github.com/abbot/go-http-auth", "github.com/containous/go-http-auth", "v0.4.1-0.2020"),
        ("github.com/gorilla/mux", "github.com/containous/mux", "v0.0.0-2025"),
        ("example.com/old v1.0.0", "example.com/fork", "v1.0.1"),
    ]
    go_mod = build._wrapper_go_mod(traefik, [(traefik.module, traefik.version)], replaces)
    assert "\tgithub.com/gorilla/mux => github.com/containous/mux v0.0.0-2025\n" in go_mod
    assert "\texample.com/old v1.0.0 => example.com/fork v1.0.1\n" in go_mod
