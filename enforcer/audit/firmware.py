"""Firmware known to lock accounts with no way to switch the lock off, from the protocol notes.

Why it matters: the usual field remedy for a client that keeps locking a device (untick "Illegal Login
Lock" until the client is fixed) does not exist there, so every stale credential path is an outage
waiting to happen, and the lock policy cannot be declared off. The device's own word wins where facts
carry it (``LockPolicyFact.can_disable is False``); this table covers firmware that does not say.

Each row names its source; add a row with one, never from memory.

    >>> always_locks("hikvision", "DS-2CD2042WD-I", "V5.3.9") is not None
    True
    >>> always_locks("hikvision", "DS-2CD2146G2-ISU", "V5.7.17") is None
    True
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LockingFirmware:
    """Devices of ``vendors`` whose model starts with ``model`` running a version starting with one of
    ``versions``: ``fact`` is what is known of them, ``source`` where it is written."""

    vendors: frozenset[str]
    model: str
    versions: tuple[str, ...]
    fact: str
    source: str


HIKVISION = frozenset({"hikvision", "annke"})

TABLE: tuple[LockingFirmware, ...] = (
    LockingFirmware(
        HIKVISION,
        "DS-2CD",
        ("V5.3.8", "V5.3.9"),
        "on the DE R0 camera platform, firmware 5.3.8 and 5.3.9 cannot switch the illegal-login lock off "
        "(other platforms of 5.3.8 can; the platform is not reported over ISAPI, so check the device's "
        "Security page), and Hikvision firmware from 5.3.0 counts the opening logon attempt of Milestone's "
        "drivers as illegal",
        "Milestone KB on Hikvision lock-outs (protocols/clients.md §1.5)",
    ),
)


def always_locks(vendor: str, model: str, version: str) -> LockingFirmware | None:
    """The table's row for this device, if any."""
    v = version if version.startswith("V") else f"V{version}"
    for row in TABLE:
        if vendor in row.vendors and model.startswith(row.model) and v.startswith(row.versions):
            return row
    return None
