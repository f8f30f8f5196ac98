"""One run per site at a time: the lock each command that logs into a site's devices holds for its run.

Two runs on one site interleave their login attempts: each process's login guard counts only its own,
so together they can spend a device's reserved attempts, and a discovery can try the old password
just after the other run changed it. So ``apply``, ``plan`` and ``facts`` take the locks of every
site they will touch before anything touches a device, all of them or none, and hold them to the
end; a run that finds a site held stops, or waits, naming the holder. The journal resumes an
unfinished run only for sites whose locks its caller holds (:meth:`Journal.begin
<enforcer.engine.journal.Journal.begin>` takes the :class:`Held` locks), so it never adopts the work
of a run that is still alive.

:class:`SiteLocks` is the protocol; :class:`FileSiteLocks` keeps it on one machine: one file per
site in ``.enforcer/locks/`` beside the inventory's journal, held with ``flock`` and holding its
holder (pid, host, user, command, start time). The kernel drops a ``flock`` when its process dies,
however it dies, so a killed run never blocks the next and nothing needs cleaning up.

A shared backend takes over the same protocol once runs start on several machines. With a database,
``acquire`` is one transaction inserting a row per site under a unique key (the row holds the holder),
failing with the rows already there; ``release`` deletes them and ``holder`` reads one. A lease the
holder renews stands in for the kernel noticing a dead process. With Temporal, one workflow per site
whose id is the site's name gives the same uniqueness: starting a second with the reject-duplicate
id policy fails, and the running workflow's memo names the holder.
"""

from __future__ import annotations

import contextlib
import fcntl
import getpass
import json
import os
import socket
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import quote

from enforcer.errors import SiteBusy, SiteLockError

__all__ = ["FileSiteLocks", "Held", "Holder", "SiteLocks", "acquire", "holding", "state_folder"]


def state_folder(inventory: Path) -> Path:
    """Where enforcer keeps its local state for an inventory (a file or a folder): journal and locks."""
    return (inventory if inventory.is_dir() else inventory.parent) / ".enforcer"


@dataclass(frozen=True)
class Holder:
    """Who holds a site: enough for a person to find the run (and no secret: the command is enforcer's own)."""

    pid: int
    host: str
    user: str
    command: str
    since: float  # time.time() when the locks were taken
    doing: str = "used"  # a participle: "site X is being <doing> by …"

    @classmethod
    def this_process(cls, command: str, doing: str = "used") -> Holder:
        return cls(os.getpid(), socket.gethostname(), _user(), command, time.time(), doing)

    def describe(self) -> str:
        """``being applied by pid 4242 (enforce apply site.yml, user ana) on host ci-7 since 14:02:11``."""
        if not self.pid:
            return "held by another run (which has not written its name yet)"
        when = time.localtime(self.since)
        today = time.localtime().tm_yday == when.tm_yday and time.localtime().tm_year == when.tm_year
        since = time.strftime("%H:%M:%S" if today else "%Y-%m-%d %H:%M:%S", when)
        return (
            f"being {self.doing} by pid {self.pid} ({self.command}, user {self.user}) on host {self.host} since {since}"
        )

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Holder | None:
        """The holder a lock file records, or None if it is empty or not one (being written, say)."""
        try:
            data = json.loads(text)
            return cls(
                int(data["pid"]),
                str(data["host"]),
                str(data["user"]),
                str(data["command"]),
                float(data["since"]),
                str(data.get("doing", "used")),
            )
        except (ValueError, TypeError, KeyError):
            return None


#: A lock held by a run that has not written its name yet (it does so right after taking the lock).
UNKNOWN = Holder(0, "", "", "", 0.0)


class Held(Protocol):
    """The locks one ``acquire`` took: proof, for the journal, that this process may work on ``sites``."""

    @property
    def holder(self) -> Holder: ...

    @property
    def sites(self) -> frozenset[str]: ...

    def holds(self, site: str) -> bool:
        """Whether ``site`` is among these locks and they have not been released."""
        ...


class SiteLocks(Protocol):
    """Exclusive locks on sites, one holder each; a backend may be a local file or a shared service."""

    def acquire(self, sites: Collection[str], holder: Holder) -> Held:
        """All of ``sites`` or none, without waiting; raises :class:`SiteBusy` naming the holders."""
        ...

    def release(self, held: Held) -> None: ...

    def holder(self, site: str) -> Holder | None:
        """Who holds ``site`` now (None if nobody does)."""
        ...


@dataclass
class _FileHeld:
    holder: Holder
    files: dict[str, int]  # site → the open, flocked descriptor of its lock file
    released: bool = False

    @property
    def sites(self) -> frozenset[str]:
        return frozenset(self.files)

    def holds(self, site: str) -> bool:
        return not self.released and site in self.files


