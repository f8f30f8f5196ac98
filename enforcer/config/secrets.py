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

from enforcer.config import _confine, _env, limits, plainyaml, vault
from enforcer.credentials.secret import Secret
from enforcer.errors import SecretError, VaultError, VaultPasswordError


@dataclass
class SecretResolver:
    """Resolves references inside ``base`` (the inventory folder), caching each vault file.

    A path never leaves ``base`` (``_confine``); ``env:`` reads ``ENFORCE_*`` and the names and
    ``PREFIX_*`` patterns in ``env_allowed``, the inventory's ``secrets.env`` (``_env``).
    """

    base: Path
    vault_password: Secret | None = None
    environ: dict[str, str] | os._Environ[str] = field(default_factory=lambda: os.environ)
    env_allowed: tuple[str, ...] = ()
    _vault_cache: dict[Path, Any] = field(default_factory=dict)
    _inside: dict[tuple[str, str], Path] = field(default_factory=dict)

    def resolve(self, value: dict[str, str]) -> Secret:
        """Resolve a ``{"secret": ref}`` or ``{"vault": text}`` mapping; raises SecretError."""
        if "vault" in value:
            try:
                plain = self._decrypt(value["vault"], "inline !vault value").decode("utf-8")
            except UnicodeDecodeError:
                raise SecretError("inline !vault value does not decrypt to UTF-8 text") from None
            return Secret(plain.strip(), "!vault")
        ref = value["secret"]
        scheme, _, rest = ref.partition(":")
        if scheme == "env":
            refused = _env.refusal(rest, self.env_allowed)
            if refused:
                raise SecretError(refused)
            if rest not in self.environ:
                raise SecretError(f"environment variable {rest} is not set")
            return Secret(self.environ[rest], ref)
        if scheme == "file":
            return Secret(self._read(rest, limits.MAX_SECRET_FILE_BYTES).rstrip("\r\n"), ref)
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

    def inside(self, relative: str, what: str) -> Path:
        """``relative`` resolved inside ``base`` (:func:`_confine.inside`), once per load: a fleet's
        devices name the same vault file and firmware images, and resolving each anew (a ``stat`` per
        folder of the path, twice) was a fifth of building a 1,000-device inventory."""
        path = self._inside.get((relative, what))
        if path is None:
            path = self._inside[(relative, what)] = _confine.inside(self.base, relative, what)
        return path

    def _path(self, relative: str) -> Path:
        try:
            return self.inside(relative, "file")
        except _confine.PathError as exc:
            raise SecretError(str(exc)) from None

    def _read(self, relative: str, limit: int, path: Path | None = None) -> str:
        shown = _confine.clip(relative)
        try:
            return _confine.read_text(path or self._path(relative), limit, "file", shown)
        except FileNotFoundError:
            raise SecretError(f"file {shown} not found (looked in {self.base})") from None
        except _confine.PathError as exc:
            raise SecretError(str(exc)) from None

    def _vault_file(self, relative: str) -> Any:
        path = self._path(relative)
        shown = _confine.clip(relative)
        if path not in self._vault_cache:
            text = self._read(relative, limits.MAX_FILE_BYTES, path)
            if not vault.is_vault(text):
                raise SecretError(f"{shown} is not an Ansible Vault file (encrypt it with ansible-vault)")
            try:
                plain = self._decrypt(text, f"vault file {shown}").decode("utf-8")
                self._vault_cache[path] = plainyaml.safe_load(plain)
            except (yaml.YAMLError, UnicodeDecodeError, RecursionError, ValueError):
                # Its content is secret: say what is wrong, never quote it.
                raise SecretError(f"vault file {shown} does not hold YAML text") from None
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
