"""Which vendors enforcer can drive, and with which driver: read from the ``enforcer.vendors`` entry points.

A vendor is registered by naming its driver class, in this package's ``pyproject.toml`` or in any
installed package's::

    [project.entry-points."enforcer.vendors"]
    hikvision = "enforcer.drivers.isapi:IsapiDriver"
    annke = "enforcer.drivers.isapi:IsapiDriver"      # an OEM speaks its maker's protocol

The vendor list (what an inventory may name) costs no import; a driver is imported when first used.

    >>> "dahua" in vendors() and protocol_of("annke")
    'isapi'
"""

from __future__ import annotations

from functools import cache
from importlib import metadata

from enforcer.drivers.base import DriverFactory

GROUP = "enforcer.vendors"


@cache
def _entry_points() -> dict[str, metadata.EntryPoint]:
    return {e.name: e for e in metadata.entry_points(group=GROUP)}


def vendors() -> tuple[str, ...]:
    """Every registered vendor name, sorted (no driver is imported)."""
    return tuple(sorted(_entry_points()))


@cache
def driver_for(vendor: str) -> DriverFactory:
    """The driver class registered for ``vendor``; LookupError naming the registered ones if none is."""
    entry = _entry_points().get(vendor)
    if entry is None:
        raise LookupError(f"no driver registered for vendor {vendor!r} (registered: {', '.join(vendors()) or 'none'})")
    factory: DriverFactory = entry.load()
    return factory


def protocol_of(vendor: str) -> str:
    """The wire protocol ``vendor``'s devices speak, as its driver names it."""
    return driver_for(vendor).protocol
