"""The credential store's document: what the vault file holds, read and written. Pure.

    version: 1
    devices:
      "site/device": {admin: {current: "…", pending: null, previous: "…"}}
    isolations:                     # only while a device or client is isolated
      "site/device": {original: {enabled: false, mode: deny, addresses: []}, keep_blocked: [10.0.0.55]}
    owed:                           # only while a client is owed an update
      "site/client": [{device: cam-01, user: admin}]

Reading checks the shape, and its error messages name keys, never values (a value may be a password).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

from enforcer.credentials.secret import Secret
from enforcer.errors import CredentialStoreError
from enforcer.facts import IPFilterFact

FORMAT_VERSION: Final = 1
Slot = Literal["current", "pending", "previous"]
SLOTS: Final[tuple[Slot, ...]] = ("current", "pending", "previous")
#: A credential path a client holds: (device name within its site, user).
Path_ = tuple[str, str]


@dataclass(frozen=True)
class Isolation:
    """What isolating a device replaced: its IP filter before (``None``: it had none to read), and the
    sources still to keep out once it is restored (clients that keep a password the device lost); or, for
    a client taken off its devices, what its driver must restore (``client``, the driver's own data)."""

    original: IPFilterFact | None
    keep_blocked: tuple[str, ...] = ()
    client: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Entry:
    """One account's passwords; ``None`` where unknown. Prints masked."""

    current: Secret | None = None
    pending: Secret | None = None
    previous: Secret | None = None


@dataclass
class Contents:
    """Everything the document holds."""

    entries: dict[tuple[str, str], Entry] = field(default_factory=dict)
    isolations: dict[str, Isolation] = field(default_factory=dict)
    owed: dict[str, frozenset[Path_]] = field(default_factory=dict)  # client id -> the paths it must be given


def dump(contents: Contents) -> dict[str, Any]:
    """The document for ``contents``, ready for YAML; empty sections left out."""
    devices: dict[str, dict[str, dict[str, str | None]]] = {}
    for (device_id, account), entry in sorted(contents.entries.items()):
        devices.setdefault(device_id, {})[account] = {
            slot: (value.reveal() if (value := getattr(entry, slot)) is not None else None) for slot in SLOTS
        }
    document: dict[str, Any] = {"version": FORMAT_VERSION, "devices": devices}
    if contents.isolations:
        document["isolations"] = {d: _isolation_data(i) for d, i in sorted(contents.isolations.items())}
    if contents.owed:
        document["owed"] = {
            c: [{"device": device, "user": user} for device, user in sorted(paths)]
            for c, paths in sorted(contents.owed.items())
        }
    return document


def parse(data: Any, path: Path) -> Contents:
    """Check the decrypted document's shape; error messages name keys, never values."""

    def fail(where: str, problem: str) -> CredentialStoreError:
        return CredentialStoreError(f"credential store {path}: {where}: {problem}")

    if not isinstance(data, dict) or set(data) - {"version", "devices", "isolations", "owed"}:
        raise fail("top level", "expected a mapping with keys version, devices, isolations and owed")
    if data.get("version") != FORMAT_VERSION:
        raise fail("version", f"unsupported format version (this enforcer reads {FORMAT_VERSION})")
    devices = data.get("devices") or {}
    if not isinstance(devices, dict):
        raise fail("devices", "expected a mapping of site/device to accounts")
    entries: dict[tuple[str, str], Entry] = {}
    for device_id, accounts in devices.items():
        if not isinstance(device_id, str) or not isinstance(accounts, dict):
            raise fail(f"devices.{device_id}", "expected a mapping of account names to passwords")
        for account, slots in accounts.items():
            where = f"devices.{device_id}.{account}"
            if not isinstance(account, str) or not isinstance(slots, dict):
                raise fail(where, "expected a mapping with current, pending and previous")
            unknown = sorted(str(k) for k in slots if k not in SLOTS)
            if unknown:
                raise fail(where, f"unknown keys {', '.join(unknown)} (allowed: {', '.join(SLOTS)})")
            values: dict[str, Secret | None] = {}
            for slot in SLOTS:
                value = slots.get(slot)
                if value is not None and not isinstance(value, str):
                    raise fail(f"{where}.{slot}", "must be a quoted string or null")
                values[slot] = None if value is None else Secret(value, f"{path.name}#{device_id}/{account}/{slot}")
            entries[(device_id, account)] = Entry(**values)
    isolations = _parse_isolations(data.get("isolations") or {}, fail)
    return Contents(entries, isolations, _parse_owed(data.get("owed") or {}, fail))


def _isolation_data(isolation: Isolation) -> dict[str, Any]:
    original = isolation.original
    data: dict[str, Any] = {
        "original": None
        if original is None
        else {"enabled": original.enabled, "mode": original.mode, "addresses": list(original.addresses)},
        "keep_blocked": list(isolation.keep_blocked),
    }
    if isolation.client is not None:
        data["client"] = dict(isolation.client)
    return data


def _parse_isolations(raw: Any, fail: Callable[[str, str], CredentialStoreError]) -> dict[str, Isolation]:
    if not isinstance(raw, dict):
        raise fail("isolations", "expected a mapping of site/device to what isolating it replaced")
    out: dict[str, Isolation] = {}
    for device_id, item in raw.items():
        where = f"isolations.{device_id}"
        if not isinstance(item, dict) or set(item) - {"original", "keep_blocked", "client"}:
            raise fail(where, "expected a mapping with original, keep_blocked and client")
        keep = item.get("keep_blocked") or []
        original, client = item.get("original"), item.get("client")
        if not isinstance(keep, list) or not all(isinstance(a, str) for a in keep):
            raise fail(f"{where}.keep_blocked", "expected a list of addresses")
        if client is not None and not isinstance(client, dict):
            raise fail(f"{where}.client", "expected a mapping")
        if original is None:
            out[str(device_id)] = Isolation(None, tuple(keep), client)
            continue
        ok = isinstance(original, dict) and isinstance(original.get("enabled"), bool)
        ok = ok and original.get("mode") in ("allow", "deny") and isinstance(original.get("addresses"), list)
        if not ok:
            raise fail(f"{where}.original", "expected enabled, mode (allow or deny) and addresses")
        fact = IPFilterFact(original["enabled"], original["mode"], tuple(str(a) for a in original["addresses"]))
        out[str(device_id)] = Isolation(fact, tuple(keep))
    return out


def _parse_owed(raw: Any, fail: Callable[[str, str], CredentialStoreError]) -> dict[str, frozenset[Path_]]:
    if not isinstance(raw, dict):
        raise fail("owed", "expected a mapping of site/client to the credential paths it must be given")
    out: dict[str, frozenset[Path_]] = {}
    for client_id, paths in raw.items():
        ok = isinstance(paths, list) and all(
            isinstance(p, dict) and set(p) == {"device", "user"} and all(isinstance(v, str) for v in p.values())
            for p in paths
        )
        if not ok:
            raise fail(f"owed.{client_id}", "expected a list of {device, user}")
        out[str(client_id)] = frozenset((p["device"], p["user"]) for p in paths)
    return out