@dataclass
class FileSiteLocks:
    """Site locks for one machine: ``folder/<site>.lock``, each held with ``flock`` while its run lives.

    A lock file is never deleted: a run waiting on the old file could lock it just as a third run
    creates a new one, and both would hold the site. Released, it is emptied.
    """

    folder: Path

    @classmethod
    def of_inventory(cls, inventory: Path) -> FileSiteLocks:
        return cls(state_folder(inventory) / "locks")

    def path(self, site: str) -> Path:
        return self.folder / f"{quote(site, safe='')}.lock"

    def acquire(self, sites: Collection[str], holder: Holder) -> Held:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SiteLockError(f"cannot create the site lock folder {self.folder}: {exc.strerror or exc}") from None
        taken: dict[str, int] = {}
        busy: dict[str, str] = {}
        try:
            for site in sorted(set(sites)):
                fd = self._open(site)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    busy[site] = _read_holder(fd).describe()
                    os.close(fd)
                    continue
                except OSError as exc:  # say, a file system without flock
                    os.close(fd)
                    raise SiteLockError(f"cannot lock site {site}, {self.path(site)}: {exc.strerror}") from None
                taken[site] = fd
            if busy:
                raise SiteBusy(busy)
            data = holder.to_json().encode()
            for fd in taken.values():
                os.ftruncate(fd, 0)
                os.pwrite(fd, data, 0)
        except BaseException:
            _close(taken.values())
            raise
        return _FileHeld(holder, taken)

    def release(self, held: Held) -> None:
        if not isinstance(held, _FileHeld) or held.released:
            return
        held.released = True
        _close(held.files.values())

    def holder(self, site: str) -> Holder | None:
        try:
            fd = os.open(self.path(site), os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return _read_holder(fd)
            return None  # free: what the file says is a finished run's
        finally:
            os.close(fd)  # drops the shared lock, if taken

    def _open(self, site: str) -> int:
        try:
            return os.open(self.path(site), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise SiteLockError(f"cannot open the lock of site {site}, {self.path(site)}: {exc.strerror}") from None


def _read_holder(fd: int, tries: int = 10) -> Holder:
    """The holder a held lock file names; its run writes it just after locking, so a blank is read again."""
    for _ in range(tries):
        found = Holder.from_json(os.pread(fd, 4096, 0).decode("utf-8", "replace"))
        if found is not None:
            return found
        time.sleep(0.02)
    return UNKNOWN


def _close(fds: Collection[int]) -> None:
    """Empty each lock file, then close it: closing drops the ``flock``."""
    for fd in fds:
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        os.close(fd)


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (a container): the uid still finds the process
        return str(os.getuid())


OnWait = Callable[[SiteBusy, float], None]


def acquire(
    claims: Sequence[tuple[SiteLocks, Collection[str]]],
    holder: Holder,
    *,
    wait: float | None = None,
    on_wait: OnWait | None = None,
    poll: float = 0.5,
    report_every: float = 30.0,
) -> list[Held]:
    """Every claim's sites, or none: a run never starts on part of what it planned to touch.

    Taking all or none (never holding some while waiting for others) means two runs each waiting for
    what the other holds cannot happen. Without ``wait`` a held site raises :class:`SiteBusy` at once;
    with it (seconds, ``math.inf`` for as long as it takes) the locks are tried again every ``poll``
    seconds, and ``on_wait`` hears who is waited for: at first, when that changes, and every
    ``report_every`` seconds. Returns one :class:`Held` per claim, in order.
    """
    started = time.monotonic()
    said, said_at = "", 0.0
    while True:
        try:
            return _all_or_none(claims, holder)
        except SiteBusy as busy:
            waited = time.monotonic() - started
            if wait is None or waited >= wait:
                raise
            now = time.monotonic()
            if on_wait is not None and (str(busy) != said or now - said_at >= report_every):
                said, said_at = str(busy), now
                on_wait(busy, waited)
            time.sleep(max(0.0, min(poll, wait - waited)))


def _all_or_none(claims: Sequence[tuple[SiteLocks, Collection[str]]], holder: Holder) -> list[Held]:
    held: list[tuple[SiteLocks, Held]] = []
    busy: dict[str, str] = {}
    try:
        for locks, sites in claims:
            try:
                held.append((locks, locks.acquire(sites, holder)))
            except SiteBusy as exc:
                busy.update(exc.busy)
        if busy:
            raise SiteBusy(busy)
    except BaseException:
        for locks, taken in held:
            locks.release(taken)
        raise
    return [taken for _, taken in held]


@contextmanager
def holding(
    claims: Sequence[tuple[SiteLocks, Collection[str]]],
    holder: Holder,
    *,
    wait: float | None = None,
    on_wait: OnWait | None = None,
) -> Iterator[list[Held]]:
    """:func:`acquire`, held for the ``with`` block and released after it, however it ends."""
    held = acquire(claims, holder, wait=wait, on_wait=on_wait)
    try:
        yield held
    finally:
        for (locks, _), taken in zip(claims, held, strict=True):
            locks.release(taken)
