"""A recorder's live channel status, whatever protocol shows it.

The recorder's poller (``recorder.ChannelPoller``) writes each channel's login result here; ISAPI
shows it as ``chanDetectResult``, Dahua as ``getCameraState``. Results: ``connect``,
``errorUserNameOrPasswd``, ``netUnreachable``, ``unknownError``; ``connecting`` until the first poll.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from enforcer.lab.spec import LabChannel, LabDevice


@dataclass
class ChannelStatus:
    online: bool = False
    result: str = "connecting"
    seen: str = ""  # the camera the recorder last connected to on this channel ("" before it ever did)


class ChannelTable:
    """A recorder's channels (``spec.channels``, kept in id order) and the live status of each.

    ``locate(address, port)`` names the lab device listening there, if any: a channel pointed at
    one takes its name.
    """

    def __init__(self, spec: LabDevice, locate: Callable[[str, int], str | None] | None = None) -> None:
        self.spec = spec
        self.locate = locate
        self.status: dict[int, ChannelStatus] = {c.id: ChannelStatus() for c in spec.channels}

    def get(self, channel_id: int) -> LabChannel | None:
        return next((c for c in self.spec.channels if c.id == channel_id), None)

    def by_id(self) -> dict[int, LabChannel]:
        """Every channel by id (one lookup table for a request that reads many)."""
        return {c.id: c for c in self.spec.channels}

    @staticmethod
    def blank(channel_id: int) -> LabChannel:
        """A new channel, not added yet: ``admin`` on port 80, nowhere."""
        return LabChannel(id=channel_id, camera="", address="", port=80, user="admin", password="")

    def add(self, ch: LabChannel) -> None:
        """Add ``ch`` in id order."""
        at = next((i for i, c in enumerate(self.spec.channels) if c.id > ch.id), len(self.spec.channels))
        self.spec.channels.insert(at, ch)

    def update(
        self,
        ch: LabChannel,
        *,
        address: str,
        port: int,
        user: str,
        password: str,
        name: str | None,
        protocol: Literal["vendor", "onvif"] | None = None,
    ) -> None:
        """Point ``ch`` at ``address:port``; it takes the name of the lab device there, else ``name``."""
        ch.address, ch.port, ch.user, ch.password = address, port, user, password
        ch.protocol = protocol or ch.protocol
        ch.camera = (self.locate(address, port) if self.locate else None) or name or ch.camera

    def remove(self, ch: LabChannel) -> None:
        self.spec.channels.remove(ch)
        self.status.pop(ch.id, None)

    def set_result(self, channel_id: int, result: str) -> bool:
        """Record a poll result; returns whether it changed."""
        st = self.status.setdefault(channel_id, ChannelStatus())
        changed = st.result != result
        st.result, st.online = result, result == "connect"
        ch = self.get(channel_id)
        if st.online and ch is not None:
            st.seen = ch.camera
        return changed

    def reset(self) -> None:
        for st in self.status.values():
            st.online, st.result = False, "connecting"
