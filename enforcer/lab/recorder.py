"""A recorder's channel loop: it really logs into each camera with each stored channel credential.

Every ``profile.channel_poll_seconds`` (device time) the recorder logs into each camera from its own
address, over HTTP digest on the login path of the camera's vendor, and records the result: a stale
credential reads ``errorUserNameOrPasswd`` and, poll after poll, locks the camera for the recorder's address. A
changed channel is polled at once. A 401 is never retried within one poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from typing import Protocol

from enforcer.lab.clients import CHANNEL_RESULTS, ISAPI_LOGIN_PATH, ClientHost, login
from enforcer.lab.device import SimDevice
from enforcer.lab.spec import LabChannel


class RecorderHost(ClientHost, Protocol):
    def is_up(self, device: str) -> bool:
        """Whether the device is up (not rebooting)."""


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

    async def _poll(self, ch: LabChannel) -> None:
        scheme, path = "http", ISAPI_LOGIN_PATH
        name = self.host.device_at(ch.address, ch.port)
        if name is not None:
            found = self.host.endpoint_of(name)
            scheme = found[2] if found else scheme
            path = self.host.login_path(name)
        source = self.device.spec.address
        outcome = await login(self.host, ch.address, ch.port, scheme, source, ch.user, ch.password, path=path)
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
