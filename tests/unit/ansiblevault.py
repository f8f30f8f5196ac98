"""The real ``ansible-vault`` (ansible-core is a declared test dependency), run hermetically by tests that
prove our vault files and Ansible's are one format: a missing CLI is a failure, never a skip."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ANSIBLE_VAULT = Path(sys.executable).parent / "ansible-vault"


class AnsibleVaultCli:
    """The real ``ansible-vault``, run hermetically: own config, own ANSIBLE_HOME, a password file."""

    def __init__(self, tmp_path: Path, password: bytes) -> None:
        self.tmp = tmp_path
        # ansible-vault strips the password file and runs it if it is executable: plain file, no edge spaces.
        self.passfile = tmp_path / "vault-pass"
        self.passfile.write_bytes(password + b"\n")
        self.passfile.chmod(0o600)
        config = tmp_path / "ansible.cfg"
        config.write_text("")
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
        self.env.update(ANSIBLE_CONFIG=str(config), ANSIBLE_HOME=str(tmp_path / "ansible-home"))

    def run(self, *args: str, extra_env: dict[str, str] | None = None) -> bytes:
        # Checked here, inside the test: a missing CLI is a test failure, not a skip or a setup error.
        assert ANSIBLE_VAULT.is_file(), f"{ANSIBLE_VAULT} is missing: install the 'test' extra (ansible-core)"
        result = subprocess.run(
            [str(ANSIBLE_VAULT), *args],
            cwd=self.tmp,
            env={**self.env, **(extra_env or {})},
            capture_output=True,
            check=False,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr.decode(errors="replace")
        return result.stdout

    def secret_args(self, label: str | None) -> list[str]:
        if label is None:
            return ["--vault-password-file", str(self.passfile)]
        return ["--vault-id", f"{label}@{self.passfile}"]

    def encrypt_file(self, plaintext: bytes, label: str | None, extra_env: dict[str, str] | None = None) -> str:
        source = self.tmp / "plain.bin"
        source.write_bytes(plaintext)
        out = self.run("encrypt", *self.secret_args(label), "--output", "-", str(source), extra_env=extra_env)
        return out.decode("ascii")

    def decrypt_text(self, vaulttext: str) -> bytes:
        source = self.tmp / "vaulted.txt"
        source.write_text(vaulttext)
        return self.run("decrypt", *self.secret_args(None), "--output", "-", str(source))
