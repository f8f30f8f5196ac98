"""Planning a fleet costs in proportion to its devices: each site's plan looks up its own devices'
passwords, not the whole play's (a thousand sites once made a million look-ups)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest

from enforcer.credentials.keyring import Keyring, Known
from enforcer.model import Device

pytestmark = pytest.mark.lab


def test_each_device_is_looked_up_once_when_a_fleet_is_planned(lab: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    fleet = lab(sites=6, cameras=3)
    looked_up: list[str] = []
    real = Keyring.known

    def known(self: Keyring, devices: Iterable[Device]) -> Known:
        devices = tuple(devices)
        looked_up.extend(d.id for d in devices)
        return real(self, devices)

    monkeypatch.setattr(Keyring, "known", known)
    code, output = fleet.run("plan", fleet.playbook)
    assert code == 0, output
    assert sorted(looked_up) == sorted(f"{d.site}/{d.name}" for d in fleet.spec.devices)
