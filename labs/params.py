"""Per-attempt parameters: each generator turns (seed, scenario, parameter name) into a value, always the same one.

A parameter's random stream is seeded with the attempt's seed, the scenario and the parameter's name, so adding a
parameter to a scenario never changes the values of the others.
"""

from __future__ import annotations

import random
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from labs.words import WORDS

DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"


class _Generator(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def generate(self, rng: random.Random, images: dict[str, str]) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError


class WordParameter(_Generator):
    """A word from the word list, optionally between a prefix and a suffix: `web-otter`."""

    generator: Literal["word", "name", "namespace"]
    prefix: Annotated[str, Field(pattern=r"^[a-z0-9-]*$", max_length=30)] = ""
    suffix: Annotated[str, Field(pattern=r"^[a-z0-9-]*$", max_length=30)] = ""

    def generate(self, rng: random.Random, images: dict[str, str]) -> str:
        parts = [self.prefix.rstrip("-"), rng.choice(WORDS), self.suffix.lstrip("-")]
        return "-".join(part for part in parts if part)


class ChoiceParameter(_Generator):
    """One of the listed values."""

    generator: Literal["choice"]
    choices: Annotated[list[str | int], Field(min_length=1)]

    def generate(self, rng: random.Random, images: dict[str, str]) -> str | int:
        return rng.choice(self.choices)


class NumberParameter(_Generator):
    """An integer between min and max (inclusive); `port` defaults to the unprivileged range."""

    generator: Literal["number", "port"]
    min: int | None = None
    max: int | None = None

    @model_validator(mode="after")
    def _bounds(self) -> NumberParameter:
        low, high = self.bounds
        if low > high:
            raise ValueError(f"min {low} is greater than max {high}")
        if self.generator == "port" and not (low >= 1 and high <= 65535):
            raise ValueError("a port lies between 1 and 65535")
        return self

    @property
    def bounds(self) -> tuple[int, int]:
        default = (1024, 65535) if self.generator == "port" else (0, 100)
        return (default[0] if self.min is None else self.min, default[1] if self.max is None else self.max)

    def generate(self, rng: random.Random, images: dict[str, str]) -> int:
        return rng.randint(*self.bounds)


class PathParameter(_Generator):
    """A file path below a directory, named after a word: `/opt/course/otter.yaml`."""

    generator: Literal["path"]
    directory: Annotated[str, Field(pattern=r"^/")]
    extension: Annotated[str, Field(pattern=r"^(\.[A-Za-z0-9]+)?$")] = ""

    def generate(self, rng: random.Random, images: dict[str, str]) -> str:
        return f"{self.directory.rstrip('/')}/{rng.choice(WORDS)}{self.extension}"


class ImageParameter(_Generator):
    """A container image; a target may substitute its own copy (the testbed has local builds of the images)."""

    generator: Literal["image"]
    default: Annotated[str, Field(min_length=1)]

    def generate(self, rng: random.Random, images: dict[str, str]) -> str:
        return images.get(self.default, self.default)


class ValueParameter(_Generator):
    """A fixed value (named, so that the task text, playbooks and grader agree on it)."""

    generator: Literal["value"]
    value: str | int | bool

    def generate(self, rng: random.Random, images: dict[str, str]) -> str | int | bool:
        return self.value


Parameter = Annotated[
    WordParameter | ChoiceParameter | NumberParameter | PathParameter | ImageParameter | ValueParameter,
    Field(discriminator="generator"),
]


def generate(parameters: dict[str, Parameter], seed: int, scenario: str, images: dict[str, str] | None = None) -> dict:
    """The values of `parameters` for this seed: the same seed and scenario always give the same values."""
    return {
        name: spec.generate(random.Random(f"{seed}/{scenario}/{name}"), images or {})
        for name, spec in parameters.items()
    }
