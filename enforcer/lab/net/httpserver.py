"""A small HTTP/1.1 server on asyncio protocols: one listening socket per simulated device.

One event loop serves the whole fleet, so a thousand devices need no threads. A device is a plain
function ``handle(Request) -> Response``; :class:`Endpoint` owns its listening socket and its open
connections, and can go down (connections refused, open ones closed) and come back up (a reboot).

Keep-alive and pipelining are supported; request bodies need ``Content-Length`` (no chunked
uploads, as the ISAPI clients we model never send them). A reply can take the connection over: a
stream (an event stream the device writes until either side hangs up) or an upgrade (a WebSocket,
:mod:`.websocket`, that reads as well as writes).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Protocol
from urllib.parse import parse_qsl, urlsplit

LOG = logging.getLogger("enforcer.lab")
MAX_HEADER_BYTES = 64 * 1024
MAX_BODY_BYTES = 256 * 1024 * 1024
BACKLOG = 128
ACCEPT_PAUSE = 1.0  # seconds without accepting after running out of descriptors (asyncio's own choice)


@dataclass
class Request:
    """One parsed request; header names are lower-case."""

    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    source: str
    path: str = ""
    query: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        parts = urlsplit(self.target)
        self.path = parts.path
        self.query = dict(parse_qsl(parts.query, keep_blank_values=True))


#: A streamed reply's source: called with the connection's writer once the head is sent; returns the
#: function that stops it (the client hung up, or the device went down).
Stream = Callable[[Callable[[bytes], None]], Callable[[], None]]


class Tunnel(Protocol):
    """What an upgraded connection's bytes go to, once the ``101`` head is sent."""

    def receive(self, data: bytes) -> None: ...

    def lost(self) -> None: ...


#: An upgrade's other end: called with the connection's ``write`` and ``close``; returns its tunnel.
Upgrade = Callable[[Callable[[bytes], None], Callable[[], None]], Tunnel]


@dataclass
class Response:
    """A reply; ``after`` runs once the reply has been handed to the socket. With ``stream`` the body is
    written by the stream, without ``Content-Length``, until the connection closes (an event stream);
    with ``upgrade`` (a ``101``) the connection is the tunnel's from the head on, both ways."""

    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    content_type: str = 'application/xml; charset="UTF-8"'
    close: bool = False
    after: Callable[[], None] | None = None
    stream: Stream | None = None
    upgrade: Upgrade | None = None


Handler = Callable[[Request], Response]

_REASONS = {s.value: s.phrase for s in HTTPStatus}


def serialize(resp: Response, server_header: str, keep_alive: bool) -> bytes:
    if resp.upgrade is not None:  # 101 Switching Protocols: no body, the headers say the rest
        head = [f"HTTP/1.1 {resp.status} {_REASONS.get(resp.status, 'Unknown')}", f"Server: {server_header}"]
        head.extend(f"{k}: {v}" for k, v in resp.headers)
        return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1")
    lines = [
        f"HTTP/1.1 {resp.status} {_REASONS.get(resp.status, 'Unknown')}",
        f"Server: {server_header}",
        f"Content-Type: {resp.content_type}",
        *([] if resp.stream is not None else [f"Content-Length: {len(resp.body)}"]),
        "Connection: keep-alive" if keep_alive else "Connection: close",
    ]
    lines.extend(f"{k}: {v}" for k, v in resp.headers)
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + resp.body


