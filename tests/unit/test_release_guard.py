"""The engine's own refusal to release while a client is owed an update (the credential store's record).

The planner and the rescue never plan such a release; this is the guarantee beneath them, so it is shown on
the handlers directly, with a real credential store and keyring and a filter held in memory (about order,
not protocols: the lab tests show the drivers).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from enforcer.credentials.keyring import Keyring
from enforcer.credentials.store import CredentialStore, Isolation
from enforcer.engine.handlers import StepContext, run_step
from enforcer.errors import DeviceError
from enforcer.facts import ISOLATION_MARKER, IPFilterFact
from enforcer.model import Client, Hold, MilestoneSettings
from enforcer.plan.artifact import Step
from enforcer.plan.steps import HoldRef, ReleaseClient, ReleaseFilter
from tests.unit.test_planner import device, site_of

BEFORE = IPFilterFact(True, "deny", ("10.0.0.9",))


class Filter:
    """A device's IP filter, as an isolation left it."""

    def __init__(self) -> None:
        self.now = IPFilterFact(True, "allow", ("127.0.0.1", ISOLATION_MARKER))

    def read_ip_filter(self) -> IPFilterFact:
        return self.now

    def ensure_ip_filter(self, wanted: IPFilterFact) -> Any:
        self.now = wanted


@pytest.fixture
def ctx(tmp_path: Path) -> StepContext:
    nvr = device("nvr", "recorder")
    vms = Client("s", "vms", "milestone", (Hold("nvr", "admin"),), MilestoneSettings("https://vms"), "10.0.0.66")
    keyring = Keyring(CredentialStore.load(tmp_path / "credentials.vault", b"store-pw"))
    keyring.remember_isolation(nvr.id, Isolation(BEFORE))
    keyring.remember_isolation(vms.id, Isolation(None, client={"enabled": ["hw-1"]}))
    keyring.owe_update([vms.id], "nvr", "admin")  # as the killed run's account step wrote it
    released: list[Any] = []

    class Vms:
        def release(self, *args: Any) -> None:
            released.append(args)

    return StepContext({"s": site_of(nvr, clients=(vms,))}, {nvr.id: Filter()}, keyring, open_client=lambda c: Vms())  # type: ignore[dict-item,arg-type,return-value]


def test_neither_the_client_nor_its_devices_filter_is_released_while_it_is_owed_an_update(ctx: StepContext) -> None:
    client = Step("s", "release", "s/vms", ReleaseClient((HoldRef("nvr", "admin"),)))
    with pytest.raises(DeviceError, match="not released: vms may still hold an old password of nvr"):
        run_step(client, ctx)
    device = Step("s", "release", "s/nvr", ReleaseFilter())
    with pytest.raises(DeviceError, match="not released: vms may still hold an old password of nvr"):
        run_step(device, ctx)
    assert ctx.drivers["s/nvr"].read_ip_filter().isolated  # type: ignore[attr-defined]
    assert ctx.keyring.isolation("s/vms") is not None and ctx.keyring.isolation("s/nvr") is not None
    ctx.keyring.update_settled("s/vms")  # its update verified
    run_step(client, ctx)
    run_step(device, ctx)
    assert ctx.drivers["s/nvr"].read_ip_filter() == BEFORE  # type: ignore[attr-defined]
    assert ctx.keyring.isolated() == frozenset()
