"""The credential store's vault file and the real ``ansible-vault``, both ways: an operator opens, edits or
creates the store with Ansible's own tool, and enforcer reads what it wrote (docs/credential-store.md).

The document ``ansible-vault create`` writes here is the example in docs/credential-store.md, so that the
documented format is the one the store reads.
"""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path

import pytest
import yaml

from enforcer.credentials.secret import Secret
from enforcer.credentials.store import CredentialStore, Entry, Isolation, Rotation
from enforcer.facts import IPFilterFact
from tests.unit.ansiblevault import AnsibleVaultCli

PASSWORD = "store vault p\u00e4ss-PWMARK".encode()
DOC = Path(__file__).resolve().parents[2] / "docs" / "credential-store.md"
# Characters a generated password may hold, and some YAML would read otherwise if written unquoted.
AWKWARD = "!*-._@Zk4 q9T: #x 'y' \"z\" \u00e9"


def s(value: str) -> Secret:
    return Secret(value, "test")


@pytest.fixture
def cli(tmp_path: Path) -> AnsibleVaultCli:
    return AnsibleVaultCli(tmp_path, PASSWORD)


def documented_example() -> str:
    """The first YAML block of docs/credential-store.md: the store's format as people read it."""
    return re.search(r"```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S).group(1)  # type: ignore[union-attr]


def editor(cli: AnsibleVaultCli, script: str) -> dict[str, str]:
    """An EDITOR for ansible-vault: a Python script run on the decrypted temporary file (its last argument)."""
    path = cli.tmp / "editor.py"
    path.write_text(script, encoding="utf-8")
    return {"EDITOR": f"{shlex.quote(sys.executable)} {shlex.quote(str(path))}"}


def test_ansible_vault_view_opens_a_store_we_wrote(cli: AnsibleVaultCli) -> None:
    path = cli.tmp / "credentials.vault"
    store = CredentialStore.load(path, PASSWORD)
    store.set_current("acme-hq/nvr-01", "admin", s("Old-Admin-Pw7"))
    store.set_pending("acme-hq/nvr-01", "admin", s(AWKWARD))
    store.commit("acme-hq/nvr-01", "admin")
    store.set_pending("acme-hq/lobby", "admin", s("n3W.cam-Pw_x7Kq2"))
    store.set_isolation("acme-hq/lobby", Isolation(IPFilterFact(False, "deny", ()), ("10.20.0.55",)))
    store.set_rotation("acme-hq", Rotation("20250102T140211-3fa2", "2025-01-02T14:02:11Z", ("admin",)))
    store.save()

    shown = cli.run("view", *cli.secret_args(None), str(path), extra_env={"PAGER": "cat"})
    assert yaml.safe_load(shown) == {
        "version": 1,
        "devices": {
            "acme-hq/lobby": {"admin": {"current": None, "pending": "n3W.cam-Pw_x7Kq2", "previous": None}},
            "acme-hq/nvr-01": {"admin": {"current": AWKWARD, "pending": None, "previous": "Old-Admin-Pw7"}},
        },
        "isolations": {
            "acme-hq/lobby": {
                "original": {"enabled": False, "mode": "deny", "addresses": []},
                "keep_blocked": ["10.20.0.55"],
            }
        },
        "rotations": {
            "acme-hq": {
                "id": "20250102T140211-3fa2",
                "started": "2025-01-02T14:02:11Z",
                "accounts": ["admin"],
                "done": False,
            }
        },
    }


def test_we_read_the_documented_store_that_ansible_vault_create_wrote(cli: AnsibleVaultCli) -> None:
    source = cli.tmp / "example.yml"
    source.write_text(documented_example(), encoding="utf-8")
    copy = f"import shutil, sys; shutil.copyfile({str(source)!r}, sys.argv[-1])\n"
    path = cli.tmp / "credentials.vault"
    cli.run("create", "--skip-tty-check", *cli.secret_args(None), str(path), extra_env=editor(cli, copy))
    assert path.read_text(encoding="ascii").startswith("$ANSIBLE_VAULT;1.1;AES256\n")

    store = CredentialStore.load(path, PASSWORD)
    assert store.get("acme-hq/nvr-01", "admin") == Entry(s("Zk4-q9T.rW2*mLx8"), None, s("Old-Admin-Pw7"))
    assert store.get("acme-hq/lobby", "admin") == Entry(s("Cam3ra-Secret-99"), s("n3W.cam-Pw_x7Kq2"))
    assert store.isolation("acme-hq/lobby") == Isolation(IPFilterFact(False, "deny", ()), ("10.20.0.55",))
    assert store.rotation("acme-hq") == Rotation("20250102T140211-3fa2", "2025-01-02T14:02:11Z", ("admin",))
    # The device took the pending password: we write the file again, and Ansible still opens it.
    store.commit("acme-hq/lobby", "admin")
    store.save()
    shown = yaml.safe_load(cli.run("view", *cli.secret_args(None), str(path), extra_env={"PAGER": "cat"}))
    assert shown["devices"]["acme-hq/lobby"]["admin"] == {
        "current": "n3W.cam-Pw_x7Kq2",
        "pending": None,
        "previous": "Cam3ra-Secret-99",
    }


def test_an_ansible_vault_edit_of_our_store_is_read(cli: AnsibleVaultCli) -> None:
    """As an operator records a password changed outside enforcer: ``ansible-vault edit``, then a run."""
    path = cli.tmp / "credentials.vault"
    store = CredentialStore.load(path, PASSWORD)
    store.set_current("acme-hq/nvr-01", "admin", s("Old-Admin-Pw7"))
    store.save()
    edit = (
        "import sys\n"
        "text = open(sys.argv[-1], encoding='utf-8').read()\n"
        # the store is JSON (which is YAML): the operator edits it as it is
        'text = text.replace(\'"current": "Old-Admin-Pw7"\', \'"current": "Set by: hand #1"\')\n'
        'text = text.replace(\'"previous": null\', \'"previous": "Old-Admin-Pw7"\')\n'
        "open(sys.argv[-1], 'w', encoding='utf-8').write(text)\n"
    )
    cli.run("edit", *cli.secret_args(None), str(path), extra_env=editor(cli, edit))
    again = CredentialStore.load(path, PASSWORD)
    assert again.get("acme-hq/nvr-01", "admin") == Entry(s("Set by: hand #1"), None, s("Old-Admin-Pw7"))
