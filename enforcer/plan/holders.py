"""Who holds the credentials a change makes stale, and what the plan does about each holder. Pure.

A holder is a client of the inventory (a VMS, a viewer) or a recorder, through its channel to a camera.
One with an API is updated in the clients phase (and, with ``isolation: client``, taken off its devices
before); one without is kept out at the device by its address and put on the checklist. A change whose
holder has no way forward blocks the site before any device is touched.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from enforcer.model import Client, Device, ManualSettings, Site
from enforcer.plan.artifact import Step
from enforcer.plan.diff import Change
from enforcer.plan.steps import Checklist, HoldRef, UpdateClient

#: Client kinds a driver is registered for, and whether it can update them through an API (else the client
#: is kept out at the device and put on the checklist). The engine passes the registry's; this default,
#: for callers that plan without drivers (tests, a plan made elsewhere), takes every built-in kind as handled.
ClientKinds = Mapping[str, bool]
BUILTIN_KINDS: ClientKinds = {"manual": False, "milestone": True, "ssh": True}


@dataclass(frozen=True)
class StalePath:
    """A credential path that goes stale: ``holder`` logs into ``device`` as ``user``."""

    device: Device
    user: str
    client: Client | None  # None: the camera's recorder, through its channel

    @property
    def holder(self) -> str:
        return self.client.id if self.client else f"{self.device.site}/{self.device.recorder}"


def manual_addresses(site: Site, device: Device, kinds: ClientKinds) -> tuple[str, ...]:
    """Addresses of the site's clients without an API that hold ``device``: they may hold an old password."""
    holders = {c.address for c in site.clients for h in c.holds if h.device == device.name and not kinds.get(c.kind)}
    return tuple(sorted(a for a in holders if a))


def unhandled(stale: list[StalePath], kinds: ClientKinds, failures: Mapping[str, str]) -> list[str]:
    """Why some stale holder has no way forward: no driver for its kind, unreachable, or no API and no address."""
    out: list[str] = []
    for path in stale:
        client = path.client
        if client is None:
            continue
        if client.kind not in kinds:
            holds = f"{client.name} holds {path.device.name}'s {path.user} password"
            why = f"{holds} and no driver handles {client.kind} clients"
        elif client.id in failures:
            why = f"{client.name} holds {path.device.name}'s {path.user} password and cannot be updated: "
            why += failures[client.id]
        elif not kinds[client.kind] and not client.address and path.device.isolation != "none":
            why = (
                f"{client.name} holds {path.device.name}'s {path.user} password, has no API and no address to keep it "
                f"out by: give it its address, or set isolation: none on {path.device.name} to accept that it may "
                "lock the device until updated by hand"
            )
        else:
            continue
        if why not in out:
            out.append(why)
    return out


def stale_paths(site: Site, pending: list[Change]) -> list[StalePath]:
    """Every credential path whose password the ``pending`` changes rotate: clients' holds, recorders' channels."""
    rotating = {(c.device, c.key.split(".")[1]) for c in pending if c.kind == "account" and c.key.endswith(".password")}
    paths = []
    for client in site.clients:
        for hold in client.holds:
            device = site.device(hold.device)
            if device and (device.id, hold.user) in rotating:
                paths.append(StalePath(device, hold.user, client))
    for camera in site.cameras:
        if camera.recorder and (camera.id, camera.channel_user) in rotating:
            paths.append(StalePath(camera, camera.channel_user, None))
    return paths


def owed_updates(
    site: Site, isolated: frozenset[str], recorded: frozenset[str], kinds: ClientKinds
) -> dict[str, list[HoldRef]]:
    """The credential paths of API clients that an interrupted run may have left stale: every path of a client
    it left isolated, and each path to a device it left isolated. That run may have changed the device and
    died before the client phase; an update with the declared password costs nothing if it did not, and
    releasing without one would let the client lock the device."""
    owed: dict[str, list[HoldRef]] = {}
    for client in site.clients:
        if not kinds.get(client.kind):
            continue
        for hold in client.holds:
            device = site.device(hold.device)
            if client.id in recorded or (device is not None and device.id in isolated):
                owed.setdefault(client.id, []).append(HoldRef(hold.device, hold.user))
    return owed


def unread(site: Site, owed: dict[str, list[HoldRef]], failures: Mapping[str, str]) -> list[str]:
    """Clients that may hold a stale password since an interrupted run, and cannot be read to update them."""
    out = []
    for client in site.clients:
        if client.id in owed and client.id in failures:
            devices = ", ".join(dict.fromkeys(h.device for h in owed[client.id]))
            out.append(
                f"{client.name} may hold an old password of {devices} (an earlier run was interrupted while they "
                f"were isolated) and cannot be updated: {failures[client.id]}"
            )
    return out


def client_steps(
    site: Site, stale: list[StalePath], steps: list[Step], kinds: ClientKinds, owed: Mapping[str, list[HoldRef]]
) -> None:
    """The clients phase: an update for each API client holding a stale or ``owed`` path, a checklist entry for
    each client without an API holding a stale one."""
    for client in site.clients:
        holds = tuple(dict.fromkeys([HoldRef(p.device.name, p.user) for p in stale if p.client == client]))
        late = [h for h in owed.get(client.id, []) if h not in holds] if kinds.get(client.kind) else []
        if not holds and not late:
            continue
        if kinds.get(client.kind):
            reason = "an earlier run was interrupted while these paths were isolated" if not holds else ""
            steps.append(Step(site.name, "clients", client.id, UpdateClient((*holds, *late)), reason=reason))
        else:
            manual = client.settings if isinstance(client.settings, ManualSettings) else ManualSettings()
            checklist = Checklist(holds, manual.what, manual.contact, client.address)
            reason = "no API: update it by hand; it stays blocked until then"
            steps.append(Step(site.name, "clients", client.id, checklist, reason=reason))
