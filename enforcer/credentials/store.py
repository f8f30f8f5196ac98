"""The credential store: what each device's passwords are now, and what a run changed that it must undo.

Per device (``site/device``) and account it keeps three values:

- ``current``: the password the device has now;
- ``pending``: a new password, written here *before* it is sent to the device, so that a crash at any
  point leaves the device's password among the candidates;
- ``previous``: the password before the last change, for a change that was applied but not recorded.

Per device a run has isolated and not yet released, it keeps the IP filter it replaced and the
stale sources to keep out once it is restored (:class:`Isolation`), written before the filter is:
whoever runs next, on any machine that shares the store, restores exactly what was there.

Per client with an API, it keeps the credential paths a run is about to change on the devices and has
not yet given the client (:meth:`CredentialStore.owed`), written before the first of those devices
changes and cleared once the client's update is verified: a run killed in between leaves the record,
and whoever runs next updates the client before releasing it, even when the devices show nothing to do.

The file is an Ansible Vault (1.1) document encrypted with the inventory's vault password (its layout
is in :mod:`enforcer.credentials._document`), so that ``ansible-vault view`` works on it. A rotation
runs ``set_pending`` → ``save`` → change the device → verify → ``commit`` → ``save``.
:meth:`CredentialStore.save` is atomic and durable: a crash leaves either the old or the new file, never
a torn one. Runs on different sites of one inventory may save the same file at once: each save reads
the file again, under a lock, and writes only the accounts, isolations and owed updates this store
changed over it, so that no run undoes what another recorded.

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
import os
import tempfile
import threading
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import BinaryIO, TypeVar

import yaml

from enforcer.config import vault
from enforcer.credentials._document import FORMAT_VERSION, Contents, Entry, Isolation, Slot, dump, parse
from enforcer.credentials._document import SLOTS as _SLOTS
from enforcer.credentials.secret import Secret
from enforcer.errors import CredentialStoreError, VaultError, VaultPasswordError

__all__ = ["FORMAT_VERSION", "CredentialStore", "CredentialStoreError", "Entry", "Isolation"]

_V = TypeVar("_V")


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
        self._owed: dict[str, frozenset[tuple[str, str]]] = {}
        self._changed: set[tuple[str, str]] = set(self._entries)  # to write over what the file holds
        self._isolations_changed: set[str] = set()
        self._owed_changed: set[str] = set()
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
            data = yaml.safe_load(plain.decode("utf-8"))
        except (UnicodeDecodeError, yaml.YAMLError):
            # The parser's message quotes the offending text, which may be a password.
            raise CredentialStoreError(f"credential store {path} does not hold valid YAML") from None
        contents = parse(data, path)
        store = cls(path, password, contents.entries)
        store._isolations, store._owed = contents.isolations, contents.owed
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

    # updates owed ------------------------------------------------------------------------------

    def owed(self) -> dict[str, frozenset[tuple[str, str]]]:
        """Per client (``site/client``), the credential paths (device name, user) a run changed, or was about
        to change, on the devices and has not yet given the client."""
        with self._lock:
            return dict(self._owed)

    def owe(self, client_id: str, paths: Iterable[tuple[str, str]]) -> bool:
        """Record that ``client_id`` must be given ``paths`` (added to what it is owed); True if that is new."""
        with self._lock:
            before = self._owed.get(client_id, frozenset())
            after = before | frozenset(paths)
            if after == before:
                return False
            self._owed[client_id] = after
            self._owed_changed.add(client_id)
            return True

    def settle(self, client_id: str) -> bool:
        """The client holds every password it was owed (its update verified); True if it owed any."""
        with self._lock:
            if self._owed.pop(client_id, None) is None:
                return False
            self._owed_changed.add(client_id)
            return True

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
            contents = Contents(
                {**self._entries, **disk._entries, **{key: self._entries[key] for key in self._changed}},
                _over(disk._isolations, self._isolations, self._isolations_changed),
                _over(disk._owed, self._owed, self._owed_changed),
            )
            text = yaml.safe_dump(dump(contents), sort_keys=True, allow_unicode=True)
            data = vault.encrypt(text.encode("utf-8"), self._password).encode("ascii")
            try:
                _atomic_write(self.path, data)
            except OSError as exc:
                raise CredentialStoreError(f"cannot write credential store {self.path}: {exc.strerror or exc}") from exc
            self._entries, self._isolations, self._owed = contents.entries, contents.isolations, contents.owed
            self._changed.clear()
            self._isolations_changed.clear()
            self._owed_changed.clear()


def _key(device_id: str, account: str) -> tuple[str, str]:
    if not device_id or not account:
        raise CredentialStoreError("device id and account must not be empty")
    return (device_id, account)


def _over(disk: Mapping[str, _V], mine: Mapping[str, _V], changed: set[str]) -> dict[str, _V]:
    """What the file holds, with the keys this store changed as this store has them (or dropped)."""
    return {k: v for k, v in disk.items() if k not in changed} | {k: mine[k] for k in changed if k in mine}


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
