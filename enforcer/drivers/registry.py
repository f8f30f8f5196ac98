"""Which vendors and client kinds enforcer can drive, and with which driver: read from entry points.

A vendor is registered by naming its driver class, in this package's ``pyproject.toml`` or in any
installed package's::

    [project.entry-points."enforcer.vendors"]
    hikvision = "enforcer.drivers.isapi:IsapiDriver"
    annke = "enforcer.drivers.isapi:IsapiDriver"      # an OEM speaks its maker's protocol

Client kinds register the same way under ``enforcer.clients`` (``manual = "enforcer.drivers.manual:ManualClient"``).
The vendor list (what an inventory may name) costs no import; a driver is imported when first used.

    >>> "dahua" in vendors() and protocol_of("annke")
    'isapi'
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import cache
from importlib import metadata

from enforcer.drivers.base import DriverFactory
from enforcer.drivers.client import ClientFactory

GROUP = "enforcer.vendors"
CLIENTS = "enforcer.clients"


@cache
def _entry_points(group: str = GROUP) -> dict[str, metadata.EntryPoint]:
    return {e.name: e for e in metadata.entry_points(group=group)}


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


@cache
def client_for(kind: str) -> ClientFactory:
    """The driver class registered for client ``kind``; LookupError naming the registered ones if none is."""
    entry = _entry_points(CLIENTS).get(kind)
    if entry is None:
        known = ", ".join(sorted(_entry_points(CLIENTS))) or "none"
        raise LookupError(f"no driver registered for client kind {kind!r} (registered: {known})")
    factory: ClientFactory = entry.load()
    return factory


def client_kinds() -> Mapping[str, bool]:
    """Every registered client kind, and whether its driver can update it (else: kept out, on the checklist)."""
    return _ClientKinds()


class _ClientKinds(Mapping[str, bool]):
    """The registered client kinds; a kind's driver is imported when the kind is looked up, not before: the
    ssh driver imports paramiko, 60 ms that a run whose sites have no ssh client never needs."""

    def __getitem__(self, kind: str) -> bool:
        if kind not in _entry_points(CLIENTS):
            raise KeyError(kind)
        return client_for(kind).updatable

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(_entry_points(CLIENTS)))

    def __len__(self) -> int:
        return len(_entry_points(CLIENTS))
