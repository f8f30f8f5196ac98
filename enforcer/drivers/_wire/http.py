"""The HTTP transport under both drivers: one kept-alive connection per device, on the standard library.

It owns connection reuse, timeouts, the source address, and trust: HTTPS is verified against the
device's CA (or the system store), or against a pinned SHA-256 fingerprint of the certificate's DER
bytes, checked before a byte of the request is sent. It knows nothing of digest or XML, and turns
every socket, TLS or HTTP error into a :class:`TransportError` whose ``detail`` a person can act on
(never a header, so never a secret); sessions raise it on as :class:`TransportFailed`, a DeviceError
naming the device and step.

Why ``http.client`` and not ``requests``: a device gets a handful of small requests one at a time on
one connection, and ``requests`` spent about 300 µs of interpreter time on each (URL parsing, hooks,
adapters, urllib3's pool), four times what the request itself costs; with 20 threads sharing one
interpreter lock that was most of a fleet's facts. ``http.client`` is the standard library's HTTP/1.1
(keep-alive, chunked and close-delimited bodies, TLS), and everything ``requests`` gave on top is here.

A closed transport is not dead: the next :meth:`Transport.send` opens a new connection. Callers close
a device's transport once they have what they need from it (``gather`` does after each device's
facts), so that a fleet read holds a socket per device in flight, not per device read.
"""

from __future__ import annotations

import errno
import hashlib
import hmac
import http.client
import logging
import re
import select
import socket
import ssl
import threading
from dataclasses import dataclass
from urllib.parse import urlsplit

from enforcer.drivers._wire.digest import Reply
from enforcer.errors import DeviceError, TransportError
from enforcer.model import TLS, Device

log = logging.getLogger("enforcer.wire")

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


class _HTTPS(http.client.HTTPSConnection):
    """HTTPS whose certificate, when pinned, must have the pinned SHA-256 fingerprint."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        fingerprint: str | None,
        context: ssl.SSLContext,
        source_address: tuple[str, int] | None,
        timeout: float,
    ) -> None:
        super().__init__(host, port, context=context, source_address=source_address, timeout=timeout)
        self._fingerprint = fingerprint

    def connect(self) -> None:
        super().connect()
        if self._fingerprint is not None:
            assert isinstance(self.sock, ssl.SSLSocket)
            der = self.sock.getpeercert(binary_form=True) or b""
            if not hmac.compare_digest(hashlib.sha256(der).hexdigest(), self._fingerprint):
                self.close()
                raise _PinMismatch("Fingerprints did not match")


class Transport:
    """Sends one request at a time to ``base_url`` over a kept-alive connection (not thread-safe: the
    device's session sends one request at a time)."""

    def __init__(self, base_url: str, *, trust: Trust, source_address: str | None, timeout: float) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._trust = trust
        self._source = source_address
        url = urlsplit(self.base_url)
        self._https = url.scheme == "https"
        self._host = url.hostname or ""
        self._port = url.port or (443 if self._https else 80)
        self._conn: http.client.HTTPConnection | None = None

    def _connection(self) -> http.client.HTTPConnection:
        """The kept-alive connection, or a new (unconnected) one if there is none or the device closed it."""
        conn = self._conn
        if conn is not None and conn.sock is not None and _dropped(conn.sock):
            conn.close()  # the device hung up while idle: never send into a closed connection
        if conn is None:
            source = (self._source, 0) if self._source else None
            if self._https:
                conn = _HTTPS(
                    self._host,
                    self._port,
                    fingerprint=self._trust.fingerprint,
                    context=_context(self._trust.verify),
                    source_address=source,
                    timeout=self.timeout,
                )
            else:
                conn = http.client.HTTPConnection(self._host, self._port, timeout=self.timeout, source_address=source)
            self._conn = conn
        return conn

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
        limit = timeout or self.timeout
        conn = self._connection()
        try:
            if conn.sock is None:
                conn.timeout = min(self.timeout, limit)
                try:
                    conn.connect()
                except TimeoutError as exc:
                    raise TransportError("timeout", f"no connection within {conn.timeout:g} s") from exc
            assert conn.sock is not None
            conn.sock.settimeout(limit)
            conn.request(method, target, body=body, headers=headers or {})
            resp = conn.getresponse()
            content = resp.read()
        except TransportError:
            self.close()
            raise
        except BaseException as exc:
            self.close()  # whatever state the connection is in, it is not one to reuse
            raise _transport_error(exc, limit) from exc
        if log.isEnabledFor(logging.DEBUG):
            log.debug('%s "%s %s HTTP/1.1" %d %d', self.base_url, method, redact(target), resp.status, len(content))
        return Reply(resp.status, tuple(resp.msg.get_all("WWW-Authenticate") or ()), content)

    def drop_connections(self) -> None:
        """Close the kept-alive connection (the device rebooted; old sockets are dead)."""
        self.close()

    def close(self) -> None:
        """Close the connection; the next request opens a new one."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()


def _dropped(sock: socket.socket) -> bool:
    """Whether an idle kept-alive socket was closed by the peer (it reads as ready: EOF or stray bytes)."""
    poller = select.poll()  # not select(): it fails on descriptors above 1,023
    poller.register(sock, select.POLLIN)
    try:
        return bool(poller.poll(0))
    except OSError:
        return True


_Disconnected = http.client.RemoteDisconnected


def _transport_error(exc: BaseException, limit: float) -> TransportError:
    """What a person can act on, for an exception raised while connecting, sending or reading."""
    if isinstance(exc, ssl.SSLError):
        return TransportError("tls", f"TLS: {_tls_reason(exc)}")
    if isinstance(exc, TimeoutError):
        return TransportError("timeout", f"no reply within {limit:g} s (slow or hung device)")
    if isinstance(exc, http.client.IncompleteRead):
        return TransportError("truncated", "the reply was cut off before its end")
    if isinstance(exc, ConnectionRefusedError):
        return TransportError("refused", "connection refused (device down or port closed)")
    if isinstance(exc, ConnectionResetError | ConnectionAbortedError | BrokenPipeError | _Disconnected):
        return TransportError("reset", "the device closed or reset the connection mid-request")
    if isinstance(exc, http.client.HTTPException):
        return TransportError("other", f"HTTP error: {type(exc).__name__}")
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
