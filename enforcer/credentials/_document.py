"""The credential store's document: what it holds, how it is checked, and how two runs' saves merge.

Every backend keeps the same document (docs/credential-store.md describes it for people)::

    version: 1
    devices:
      "site/device": {admin: {current: "…", pending: null, previous: "…"}}
    isolations:                     # only while a device or client is isolated
      "site/device": {original: {enabled: false, mode: deny, addresses: []}, keep_blocked: [10.0.0.55]}
    owed:                           # only while a client is owed an update
      "site/client": [{device: cam-01, user: admin}]
    rotations:                      # only while a rotation of the site is unfinished
      "site": {id: "20250102T140211-3fa2", started: "2025-01-02T14:02:11Z", accounts: [admin], done: false}

Everything in it is keyed by site (``site/device``, ``site/client``, ``site``), so that a backend may keep
one document per site (HashiCorp Vault) or one for the whole inventory (the vault file). Error messages
name keys, never values.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from enforcer.credentials.secret import Secret
from enforcer.errors import CredentialStoreError
from enforcer.facts import IPFilterFact

FORMAT_VERSION: Final = 1
Slot = Literal["current", "pending", "previous"]
SLOTS: Final[tuple[Slot, ...]] = ("current", "pending", "previous")
_TOP: Final = ("version", "devices", "isolations", "owed", "rotations")
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


@dataclass(frozen=True)
class Rotation:
    """A rotation under way at a site: its pending passwords are in the store; ``done`` once the site
    converged. Kept until every site of the rotation is done, so that a rerun finishes it rather than
    starting another (see :mod:`enforcer.engine.rotate`)."""

    id: str
    started: str
    accounts: tuple[str, ...]
    done: bool = False


Key = tuple[str, str]


@dataclass
class Snapshot:
    """The whole document in memory."""

    entries: dict[Key, Entry] = field(default_factory=dict)
    isolations: dict[str, Isolation] = field(default_factory=dict)
    rotations: dict[str, Rotation] = field(default_factory=dict)
    owed: dict[str, frozenset[Path_]] = field(default_factory=dict)  # client id -> the paths it must be given

    def copy(self) -> Snapshot:
        """Another snapshot of the same records (they are immutable; the mappings are not)."""
        return Snapshot(dict(self.entries), dict(self.isolations), dict(self.rotations), dict(self.owed))

    def sites(self) -> set[str]:
        return (
            {_site(d) for d, _ in self.entries}
            | {_site(i) for i in self.isolations}
            | set(self.rotations)
            | {_site(c) for c in self.owed}
        )

    def of_site(self, site: str) -> Snapshot:
        """Only what belongs to ``site``."""
        return self._where(lambda s: s == site)

    def without_site(self, site: str) -> Snapshot:
        """All but what belongs to ``site``."""
        return self._where(lambda s: s != site)

    def update(self, other: Snapshot) -> None:
        """Take every record of ``other`` over these."""
        self.entries |= other.entries
        self.isolations |= other.isolations
        self.rotations |= other.rotations
        self.owed |= other.owed

    def _where(self, keep: Callable[[str], bool]) -> Snapshot:
        return Snapshot(
            {k: e for k, e in self.entries.items() if keep(_site(k[0]))},
            {d: i for d, i in self.isolations.items() if keep(_site(d))},
            {s: r for s, r in self.rotations.items() if keep(s)},
            {c: o for c, o in self.owed.items() if keep(_site(c))},
        )


@dataclass
class Changed:
    """What one store changed since it was read: only these are written over what another run saved."""

    entries: set[Key] = field(default_factory=set)
    isolations: set[str] = field(default_factory=set)
    rotations: set[str] = field(default_factory=set)
    owed: set[str] = field(default_factory=set)

    def sites(self) -> set[str]:
        return (
            {_site(d) for d, _ in self.entries}
            | {_site(i) for i in self.isolations}
            | set(self.rotations)
            | {_site(c) for c in self.owed}
        )

    def forget_site(self, site: str) -> None:
        """Nothing of ``site`` is to be written (the backend's records of it win)."""
        self.entries = {k for k in self.entries if _site(k[0]) != site}
        self.isolations = {d for d in self.isolations if _site(d) != site}
        self.rotations.discard(site)
        self.owed = {c for c in self.owed if _site(c) != site}

    def clear(self) -> None:
        self.entries.clear()
        self.isolations.clear()
        self.rotations.clear()
        self.owed.clear()

    def __bool__(self) -> bool:
        return bool(self.entries or self.isolations or self.rotations or self.owed)


def _site(key: str) -> str:
    return key.split("/", 1)[0]


def merge(disk: Snapshot, mine: Snapshot, changed: Changed) -> Snapshot:
    """What another run saved (``disk``), with what this one changed written over it; a key this run
    removed (an isolation released, a rotation finished) is removed.

    For what this run did not change, ``disk`` is the truth: an isolation or a rotation another run removed
    since stays removed (this run's copy of it, read at an earlier save, is stale). Passwords alone are kept
    from this run's copy when the disk has lost them: a password is never dropped unseen."""

    def over(
        theirs: dict[Any, Any], ours: dict[Any, Any], keys: Iterable[Any], *, keep: bool = False
    ) -> dict[Any, Any]:
        out = {**ours, **theirs} if keep else dict(theirs)
        for key in keys:
            if key in ours:
                out[key] = ours[key]
            else:
                out.pop(key, None)
        return out

    return Snapshot(
        over(disk.entries, mine.entries, changed.entries, keep=True),
        over(disk.isolations, mine.isolations, changed.isolations),
        over(disk.rotations, mine.rotations, changed.rotations),
        over(disk.owed, mine.owed, changed.owed),
    )


# -- to and from the document ----------------------------------------------------------------------------


def dump(snapshot: Snapshot) -> dict[str, Any]:
    """The document, passwords revealed: only a backend writing it encrypted may call this."""
    devices: dict[str, dict[str, dict[str, str | None]]] = {}
    for (device_id, account), entry in sorted(snapshot.entries.items()):
        devices.setdefault(device_id, {})[account] = {
            slot: (value.reveal() if (value := getattr(entry, slot)) is not None else None) for slot in SLOTS
        }
    document: dict[str, Any] = {"version": FORMAT_VERSION, "devices": devices}
    if snapshot.isolations:
        document["isolations"] = {d: _isolation_data(i) for d, i in sorted(snapshot.isolations.items())}
    if snapshot.owed:
        document["owed"] = {
            c: [{"device": device, "user": user} for device, user in sorted(paths)]
            for c, paths in sorted(snapshot.owed.items())
        }
    if snapshot.rotations:
        document["rotations"] = {
            s: {"id": r.id, "started": r.started, "accounts": list(r.accounts), "done": r.done}
            for s, r in sorted(snapshot.rotations.items())
        }
    return document


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


def parse(data: Any, where: str, name: str) -> Snapshot:
    """Check a decrypted document's shape (``where`` names it in messages; ``name`` labels its secrets)."""

    def fail(key: str, problem: str) -> CredentialStoreError:
        return CredentialStoreError(f"credential store {where}: {key}: {problem}")

    if not isinstance(data, dict) or set(data) - set(_TOP):
        raise fail("top level", f"expected a mapping with keys {', '.join(_TOP)}")
    if data.get("version") != FORMAT_VERSION:
        raise fail("version", f"unsupported format version (this enforcer reads {FORMAT_VERSION})")
    devices = data.get("devices") or {}
    if not isinstance(devices, dict):
        raise fail("devices", "expected a mapping of site/device to accounts")
    entries: dict[Key, Entry] = {}
    for device_id, accounts in devices.items():
        if not isinstance(device_id, str) or not isinstance(accounts, dict):
            raise fail(f"devices.{device_id}", "expected a mapping of account names to passwords")
        for account, slots in accounts.items():
            at = f"devices.{device_id}.{account}"
            if not isinstance(account, str) or not isinstance(slots, dict):
                raise fail(at, "expected a mapping with current, pending and previous")
            unknown = sorted(str(k) for k in slots if k not in SLOTS)
            if unknown:
                raise fail(at, f"unknown keys {', '.join(unknown)} (allowed: {', '.join(SLOTS)})")
            values: dict[str, Secret | None] = {}
            for slot in SLOTS:
                value = slots.get(slot)
                if value is not None and not isinstance(value, str):
                    raise fail(f"{at}.{slot}", "must be a quoted string or null")
                values[slot] = None if value is None else Secret(value, f"{name}#{device_id}/{account}/{slot}")
            entries[(device_id, account)] = Entry(**values)
    return Snapshot(
        entries,
        _parse_isolations(data.get("isolations") or {}, fail),
        _parse_rotations(data.get("rotations") or {}, fail),
        _parse_owed(data.get("owed") or {}, fail),
    )


def _parse_isolations(raw: Any, fail: Callable[[str, str], CredentialStoreError]) -> dict[str, Isolation]:
    if not isinstance(raw, dict):
        raise fail("isolations", "expected a mapping of site/device to what isolating it replaced")
    out: dict[str, Isolation] = {}
    for device_id, item in raw.items():
        at = f"isolations.{device_id}"
        if not isinstance(item, dict) or set(item) - {"original", "keep_blocked", "client"}:
            raise fail(at, "expected a mapping with original, keep_blocked and client")
        keep = item.get("keep_blocked") or []
        original, client = item.get("original"), item.get("client")
        if not isinstance(keep, list) or not all(isinstance(a, str) for a in keep):
            raise fail(f"{at}.keep_blocked", "expected a list of addresses")
        if client is not None and not isinstance(client, dict):
            raise fail(f"{at}.client", "expected a mapping")
        if original is None:
            out[str(device_id)] = Isolation(None, tuple(keep), client)
            continue
        ok = isinstance(original, dict) and isinstance(original.get("enabled"), bool)
        ok = ok and original.get("mode") in ("allow", "deny") and isinstance(original.get("addresses"), list)
        if not ok:
            raise fail(f"{at}.original", "expected enabled, mode (allow or deny) and addresses")
        fact = IPFilterFact(original["enabled"], original["mode"], tuple(str(a) for a in original["addresses"]))
        out[str(device_id)] = Isolation(fact, tuple(keep))
    return out


def _parse_rotations(raw: Any, fail: Callable[[str, str], CredentialStoreError]) -> dict[str, Rotation]:
    if not isinstance(raw, dict):
        raise fail("rotations", "expected a mapping of site to the rotation under way there")
    out: dict[str, Rotation] = {}
    for site, item in raw.items():
        at = f"rotations.{site}"
        ok = isinstance(item, dict) and not set(item) - {"id", "started", "accounts", "done"}
        ok = ok and isinstance(item.get("id"), str) and isinstance(item.get("started"), str)
        accounts = item.get("accounts") if isinstance(item, dict) else None
        ok = ok and isinstance(accounts, list) and all(isinstance(a, str) for a in accounts)
        if not ok or not isinstance(item.get("done", False), bool):
            raise fail(at, "expected id, started, accounts (a list of names) and done (true or false)")
        out[str(site)] = Rotation(item["id"], item["started"], tuple(item["accounts"]), item.get("done", False))
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
