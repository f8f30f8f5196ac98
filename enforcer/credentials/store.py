"""The credential store: what each device's passwords are now, and what a run changed that it must undo.

Per device (``site/device``) and account it keeps three values:

- ``current``: the password the device has now;
- ``pending``: a new password, written here *before* it is sent to the device, so that a crash at any
  point leaves the device's password among the candidates;
- ``previous``: the password before the last change, for a change that was applied but not recorded.

Per device a run has isolated and not yet released, it keeps the IP filter it replaced and the
stale sources to keep out once it is restored (:class:`Isolation`), written before the filter is:
whoever runs next, on any machine that shares the store, restores exactly what was there.

The file is an Ansible Vault (1.1) document encrypted with the inventory's vault password, holding::

    version: 1
    devices:
      "site/device": {admin: {current: "…", pending: null, previous: "…"}}
    isolations:                     # only while a device is isolated
      "site/device": {original: {enabled: false, mode: deny, addresses: []}, keep_blocked: [10.0.0.55]}

so that ``ansible-vault view`` works on it. enforcer writes it as JSON (``{"devices": …, "version": 1}``),
which is YAML too, so ``ansible-vault view`` and ``edit`` and any YAML reader still read it; it reads
JSON with the JSON parser and anything else (a store edited by hand) as YAML. Why: a 10,000-device
store took 0.7 s to read as YAML and 7 ms as JSON. A rotation runs ``set_pending`` → ``save`` → change the
device → verify → ``commit`` → ``save``. :meth:`CredentialStore.save` is atomic and durable: a crash
leaves either the old or the new file, never a torn one. Runs on different sites of one inventory may
save the same file at once: each save reads the file again, under a lock, and writes only the accounts
this store changed over it, so that no run undoes what another recorded.

    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "credentials.vault"
    >>> store = CredentialStore.load(path, b"vault-pw")
    >>> store.set_current("hq/nvr", "admin", Secret("old-pw", "example"))
    >>> store.set_pending("hq/nvr", "admin", Secret("new-pw", "example"))
    >>> store.commit("hq/nvr", "admin")
    >>> [s.reveal() for s in store.candidates("hq/nvr", "admin")]
    ['new-pw', 'old-pw']

Secret values never appear in an exception message or a ``repr``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import os
import re
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Final, Literal

import yaml

from enforcer.config import plainyaml, vault
from enforcer.credentials.secret import Secret
from enforcer.errors import CredentialStoreError, VaultError, VaultPasswordError
from enforcer.facts import IPFilterFact

__all__ = ["FORMAT_VERSION", "CredentialStore", "CredentialStoreError", "Entry"]

FORMAT_VERSION: Final = 1
Slot = Literal["current", "pending", "previous"]
_SLOTS: Final[tuple[Slot, ...]] = ("current", "pending", "previous")


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


class CredentialStore:
    """The passwords of every device account, loaded from and saved to one vault file.

    Safe to share between threads: every method takes the store's lock.
    """

    def __init__(self, path: Path, password: bytes, entries: dict[tuple[str, str], Entry] | None = None) -> None:
        """An in-memory store that :meth:`save` writes to ``path``; use :meth:`load` to read one."""
        if not password:
            raise CredentialStoreError("the credential store needs a non-empty vault password")
        self.path = path
        self._password = password
        self._entries: dict[tuple[str, str], Entry] = dict(entries or {})
        self._isolations: dict[str, Isolation] = {}
        self._changed: set[tuple[str, str]] = set(self._entries)  # to write over what the file holds
        self._isolations_changed: set[str] = set()
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        return f"CredentialStore(path={str(self.path)!r}, accounts={len(self._entries)})"

    # reading -----------------------------------------------------------------------------------

    @classmethod
    def load(cls, path: Path, password: bytes) -> CredentialStore:
        """Read the store at ``path``; a missing file is an empty store.

        Raises :class:`CredentialStoreError` for an unreadable, undecryptable or malformed file.
        """
        try:
            text = path.read_bytes()
        except FileNotFoundError:
            return cls(path, password)
        except OSError as exc:
            raise CredentialStoreError(f"cannot read credential store {path}: {exc.strerror}") from None
        if not vault.is_vault(text):
            raise CredentialStoreError(f"credential store {path} is not an Ansible Vault file")
        try:
            plain = vault.decrypt(text, password)
        except VaultPasswordError:
            raise CredentialStoreError(f"wrong vault password for credential store {path}") from None
        except VaultError as exc:
            raise CredentialStoreError(f"credential store {path}: {exc}") from None
        try:
            data = _document(plain.decode("utf-8"))
        except (UnicodeDecodeError, yaml.YAMLError):
            # The parser's message quotes the offending text, which may be a password.
            raise CredentialStoreError(f"credential store {path} does not hold valid YAML") from None
        entries, isolations = _parse(data, path)
        store = cls(path, password, entries)
        store._isolations = isolations
        store._changed.clear()
        return store

    def get(self, device_id: str, account: str) -> Entry | None:
        """The passwords known for ``account`` on ``device_id`` (``site/device``), or ``None``."""
        with self._lock:
            return self._entries.get((device_id, account))

    def slots(self, device_id: str, account: str) -> list[tuple[Slot, Secret]]:
        """The passwords worth trying, best first: current, pending, previous; each once, under its first slot."""
        entry = self.get(device_id, account)
        out: list[tuple[Slot, Secret]] = []
        for slot in _SLOTS if entry is not None else ():
            value: Secret | None = getattr(entry, slot)
            if value is not None and all(value != seen for _, seen in out):
                out.append((slot, value))
        return out

    def candidates(self, device_id: str, account: str) -> list[Secret]:
        """The passwords of :meth:`slots`, without their slots."""
        return [value for _, value in self.slots(device_id, account)]

    def entries(self) -> Iterator[tuple[str, str, Entry]]:
        """Every ``(device_id, account, entry)``, sorted."""
        with self._lock:
            items = sorted(self._entries.items())
        for (device_id, account), entry in items:
            yield device_id, account, entry

    # changing ----------------------------------------------------------------------------------

    def set_pending(self, device_id: str, account: str, password: Secret, *, replace: bool = False) -> None:
        """Record ``password`` as about to be sent to the device; :meth:`save` before sending it.

        A different pending password may already have reached the device, so replacing it is refused
        unless ``replace=True`` (after preflight showed which password the device really has).
        """
        with self._lock:
            entry = self._entries.get(_key(device_id, account), Entry())
            if entry.pending is not None and entry.pending != password and not replace:
                raise CredentialStoreError(
                    f"{device_id} {account}: a different password is already pending; commit or discard it first"
                )
            self._entries[(device_id, account)] = dataclasses.replace(entry, pending=password)
            self._changed.add((device_id, account))

    def commit(self, device_id: str, account: str) -> None:
        """The device now has the pending password: pending → current, current → previous.

        When pending equals current nothing moves, so ``previous`` is not lost to a no-op change.
        """
        with self._lock:
            entry = self._entries.get((device_id, account))
            if entry is None or entry.pending is None:
                raise CredentialStoreError(f"{device_id} {account}: no pending password to commit")
            if entry.pending == entry.current:
                self._entries[(device_id, account)] = dataclasses.replace(entry, pending=None)
            else:
                self._entries[(device_id, account)] = Entry(entry.pending, None, entry.current)
            self._changed.add((device_id, account))

    def set_current(self, device_id: str, account: str, password: Secret) -> None:
        """The device is known to have ``password`` (found by preflight, or first recorded).

        A different current moves to ``previous``; a pending equal to ``password`` has evidently been
        applied and is cleared; any other pending is kept.
        """
        with self._lock:
            entry = self._entries.get(_key(device_id, account), Entry())
            if entry.current is not None and entry.current != password:
                entry = dataclasses.replace(entry, previous=entry.current)
            pending = None if entry.pending == password else entry.pending
            self._entries[(device_id, account)] = dataclasses.replace(entry, current=password, pending=pending)
            self._changed.add((device_id, account))

    # isolations --------------------------------------------------------------------------------

    def isolation(self, device_id: str) -> Isolation | None:
        """What isolating ``device_id`` replaced, while it is isolated."""
        with self._lock:
            return self._isolations.get(device_id)

    def isolated(self) -> frozenset[str]:
        """Every device a run isolated and has not released yet."""
        with self._lock:
            return frozenset(self._isolations)

    def set_isolation(self, device_id: str, isolation: Isolation) -> bool:
        """Record the device's state before its *first* isolation; False (nothing changed) when one is
        recorded already: isolating again must never record the isolation itself as the original."""
        with self._lock:
            if device_id in self._isolations:
                return False
            self._isolations[device_id] = isolation
            self._isolations_changed.add(device_id)
            return True

    def clear_isolation(self, device_id: str) -> None:
        """The device's filter is restored."""
        with self._lock:
            self._isolations.pop(device_id, None)
            self._isolations_changed.add(device_id)

    def put(self, device_id: str, account: str, entry: Entry) -> None:
        """Record ``entry`` as the account's passwords, whatever was there (importing what is known elsewhere)."""
        with self._lock:
            self._entries[_key(device_id, account)] = entry
            self._changed.add((device_id, account))

    def discard_pending(self, device_id: str, account: str) -> None:
        """Forget the pending password: the device is known not to have it."""
        with self._lock:
            entry = self._entries.get((device_id, account))
            if entry is not None:
                self._entries[(device_id, account)] = dataclasses.replace(entry, pending=None)
                self._changed.add((device_id, account))

    # writing -----------------------------------------------------------------------------------

    def save(self) -> None:
        """Write the store atomically and durably (temp file, fsync, rename, fsync of the folder).

        Under a lock on the store's folder, the file is read again first: what another run saved since
        is kept, and the accounts changed here are written over it. One run per site (the engine's site
        locks) means no two runs change one account; without the lock, two saves would each write back
        the file as it was when they read it, and one run's new passwords would be lost.
        """
        with self._lock, _folder_locked(self.path.parent):
            disk = CredentialStore.load(self.path, self._password)
            merged = {**self._entries, **disk._entries, **{key: self._entries[key] for key in self._changed}}
            mine = {d: i for d in self._isolations_changed if (i := self._isolations.get(d)) is not None}
            isolations = {d: i for d, i in disk._isolations.items() if d not in self._isolations_changed} | mine
            devices: dict[str, dict[str, dict[str, str | None]]] = {}
            for (device_id, account), entry in sorted(merged.items()):
                devices.setdefault(device_id, {})[account] = {
                    slot: (value.reveal() if (value := getattr(entry, slot)) is not None else None) for slot in _SLOTS
                }
            document: dict[str, Any] = {"version": FORMAT_VERSION, "devices": devices}
            if isolations:
                document["isolations"] = {d: _isolation_data(i) for d, i in sorted(isolations.items())}
            text = _as_yaml_text(json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False)) + "\n"
            data = vault.encrypt(text.encode("utf-8"), self._password).encode("ascii")
            try:
                _atomic_write(self.path, data)
            except OSError as exc:
                raise CredentialStoreError(f"cannot write credential store {self.path}: {exc.strerror or exc}") from exc
            self._entries, self._isolations = merged, isolations
            self._changed.clear()
            self._isolations_changed.clear()


