"""The HTTP transport under both drivers: one kept-alive connection per device, on plain sockets.

It owns connection reuse, timeouts, the source address, and trust: HTTPS is verified against the
device's CA (or the system store), or against a pinned SHA-256 fingerprint of the certificate's DER
bytes, checked before a byte of the request is sent. It knows nothing of digest or XML, and turns
every socket, TLS or HTTP error into a :class:`TransportError` whose ``detail`` a person can act on
(never a header, so never a secret); sessions raise it on as :class:`TransportFailed`, a DeviceError
naming the device and step.

Where it runs in a greenlet of a :class:`~enforcer.drivers._wire.hub.Hub` (``gather`` reads a fleet so),
its socket does not block: where it would, the hub waits for it along with every other device's, in one
thread. Elsewhere (a step of ``apply`` in a worker thread) it blocks in the kernel as any socket does.

Why its own HTTP/1.1 and not ``requests`` or ``http.client``: a device gets a handful of small
requests one at a time on one connection. ``requests`` spent about 300 µs of interpreter time on each
(URL parsing, hooks, adapters, urllib3's pool); ``http.client`` still spent half of a fleet's facts in
building a request and reading a reply (a new buffered file per reply, headers through the ``email``
parser), with 20 threads sharing one interpreter lock. Devices need little of HTTP: a request's head,
and a reply framed by ``Content-Length``, chunked, or by the connection's end; that is all here, as
``http.client`` writes and reads it (Host, Accept-Encoding: identity; interim 1xx replies skipped;
header lines and counts bounded), in a tenth of the time.

A closed transport is not dead: the next :meth:`Transport.send` opens a new connection. Callers close
a device's transport once they have what they need from it (``gather`` does after each device's
facts), so that a fleet read holds a socket per device in flight, not per device read.
"""

from __future__ import annotations

import errno
import hashlib
import hmac
import logging
import os
import re
import select
import socket
import ssl
import struct
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TypeVar
from urllib.parse import urlsplit

from enforcer.drivers._wire.digest import Reply
from enforcer.drivers._wire.hub import READ, WRITE, Hub
from enforcer.drivers._wire.hub import current as current_hub
from enforcer.errors import DeviceError, TransportError
from enforcer.model import TLS, Device

log = logging.getLogger("enforcer.wire")
_R = TypeVar("_R")

_FINGERPRINT = re.compile(r"[0-9a-f]{64}")
# ISAPI ``loginPassword=``; Dahua ``pwd=``, ``pwdOld=``, ``user.Password=``, ``<slot>.Password=``.
_SECRET_QUERY = re.compile(r"(?<![A-Za-z0-9_])((?:loginPassword|pwdOld|pwd|Password)=)[^&\s\"']*", re.IGNORECASE)


def redact(text: str) -> str:
    """``text`` with every password a query can carry masked (``pwd=***``)."""
    return _SECRET_QUERY.sub(r"\1***", text)


class _RedactQuery(logging.Filter):
    """A request line logged anywhere (ours, or urllib3's for code that uses ``requests``) may carry a
    password in its query: it must not reach a log."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


def _install_redaction() -> None:
    for name in ("enforcer.wire", "urllib3.connectionpool"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _RedactQuery) for f in logger.filters):
            logger.addFilter(_RedactQuery())


_install_redaction()


@dataclass(frozen=True)
class Trust:
    """How a connection is trusted: ``verify`` (True: the system store; a path: that CA file; False:
    no CA check, only with a ``fingerprint`` pinned) and the pin."""

    verify: bool | str
    fingerprint: str | None = None


def trust_for(tls: TLS, scheme: str) -> Trust:
    """How to trust a device; ValueError for a setting that would send credentials unverified."""
    if scheme != "https":
        return Trust(verify=True)
    if tls.fingerprint:
        pin = tls.fingerprint.lower().removeprefix("sha256:").replace(":", "")
        if not _FINGERPRINT.fullmatch(pin):
            raise ValueError("tls.fingerprint must be a SHA-256 fingerprint: 64 hex digits")
        return Trust(verify=False, fingerprint=pin)  # the pin replaces CA verification
    if not tls.verify:
        raise ValueError(
            "tls.verify is false and no fingerprint is pinned: credentials are never sent over an "
            "unverified connection; pin the certificate's sha256 fingerprint instead"
        )
    return Trust(verify=str(tls.ca) if tls.ca else True)


def transport_for(device: Device, *, source_address: str | None, timeout: float) -> Transport:
    """The transport to ``device``; DeviceError (step ``connect``) for a TLS setting it refuses."""
    host = f"[{device.address}]" if ":" in device.address else device.address
    try:
        trust = trust_for(device.tls, device.scheme)
    except ValueError as exc:
        raise DeviceError(site=device.site, device=device.name, step="connect", detail=str(exc)) from None
    return Transport(
        f"{device.scheme}://{host}:{device.port}", trust=trust, source_address=source_address, timeout=timeout
    )


class _PinMismatch(ssl.SSLError):
    """The peer's certificate is not the pinned one."""


