"""The HTTP transport under both drivers: one ``requests`` session per device.

It owns connection reuse, timeouts, the source address, and trust: HTTPS is verified against the
device's CA (or the system store), or against a pinned SHA-256 fingerprint of the certificate's DER
bytes. It knows nothing of digest or XML, and turns every ``requests``/socket error into a
:class:`TransportError` whose ``detail`` a person can act on (never a header, so never a secret);
sessions raise it on as :class:`TransportFailed`, a DeviceError naming the device and step.
"""

from __future__ import annotations

import logging
import re
import socket
from dataclasses import dataclass
from http.client import RemoteDisconnected
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from enforcer.drivers._wire.digest import Reply
from enforcer.errors import DeviceError, TransportError
from enforcer.model import TLS, Device

_FINGERPRINT = re.compile(r"[0-9a-f]{64}")
# ISAPI ``loginPassword=``; Dahua ``pwd=``, ``pwdOld=``, ``user.Password=``, ``<slot>.Password=``.
_SECRET_QUERY = re.compile(r"(?<![A-Za-z0-9_])((?:loginPassword|pwdOld|pwd|Password)=)[^&\s\"']*", re.IGNORECASE)


class _RedactQuery(logging.Filter):
    """urllib3 logs every request line at DEBUG, query included; a password in a query must not reach a log."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_SECRET_QUERY.sub(r"\1***", a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = _SECRET_QUERY.sub(r"\1***", record.msg)
        return True


def _install_redaction() -> None:
    logger = logging.getLogger("urllib3.connectionpool")
    if not any(isinstance(f, _RedactQuery) for f in logger.filters):
        logger.addFilter(_RedactQuery())


_install_redaction()


class _Adapter(HTTPAdapter):
    """Binds the source address and, when pinned, checks the peer certificate's fingerprint."""

    def __init__(self, source_address: str | None, fingerprint: str | None) -> None:
        self._source, self._fingerprint = source_address, fingerprint
        super().__init__(pool_connections=1, pool_maxsize=1, max_retries=0)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        if self._source:
            kwargs["source_address"] = (self._source, 0)
        if self._fingerprint:
            kwargs["assert_fingerprint"] = self._fingerprint
        super().init_poolmanager(*args, **kwargs)


@dataclass(frozen=True)
class Trust:
    """What ``requests`` gets as ``verify`` and what the adapter pins."""

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


class Transport:
    """Sends one request at a time to ``base_url`` over a kept-alive connection."""

    def __init__(self, base_url: str, *, trust: Trust, source_address: str | None, timeout: float) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._trust = trust
        self._session = requests.Session()
        self._session.trust_env = False  # no proxies or .netrc credentials from the environment
        adapter = _Adapter(source_address, trust.fingerprint)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)

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
        try:
            resp = self._session.request(
                method,
                self.base_url + target,
                headers=headers,
                data=body,
                timeout=(min(self.timeout, limit), limit),
                verify=self._trust.verify,
                allow_redirects=False,
            )
            content = resp.content
        except requests.exceptions.SSLError as exc:
            raise TransportError("tls", f"TLS: {_tls_reason(exc)}") from exc
        except requests.exceptions.ConnectTimeout as exc:
            raise TransportError("timeout", f"no connection within {self.timeout:g} s") from exc
        except requests.exceptions.ReadTimeout as exc:
            raise TransportError("timeout", f"no reply within {limit:g} s (slow or hung device)") from exc
        except requests.exceptions.ChunkedEncodingError as exc:
            raise TransportError("truncated", "the reply was cut off before its end") from exc
        except requests.exceptions.ConnectionError as exc:
            raise _connection_error(exc) from exc
        except requests.exceptions.RequestException as exc:
            raise TransportError("other", f"HTTP error: {type(exc).__name__}") from exc
        values: list[str] = []
        raw_headers = getattr(resp.raw, "headers", None)
        if raw_headers is not None and hasattr(raw_headers, "getlist"):
            values = list(raw_headers.getlist("WWW-Authenticate"))
        elif "WWW-Authenticate" in resp.headers:
            values = [resp.headers["WWW-Authenticate"]]
        return Reply(resp.status_code, tuple(values), content)

    def drop_connections(self) -> None:
        """Close kept-alive connections (the device rebooted; old sockets are dead)."""
        for adapter in self._session.adapters.values():
            adapter.close()

    def close(self) -> None:
        self._session.close()


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        nxt = current.__cause__ or current.__context__
        if nxt is None and current.args and isinstance(current.args[0], BaseException):
            nxt = current.args[0]
        current = nxt
    return seen


def _connection_error(exc: requests.exceptions.ConnectionError) -> TransportError:
    chain = _chain(exc)
    text = " ".join(str(e) for e in chain)
    if any(isinstance(e, ConnectionRefusedError) for e in chain) or "Connection refused" in text:
        return TransportError("refused", "connection refused (device down or port closed)")
    if any(isinstance(e, ConnectionResetError | RemoteDisconnected | BrokenPipeError) for e in chain) or (
        "reset" in text.lower() or "aborted" in text.lower() or "closed connection" in text.lower()
    ):
        return TransportError("reset", "the device closed or reset the connection mid-request")
    if any(isinstance(e, socket.timeout | TimeoutError) for e in chain):
        return TransportError("timeout", "timed out")
    if "Cannot assign requested address" in text:
        return TransportError("other", "cannot bind the source address")
    return TransportError("other", "cannot connect to the device")


def _tls_reason(exc: BaseException) -> str:
    text = " ".join(str(e) for e in _chain(exc))
    if "Fingerprints did not match" in text:
        return "the certificate does not match the pinned fingerprint"
    if "CERTIFICATE_VERIFY_FAILED" in text:
        return "the certificate is not trusted (unknown CA or wrong host)"
    return "handshake failed"
