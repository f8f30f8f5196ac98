"""How a generated device behaves, per protocol family: its lab profile, lock policy and serial number.

Real firmware differs in ways enforcer must survive (protocols/hikvision-isapi.md §4,
protocols/dahua-cgi.md §2, §8), so the generator spreads those behaviours over the fleet. Every draw
comes from the generator's one random stream in a fixed order: a seed reproduces the fleet, and the
ISAPI draws are exactly the ones the generator has always made, so Hikvision and Annke fleets of a
given seed stay byte-identical.
"""

from __future__ import annotations

import random
import string
from collections.abc import Sequence
from typing import Literal

from enforcer.lab.generate.models import FAMILY, Family, Model
from enforcer.lab.spec import LabProfile, Role

__all__ = [
    "DAHUA_ATTEMPTS",
    "default_lock",
    "draw_lock",
    "failure_window",
    "illegal_basic_logon",
    "profile",
    "serial",
]

Scope = Literal["source", "source_user", "account"]
LockDefault = dict[str, int | bool]

#: What devices ship with, per family and role (dahua-cgi.md §2.1: ``5/1800`` recorders, ``5/300`` cameras).
_DEFAULT_LOCK: dict[tuple[Family, Role], LockDefault] = {
    ("isapi", "recorder"): {"enabled": True, "max_attempts": 5, "lock_minutes": 30},
    ("isapi", "camera"): {"enabled": True, "max_attempts": 7, "lock_minutes": 30},
    ("dahua", "recorder"): {"enabled": True, "max_attempts": 5, "lock_minutes": 30},
    ("dahua", "camera"): {"enabled": True, "max_attempts": 5, "lock_minutes": 5},
}
#: Lock times an installer leaves or picks, most likely first (weights 70, 20, 10).
_LOCK_MINUTES: dict[tuple[Family, Role], tuple[int, int, int]] = {
    ("isapi", "recorder"): (30, 10, 60),
    ("isapi", "camera"): (30, 10, 60),
    ("dahua", "recorder"): (30, 10, 60),
    ("dahua", "camera"): (5, 10, 30),
}
#: ``General.LockLoginTimes`` a Dahua device accepts (setConfig refuses others).
DAHUA_ATTEMPTS = (3, 10)
#: How long devices keep counting failed logins (``LabProfile.failure_window_seconds``), weights 70, 20, 10:
#: as long as their lock (the lab's default), ten minutes of their own, or for ever (today's firmware
#: that only a success, the lock or a reboot clears). Ten minutes still lets a channel polled every
#: 30 s with a stale password lock its camera, as in the field.
_WINDOWS: tuple[float | Literal["lock"] | None, ...] = ("lock", 600.0, None)
_ISAPI_SCOPES: tuple[Scope, ...] = ("source", "source_user", "account")
_DAHUA_SCOPES: tuple[Scope, ...] = ("account", "source", "source_user")


def default_lock(family: Family, role: Role) -> LockDefault:
    """The lock policy a ``family`` device in ``role`` ships with (a copy)."""
    return dict(_DEFAULT_LOCK[family, role])


def draw_lock(
    rng: random.Random, family: Family, role: Role, problems: Sequence[str], thresholds: Sequence[int] | None
) -> tuple[int, int]:
    """The device's lock threshold and minutes: mostly as shipped, or one of ``thresholds``."""
    usual = default_lock(family, role)["max_attempts"]
    floor = 4 if "unknown_password" in problems else 3  # room to try current, then previous
    attempts = rng.choice(thresholds) if thresholds else max(floor, usual if rng.random() < 0.5 else rng.randint(3, 7))
    minutes = rng.choices(_LOCK_MINUTES[family, role], [70, 20, 10])[0]
    return int(attempts), minutes


def profile(rng: random.Random, family: Family, role: Role, model: Model, problems: Sequence[str]) -> LabProfile:
    """The firmware behaviour of one device (``problems`` are the ones seeded on it)."""
    return _isapi(rng, role, model, problems) if family == "isapi" else _dahua(rng, role, model, problems)