class _Disconnected(ConnectionError):
    """The device closed the connection before a status line came back."""


class _Truncated(Exception):
    """The reply ended before the body its head announced."""


class _Malformed(Exception):
    """A reply that is not HTTP/1.x: a bad status line, header or chunk size; the message says which."""


_contexts: dict[bool | str, ssl.SSLContext] = {}
_contexts_lock = threading.Lock()


def _context(verify: bool | str) -> ssl.SSLContext:
    """One TLS context per trust setting, shared by every device that has it: building one reads the CA
    store, which costs far more than a request."""
    with _contexts_lock:
        ctx = _contexts.get(verify)
        if ctx is None:
            if verify is False:  # a pinned fingerprint: checked after the handshake, before anything is sent
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
            else:
                ctx = ssl.create_default_context(cafile=verify if isinstance(verify, str) else None)
            _contexts[verify] = ctx
        return ctx


_MAX_LINE = 65536  # a status or header line; longer is not a device's reply
_MAX_HEADERS = 100
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})  # sent with Content-Length: 0 when they carry no body
_UNSAFE_TEXT = re.compile(r"[\x00-\x20\x7f]")  # never in a request target
_UNSAFE_VALUE = re.compile(r"\r|\n")  # never in a header value: it would start another header


#: Plain sockets block in the kernel with its own timeouts (SO_RCVTIMEO, SO_SNDTIMEO), where a Python
#: socket timeout polls before every send and receive: each system call lets the interpreter lock go, and
#: with 20 threads reading a fleet every time it goes is a thread switch (the kernel's timeval is two longs
#: on Linux; elsewhere, and for TLS, Python's timeouts).
_KERNEL_TIMEOUTS = sys.platform == "linux"
_TIMEVAL = struct.Struct("@ll")


class _Connection:
    """One kept-alive connection: its socket, with its timeout, and what has been read of the next reply.

    Replies are read with ``recv`` alone, a line or a length at a time from one buffer: a file object
    over the socket would poll before every read.
    """

    def __init__(self, sock: socket.socket, *, kernel_timeouts: bool, hub: Hub | None = None) -> None:
        self.sock = sock
        self.kernel_timeouts = kernel_timeouts and hub is None
        self.hub = hub  # the hub this connection waits through (its socket does not block), or None
        self.timeout: float | None = None
        self.buffer = bytearray()
        if self.kernel_timeouts:
            sock.settimeout(None)

    def set_timeout(self, seconds: float) -> None:
        """Each request's limit; a system call only when it changes."""
        if seconds == self.timeout:
            return
        if self.hub is not None:
            self.timeout = seconds  # the hub's waits take it
            return
        if self.kernel_timeouts:
            whole, fraction = divmod(seconds, 1.0)
            micro = int(fraction * 1_000_000) or (0 if whole else 1)  # a zero timeval would mean no timeout
            value = _TIMEVAL.pack(int(whole), micro)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, value)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, value)
        else:
            self.sock.settimeout(seconds)
        self.timeout = seconds

    def sendall(self, data: bytes) -> None:
        if self.hub is not None:
            self._send_through_hub(self.hub, memoryview(data))
            return
        try:
            self.sock.sendall(data)
        except BlockingIOError:  # the kernel's send timeout
            raise TimeoutError("timed out") from None

    def _send_through_hub(self, hub: Hub, data: memoryview) -> None:
        assert self.timeout is not None, "set_timeout comes before the first request"
        while data:
            data = data[_through(hub, self.sock, WRITE, self.timeout, partial(self.sock.send, data)) :]

    def _fill(self) -> bool:
        """Read what the device has sent next into the buffer; False at the end of the connection."""
        if self.hub is not None:
            assert self.timeout is not None, "set_timeout comes before the first request"
            data = _through(self.hub, self.sock, READ, self.timeout, partial(self.sock.recv, 65536))
        else:
            try:
                data = self.sock.recv(65536)
            except BlockingIOError:  # the kernel's receive timeout
                raise TimeoutError("timed out") from None
        self.buffer += data
        return bool(data)

    def readline(self, limit: int) -> bytes:
        """A line with its end, at most ``limit`` bytes of one (so that a longer line shows), or what is left
        at the end of the connection."""
        buffer = self.buffer
        scanned = 0
        while True:
            end = buffer.find(b"\n", scanned, limit)
            if end >= 0:
                size = end + 1
                break
            if len(buffer) >= limit:
                size = limit
                break
            scanned = len(buffer)
            if not self._fill():
                size = len(buffer)
                break
        line = bytes(buffer[:size])
        del buffer[:size]
        return line

    def read(self, size: int = -1) -> bytes:
        """``size`` bytes, fewer only at the end of the connection; every byte to the end with ``size`` < 0."""
        buffer = self.buffer
        while (size < 0 or len(buffer) < size) and self._fill():
            pass
        size = len(buffer) if size < 0 else min(size, len(buffer))
        data = bytes(buffer[:size])
        del buffer[:size]
        return data

    def close(self) -> None:
        self.sock.close()


