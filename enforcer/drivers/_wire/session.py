"""What the ISAPI and Dahua sessions share: which device and user, the credential in use, and one
request at a time through the transport, its failures raised as :class:`TransportFailed`.

The vendor sessions add their digest flow and their rules for what a reply means.
"""

from __future__ import annotations

import threading
from typing import Self

from enforcer.config.secrets import Secret
from enforcer.credentials.guard import LoginGuard
from enforcer.drivers._wire.digest import Reply
from enforcer.drivers._wire.http import Transport, TransportError, TransportFailed, transport_for
from enforcer.drivers.base import DriverOptions
from enforcer.errors import DeviceError
from enforcer.facts import Candidate
from enforcer.model import Device


class DeviceSession:
    """One device as one user; ``_lock`` keeps requests to it one at a time."""

    def __init__(self, *, site: str, device_id: str, name: str, guard: LoginGuard, transport: Transport, user: str):
        self.site, self.device_id, self.name = site, device_id, name
        self.guard, self.transport, self.user = guard, transport, user
        self.password: Secret | None = None
        self.label: Candidate | None = None
        self._lock = threading.RLock()

    @classmethod
    def open(cls, device: Device, guard: LoginGuard, options: DriverOptions) -> Self:
        """A session to ``device`` as the login user over a new transport; DeviceError for a TLS setting it refuses."""
        transport = transport_for(device, source_address=options.source_address, timeout=options.timeout)
        return cls(
            site=device.site,
            device_id=device.id,
            name=device.name,
            guard=guard,
            transport=transport,
            user=options.login_user,
        )

    def error(self, step: str, detail: str) -> DeviceError:
        return DeviceError(site=self.site, device=self.name, step=step, detail=detail)

    def failed(self, step: str, exc: TransportError) -> TransportFailed:
        """``exc`` as the DeviceError a caller can tell apart by its ``kind``."""
        return TransportFailed(site=self.site, device=self.name, step=step, detail=exc.detail, kind=exc.kind)

    def use(self, password: Secret, label: Candidate) -> None:
        """Authenticate further requests with this credential."""
        self.password, self.label = password, label

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
