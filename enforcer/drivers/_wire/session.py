"""What the ISAPI and Dahua sessions share: one device's keys, and one request at a time through
the transport, its failures raised as :class:`~enforcer.errors.TransportFailed`.

The vendor sessions add their digest flow and their rules for what a reply means; every credential
they send goes through :meth:`~enforcer.credentials.keyring.DeviceKeys.attempt`.
"""

from __future__ import annotations

import threading
from typing import Self

from enforcer.credentials.keyring import DeviceKeys
from enforcer.drivers._wire.digest import Reply
from enforcer.drivers._wire.http import Transport, transport_for
from enforcer.drivers.base import DriverOptions
from enforcer.errors import DeviceError, TransportError, TransportFailed


class DeviceSession:
    """One device as one user; ``_lock`` keeps requests to it one at a time."""

    def __init__(self, keys: DeviceKeys, transport: Transport, options: DriverOptions | None = None) -> None:
        self.keys, self.transport, self.options = keys, transport, options or DriverOptions()
        self.site, self.name, self.device_id = keys.device.site, keys.device.name, keys.device.id
        self.user = keys.user
        self._lock = threading.RLock()

    @classmethod
    def open(cls, keys: DeviceKeys, options: DriverOptions) -> Self:
        """A session over a new transport to the keys' device; DeviceError for a TLS setting it refuses."""
        transport = transport_for(keys.device, source_address=options.source_address, timeout=options.timeout)
        return cls(keys, transport, options)

    def error(self, step: str, detail: str) -> DeviceError:
        return DeviceError(site=self.site, device=self.name, step=step, detail=detail)

    def failed(self, step: str, exc: TransportError) -> TransportFailed:
        """``exc`` as the DeviceError a caller can tell apart by its ``kind``."""
        return TransportFailed(site=self.site, device=self.name, step=step, detail=exc.detail, kind=exc.kind)

    def send(
        self,
        step: str,
        method: str,
        target: str,
        headers: dict[str, str] | None = None,
        body: bytes | None = None,
        timeout: float | None = None,
    ) -> Reply:
        """One request as it is (no credentials added); TransportFailed unless a whole reply came back."""
        try:
            return self.transport.send(method, target, headers=headers, body=body, timeout=timeout)
        except TransportError as exc:
            raise self.failed(step, exc) from exc
