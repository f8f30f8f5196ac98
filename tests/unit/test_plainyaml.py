"""Plain YAML for the files enforcer decrypts, and the credential store as JSON: fast, the same values, no crash."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from enforcer.config import limits, plainyaml, vault
from enforcer.credentials.secret import Secret
from enforcer.credentials.store import CredentialStore

SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=20))
DOCUMENTS = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
)


@settings(max_examples=200, deadline=None)
@given(data=DOCUMENTS)
def test_the_values_pyyaml_reads(data: object) -> None:
    text = yaml.safe_dump(data, sort_keys=True, allow_unicode=True)
    assert plainyaml.safe_load(text) == yaml.safe_load(text)


def test_deep_nesting_is_a_yaml_error_not_a_crash() -> None:
    """libyaml's own composer recurses in C: 100,000 nested lists would end the process."""
    with pytest.raises(yaml.YAMLError, match=f"nested more than {limits.MAX_YAML_DEPTH} levels deep"):
        plainyaml.safe_load("[" * 100_000 + "]" * 100_000)


def test_a_store_larger_than_an_inventory_may_be_is_read() -> None:
    """The inventory's bound on values is for files a pull request can bring; a store grows with the fleet."""
    devices = {f"site/cam-{i}": {"admin": {"current": f"pw{i}", "pending": None}} for i in range(50_000)}
    text = yaml.safe_dump({"version": 1, "devices": devices})
    assert len(plainyaml.safe_load(text)["devices"]) == 50_000 > limits.MAX_YAML_VALUES // 6


PASSWORDS = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=12)


@settings(max_examples=100, deadline=None)
@given(password=PASSWORDS)
def test_the_store_is_json_any_yaml_reader_reads_as_written(
    tmp_path_factory: pytest.TempPathFactory, password: str
) -> None:
    """JSON, read with the JSON parser (a 10,000-device store: 0.7 s as YAML, 7 ms as JSON), which YAML
    readers (``ansible-vault edit``, an older enforcer) read as written: U+0085 and U+2028 escaped, which a
    YAML reader takes for line breaks, astral characters not, which it would read as two halves."""
    path = tmp_path_factory.mktemp("store") / "credentials.vault"
    store = CredentialStore.load(path, b"pw")
    store.set_current("hq/nvr", "admin", Secret(password, "test"))
    store.save()
    text = vault.decrypt(path.read_bytes(), b"pw").decode()
    assert json.loads(text) == yaml.safe_load(text)
    assert yaml.safe_load(text)["devices"]["hq/nvr"]["admin"]["current"] == password
    assert CredentialStore.load(path, b"pw").get("hq/nvr", "admin").current.reveal() == password  # type: ignore[union-attr]


def test_a_store_edited_by_hand_as_yaml_is_read(tmp_path: Path) -> None:
    path = tmp_path / "credentials.vault"
    path.write_text(vault.encrypt(b"{version: 1, devices: {hq/nvr: {admin: {current: 'x1'}}}}\n", b"pw"))
    assert CredentialStore.load(path, b"pw").get("hq/nvr", "admin").current.reveal() == "x1"  # type: ignore[union-attr]
