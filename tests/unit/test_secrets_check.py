"""``enforce secrets check``: plaintext found by field and by entropy, references and vaults let through, every
finding file:line and never the value; the command on a generated MSP repository kept in git."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from enforcer.cli import main
from enforcer.config.plaintext import scan_text
from enforcer.lab.generate.generator import generate

VALUE = "Zq8vN3kP0sX7wL2yR5tB9mHc"


@pytest.mark.parametrize(
    ("line", "found"),
    [
        (f"password: {VALUE}", "password holds a literal value"),
        ('  admin: {level: administrator, password: "hunter2"}', "password holds a literal value"),
        ('  admin: {level: administrator, password: !secret "vault:v#k"}', None),
        ("  password: hunter2", "password holds a literal value"),
        ("  - db_password = 'hunter2'  # old", "db_password holds a literal value"),
        ('XPROTECT_TOKEN="abc"', "XPROTECT_TOKEN holds a literal value"),
        (f"notes: the key is {VALUE}", "a high-entropy string of 24 characters"),
        ('password: !secret "env:NW_ADMIN"', None),
        ('password: !secret "store:"', None),
        ("password: '{{ vault_admin }}'", None),
        ("password: ${ADMIN_PASSWORD}", None),
        ("password:", None),
        ("password: null", None),
        ('sha256: "7d1c0e4d6c2b5f3a9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f"', None),
        ("host_key: SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s", None),
        ("id: 123e4567-e89b-12d3-a456-426614174000-Abc", None),
        (f"fixture: {VALUE}  # enforce: not-secret", None),
        ("description: Hikvision and Annke sites lock for 30 minutes", None),
        ("      - uses: actions/setup-python@v5", None),
        ('        env: {GH_TOKEN: "${{ github.token }}"}', None),
        ("          ENFORCE_VAULT_PASSWORD: ${{ secrets.ENFORCE_VAULT_PASSWORD }}", None),
    ],
)
def test_a_line_is_found_or_let_through(line: str, found: str | None) -> None:
    findings = scan_text("f.yml", line + "\n")
    if found is None:
        assert findings == [], findings
        return
    assert len(findings) == 1 and findings[0].line == 1 and found in findings[0].why
    for secret in (VALUE, "hunter2", "abc"):
        assert secret not in str(findings[0])


def test_vault_files_and_inline_vault_blocks_are_not_plaintext() -> None:
    assert scan_text("v", "$ANSIBLE_VAULT;1.1;AES256\n" + "66" * 40 + "\n") == []
    inline = "password: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  " + "3a" * 40 + "\n  " + "4b" * 40 + "\nother: 1\n"
    assert scan_text("v", inline) == []


def _repo(tmp_path: Path) -> Path:
    root = tmp_path / "msp"
    generate(root, sites=1, cameras=1, seed=3)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    subprocess.run(["git", "-C", str(root), "add", "-A"], check=True)
    return root


def test_a_clean_repository_passes_and_a_plaintext_one_fails_naming_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _repo(tmp_path)
    monkeypatch.chdir(root)
    assert main(["secrets", "check", "site.yml"]) == 0
    (root / "ci.env").write_text(f"VAULT_TOKEN={VALUE}\n")
    (root / "untracked.txt").write_text(f"api_key: {VALUE}\n")  # not in git: not part of the repository
    subprocess.run(["git", "-C", str(root), "add", "ci.env"], check=True)
    capsys.readouterr()
    assert main(["secrets", "check", "site.yml"]) == 1
    err = capsys.readouterr().err
    assert "ci.env:1: VAULT_TOKEN holds a literal value" in err and "untracked" not in err
    assert VALUE not in err


def test_a_store_account_without_a_stored_password_and_an_unresolved_reference_are_findings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _repo(tmp_path)
    monkeypatch.chdir(root)
    inventory = root / "inventory" / "fleet.yml"
    text = inventory.read_text().replace('"vault:{{ vault }}#{{ device }}/operator"', '"store:"')
    inventory.write_text(text.replace("credential_store: credentials.vault", "credential_store: other.vault"))
    assert main(["secrets", "check", "site.yml", "--json"]) == 1
    out = capsys.readouterr().out
    assert (
        'site-001/nvr-001 operator is declared !secret \\"store:\\" but the credential store holds no password' in out
    )
    inventory.write_text(text.replace("#{{ device }}/admin", "#{{ device }}/nobody"))
    assert main(["secrets", "check", "site.yml"]) == 1
    assert "has no key 'nvr-001/nobody'" in capsys.readouterr().err
