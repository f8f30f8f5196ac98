"""No secret value reaches any output; secret references resolve from env, file and vault."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
import yaml

from enforcer.cli import main
from enforcer.config import vault
from enforcer.config.diagnostics import Diagnostics
from enforcer.config.playbook import load_playbook
from enforcer.config.secrets import SecretResolver
from enforcer.credentials.secret import Secret
from enforcer.errors import SecretError
from tests.unit.conftest import SECRETS, AssertLeakFree, Repo

ROOT = Path(__file__).resolve().parents[2]


def test_secret_prints_masked_everywhere() -> None:
    secret = Secret("s3cr3t-value", "env:X")
    for shown in (
        str(secret),
        repr(secret),
        f"{secret}",
        f"{secret!r}",
        f"{secret:>20}",
        str([secret]),
        str({"k": secret}),
    ):
        assert "s3cr3t-value" not in shown
    assert secret.reveal() == "s3cr3t-value"
    assert secret == Secret("s3cr3t-value", "env:Y") and secret != Secret("other", "env:X")
    with pytest.raises(TypeError):
        pickle.dumps(secret)


@pytest.mark.parametrize("args", [["validate"], ["inventory"], ["inventory", "--json"], ["validate", "--json"]])
def test_no_secret_in_command_output(repo: Repo, assert_no_secret: AssertLeakFree, args: list[str]) -> None:
    code, out, err = repo.run(args[0], "site.yml", *args[1:])
    assert code == 0, err
    assert_no_secret(out + err)


def test_no_secret_in_error_output(repo: Repo, assert_no_secret: AssertLeakFree) -> None:
    # Errors near secrets: a vault holding a non-mapping, a wrong vault password, a bad template.
    (repo.root / "pw.txt").write_text("pw\n")
    (repo.root / "one.vault").write_text(vault.encrypt(SECRETS["NW_ADMIN"].encode(), b"pw"))
    repo.replace("organisation: test-msp\n", 'organisation: test-msp\nvault_password: !secret "file:pw.txt"\n')
    repo.replace('!secret "env:NW_OPERATOR"', '!secret "vault:one.vault#operator"')
    code, out, err = repo.run("validate", "site.yml")
    assert code == 1 and "holds a single value, not keys" in err
    assert_no_secret(out + err)


def test_inventory_json_shows_references_not_values(repo: Repo) -> None:
    code, out, _ = repo.run("inventory", "site.yml", "--json")
    assert code == 0
    view = json.loads(out)
    device = view["plays"][0]["sites"][0]["devices"][1]
    assert device["accounts"]["admin"]["password"] == {"sensitive": True, "ref": "env:NW_CAMERA"}


def test_example_repo_validates_and_leaks_nothing(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    inventory = ROOT / "inventories" / "example"
    password = (inventory / "vault-password.example.txt").read_text().strip().encode()
    values = yaml.safe_load(vault.decrypt((inventory / "secrets" / "northwind.vault").read_text(), password))
    assert len(values) >= 8
    outputs = []
    for args in (["validate"], ["inventory"], ["inventory", "--json"]):
        assert main([args[0], "playbooks/site.yml", *args[1:]]) == 0
        outputs.append("".join(capsys.readouterr()))
    for name, value in values.items():
        for line in str(value).splitlines():
            if len(line.strip()) > 8:
                assert all(line.strip() not in o for o in outputs), f"{name} leaked"


def test_every_example_playbook_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    for playbook in sorted((ROOT / "playbooks").glob("*.yml")):
        diagnostics = Diagnostics()
        loaded = load_playbook(playbook.relative_to(ROOT), diagnostics)
        assert loaded is not None and not diagnostics.errors, [str(d) for d in diagnostics]


class TestResolver:
    def test_env_file_and_vault(self, tmp_path: Path) -> None:
        (tmp_path / "token").write_text("from-a-file\n")
        (tmp_path / "all.vault").write_text(vault.encrypt(b"a: from-vault\nn: 1234\n", b"pw"))
        (tmp_path / "one.vault").write_text(vault.encrypt(b"single-value\n", b"pw"))
        resolver = SecretResolver(tmp_path, Secret("pw", "test"), {"TOKEN": "from-env"}, ("TOKEN",))
        assert resolver.resolve({"secret": "env:TOKEN"}).reveal() == "from-env"
        assert resolver.resolve({"secret": "file:token"}).reveal() == "from-a-file"
        assert resolver.resolve({"secret": "vault:all.vault#a"}).reveal() == "from-vault"
        assert resolver.resolve({"secret": "vault:all.vault#n"}).reveal() == "1234"
        assert resolver.resolve({"secret": "vault:one.vault"}).reveal() == "single-value"
        inline = vault.encrypt(b"inline-value", b"pw")
        assert resolver.resolve({"vault": inline}).reveal() == "inline-value"

    def test_inline_vault_from_yaml_tag(self, tmp_path: Path) -> None:
        block = vault.encrypt(b"tagged-value", b"pw", vault_id="prod")
        indented = "\n".join("        " + line for line in block.splitlines())
        (tmp_path / "pw").write_text("pw")
        (tmp_path / "inventory.yml").write_text(
            'organisation: o\nvault_password: !secret "file:pw"\n'
            "defaults:\n  accounts:\n    admin:\n      level: administrator\n      password: !vault |\n"
            f"{indented}\n"
            "sites:\n  s:\n    cameras:\n      c: {vendor: annke, model: m, address: 10.0.0.2}\n"
        )
        from enforcer.config.inventory import load_inventory

        diagnostics = Diagnostics()
        inventory = load_inventory(tmp_path / "inventory.yml", diagnostics, environ={})
        assert inventory is not None and not diagnostics.errors, [str(d) for d in diagnostics]
        admin = inventory.sites[0].devices[0].account("admin")
        assert admin is not None and admin.password is not None
        assert admin.password.reveal() == "tagged-value"

    def test_errors_name_the_problem_not_the_value(self, tmp_path: Path) -> None:
        (tmp_path / "all.vault").write_text(vault.encrypt(b"a: hidden-value\n", b"pw"))
        (tmp_path / "plain.txt").write_text("a: hidden-value\n")
        cases = {
            "vault:all.vault#b": "has no key 'b'",
            "vault:plain.txt#a": "is not an Ansible Vault file",
            "vault:nowhere.vault#a": "not found",
            "env:NOPE": "NOPE is not set",
        }
        resolver = SecretResolver(tmp_path, Secret("pw", "t"), {}, ("NOPE",))
        for ref, message in cases.items():
            with pytest.raises(SecretError, match=message) as info:
                resolver.resolve({"secret": ref})
            assert "hidden-value" not in str(info.value)
        with pytest.raises(SecretError, match="wrong vault password"):
            SecretResolver(tmp_path, Secret("wrong", "t"), {}).resolve({"secret": "vault:all.vault#a"})
