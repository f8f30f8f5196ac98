"""The architecture as rules on imports: which package may use which (README, Architecture).

Read from the source with ``ast``, so a rule breaks the test the moment an import crosses a seam.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "enforcer"

#: package → module prefixes it must never import (directly, at any depth of the package).
FORBIDDEN: dict[str, tuple[str, ...]] = {
    # an independent implementation of each protocol: one misunderstanding cannot pass both sides
    "lab": (
        "enforcer.drivers",
        "enforcer.engine",
        "enforcer.plan",
        "enforcer.cli",
        "enforcer.report",
        "enforcer.credentials.keyring",
    ),
    # pure planning: no I/O, no drivers, nothing that applies
    "plan": ("enforcer.drivers", "enforcer.engine", "enforcer.cli", "enforcer.report", "requests", "socket", "sqlite3"),
    # the owner of secrets knows no protocol and no engine
    "credentials": ("enforcer.drivers", "enforcer.engine", "enforcer.plan", "enforcer.cli", "enforcer.report"),
    # drivers talk to devices; they never plan or apply (nor load: but see the test below)
    "drivers": ("enforcer.engine", "enforcer.plan", "enforcer.cli", "enforcer.report"),
    # loading knows drivers only through the registry (the vendor list and password rules)
    "config": ("enforcer.engine", "enforcer.plan", "enforcer.cli", "enforcer.report", "enforcer.lab"),
    # the library never imports the command line, nor rich
    "engine": ("enforcer.cli", "enforcer.report", "rich"),
}


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_no_import_crosses_a_seam(package: str) -> None:
    crossings = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for name in sorted(_imports(path)):
            if any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN[package]):
                crossings.append(f"{path.relative_to(ROOT.parent)} imports {name}")
    assert crossings == []


def test_config_reaches_drivers_only_through_the_registry() -> None:
    used = {n for p in (ROOT / "config").rglob("*.py") for n in _imports(p) if n.startswith("enforcer.drivers")}
    assert used <= {
        "enforcer.drivers.registry",
        "enforcer.drivers.registry.vendors",
        "enforcer.drivers.registry.driver_for",
        "enforcer.drivers.registry.client_for",
    }


def test_drivers_reach_config_only_through_the_client_file_renderer() -> None:
    """One renderer for a client's files: validation renders them masked, the driver for the host."""
    used = {n for p in (ROOT / "drivers").rglob("*.py") for n in _imports(p) if n.startswith("enforcer.config")}
    assert used <= {"enforcer.config.clientfiles", "enforcer.config.clientfiles.render_client_file"}
