"""The compiled schema check says yes exactly where jsonschema does, so that asking jsonschema only for
a document it does not pass changes no verdict and no message (those come from jsonschema still)."""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from enforcer.config import _fastschema, _yaml, schema
from enforcer.config.diagnostics import Diagnostics
from enforcer.lab.generate.generator import generate

ROOT = Path(__file__).resolve().parents[2]


def _verdicts(name: str, data: Any) -> tuple[bool | None, bool]:
    """(the fast check's verdict, None if undecided; jsonschema's)."""
    check = schema._fast_check(name)
    assert check is not None
    try:
        fast: bool | None = check(data)
    except _fastschema.Undecided:
        fast = None
    return fast, jsonschema.Draft202012Validator(schema.schema(name)).is_valid(data)


def _document(path: Path) -> Any:
    doc = _yaml.load(path, Diagnostics())
    assert doc is not None
    return doc.data


@pytest.fixture(scope="module")
def documents(tmp_path_factory: pytest.TempPathFactory) -> list[Any]:
    """Valid inventories with every part the schema describes: the example's clients of each kind, a
    generated fleet's devices, firmware and vault references."""
    fleet = tmp_path_factory.mktemp("fleet")
    generate(fleet, sites=2, cameras=3, seed=1)
    docs = [_document(ROOT / "inventories/example/northwind.yml"), _document(fleet / "inventory/fleet.yml")]
    assert all(_verdicts("inventory", d) == (True, True) for d in docs)
    return docs


def test_the_shipped_schemas_compile() -> None:
    """Else every document would go to jsonschema, as before."""
    assert schema._fast_check("inventory") is not None
    assert schema._fast_check("playbook") is not None


def _paths(data: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [at]
    if isinstance(data, dict):
        for key, value in data.items():
            out += _paths(value, (*at, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            out += _paths(value, (*at, i))
    return out


SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 70_000),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["", "x", "admin", "hikvision", "milestone", "ssh", "manual", "viewer", "ip_filter", "1.2.3.4"]),
    st.text(max_size=6),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["a", "secret", "kind"]), inner),
    max_leaves=6,
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_mutated_inventory_gets_jsonschemas_verdict(documents: list[Any], data: st.DataObject) -> None:
    """Replace, delete or add a value anywhere in a valid inventory, a few times over."""
    doc = copy.deepcopy(data.draw(st.sampled_from(documents)))
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(_paths(doc)[1:]))
        parent = doc
        for part in path[:-1]:
            parent = parent[part]
        action = data.draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "replace":
            parent[path[-1]] = data.draw(VALUES)
        elif action == "delete":
            del parent[path[-1]]
        elif isinstance(parent[path[-1]], dict):
            parent[path[-1]][data.draw(st.sampled_from(["kind", "password", "level", "extra", "channel"]))] = data.draw(
                VALUES
            )
        elif isinstance(parent[path[-1]], list):
            parent[path[-1]].append(data.draw(VALUES))
    fast, slow = _verdicts("inventory", doc)
    assert fast is None or fast == slow


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["name", "inventory", "sites", "enforce", "serial", "concurrency"]), VALUES))
def test_a_playbook_gets_jsonschemas_verdict(play: dict[str, Any]) -> None:
    fast, slow = _verdicts("playbook", [play])
    assert fast is None or fast == slow


EDGES = {"items": {"enum": ["a", 1, True, None]}, "uniqueItems": True}


@pytest.mark.parametrize(
    "value",
    [[1, True], [1, 1.0], [True, True], [0, False], [None, None], ["a", 1], [math.nan, math.nan], [1.5], [[1]]],
)
def test_booleans_and_numbers_compare_as_jsonschema_compares_them(value: list[Any]) -> None:
    check = _fastschema.compile_schema(EDGES)
    assert check is not None
    try:
        fast = check(value)
    except _fastschema.Undecided:
        return
    assert fast == jsonschema.Draft202012Validator(EDGES).is_valid(value)


def test_an_integer_may_be_written_as_a_whole_float() -> None:
    check = _fastschema.compile_schema({"type": "integer", "minimum": 1})
    assert check is not None
    assert [check(v) for v in (1, 1.0, 1.5, True, 0)] == [True, True, False, False, False]


def test_a_keyword_it_does_not_know_compiles_nothing() -> None:
    assert _fastschema.compile_schema({"properties": {"a": {"format": "email"}}}) is None
    assert _fastschema.compile_schema({"$ref": "https://example.com/schema"}) is None


def test_a_valid_document_never_reaches_jsonschema(documents: list[Any], monkeypatch: pytest.MonkeyPatch) -> None:
    def slow(name: str) -> Any:
        raise AssertionError("jsonschema was asked")

    monkeypatch.setattr(schema, "_validator", slow)
    assert schema.validate(_yaml.Document(Path("x.yml"), documents[1]), "inventory", Diagnostics())
