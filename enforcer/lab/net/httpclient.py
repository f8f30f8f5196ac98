"""The lab's own HTTP digest client, used by simulated recorders and clients to log in.

The protocol is a generator (:func:`login_flow`) that yields requests and receives replies, so it
has no I/O and tests need no sockets; :func:`run_flow` drives it over a real connection bound to a
chosen source address. The flow never repeats a credential after a 401, except one fresh handshake
after ``stale="TRUE"`` (protocol §5). :func:`opening_login_flow` is the login of clients that open a
conversation with a Basic logon before digest (Milestone's drivers, pyHik); :func:`drive` runs any
flow, one that sends bodies and returns what it read included.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import ssl
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Literal, TypeVar

from enforcer.lab.net.digest import digest_response, parse_authorization

Outcome = Literal["ok", "auth_failed", "error", "unreachable"]
T = TypeVar("T")


@dataclass
class Reply:
    status: int
    headers: dict[str, list[str]] = field(default_factory=dict)
    body: bytes = b""

    def header(self, name: str) -> list[str]:
        return self.headers.get(name.lower(), [])


@dataclass(frozen=True)
class Outgoing:
    method: str
    uri: str
    headers: dict[str, str]
    body: bytes = b""


def digest_challenge(reply: Reply) -> dict[str, str] | None:
    for line in reply.header("www-authenticate"):
        scheme, params = parse_authorization(line)
        if scheme == "digest":
            return params
    return None


def authorization(chal: dict[str, str], user: str, password: str, method: str, uri: str, nc: int) -> str:
    """An ``Authorization: Digest`` value answering ``chal`` with ``qop="auth"``."""
    cnonce = secrets.token_hex(8)
    ncs = f"{nc:08x}"
    realm, nonce = chal.get("realm", ""), chal.get("nonce", "")
    resp = digest_response(user, realm, password, method, uri, nonce, ncs, cnonce, "auth")
    parts = [
        f'username="{user}"',
        f'realm="{realm}"',
        f'nonce="{nonce}"',
        f'uri="{uri}"',
        'algorithm="MD5"',
        "qop=auth",
        f"nc={ncs}",
        f'cnonce="{cnonce}"',
        f'response="{resp}"',
    ]
    if "opaque" in chal:
        parts.append(f'opaque="{chal["opaque"]}"')
    return "Digest " + ", ".join(parts)


def login_flow(
    user: str, password: str, method: str = "GET", uri: str = "/ISAPI/Security/userCheck"
) -> Generator[Outgoing, Reply, Outcome]:
    """Read the challenge (free), answer it once; one more try only after ``stale="TRUE"``."""
    reply = yield Outgoing(method, uri, {})
    if reply.status == 200:
        return "ok"
    chal = digest_challenge(reply) if reply.status == 401 else None
    if chal is None:
        return "error"
    for attempt in range(2):
        reply = yield Outgoing(method, uri, {"Authorization": authorization(chal, user, password, method, uri, 1)})
        if reply.status == 200:
            return "ok"
        if reply.status == 403:  # a locked Dahua account refusing the credential (an IP filter refuses before)
            return "auth_failed"
        if reply.status != 401:
            return "error"
        fresh = digest_challenge(reply)
        if attempt == 0 and fresh is not None and fresh.get("stale", "").upper() == "TRUE":
            chal = fresh
            continue
        return "auth_failed"
    return "auth_failed"


def basic(user: str, password: str) -> str:
    """An ``Authorization: Basic`` value."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def opening_login_flow(
    user: str, password: str, method: str = "GET", uri: str = "/ISAPI/Security/userCheck"
) -> Generator[Outgoing, Reply, Outcome]:
    """A conversation opened with a Basic logon, then digest on the 401's challenge (one answer).

    Firmware that takes Basic lets the logon in at once; digest-only firmware refuses it, and some
    counts it as an illegal login even with the right password (Hikvision 5.3.0 and later, the lock-outs
    of Milestone KB 000002183, protocols/clients.md §1.5)."""
    reply = yield Outgoing(method, uri, {"Authorization": basic(user, password)})
    if reply.status == 200:
        return "ok"
    chal = digest_challenge(reply) if reply.status == 401 else None
    if chal is None:
        return "error"
    reply = yield Outgoing(method, uri, {"Authorization": authorization(chal, user, password, method, uri, 1)})
    if reply.status == 200:
        return "ok"
    return "auth_failed" if reply.status in (401, 403) else "error"


async def _read_reply(reader: asyncio.StreamReader) -> Reply:
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    status = int(status_line.split(" ")[1])
    headers: dict[str, list[str]] = {}
    for line in lines:
        name, sep, val = line.partition(":")
        if sep:
            headers.setdefault(name.strip().lower(), []).append(val.strip())
    length = int(headers.get("content-length", ["0"])[0])
    body = await reader.readexactly(length) if length else b""
    return Reply(status, headers, body)


def insecure_tls() -> ssl.SSLContext:
    """TLS as recorders and viewers use it against cameras: no certificate check."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


async def drive(
    flow: Generator[Outgoing, Reply, T],
    host: str,
    port: int,
    *,
    source: str | None = None,
    tls: ssl.SSLContext | None = None,
    timeout: float = 5.0,
) -> T:
    """Drive ``flow`` over one keep-alive connection from ``source`` (reconnecting if closed) and return
    what it returns; OSError, TimeoutError, ``asyncio.IncompleteReadError`` or ssl.SSLError when the
    connection fails, ValueError or IndexError for a reply that is not HTTP."""
    conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
    try:
        out = next(flow)
        while True:
            if conn is None or conn[1].is_closing():
                local = (source, 0) if source else None
                conn = await asyncio.wait_for(asyncio.open_connection(host, port, ssl=tls, local_addr=local), timeout)
            reader, writer = conn
            head = [f"{out.method} {out.uri} HTTP/1.1", f"Host: {host}:{port}", f"Content-Length: {len(out.body)}"]
            head += [f"{k}: {v}" for k, v in out.headers.items()]
            writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + out.body)
            reply = await asyncio.wait_for(_read_reply(reader), timeout)
            if "close" in ",".join(reply.header("connection")).lower():
                writer.close()
            try:
                out = flow.send(reply)
            except StopIteration as stop:
                result: T = stop.value
                return result
    finally:
        if conn is not None:
            conn[1].close()


async def run_flow(
    flow: Generator[Outgoing, Reply, Outcome],
    host: str,
    port: int,
    *,
    source: str | None = None,
    tls: ssl.SSLContext | None = None,
    timeout: float = 5.0,
) -> Outcome:
    """Drive a login ``flow``: its outcome, ``unreachable`` when the connection fails, ``error`` for a
    reply that is not HTTP."""
    try:
        return await drive(flow, host, port, source=source, tls=tls, timeout=timeout)
    except (OSError, TimeoutError, asyncio.IncompleteReadError, ssl.SSLError):
        return "unreachable"
    except (ValueError, IndexError):
        return "error"
