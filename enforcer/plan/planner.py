"""The planner: a site's changes → steps in lock-safe order (DESIGN.md section 4). Pure.

isolate → wait → recorder → cameras → channels → clients → release → verify. A step exists only
where a change needs it: nothing is isolated when nothing goes stale, nothing waits when nothing is
locked. On each device firmware comes before the lock policy, which comes before accounts, and the
account we log in with changes last, so every other write still uses a credential known to work.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from enforcer.credentials.keyring import Known
from enforcer.facts import DeviceFacts, IPFilterFact
from enforcer.model import Aspect, Client, Device, ManualSettings, Site
from enforcer.plan.artifact import Phase, SitePlan, Step
from enforcer.plan.diff import Change, channel_port, diff_channels, diff_device, isolation_change
from enforcer.plan.steps import (
    ENFORCER,
    AccountKind,
    ChannelKind,
    Checklist,
    FirmwareKind,
    HoldRef,
    IsolateClient,
    IsolateFilter,
    LockPolicyKind,
    RebootUnlock,
    ReleaseClient,
    ReleaseFilter,
    UpdateClient,
    Verify,
    WaitUnlock,
)

#: Clients enforcer can update (and so isolate) through an API; the rest get a checklist.
UPDATABLE = ("milestone", "ssh")


@dataclass(frozen=True)
class StalePath:
    """A credential path that goes stale: ``holder`` logs into ``device`` as ``user``."""

    device: Device
    user: str
    client: Client | None  # None: the camera's recorder, through its channel

    @property
    def holder(self) -> str:
        return self.client.id if self.client else f"{self.device.site}/{self.device.recorder}"


def plan_site(
    site: Site,
    facts: Mapping[str, DeviceFacts],
    failures: Mapping[str, str],
    enforce: frozenset[Aspect],
    known: Known,
    recorded: frozenset[str] = frozenset(),
    *,
    restore_unknown: bool = False,
) -> SitePlan:
    """The plan for one site; a site whose facts are incomplete gets an ``error`` and no steps.

    A device an earlier run left isolated (its filter holds the isolation marker, or the store still
    records its isolation: ``recorded``) is drift: it is released. One isolated with no record here
    (its original filter unknown) fails the site, unless ``restore_unknown`` says to switch its filter
    off, keeping out the site's manual clients that hold it.
    """
    failed = [f"{d.name}: {failures[d.id]}{_refused_there(site, facts, d)}" for d in site.devices if d.id in failures]
    if failed:
        return SitePlan(site.name, error="facts failed: " + "; ".join(failed))
    marked = {d.id for d in site.devices if (f := facts[d.id].ip_filter) is not None and f.isolated}
    unknown = sorted(marked - recorded)
    if unknown and not restore_unknown:
        names = ", ".join(i.split("/", 1)[1] for i in unknown)
        return SitePlan(
            site.name,
            error=f"{names} isolated by an earlier run whose record is not in this credential store (its IP filter "
            "before is unknown): restore it by hand, or run again with --restore-unknown-filters to switch it off "
            "(the site's manual clients that hold it stay out)",
        )
    isolated = frozenset(marked | (recorded & {d.id for d in site.devices}))
    changes: list[Change] = []
    for device in site.devices:
        changes += diff_device(device, facts[device.id], enforce, known)
    changes = _without_filter(site, facts, changes)
    changes += diff_channels(site, facts, changes, enforce, isolated)
    changes += [isolation_change(d) for d in site.devices if d.id in marked]
    pending = [c for c in changes if c.action != "blocked"]
    changed = {c.device for c in pending}
    lost = [d.name for d in site.devices if d.id in changed and facts[d.id].login is None]
    if lost:
        return SitePlan(
            site.name,
            changes=tuple(changes),
            error=f"no working credential for {', '.join(lost)}: no stored password was accepted",
        )
    stale = _stale_paths(site, pending)
    steps: list[Step] = []
    warnings: list[str] = []
    _isolate(site, facts, stale, steps, warnings, frozenset(unknown))
    _wait(site, facts, changed, steps)
    phases: tuple[tuple[Phase, str], ...] = (("recorder", "recorder"), ("cameras", "camera"))
    for phase, role in phases:
        for device in site.devices:
            if device.role == role and device.id in changed:
                steps += _device_steps(site, device, [c for c in pending if c.device == device.id], phase)
    for change in pending:
        if change.kind == "channel":
            steps.append(_channel_step(site, facts, change))
    _clients(site, stale, steps, warnings)
    _release(site, stale, steps)
    for device in site.devices:
        if device.id in isolated and not any(s.target == device.id and s.phase == "release" for s in steps):
            release = ReleaseFilter()
            if device.id in unknown:  # the operator chose: off, with the manual clients that hold it kept out
                release = ReleaseFilter(IPFilterFact(False, "deny", ()), _manual_addresses(site, device))
            steps.append(Step(site.name, "release", device.id, release, reason="left isolated by an earlier run"))
    if steps:
        steps.append(
            Step(site.name, "verify", site.name, Verify(), reason="re-read facts: converged, unlocked, online")
        )
    return SitePlan(site.name, tuple(steps), tuple(changes), tuple(warnings))


def _without_filter(site: Site, facts: Mapping[str, DeviceFacts], changes: list[Change]) -> list[Change]:
    """Block a password change whose stale holders only an IP filter could keep out, on a device whose
    firmware has none: made anyway, they would lock the device until each is updated."""
    stuck: dict[tuple[str, str], list[str]] = {}
    for path in _stale_paths(site, [c for c in changes if c.action != "blocked"]):
        device = path.device
        by_client = device.isolation == "client" and path.client is not None and path.client.kind in UPDATABLE
        if device.isolation == "none" or by_client or facts[device.id].ip_filter is not None:
            continue
        stuck.setdefault((device.id, f"accounts.{path.user}.password"), []).append(path.holder.split("/", 1)[1])
    if not stuck:
        return changes
    out = []
    for change in changes:
        holders = stuck.get((change.device, change.key))
        if holders is None or change.action == "blocked":
            out.append(change)
            continue
        name = change.device.split("/", 1)[1]
        why = (
            f"{', '.join(sorted(holders))} would keep the old password, and {name} has no IP filter to keep "
            f"{'it' if len(holders) == 1 else 'them'} out meanwhile (its firmware answers notSupport): update "
            f"{'it' if len(holders) == 1 else 'them'} first, or give {name} isolation: client or none"
        )
        out.append(replace(change, action="blocked", reason=why))
    return out


def _manual_addresses(site: Site, device: Device) -> tuple[str, ...]:
    """Addresses of the site's manual clients that hold ``device``: they may hold an old password."""
    holders = {c.address for c in site.clients for h in c.holds if h.device == device.name and c.kind not in UPDATABLE}
    return tuple(sorted(a for a in holders if a))