class Transport:
    """Sends one request at a time to ``base_url`` over a kept-alive connection (not thread-safe: the
    device's session sends one request at a time)."""

    def __init__(self, base_url: str, *, trust: Trust, source_address: str | None, timeout: float) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._trust = trust
        self._source = (source_address, 0) if source_address else None
        url = urlsplit(self.base_url)
        self._https = url.scheme == "https"
        self._host = url.hostname or ""
        self._port = url.port or (443 if self._https else 80)
        default = self._port == (443 if self._https else 80)
        shown = f"[{self._host}]" if ":" in self._host else self._host
        self._host_header = shown if default else f"{shown}:{self._port}"
        self._conn: _Connection | None = None

    def _connect(self, limit: float) -> _Connection:
        """A new connection (TLS verified, or its certificate matched to the pin, before anything is sent)."""
        timeout = min(self.timeout, limit)
        through = current_hub()
        try:
            if through is None:
                sock = socket.create_connection((self._host, self._port), timeout=timeout, source_address=self._source)
            else:
                sock = _connect_through(through, self._host, self._port, timeout, self._source)
        except TimeoutError as exc:
            raise TransportError("timeout", f"no connection within {timeout:g} s") from exc
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self._https:
                context = _context(self._trust.verify)
                if through is None:
                    sock = context.wrap_socket(sock, server_hostname=self._host)
                else:
                    sock = _handshake_through(through, context, sock, self._host, timeout)
                pin = self._trust.fingerprint
                if pin is not None:
                    der = sock.getpeercert(binary_form=True) or b""
                    if not hmac.compare_digest(hashlib.sha256(der).hexdigest(), pin):
                        raise _PinMismatch("Fingerprints did not match")
        except BaseException:
            sock.close()
            raise
        return _Connection(sock, kernel_timeouts=_KERNEL_TIMEOUTS and not self._https, hub=through)

    def send(
        self,
        method: str,
        target: str,
        *,
        headers: dict[str, str] | None = None,
        body: bytes | None = None,
        timeout: float | None = None,
    ) -> Reply:
        """One request; raises :class:`TransportError` unless a whole reply came back."""
        request = _request(method, target, self._host_header, headers or {}, body)
        limit = timeout or self.timeout
        conn = self._conn
        if conn is not None and (conn.hub is not current_hub() or _dropped(conn.sock)):
            # the device hung up while idle: never send into a closed connection; or the connection waits
            # through a hub that is not this one (or through none)
            self.close()
            conn = None
        try:
            if conn is None:
                conn = self._conn = self._connect(limit)
            conn.set_timeout(limit)
            conn.sendall(request)
            status, authenticate, content, keep = _read_reply(conn, method)
        except TransportError:
            self.close()
            raise
        except BaseException as exc:
            self.close()  # whatever state the connection is in, it is not one to reuse
            raise _transport_error(exc, limit) from exc
        if not keep:
            self.close()
        if log.isEnabledFor(logging.DEBUG):
            log.debug('%s "%s %s HTTP/1.1" %d %d', self.base_url, method, redact(target), status, len(content))
        return Reply(status, authenticate, content)

    def drop_connections(self) -> None:
        """Close the kept-alive connection (the device rebooted; old sockets are dead)."""
        self.close()

    def close(self) -> None:
        """Close the connection; the next request opens a new one."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()


def _connect_through(
    through: Hub, host: str, port: int, timeout: float, source: tuple[str, int] | None
) -> socket.socket:
    """``socket.create_connection`` for a hub: the connection is waited for through it, not in the kernel.
    The address is a literal (the hub reads only such devices), so resolving it asks no name server."""
    error: OSError | None = None
    for family, kind, proto, _, address in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        sock = socket.socket(family, kind, proto)
        try:
            sock.setblocking(False)
            if source is not None:
                sock.bind(source)
            code = sock.connect_ex(address)
            if code in (errno.EINPROGRESS, errno.EWOULDBLOCK):
                through.wait(sock, WRITE, timeout)
                code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if code:
                raise OSError(code, os.strerror(code))
            return sock
        except OSError as exc:
            sock.close()
            if isinstance(exc, TimeoutError):
                raise
            error = exc
        except BaseException:
            sock.close()
            raise
    raise error or OSError(f"no address for {host}")


def _handshake_through(
    through: Hub, context: ssl.SSLContext, sock: socket.socket, host: str, timeout: float
) -> ssl.SSLSocket:
    """``wrap_socket`` for a hub: the handshake's waits go through it."""
    wrapped = context.wrap_socket(sock, server_hostname=host, do_handshake_on_connect=False)
    _through(through, wrapped, READ, timeout, wrapped.do_handshake)
    return wrapped


