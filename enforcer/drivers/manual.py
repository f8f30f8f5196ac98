"""Manual clients: phone apps and desktop viewers with no API (protocols/clients.md §6).

Nothing can reach into them, so the plan keeps them out at the device (by the address they connect
from) while their password is stale, and lists them on the checklist of what a person must update by
hand. The driver says so, and refuses every action the engine must never ask of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar, NoReturn

from enforcer.drivers.base import DriverOptions, Outcome, PasswordRules
from enforcer.drivers.client import ClientFacts, Held, Standing
from enforcer.errors import DeviceError
from enforcer.model import Client

if TYPE_CHECKING:
    from enforcer.credentials.keyring import Keyring


class ManualClient:
    """A client a person updates by hand; registered as ``manual``."""

    kind: ClassVar[str] = "manual"
    updatable: ClassVar[bool] = False
    password_rules: ClassVar[PasswordRules | None] = None  # a person types whatever the device takes

    def __init__(self, client: Client, *, keyring: Keyring, options: DriverOptions) -> None:
        self.client = client

    def facts(self, held: Sequence[Held]) -> ClientFacts:
        return ClientFacts(self.client.id, detail="no API: what it holds is what the inventory says")

    def standing(self, held: Sequence[Held]) -> Standing:
        self._no_way_in("isolate")

    def isolate(self, held: Sequence[Held]) -> Outcome:
        self._no_way_in("isolate")

    def update(self, held: Sequence[Held]) -> Outcome:
        self._no_way_in("update")

    def release(self, held: Sequence[Held], standing: Standing) -> Outcome:
        self._no_way_in("release")

    def verify(self, held: Sequence[Held]) -> str:
        return "on the checklist (no API)"

    def close(self) -> None:
        pass

    def _no_way_in(self, step: str) -> NoReturn:
        raise DeviceError(
            site=self.client.site,
            device=self.client.name,
            step=step,
            detail="a manual client has no API: it is kept out at the device and updated by hand (the checklist)",
        )
