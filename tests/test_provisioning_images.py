"""Provisioning pre-pulls exactly the images the scenarios run, so that `lab start` needs no registry on the internet
(playbooks/roles/scenario_images). Read from the scenarios themselves: the defaults of their image parameters, and
every `image:` their playbooks name (a parameter, or a literal)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import yaml

from labs.catalog import Catalog, Scenario
from labs.params import ImageParameter

REPO = Path(__file__).resolve().parents[1]
PULLED = yaml.safe_load((REPO / "playbooks/roles/scenario_images/defaults/main.yml").read_text())[
    "scenario_images_pull"
]
PARAMETER_REFERENCE = re.compile(r"^\{\{\s*([a-z][a-z0-9_]*)\s*\}\}$")


def fully_qualified(image: str) -> str:
    """The name crictl lists for an image: `busybox:1.36` is `docker.io/library/busybox:1.36`."""
    first = image.split("/")[0]
    if "/" not in image:
        return f"docker.io/library/{image}"
    if "." not in first and ":" not in first and first != "localhost":
        return f"docker.io/{image}"
    return image


def image_values(node: object) -> Iterator[str]:
    """Every value of an `image` key anywhere in a YAML document."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "image" and isinstance(value, str):
                yield value
            else:
                yield from image_values(value)
    elif isinstance(node, list):
        for item in node:
            yield from image_values(item)


def images_of(scenario: Scenario) -> set[str]:
    """The images a scenario's playbooks run, parameters replaced by their defaults."""
    defaults = {
        name: spec.default for name, spec in scenario.spec.parameters.items() if isinstance(spec, ImageParameter)
    }
    found = set(defaults.values())
    for playbook in sorted(scenario.directory.glob("*.yml")):
        for value in image_values(yaml.safe_load(playbook.read_text())):
            reference = PARAMETER_REFERENCE.match(value)
            assert reference is None or reference[1] in defaults, f"{playbook}: {value} is not an image parameter"
            found.add(defaults[reference[1]] if reference else value)
    return found


def test_the_catalog_has_scenarios_with_images() -> None:
    assert sum(bool(images_of(s)) for s in Catalog(REPO / "scenarios").scenarios) >= 10


def test_provisioning_pulls_every_image_the_scenarios_run_and_no_other() -> None:
    used = {fully_qualified(image) for s in Catalog(REPO / "scenarios").scenarios for image in images_of(s)}
    assert sorted(PULLED) == sorted(used)


def test_short_names_are_qualified_as_containerd_does() -> None:
    assert fully_qualified("busybox:1.36") == "docker.io/library/busybox:1.36"
    assert fully_qualified("falcosecurity/falco:0.42.1") == "docker.io/falcosecurity/falco:0.42.1"
    assert fully_qualified("registry.k8s.io/pause:3.10") == "registry.k8s.io/pause:3.10"
