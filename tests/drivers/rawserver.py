"""A tiny threaded raw-socket HTTP server for misbehaving devices (the lab is faithful and will not
misbehave): it parses each request and hands it to ``answer``, which may reply with anything, or with
nothing at all."""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar


def reply(status: str, body: bytes, extra: bytes = b"", length: int | None = None, kind: str = "text/plain") -> bytes:
    """A raw reply; ``length`` other than the body's makes it a truncated one."""
    size = len(body) if length is None else length
    head = f"HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {size}\r\n"
    return head.encode() + extra + b"\r\n" + body


class RawServer:
    """Serves on 127.0.0.1 (an ephemeral port) until closed; ``misbehave`` covers the two failures
    every vendor shares: ``reset`` (TCP reset) and ``slow`` (never answers)."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        self.requests = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def answer(self, conn: socket.socket, head: str, body: bytes) -> bool:
        """Reply to one request; ``False`` ends the connection."""
        raise NotImplementedError

    def misbehave(self, conn: socket.socket) -> bool | None:
        """``reset`` or ``slow``: the connection ends (``False``); ``None`` for any other mode."""
        if self.mode == "reset":
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return False
        if self.mode == "slow":
            self.stop.wait(60)  # never answers: hangs until the test ends, far past any client timeout
            return False
        return None

    def _serve(self) -> None:
        self.sock.settimeout(0.1)
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._conn, args=(conn,), daemon=True).start()

    def _conn(self, conn: socket.socket) -> None:
        buf = b""
        with conn:
            while not self.stop.is_set():
                while b"\r\n\r\n" in buf:
                    head, rest = buf.split(b"\r\n\r\n", 1)
                    lengths = [
                        int(h.split(b":")[1]) for h in head.split(b"\r\n") if h.lower().startswith(b"content-length:")
                    ]
                    if len(rest) < sum(lengths):
                        break
                    body, buf = rest[: sum(lengths)], rest[sum(lengths) :]
                    self.requests += 1
                    if not self.answer(conn, head.decode("latin-1"), body):
                        return
                try:
                    conn.settimeout(0.2)
                    chunk = conn.recv(65536)
                except TimeoutError:
                    continue
                except OSError:
                    return
                if not chunk:
                    return
                buf += chunk

    def close(self) -> None:
        self.stop.set()
        self.sock.close()


S = TypeVar("S", bound=RawServer)


@contextmanager
def raw_servers(kind: Callable[[str], S]) -> Iterator[Callable[[str], S]]:
    """A factory of ``kind`` servers by mode, every one closed on exit."""
    servers: list[S] = []

    def make(mode: str) -> S:
        servers.append(kind(mode))
        return servers[-1]

    try:
        yield make
    finally:
        for server in servers:
            server.close()
