"""The credential store in HashiCorp Vault's KV v2 engine (or OpenBao's, which speaks the same API).

One secret per site, ``<mount>/data/<path>/<site>``, holding that site's part of the store's document
(:mod:`._document`): its devices' passwords, its isolations, its rotation. Every write is a
check-and-set against the version this run read (or last wrote) of that site: if anyone else wrote the
site since (another machine rotated or applied it), the write is refused and the site stops with
:class:`~enforcer.errors.CredentialStoreConflict`; no run ever writes over a record it did not see.

The server and token come from the environment as Vault's own tools read them (``VAULT_ADDR``,
``VAULT_TOKEN``, ``VAULT_CACERT``, ``VAULT_NAMESPACE``), never from the inventory: a pull request can
change the inventory, and must not be able to send the token elsewhere. Give the token a policy for
this inventory's path alone (read, list, create and update on ``<mount>/data/<path>/*`` and list on
``<mount>/metadata/<path>``): Vault's ACL is what confines a store that the inventory names.

``hvac`` is imported when such a store is opened (``pip install 'enforcer[hashicorp]'``).
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping
from typing import Any

from enforcer.credentials._document import Changed, Snapshot, dump, parse
from enforcer.errors import CredentialStoreConflict, CredentialStoreError

__all__ = ["KVStoreBackend"]

_CAS_MISMATCH = "check-and-set"


class KVStoreBackend:
    """A KV v2 engine at ``mount``, one secret per site under ``path``."""

    def __init__(self, mount: str, path: str, *, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        try:
            import hvac
            import hvac.exceptions
        except ImportError:
            raise CredentialStoreError(
                "the inventory keeps its credential store in HashiCorp Vault, which needs hvac: "
                "pip install 'enforcer[hashicorp]'"
            ) from None
        url, token = env.get("VAULT_ADDR"), env.get("VAULT_TOKEN")
        if not url or not token:
            raise CredentialStoreError(
                f"the credential store is in HashiCorp Vault ({mount}/{path}): set VAULT_ADDR and VAULT_TOKEN "
                "(the inventory never names the server or the token)"
            )
        self.mount, self.path = mount, path.strip("/")
        verify: bool | str = env.get("VAULT_CACERT") or True
        self._client = hvac.Client(url=url, token=token, verify=verify, namespace=env.get("VAULT_NAMESPACE"))
        self._kv = self._client.secrets.kv.v2
        self._exceptions = hvac.exceptions
        self._versions: dict[str, int] = {}

    def __str__(self) -> str:
        return f"HashiCorp Vault {self.mount}/{self.path}"

    def load(self, sites: Collection[str] | None = None) -> Snapshot:
        """Every site's record (or those of ``sites``), remembering each one's version for the next write."""
        names = list(sites) if sites is not None else self._sites()
        out = Snapshot()
        for site in names:
            data, version = self._read(site)
            self._versions[site] = version
            if data is None:
                continue
            out.update(parse(data, f"{self}/{site}", f"{self.path}/{site}"))
        return out

    def save(self, mine: Snapshot, changed: Changed) -> Snapshot:
        """Write each changed site's record with check-and-set on the version this run holds of it."""
        for site in sorted(changed.sites()):
            expected = self._versions.get(site, 0)
            try:
                reply = self._call(
                    site,
                    self._kv.create_or_update_secret,
                    path=f"{self.path}/{site}",
                    secret=dump(mine.of_site(site)),
                    cas=expected,
                    mount_point=self.mount,
                )
            except self._exceptions.InvalidRequest as exc:
                if _CAS_MISMATCH not in str(exc):
                    raise CredentialStoreError(f"{self}/{site}: the server refused the write: {_said(exc)}") from None
                raise CredentialStoreConflict(site, f"{self}/{site} is no longer at version {expected}") from None
            self._versions[site] = int(reply["data"]["version"])
        return mine

    # -- the KV v2 calls ------------------------------------------------------------------------------------

    def _sites(self) -> list[str]:
        try:
            reply = self._call("", self._kv.list_secrets, path=self.path, mount_point=self.mount)
        except self._exceptions.InvalidPath:
            return []  # nothing stored yet
        return sorted(k for k in reply["data"]["keys"] if not k.endswith("/"))

    def _read(self, site: str) -> tuple[dict[str, Any] | None, int]:
        try:
            reply = self._call(
                site,
                self._kv.read_secret_version,
                path=f"{self.path}/{site}",
                mount_point=self.mount,
                raise_on_deleted_version=True,
            )
        except self._exceptions.InvalidPath:
            return None, 0
        return reply["data"]["data"], int(reply["data"]["metadata"]["version"])

    def _call(self, site: str, method: Any, **kwargs: Any) -> Any:
        """One request; a refusal or a transport failure becomes a CredentialStoreError naming the path."""
        where = f"{self}/{site}" if site else str(self)
        try:
            return method(**kwargs)
        except (self._exceptions.InvalidPath, self._exceptions.InvalidRequest):
            raise
        except self._exceptions.Forbidden:
            raise CredentialStoreError(
                f"{where}: permission denied: the token's policy must allow read, list, create and update there"
            ) from None
        except self._exceptions.VaultError as exc:
            raise CredentialStoreError(f"{where}: {_said(exc)}") from None
        except OSError as exc:  # requests' connection errors are OSErrors
            raise CredentialStoreError(f"{where}: cannot reach the server: {type(exc).__name__}") from None


def _said(exc: Exception) -> str:
    """What the server said, first line, bounded (it never echoes a secret's value)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]
