"""Loading a playbook: plays, each with its inventory, the sites it selects and how it rolls out.

Site patterns work as an Ansible user expects: a name, a glob (``acme-*``), a group
(``group:retail``), and a leading ``!`` to exclude; a pattern matching nothing is an error, because
a typo must not silently skip a customer.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

from enforcer.config import _yaml, schema
from enforcer.config._confine import clip
from enforcer.config.diagnostics import Diagnostics, Location
from enforcer.config.inventory import load_inventory
from enforcer.config.patterns import select
from enforcer.credentials.secret import Secret
from enforcer.model import SETTLE, Aspect, Inventory, Play, Playbook

ALL_ASPECTS: tuple[Aspect, ...] = ("credentials", "lock_policy", "firmware")


def load_playbook(
    path: Path,
    diagnostics: Diagnostics,
    *,
    limit: Sequence[str] = (),
    vault_password: Secret | None = None,
    environ: dict[str, str] | None = None,
) -> Playbook | None:
    """Load ``path`` and every inventory it names; ``limit`` narrows the sites further (``--limit``)."""
    doc = _yaml.load(path, diagnostics)
    if doc is None:
        return None
    if doc.data is None:
        diagnostics.error(Location(path, 1, ()), "playbook is empty", "see playbooks/site.yml for an example")
        return None
    if not schema.validate(doc, "playbook", diagnostics):
        return None
    raw_plays: list[dict[str, Any]] = doc.data if isinstance(doc.data, list) else [doc.data]
    inventories: dict[Path, Inventory | None] = {}
    plays = []
    for index, raw in enumerate(raw_plays):
        at = (index,) if isinstance(doc.data, list) else ()
        inventory_path = _inventory_path(path, raw["inventory"])
        if inventory_path is None:
            diagnostics.error(doc.where((*at, "inventory")), f"{clip(raw['inventory'])!r} is not a usable path")
            continue
        if inventory_path not in inventories:
            if not inventory_path.exists():
                diagnostics.error(doc.where((*at, "inventory")), f"inventory {clip(raw['inventory'])} not found")
                inventories[inventory_path] = None
            else:
                inventories[inventory_path] = load_inventory(
                    _relative(inventory_path), diagnostics, vault_password=vault_password, environ=environ
                )
        inventory = inventories[inventory_path]
        if inventory is None:
            continue
        patterns = raw.get("sites", ["*"])
        selected = select_sites(inventory, patterns, diagnostics, lambda i, at=at: doc.where((*at, "sites", i)))
        if limit:
            limited = select_sites(inventory, limit, diagnostics, lambda i: Location(Path("--limit"), 1, (i,)))
            selected = tuple(s for s in selected if s in limited)
        serial = raw.get("serial", "100%")
        plays.append(
            Play(
                name=raw["name"],
                inventory=inventory,
                sites=selected,
                enforce=frozenset(cast(list[Aspect], raw.get("enforce", list(ALL_ASPECTS)))),
                serial=tuple(serial) if isinstance(serial, list) else (serial,),
                max_fail_percentage=float(raw.get("max_fail_percentage", 0)),
                concurrency=int(raw.get("concurrency", 20)),
                settle=float(raw.get("settle", SETTLE)),
            )
        )
    return Playbook(path, tuple(plays))


def select_sites(
    inventory: Inventory, patterns: Sequence[str], diagnostics: Diagnostics, where: Any
) -> tuple[str, ...]:
    """Names of the sites ``patterns`` select (Ansible's syntax, :mod:`.patterns`), in inventory order; a
    term that names nothing is an error, and so is a selection left empty."""
    failures = diagnostics.error_count
    chosen = select(inventory, patterns, report=lambda i, message, hint: diagnostics.error(where(i), message, hint))
    if not chosen and diagnostics.error_count == failures and inventory.sites:
        diagnostics.error(where(0), f"{', '.join(patterns)} selects no site", "check the & and ! terms")
    return chosen


def _inventory_path(playbook: Path, name: str) -> Path | None:
    """The inventory a play names, relative to the playbook; None for a name no file system takes
    (a NUL character, a name too long, a symlink loop)."""
    try:
        resolved = (playbook.parent / name).resolve()
        resolved.exists()
    except (OSError, ValueError, RuntimeError):
        return None
    return resolved


def _relative(path: Path) -> Path:
    """Show paths relative to the working folder where possible, as people typed them."""
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path
