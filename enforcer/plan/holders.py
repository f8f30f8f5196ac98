"""Who holds the credentials a change makes stale, and what the plan does about each holder. Pure.

A holder is a client of the inventory (a VMS, a viewer) or a recorder, through its channel to a camera.
One with an API is updated in the clients phase (and, with ``isolation: client``, taken off its devices
before), also when an interrupted run left it owed an update; one without is kept out at the device by
its address and put on the checklist. A change whose holder has no way forward blocks the site before any
device is touched.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
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
    site: Site, owed: Mapping[str, Collection[tuple[str, str]]], kinds: ClientKinds
) -> tuple[dict[str, list[HoldRef]], list[str]]:
    """The credential paths an interrupted run changed, or was about to change, on the devices and never gave
    the API client holding them: the credential store's record (``owed``, by client id), written before the
    first of those devices changed and cleared once the client's update was verified. The devices may show
    nothing left to do; the client still holds the old passwords, and releasing it as it is would let it lock
    them. An update with the declared passwords costs nothing if they never changed. Also, in words, the
    records this plan cannot act on (a client no driver updates now)."""
    out: dict[str, list[HoldRef]] = {}
    ignored: list[str] = []
    for client in site.clients:
        paths = owed.get(client.id)
        if not paths:
            continue
        if kinds.get(client.kind):
            out[client.id] = [HoldRef(device, user) for device, user in sorted(paths)]
        else:
            devices = ", ".join(sorted({d for d, _ in paths}))
            ignored.append(
                f"{client.name} was owed the new passwords of {devices} by an interrupted run, and no driver updates "
                f"{client.kind} clients now: make sure it holds them"
            )
    return out, ignored


def unread(site: Site, owed: dict[str, list[HoldRef]], failures: Mapping[str, str]) -> list[str]:
    """Clients that may hold a stale password since an interrupted run, and cannot be read to update them."""
    out = []
    for client in site.clients:
        if client.id in owed and client.id in failures:
            devices = ", ".join(dict.fromkeys(h.device for h in owed[client.id]))
            out.append(
                f"{client.name} may hold an old password of {devices} (an earlier run changed it and was interrupted "
                f"before updating the client) and cannot be updated: {failures[client.id]}"
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
            reason = "an earlier run changed these passwords and was interrupted before updating it" if late else ""
            steps.append(Step(site.name, "clients", client.id, UpdateClient((*holds, *late)), reason=reason))
        else:
            manual = client.settings if isinstance(client.settings, ManualSettings) else ManualSettings()
            checklist = Checklist(holds, manual.what, manual.contact, client.address)
            reason = "no API: update it by hand; it stays blocked until then"
            steps.append(Step(site.name, "clients", client.id, checklist, reason=reason))
