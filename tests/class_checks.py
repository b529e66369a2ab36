"""Checks of the reports shared by the class and engine tests: the JUnit XML against the Jenkins xunit plugin's
junit-10.xsd (tests/data, as pytest's repository has it), and the HTML page as a real headless Chromium renders it
(its DOM after the page's own scripts ran)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest

JUNIT_XSD = Path(__file__).resolve().parent / "data" / "junit-10.xsd"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def validate_junit(path: Path) -> None:
    """Raise xmlschema's error when the file does not follow the JUnit schema (junit-10.xsd)."""
    import xmlschema

    xmlschema.XMLSchema(JUNIT_XSD).validate(str(path))


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.skip("chromium is not installed (apt-get install chromium; listed in .ci/debian-packages.txt)")
    return found


@dataclass
class RenderedTable(HTMLParser):
    """What the rendered DOM says about the grades table: its sort state, the students in row order, the texts of
    its cells per student, and every criterion message on the page."""

    sorted_by: str | None = None
    headings_sort: dict[str, str] = field(default_factory=dict)
    students: list[str] = field(default_factory=list)
    cells: dict[str, list[str]] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__()
        self._row: str | None = None
        self._in: str | None = None
        self._heading: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "table" and values.get("id") == "grades":
            self.sorted_by = values.get("data-sorted-by")
        elif tag == "th" and "data-key" in values:
            self.headings_sort[values["data-key"] or ""] = values.get("aria-sort") or ""
        elif tag == "tr" and values.get("data-student"):
            self._row = values["data-student"]
            self.students.append(self._row)
            self.cells[self._row] = []
        elif tag == "td" and self._row is not None:
            self.cells[self._row].append("")
            self._in = "cell"
        elif tag == "td" and "message" in (values.get("class") or ""):
            self.messages.append("")
            self._in = "message"

    def handle_endtag(self, tag: str) -> None:
        if tag == "tr":
            self._row = None
        if tag == "td":
            self._in = None

    def handle_data(self, data: str) -> None:
        if self._in == "cell" and self._row is not None:
            self.cells[self._row][-1] += data.strip()
        elif self._in == "message":
            self.messages[-1] += data


def dump_dom(page: Path, fragment: str = "") -> str:
    """The DOM of `page#fragment` once headless Chromium has loaded it and run its scripts."""
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        result = subprocess.run(
            [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom", f"{page.as_uri()}{fragment}"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert result.returncode == 0 and 'id="grades"' in result.stdout, result.stderr[-2000:]
    return result.stdout


def render(page: Path, fragment: str = "") -> RenderedTable:
    """Load `page#fragment` in headless Chromium and read the grades table out of the DOM it dumps."""
    table = RenderedTable()
    table.feed(dump_dom(page, fragment))
    return table
