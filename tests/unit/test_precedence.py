"""Precedence, checked against a reference model over generated inventories (hypothesis).

Levels, lowest first: built-in < defaults < defaults.<role>s < each group (general, then role block)
in the order the site lists them < site defaults (general, then role block) < the device.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from enforcer.config.diagnostics import Diagnostics
from enforcer.config.inventory import load_inventory

FIELDS = {
    ("lock_policy", "max_attempts"): st.integers(3, 20),
    ("lock_policy", "lock_minutes"): st.integers(1, 120),
    ("lock_policy", "enabled"): st.booleans(),
    ("isolation",): st.sampled_from(["ip_filter", "client", "none"]),
    ("unlock",): st.sampled_from(["wait", "reboot"]),
    ("accounts", "admin", "level"): st.sampled_from(["administrator", "operator", "viewer"]),
    ("accounts", "admin", "password"): st.sampled_from(["env:A", "env:B", "env:C"]),
}
BUILTIN = {
    ("lock_policy", "max_attempts"): 5,
    ("lock_policy", "lock_minutes"): 30,
    ("lock_policy", "enabled"): True,
    ("isolation",): "ip_filter",
    ("unlock",): "wait",
}
# Every generated inventory declares admin in its defaults; levels below may override its fields.
ADMIN = {("accounts", "admin", "level"): "administrator", ("accounts", "admin", "password"): "env:A"}
ENV = {"A": "value-a", "B": "value-b", "C": "value-c"}

# A level is a partial assignment of fields.
level = st.dictionaries(st.sampled_from(sorted(FIELDS)), st.none()).flatmap(
    lambda keys: st.fixed_dictionaries({k: FIELDS[k] for k in keys})
)


def _tree(assignment: dict[tuple[str, ...], Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for path, value in assignment.items():
        node = out
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = {"secret": value} if path[-1] == "password" else value
    return out


@st.composite
def inventories(draw: st.DrawFn) -> tuple[dict[str, Any], list[dict[tuple[str, ...], Any]]]:
    """An inventory with one camera, and the levels that apply to it, lowest first."""
    org, org_cam = {**ADMIN, **draw(level)}, draw(level)
    groups = {f"g{i}": (draw(level), draw(level)) for i in range(draw(st.integers(0, 3)))}
    order = draw(st.permutations(sorted(groups)))
    site, site_cam, device = draw(level), draw(level), draw(level)
    noise = draw(level)  # a recorders: block must never reach a camera
    inventory = {
        "organisation": "o",
        "secrets": {"env": sorted(ENV)},
        "defaults": {**_tree(org), "cameras": _tree(org_cam), "recorders": _tree(noise)},
        "groups": {name: {"defaults": {**_tree(g), "cameras": _tree(c)}} for name, (g, c) in groups.items()},
        "sites": {
            "s": {
                "groups": list(order),
                "defaults": {**_tree(site), "cameras": _tree(site_cam)},
                "cameras": {"cam": {"vendor": "hikvision", "model": "m", "address": "10.0.0.2", **_tree(device)}},
            }
        },
    }
    levels = [BUILTIN, org, org_cam]
    for name in order:
        levels += [groups[name][0], groups[name][1]]
    levels += [site, site_cam, device]
    return inventory, levels


def _expected(levels: list[dict[tuple[str, ...], Any]]) -> dict[tuple[str, ...], Any]:
    result: dict[tuple[str, ...], Any] = {}
    for assignment in levels:
        result.update(assignment)
    return result


def _actual(path: Path) -> dict[tuple[str, ...], Any]:
    diagnostics = Diagnostics()
    inventory = load_inventory(path, diagnostics, environ=ENV)
    assert inventory is not None and not diagnostics.errors, [str(d) for d in diagnostics]
    [device] = inventory.sites[0].devices
    admin = device.account("admin")
    assert admin is not None and admin.password is not None
    return {
        ("lock_policy", "max_attempts"): device.lock_policy.max_attempts,
        ("lock_policy", "lock_minutes"): device.lock_policy.lock_minutes,
        ("lock_policy", "enabled"): device.lock_policy.enabled,
        ("isolation",): device.isolation,
        ("unlock",): device.unlock,
        ("accounts", "admin", "level"): admin.level,
        ("accounts", "admin", "password"): admin.password.ref,
    }


@settings(max_examples=60, deadline=None)
@given(inventories())
def test_the_most_specific_level_wins_and_unset_values_inherit(
    tmp_path_factory: Any, case: tuple[dict[str, Any], list[dict[tuple[str, ...], Any]]]
) -> None:
    inventory, levels = case
    path = tmp_path_factory.mktemp("inv") / "inventory.yml"
    path.write_text(yaml.safe_dump(inventory))
    actual = _actual(path)
    assert actual == _expected(levels)
    # A device-level value always wins.
    for key, value in levels[-1].items():
        assert actual[key] == value
    # Resolution is deterministic: loading again gives the same desired state.
    assert _actual(path) == actual


@settings(max_examples=30, deadline=None)
@given(st.integers(3, 20), st.integers(3, 20))
def test_device_value_beats_every_level(tmp_path_factory: Any, inherited: int, own: int) -> None:
    inventory = {
        "organisation": "o",
        "defaults": {
            "lock_policy": {"max_attempts": inherited},
            "cameras": {"lock_policy": {"max_attempts": inherited}},
        },
        "sites": {
            "s": {
                "defaults": {"lock_policy": {"max_attempts": inherited}},
                "cameras": {
                    "a": {
                        "vendor": "annke",
                        "model": "m",
                        "address": "10.0.0.2",
                        "lock_policy": {"max_attempts": own},
                    },
                    "b": {"vendor": "annke", "model": "m", "address": "10.0.0.3"},
                },
            }
        },
    }
    path = tmp_path_factory.mktemp("inv") / "inventory.yml"
    path.write_text(yaml.safe_dump(inventory))
    diagnostics = Diagnostics()
    loaded = load_inventory(path, diagnostics, environ=ENV)
    assert loaded is not None and not diagnostics.errors
    a, b = loaded.sites[0].devices
    assert a.lock_policy.max_attempts == own
    assert b.lock_policy.max_attempts == inherited
    assert a.lock_policy.lock_minutes == b.lock_policy.lock_minutes == 30


def test_inherited_error_is_reported_where_it_is_written(tmp_path: Path) -> None:
    """A bad value in the defaults is reported at the defaults line, not at each device."""
    path = tmp_path / "inventory.yml"
    path.write_text(
        "organisation: o\n"
        "defaults:\n"
        "  accounts:\n"
        '    admin: {level: administrator, password: !secret "env:MISSING"}\n'
        "sites:\n"
        "  s:\n"
        "    cameras:\n"
        "      a: {vendor: annke, model: m, address: 10.0.0.2}\n"
        "      b: {vendor: annke, model: m, address: 10.0.0.3}\n"
    )
    diagnostics = Diagnostics()
    load_inventory(path, diagnostics, environ={})
    [error] = diagnostics.errors
    assert error.location.line == 4
    assert error.location.key == "defaults.accounts.admin.password"


def test_inventory_split_over_files_merges_and_refuses_duplicates(tmp_path: Path) -> None:
    (tmp_path / "org.yml").write_text("organisation: o\ndefaults: {lock_policy: {max_attempts: 4}}\n")
    (tmp_path / "acme.yml").write_text(
        "sites:\n  acme:\n    cameras:\n      c: {vendor: annke, model: m, address: 10.0.0.2}\n"
    )
    diagnostics = Diagnostics()
    inventory = load_inventory(tmp_path, diagnostics, environ={})
    assert inventory is not None and not diagnostics.errors
    assert inventory.sites[0].devices[0].lock_policy.max_attempts == 4
    (tmp_path / "more.yml").write_text("sites:\n  acme:\n    cameras: {}\n")
    diagnostics = Diagnostics()
    load_inventory(tmp_path, diagnostics, environ={})
    [error] = diagnostics.errors
    assert error.location.file.name == "more.yml" and error.location.line == 2
    assert "site 'acme' is defined twice" in error.summary
