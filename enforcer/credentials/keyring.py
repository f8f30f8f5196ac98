"""The keyring: the one owner of a run's credentials between the inventory and the wire.

Everything that chooses a password to send, or records what sending it came to, is here:

- **candidates**: for a device account, the store's ``current``, ``pending`` and ``previous``, then the
  desired password, each distinct password once, under its first role (the order discovery tries);
- **discovery**: :meth:`DeviceKeys.log_in` finds the working password with the driver's free probe
  and its one-attempt try, spending at most one attempt per candidate, through the guard;
- **attempts**: :meth:`DeviceKeys.attempt` is the only way a driver sends a credential: the guard
  permits it first, and its outcome is recorded after whatever happens in between;
- **what is known**: the password discovery proved (or the run set), else the store's ``current``;
- **store-before-send**: :meth:`Keyring.staged` writes a new password to the store as pending,
  durably, before the device sees it, and commits it once the device took it; the same store keeps
  what isolating a device replaced (:meth:`Keyring.remember_isolation`) until it is restored, and
  which clients are owed the new password (:meth:`Keyring.owe_update`) until their update is verified.

Drivers supply only the protocol: how to probe for free and how to try one credential.

    >>> from enforcer.credentials.store import CredentialStore
    >>> keyring = Keyring(None)
    >>> keyring.candidates("s/cam", "admin", Secret("desired-pw", "x"))
    [('desired', Secret(***, ref='x'))]
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

from enforcer.credentials.discovery import discover, settle
from enforcer.credentials.guard import LoginGuard, Verdict
from enforcer.credentials.secret import Secret
from enforcer.credentials.store import CredentialStore, Isolation
from enforcer.errors import CredentialStoreError, DeviceError, LockedOut

if TYPE_CHECKING:
    from enforcer.facts import Candidate, LoginFact
    from enforcer.model import Device

log = logging.getLogger("enforcer.credentials")

#: (device id, account) → the password known to be current on that device.
Known = Mapping[tuple[str, str], Secret]


@dataclass(frozen=True)
class Probe:
    """What a free request says of our standing on a device: no attempt spent.

    ``scope`` says who a lock shuts out: our ``source`` address (Hikvision) or the ``account`` for
    everyone (Dahua). ``attempts_left`` is the device's own count, when it tells it for free.
    """

    locked: bool = False
    unlock_seconds: float = 0.0
    attempts_left: int | None = None
    scope: Literal["source", "account"] = "source"


#: A driver's free probe, and its one counted try of a credential (made through :meth:`DeviceKeys.attempt`).
ProbeFn = Callable[[], Probe]
TryFn = Callable[["Candidate", Secret], Verdict]


class Keyring:
    """A run's credentials: the store, the guard, and what each device's discovery proved.

    Safe to share between threads: the store and the guard lock themselves, and each device's keys
    are used by one thread at a time (its driver's).
    """

    def __init__(self, store: CredentialStore | None = None, *, guard: LoginGuard | None = None) -> None:
        self.store = store
        self.guard = guard or LoginGuard()
        self._proven: dict[str, DeviceKeys] = {}

    def keys(self, device: Device, user: str) -> DeviceKeys:
        """The keys a driver of ``device`` uses to log in as ``user``."""
        if device.lock_policy.enabled:  # the guard's guide to how long the device counts, until it reads one
            self.guard.declare_lock_time(device.id, device.lock_policy.lock_minutes * 60)
        return DeviceKeys(self, device, user)

    # -- candidates -----------------------------------------------------------------------------------

    def candidates(self, device_id: str, user: str, desired: Secret | None) -> list[tuple[Candidate, Secret]]:
        """The store's passwords for ``user`` by role, then ``desired``; each password once, first role kept."""
        out: list[tuple[Candidate, Secret]] = list(self.store.slots(device_id, user) if self.store else [])
        if desired is not None and all(desired != seen for _, seen in out):
            out.append(("desired", desired))
        return out

    def current(self, device_id: str, user: str) -> Secret | None:
        """The store's ``current`` password of ``user`` on the device, if any."""
        entry = self.store.get(device_id, user) if self.store is not None else None
        return entry.current if entry is not None else None

    # -- what is known ----------------------------------------------------------------------------------

    def known(self, devices: Iterable[Device]) -> Known:
        """The password known to be current per device account: the one proven this run, else the store's."""
        known: dict[tuple[str, str], Secret] = {}
        for device in devices:
            proven = self._proven.get(device.id)
            for account in device.accounts:
                secret = self.current(device.id, account.name)
                if proven is not None and proven.user == account.name:
                    secret = proven.password
                if secret is not None:
                    known[(device.id, account.name)] = secret
        return known

    def reconcile(self, only: Collection[str] | None = None) -> bool:
        """Record in the store what this run proved: each proven password becomes ``current`` (a pending one
        that never reached the device is dropped). Saves the store when anything changed; True if so.

        ``only``: these devices alone (a site read again mid-run; the others may be changing now)."""
        if self.store is None:
            return False
        changed = False
        for device_id, keys in sorted(self._proven.items()):
            if keys.password is None or (only is not None and device_id not in only):
                continue
            entry = self.store.get(device_id, keys.user)
            if entry is not None and entry.current == keys.password:
                account = keys.device.account(keys.user)
                if entry.pending is not None and not (account is not None and account.generated):
                    # It never reached the device. A generated account's pending password is a rotation
                    # under way, to be sent yet: kept.
                    self.store.discard_pending(device_id, keys.user)
                    changed = True
            else:
                self.store.set_current(device_id, keys.user, keys.password)
                changed = True
            keys.recorded()
        if changed:
            self.store.save()
        return changed

    def _proved(self, keys: DeviceKeys) -> None:
        self._proven[keys.device.id] = keys

    # -- isolations ---------------------------------------------------------------------------------------

    def isolation(self, device_id: str) -> Isolation | None:
        """What isolating the device replaced, while a run has it isolated."""
        return self.store.isolation(device_id) if self.store is not None else None

    def isolated(self) -> frozenset[str]:
        """Devices a run isolated and has not released (the store's record, shared by whoever runs next)."""
        return self.store.isolated() if self.store is not None else frozenset()

    def remember_isolation(self, device_id: str, isolation: Isolation) -> None:
        """Record, durably, what isolating the device replaces, before it is replaced (a first isolation only)."""
        if self.store is None:
            raise CredentialStoreError("no credential store to record an isolation in")
        if self.store.set_isolation(device_id, isolation):
            self.store.save()

    def released(self, device_id: str) -> None:
        """The device's filter is restored: forget the record, durably."""
        if self.store is not None and self.store.isolation(device_id) is not None:
            self.store.clear_isolation(device_id)
            self.store.save()

    # -- updates owed to clients ------------------------------------------------------------------------

    def owed(self) -> Mapping[str, frozenset[tuple[str, str]]]:
        """Per client id, the credential paths (device name, user) a run changed and has not given it yet."""
        return self.store.owed() if self.store is not None else {}

    def owe_update(self, clients: Iterable[str], device: str, user: str) -> None:
        """Record, durably, before ``device``'s ``user`` password changes, that ``clients`` must be given it:
        a run killed before their update leaves the record for the next one, whatever the devices then show."""
        if self.store is None:
            raise CredentialStoreError("no credential store to record an owed client update in")
        changed = [self.store.owe(c, [(device, user)]) for c in clients]
        if any(changed):
            self.store.save()

    def update_settled(self, client: str) -> None:
        """The client's update is verified: it holds every password it was owed. Forget the record, durably."""
        if self.store is not None and self.store.settle(client):
            self.store.save()

    # -- store-before-send ------------------------------------------------------------------------------

    @contextmanager
    def staged(self, device_id: str, account: str, password: Secret | None) -> Iterator[None]:
        """Around a write that may send ``password``: in the store as pending, durably, before; current after.

        With no password (an account removed) or no store, nothing is recorded.
        """
        store = self.store if password is not None else None
        if store is not None and password is not None:
            store.set_pending(device_id, account, password, replace=True)
            store.save()
        yield
        if store is not None:
            store.commit(device_id, account)
            store.save()


class Attempt:
    """One credential on its way to a device; the block it is used in says what it came to.

    Set :attr:`verdict` to the device's answer, or call :meth:`unjudged` when the answer says
    nothing of the password (a stale nonce, a 403). A block that raises before a verdict counts
    as ``lost`` says; one that ends without a verdict is a bug, recorded as a failure.
    """

    def __init__(self, user: str, password: Secret, label: str) -> None:
        self.user, self.password, self.label = user, password, label
        self.verdict: Verdict | None = None
        self._judged = False

    def judge(self, verdict: Verdict) -> None:
        self.verdict, self._judged = verdict, True

    def unjudged(self) -> None:
        self.verdict, self._judged = None, True

    @property
    def judged(self) -> bool:
        return self._judged


class DeviceKeys:
    """One device's credentials as its driver sees them: the one in use, and every attempt guarded."""

    def __init__(self, keyring: Keyring, device: Device, user: str) -> None:
        self.keyring, self.device, self.user = keyring, device, user
        self.password: Secret | None = None
        self.role: Candidate | None = None
        self.login: LoginFact | None = None

    @property
    def device_id(self) -> str:
        return self.device.id

    def for_user(self, user: str) -> DeviceKeys:
        """Keys to the same device as another user (to confirm a password just set for that account)."""
        return DeviceKeys(self.keyring, self.device, user)

    def use(self, password: Secret, role: Candidate) -> None:
        """Authenticate further requests with this credential."""
        self.password, self.role = password, role

    # -- discovery --------------------------------------------------------------------------------------

    def log_in(self, probe: ProbeFn, attempt: TryFn, *, max_failures: int | None = None) -> LoginFact:
        """Find the working credential once (DESIGN.md §4, preflight), or raise why there is none.

        ``probe`` is free; a lock it reports raises :class:`LockedOut` with nothing sent. Then each
        candidate is tried with ``attempt`` until one works, the guard refuses, or the device locks;
        ``max_failures`` caps the failures spent before the device's lock policy is known.
        """
        from enforcer.facts import LoginFact

        if self.login is not None:
            return self.login
        standing = probe()
        if standing.locked:
            who = "our source is locked out" if standing.scope == "source" else f"the account {self.user} is locked"
            raise LockedOut(
                site=self.device.site,
                device=self.device.name,
                step="login",
                detail=f"{who} for {standing.unlock_seconds:.0f} s more; no attempt made",
                unlock_seconds=standing.unlock_seconds,
            )
        account = self.device.account(self.user)
        candidates = self.keyring.candidates(self.device_id, self.user, account.password if account else None)
        found = discover(
            self.device_id,
            self.user,
            candidates,
            attempt,
            self.keyring.guard,
            threshold_hint=standing.attempts_left,
            max_failures=max_failures,
        )
        role, password = settle(found, self.device)
        self.use(password, role)
        self.login = LoginFact(self.user, role, attempts_spent=found.attempts)
        self.keyring._proved(self)
        log.info("%s: logged in as %s with the %s credential", self.device_id, self.user, role)
        return self.login

    def switched(self, password: Secret) -> None:
        """We set this user's password ourselves: the new one is in use, the old one no longer sure."""
        from enforcer.facts import LoginFact

        self.keyring.guard.password_changed(self.device_id, self.user, self.password, password)
        self.use(password, "desired")
        self.login = LoginFact(self.user, "desired")
        self.keyring._proved(self)

    def recorded(self) -> None:
        """The store now holds the password in use as ``current``: name it so from here on."""
        self.role = "current"
        if self.login is not None:
            self.login = replace(self.login, candidate="current")

    def holds(self, name: str, password: Secret) -> bool:
        """Whether the device is known to hold ``password`` for ``name`` already: the login user's is
        the one in use, another account's the store's ``current``."""
        if name == self.user:
            return self.password == password
        return self.keyring.current(self.device_id, name) == password

    def current(self, name: str) -> Secret | None:
        """The store's ``current`` password of another account on this device."""
        return self.keyring.current(self.device_id, name)

    # -- attempts -----------------------------------------------------------------------------------------

    @contextmanager
    def attempt(
        self,
        password: Secret | None = None,
        label: str | None = None,
        *,
        lost: Literal["failed", "unjudged"] = "unjudged",
        step: str = "login",
    ) -> Iterator[Attempt]:
        """Send one credential (the one in use unless given): permitted by the guard before, recorded after.

        Raises :class:`~enforcer.errors.Refused` before anything is sent when the guard forbids it.
        ``lost`` is what a block that raises before its verdict counts as: ``failed`` where the device
        may have judged the credential (a reply lost after it was sent), ``unjudged`` where not.
        """
        password = password if password is not None else self.password
        label = label if label is not None else (self.role or "")
        if password is None:
            raise DeviceError(
                site=self.device.site,
                device=self.device.name,
                step=step,
                detail="no working credential (facts not gathered)",
            )
        guard = self.keyring.guard
        key = guard.check(self.device_id, self.user, password, label=label)
        sent = Attempt(self.user, password, label)
        try:
            yield sent
        except BaseException:
            if sent.judged:
                self._record(key, sent)
            elif lost == "failed":
                guard.record(self.device_id, key, Verdict(ok=False), user=self.user, label=label)
            raise
        if not sent.judged:
            guard.record(self.device_id, key, Verdict(ok=False), user=self.user, label=label)
            raise RuntimeError(f"{self.device_id}: an attempt ended without a verdict (recorded as a failure)")
        self._record(key, sent)

    def _record(self, key: bytes, sent: Attempt) -> None:
        if sent.verdict is not None:
            self.keyring.guard.record(self.device_id, key, sent.verdict, user=self.user, label=sent.label)

    # -- the budget, as the device reports it ------------------------------------------------------------

    def observe(self, *, attempts_left: int | None = None, locked: bool = False, unlock_seconds: float = 0.0) -> None:
        """Lock state the device reported for free."""
        self.keyring.guard.observe(
            self.device_id, attempts_left=attempts_left, locked=locked, unlock_seconds=unlock_seconds
        )

    def set_threshold(self, threshold: int, *, lock_seconds: float | None = None) -> None:
        """The device's lock threshold (and lock time), once its policy has been read."""
        self.keyring.guard.set_threshold(self.device_id, threshold, lock_seconds=lock_seconds)

    def remaining(self) -> int:
        """Failed attempts the device can still absorb from us before it locks."""
        return self.keyring.guard.remaining(self.device_id)
