"""A recorder's live channel status, whatever protocol shows it.

The recorder's poller (``recorder.ChannelPoller``) writes each channel's login result here; ISAPI
shows it as ``chanDetectResult``, Dahua as ``getCameraState``. Results: ``connect``,
``errorUserNameOrPasswd``, ``netUnreachable``, ``unknownError``; ``connecting`` until the first poll.
"""

from __future__ import annotations

from dataclasses import dataclass

from enforcer.lab.spec import LabChannel, LabDevice


@dataclass
class ChannelStatus:
    online: bool = False
    result: str = "connecting"


class ChannelTable:
    """Live status of each channel of a recorder, keyed by channel id."""

    def __init__(self, spec: LabDevice) -> None:
        self.spec = spec
        self.status: dict[int, ChannelStatus] = {c.id: ChannelStatus() for c in spec.channels}

    def get(self, channel_id: int) -> LabChannel | None:
        return next((c for c in self.spec.channels if c.id == channel_id), None)

    def set_result(self, channel_id: int, result: str) -> bool:
        """Record a poll result; returns whether it changed."""
        st = self.status.setdefault(channel_id, ChannelStatus())
        changed = st.result != result
        st.result, st.online = result, result == "connect"
        return changed

    def reset(self) -> None:
        for st in self.status.values():
            st.online, st.result = False, "connecting"
