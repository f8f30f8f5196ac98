"""Credential discovery: which stored password the device's login user has now (DESIGN.md §4, preflight).

Candidates come by role, most likely first (see :meth:`Keyring.candidates`). Each distinct password
is tried at most once, and only with the guard's permission; discovery stops at the first success,
at the first refusal by the guard, at the first sign of a lock, and after ``max_failures``. A
candidate the device refused earlier in the run is passed over, not a refusal: a discovery run again
once the device forgot its failures goes on to the candidates it had no room for. It is
protocol-free: the driver passes a ``try_login`` that spends exactly one attempt.

    >>> ok = Secret("right", "example")
    >>> found = discover("s/cam", "admin", [("current", Secret("wrong", "x")), ("previous", ok)],
    ...                  lambda role, pw: Verdict(ok=pw == ok), LoginGuard(), threshold_hint=5)
    >>> found.candidate, found.attempts
    ('previous', 1)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from enforcer.credentials.guard import LOWEST_THRESHOLD, LoginGuard, Verdict
from enforcer.credentials.secret import Secret
from enforcer.errors import DeviceError, LockedOut, Refused

if TYPE_CHECKING:
    from enforcer.facts import Candidate
    from enforcer.model import Device

__all__ = ["Discovery", "discover", "settle"]


@dataclass(frozen=True)
class Discovery:
    """The outcome: the working credential by role, or why there is none; ``attempts`` = failures spent."""

    candidate: Candidate | None
    password: Secret | None
    attempts: int
    tried: tuple[Candidate, ...] = ()
    locked: bool = False
    unlock_seconds: float = 0.0
    reason: str = ""

    @property
    def found(self) -> bool:
        return self.password is not None


def discover(
    device_id: str,
    user: str,
    candidates: Sequence[tuple[Candidate, Secret]],
    try_login: Callable[[Candidate, Secret], Verdict],
    guard: LoginGuard,
    *,
    threshold_hint: int | None = None,
    max_failures: int | None = None,
) -> Discovery:
    """Find the working credential, spending at most one attempt per candidate.

    ``threshold_hint`` is the device's own count of attempts our source has left, read for free
    before any attempt (``retryLoginTime`` of an unauthenticated ``userCheck``). It lets the guard
    allow a second candidate on a device that can absorb it; without it the guard assumes the
    lowest threshold any firmware has (3), which leaves room for one failed attempt only.
    ``try_login`` sends one request through the guard (check, then record); discovery asks the guard
    first as well, so a refusal stops it before anything is sent. ``max_failures`` caps the failures
    spent (before a device's lock policy is known, its shared count may be lower than it says).
    """
    if threshold_hint is not None and threshold_hint > LOWEST_THRESHOLD:
        guard.set_threshold(device_id, threshold_hint)
    if not candidates:
        return Discovery(None, None, 0, reason=f"no stored or desired password for {user}")
    failures = 0
    tried: list[Candidate] = []
    for role, secret in candidates:
        if max_failures is not None and failures >= max_failures:
            reason = f"{failures} failed attempts is the most spent before the lock policy is read"
            return Discovery(None, None, failures, tuple(tried), reason=reason)
        if guard.was_refused(device_id, user, secret):
            tried.append(role)  # tried earlier in the run: known not to work
            continue
        try:
            guard.check(device_id, user, secret, label=role)  # asks only; try_login's request is checked again
            result = try_login(role, secret)
        except Refused as exc:
            return Discovery(None, None, failures, tuple(tried), reason=exc.reason)
        tried.append(role)
        if result.ok:
            return Discovery(role, secret, failures, tuple(tried))
        failures += 1
        if result.locked:
            return Discovery(
                None,
                None,
                failures,
                tuple(tried),
                locked=True,
                unlock_seconds=result.unlock_seconds,
                reason=f"the device locked our source for {result.unlock_seconds:.0f} s",
            )
    return Discovery(
        None, None, failures, tuple(tried), reason=f"no known password for {user} works (tried {', '.join(tried)})"
    )


def settle(found: Discovery, device: Device) -> tuple[Candidate, Secret]:
    """The working credential, or the login step's LockedOut or DeviceError saying why there is none
    and how many failed attempts the search spent (the operator weighs them against the lock)."""
    spent = f"{found.attempts} failed attempt{'s' * (found.attempts != 1)} spent"
    if found.locked:
        raise LockedOut(
            site=device.site,
            device=device.name,
            step="login",
            detail=f"{found.reason}; {spent}",
            unlock_seconds=found.unlock_seconds,
        )
    if found.candidate is None or found.password is None:
        detail = f"{found.reason}; {spent}" if found.attempts else found.reason
        raise DeviceError(site=device.site, device=device.name, step="login", detail=detail)
    return found.candidate, found.password
