"""Secret references: where the inventory says a password is, resolved to a masked value.

An inventory never holds a password, only where to find one:

- ``env:NAME``: an environment variable;
- ``file:path``: a file's content (trailing newline dropped), relative to the inventory;
- ``vault:path#key``: a key of a YAML mapping in an Ansible Vault encrypted file;
- ``vault:path``: a whole Ansible Vault encrypted file holding one value;
- an inline ``!vault |`` block, as ``ansible-vault encrypt_string`` writes it.

Resolved values are :class:`~enforcer.credentials.secret.Secret`, whose printed form is masked
everywhere; the raw value is read with ``reveal()`` only where it is sent to a device.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from enforcer.config import vault
from enforcer.credentials.secret import Secret
from enforcer.errors import SecretError, VaultError, VaultPasswordError


@dataclass
class SecretResolver:
    """Resolves references relative to ``base`` (the inventory folder), caching each vault file."""

    base: Path
    vault_password: Secret | None = None
    environ: dict[str, str] | os._Environ[str] = field(default_factory=lambda: os.environ)
    _vault_cache: dict[Path, Any] = field(default_factory=dict)

    def resolve(self, value: dict[str, str]) -> Secret:
        """Resolve a ``{"secret": ref}`` or ``{"vault": text}`` mapping; raises SecretError."""
        if "vault" in value:
            return Secret(self._decrypt(value["vault"], "inline !vault value").decode("utf-8").strip(), "!vault")
        ref = value["secret"]
        scheme, _, rest = ref.partition(":")
        if scheme == "env":
            if rest not in self.environ:
                raise SecretError(f"environment variable {rest} is not set")
            return Secret(self.environ[rest], ref)
        if scheme == "file":
            return Secret(self._read(rest).rstrip("\r\n"), ref)
        if scheme == "vault":
            file, _, key = rest.partition("#")
            data = self._vault_file(file)
            if not key:
                if not isinstance(data, str | int):
                    raise SecretError(f"vault file {file} holds a mapping: name a key with {file}#KEY")
                return Secret(str(data), ref)
            if not isinstance(data, dict):
                raise SecretError(f"vault file {file} holds a single value, not keys: drop #{key}")
            if key not in data:
                raise SecretError(f"vault file {file} has no key {key!r}")
            if not isinstance(data[key], str | int):
                raise SecretError(f"key {key!r} of vault file {file} is not a single value")
            return Secret(str(data[key]), ref)
        raise SecretError(f"unknown secret scheme {scheme!r}: use env:, file: or vault:")

    def _read(self, relative: str) -> str:
        path = self.base / relative
        try:
            return path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise SecretError(f"file {relative} not found (looked in {self.base})") from None
        except OSError as exc:
            raise SecretError(f"cannot read file {relative}: {exc.strerror}") from None

    def _vault_file(self, relative: str) -> Any:
        path = (self.base / relative).resolve()
        if path not in self._vault_cache:
            text = self._read(relative)
            if not vault.is_vault(text):
                raise SecretError(f"{relative} is not an Ansible Vault file (encrypt it with ansible-vault)")
            plain = self._decrypt(text, f"vault file {relative}").decode("utf-8")
            try:
                self._vault_cache[path] = yaml.safe_load(plain)
            except yaml.YAMLError:
                raise SecretError(f"vault file {relative} does not hold YAML") from None
        return self._vault_cache[path]

    def _decrypt(self, text: str, what: str) -> bytes:
        if self.vault_password is None:
            raise SecretError(f"{what} needs a vault password: set vault_password in the inventory")
        try:
            return vault.decrypt(text, self.vault_password.reveal().encode("utf-8"))
        except VaultPasswordError:
            raise SecretError(f"wrong vault password for {what}") from None
        except VaultError as exc:
            raise SecretError(f"{what}: {exc}") from None