#: What a YAML reader does not read as written in a quoted string: characters YAML refuses, and U+0085,
#: U+2028 and U+2029, which it takes for line breaks (and folds into a space).
_NOT_YAML_TEXT = re.compile("[^\x09\x0a\x0d\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _as_yaml_text(text: str) -> str:
    """JSON that every YAML reader reads as written: the characters above escaped (``\\u0085``), every other
    one as it is (escaping astral ones would give a YAML reader two halves of a surrogate pair)."""
    return _NOT_YAML_TEXT.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _document(text: str) -> Any:
    """The store's document: JSON as enforcer writes it, or YAML as a person may have edited it."""
    if text.lstrip().startswith("{"):
        with contextlib.suppress(ValueError, RecursionError):  # not JSON: a YAML flow mapping, say
            return json.loads(text)
    return plainyaml.safe_load(text)


def _key(device_id: str, account: str) -> tuple[str, str]:
    if not device_id or not account:
        raise CredentialStoreError("device id and account must not be empty")
    return (device_id, account)


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


def _parse(data: Any, path: Path) -> tuple[dict[tuple[str, str], Entry], dict[str, Isolation]]:
    """Check the decrypted document's shape; error messages name keys, never values."""

    def fail(where: str, problem: str) -> CredentialStoreError:
        return CredentialStoreError(f"credential store {path}: {where}: {problem}")

    if not isinstance(data, dict) or set(data) - {"version", "devices", "isolations"}:
        raise fail("top level", "expected a mapping with keys version, devices and isolations")
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
            unknown = sorted(str(k) for k in slots if k not in _SLOTS)
            if unknown:
                raise fail(where, f"unknown keys {', '.join(unknown)} (allowed: {', '.join(_SLOTS)})")
            values: dict[str, Secret | None] = {}
            for slot in _SLOTS:
                value = slots.get(slot)
                if value is not None and not isinstance(value, str):
                    raise fail(f"{where}.{slot}", "must be a quoted string or null")
                values[slot] = None if value is None else Secret(value, f"{path.name}#{device_id}/{account}/{slot}")
            entries[(device_id, account)] = Entry(**values)
    return entries, _parse_isolations(data.get("isolations") or {}, fail)


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


def _write(stream: BinaryIO, data: bytes) -> None:
    """Write all of ``data``; a seam for tests that simulate a crash midway."""
    stream.write(data)


def _atomic_write(path: Path, data: bytes) -> None:
    """Replace ``path`` by ``data`` so that a crash leaves either the old or the new content."""
    folder = path.parent
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)  # mode 0600
    try:
        with os.fdopen(fd, "wb") as stream:
            _write(stream, data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_folder(folder)


@contextlib.contextmanager
def _folder_locked(folder: Path) -> Iterator[None]:
    """An exclusive ``flock`` on the folder, between reading the store again and replacing it; where a
    folder cannot be opened or locked, saves go unlocked, as they did before runs could overlap."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | os.O_CLOEXEC)
    except OSError:
        yield
        return
    try:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where folders cannot be opened."""
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)
    try:
        fd = os.open(folder, flags)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):  # some file systems refuse to fsync a folder
            os.fsync(fd)
    finally:
        os.close(fd)
