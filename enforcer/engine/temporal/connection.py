"""Where the Temporal service is, and how to reach it: a dev server, a cluster of one's own, or Temporal Cloud."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from temporalio.client import Client, TLSConfig

from enforcer.errors import BackendError


@dataclass(frozen=True)
class Connection:
    """Where the Temporal service is, and how to prove who we are (mTLS for a cluster or Temporal Cloud)."""

    address: str
    namespace: str = "default"
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_ca: Path | None = None

    async def connect(self) -> Client:
        tls: bool | TLSConfig = False
        try:
            if self.tls_cert or self.tls_ca:
                tls = TLSConfig(
                    client_cert=self.tls_cert.read_bytes() if self.tls_cert else None,
                    client_private_key=self.tls_key.read_bytes() if self.tls_key else None,
                    server_root_ca_cert=self.tls_ca.read_bytes() if self.tls_ca else None,
                )
        except OSError as exc:
            raise BackendError(f"cannot read the TLS file {exc.filename}: {exc.strerror}") from None
        try:
            return await Client.connect(self.address, namespace=self.namespace, tls=tls)
        except RuntimeError as exc:  # the SDK's core says why in its message
            raise BackendError(
                f"cannot reach Temporal at {self.address} (namespace {self.namespace}): {exc}; check --address, "
                "that the service runs there, and the TLS options"
            ) from None
