"""Credential discovery: which stored password the device's login user has now (DESIGN.md §4, preflight).

Candidates come by role, most likely first: ``current``, ``pending``, ``previous`` from the credential
store, then the ``desired`` password if it is none of those. Each distinct password is tried at most
once, and only with the guard's permission; discovery stops at the first success, at the first
refusal by the guard, and at the first sign of a lock. It is protocol-free: the driver passes a
``try_login`` that spends exactly one attempt.

    >>> from enforcer.credentials.guard import LoginGuard
    >>> ok = Secret("right", "example")
    >>> found = discover("s/cam", "admin", [("current", Secret("wrong", "x")), ("previous", ok)],
    ...                  lambda role, pw: Attempt(ok=pw == ok), LoginGuard(), threshold_hint=5)
    >>> found.candidate, found.attempts
    ('previous', 1)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from enforcer.config.secrets import Secret
from enforcer.credentials.guard import LOWEST_THRESHOLD, LoginGuard, Refused
from enforcer.credentials.store import CredentialStore
from enforcer.drivers.base import Credentials
from enforcer.errors import DeviceError
from enforcer.facts import Candidate
from enforcer.model import Device

__all__ = ["Attempt", "Discovery", "LockedOut", "StoreCredentials", "candidates_for", "discover", "settle"]


class LockedOut(DeviceError):
    """The device reports our source locked out; come back after ``unlock_seconds`` (device time)."""

    def __init__(self, *, site: str, device: str, step: str, detail: str, unlock_seconds: float) -> None:
        super().__init__(site=site, device=device, step=step, detail=detail)
        self.unlock_seconds = unlock_seconds


@dataclass(frozen=True)
class Attempt:
    """What one login attempt came to, as the device said it."""

    ok: bool
    locked: bool = False
    unlock_seconds: float = 0.0
    attempts_left: int | None = None


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


def candidates_for(
    credentials: Credentials, device_id: str, user: str, desired: Secret | None
) -> list[tuple[Candidate, Secret]]:
    """The store's candidates, then ``desired`` if new; each password once, under its first role."""
    out: list[tuple[Candidate, Secret]] = []
    extra: list[tuple[Candidate, Secret]] = [("desired", desired)] if desired is not None else []
    for role, secret in [*credentials.candidates(device_id, user), *extra]:
        if all(secret != seen for _, seen in out):
            out.append((role, secret))
    return out


def discover(
    device_id: str,
    user: str,
    candidates: Sequence[tuple[Candidate, Secret]],
    try_login: Callable[[Candidate, Secret], Attempt],
    guard: LoginGuard,
    *,
    threshold_hint: int | None = None,
) -> Discovery:
    """Find the working credential, spending at most one attempt per candidate.

    ``threshold_hint`` is the device's own count of attempts our source has left, read for free
    before any attempt (``retryLoginTime`` of an unauthenticated ``userCheck``). It lets the guard
    allow a second candidate on a device that can absorb it; without it the guard assumes the
    lowest threshold any firmware has (3), which leaves room for one failed attempt only.
    ``try_login`` sends one request through the guard (check, then record); discovery asks the guard
    first as well, so a refusal stops it before anything is sent.
    """
    if threshold_hint is not None and threshold_hint > LOWEST_THRESHOLD:
        guard.set_threshold(device_id, threshold_hint)
    if not candidates:
        return Discovery(None, None, 0, reason=f"no stored or desired password for {user}")
    failures = 0
    tried: list[Candidate] = []
    for role, secret in candidates:
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


class StoreCredentials:
    """:class:`~enforcer.drivers.base.Credentials` over the credential store and the desired state.

    Roles come from the store's slots (current, pending, previous), then the desired password.
    Without a store (none yet), only the desired password is a candidate.
    """

    def __init__(self, store: CredentialStore | None, devices: Iterable[Device] = ()) -> None:
        self._store = store
        self._devices = {d.id: d for d in devices}

    def candidates(self, device: str, user: str) -> list[tuple[Candidate, Secret]]:
        out: list[tuple[Candidate, Secret]] = []
        entry = self._store.get(device, user) if self._store is not None else None
        if entry is not None:
            for role, value in (("current", entry.current), ("pending", entry.pending), ("previous", entry.previous)):
                if value is not None and all(value != seen for _, seen in out):
                    out.append((role, value))  # type: ignore[arg-type]
        desired = self._devices.get(device)
        account = desired.account(user) if desired is not None else None
        if account is not None and account.password is not None and all(account.password != s for _, s in out):
            out.append(("desired", account.password))
        return out