class _Connection(asyncio.Protocol):
    def __init__(self, endpoint: Endpoint, generation: int) -> None:
        self.endpoint = endpoint
        self.generation = generation
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.source = ""
        self.last_active = time.monotonic()
        self.detach: Callable[[], None] | None = None  # stops a streamed reply
        self.tunnel: Tunnel | None = None  # an upgraded connection's other end

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        if self.generation != self.endpoint.generation:  # accepted just before the endpoint stopped
            transport.abort()  # at once: a graceful close may outlive the lab's event loop
            return
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.source = str(peer[0]) if peer else ""
        self.endpoint.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.endpoint.connections.discard(self)
        self.transport = None
        if self.detach is not None:
            self.detach()
            self.detach = None
        if self.tunnel is not None:
            self.tunnel.lost()
            self.tunnel = None

    def _write(self, data: bytes) -> None:
        """What a streamed reply or a tunnel writes: sent while the connection is open, and it keeps it active."""
        if self.transport is not None and not self.transport.is_closing():
            self.last_active = time.monotonic()
            self.transport.write(data)

    def _stream(self, resp: Response) -> None:
        """Hand the connection to ``resp.stream``: it writes parts until either side hangs up."""
        assert resp.stream is not None
        self.detach = resp.stream(self._write)

    def _upgrade(self, resp: Response) -> None:
        """Hand the connection to ``resp.upgrade``'s tunnel, with what the client sent after its request."""
        assert resp.upgrade is not None

        def close() -> None:
            if self.transport is not None:
                self.transport.close()

        self.tunnel = resp.upgrade(self._write, close)
        if self.buffer:
            rest, self.buffer = bytes(self.buffer), bytearray()
            self.tunnel.receive(rest)

    def data_received(self, data: bytes) -> None:
        self.last_active = time.monotonic()
        if self.tunnel is not None:
            self.tunnel.receive(data)
            return
        if self.detach is not None:
            return  # a streamed reply owns the connection: nothing more is read from it
        self.buffer.extend(data)
        while self.transport is not None and not self.transport.is_closing():
            if not self._one_request():
                break

    def _fail(self, status: int) -> None:
        assert self.transport is not None
        resp = Response(status, b"", content_type="text/html", close=True)
        self.transport.write(serialize(resp, self.endpoint.server_header, False))
        self.transport.close()

    def _one_request(self) -> bool:
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self.buffer) > MAX_HEADER_BYTES:
                self._fail(431)
            return False
        head = bytes(self.buffer[:end]).decode("latin-1")
        request_line, *header_lines = head.split("\r\n")
        parts = request_line.split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            self._fail(400)
            return False
        headers: dict[str, str] = {}
        for line in header_lines:
            name, sep, val = line.partition(":")
            if not sep:
                self._fail(400)
                return False
            headers[name.strip().lower()] = val.strip()
        if "chunked" in headers.get("transfer-encoding", "").lower():
            self._fail(411)
            return False
        try:
            length = int(headers.get("content-length", "0"))
        except ValueError:
            self._fail(400)
            return False
        if length < 0 or length > MAX_BODY_BYTES:
            self._fail(413)
            return False
        if len(self.buffer) < end + 4 + length:
            return False
        body = bytes(self.buffer[end + 4 : end + 4 + length])
        del self.buffer[: end + 4 + length]
        req = Request(parts[0], parts[1], headers, body, self.source)
        self.endpoint.requests[self.source] += 1
        try:
            resp = self.endpoint.handler(req)
        except Exception:  # a device bug must not kill the fleet: answer 500 and carry on
            LOG.exception("%s %s %s failed", self.endpoint.host, req.method, req.target)
            self.endpoint.errors += 1
            resp = Response(500, b"", content_type="text/html", close=True)
        keep = not resp.close and headers.get("connection", "").lower() != "close" and parts[2] == "HTTP/1.1"
        assert self.transport is not None
        if resp.stream is not None:
            self.transport.write(serialize(resp, self.endpoint.server_header, False))
            self._stream(resp)
            return False
        if resp.upgrade is not None:
            self.transport.write(serialize(resp, self.endpoint.server_header, True))
            self._upgrade(resp)
            return False
        self.transport.write(serialize(resp, self.endpoint.server_header, keep))
        if not keep:
            self.transport.close()
        if resp.after is not None:
            resp.after()
        return keep


