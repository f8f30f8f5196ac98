"""``GET /ISAPI/Event/notification/alertStream``: the event stream clients such as Home Assistant hold open.

A ``multipart/mixed; boundary=boundary`` reply that never ends, without ``Content-Length``, one
``EventNotificationAlert`` per part. Cameras send a ``videoloss`` / ``inactive`` part every ten seconds or
so as a keep-alive (pyhik's watchdog relies on it; ``profile.alert_heartbeat_seconds`` of device time),
and an ``illaccess`` part when a login fails, so a client subscribed to a recorder sees the illegal
logins a stale client makes. Parts are pretty-printed, one element a line, as devices send them:
line-oriented clients need the opening and closing tags on lines of their own.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from enforcer.lab.isapi.xml import NAMESPACES, value
from enforcer.lab.net.digest import md5_hex
from enforcer.lab.net.httpserver import Request, Response

if TYPE_CHECKING:
    from enforcer.lab.isapi.device import HikDevice, Session

__all__ = ["AlertHub", "register"]

BOUNDARY = "boundary"
Writer = Callable[[bytes], None]


class AlertHub:
    """The open alert streams of one device, and the keep-alive that runs while any is open."""

    def __init__(self, dev: HikDevice) -> None:
        self.dev = dev
        self.streams: dict[int, Writer] = {}
        self._ids = itertools.count(1)
        self._beating = False

    def attach(self, write: Writer) -> Callable[[], None]:
        """Start sending parts to ``write``; returns what stops it."""
        key = next(self._ids)
        self.streams[key] = write
        if not self._beating:
            self._beating = True
            self.dev.host.call_later(0.0, self._beat)

        def detach() -> None:
            self.streams.pop(key, None)

        return detach

    def publish(self, event: str, state: str, description: str, *, channel: int = 1, address: str = "") -> None:
        """One part to every open stream (``address``: whom an ``illaccess`` alarm is about)."""
        if not self.streams:
            return
        part = self._part(event, state, description, channel, address)
        for write in list(self.streams.values()):
            write(part)

    def _beat(self) -> None:
        if not self.streams:
            self._beating = False
            return
        self.publish("videoloss", "inactive", "videoloss alarm")
        self.dev.host.call_later(self.dev.profile.alert_heartbeat_seconds, self._beat)

    def _part(self, event: str, state: str, description: str, channel: int, address: str) -> bytes:
        spec = self.dev.spec
        mac = md5_hex(spec.serial)
        when = datetime.fromtimestamp(self.dev.host.clock.wall(), UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")
        ns = NAMESPACES[self.dev.namespace]
        xmlns = f' xmlns="{ns}"' if ns else ""
        fields = [
            ("ipAddress", spec.address),
            ("portNo", spec.port),
            ("protocol", spec.scheme.upper()),
            ("macAddress", ":".join(mac[i : i + 2] for i in range(0, 12, 2))),
            ("channelID", channel),
            ("dateTime", when),
            ("activePostCount", 1 if state == "active" else 0),
            ("eventType", event),
            ("eventState", state),
            ("eventDescription", description),
        ]
        if address:
            fields.append(("remoteHostIPAddress", address))
        lines = [
            '<?xml version="1.0" encoding="UTF-8"?>',
            f'<EventNotificationAlert version="{self.dev.profile.xml_version}"{xmlns}>',
            *(f"<{k}>{value(v)}</{k}>" for k, v in fields),
            "</EventNotificationAlert>",
        ]
        body = ("\r\n".join(lines) + "\r\n").encode()
        head = f'--{BOUNDARY}\r\nContent-Type: application/xml; charset="UTF-8"\r\nContent-Length: {len(body)}\r\n\r\n'
        return head.encode() + body


def alert_stream(dev: HikDevice, req: Request, s: Session) -> Response:
    return Response(
        200,
        content_type=f"multipart/mixed; boundary={BOUNDARY}",
        headers=[("MIME-Version", "1.0")],
        stream=dev.alerts.attach,
    )


def register(route: Callable[..., None]) -> None:
    route(r"/ISAPI/Event/notification/alertStream", GET=alert_stream)
