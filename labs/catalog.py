"""The scenario catalog: scenarios/NN-slug/scenario.yaml, validated with pydantic, found by number or slug."""

from __future__ import annotations

import ast
import difflib
import os
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from labs.capabilities import CAPABILITIES, unknown
from labs.params import DNS_LABEL, Parameter, generate

REPO_ROOT = Path(__file__).resolve().parent.parent
SCENARIOS_DIR = REPO_ROOT / "scenarios"
SCENARIOS_VARIABLE = "CKS_LAB_SCENARIOS"  # another scenarios directory (tests, authors trying a scenario elsewhere)
GRADERS_DIR = REPO_ROOT / "graders"
PLAYBOOKS = ("setup.yml", "solution.yml", "reset.yml")
DOMAINS = (
    "Cluster Setup",
    "Cluster Hardening",
    "System Hardening",
    "Minimize Microservice Vulnerabilities",
    "Supply Chain Security",
    "Monitoring, Logging and Runtime Security",
)
NODES = r"^(controlplane|node0[1-9])$"
SHARED_COMPONENT = r"^[a-z][a-z0-9-]*(:[a-z][a-z0-9-]*)?$"  # a component, or one part of it: kube-apiserver:audit


class ScenarioSpec(BaseModel):
    """What scenario.yaml holds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    number: Annotated[int, Field(ge=1, le=99)]
    slug: Annotated[str, Field(pattern=DNS_LABEL, max_length=40)]
    title: Annotated[str, Field(min_length=3, max_length=80)]
    domain: Annotated[str, Field(description=f"one of: {', '.join(DOMAINS)}")]
    points: Annotated[int, Field(ge=1)]
    minutes: Annotated[int, Field(ge=1, le=120, description="estimated minutes for a prepared candidate")]
    nodes: Annotated[list[Annotated[str, Field(pattern=NODES)]], Field(min_length=1)]
    parameters: dict[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")], Parameter] = {}
    task: Annotated[str, Field(min_length=20, description="Jinja2 template rendered with the parameters")]
    hints: Annotated[list[Annotated[str, Field(min_length=3)]], Field(min_length=1)]
    solution: Annotated[str, Field(min_length=20)]
    apiserver_may_be_down: Annotated[
        bool,
        Field(description="the task starts (or may end) with kube-apiserver down: start, check, solution and reset "
              "run without first asking the API server to answer"),
    ] = False  # fmt: skip
    apiserver_down_after_setup: Annotated[
        bool,
        Field(description="the setup leaves kube-apiserver down on purpose (the task is to bring it back): an exam "
              "sets it up after every other task, whose setups need the API server; implies apiserver_may_be_down"),
    ] = False  # fmt: skip
    exclusive: Annotated[
        list[Annotated[str, Field(pattern=SHARED_COMPONENT, max_length=40)]],
        Field(description="shared components the task takes over (e.g. falco-rules), or a part of one "
              "(kube-apiserver:audit): an exam never asks two scenarios that name the same one, nor a component and "
              "a part of it (docs/writing-a-scenario.md#shared-components-exclusive)"),
    ] = []  # fmt: skip

    derived: Annotated[
        dict[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")], Annotated[str, Field(min_length=5)]],
        Field(description="values computed from the drawn parameters, in order: each a Jinja2 template rendered with "
              "the parameters (as names, and as `params`) and the derived values before it; a template that is one "
              "expression keeps its type (a dict, a list). Task, playbooks and grader read them like parameters"),
    ] = {}  # fmt: skip
    keeps: Annotated[
        dict[Annotated[str, Field(pattern=NODES)], list[Annotated[str, Field(pattern=r"^/.+")]]],
        Field(description="node files and folders the playbooks may overwrite or remove that hold a student's work "
              "(manifests, rules, policies, answers): copied under the state directory before every setup, solution "
              "and reset (labs/keep.py)"),
    ] = {}  # fmt: skip
    needs: Annotated[
        list[str],
        Field(description="what the setup needs of a target beyond a cluster (labs/capabilities.py, e.g. apparmor): "
              "`lab start` refuses a target without it and an exam never draws the scenario there"),
    ] = []  # fmt: skip

    @model_validator(mode="after")
    def _down_after_setup_is_down(self) -> ScenarioSpec:
        if self.apiserver_down_after_setup and not self.apiserver_may_be_down:
            raise ValueError("apiserver_down_after_setup needs apiserver_may_be_down: true")
        return self

    @model_validator(mode="after")
    def _derived_names_are_new(self) -> ScenarioSpec:
        if clash := sorted(self.derived.keys() & self.parameters.keys()):
            raise ValueError(f"derived {', '.join(clash)}: already a parameter; give the derived value another name")
        return self

    @field_validator("needs")
    @classmethod
    def _known_capabilities(cls, needs: list[str]) -> list[str]:
        if wrong := unknown(needs):
            raise ValueError(f"{', '.join(map(repr, wrong))}: not a capability; use one of: {', '.join(CAPABILITIES)}")
        return needs

    @field_validator("domain")
    @classmethod
    def _known_domain(cls, domain: str) -> str:
        if domain not in DOMAINS:
            raise ValueError(f"{domain!r} is not a CKS domain; use one of: {', '.join(DOMAINS)}")
        return domain


class ScenarioError(Exception):
    """A scenario.yaml that cannot be used; `problems` name the file, the field and what is wrong."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        super().__init__("\n".join(f"{path}: {problem}" for problem in problems))


