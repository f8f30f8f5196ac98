"""The Driver interface: the only layer that talks to devices; everything above it is pure.

A driver is a small required protocol (:class:`DeviceDriver`); optional abilities are separate
protocols the executor checks for with ``isinstance`` (:class:`SupportsFirmware`, ...). Vendors are
added by registering a driver under the ``enforcer.drivers`` entry-point group, keyed by protocol
name (``isapi``, ``dahua``), never by touching the engine.

Invariants every implementation keeps:

- every login goes through the :class:`~enforcer.credentials.guard.LoginGuard`;
- every ``ensure_*`` is idempotent: it re-reads, compares, writes only if different, and verifies
  the write took; it returns whether it changed anything;
- one request at a time per device, so a lock is seen before the next attempt;
- third-party errors (HTTP, XML, sockets) surface as :class:`~enforcer.errors.DeviceError` naming the
  site, device, step and what the device said; no secret value in any message.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from typing import Protocol, runtime_checkable

from enforcer.config.secrets import Secret
from enforcer.credentials.guard import LoginGuard
from enforcer.facts import Candidate, DeviceFacts, IPFilterFact, LockState, LoginFact
from enforcer.model import Account, Device, Firmware, LockPolicy

Progress = Callable[[float, str], None]  # (fraction done 0..1, what is happening)


@dataclass(frozen=True)
class Outcome:
    """What an ``ensure_*`` did: ``changed`` is False when the device already matched."""

    changed: bool
    detail: str = ""


class Credentials(Protocol):
    """Where a driver gets the passwords to try, by their role in the credential store."""

    def candidates(self, device: str, user: str) -> list[tuple[Candidate, Secret]]:
        """Known passwords for ``user`` on ``device``, most likely first, without duplicates."""
        ...


@dataclass(frozen=True)
class DriverOptions:
    """Settings every driver takes (its own are validated by the driver itself)."""

    timeout: float = 10.0
    firmware_timeout: float = 600.0
    source_address: str | None = None  # bind outgoing connections here (the lab gives each source its own)
    login_user: str = "admin"


@runtime_checkable
class DeviceDriver(Protocol):
    """What every device driver does."""

    #: Which stored credential discovery proved (``None`` until facts are read); the run renames it once
    #: the credential store records that password as current.
    login: LoginFact | None

    def facts(self) -> DeviceFacts:
        """Read everything the planner needs, spending at most one attempt per candidate credential."""
        ...

    def lock_state(self) -> LockState:
        """Whether our source is locked now, without spending an attempt where the protocol allows."""
        ...

    def ensure_account(self, account: Account) -> Outcome:
        """Make the account exist with this level and password (or not exist, if not ``present``)."""
        ...

    def ensure_lock_policy(self, policy: LockPolicy) -> Outcome:
        """Set the illegal-login lock; a firmware that cannot do it raises DeviceError saying so."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


@runtime_checkable
class SupportsFirmware(Protocol):
    def ensure_firmware(self, firmware: Firmware, *, progress: Progress | None = None) -> Outcome:
        """Upload, follow progress, reboot, wait for the device and check the version; refuses an image
        whose sha256 does not match ``firmware.sha256``."""
        ...


@runtime_checkable
class SupportsChannels(Protocol):
    def ensure_channel(self, channel: int, *, address: str, port: int, user: str, password: Secret) -> Outcome:
        """Make the recorder's stored credential for ``channel`` log into that camera."""
        ...


@runtime_checkable
class SupportsIPFilter(Protocol):
    def read_ip_filter(self) -> IPFilterFact:
        """The IP filter as the device has it now (one read, not a whole facts gathering)."""
        ...

    def ensure_ip_filter(self, wanted: IPFilterFact) -> Outcome:
        """Set the IP filter (the isolation tool); returns once the device reports it."""
        ...


@runtime_checkable
class SupportsReboot(Protocol):
    def reboot(self, *, wait: bool = True) -> None:
        """Reboot; with ``wait``, return once the device answers again."""
        ...


class DriverFactory(Protocol):
    def __call__(
        self, device: Device, *, guard: LoginGuard, credentials: Credentials, options: DriverOptions
    ) -> DeviceDriver: ...


ENTRY_POINT_GROUP = "enforcer.drivers"


@cache
def driver_for(protocol: str) -> DriverFactory:
    """The registered driver factory for ``protocol`` (``isapi``, ``dahua``); looked up once."""
    for entry in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if entry.name == protocol:
            factory: DriverFactory = entry.load()
            return factory
    known = sorted(e.name for e in metadata.entry_points(group=ENTRY_POINT_GROUP))
    raise LookupError(f"no driver registered for protocol {protocol!r} (registered: {', '.join(known) or 'none'})")
