"""The Milestone XProtect client driver (protocols/clients.md §1), registered as ``milestone``.

XProtect's recording server logs into every enabled hardware item with the password its management server
stores; after a device's password changes it retries the old one until the device locks (§1.5). So:

- **facts**: the hardware items (``GET /hardware?disabled``: address, user, enabled) and whether the recording
  server talks to each (the Events and State API, §1.4a); a held device XProtect does not store, or logs
  into as another user, is an error here, before any device changes;
- **standing**: which held items are enabled now (what release restores);
- **isolate**: ``PATCH enabled:false`` on each, then addressed by id only (the plain list omits them);
- **update**: ``ChangePasswordHardware`` with ``updatePasswordOnDevice:false`` (:mod:`._tasks`);
- **release**: ``enabled:true`` on exactly the items standing recorded as enabled;
- **verify**: the recording server communicates with each held, enabled item again, within a bounded wait.

Items are matched to devices by address (and port, when the item's address gives one).

    >>> from enforcer.drivers.registry import client_for
    >>> client_for("milestone") is MilestoneClient
    True
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from enforcer.drivers.base import DriverOptions, Outcome, PasswordRules
from enforcer.drivers.client import ClientFacts, Held, Standing, StoredPath
from enforcer.drivers.milestone import _events, _tasks
from enforcer.drivers.milestone._api import Api
from enforcer.drivers.milestone._parse import Hardware, ReplyError, hardware_item, hardware_list
from enforcer.errors import DeviceError
from enforcer.model import Client, MilestoneSettings

if TYPE_CHECKING:
    from enforcer.credentials.keyring import Keyring

VERIFY_SECONDS = 180.0  # how long the recording server may take to reconnect (server seconds)
VERIFY_POLL = 2.0


class MilestoneClient:
    """One XProtect management server, as the inventory's ``kind: milestone`` client."""

    kind: ClassVar[str] = "milestone"
    updatable: ClassVar[bool] = True
    #: Milestone's rule for a hardware password (MilestonePSTools ``Set-VmsHardware``): at most 64 characters,
    #: letters and digits only, with an upper-case letter, a lower-case letter and a digit.
    password_rules: ClassVar[PasswordRules | None] = PasswordRules(max_length=64, min_classes=3, alphanumeric=True)

    def __init__(self, client: Client, *, keyring: Keyring, options: DriverOptions) -> None:
        if not isinstance(client.settings, MilestoneSettings):
            raise DeviceError(site=client.site, device=client.name, step="connect", detail="not a milestone client")
        self.client, self.options = client, options
        self.api = Api(client, client.settings, options)

    # -- reading ------------------------------------------------------------------------------------

    def _items(self, step: str) -> list[Hardware]:
        _, body = self.api.call(step, "GET", "/hardware?disabled")
        try:
            return hardware_list(body)
        except ReplyError as exc:
            raise self.api.error(step, str(exc)) from None

    def _item(self, step: str, hw_id: str) -> Hardware | None:
        status, body = self.api.call(step, "GET", f"/hardware/{hw_id}", allow=(200, 404))
        if status == 404:
            return None
        try:
            return hardware_item(body)
        except ReplyError as exc:
            raise self.api.error(step, str(exc)) from None

    def _held(self, step: str, held: Sequence[Held], items: list[Hardware]) -> list[tuple[Held, list[Hardware]]]:
        """Each credential path with the items that are its device; DeviceError when XProtect stores none, or
        logs in as another user than the inventory says."""
        out = []
        for path in held:
            device = path.device
            found = [hw for hw in items if hw.serves(device.address, device.port)]
            if not found:
                raise self.api.error(
                    step,
                    f"{device.name} ({device.address}:{device.port}) is not among the hardware XProtect stores: add "
                    f"it in the Management Client, or take it out of {self.client.name}'s holds",
                )
            other = next((hw for hw in found if hw.user != path.user), None)
            if other is not None:
                raise self.api.error(
                    step,
                    f"XProtect logs into {device.name} as {other.user!r} (hardware {other.name}), the inventory says "
                    f"{path.user!r}: correct the user in {self.client.name}'s holds",
                )
            out.append((path, found))
        return out

    def facts(self, held: Sequence[Held]) -> ClientFacts:
        items = self._items("facts")
        matched = self._held("facts", held, items)
        ids = [hw.id for _, found in matched for hw in found if hw.enabled]
        online = _events.connected(self.api, "facts", ids)
        stored = tuple(
            StoredPath(
                hw.address, hw.user, hw.enabled, online.get(hw.id) if online is not None and hw.enabled else None
            )
            for hw in items
        )
        seen = "" if online is not None else "; no Events and State API: connections not seen"
        detail = f"{len(items)} hardware items, {sum(hw.enabled for hw in items)} enabled{seen}"
        return ClientFacts(
            self.client.id, stored, running=any(hw.enabled for _, f in matched for hw in f), detail=detail
        )

    def standing(self, held: Sequence[Held]) -> Standing:
        matched = self._held("isolate", held, self._items("isolate"))
        return {"enabled": {hw.id: hw.enabled for _, found in matched for hw in found}}

    # -- changing -----------------------------------------------------------------------------------

    def _set_enabled(self, step: str, hw: Hardware, enabled: bool) -> None:
        _, body = self.api.call(step, "PATCH", f"/hardware/{hw.id}", body={"enabled": enabled})
        try:
            now = hardware_item(body)
        except ReplyError as exc:
            raise self.api.error(step, f"{hw.name}: {exc}") from None
        if now.enabled != enabled:
            raise self.api.error(step, f"{hw.name}: XProtect answered the change but shows enabled={now.enabled}")

    def isolate(self, held: Sequence[Held]) -> Outcome:
        matched = self._held("isolate", held, self._items("isolate"))
        changed = [hw for _, found in matched for hw in found if hw.enabled]
        for hw in changed:
            self._set_enabled("isolate", hw, False)
        return Outcome(bool(changed), f"disabled {', '.join(hw.name for hw in changed)}" if changed else "")

    def update(self, held: Sequence[Held]) -> Outcome:
        rules = self.password_rules
        matched = self._held("update", held, self._items("update"))
        done = []
        for path, found in matched:
            problem = rules.problem(path.password.reveal()) if rules is not None else None
            if problem is not None:
                raise self.api.error("update", f"XProtect would refuse {path.device.name}'s password: {problem}")
            for hw in found:
                _tasks.store(self.api, "update", hw, path.password)
                done.append(hw.name)
        return Outcome(bool(done), f"stored for {', '.join(done)}" if done else "")

    def release(self, held: Sequence[Held], standing: Standing) -> Outcome:
        recorded = standing.get("enabled")
        if not isinstance(recorded, dict):
            raise self.api.error("release", "the recorded isolation is not this driver's: restore by hand")
        enabled, gone = [], []
        for hw_id, was in recorded.items():
            if not was:
                continue  # disabled before we came: it stays so
            hw = self._item("release", str(hw_id))
            if hw is None:
                gone.append(str(hw_id))
            elif not hw.enabled:
                self._set_enabled("release", hw, True)
                enabled.append(hw.name)
        detail = f"enabled {', '.join(enabled)}" if enabled else ""
        if gone:
            detail += ("; " if detail else "") + f"hardware {', '.join(gone)} no longer exists"
        return Outcome(bool(enabled), detail)

    def verify(self, held: Sequence[Held]) -> str:
        matched = self._held("verify", held, self._items("verify"))
        items = [hw for _, found in matched for hw in found]
        live = [hw for hw in items if hw.enabled]
        off = [hw.name for hw in items if not hw.enabled]
        scale = self.options.time_scale
        deadline = time.monotonic() + VERIFY_SECONDS * scale
        while True:
            states = _events.connected(self.api, "verify", [hw.id for hw in live])
            if states is None:
                return "connections not seen: XProtect has no Events and State API (2023 R3 and later)"
            waiting = [hw for hw in live if not states.get(hw.id)]
            if not waiting:
                break
            if time.monotonic() > deadline:
                names = ", ".join(f"{hw.name} (hardware {hw.id})" for hw in waiting)
                raise self.api.error(
                    "verify",
                    f"the recording server does not communicate with {names} after {VERIFY_SECONDS:g} s: check the "
                    "password XProtect stores for it and the device's own log",
                )
            time.sleep(max(0.05, VERIFY_POLL * scale))
        text = f"recording server connected to {len(live)} device{'s' * (len(live) != 1)}"
        return text + (f"; disabled in XProtect, not checked: {', '.join(off)}" if off else "")

    def close(self) -> None:
        self.api.close()
