"""A recorder's channel loop: it really logs into each camera with each stored channel credential.

Every ``profile.channel_poll_seconds`` (device time) the recorder logs into each camera from its own
address, over HTTP digest on the login path of the camera's vendor (a channel speaking the maker's
own protocol points at the camera's SDK port, and is taken as such), and records the result: a stale
credential reads ``errorUserNameOrPasswd`` and, poll after poll, locks the camera for the recorder's address. A
changed channel is polled at once. A 401 is never retried within one poll. A login takes the channel's
credential when it starts: one begun before a change goes on with the old password
(``profile.channel_login_delay_seconds`` makes it take a while to reach the camera).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from typing import Protocol

from enforcer.lab.clients import CHANNEL_RESULTS, ISAPI_LOGIN_PATH, ClientHost, login
from enforcer.lab.device import SimDevice
from enforcer.lab.net.httpclient import Outcome
from enforcer.lab.spec import LabChannel


class RecorderHost(ClientHost, Protocol):
    def is_up(self, device: str) -> bool:
        """Whether the device is up (not rebooting)."""

    def sdk_port_of(self, device: str) -> int:
        """The device's SDK port (its maker's own protocol)."""


class ChannelPoller:
    """The login loop of one recorder over all its channels."""

    def __init__(self, device: SimDevice, host: RecorderHost) -> None:
        self.device = device
        self.host = host
        self.due: dict[int, float] = {}
        self.polls = 0
        self._wake = asyncio.Event()

    def poll_now(self, channel_id: int | None = None) -> None:
        """Poll one channel (or all) as soon as possible."""
        ids = [channel_id] if channel_id is not None else list(self.due)
        for cid in ids:
            self.due[cid] = 0.0
        self._wake.set()

    def _target(self, ch: LabChannel) -> tuple[str, int, str, str] | None:
        """Where ``ch``'s logins go: ``(address, port, scheme, path)`` of the camera's HTTP endpoint, or
        ``None`` when the channel names a port its protocol is not spoken on (nothing ever answers).

        A channel speaking the maker's own protocol names the camera's SDK port; the lab has no SDK server,
        so the camera takes those logins on its HTTP endpoint, "as on port 8000": from the recorder's
        address, on the same lock budget, as protocol §2.4 says the SDK port does."""
        name = self.host.device_at(ch.address, ch.port)
        if name is None:
            return ch.address, ch.port, "http", ISAPI_LOGIN_PATH  # nothing there: the connection is refused
        found = self.host.endpoint_of(name)
        assert found is not None
        address, port, scheme = found
        kind = self.device.channel_port_kind(ch)
        if kind is not None and ch.port != (self.host.sdk_port_of(name) if kind == "sdk" else port):
            return None
        return address, port, scheme, self.host.login_path(name)

    async def _poll(self, ch: LabChannel) -> None:
        target, user, password = self._target(ch), ch.user, ch.password  # what this login goes on with
        source = self.device.spec.address
        delay = self.device.profile.channel_login_delay_seconds
        if delay:
            await asyncio.sleep(self.host.clock.real(delay))
        outcome: Outcome = "unreachable"
        if target is not None:
            address, port, scheme, path = target
            outcome = await login(self.host, address, port, scheme, source, user, password, path=path)
        self.polls += 1
        result = CHANNEL_RESULTS[outcome]
        if self.device.channels.set_result(ch.id, result):
            self.device.emit(
                "channel_status",
                source=self.device.spec.address,
                user=ch.user,
                channel=ch.id,
                camera=ch.camera,
                result=result,
            )

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            interval = self.host.clock.real(self.device.profile.channel_poll_seconds)
            now = loop.time()
            channels = list(self.device.spec.channels)
            live = {ch.id for ch in channels}
            for cid in list(self.due):
                if cid not in live:
                    del self.due[cid]
            for ch in channels:
                self.due.setdefault(ch.id, now + random.uniform(0, min(interval, 0.2)))
            ready = [ch for ch in channels if self.due[ch.id] <= now]
            if ready:
                for ch in ready:
                    self.due[ch.id] = now + interval
                if self.host.is_up(self.device.name):
                    await asyncio.gather(*(self._poll(ch) for ch in ready))
            nxt = min(self.due.values(), default=now + interval)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), max(0.0, nxt - loop.time()))
