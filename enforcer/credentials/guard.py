"""The login guard: the one owner of every authentication attempt enforcer makes.

Rules it enforces (DESIGN.md section 5; protocols/*: "Rules for a driver"):

- never spend the last ``reserve`` (2) attempts of a device's lock budget;
- until the device's threshold is known, assume the lowest any firmware allows (3);
- never send a credential again after the device refused it;
- never try while the device reports our source locked, until its own unlock time has passed;
- the device's own count (``retryLoginTime``, ``remainLoginTimes``) overrides ours when lower,
  since other sources may share the budget (Dahua locks the account for everyone); and when a
  count it reports for free is higher than ours, the device forgot failures (its counter window
  passed, or it rebooted): its count wins again, so a device is never refused for good.

A refusal for the reserve says what a person can do: wait for the device to forget the failed
attempts (the lock time is the guide the guard gives: the device's, once its policy is read, else
the inventory's), or supply the password that works.

The guard never holds a secret: a credential is known by a keyed hash that lives only in memory.
Every decision is logged, without the secret, on the ``enforcer.guard`` logger.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from enforcer.credentials.secret import Secret
from enforcer.errors import Refused

log = logging.getLogger("enforcer.guard")

LOWEST_THRESHOLD = 3
RESERVE = 2


@dataclass
class _Budget:
    threshold: int | None = None
    failures: int = 0
    device_left: int | None = None
    locked_until: float = 0.0
    refused: set[bytes] = field(default_factory=set)
    verified: set[bytes] = field(default_factory=set)
    lock_seconds: float | None = None  # the device's lock time: a guide to how long it keeps counting
    lock_time_read: bool = False  # read from the device's policy (else the inventory's, if any)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)


@dataclass(frozen=True)
class Verdict:
    """What a login attempt came to, as the device said it."""

    ok: bool
    attempts_left: int | None = None  # the device's count after this attempt, when it says
    locked: bool = False
    unlock_seconds: float = 0.0


class LoginGuard:
    """Counts and permits authentication attempts per device (thread-safe)."""

    def __init__(self, *, reserve: int = RESERVE, clock: Callable[[], float] = time.monotonic) -> None:
        self.reserve = reserve
        self._clock = clock
        self._key = os.urandom(32)
        self._budgets: dict[str, _Budget] = {}
        self._lock = threading.Lock()

    def _budget(self, device: str) -> _Budget:
        """The device's budget; each has its own lock, so that devices read side by side never wait for
        each other here (one lock for all was taken twice per request by every thread)."""
        budget = self._budgets.get(device)
        if budget is None:
            with self._lock:
                budget = self._budgets.setdefault(device, _Budget())
        return budget

    def fingerprint(self, user: str, password: Secret) -> bytes:
        """A per-run keyed hash naming a credential without holding it."""
        return hmac.new(self._key, f"{user}\0{password.reveal()}".encode(), hashlib.sha256).digest()

    def set_threshold(self, device: str, threshold: int, *, lock_seconds: float | None = None) -> None:
        """Record the device's lock threshold (and lock time), once its policy has been read."""
        budget = self._budget(device)
        with budget.lock:
            budget.threshold = threshold
            if lock_seconds:
                budget.lock_seconds, budget.lock_time_read = float(lock_seconds), True

    def declare_lock_time(self, device: str, seconds: float) -> None:
        """The lock time the inventory declares for the device: the guide a refusal gives until the
        device's own policy is read (it may differ, which the refusal says)."""
        budget = self._budget(device)
        with budget.lock:
            if not budget.lock_time_read and seconds > 0:
                budget.lock_seconds = float(seconds)

    def observe(
        self, device: str, *, attempts_left: int | None = None, locked: bool = False, unlock_seconds: float = 0.0
    ) -> None:
        """Take in lock state the device reported (free: read from its answers, no attempt spent).

        The device's count covers our failures too (it counts them, under our source or account),
        so a count higher than ours means it forgot some: its counter window passed, or it rebooted.
        Our tally is then set to agree with it, or it would refuse the device for good.
        """
        budget = self._budget(device)
        with budget.lock:
            if attempts_left is not None:
                if attempts_left > self._remaining(budget):
                    budget.failures = max(0, (budget.threshold or LOWEST_THRESHOLD) - attempts_left)
                budget.device_left = attempts_left
            if locked:
                budget.locked_until = max(budget.locked_until, self._clock() + unlock_seconds)

    def remaining(self, device: str) -> int:
        """Failed attempts the device can still absorb from us before it locks."""
        budget = self._budget(device)
        with budget.lock:
            return self._remaining(budget)

    def _remaining(self, budget: _Budget) -> int:
        ours = _ours(budget)
        return min(ours, budget.device_left) if budget.device_left is not None else ours

    def was_refused(self, device: str, user: str, password: Secret) -> bool:
        """Whether the device refused this credential earlier in the run (it is never sent again)."""
        budget = self._budget(device)
        with budget.lock:
            return self.fingerprint(user, password) in budget.refused

    def check(self, device: str, user: str, password: Secret, *, label: str = "") -> bytes:
        """Permit one attempt with this credential or raise :class:`Refused`; returns its fingerprint.

        A verified credential is sure, not a guess, but still needs the budget: if it fails now, the
        password changed behind our back and that failure counts like any other.
        """
        key = self.fingerprint(user, password)
        budget = self._budget(device)
        with budget.lock:
            now = self._clock()
            if 0.0 < budget.locked_until <= now:
                # The lock ran out, and with it the device's count: what it reported during the lock
                # (0 attempts left) no longer holds. A device that cannot report its count for free
                # (Dahua's RPC2 challenge) would otherwise stay refused forever.
                budget.locked_until, budget.device_left, budget.failures = 0.0, None, 0
            if budget.locked_until > now:
                reason = f"the device reports us locked out for {budget.locked_until - now:.0f} s more"
            elif key in budget.refused:
                reason = f"the {label or 'same'} credential for {user} was already refused; it is never sent twice"
            elif self._remaining(budget) - 1 < self.reserve:
                reason = self._reserve_reason(budget)
            else:
                if key not in budget.verified:
                    log.info(
                        "%s: trying %s credential for %s (%d attempts left)",
                        device,
                        label or "a",
                        user,
                        self._remaining(budget),
                    )
                return key
        log.warning("%s: refused %s credential for %s: %s", device, label or "a", user, reason)
        raise Refused(device, reason)

    def _reserve_reason(self, budget: _Budget) -> str:
        """Why only the reserve is left, and what a person can do about it."""
        left = self._remaining(budget)
        count = f"only {left} attempt{'s' * (left != 1)} left before the lock"
        if budget.device_left is not None and budget.device_left <= _ours(budget):
            count += " (the device's own count)"
        guide = "allow its lock time"
        if budget.lock_seconds:
            guide += f", {_duration(budget.lock_seconds)}{'' if budget.lock_time_read else ' by the inventory'},"
        return (
            f"{count} and {self.reserve} are kept in reserve: wait for the device to forget the failed attempts "
            f"({guide} or reboot it), then run again; or supply the password that works (credential store or inventory)"
        )

    def record(self, device: str, key: bytes, verdict: Verdict, *, user: str = "", label: str = "") -> None:
        """Record the outcome of an attempt that :meth:`check` permitted."""
        budget = self._budget(device)
        with budget.lock:
            if verdict.ok:
                budget.verified.add(key)
                budget.refused.discard(key)
                budget.failures = 0
                budget.device_left = None
            elif not verdict.locked:
                budget.verified.discard(key)
                budget.refused.add(key)
                budget.failures += 1
                if verdict.attempts_left is not None:
                    budget.device_left = verdict.attempts_left
                elif budget.device_left is not None:
                    budget.device_left = max(0, budget.device_left - 1)  # it counted this one too
            # A locked device refuses every password, the right one too: that says nothing of this
            # credential, and (with the reserve kept) the lock was not ours. Come back after it.
            if verdict.locked:
                budget.locked_until = max(budget.locked_until, self._clock() + verdict.unlock_seconds)
        if verdict.locked:
            log.warning(
                "%s: locked out for %.0f s: %s credential for %s not judged",
                device,
                verdict.unlock_seconds,
                label or "a",
                user,
            )
        elif not verdict.ok:
            log.warning("%s: %s credential for %s refused by the device", device, label or "a", user)

    def password_changed(self, device: str, user: str, old: Secret | None, new: Secret) -> None:
        """We set ``user``'s password to ``new`` ourselves: the old one is no longer sure, and the new
        one is no longer a refused guess, even if the device refused it before the change."""
        budget = self._budget(device)
        with budget.lock:
            if old is not None:
                budget.verified.discard(self.fingerprint(user, old))
            budget.refused.discard(self.fingerprint(user, new))


def _ours(budget: _Budget) -> int:
    """Attempts left by our own tally: the threshold (the lowest any firmware has, until read) less our failures."""
    return (budget.threshold or LOWEST_THRESHOLD) - budget.failures


def _duration(seconds: float) -> str:
    """``90 s``, ``30 min``, ``2 h``: how a person reads a lock time."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600 or seconds % 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.0f} h"