def _isapi(rng: random.Random, role: Role, model: Model, problems: Sequence[str]) -> LabProfile:
    old = rng.random() < 0.1  # old firmware behaviour: no <loginPassword>, sometimes Basic
    scope = rng.choices(_ISAPI_SCOPES, [85, 12, 3])[0]
    return LabProfile(
        namespace=model.namespace,
        lock_scope="source" if "locked" in problems and scope == "account" else scope,
        retry_during_lock_resets_timer=rng.random() < 0.1,
        basic_allowed=old and rng.random() < 0.5,
        basic_attempt_counts=old and rng.random() < 0.5,
        lock_can_be_disabled="lock_disabled" in problems or rng.random() >= 0.15,
        requires_login_password=not old,
        lock_time_unit="seconds" if role == "recorder" and rng.random() < 0.25 else "minutes",
        reboot_seconds=float(rng.randint(90, 150) if role == "recorder" else rng.randint(45, 90)),
        upgrade_seconds=float(rng.randint(60, 180) if role == "recorder" else rng.randint(40, 90)),
    )


def _dahua(rng: random.Random, role: Role, model: Model, problems: Sequence[str]) -> LabProfile:
    """Dahua and Amcrest: the lock is the account's for everyone, unless the firmware keys it by source.

    A ``locked`` device is locked for enforcer's source only (the lab's ``locked_sources``): with an
    account-wide lock that would lock every client out too, so such a device keys its lock by source
    (or source and user). Never ``basic_only``: the driver refuses Basic, which its own test covers.
    """
    recorder = role == "recorder"
    scope = rng.choices(_DAHUA_SCOPES, [87, 10, 3])[0]
    if "locked" in problems and scope == "account":
        scope = rng.choices(_DAHUA_SCOPES[1:], [3, 1])[0]
    return LabProfile(
        namespace=model.namespace,
        lock_scope=scope,
        retry_during_lock_resets_timer=rng.random() < 0.1,
        lock_can_be_disabled=True,  # General.LockLoginEnable is always writable
        requires_login_password=False,
        lock_time_unit="seconds",  # General.LoginFailLockTime
        reboot_seconds=float(rng.randint(90, 150) if recorder else rng.randint(45, 90)),
        upgrade_seconds=float(rng.randint(60, 180) if recorder else rng.randint(40, 90)),
        max_attempts_range=DAHUA_ATTEMPTS,
        default_password="admin",
        nonce_policy=rng.choices(("reuse", "single_use", "single_use_403"), [80, 15, 5])[0],
        connection_close=recorder and rng.random() < 0.3,
        locked_http_status=403 if rng.random() < 0.3 else 401,
        lock_on_challenge=rng.random() < 0.5,
        unknown_config_status=403 if recorder and rng.random() < 0.5 else 400,
    )


def failure_window(serial: str) -> float | Literal["lock"] | None:
    """How long the device with ``serial`` keeps counting failed logins.

    Drawn from a stream of its own, seeded by the serial (itself drawn from the seed), so that every
    draw the generator made before this setting existed stays as it was: a seed's fleet is unchanged.
    """
    return random.Random(serial).choices(_WINDOWS, [70, 20, 10])[0]


def illegal_basic_logon(family: Family, role: Role, version: str, serial: str) -> bool:
    """Whether a camera counts a Basic logon as illegal even with the right password: Hikvision firmware
    5.3.0 and later, where Milestone's drivers, opening each conversation with one, caused the lock-outs
    of Milestone KB 000002183 (protocols/clients.md §1.5). Half of those cameras do (Milestone later
    improved its drivers; firmware differs), drawn from a stream of the serial's own, as
    :func:`failure_window` is, so that a seed's fleet is otherwise unchanged."""
    if family != "isapi" or role != "camera":
        return False
    parts = version.lstrip("Vv").split(".")
    try:
        major, minor = int(parts[0]), int(parts[1])
    except (IndexError, ValueError):
        return False
    return (major, minor) >= (5, 3) and random.Random(f"basic:{serial}").random() < 0.5


def serial(rng: random.Random, vendor: str, model: Model) -> str:
    """A serial number in the vendor's style (Dahua derives its digest realm from it)."""
    if FAMILY[vendor] == "isapi":
        return f"{model.name}20{model.build}CCWR{rng.randrange(10**9):09d}"
    if vendor == "amcrest":
        return "AMC0" + "".join(rng.choices("0123456789ABCDEF", k=14))
    return "".join(rng.choices(string.ascii_uppercase + string.digits, k=15))
