"""The recording server: it really logs into every enabled hardware item, with the stored credential.

Every ``poll_seconds`` (device time) it logs into each enabled item's device from the management
server's address, over digest on the login path of the device's vendor (the lab's own login code, as the
viewers and recorders use it). When it is not connected (the first time, after a failure, after the
item was enabled again or its password or address changed) it opens the conversation with a Basic
logon first, as Milestone's drivers do: Hikvision firmware that counts that logon as illegal
(``LabProfile.illegal_basic_logon``) spends an attempt of the recording server's budget each time, and a
stale stored password spends two (protocols/clients.md §1.5).

Disabling an item stops its logins at once; a changed item is polled again at once (§1.6, item 5). Each
change of an item's communication state (``started``, ``stopped``, ``error``) goes to the Events and State
API (:mod:`.events`); each change of a login's outcome is a ``client_status`` event in the events file, as
for the lab's viewers, under the device's name, from the server's address.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from typing import TYPE_CHECKING, Literal

from enforcer.lab.clients import login
from enforcer.lab.net.httpclient import Outcome
from enforcer.lab.spec import LabHardware

if TYPE_CHECKING:
    from enforcer.lab.milestone.server import MilestoneServer

State = Literal["started", "stopped", "error"]


class RecordingServer:
    """The login loop over a server's hardware items."""

    def __init__(self, server: MilestoneServer) -> None:
        self.server = server
        self.due: dict[str, float] = {}
        self.connected: dict[str, bool] = {}
        self.state: dict[str, State] = {h.id: "stopped" for h in server.spec.hardware}
        self.last: dict[str, Outcome] = {}
        self.polls = 0
        self._generation: dict[str, int] = {}  # a poll begun before a change does not report
        self._wake = asyncio.Event()

    def status(self, hw: LabHardware) -> dict[str, object]:
        """What the state file shows of ``hw``'s connection."""
        return {"state": self.state.get(hw.id, "stopped"), "last": self.last.get(hw.id)}

    def reconnect(self, hw: LabHardware) -> None:
        """``hw`` changed: drop its connection; a disabled item stops now, an enabled one connects again now."""
        self._generation[hw.id] = self._generation.get(hw.id, 0) + 1
        self.connected[hw.id] = False
        if not hw.enabled:
            self._set_state(hw, "stopped")
            return
        self.due[hw.id] = 0.0
        self._wake.set()

    async def _poll(self, hw: LabHardware) -> None:
        server, host = self.server, self.server.host
        generation = self._generation.get(hw.id, 0)
        name = host.device_at(hw.address, hw.port)
        endpoint = host.endpoint_of(name) if name is not None else None
        outcome: Outcome = "unreachable"
        user, password = hw.user, hw.password  # what this login goes on with
        if server.spec.login_delay_seconds:
            await asyncio.sleep(host.clock.real(server.spec.login_delay_seconds))
        if name is not None and endpoint is not None:
            address, port, scheme = endpoint
            opening = server.spec.opening_logon and not self.connected.get(hw.id, False)
            outcome = await login(
                host,
                address,
                port,
                scheme,
                server.spec.address,
                user,
                password,
                path=host.login_path(name),
                opening=opening,
            )
        self.polls += 1
        if not hw.enabled or generation != self._generation.get(hw.id, 0):
            return  # changed while the login was under way: the next poll reports
        self.connected[hw.id] = outcome == "ok"
        if outcome != self.last.get(hw.id):
            host.events.emit(
                hw.device,
                "client_status",
                source=server.spec.address,
                user=hw.user,
                client=server.name,
                hardware=hw.id,
                result=outcome,
            )
            server.host.state_changed()
        self.last[hw.id] = outcome
        self._set_state(hw, "started" if outcome == "ok" else "error")

    def _set_state(self, hw: LabHardware, state: State) -> None:
        if self.state.get(hw.id) == state:
            return
        self.state[hw.id] = state
        self.server.events.publish(hw, state)
        self.server.host.state_changed()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            interval = self.server.host.clock.real(self.server.spec.poll_seconds)
            now = loop.time()
            items = [h for h in self.server.spec.hardware if h.enabled]
            for hw in items:
                self.due.setdefault(hw.id, now + random.uniform(0, min(interval, 0.2)))
            ready = [h for h in items if self.due[h.id] <= now]
            for hw in ready:
                self.due[hw.id] = now + interval
            if ready:
                await asyncio.gather(*(self._poll(h) for h in ready))
            nxt = min((self.due[h.id] for h in items), default=now + interval)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), max(0.0, nxt - loop.time()))
