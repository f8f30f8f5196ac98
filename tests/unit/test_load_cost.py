"""Loading a fleet does its repeated work once: references inlined for validation, paths resolved once."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from enforcer.config import _confine, schema
from enforcer.config.diagnostics import Diagnostics
from enforcer.config.inventory import load_inventory
from enforcer.lab.generate.generator import generate


def _refs(node: Any) -> int:
    if isinstance(node, dict):
        return ("$ref" in node) + sum(_refs(v) for k, v in node.items() if k != "$defs")
    if isinstance(node, list):
        return sum(_refs(v) for v in node)
    return 0


def test_the_validator_meets_no_reference() -> None:
    """jsonschema looked each reference up anew: 7,500 times for 1,000 devices."""
    assert _refs(schema.schema("inventory")) > 5  # outside $defs (which stay, unused)
    assert _refs(schema._validator("inventory").schema) == 0


BROKEN = [
    {"organisation": 1},
    {"organisation": "o", "sites": {"s": {"recorders": {"n": {"vendor": "hikvison", "model": "m", "address": "a"}}}}},
    {"organisation": "o", "sites": {"s": {"cameras": {"c": {"vendor": "hikvision", "adress": "a"}}}}},
    {"organisation": "o", "defaults": {"accounts": {"admin": {"password": "plain"}}}},
    {"organisation": "o", "vault_password": "x", "sites": {"s": {"clients": {"x": {"kind": "ssh"}}}}},
    {"organisation": "o", "defaults": {"lock_policy": {"max_attempts": "five"}}, "groups": []},
]


@pytest.mark.parametrize("data", BROKEN)
def test_errors_are_those_the_references_give(data: dict[str, Any]) -> None:
    referencing = jsonschema.Draft202012Validator(schema.schema("inventory"))
    messages = sorted((list(e.absolute_path), e.message, e.validator) for e in referencing.iter_errors(data))
    inlined = schema._validator("inventory")
    assert sorted((list(e.absolute_path), e.message, e.validator) for e in inlined.iter_errors(data)) == messages
    assert messages


def test_a_recursive_reference_stays_one() -> None:
    root = {"$defs": {"tree": {"type": "object", "properties": {"kids": {"items": {"$ref": "#/$defs/tree"}}}}}}
    root["properties"] = {"top": {"$ref": "#/$defs/tree"}}
    validator = jsonschema.Draft202012Validator(schema.inlined(copy.deepcopy(root)))
    assert list(validator.iter_errors({"top": {"kids": [{"kids": [1]}]}}))


def test_each_path_is_resolved_once_per_load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every device names the fleet's vault file and its model's firmware image."""
    generate(tmp_path, sites=4, cameras=5, seed=1)
    resolved: list[str] = []
    inside = _confine.inside

    def counting(base: Path, name: str, what: str) -> Path:
        resolved.append(name)
        return inside(base, name, what)

    monkeypatch.setattr(_confine, "inside", counting)
    inventory = load_inventory(tmp_path / "inventory", Diagnostics())
    assert inventory is not None and sum(len(s.devices) for s in inventory.sites) == 24
    assert sorted(resolved) == sorted(set(resolved))


def test_a_fleet_of_substitutions_never_imports_jinja2(tmp_path: Path) -> None:
    """The generated fleet's strings are all ``{{ name }}`` substitutions: jinja2 (13 ms to import) is not
    needed, and the sandbox is imported only when a string needs it."""
    import subprocess
    import sys

    generate(tmp_path / "fleet", sites=2, cameras=2, seed=1)
    probe = (
        "import sys; from pathlib import Path; from enforcer.config.diagnostics import Diagnostics; "
        "from enforcer.config.playbook import load_playbook; "
        f"assert load_playbook(Path({str(tmp_path / 'fleet' / 'site.yml')!r}), Diagnostics()) is not None; "
        "print('jinja2' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
