"""The vault password from where Ansible users keep it: ANSIBLE_VAULT_PASSWORD_FILE, --vault-id, scripts."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from enforcer.config import vault
from tests.unit.conftest import Repo

RIGHT = "the-right-one"


@pytest.fixture
def vaulted(repo: Repo) -> Repo:
    """The test repo with its operator password in a vault file, and no vault_password of its own."""
    (repo.root / "s.vault").write_text(vault.encrypt(b"operator: Op3rator-Sec-441\n", RIGHT.encode()))
    repo.replace('!secret "env:NW_OPERATOR"', '!secret "vault:s.vault#operator"')
    (repo.root / "pw.txt").write_text(RIGHT + "\n")
    (repo.root / "wrong.txt").write_text("not-" + RIGHT + "\n")
    return repo


def script(path: Path, body: str) -> Path:
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_ansible_vault_password_file_is_honoured(vaulted: Repo, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ENFORCE_VAULT_PASSWORD_FILE", raising=False)
    monkeypatch.setenv("ANSIBLE_VAULT_PASSWORD_FILE", "wrong.txt")
    assert vaulted.run("validate", "site.yml")[0] == 1
    monkeypatch.setenv("ANSIBLE_VAULT_PASSWORD_FILE", "pw.txt")
    assert vaulted.run("validate", "site.yml")[0] == 0
    monkeypatch.setenv("ENFORCE_VAULT_PASSWORD_FILE", "wrong.txt")  # enforcer's own variable comes first
    assert vaulted.run("validate", "site.yml")[0] == 1


def test_vault_id_with_a_label_a_file_and_a_client_script(vaulted: Repo) -> None:
    assert vaulted.run("validate", "site.yml", "--vault-id", "prod@pw.txt")[0] == 0
    assert vaulted.run("validate", "site.yml", "--vault-id", "wrong.txt")[0] == 1
    # a *-client script is told the label, as ansible-vault tells it
    script(vaulted.root / "keyring-client", f'[ "$1 $2" = "--vault-id prod" ] && echo {RIGHT} || exit 3')
    assert vaulted.run("validate", "site.yml", "--vault-id", "prod@keyring-client")[0] == 0
    code, _, err = vaulted.run("validate", "site.yml", "--vault-id", "dev@keyring-client")
    assert code == 1 and "exited 3" in err and RIGHT not in err


def test_an_executable_password_file_is_run(vaulted: Repo) -> None:
    script(vaulted.root / "get-password.sh", f"echo {RIGHT}")
    assert vaulted.run("validate", "site.yml", "--vault-password-file", "get-password.sh")[0] == 0
    script(vaulted.root / "broken.sh", "echo nope >&2; exit 2")
    code, _, err = vaulted.run("validate", "site.yml", "--vault-password-file", "broken.sh")
    assert code == 1 and "exited 2: nope" in err and "Traceback" not in err
