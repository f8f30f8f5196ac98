"""The client driver interface: what enforcer does with something that stores device credentials.

A client (a VMS, a Linux host running NVR software, a phone app) logs into devices with passwords it
keeps; after a change it holds stale ones until it is updated, and retries them until the device
locks. Each client kind is one driver, registered under the ``enforcer.clients`` entry-point group
by kind name (``milestone``, ``ssh``, ``manual``), as device drivers are under ``enforcer.vendors``.

A driver either has a way in (``updatable``): it can be taken off its devices (isolate), given the
new passwords (update), put back exactly as it was (release) and checked (verify); or it has none
(a phone app): the plan keeps it out at the device by address and lists it on the checklist.

Invariants every implementation keeps:

- ``standing()`` only reads; it returns what ``release`` must restore, as JSON-ready data, so that the
  engine records it durably (in the credential store) *before* ``isolate`` changes anything;
- ``isolate``, ``update`` and ``release`` are idempotent: run twice after a crash, they do no harm;
- ``update`` verifies its write took (a config file read back, a task's final state), and a client
  that refuses a change is left as it was (a host's previous config restored);
- no secret value in any message; third-party errors surface as DeviceError naming the site, client
  and step.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

from enforcer.credentials.secret import Secret
from enforcer.drivers.base import DriverOptions, Outcome, PasswordRules
from enforcer.model import Client, Device, Site

if TYPE_CHECKING:
    from enforcer.credentials.keyring import Keyring

#: What a client's isolation replaced, as the store keeps it (a driver's own, JSON-ready).
Standing = Mapping[str, Any]


@dataclass(frozen=True)
class Held:
    """A credential path as the client must hold it now: ``device``, logged into as ``user`` with ``password``."""

    device: Device
    user: str
    password: Secret


class HoldPath(Protocol):
    """A credential path as the inventory or a plan names it: ``device`` (a name in its site) as ``user``."""

    @property
    def device(self) -> str: ...

    @property
    def user(self) -> str: ...


def held_of(site: Site, holds: Iterable[HoldPath]) -> tuple[Held, ...]:
    """The credential paths as a client must hold them now: each device with the password it declares."""
    out = []
    for hold in holds:
        device = site.device(hold.device)
        account = device.account(hold.user) if device is not None else None
        if device is not None and account is not None and account.password is not None:
            out.append(Held(device, hold.user, account.password))
    return tuple(out)


@dataclass(frozen=True)
class StoredPath:
    """A device the client says it stores credentials for, and as whom (passwords are never read)."""

    address: str
    user: str | None
    enabled: bool | None = None  # the client uses it now (None: it does not say)
    online: bool | None = None  # its connection works now (None: it does not say)


@dataclass(frozen=True)
class ClientFacts:
    """What a client reports now; ``None`` where it cannot tell."""

    client: str  # site/name
    stored: tuple[StoredPath, ...] = ()
    running: bool | None = None  # its service runs, or its devices are enabled
    detail: str = ""

    def path(self, address: str) -> StoredPath | None:
        return next((p for p in self.stored if p.address == address), None)


@runtime_checkable
class ClientDriver(Protocol):
    """What every client driver does; constructed as ``Driver(client, keyring=..., options=...)``."""

    #: The client kind it drives (the inventory's ``kind``).
    kind: ClassVar[str]
    #: Whether it has a way in; a client without one is kept out at the device and put on the checklist.
    updatable: ClassVar[bool]
    #: What the client accepts as a stored password (None: anything); the loader refuses a declared device
    #: password a holder would refuse, so that no change starts that the client phase would stop halfway.
    password_rules: ClassVar[PasswordRules | None]

    def facts(self, held: Sequence[Held]) -> ClientFacts:
        """What the client stores and whether it runs (read-only); DeviceError when it cannot hold ``held`` as
        the inventory says (it stores no such device, or logs in as another user): caught before any change."""
        ...

    def standing(self, held: Sequence[Held]) -> Standing:
        """What :meth:`isolate` would change, to be restored by :meth:`release` (read-only)."""
        ...

    def isolate(self, held: Sequence[Held]) -> Outcome:
        """Stop the client from logging into these devices (disable them in the VMS, stop the service)."""
        ...

    def update(self, held: Sequence[Held]) -> Outcome:
        """Make the client hold these credentials (every path it holds, changed or not); verified, and rolled
        back if the client refuses them."""
        ...

    def release(self, held: Sequence[Held], standing: Standing) -> Outcome:
        """Undo :meth:`isolate` exactly as ``standing`` says."""
        ...

    def verify(self, held: Sequence[Held]) -> str:
        """The client's connections to these devices work again (it may wait a bounded time); DeviceError if not."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


class ClientFactory(Protocol):
    """A client driver class: what the registry hands out for a kind."""

    kind: ClassVar[str]
    updatable: ClassVar[bool]
    password_rules: ClassVar[PasswordRules | None]

    def __call__(self, client: Client, *, keyring: Keyring, options: DriverOptions) -> ClientDriver: ...
