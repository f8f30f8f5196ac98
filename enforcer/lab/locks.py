"""The illegal-login lock of one device (protocol §2.3, §3.2, §4 item 3).

A key is the source address, ``source/user`` or the account, per the profile's ``lock_scope``.
``max_attempts`` consecutive failures under one key while the policy is enabled lock that key for
``lock_seconds`` (device time); during the lock every attempt is refused, and with
``resets_timer`` each one starts the lock again. Success or expiry clears the counter: an entry
whose lock is over counts as absent at once, whether or not the sweep (``expire_due``) ran yet.

Real devices also forget failures that never added up to a lock. The rule is the one the public
sources state: Dahua's NetSDK ``CFG_DEV_DISPOSITION_INFO.nCheckDuration``, the "zeroing cycle" ("if
the login attempts within the specified time do not exceed the allowed number, the count is reset
to zero"), and Hikvision's AX Pro manuals ("locked after 3 failed attempts in a minute"; the camera
and recorder notes say nothing either way): a count lives ``window`` seconds from its *first*
failure, then it is forgotten, however many failures came since. A forgotten count counts as absent
at once, like an expired lock.

    >>> from enforcer.lab.clock import FakeClock
    >>> from enforcer.lab.spec import LabLockPolicy
    >>> clock = FakeClock()
    >>> policy = LabLockPolicy(max_attempts=2, lock_seconds=60)
    >>> table = LockTable(clock, policy, scope="source", window="lock")
    >>> table.fail("10.0.0.1"), table.fail("10.0.0.1")
    (1, 0)
    >>> table.seconds_left("10.0.0.1")
    60
    >>> table.fail("10.0.0.2"), clock.advance(60), table.attempts_left("10.0.0.2")
    (1, None, 2)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from enforcer.lab.clock import Clock


class LockPolicy(Protocol):
    """What a lock table reads of its policy (a :class:`LabLockPolicy`, or one derived from it)."""

    @property
    def enabled(self) -> bool: ...

    @property
    def max_attempts(self) -> int: ...

    @property
    def lock_seconds(self) -> int: ...


#: How long a count lives: seconds, ``"lock"`` (the policy's lock time), or ``None``/0 (for ever).
Window = float | Literal["lock"] | None


@dataclass
class _Entry:
    failures: int = 0  # failed logins; a successful login clears them
    confirm_failures: int = 0  # wrong <loginPassword>; only a right one clears them
    until: float | None = None
    since: float | None = None  # device time of the count's first failure (its window starts there)


class LockTable:
    """Failure counters and locks of one device, keyed per ``scope``."""

    def __init__(
        self,
        clock: Clock,
        policy: LockPolicy,
        *,
        scope: str,
        resets_timer: bool = False,
        window: Window = None,
        on_expire: Callable[[str], None] | None = None,
        on_forget: Callable[[str, int], None] | None = None,
    ) -> None:
        self.clock = clock
        self.policy = policy
        self.scope = scope
        self.resets_timer = resets_timer
        self.window = window
        self._entries: dict[str, _Entry] = {}
        self.on_expire = on_expire  # told of a lock that ran out and is dropped before the sweep
        self.on_forget = on_forget  # told of a count forgotten before the sweep (key, failures)

    def window_seconds(self) -> float | None:
        """How long a count lives now, in device seconds; ``None``: for ever."""
        seconds = self.policy.lock_seconds if self.window == "lock" else self.window
        return float(seconds) if seconds else None

    def _forget_at(self, entry: _Entry) -> float | None:
        """When ``entry``'s count is forgotten: never while it is locked, nor without a window."""
        window = self.window_seconds()
        if window is None or entry.until is not None or entry.since is None:
            return None
        return entry.since + window

    def key(self, source: str, user: str) -> str:
        if self.scope == "account":
            return f"user:{user}"
        if self.scope == "source_user":
            return f"{source}/{user}"
        return source

    def lock(self, key: str) -> None:
        """Lock ``key`` now for the policy's duration."""
        entry = self._entries.setdefault(key, _Entry())
        entry.failures = self.policy.max_attempts
        entry.until = self.clock.now() + self.policy.lock_seconds

    def seconds_left(self, key: str) -> int:
        """Whole seconds left on ``key``'s lock, 0 when it is not locked (expired locks stay until swept)."""
        entry = self._entries.get(key)
        if entry is None or entry.until is None:
            return 0
        return max(0, math.ceil(entry.until - self.clock.now()))

    def is_locked(self, key: str) -> bool:
        entry = self._entries.get(key)
        return entry is not None and entry.until is not None and entry.until > self.clock.now()

    def refused(self, key: str) -> None:
        """An attempt during the lock: with ``resets_timer`` the lock starts again."""
        entry = self._entries.get(key)
        if self.resets_timer and entry is not None and entry.until is not None:
            entry.until = self.clock.now() + self.policy.lock_seconds

    def _live(self, key: str) -> _Entry | None:
        """``key``'s entry; one whose lock is over, or whose count the window forgot (not swept yet),
        is dropped and counts as absent."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        now = self.clock.now()
        if entry.until is not None and entry.until <= now:
            del self._entries[key]
            if self.on_expire is not None:
                self.on_expire(key)
            return None
        forget = self._forget_at(entry)
        if forget is not None and forget <= now:
            del self._entries[key]
            if self.on_forget is not None:
                self.on_forget(key, entry.failures + entry.confirm_failures)
            return None
        return entry

    def attempts_left(self, key: str) -> int:
        if not self.policy.enabled:
            return self.policy.max_attempts
        entry = self._live(key)
        failures = entry.failures + entry.confirm_failures if entry else 0
        return max(0, self.policy.max_attempts - failures)

    def fail(self, key: str, *, confirmation: bool = False) -> int:
        """Count one failure; returns the attempts left (0: the key is now locked).

        ``confirmation``: a wrong ``<loginPassword>`` inside an authenticated request, which a
        successful login does not clear (else it could never add up to a lock).
        """
        if not self.policy.enabled:
            return self.policy.max_attempts
        entry = self._live(key) or self._entries.setdefault(key, _Entry())
        if entry.since is None:
            entry.since = self.clock.now()
        if confirmation:
            entry.confirm_failures += 1
        else:
            entry.failures += 1
        left = self.attempts_left(key)
        if left == 0:
            self.lock(key)
        return left

    def succeed(self, key: str, *, confirmation: bool = False) -> None:
        """A successful login (or, with ``confirmation``, a right ``<loginPassword>``)."""
        entry = self._live(key)
        if entry is None or entry.until is not None:
            return
        if confirmation:
            entry.confirm_failures = 0
        else:
            entry.failures = 0
        if entry.failures == 0 and entry.confirm_failures == 0:
            del self._entries[key]

    def expire_due(self) -> list[str]:
        """Clear every lock whose time is up; returns those keys (for ``unlocked`` events)."""
        now = self.clock.now()
        done = [k for k, e in self._entries.items() if e.until is not None and e.until <= now]
        for k in done:
            del self._entries[k]
        return done

    def forget_due(self) -> list[tuple[str, int]]:
        """Forget every count whose window is over; returns (key, failures) (for ``counter_reset`` events)."""
        now = self.clock.now()
        done = [(k, e) for k, e in self._entries.items() if (at := self._forget_at(e)) is not None and at <= now]
        for k, _ in done:
            del self._entries[k]
        return [(k, e.failures + e.confirm_failures) for k, e in done]

    def next_due(self) -> float | None:
        """Device time of the next lock expiry or forgotten count, if any."""
        times = [e.until if e.until is not None else self._forget_at(e) for e in self._entries.values()]
        due = [t for t in times if t is not None]
        return min(due) if due else None

    def locked_keys(self) -> list[str]:
        now = self.clock.now()
        return [k for k, e in self._entries.items() if e.until is not None and e.until > now]

    def clear(self) -> list[str]:
        """Forget everything (a reboot); returns the keys that were locked."""
        locked = self.locked_keys()
        self._entries.clear()
        return locked