def _stale_paths(site: Site, pending: list[Change]) -> list[StalePath]:
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


def _refused_there(site: Site, facts: Mapping[str, DeviceFacts], device: Device) -> str:
    """For a camera that could not be read: its recorder's channel, when the camera refuses it, the
    usual cause of a lock (a camera re-added with a typo locks its account for everyone on Dahua)."""
    recorder = facts.get(f"{site.name}/{device.recorder}") if device.recorder else None
    channel = recorder.channel(device.channel) if recorder and device.channel is not None else None
    if channel is None or channel.detect != "errorUserNameOrPasswd":
        return ""
    return (
        f" (it refuses {device.recorder} ch{channel.id}: a stale stored password may be the cause;"
        " apply waits a lock out, then repairs the channel)"
    )


def _isolate(
    site: Site,
    facts: Mapping[str, DeviceFacts],
    stale: list[StalePath],
    steps: list[Step],
    warnings: list[str],
    unknown: frozenset[str] = frozenset(),
) -> None:
    """Cut every stale path before the change; for a device isolated with no record (``unknown``), what the
    operator chose to restore (the filter off) stands for the filter before."""
    filtered: set[str] = set()
    for path in stale:
        client = path.client
        if path.device.isolation == "client" and client is not None and client.kind in UPDATABLE:
            step = Step(
                site.name, "isolate", client.id, IsolateClient(), reason=f"holds {path.device.name} as {path.user}"
            )
            if step not in steps:
                steps.append(step)
        elif path.device.isolation == "none":
            warnings.append(
                f"{path.holder} will hold a stale password for {path.device.name} and isolation is none: "
                f"{path.device.name} may lock until it is updated"
            )
        else:
            filtered.add(path.device.id)
    for device in site.devices:
        if device.id not in filtered:
            continue
        allow = [ENFORCER]
        recorder = site.device(device.recorder) if device.recorder else None
        recorder_stale = any(p.device == device and p.client is None for p in stale)
        if recorder is not None and not recorder_stale:
            allow.append(recorder.address)
        holders = sorted({p.holder for p in stale if p.device == device})
        previous = IPFilterFact(False, "deny", ()) if device.id in unknown else facts[device.id].ip_filter
        # Manual clients keep the old password after the change: keep them out, by address, until updated.
        blocked = sorted(
            {
                p.client.address
                for p in stale
                if p.device == device and p.client and p.client.kind not in UPDATABLE and p.client.address
            }
        )
        isolate = IsolateFilter(tuple(allow), previous, tuple(blocked), tuple(holders))
        steps.append(
            Step(site.name, "isolate", device.id, isolate, reason=f"stale after the change: {', '.join(holders)}")
        )


