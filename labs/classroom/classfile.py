"""The class file (class.yml): the students, their clusters and where each attempt's seed comes from.

name: CKS spring cohort
inventory: class.ini                 # the Ansible inventory that built the clusters (paths relative to this file)
scenarios: [1, 9]                    # graded unless `lab grade --scenario` says otherwise
state_file: {node: controlplane, path: ~/.local/state/cks-lab/state.json}
students:
  - name: alice
    kubeconfig: configs/alice/admin.conf
    group: alice                     # the inventory group (or host) with alice's nodes
    seeds: {1: 4242, 9: 17}          # assigned by the instructor: nothing is read from alice's VM
  - name: bob
    kubeconfig: configs/bob/admin.conf
    group: bob                       # no seeds: read from bob's lab state on his controlplane (read-only)
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from labs.errors import LabError

STUDENT_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
DEFAULT_STATE_PATH = "~/.local/state/cks-lab/state.json"  # where `lab` keeps a student's attempts on the VM


class ClassFileError(LabError):
    """A class file that cannot be used; the message names the file, the field and the problem."""


class StateFile(BaseModel):
    """Where a student's `lab` state lives on their cluster; it is read (never written) to learn the seeds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    node: Annotated[str, Field(description="the node (lab node name, e.g. controlplane)")] = "controlplane"
    path: Annotated[str, Field(description="absolute, or ~/... for the SSH user's home")] = DEFAULT_STATE_PATH

    @field_validator("path")
    @classmethod
    def _absolute_or_home(cls, path: str) -> str:
        if not (path.startswith("/") or path.startswith("~/")):
            raise ValueError(f"{path!r}: give an absolute path or one starting with ~/")
        return path


class Student(BaseModel):
    """One student: their cluster (kubeconfig and inventory group) and their attempts' seeds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, Field(pattern=STUDENT_NAME, max_length=64)]
    kubeconfig: Annotated[Path, Field(description="the student's cluster (relative to the class file)")]
    inventory: Annotated[Path | None, Field(description="default: the class's inventory")] = None
    group: Annotated[
        str | None, Field(description="inventory group or host with the student's nodes; default: name")
    ] = None
    seeds: Annotated[dict[str, int], Field(description="scenario (number, slug or id) -> seed, assigned")] = {}
    state_file: Annotated[StateFile | None, Field(description="default: the class's state_file")] = None
    images: Annotated[dict[str, str], Field(description="image substitutions of this cluster")] = {}

    @field_validator("seeds", mode="before")
    @classmethod
    def _keys_as_text(cls, seeds: object) -> object:
        return {str(key): value for key, value in seeds.items()} if isinstance(seeds, dict) else seeds

    @property
    def inventory_group(self) -> str:
        return self.group or self.name


class ClassFile(BaseModel):
    """The whole class.yml."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, Field(min_length=1, max_length=120)] = "class"
    inventory: Annotated[Path | None, Field(description="the Ansible inventory of every student's nodes")] = None
    scenarios: Annotated[list[str], Field(description="scenarios graded by default (number, slug or id)")] = []
    state_file: StateFile | None = None
    images: Annotated[dict[str, str], Field(description="image substitutions for every cluster")] = {}
    students: Annotated[list[Student], Field(min_length=1)]

    @field_validator("scenarios", mode="before")
    @classmethod
    def _scenarios_as_text(cls, scenarios: object) -> object:
        return [str(item) for item in scenarios] if isinstance(scenarios, list) else scenarios

    @model_validator(mode="after")
    def _unique_names(self) -> ClassFile:
        names = [student.name for student in self.students]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(f"student names must be unique: {', '.join(twice)} appear more than once")
        return self

    def inventory_of(self, student: Student) -> Path | None:
        return student.inventory or self.inventory

    def state_file_of(self, student: Student) -> StateFile | None:
        return student.state_file or self.state_file

    def images_of(self, student: Student) -> dict[str, str]:
        return {**self.images, **student.images}


def _where(location: tuple, data: dict) -> str:
    parts = []
    for part in location:
        if isinstance(part, int) and parts == ["students"]:
            students = data.get("students") or []
            name = students[part].get("name") if part < len(students) and isinstance(students[part], dict) else None
            parts.append(f"[{name or part}]")
        else:
            parts.append(str(part) if not parts else f".{part}")
    return "".join(parts).replace(".[", "[") or "(top level)"


def load(path: Path) -> ClassFile:
    """Read and validate a class file; paths in it become absolute (relative to the file); ClassFileError says
    which field is wrong and why."""
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as error:
        raise ClassFileError(f"{path}: cannot read: {error.strerror}") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ClassFileError(f"{path}: {where}invalid YAML: {getattr(error, 'problem', None) or error}") from None
    if not isinstance(data, dict):
        raise ClassFileError(f"{path}: expected a mapping with students: [...] (docs/instructors.md)")
    try:
        parsed = ClassFile.model_validate(data)
    except ValidationError as error:
        problems = [f"{path}: {_where(e['loc'], data)}: {e['msg']}" for e in error.errors()]
        raise ClassFileError("\n".join(problems)) from None
    return _absolute(parsed, path.resolve().parent)


def _absolute(parsed: ClassFile, base: Path) -> ClassFile:
    def resolve(value: Path | None) -> Path | None:
        return None if value is None else (base / value.expanduser()).resolve()

    students = [
        student.model_copy(update={"kubeconfig": resolve(student.kubeconfig), "inventory": resolve(student.inventory)})
        for student in parsed.students
    ]
    return parsed.model_copy(update={"inventory": resolve(parsed.inventory), "students": students})
