"""A WebSocket client (RFC 6455) for the event APIs clients expose, trusted as the HTTP transport is.

``requests`` speaks no WebSocket, so this opens its own socket: bound to the source address, TLS verified
against the CA (or the system store) or checked against the pinned SHA-256 fingerprint of the
certificate *before* the upgrade request, which carries the bearer token, is sent. Text messages only
(JSON commands and replies), pings answered, frames masked as the RFC asks of clients. Failures are
:class:`~enforcer.errors.TransportError` (the connection) or :class:`~enforcer.errors.UpgradeRefused`
(the server answered the upgrade with a plain HTTP status), never with a header in the message.

    >>> accept_key("dGhlIHNhbXBsZSBub25jZQ==")
    's3pPLMBiTxaQ9kYGzzhZRbK+xOo='
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import socket
import ssl
import struct
import time
from urllib.parse import urlsplit

from enforcer.drivers._wire.http import Trust
from enforcer.errors import TransportError, UpgradeRefused

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TEXT, CLOSE, PING, PONG, CONTINUATION = 0x1, 0x8, 0x9, 0xA, 0x0
MAX_MESSAGE = 16 << 20
MAX_HEAD = 64 * 1024


def accept_key(key: str) -> str:
    """The ``Sec-WebSocket-Accept`` a server must answer ``key`` with."""
    return base64.b64encode(hashlib.sha1((key + GUID).encode("ascii"), usedforsecurity=False).digest()).decode()


def _context(trust: Trust) -> ssl.SSLContext:
    if trust.fingerprint:  # the pin replaces CA verification, checked before anything is sent
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    return ssl.create_default_context(cafile=trust.verify if isinstance(trust.verify, str) else None)


class WebSocket:
    """One open WebSocket; ``close`` it (or use it as a context manager)."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._buffer = b""

    @classmethod
    def connect(
        cls,
        url: str,
        *,
        headers: dict[str, str],
        trust: Trust,
        source_address: str | None,
        timeout: float,
    ) -> WebSocket:
        """Open ``url`` (``ws``/``wss`` or ``http``/``https``) with ``headers`` on the upgrade request."""
        parts = urlsplit(url)
        secure = parts.scheme in ("wss", "https")
        host = parts.hostname or ""
        port = parts.port or (443 if secure else 80)
        try:
            raw = socket.create_connection(
                (host, port), timeout=timeout, source_address=(source_address, 0) if source_address else None
            )
        except ConnectionRefusedError as exc:
            raise TransportError("refused", "connection refused (server down or port closed)") from exc
        except TimeoutError as exc:
            raise TransportError("timeout", f"no connection within {timeout:g} s") from exc
        except OSError as exc:
            raise TransportError("other", "cannot connect to the server") from exc
        sock: socket.socket = raw
        try:
            if secure:
                sock = _context(trust).wrap_socket(raw, server_hostname=host)
                if trust.fingerprint:
                    der = sock.getpeercert(binary_form=True) or b""
                    if hashlib.sha256(der).hexdigest() != trust.fingerprint:
                        raise TransportError("tls", "TLS: the certificate does not match the pinned fingerprint")
            ws = cls(sock)
            ws._handshake(parts.path or "/", f"{host}:{port}", headers)
            return ws
        except ssl.SSLError as exc:
            sock.close()
            reason = "the certificate is not trusted (unknown CA or wrong host)" if "VERIFY" in str(exc) else "failed"
            raise TransportError("tls", f"TLS: {reason}") from exc
        except (TransportError, UpgradeRefused):
            sock.close()
            raise
        except OSError as exc:
            sock.close()
            raise TransportError("reset", "the server closed the connection during the upgrade") from exc

    def _handshake(self, path: str, host: str, headers: dict[str, str]) -> None:
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [f"GET {path} HTTP/1.1", f"Host: {host}", "Upgrade: websocket", "Connection: Upgrade"]
        lines += [f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        self._sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        while b"\r\n\r\n" not in self._buffer:
            if len(self._buffer) > MAX_HEAD:
                raise TransportError("other", "the upgrade reply's head is too long")
            self._fill()
        head, self._buffer = self._buffer.split(b"\r\n\r\n", 1)
        status_line, *fields = head.decode("latin-1").split("\r\n")
        try:
            status = int(status_line.split(" ")[1])
        except (IndexError, ValueError):
            raise TransportError("other", "the upgrade reply is not HTTP") from None
        found = {k.strip().lower(): v.strip() for k, _, v in (f.partition(":") for f in fields)}
        if status != 101:
            length = int(found.get("content-length", "0") or 0)
            while len(self._buffer) < min(length, MAX_HEAD):
                self._fill()
            raise UpgradeRefused(status, self._buffer[:length])
        if found.get("sec-websocket-accept") != accept_key(key):
            raise TransportError("other", "the server's upgrade reply does not answer our key")

    def _fill(self) -> None:
        chunk = self._sock.recv(65536)
        if not chunk:
            raise TransportError("reset", "the server closed the WebSocket")
        self._buffer += chunk

    def _take(self, size: int) -> bytes:
        while len(self._buffer) < size:
            self._fill()
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data

    def _send(self, opcode: int, payload: bytes) -> None:
        mask = os.urandom(4)
        size = len(payload)
        if size < 126:
            head = struct.pack("!BB", 0x80 | opcode, 0x80 | size)
        elif size < 1 << 16:
            head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, size)
        else:
            head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, size)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self._sock.sendall(head + mask + masked)

    def send_text(self, text: str) -> None:
        try:
            self._send(TEXT, text.encode("utf-8"))
        except OSError as exc:
            raise TransportError("reset", "the server closed the WebSocket") from exc

    def receive_text(self, timeout: float) -> str:
        """The next text message, within ``timeout`` seconds; pings are answered on the way."""
        deadline = time.monotonic() + timeout
        message = b""
        while True:
            self._sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                first, second = self._take(2)
                size = second & 0x7F
                if size == 126:
                    size = struct.unpack("!H", self._take(2))[0]
                elif size == 127:
                    size = struct.unpack("!Q", self._take(8))[0]
                if size > MAX_MESSAGE:
                    raise TransportError("other", "a WebSocket message is too long")
                mask = self._take(4) if second & 0x80 else b""
                payload = self._take(size)
            except TimeoutError as exc:
                raise TransportError("timeout", f"no WebSocket message within {timeout:g} s") from exc
            except OSError as exc:
                raise TransportError("reset", "the server closed the WebSocket") from exc
            if mask:
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            opcode = first & 0x0F
            if opcode == PING:
                self._send(PONG, payload)
            elif opcode == CLOSE:
                raise TransportError("reset", "the server closed the WebSocket")
            elif opcode in (TEXT, CONTINUATION):
                message += payload
                if first & 0x80:
                    return message.decode("utf-8", "replace")

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._send(CLOSE, struct.pack("!H", 1000))
        self._sock.close()

    def __enter__(self) -> WebSocket:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