def _wait(site: Site, facts: Mapping[str, DeviceFacts], changed: set[str], steps: list[Step]) -> None:
    for device in site.devices:
        lock = facts[device.id].lock
        if device.id not in changed or not lock.locked:
            continue
        if device.unlock == "reboot":
            steps.append(
                Step(site.name, "wait", device.id, RebootUnlock(), reason="locked; the playbook allows a reboot")
            )
        else:
            wait = WaitUnlock(lock.unlock_seconds)
            steps.append(
                Step(site.name, "wait", device.id, wait, reason=f"locked for {lock.unlock_seconds:.0f} s more")
            )


def _device_steps(site: Site, device: Device, changes: list[Change], phase: Phase) -> list[Step]:
    steps = []
    for kind in (FirmwareKind(), LockPolicyKind()):
        mine = tuple(c for c in changes if c.kind == kind.action)
        if mine:
            steps.append(Step(site.name, phase, device.id, kind, changes=mine))
    accounts: dict[str, list[Change]] = {}
    for change in changes:
        if change.kind == "account":
            accounts.setdefault(change.key.split(".")[1], []).append(change)
    login = "admin"
    for name in sorted(accounts, key=lambda n: (n == login, n)):
        account = device.account(name)
        present = account.present if account else False
        steps.append(Step(site.name, phase, device.id, AccountKind(name, present), tuple(accounts[name])))
    return steps


def _channel_step(site: Site, facts: Mapping[str, DeviceFacts], change: Change) -> Step:
    recorder = site.device(change.device.split("/", 1)[1])
    assert recorder is not None
    channel = int(change.key.split(".")[1])
    camera = next(c for c in site.cameras if c.recorder == recorder.name and c.channel == channel)
    port = channel_port(camera, facts[recorder.id].channel(channel))
    kind = ChannelKind(channel, camera.id, camera.address, port, camera.channel_user)
    return Step(site.name, "channels", recorder.id, kind, (change,), change.reason)


def _clients(site: Site, stale: list[StalePath], steps: list[Step], warnings: list[str]) -> None:
    for client in site.clients:
        holds = tuple(HoldRef(p.device.name, p.user) for p in stale if p.client == client)
        if not holds:
            continue
        if client.kind in UPDATABLE:
            steps.append(Step(site.name, "clients", client.id, UpdateClient(holds)))
        else:
            if not client.address:
                warnings.append(
                    f"{client.name} has no address, so it cannot be kept out after the change: "
                    "update it by hand at once, or it will lock the device"
                )
            manual = client.settings if isinstance(client.settings, ManualSettings) else ManualSettings()
            checklist = Checklist(holds, manual.what, manual.contact, client.address)
            reason = "no API: update it by hand; it stays blocked until then"
            steps.append(Step(site.name, "clients", client.id, checklist, reason=reason))


def _release(site: Site, stale: list[StalePath], steps: list[Step]) -> None:
    for step in [s for s in steps if s.phase == "isolate"]:
        if isinstance(step.kind, IsolateFilter):
            release = ReleaseFilter(step.kind.previous, step.kind.keep_blocked)
            steps.append(Step(site.name, "release", step.target, release))
        else:
            steps.append(Step(site.name, "release", step.target, ReleaseClient()))
