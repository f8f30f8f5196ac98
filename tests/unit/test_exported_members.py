"""Each package's public names (``__all__``) exist, are sorted, and are all it exports on purpose."""

from __future__ import annotations

import importlib

import pytest

PACKAGES = [
    "enforcer.credentials",
    "enforcer.plan",
    "enforcer.drivers.isapi",
    "enforcer.drivers.dahua",
    "enforcer.engine.temporal",
    "enforcer.audit",
    "enforcer.report.audit",
]


@pytest.mark.parametrize("name", PACKAGES)
def test_public_names(name: str) -> None:
    package = importlib.import_module(name)
    public = package.__all__
    assert public == sorted(public, key=lambda n: (not n.isupper(), n))
    for member in public:
        assert hasattr(package, member), f"{name}.{member}"
    defined = {
        n for n, v in vars(package).items() if not n.startswith("_") and getattr(v, "__module__", "").startswith(name)
    }
    assert defined <= set(public), f"{name} exports {sorted(defined - set(public))} without listing them"
