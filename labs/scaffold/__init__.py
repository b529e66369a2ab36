"""`lab new NN-slug --domain "..."`: a new scenario's files, ready for `lab validate`, whose proof fails until the
author fills in the task, the grader, the playbooks and the near-misses (each TODO says what goes there)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import jinja2

from labs.catalog import DOMAINS, module_name, scenario_id
from labs.errors import LabError
from labs.params import DNS_LABEL

TEMPLATES = Path(__file__).parent / "templates"
NAME = re.compile(r"^(\d\d)-(.+)$")


@dataclass(frozen=True)
class NewScenario:
    """What `lab new` was asked for: number, slug and CKS domain."""

    number: int
    slug: str
    domain: str

    @property
    def id(self) -> str:
        return scenario_id(self.number, self.slug)

    @property
    def module(self) -> str:
        return module_name(self.id)

    def files(self, root: Path) -> dict[Path, str]:
        """Each file to write under the checkout `root`, from its template."""
        environment = jinja2.Environment(
            loader=jinja2.FileSystemLoader(TEMPLATES),
            variable_start_string="[[",  # the files are Jinja templates themselves
            variable_end_string="]]",
            keep_trailing_newline=True,
            undefined=jinja2.StrictUndefined,
        )
        where = {
            "scenario.yaml.j2": root / "scenarios" / self.id / "scenario.yaml",
            "setup.yml.j2": root / "scenarios" / self.id / "setup.yml",
            "solution.yml.j2": root / "scenarios" / self.id / "solution.yml",
            "reset.yml.j2": root / "scenarios" / self.id / "reset.yml",
            "mutants.yaml.j2": root / "scenarios" / self.id / "mutants.yaml",
            "grader.py.j2": root / "graders" / f"test_{self.module}.py",
            "proof.py.j2": root / "tests" / f"test_scenario_{self.module}.py",
        }
        return {path: environment.get_template(name).render(new=self) for name, path in where.items()}


def parse(name: str, domain: str) -> NewScenario:
    """`99-example` and a CKS domain, checked; LabError saying what is wrong."""
    found = NAME.match(name)
    if not found or not re.match(DNS_LABEL, found.group(2)) or int(found.group(1)) == 0:
        raise LabError(f"{name!r}: expected NN-slug, e.g. 42-seccomp-profile (NN 01-99, the slug a DNS label)")
    if domain not in DOMAINS:
        raise LabError(f"{domain!r} is not a CKS domain; use one of: {', '.join(DOMAINS)}")
    return NewScenario(int(found.group(1)), found.group(2), domain)


def write(new: NewScenario, root: Path, taken: set[int]) -> list[Path]:
    """Write the new scenario's files under `root`; refused when the number is taken or a file exists already."""
    if new.number in taken:
        raise LabError(f"scenario number {new.number:02d} is taken; `lab list` shows the numbers in use")
    files = new.files(root)
    if existing := [path for path in files if path.exists()]:
        raise LabError(f"{existing[0]} exists already: nothing was written")
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return list(files)
