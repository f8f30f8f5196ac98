"""Plain YAML for the files enforcer decrypts or writes itself: libyaml's speed, PyYAML's values, no crash."""

from __future__ import annotations

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from enforcer.config import limits, plainyaml

SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=20))
DOCUMENTS = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
)


@settings(max_examples=200, deadline=None)
@given(data=DOCUMENTS)
def test_what_one_writes_the_other_reads_as_the_same_values(data: object) -> None:
    """What is written now, any YAML reader reads back as written; a store written before (PyYAML's
    text) or by hand reads as PyYAML read it."""
    ours = plainyaml.safe_dump(data, sort_keys=True, allow_unicode=True)
    theirs = yaml.safe_dump(data, sort_keys=True, allow_unicode=True)
    assert yaml.safe_load(ours) == plainyaml.safe_load(ours) == data
    assert plainyaml.safe_load(theirs) == yaml.safe_load(theirs)


def test_a_password_with_a_next_line_character_survives() -> None:
    """PyYAML's own emitter writes U+0085 so that it reads back as a space: a password the store would
    have changed behind our back."""
    data = {"devices": {"hq/nvr": {"admin": {"current": "pa\x85ss"}}}}
    assert yaml.safe_load(yaml.safe_dump(data, allow_unicode=True)) != data
    assert plainyaml.safe_load(plainyaml.safe_dump(data, allow_unicode=True)) == data


def test_deep_nesting_is_a_yaml_error_not_a_crash() -> None:
    """libyaml's own composer recurses in C: 100,000 nested lists would end the process."""
    with pytest.raises(yaml.YAMLError, match=f"nested more than {limits.MAX_YAML_DEPTH} levels deep"):
        plainyaml.safe_load("[" * 100_000 + "]" * 100_000)


def test_a_store_larger_than_an_inventory_may_be_is_read() -> None:
    """The inventory's bound on values is for files a pull request can bring; a store grows with the fleet."""
    devices = {f"site/cam-{i}": {"admin": {"current": f"pw{i}", "pending": None}} for i in range(50_000)}
    text = plainyaml.safe_dump({"version": 1, "devices": devices})
    assert len(plainyaml.safe_load(text)["devices"]) == 50_000 > limits.MAX_YAML_VALUES // 6
