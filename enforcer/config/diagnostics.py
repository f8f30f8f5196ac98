"""Problems found in inventories and playbooks, collected rather than raised one at a time.

A user fixing a pull request wants every problem in one run, each naming file, line and key.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Location:
    """Where in which file: a line and the key path leading to the value."""

    file: Path
    line: int
    keypath: tuple[str | int, ...] = ()

    @property
    def key(self) -> str:
        """The key path in dotted form: ``sites.acme-hq.cameras.lobby.recorder``, ``holds[0]``."""
        out = ""
        for part in self.keypath:
            out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
        return out

    def __str__(self) -> str:
        where = f"{_display(self.file)}:{self.line}"
        return f"{where}: {self.key}" if self.keypath else where


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


@dataclass(frozen=True)
class Diagnostic:
    """One problem: severity, where, what, and optionally how to fix it."""

    severity: Severity
    location: Location
    summary: str
    hint: str = ""

    def __str__(self) -> str:
        text = f"{self.location}: {self.summary}"
        return f"{text} ({self.hint})" if self.hint else text


@dataclass
class Diagnostics:
    """A collector of every problem found, so that one run reports them all."""

    items: list[Diagnostic] = field(default_factory=list)
    _seen: set[Diagnostic] = field(default_factory=set, init=False, repr=False)
    error_count: int = field(default=0, init=False)

    def error(self, location: Location, summary: str, hint: str = "") -> None:
        self._add(Diagnostic("error", location, _clip(summary), _clip(hint)))

    def warning(self, location: Location, summary: str, hint: str = "") -> None:
        self._add(Diagnostic("warning", location, _clip(summary), _clip(hint)))

    def _add(self, diagnostic: Diagnostic) -> None:
        # An inherited value is checked once per device that inherits it: report it once. A set, as a
        # hostile file can hold a hundred thousand problems.
        if diagnostic not in self._seen:
            self._seen.add(diagnostic)
            self.items.append(diagnostic)
            self.error_count += diagnostic.severity == "error"

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity == "error"]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity == "warning"]

    def __iter__(self) -> Iterator[Diagnostic]:
        """In file and line order, as a person reads them."""
        return iter(sorted(self.items, key=_order))


def _clip(text: str, limit: int = 400) -> str:
    """A message quoting a huge value from a hostile file stays one readable line."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _order(d: Diagnostic) -> tuple[str, int]:
    return (str(d.location.file), d.location.line)