class UnknownScenario(LookupError):
    """No scenario matches; `suggestions` holds the closest names."""

    def __init__(self, wanted: str, suggestions: list[str]) -> None:
        self.wanted = wanted
        self.suggestions = suggestions
        hint = f"did you mean {' or '.join(suggestions)}?" if suggestions else "`lab list` shows the scenarios"
        super().__init__(f"no scenario {wanted!r}; {hint}")


def scenario_id(number: int, slug: str) -> str:
    """`01-immutable-pod`: a scenario's folder name."""
    return f"{number:02d}-{slug}"


def module_name(scenario: str) -> str:
    """`01_immutable_pod`: a scenario's name in its grader's and its proof's file names."""
    return scenario.replace("-", "_")


@dataclass(frozen=True)
class Scenario:
    """A scenario folder with its validated spec."""

    directory: Path
    spec: ScenarioSpec

    @property
    def id(self) -> str:
        """`01-immutable-pod`."""
        return scenario_id(self.spec.number, self.spec.slug)

    @property
    def grader(self) -> Path:
        """grader.py in the scenario's own folder (a scenario outside the catalog), else graders/test_NN_slug.py
        beside its scenarios folder (a checkout made by `lab new`), else that of this checkout."""
        own = self.directory / "grader.py"
        name = f"test_{module_name(self.id)}.py"
        beside = self.directory.parent.parent / "graders" / name
        return next((path for path in (own, beside) if path.exists()), GRADERS_DIR / name)

    @cached_property
    def criteria(self) -> dict[str, list[str]]:
        """The grader's criteria (test functions marked with points), each with what it needs of a target
        (`@pytest.mark.needs(...)`), read from its source; none when it cannot be read (lab validate says why)."""
        try:
            tree = ast.parse(self.grader.read_text())
        except (OSError, SyntaxError):
            return {}
        found = {}
        for node in tree.body:
            if not isinstance(node, ast.FunctionDef):
                continue
            marks = [decorator for decorator in node.decorator_list if isinstance(decorator, ast.Call)]
            if any(ast.unparse(mark.func).endswith("mark.points") for mark in marks):
                found[node.name] = [
                    argument.value
                    for mark in marks
                    if ast.unparse(mark.func).endswith("mark.needs")
                    for argument in mark.args
                    if isinstance(argument, ast.Constant) and isinstance(argument.value, str)
                ]
        return found

    @property
    def criteria_needs(self) -> list[str]:
        """What some criterion of the grader needs of a target."""
        return sorted({need for needs in self.criteria.values() for need in needs})

    def conflicts_with(self, other: Scenario) -> bool:
        """Both take over one shared component, or one the whole of a component and the other a part of it."""
        return any(_overlap(mine, theirs) for mine in self.spec.exclusive for theirs in other.spec.exclusive)

    def playbook(self, name: str) -> Path:
        """setup.yml, solution.yml or reset.yml of this scenario."""
        return self.directory / name

    def draw(self, seed: int, images: dict[str, str] | None = None) -> dict:
        """An attempt's values: the parameters drawn for `seed` (with the target's image substitutes), then the
        values derived from them (`derived` in scenario.yaml)."""
        from jinja2 import StrictUndefined, TemplateError
        from jinja2.nativetypes import NativeEnvironment

        values = generate(self.spec.parameters, seed, self.id, images)
        environment = NativeEnvironment(undefined=StrictUndefined)
        for name, template in self.spec.derived.items():
            try:
                values[name] = environment.from_string(template).render(**values, params=dict(values))
            except (TemplateError, TypeError, ValueError, LookupError) as error:
                problem = f"derived.{name}: {type(error).__name__}: {error} (seed {seed})"
                raise ScenarioError(self.directory / "scenario.yaml", [problem]) from None
        return values

    def render(self, text: str, params: dict) -> str:
        """A Jinja2 template of this scenario (task, solution) rendered with an attempt's parameters."""
        import jinja2

        environment = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
        return environment.from_string(text).render(**params)


