"""The transport's HTTP/1.1 over a real socket: what it sends, and every way a reply can be framed or broken.

A raw server answers each request with canned bytes, so that replies devices send (chunked, closed
after the body, an interim 100, a folded header) and broken ones (cut off, not HTTP) are met as a
socket delivers them.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from enforcer.drivers._wire.http import Transport, Trust
from enforcer.errors import TransportError

pytestmark = [pytest.mark.lab, pytest.mark.usefixtures("waits")]


class Canned:
    """Serves one connection at a time on 127.0.0.1; each request gets the next canned reply (``None``:
    close the connection instead), and what was sent is kept."""

    def __init__(self, replies: list[bytes | tuple[float, bytes] | None], *, hang_up: bool = False) -> None:
        self.replies = replies
        self.hang_up = hang_up  # after each reply, as a device that fails mid-reply does
        self.heads: list[bytes] = []
        self.connections = 0
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while self.replies:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            with conn:
                buffer = b""
                while self.replies:
                    while b"\r\n\r\n" not in buffer:
                        chunk = conn.recv(65536)
                        if not chunk:
                            break
                        buffer += chunk
                    if b"\r\n\r\n" not in buffer:
                        break
                    head, buffer = buffer.split(b"\r\n\r\n", 1)
                    length = next(
                        (
                            int(line.split(b":")[1])
                            for line in head.split(b"\r\n")
                            if line.lower().startswith(b"content-length:")
                        ),
                        0,
                    )
                    while len(buffer) < length:
                        buffer += conn.recv(65536)
                    self.heads.append(head + b"\r\n\r\n" + buffer[:length])
                    buffer = buffer[length:]
                    reply = self.replies.pop(0)
                    if reply is None:
                        break
                    if isinstance(reply, tuple):  # (seconds, reply): a device slow to answer
                        time.sleep(reply[0])
                        reply = reply[1]
                    conn.sendall(reply)
                    if self.hang_up or b"Connection: close" in reply or reply.startswith(b"HTTP/1.0"):
                        break

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def canned() -> Iterator[list[tuple[Transport, Canned]]]:
    made: list[tuple[Transport, Canned]] = []
    yield made
    for transport, server in made:
        transport.close()
        server.close()


def _transport(
    canned: list[tuple[Transport, Canned]], *replies: bytes | tuple[float, bytes] | None, hang_up: bool = False
) -> tuple[Transport, Canned]:
    server = Canned(list(replies), hang_up=hang_up)
    transport = Transport(f"http://127.0.0.1:{server.port}", trust=Trust(True), source_address=None, timeout=2.0)
    canned.append((transport, server))
    return transport, server


OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


def test_the_request_head_is_what_http_client_wrote(canned: list[tuple[Transport, Canned]]) -> None:
    transport, server = _transport(canned, OK, OK)
    transport.send("GET", "/ISAPI/System/deviceInfo", headers={"Authorization": 'Digest x="y"'})
    transport.send("PUT", "/ISAPI/Security/users/1", headers={"Content-Type": "application/xml"}, body=b"<User/>")
    transport.close()
    port = server.port
    assert server.heads == [
        f"GET /ISAPI/System/deviceInfo HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept-Encoding: identity\r\n"
        'Authorization: Digest x="y"\r\n\r\n'.encode(),
        f"PUT /ISAPI/Security/users/1 HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept-Encoding: identity\r\n"
        "Content-Type: application/xml\r\nContent-Length: 7\r\n\r\n<User/>".encode(),
    ]
    assert server.connections == 1  # kept alive


def test_replies_framed_every_way_a_device_frames_them(canned: list[tuple[Transport, Canned]]) -> None:
    chunked = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\n<a/>\r\n3\r\nxyz\r\n0\r\nX-Trailer: 1\r\n\r\n"
    )
    interim = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 1\r\n\r\n!"
    challenge = (
        b'HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Digest realm="r",\r\n nonce="n"\r\n'
        b'WWW-Authenticate: Basic realm="r"\r\nContent-Length: 0\r\n\r\n'
    )
    until_close = b"HTTP/1.0 200 OK\r\n\r\nto the end"
    transport, server = _transport(
        canned, chunked, interim, challenge, b"HTTP/1.1 204 No Content\r\n\r\n", until_close, OK
    )
    assert transport.send("GET", "/a").body == b"<a/>xyz"
    assert transport.send("POST", "/b").status == 201
    reply = transport.send("GET", "/c")
    assert reply.status == 401 and reply.authenticate == ('Digest realm="r", nonce="n"', 'Basic realm="r"')
    assert transport.send("GET", "/d").body == b""
    assert transport.send("GET", "/e").body == b"to the end"  # then the connection is closed
    assert transport.send("GET", "/f").body == b"ok"  # on a new one
    assert server.connections == 2
    assert b"Content-Length: 0" in server.heads[1]  # a POST without a body still says so


@pytest.mark.parametrize(
    ("reply", "kind", "detail"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", "truncated", "cut off"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nshort", "truncated", "cut off"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "other", "InvalidChunkSize"),
        (b"SSH-2.0-OpenSSH\r\n\r\n", "other", "BadStatusLine"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", "other", "InvalidContentLength"),
        (b"HTTP/1.1 200 OK\r\n" + b"X: y\r\n" * 101 + b"\r\n", "other", "TooManyHeaders"),
        (b"HTTP/1.1 200 OK\r\nX: " + b"y" * 70000 + b"\r\n\r\n", "other", "LineTooLong"),
        (None, "reset", "closed or reset"),
    ],
)
def test_a_broken_reply_is_an_error_a_person_can_act_on(
    canned: list[tuple[Transport, Canned]], reply: bytes | None, kind: str, detail: str
) -> None:
    transport, _ = _transport(canned, reply, OK, hang_up=True)
    with pytest.raises(TransportError) as caught:
        transport.send("GET", "/")
    assert caught.value.kind == kind and detail in caught.value.detail
    assert transport.send("GET", "/").body == b"ok"  # the broken connection was dropped, a new one works


def test_a_target_or_header_that_would_split_the_request_is_refused_before_sending(
    canned: list[tuple[Transport, Canned]],
) -> None:
    transport, server = _transport(canned, OK)
    with pytest.raises(ValueError, match="control characters"):
        transport.send("GET", "/a b")
    with pytest.raises(ValueError, match="line break"):
        transport.send("GET", "/", headers={"X": "a\r\nInjected: 1"})
    assert server.heads == []


def test_each_request_has_its_own_time_limit(canned: list[tuple[Transport, Canned]]) -> None:
    """A slow reply past the transport's limit is a timeout; a request given a longer limit (a firmware
    upload) waits for it, on the same kind of connection."""
    transport, _ = _transport(canned, (0.6, OK), (0.6, OK), OK)
    transport.timeout = 0.2
    started = time.monotonic()
    with pytest.raises(TransportError) as caught:
        transport.send("GET", "/slow")
    assert caught.value.kind == "timeout" and time.monotonic() - started < 0.55
    assert transport.send("GET", "/slow", timeout=2.0).body == b"ok"
    assert transport.send("GET", "/fast").body == b"ok"  # back to the transport's own limit