def _through(through: Hub, sock: socket.socket, blocked: int, timeout: float, operation: Callable[[], _R]) -> _R:
    """``operation`` on a socket that does not block, done again each time the hub says the socket is ready:
    a plain socket would block on ``blocked`` (READ for a receive, WRITE for a send); TLS says which it needs
    (a send may have to read first, during a renegotiation)."""
    while True:
        try:
            return operation()
        except ssl.SSLWantReadError:
            through.wait(sock, READ, timeout)
        except ssl.SSLWantWriteError:
            through.wait(sock, WRITE, timeout)
        except BlockingIOError:
            through.wait(sock, blocked, timeout)


def _request(method: str, target: str, host: str, headers: dict[str, str], body: bytes | None) -> bytes:
    """The request's bytes: the head as ``http.client`` writes it (Host, Accept-Encoding), then the body."""
    if _UNSAFE_TEXT.search(target) or _UNSAFE_TEXT.search(method):
        raise ValueError(f"a request target or method may not hold spaces or control characters: {method!r}")
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}", "Accept-Encoding: identity"]
    for name, value in headers.items():
        if _UNSAFE_VALUE.search(value) or _UNSAFE_VALUE.search(name):
            raise ValueError(f"header {name!r} holds a line break")
        lines.append(f"{name}: {value}")
    framed = any(name.lower() == "content-length" for name in headers)
    if (body is not None or method in _BODY_METHODS) and not framed:
        lines.append(f"Content-Length: {len(body or b'')}")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head + body if body else head


def _read_reply(reader: _Connection, method: str) -> tuple[int, tuple[str, ...], bytes, bool]:
    """Status, every ``WWW-Authenticate`` value, the body, and whether the connection may be kept.

    HTTP/1.1 as devices speak it: a body framed by ``Content-Length``, chunked, or by the connection's
    end; interim 1xx replies skipped; at most 100 headers of 64 KB each.
    """
    while True:
        line = reader.readline(_MAX_LINE + 1)
        if not line:
            raise _Disconnected("no status line")
        version, _, rest = line.decode("latin-1").rstrip("\r\n").partition(" ")
        code = rest[:3]
        if len(line) > _MAX_LINE or not version.startswith("HTTP/1.") or not code.isdigit():
            raise _Malformed("BadStatusLine")
        status = int(code)
        headers = _read_headers(reader)
        if status >= 200 or status == 101:
            break  # 100 Continue and other interim replies: the real one follows
    authenticate = tuple(value for name, value in headers if name == "www-authenticate")
    fields = {name: value for name, value in headers}
    connection = fields.get("connection", "").lower()
    keep = "close" not in connection and (version == "HTTP/1.1" or "keep-alive" in connection)
    if method == "HEAD" or status in (204, 304) or status < 200:
        return status, authenticate, b"", keep
    if "chunked" in fields.get("transfer-encoding", "").lower():
        return status, authenticate, _read_chunked(reader), keep
    length = fields.get("content-length")
    if length is None:
        return status, authenticate, reader.read(), False  # the body ends with the connection
    try:
        size = int(length)
    except ValueError:
        raise _Malformed("InvalidContentLength") from None
    if size < 0:
        raise _Malformed("InvalidContentLength")
    content = reader.read(size)
    if len(content) < size:
        raise _Truncated
    return status, authenticate, content, keep