def _overlap(one: str, other: str) -> bool:
    """`kube-apiserver:audit` overlaps itself and `kube-apiserver`, not `kube-apiserver:encryption`."""
    whole = ":" not in one or ":" not in other
    return one == other or (whole and one.partition(":")[0] == other.partition(":")[0])


# libyaml's safe loader when PyYAML was built with it: every command reads the whole catalog, 4x faster this way
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _field(location: tuple) -> str:
    return ".".join(str(part) for part in location if not str(part).endswith("Parameter")) or "(top level)"


class _NotAMapping(ValueError):
    pass


@lru_cache(maxsize=256)
def _spec(text: str) -> ScenarioSpec:
    """A scenario.yaml's text parsed and validated; cached by content (every command reads the whole catalog, and a
    grading worker reads it once for all its `lab check`s)."""
    data = yaml.load(text, Loader=SAFE_LOADER)
    if not isinstance(data, dict):
        raise _NotAMapping
    return ScenarioSpec.model_validate(data)


def load(directory: Path) -> Scenario:
    """Read and validate directory/scenario.yaml; raises ScenarioError naming the field and the problem."""
    path = directory / "scenario.yaml"
    try:
        spec = _spec(path.read_text())
    except OSError as error:
        raise ScenarioError(path, [f"cannot read: {error.strerror}"]) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ScenarioError(path, [f"{where}invalid YAML: {getattr(error, 'problem', None) or error}"]) from None
    except _NotAMapping:
        raise ScenarioError(path, ["expected a mapping of fields (number, slug, title, ...)"]) from None
    except ValidationError as error:
        raise ScenarioError(path, [f"{_field(e['loc'])}: {e['msg']}" for e in error.errors()]) from None
    expected = f"{spec.number:02d}-{spec.slug}"
    if directory.name != expected:
        raise ScenarioError(path, [f"number/slug: the folder must be named {expected!r}, not {directory.name!r}"])
    return Scenario(directory, spec)


class Catalog:
    """Every scenario under a scenarios/ directory, ordered by number."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root or Path(os.environ.get(SCENARIOS_VARIABLE) or SCENARIOS_DIR).resolve()
        self.invalid: list[ScenarioError] = []

    def directories(self) -> list[Path]:
        """The scenario folders (NN-slug)."""
        if not self.root.is_dir():
            return []
        return sorted(p for p in self.root.iterdir() if p.is_dir() and (p / "scenario.yaml").exists())

    @cached_property
    def scenarios(self) -> list[Scenario]:
        """The valid scenarios; invalid ones are kept aside in `invalid` (`lab validate` reports them)."""
        valid = []
        for directory in self.directories():
            try:
                valid.append(load(directory))
            except ScenarioError as error:
                self.invalid.append(error)
        return sorted(valid, key=lambda s: s.spec.number)

    def find(self, wanted: str) -> Scenario:
        """A scenario by number (`1`, `01`), slug (`immutable-pod`) or id (`01-immutable-pod`)."""
        wanted = wanted.strip().lower()
        for scenario in self.scenarios:
            by_number = wanted.isdigit() and int(wanted) == scenario.spec.number
            if by_number or wanted in (scenario.id, scenario.spec.slug):
                return scenario
        for error in self.invalid:
            number, _, slug = error.path.parent.name.partition("-")
            if wanted in (error.path.parent.name, slug) or (
                wanted.isdigit() and number.isdigit() and int(wanted) == int(number)
            ):
                raise error
        names = [s.id for s in self.scenarios] + [s.spec.slug for s in self.scenarios]
        close = difflib.get_close_matches(wanted, names, n=3, cutoff=0.4)
        by_id = {s.spec.slug: s.id for s in self.scenarios}
        suggestions = list(dict.fromkeys(by_id.get(name, name) for name in close))
        if not suggestions and len(wanted) >= 3:  # a word of the title: "nginx", "falco", "audit"
            about = [s.id for s in self.scenarios if wanted in f"{s.spec.slug} {s.spec.title}".lower()]
            suggestions = about[:3]
        raise UnknownScenario(wanted, suggestions)
