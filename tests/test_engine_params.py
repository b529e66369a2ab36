"""Parameter generators: the same seed always gives the same values; values fit their kind."""

import re

import pytest
from pydantic import TypeAdapter, ValidationError

from labs.params import DNS_LABEL, Parameter, generate

SPECS = {
    "namespace": {"generator": "namespace", "prefix": "team"},
    "pod": {"generator": "name", "prefix": "web"},
    "word": {"generator": "word"},
    "colour": {"generator": "choice", "choices": ["red", "green", "blue"]},
    "port": {"generator": "port", "min": 30000, "max": 32767},
    "count": {"generator": "number", "min": 2, "max": 5},
    "report": {"generator": "path", "directory": "/opt/course/", "extension": ".yaml"},
    "image": {"generator": "image", "default": "nginx:1.27"},
    "fixed": {"generator": "value", "value": 42},
}


def _parameters(specs: dict) -> dict:
    adapter = TypeAdapter(Parameter)
    return {name: adapter.validate_python(spec) for name, spec in specs.items()}


def test_the_same_seed_gives_the_same_values():
    parameters = _parameters(SPECS)
    assert generate(parameters, 1234, "01-x") == generate(parameters, 1234, "01-x")


def test_different_seeds_give_different_attempts():
    parameters = _parameters(SPECS)
    attempts = {tuple(sorted(generate(parameters, seed, "01-x").items())) for seed in range(20)}
    assert len(attempts) > 15


def test_adding_a_parameter_keeps_the_others():
    before = generate(_parameters({"pod": SPECS["pod"]}), 9, "01-x")
    after = generate(_parameters(SPECS), 9, "01-x")
    assert after["pod"] == before["pod"]


def test_values_fit_their_generator():
    for seed in range(50):
        values = generate(_parameters(SPECS), seed, "01-x")
        assert re.match(DNS_LABEL, values["namespace"]) and values["namespace"].startswith("team-")
        assert values["pod"].startswith("web-")
        assert values["colour"] in ("red", "green", "blue")
        assert 30000 <= values["port"] <= 32767
        assert 2 <= values["count"] <= 5
        assert re.fullmatch(r"/opt/course/[a-z]+\.yaml", values["report"])
        assert values["image"] == "nginx:1.27"
        assert values["fixed"] == 42


def test_a_target_substitutes_its_own_image():
    values = generate(_parameters(SPECS), 1, "01-x", images={"nginx:1.27": "local/nginx:1.22"})
    assert values["image"] == "local/nginx:1.22"


@pytest.mark.parametrize(
    "spec",
    [
        {"generator": "port", "min": 0, "max": 70000},
        {"generator": "number", "min": 5, "max": 1},
        {"generator": "choice", "choices": []},
        {"generator": "path", "directory": "relative/dir"},
        {"generator": "name", "prefix": "Not_DNS"},
        {"generator": "unknown"},
    ],
)
def test_bad_generator_settings_are_rejected(spec):
    with pytest.raises(ValidationError):
        _parameters({"p": spec})
