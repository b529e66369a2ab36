"""Load errors and warnings worded like Falco's, each naming the file and the item it is about."""

from __future__ import annotations

from dataclasses import dataclass, field

ERROR_TITLES = {
    "LOAD_ERR_FILE_READ": "File read error",
    "LOAD_ERR_YAML_PARSE": "YAML parse error",
    "LOAD_ERR_YAML_VALIDATE": "Error validating internal structure of YAML file",
    "LOAD_ERR_COMPILE_CONDITION": "Error compiling condition",
    "LOAD_ERR_COMPILE_OUTPUT": "Error compiling output",
    "LOAD_ERR_VALIDATE": "Error validating rule/macro/list/exception objects",
}
WARNING_TITLES = {
    "LOAD_UNKNOWN_SOURCE": "Unknown event source",
    "LOAD_UNSAFE_NA_CHECK": "Unsafe <NA> comparison in condition",
    "LOAD_NO_EVTTYPE": "Condition has no event-type restriction",
    "LOAD_UNKNOWN_FILTER": "Unknown field or event-type in condition or output",
    "LOAD_UNUSED_MACRO": "Unused macro",
    "LOAD_UNUSED_LIST": "Unused list",
    "LOAD_UNKNOWN_ITEM": "Unknown rules file item",
    "LOAD_DEPRECATED_ITEM": "Used deprecated item",
    "LOAD_APPEND_NO_VALUES": "Overriding/appending with no values",
    "LOAD_EXCEPTION_NAME_NOT_UNIQUE": "Multiple exceptions defined with the same name",
    "LOAD_INVALID_MACRO_NAME": "Invalid macro name",
    "LOAD_INVALID_LIST_NAME": "Invalid list name",
    "LOAD_COMPILE_CONDITION": "Warning in rule condition",
}


@dataclass(frozen=True, slots=True)
class Location:
    """One step of Falco's context chain, e.g. `rule 'Shell' (rules.yaml:12:3)`; line and column are 1-based."""

    item_type: str
    item_name: str
    file: str
    line: int
    column: int

    def as_text(self) -> str:
        named = f"{self.item_type} '{self.item_name}'" if self.item_name else self.item_type
        return f"{named}: ({self.file}:{self.line}:{self.column})"


@dataclass(frozen=True, slots=True)
class Context:
    """Where something is: the chain of enclosing items, outermost first."""

    locations: tuple[Location, ...] = ()

    def child(self, item_type: str, item_name: str, line: int, column: int, file: str | None = None) -> Context:
        parent_file = self.locations[0].file if self.locations else ""
        return Context((*self.locations, Location(item_type, item_name, file or parent_file, line, column)))

    @property
    def file(self) -> str:
        return self.locations[0].file if self.locations else ""

    @property
    def item(self) -> str:
        """The innermost named item, e.g. `rule 'Shell in container'`."""
        for loc in reversed(self.locations):
            if loc.item_name and loc.item_type in ("rule", "macro", "list", "exception"):
                return f"{loc.item_type} '{loc.item_name}'"
        for loc in reversed(self.locations):
            if loc.item_name:
                return f"{loc.item_type} '{loc.item_name}'"
        return self.locations[-1].item_type if self.locations else ""

    @property
    def line(self) -> int:
        return self.locations[-1].line if self.locations else 0


def file_context(path: str) -> Context:
    return Context((Location("rules content", "", path, 1, 1),))


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One error or warning: Falco's code, its message, and where."""

    code: str
    message: str
    context: Context = field(default_factory=Context)

    @property
    def is_error(self) -> bool:
        return self.code.startswith("LOAD_ERR")

    @property
    def title(self) -> str:
        return ERROR_TITLES.get(self.code) or WARNING_TITLES.get(self.code, "")

    @property
    def file(self) -> str:
        return self.context.file

    @property
    def item(self) -> str:
        return self.context.item

    def as_text(self) -> str:
        """Falco's verbose form: the context chain, then `CODE (Title): message`."""
        lines = []
        for i, loc in enumerate(self.context.locations):
            lines.append(("In " if i == 0 else "    ") + loc.as_text())
        lines.append(f"{self.code} ({self.title}): {self.message}")
        return "\n".join(lines)

    def summary(self) -> str:
        """One line: `file:line: item: message`."""
        where = f"{self.file}:{self.context.line}" if self.file else ""
        item = f" {self.item}:" if self.item else ""
        return f"{where}:{item} {self.message}" if where else f"{item} {self.message}".strip()

    def as_dict(self) -> dict[str, object]:
        return {
            "code": self.code,
            "title": self.title,
            "message": self.message,
            "file": self.file,
            "item": self.item,
            "line": self.context.line,
            "locations": [
                {
                    "item_type": loc.item_type,
                    "item_name": loc.item_name,
                    "file": loc.file,
                    "line": loc.line,
                    "column": loc.column,
                }
                for loc in self.context.locations
            ],
        }


class RuleLoadError(Exception):
    """Raised inside the loader at the first error of a file, as Falco stops there."""

    def __init__(self, code: str, message: str, context: Context) -> None:
        super().__init__(message)
        self.diagnostic = Diagnostic(code, message, context)
