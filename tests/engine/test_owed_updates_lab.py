"""A run killed after the devices' passwords changed and before its clients were given them, then run again.

Issue 13's first-rank gap: the devices then show nothing left to change, yet an XProtect server and a Frigate
host still hold the old passwords; released (items enabled, service started, filter restored) as they are, they
retry those passwords and lock the cameras. The lab's events file and state are the ground truth here, never
enforcer's report: what each client stores and logs in with, whether the lab ever saw it go back onto its
devices with a password they no longer take (``hardware_changed`` and ``service_started`` say so, as
``stale``), every failed login and every lock.
"""

from __future__ import annotations

import shutil
from typing import Any

import pytest

from tests.engine.conftest import Lab, locks
from tests.engine.test_apply_lab import wait_for
from tests.engine.test_clients_lab import disable, enabled, servers

pytestmark = pytest.mark.lab

#: One site each (the kill then comes once every device of the site changed): source-scoped locks, and
#: Dahua's account-wide ones, where a stale client locks the account for everyone.
VENDORS = ("hikvision", "dahua")


def two_clients(lab: Any, vendor: str, isolation: str, *, lock: bool = True) -> Lab:
    """A site with an XProtect server holding every device and a Frigate host holding every camera; then every
    device password rotated, so that both hold old ones once the devices change. ``lock``: False switches the
    devices' lock off (the first run does, before any password)."""
    fleet: Lab = lab(sites=1, cameras=2, vendor=vendor, clients=("milestone", "ssh"))
    inventory = fleet.root / "inventory" / "fleet.yml"
    text = inventory.read_text().replace("isolation: ip_filter", f"isolation: {isolation}")
    inventory.write_text(
        text if lock else text.replace("lock_policy: {enabled: true,", "lock_policy: {enabled: false,")
    )
    fleet.rotate()
    return fleet


def stale_paths(fleet: Lab) -> list[str]:
    """Every credential a client stores that its device does not take now (the lab's state): an XProtect item's,
    a Frigate host's as it read its config at its last start."""
    state = fleet.fleet.state()
    takes = {(d["name"], a["name"]): a["password"] for d in state["devices"] for a in d["accounts"]}
    stored = [(s["name"], h) for s in state["milestone"] for h in s["hardware"]]
    stored += [(c["name"], h) for c in state["clients"] if c["kind"] == "ssh" for h in c["holds"]]
    return [f"{name} → {h['device']}" for name, h in stored if takes[(h["device"], h["user"])] != h["password"]]


def sources(fleet: Lab) -> set[str]:
    return {s["address"] for s in fleet.fleet.state()["milestone"]} | {h.address for h in fleet.spec.hosts}


def failed_logins(events: list[dict[str, Any]], clients: set[str]) -> list[dict[str, Any]]:
    """The clients' logins a device refused, but for XProtect's opening Basic logon, which Hikvision 5.3.0+
    counts whatever the password (KB 000002183)."""
    return [
        e for e in events if e["event"] == "auth_failed" and e["source"] in clients and e["reason"] != "illegal_logon"
    ]


def released_stale(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each time the lab saw a client go back onto its devices holding a password one of them no longer takes:
    an XProtect item enabled with it, a Frigate service started with it."""
    enabled_stale = [e for e in events if e["event"] == "hardware_changed" and e["enabled"] and e["stale"]]
    return enabled_stale + [e for e in events if e["event"] == "service_started" and e["stale"]]


def changed_devices(events: list[dict[str, Any]]) -> set[str]:
    return {e["device"] for e in events if e["event"] == "account_changed"}


@pytest.mark.parametrize("vendor", VENDORS)
@pytest.mark.parametrize("isolation", ["client", "ip_filter"])
def test_killed_before_the_clients_were_updated_the_rerun_updates_them_before_any_release(
    lab: Any, vendor: str, isolation: str
) -> None:
    """Killed with every device changed and neither XProtect nor Frigate given the new passwords; rerun on a fresh
    runner that shares only the credential store (no journal): both are given them before they, or their devices,
    are released, and no device ever refuses them a login or locks."""
    fleet = two_clients(lab, vendor, isolation)
    clients = sources(fleet)
    last = servers(fleet)[0]["hardware"][-1]
    disable(fleet, last["id"])  # an operator had disabled a camera in the Management Client: it stays so
    before = enabled(fleet)
    assert not stale_paths(fleet)  # both work before the change
    fleet.apply_killed("before", "UpdateClient")
    assert changed_devices(fleet.events()) == {d.name for d in fleet.spec.devices}  # every device changed …
    stale = stale_paths(fleet)
    assert {p.split(" → ")[1] for p in stale} == {d.name for d in fleet.spec.devices}  # … and both clients hold
    assert {p.split(" → ")[0] for p in stale} == {"xprotect-001", "frigate-001"}  # the old passwords
    shutil.rmtree(fleet.root / "inventory" / ".enforcer", ignore_errors=True)  # no journal: the store alone
    code, output = fleet.run("plan", fleet.playbook)
    assert code == 2 and "was interrupted before updating it" in " ".join(output.split()), output
    code, output = fleet.run("apply", fleet.playbook, "--yes")
    events = fleet.events()
    assert not released_stale(events), released_stale(events)  # never back on its devices with an old password
    assert not failed_logins(events, clients), failed_logins(events, clients)
    assert not stale_paths(fleet), stale_paths(fleet)  # each client holds what its devices take
    assert code == 0, output
    assert enabled(fleet) == before
    assert all(fleet.fleet.client_status(h.name)["running"] for h in fleet.spec.hosts)
    assert fleet.store().owed() == {}
    assert fleet.run("plan", fleet.playbook)[0] == 0
    events = fleet.events()  # and nothing failed or locked since
    assert not failed_logins(events, clients) and not locks(events), failed_logins(events, clients) + locks(events)


def test_killed_with_no_isolation_the_rerun_still_updates_the_clients(lab: Any) -> None:
    """``isolation: none`` accepts that a client fails logins until it is updated, never that it is left with the
    old passwords: after the kill the devices show nothing to change, no isolation is recorded, and the
    credential store's record alone says the clients are owed the new passwords. The devices' lock is off here,
    so that the failures ``none`` accepts between the kill and the rerun lock nothing."""
    fleet = two_clients(lab, "hikvision", "none", lock=False)
    clients = sources(fleet)
    fleet.apply_killed("before", "UpdateClient")
    assert stale_paths(fleet)
    wait_for(lambda: bool(failed_logins(fleet.events(), clients)))  # both retry the old passwords meanwhile
    code, output = fleet.run("apply", fleet.playbook, "--yes")
    assert code == 0, output
    mark = len(fleet.events())
    assert not stale_paths(fleet), stale_paths(fleet)
    wait_for(
        lambda: all(set(fleet.fleet.client_status(h.name)["cameras"].values()) == {"ok"} for h in fleet.spec.hosts)
    )
    assert not failed_logins(fleet.events()[mark:], clients)
    assert fleet.store().owed() == {}
    assert fleet.run("plan", fleet.playbook)[0] == 0