class Endpoint:
    """The listening socket of one device at ``host:port``, with its open connections."""

    def __init__(
        self,
        handler: Handler,
        host: str,
        port: int,
        *,
        ssl_context: ssl.SSLContext | None = None,
        server_header: str = "",
    ) -> None:
        self.handler = handler
        self.host = host
        self.port = port
        self.ssl_context = ssl_context
        self.server_header = server_header
        self.connections: set[_Connection] = set()
        self.errors = 0
        self.requests: Counter[str] = Counter()  # served since start, by source address: what a benchmark counts
        self.generation = 0
        self._listener: socket.socket | None = None
        self._accepting: set[asyncio.Task[tuple[asyncio.Transport, asyncio.Protocol]]] = set()

    @property
    def up(self) -> bool:
        return self._listener is not None

    async def start(self) -> None:
        """Listen again. The accept loop is ours, not ``loop.create_server``'s: on Python 3.11 a
        connection accepted in the same loop turn as ``Server.close()`` trips an assertion while
        its transport is built, and is then left open and unread, so its client hangs until its
        read timeout instead of being refused (a reboot racing a poll)."""
        loop = asyncio.get_running_loop()
        sock = socket.create_server((self.host, self.port), backlog=BACKLOG)  # SO_REUSEADDR on POSIX
        sock.setblocking(False)
        loop.add_reader(sock.fileno(), self._accept, loop, sock)
        self._listener = sock

    def _accept(self, loop: asyncio.AbstractEventLoop, sock: socket.socket) -> None:
        generation = self.generation
        for _ in range(BACKLOG):
            try:
                conn, _ = sock.accept()
            except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                return
            except OSError as exc:
                # Out of descriptors, say: the socket stays readable, so accepting on would spin the loop.
                # Pause as asyncio does; clients wait in the backlog meanwhile.
                LOG.warning("%s:%s cannot accept (%s); pausing for %s s", self.host, self.port, exc, ACCEPT_PAUSE)
                loop.remove_reader(sock.fileno())
                loop.call_later(ACCEPT_PAUSE, self._resume, loop, sock)
                return
            conn.setblocking(False)
            task = loop.create_task(
                loop.connect_accepted_socket(lambda: _Connection(self, generation), conn, ssl=self.ssl_context)
            )
            self._accepting.add(task)
            task.add_done_callback(self._accepted)

    def _resume(self, loop: asyncio.AbstractEventLoop, sock: socket.socket) -> None:
        if self._listener is sock:  # not stopped (or stopped and started again) meanwhile
            loop.add_reader(sock.fileno(), self._accept, loop, sock)

    def _accepted(self, task: asyncio.Task[tuple[asyncio.Transport, asyncio.Protocol]]) -> None:
        self._accepting.discard(task)
        if task.cancelled():
            return
        exc = task.exception()  # a failed TLS handshake or a client gone at once: routine, already closed
        if exc is not None and not isinstance(exc, OSError):
            LOG.error("%s:%s connection setup failed", self.host, self.port, exc_info=exc)

    def stop(self, *, abort: bool = False) -> None:
        """Stop listening (new connections are refused) and close every open connection.

        ``abort`` drops connections at once, without a TLS close handshake (the lab shutting down).
        A connection accepted but not yet set up (a TLS handshake under way) is dropped by its
        generation once set up; cancelling it instead could leave its socket unowned and unclosed.
        """
        self.generation += 1
        if self._listener is not None:
            asyncio.get_running_loop().remove_reader(self._listener.fileno())
            self._listener.close()
            self._listener = None
        for conn in list(self.connections):
            if conn.transport is not None:
                if abort:
                    conn.transport.abort()
                else:
                    conn.transport.close()

    def close_idle(self, idle_seconds: float) -> None:
        limit = time.monotonic() - idle_seconds
        for conn in list(self.connections):
            if conn.last_active < limit and conn.transport is not None:
                conn.transport.close()
