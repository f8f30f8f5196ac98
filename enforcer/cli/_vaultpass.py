"""Where the vault password comes from, as Ansible users give it.

In order: ``--vault-id [LABEL@]SOURCE``, ``--vault-password-file FILE``, then the environment
(``ENFORCE_VAULT_PASSWORD_FILE``, then Ansible's ``ANSIBLE_VAULT_PASSWORD_FILE``), else the inventory's
own ``vault_password`` reference. A source is a file holding the password, ``prompt`` (asked on the
terminal), or an executable script whose output is the password: as with ``ansible-vault``, a script
named ``*-client`` (or ``*-client.py`` …) is given ``--vault-id LABEL``.
"""

from __future__ import annotations

import getpass
import os
import subprocess
from pathlib import Path

from enforcer.credentials.secret import Secret

ENV = ("ENFORCE_VAULT_PASSWORD_FILE", "ANSIBLE_VAULT_PASSWORD_FILE")


class VaultPasswordError(OSError):
    """The password source cannot be read or run; the message says which and why, never the password."""


def source_from(vault_id: str | None, file: Path | None) -> tuple[str, str] | None:
    """(label, source) the arguments or the environment name; None: the inventory's own reference."""
    if vault_id:
        label, _, source = vault_id.rpartition("@")
        return label or "default", source
    if file is not None:
        return "default", str(file)
    for name in ENV:
        if os.environ.get(name):
            return "default", os.environ[name]
    return None


def read(label: str, source: str) -> Secret:
    """The password ``source`` gives (a file, ``prompt``, or an executable script)."""
    if source == "prompt":
        try:
            return Secret(getpass.getpass(f"Vault password ({label}): "), f"prompt:{label}")
        except (EOFError, OSError) as exc:
            raise VaultPasswordError(f"cannot prompt for the vault password: {exc}") from None
    path = Path(source)
    if not path.is_file():
        raise VaultPasswordError(f"vault password file {source} not found")
    if os.access(path, os.X_OK):
        return Secret(_run(path, label), f"script:{source}")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise VaultPasswordError(f"cannot read vault password file {source}: {exc}") from None
    return Secret(text.strip(), f"file:{source}")


def _run(path: Path, label: str) -> str:
    command = [str(path.resolve())]
    if path.stem.endswith("-client"):
        command += ["--vault-id", label]
    try:
        done = subprocess.run(command, capture_output=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise VaultPasswordError(f"vault password script {path} could not be run: {exc}") from None
    if done.returncode != 0:
        # Its stderr may say why; its stdout is the password and is never shown.
        said = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
        raise VaultPasswordError(f"vault password script {path} exited {done.returncode}: {said[0][:200]}")
    return done.stdout.decode("utf-8").strip()
