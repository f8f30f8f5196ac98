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
from typing import TYPE_CHECKING, ClassVar, Protocol, runtime_checkable

from enforcer.credentials.secret import Secret
from enforcer.facts import DeviceFacts, IPFilterFact, LockState, SecurityLog
from enforcer.model import Account, Device, Firmware, LockPolicy

if TYPE_CHECKING:
    from enforcer.credentials.keyring import Keyring

Progress = Callable[[float, str], None]  # (fraction done 0..1, what is happening)


@dataclass(frozen=True)
class Outcome:
    """What an ``ensure_*`` did: ``changed`` is False when the device already matched."""

    changed: bool
    detail: str = ""


_CLASSES = ("upper case", "lower case", "digits", "other characters")


@dataclass(frozen=True)
class PasswordRules:
    """What a vendor's firmware accepts as a password, so that one it would refuse never starts a change.

    >>> PasswordRules(min_length=8, max_length=32, min_classes=2).problem("short")
    'it must be 8 to 32 characters long'
    """

    min_length: int = 1
    max_length: int = 64
    min_classes: int = 1  # of upper case, lower case, digits and other characters
    forbidden: str = ""
    alphanumeric: bool = False  # letters and digits only (Milestone's hardware passwords)

    def problem(self, password: str) -> str | None:
        """Why the firmware would refuse ``password``, in words for a person; None when it would take it."""
        if not self.min_length <= len(password) <= self.max_length:
            return f"it must be {self.min_length} to {self.max_length} characters long"
        if any(c in self.forbidden for c in password):
            return f"it must not contain any of {' '.join(self.forbidden)}"
        if self.alphanumeric and not (password.isascii() and password.isalnum()):
            return "it may hold letters and digits only"
        present = [any(c.isupper() for c in password), any(c.islower() for c in password)]
        present += [any(c.isdigit() for c in password), any(not c.isalnum() for c in password)]
        if sum(present) < self.min_classes:
            counts = {1: "one", 2: "two", 3: "three", 4: "all"}
            return f"it needs {counts[self.min_classes]} of {', '.join(_CLASSES[:-1])} and {_CLASSES[-1]}"
        return None


@dataclass(frozen=True)
class DriverOptions:
    """Settings every driver takes (its own are validated by the driver itself)."""

    timeout: float = 10.0
    firmware_timeout: float = 600.0
    source_address: str | None = None  # bind outgoing connections here (the lab gives each source its own)
    login_user: str = "admin"
    #: Real seconds per server second: the lab's ``--time-scale``, by which a client driver scales the waits
    #: it chooses itself (a token's renewal, a task's polling, a reconnection it waits for).
    time_scale: float = 1.0


@runtime_checkable
class DeviceDriver(Protocol):
    """What every device driver does; constructed as ``Driver(device, keyring=..., options=...)``."""

    #: The wire protocol's name, as reports show it (``isapi``, ``dahua``).
    protocol: ClassVar[str]
    #: What the firmware accepts as a password.
    password_rules: ClassVar[PasswordRules]

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
        """Release connections; the driver may be used again after (it reconnects), keeping what it learnt."""
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


@runtime_checkable
class SupportsSecurityLog(Protocol):
    def failed_logins(self, since: float) -> SecurityLog:
        """Failed logins and locks the device's own log recorded since ``since`` (UTC epoch seconds).

        Read-only, after :meth:`DeviceDriver.facts` proved the login: it sends only that proven credential,
        so it spends no failed attempt. A log the firmware lacks is a :class:`~enforcer.facts.Gap` in the
        result (``security_log``), never an error; the driver's own address and account are *not* left
        out here: attributing sources is the audit's business."""
        ...


class DriverFactory(Protocol):
    """A driver class: what the registry hands out for a vendor."""

    protocol: ClassVar[str]
    password_rules: ClassVar[PasswordRules]
    #: The port of the maker's own protocol, where a recorder's channel speaking it points (a device's
    #: ``sdk_port`` when the inventory gives none).
    sdk_port: ClassVar[int]

    def __call__(self, device: Device, *, keyring: Keyring, options: DriverOptions) -> DeviceDriver: ...