def _read_headers(reader: _Connection) -> list[tuple[str, str]]:
    """The header lines up to the blank one, as (lower-case name, value); a folded line continues the last."""
    headers: list[tuple[str, str]] = []
    while True:
        line = reader.readline(_MAX_LINE + 1)
        if len(line) > _MAX_LINE:
            raise _Malformed("LineTooLong")
        if line in (b"\r\n", b"\n"):
            return headers
        if not line:
            raise _Disconnected("the head ended early")
        if len(headers) >= _MAX_HEADERS:
            raise _Malformed("TooManyHeaders")
        text = line.decode("latin-1").rstrip("\r\n")
        if text[:1] in (" ", "\t") and headers:
            name, value = headers[-1]
            headers[-1] = (name, f"{value} {text.strip()}")
            continue
        name, sep, value = text.partition(":")
        if sep:
            headers.append((name.strip().lower(), value.strip()))


def _read_chunked(reader: _Connection) -> bytes:
    parts = []
    while True:
        line = reader.readline(_MAX_LINE + 1)
        if not line:
            raise _Truncated
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise _Malformed("InvalidChunkSize") from None
        if size == 0:
            break
        chunk = reader.read(size)
        if len(chunk) < size or reader.readline(_MAX_LINE + 1) not in (b"\r\n", b"\n"):
            raise _Truncated
        parts.append(chunk)
    _read_headers(reader)  # trailers, unused
    return b"".join(parts)


_TCP_INFO = getattr(socket, "TCP_INFO", None)  # Linux
_ESTABLISHED = 1  # tcpi_state, the first byte of struct tcp_info


def _dropped(sock: socket.socket) -> bool:
    """Whether an idle kept-alive socket was closed by the peer.

    On Linux, from the connection's TCP state (a peer's FIN leaves it in CLOSE_WAIT, a reset in CLOSE):
    ``getsockopt`` keeps the interpreter lock, where ``poll`` lets it go, and with 20 threads reading a
    fleet every lock given up is a thread switch. Elsewhere, ``poll``: the socket reads as ready (EOF).
    """
    if _TCP_INFO is not None:
        try:
            return sock.getsockopt(socket.IPPROTO_TCP, _TCP_INFO, 1)[0] != _ESTABLISHED
        except OSError:
            return True
    poller = select.poll()  # not select(): it fails on descriptors above 1,023
    poller.register(sock, select.POLLIN)
    try:
        return bool(poller.poll(0))
    except OSError:
        return True


def _transport_error(exc: BaseException, limit: float) -> TransportError:
    """What a person can act on, for an exception raised while connecting, sending or reading."""
    if isinstance(exc, ssl.SSLError):
        return TransportError("tls", f"TLS: {_tls_reason(exc)}")
    if isinstance(exc, TimeoutError):
        return TransportError("timeout", f"no reply within {limit:g} s (slow or hung device)")
    if isinstance(exc, _Truncated):
        return TransportError("truncated", "the reply was cut off before its end")
    if isinstance(exc, ConnectionRefusedError):
        return TransportError("refused", "connection refused (device down or port closed)")
    if isinstance(exc, ConnectionResetError | ConnectionAbortedError | BrokenPipeError | _Disconnected):
        return TransportError("reset", "the device closed or reset the connection mid-request")
    if isinstance(exc, _Malformed):
        return TransportError("other", f"HTTP error: {exc}")
    if isinstance(exc, OSError) and exc.errno == errno.EADDRNOTAVAIL:
        return TransportError("other", "cannot bind the source address")
    if isinstance(exc, OSError):
        return TransportError("other", "cannot connect to the device")
    raise exc  # not a transport failure (a bug, KeyboardInterrupt): let it through as it is


def _tls_reason(exc: ssl.SSLError) -> str:
    if isinstance(exc, _PinMismatch):
        return "the certificate does not match the pinned fingerprint"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return "the certificate is not trusted (unknown CA or wrong host)"
    return "handshake failed"
