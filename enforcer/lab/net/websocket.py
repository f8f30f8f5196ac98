"""WebSocket (RFC 6455) on the lab's HTTP server: the upgrade handshake and text frames, server side.

Enough for the event APIs the lab serves (Milestone's Events and State API, protocols/clients.md §1.4a):
text messages, ping/pong and the closing handshake; a client's frames must be masked, as the RFC says,
and a fragmented or binary message closes the connection with 1003. The endpoint hands the connection
over after the ``101`` reply (:class:`~enforcer.lab.net.httpserver.Response` ``upgrade``); from then on
:class:`WebSocket` receives its bytes.

    >>> accept_key("dGhlIHNhbXBsZSBub25jZQ==")
    's3pPLMBiTxaQ9kYGzzhZRbK+xOo='
"""

from __future__ import annotations

import base64
import hashlib
import struct
from collections.abc import Callable

from enforcer.lab.net.httpserver import Request, Response, Tunnel

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TEXT, BINARY, CLOSE, PING, PONG = 0x1, 0x2, 0x8, 0x9, 0xA
MAX_MESSAGE = 1 << 20


def accept_key(key: str) -> str:
    """The ``Sec-WebSocket-Accept`` value answering ``key``."""
    return base64.b64encode(hashlib.sha1((key + GUID).encode("ascii"), usedforsecurity=False).digest()).decode()


def is_upgrade(req: Request) -> bool:
    """Whether ``req`` asks for a WebSocket."""
    connection = {t.strip().lower() for t in req.headers.get("connection", "").split(",")}
    return req.headers.get("upgrade", "").lower() == "websocket" and "upgrade" in connection


def frame(opcode: int, payload: bytes) -> bytes:
    """One final, unmasked frame (server to client)."""
    size = len(payload)
    if size < 126:
        head = struct.pack("!BB", 0x80 | opcode, size)
    elif size < 1 << 16:
        head = struct.pack("!BBH", 0x80 | opcode, 126, size)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 127, size)
    return head + payload


class WebSocket:
    """One accepted WebSocket: feeds ``on_text`` each text message, answers pings, closes politely."""

    def __init__(
        self, write: Callable[[bytes], None], close: Callable[[], None], on_text: Callable[[WebSocket, str], None]
    ) -> None:
        self._write, self._close, self._on_text = write, close, on_text
        self._buffer = bytearray()
        self.closed = False
        self.on_lost: Callable[[], None] | None = None

    def send_text(self, text: str) -> None:
        if not self.closed:
            self._write(frame(TEXT, text.encode("utf-8")))

    def close(self, code: int = 1000) -> None:
        if not self.closed:
            self._write(frame(CLOSE, struct.pack("!H", code)))
            self.closed = True
            self._close()

    # -- Tunnel ------------------------------------------------------------------------------------

    def receive(self, data: bytes) -> None:
        self._buffer.extend(data)
        while not self.closed:
            parsed = self._next_frame()
            if parsed is None:
                return
            fin, opcode, payload = parsed
            if opcode == CLOSE:
                self.close()
            elif opcode == PING:
                self._write(frame(PONG, payload))
            elif opcode == TEXT and fin:
                try:
                    text = payload.decode("utf-8")
                except UnicodeDecodeError:
                    self.close(1007)
                    return
                self._on_text(self, text)
            elif opcode != PONG:
                self.close(1003)  # binary, fragmented or unknown: nothing the lab's APIs speak

    def lost(self) -> None:
        self.closed = True
        if self.on_lost is not None:
            self.on_lost()

    def _next_frame(self) -> tuple[bool, int, bytes] | None:
        buf = self._buffer
        if len(buf) < 2:
            return None
        fin, opcode = bool(buf[0] & 0x80), buf[0] & 0x0F
        masked, size, at = bool(buf[1] & 0x80), buf[1] & 0x7F, 2
        if size == 126:
            if len(buf) < 4:
                return None
            size, at = struct.unpack("!H", buf[2:4])[0], 4
        elif size == 127:
            if len(buf) < 10:
                return None
            size, at = struct.unpack("!Q", buf[2:10])[0], 10
        if not masked or size > MAX_MESSAGE:
            self.close(1002 if not masked else 1009)
            return None
        if len(buf) < at + 4 + size:
            return None
        mask = bytes(buf[at : at + 4])
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(buf[at + 4 : at + 4 + size]))
        del buf[: at + 4 + size]
        return fin, opcode, payload


def accept(req: Request, on_text: Callable[[WebSocket, str], None], opened: Callable[[WebSocket], None]) -> Response:
    """The ``101`` reply taking ``req``'s connection over: ``opened`` gets the socket, ``on_text`` its messages;
    400 for a request that is not a valid upgrade."""
    key = req.headers.get("sec-websocket-key", "")
    if not is_upgrade(req) or req.headers.get("sec-websocket-version") != "13" or not key:
        return Response(400, b"", content_type="text/plain", close=True)

    def upgrade(write: Callable[[bytes], None], close: Callable[[], None]) -> Tunnel:
        socket = WebSocket(write, close, on_text)
        opened(socket)
        return socket

    headers = [("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Accept", accept_key(key))]
    return Response(101, headers=headers, upgrade=upgrade)
