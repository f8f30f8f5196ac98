"""What the ISAPI and Dahua account writes share: which level changes, and the read-back after a write.

Whether the device already holds a password is the keys' to say (:meth:`DeviceKeys.holds`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from enforcer.drivers._wire.settings import Error
from enforcer.facts import AccountFact
from enforcer.model import Account


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
