"""The credential store: what each device's passwords are now, and what a run changed that it must undo.

Per device (``site/device``) and account it keeps three values:

- ``current``: the password the device has now;
- ``pending``: a new password, written here *before* it is sent to the device, so that a crash at any
  point leaves the device's password among the candidates;
- ``previous``: the password before the last change, for a change that was applied but not recorded.

Per device a run has isolated and not yet released, it keeps the IP filter it replaced and the
stale sources to keep out once it is restored (:class:`Isolation`), written before the filter is:
whoever runs next, on any machine that shares the store, restores exactly what was there. Per site
a rotation is under way at, it keeps that rotation (:class:`Rotation`), so that a rerun finishes it.

Per client with an API, it keeps the credential paths a run is about to change on the devices and has
not yet given the client (:meth:`CredentialStore.owed`), written before the first of those devices
changes and cleared once the client's update is verified: a run killed in between leaves the record,
and whoever runs next updates the client before releasing it, even when the devices show nothing to do.

Where the document lives is a backend's business (:mod:`._document` is the format): an Ansible Vault
file in the repository (:class:`~enforcer.credentials.vaultfile.VaultFile`, the default) or HashiCorp
Vault's KV v2 engine (:class:`~enforcer.credentials.hashicorp.KVStoreBackend`). A rotation runs
``set_pending`` → ``save`` → change the device → verify → ``commit`` → ``save``. Each save writes only the
accounts, isolations, owed updates and rotations this store changed over what the backend holds now, so that runs on
different sites never undo each other's records; a backend that can tell that someone else changed
the same site since it was read (a compare-and-set conflict) refuses the save for that site
(:class:`~enforcer.errors.CredentialStoreConflict`).

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

import dataclasses
import threading
from collections.abc import Collection, Iterable, Iterator
from pathlib import Path
from typing import Protocol

from enforcer.credentials._document import (
    FORMAT_VERSION,
    SLOTS,
    Changed,
    Entry,
    Isolation,
    Rotation,
    Slot,
    Snapshot,
)
from enforcer.credentials.secret import Secret
from enforcer.credentials.vaultfile import VaultFile
from enforcer.errors import CredentialStoreError

__all__ = ["FORMAT_VERSION", "Backend", "CredentialStore", "CredentialStoreError", "Entry", "Isolation", "Rotation"]


class Backend(Protocol):
    """Where the store's document lives: read whole, saved by merging what one store changed."""

    def load(self, sites: Collection[str] | None = None) -> Snapshot:
        """The document as the backend holds it now (empty if there is none yet); with ``sites``, at least
        those sites' records (a backend keeping one record per site reads only those)."""
        ...

    def save(self, mine: Snapshot, changed: Changed) -> Snapshot:
        """Write what ``changed`` names of ``mine`` over what the backend holds; returns the document now
        held. Raises CredentialStoreError, or CredentialStoreConflict for a site someone else changed."""
        ...


