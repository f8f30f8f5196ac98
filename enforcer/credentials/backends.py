"""Opening the credential store an inventory chooses: a vault file (the default) or HashiCorp Vault.

Why the vault file stays the default rather than being replaced: it needs nothing but the repository
and the vault password the inventory already has, it travels with the git history, and ``ansible-vault``
opens it. HashiCorp Vault is for teams whose runners share no disk and who want compare-and-set writes
and an audit log of every read; both hold the same document (docs/credential-store.md).
"""

from __future__ import annotations

from pathlib import Path

from enforcer.credentials.store import CredentialStore
from enforcer.errors import CredentialStoreError
from enforcer.model import Inventory, KVStore

__all__ = ["open_store"]


def open_store(inventory: Inventory) -> CredentialStore:
    """The inventory's credential store, read; CredentialStoreError saying what is missing or wrong."""
    where = inventory.credential_store
    if isinstance(where, KVStore):
        from enforcer.credentials.hashicorp import KVStoreBackend

        return CredentialStore.open(KVStoreBackend(where.mount, where.path))
    path = where or Path(inventory.path) / "credentials.vault"
    if path.exists() and inventory.vault_password is None:
        raise CredentialStoreError(f"{path} needs a vault password: set vault_password in the inventory")
    password = inventory.vault_password.reveal().encode() if inventory.vault_password else b""
    if not password:
        raise CredentialStoreError(f"{path}: the credential store needs a vault password: set vault_password")
    return CredentialStore.load(path, password)
