"""What the ISAPI and Dahua account writes share: whether the device is known to hold a password
already, and the read-back after a write. The vendor supplies the session and its account list."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from enforcer.config.secrets import Secret
from enforcer.drivers._wire.session import DeviceSession
from enforcer.drivers._wire.settings import Error
from enforcer.drivers.base import Credentials, DriverOptions
from enforcer.facts import AccountFact
from enforcer.model import Account, Device


def current_password(credentials: Credentials, device_id: str, name: str) -> Secret | None:
    """The credential store's ``current`` password of ``name`` on ``device_id``, if any."""
    return next((s for role, s in credentials.candidates(device_id, name) if role == "current"), None)


class _Driver(Protocol):
    """What :func:`known_password` reads from either vendor's driver."""

    @property
    def credentials(self) -> Credentials: ...

    @property
    def device(self) -> Device: ...

    @property
    def options(self) -> DriverOptions: ...

    @property
    def session(self) -> DeviceSession: ...


def known_password(drv: _Driver, name: str, password: Secret) -> bool:
    """Whether the device is known to hold ``password`` for ``name`` already: the login user's is the
    one the session works with, another account's is the store's ``current``."""
    if name == drv.options.login_user:
        return drv.session.password == password
    return current_password(drv.credentials, drv.device.id, name) == password


class _Listed(Protocol):
    """An account as either vendor lists it."""

    @property
    def id(self) -> str | None: ...

    @property
    def level(self) -> str | None: ...


def level_changes(have: _Listed, account: Account) -> bool:
    """Whether ``have`` is at another level than ``account`` declares; never the built-in administrator
    (id 1), whose level no device lets change."""
    return have.level != account.level and have.id != "1"


def verify_account(account: Account, listed: Iterable[AccountFact], error: Error) -> None:
    """After a write: the device lists ``account`` at its level (id 1 and unmapped levels aside)."""
    step = f"account {account.name}"
    found = next((a for a in listed if a.name == account.name), None)
    if found is None:
        raise error(step, "the device does not list the account after the write")
    if found.level is not None and level_changes(found, account):
        raise error(step, f"the device reports level {found.level} after the write")