class CredentialStore:
    """The passwords of every device account, loaded from and saved to a backend.

    Safe to share between threads: every method takes the store's lock.
    """

    def __init__(
        self,
        path: Path | None,
        password: bytes = b"",
        entries: dict[tuple[str, str], Entry] | None = None,
        *,
        backend: Backend | None = None,
    ) -> None:
        """An in-memory store that :meth:`save` writes to the vault file at ``path`` (or to ``backend``);
        use :meth:`load` or :meth:`open` to read one."""
        if backend is None:
            if path is None:
                raise CredentialStoreError("a credential store needs a file or a backend")
            backend = VaultFile(path, password)
        self.backend = backend
        self._data = Snapshot(dict(entries or {}))
        self._changed = Changed(set(self._data.entries))  # to write over what the backend holds
        self._written = False  # the backend holds this store's document (read from it, or saved)
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        return f"CredentialStore(backend={str(self.backend)!r}, accounts={len(self._data.entries)})"

    @property
    def path(self) -> Path | None:
        """The vault file, when the store is one."""
        return self.backend.path if isinstance(self.backend, VaultFile) else None

    @property
    def where(self) -> str:
        """Where the store lives, for messages."""
        return str(self.backend)

    # reading -----------------------------------------------------------------------------------

    @classmethod
    def load(cls, path: Path, password: bytes) -> CredentialStore:
        """Read the vault file at ``path``; a missing file is an empty store.

        Raises :class:`CredentialStoreError` for an unreadable, undecryptable or malformed file.
        """
        return cls.open(VaultFile(path, password))

    @classmethod
    def open(cls, backend: Backend) -> CredentialStore:
        """Read the store ``backend`` holds."""
        store = cls(None, backend=backend)
        store._data, store._written = backend.load(), True
        return store

    def get(self, device_id: str, account: str) -> Entry | None:
        """The passwords known for ``account`` on ``device_id`` (``site/device``), or ``None``."""
        with self._lock:
            return self._data.entries.get((device_id, account))

    def slots(self, device_id: str, account: str) -> list[tuple[Slot, Secret]]:
        """The passwords worth trying, best first: current, pending, previous; each once, under its first slot."""
        entry = self.get(device_id, account)
        out: list[tuple[Slot, Secret]] = []
        for slot in SLOTS if entry is not None else ():
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
            items = sorted(self._data.entries.items())
        for (device_id, account), entry in items:
            yield device_id, account, entry

    # changing ----------------------------------------------------------------------------------

    def set_pending(self, device_id: str, account: str, password: Secret, *, replace: bool = False) -> None:
        """Record ``password`` as about to be sent to the device; :meth:`save` before sending it.

        A different pending password may already have reached the device, so replacing it is refused
        unless ``replace=True`` (after preflight showed which password the device really has).
        """
        with self._lock:
            entry = self._data.entries.get(_key(device_id, account), Entry())
            if entry.pending is not None and entry.pending != password and not replace:
                raise CredentialStoreError(
                    f"{device_id} {account}: a different password is already pending; commit or discard it first"
                )
            self._set(device_id, account, dataclasses.replace(entry, pending=password))

    def commit(self, device_id: str, account: str) -> None:
        """The device now has the pending password: pending → current, current → previous.

        When pending equals current nothing moves, so ``previous`` is not lost to a no-op change.
        """
        with self._lock:
            entry = self._data.entries.get((device_id, account))
            if entry is None or entry.pending is None:
                raise CredentialStoreError(f"{device_id} {account}: no pending password to commit")
            if entry.pending == entry.current:
                self._set(device_id, account, dataclasses.replace(entry, pending=None))
            else:
                self._set(device_id, account, Entry(entry.pending, None, entry.current))

    def set_current(self, device_id: str, account: str, password: Secret) -> None:
        """The device is known to have ``password`` (found by preflight, or first recorded).

        A different current moves to ``previous``; a pending equal to ``password`` has evidently been
        applied and is cleared; any other pending is kept.
        """
        with self._lock:
            entry = self._data.entries.get(_key(device_id, account), Entry())
            if entry.current is not None and entry.current != password:
                entry = dataclasses.replace(entry, previous=entry.current)
            pending = None if entry.pending == password else entry.pending
            self._set(device_id, account, dataclasses.replace(entry, current=password, pending=pending))

    def put(self, device_id: str, account: str, entry: Entry) -> None:
        """Record ``entry`` as the account's passwords, whatever was there (importing what is known elsewhere)."""
        with self._lock:
            self._set(*_key(device_id, account), entry)

    def discard_pending(self, device_id: str, account: str) -> None:
        """Forget the pending password: the device is known not to have it."""
        with self._lock:
            entry = self._data.entries.get((device_id, account))
            if entry is not None:
                self._set(device_id, account, dataclasses.replace(entry, pending=None))

    def _set(self, device_id: str, account: str, entry: Entry) -> None:
        self._data.entries[(device_id, account)] = entry
        self._changed.entries.add((device_id, account))

    # isolations --------------------------------------------------------------------------------

    def isolation(self, device_id: str) -> Isolation | None:
        """What isolating ``device_id`` replaced, while it is isolated."""
        with self._lock:
            return self._data.isolations.get(device_id)

    def isolated(self) -> frozenset[str]:
        """Every device a run isolated and has not released yet."""
        with self._lock:
            return frozenset(self._data.isolations)

    def set_isolation(self, device_id: str, isolation: Isolation) -> bool:
        """Record the device's state before its *first* isolation; False (nothing changed) when one is
        recorded already: isolating again must never record the isolation itself as the original."""
        with self._lock:
            if device_id in self._data.isolations:
                return False
            self._data.isolations[device_id] = isolation
            self._changed.isolations.add(device_id)
            return True

    def clear_isolation(self, device_id: str) -> None:
        """The device's filter is restored."""
        with self._lock:
            self._data.isolations.pop(device_id, None)
            self._changed.isolations.add(device_id)

    # updates owed ------------------------------------------------------------------------------

    def owed(self) -> dict[str, frozenset[tuple[str, str]]]:
        """Per client (``site/client``), the credential paths (device name, user) a run changed, or was about
        to change, on the devices and has not yet given the client."""
        with self._lock:
            return dict(self._data.owed)

    def owe(self, client_id: str, paths: Iterable[tuple[str, str]]) -> bool:
        """Record that ``client_id`` must be given ``paths`` (added to what it is owed); True if that is new."""
        with self._lock:
            before = self._data.owed.get(client_id, frozenset())
            after = before | frozenset(paths)
            if after == before:
                return False
            self._data.owed[client_id] = after
            self._changed.owed.add(client_id)
            return True

    def settle(self, client_id: str) -> bool:
        """The client holds every password it was owed (its update verified); True if it owed any."""
        with self._lock:
            if self._data.owed.pop(client_id, None) is None:
                return False
            self._changed.owed.add(client_id)
            return True

    # rotations ---------------------------------------------------------------------------------

    def rotation(self, site: str) -> Rotation | None:
        """The rotation under way at ``site``, if one is unfinished."""
        with self._lock:
            return self._data.rotations.get(site)

    def rotations(self) -> dict[str, Rotation]:
        """Every site's rotation under way."""
        with self._lock:
            return dict(self._data.rotations)

    def set_rotation(self, site: str, rotation: Rotation | None) -> None:
        """Record (or, with ``None``, forget) the rotation under way at ``site``."""
        with self._lock:
            if rotation is None:
                self._data.rotations.pop(site, None)
            else:
                self._data.rotations[site] = rotation
            self._changed.rotations.add(site)

    # writing -----------------------------------------------------------------------------------

    def reload(self, site: str) -> None:
        """Take what the backend holds for ``site`` now, dropping what this store changed there and did not
        save: after a save was refused for the site (someone else's record wins), or once other processes
        (Temporal workers) have worked on it."""
        with self._lock:
            fresh = self.backend.load([site]).of_site(site)
            self._data = self._data.without_site(site)
            self._data.update(fresh)
            self._changed.forget_site(site)

    def save(self) -> None:
        """Write what this store changed to its backend, durably, over what the backend holds now.

        What another run saved since is kept, and the accounts, isolations and rotations changed here are
        written over it. One run per site (the engine's site locks) means no two runs change one account;
        without merging, two saves would each write back the store as it was when they read it, and one
        run's new passwords would be lost.

        A store read from its backend with nothing changed since the last save has nothing to write: a
        thread whose change another thread's save took along returns at once, durably saved, so sites
        saving one after another share saves, as a database's group commit does. A new store (not read)
        writes its document the first time, even empty.
        """
        with self._lock:
            if not self._changed and self._written:
                return
            self._data = self.backend.save(self._data, self._changed)
            self._changed.clear()
            self._written = True


def _key(device_id: str, account: str) -> tuple[str, str]:
    if not device_id or not account:
        raise CredentialStoreError("device id and account must not be empty")
    return (device_id, account)
