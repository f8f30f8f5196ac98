"""The planner: a site's changes → steps in lock-safe order (DESIGN.md section 4). Pure.

isolate → wait → recorder → cameras → channels → clients → release → verify. A step exists only
where a change needs it: nothing is isolated when nothing goes stale, nothing waits when nothing is
locked. On each device firmware comes before the lock policy, which comes before accounts, and the
account we log in with changes last, so every other write still uses a credential known to work.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from enforcer.facts import DeviceFacts, IPFilterFact
from enforcer.model import Aspect, Client, Device, Site
from enforcer.plan.artifact import ENFORCER, Phase, SitePlan, Step
from enforcer.plan.diff import Change, Known, diff_channels, diff_device

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
    isolated: frozenset[str] = frozenset(),
) -> SitePlan:
    """The plan for one site; a site whose facts are incomplete gets an ``error`` and no steps.

    ``isolated`` names devices a killed run left isolated (from the journal): they are released.
    """
    failed = [f"{d.name}: {failures[d.id]}{_refused_there(site, facts, d)}" for d in site.devices if d.id in failures]
    if failed:
        return SitePlan(site.name, error="facts failed: " + "; ".join(failed))
    changes: list[Change] = []
    for device in site.devices:
        changes += diff_device(device, facts[device.id], enforce, known)
    changes += diff_channels(site, facts, changes, enforce, isolated)
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
    _isolate(site, facts, stale, steps, warnings)
    _wait(site, facts, changed, steps)
    phases: tuple[tuple[Phase, str], ...] = (("recorder", "recorder"), ("cameras", "camera"))
    for phase, role in phases:
        for device in site.devices:
            if device.role == role and device.id in changed:
                steps += _device_steps(site, device, [c for c in pending if c.device == device.id], phase)
    for change in pending:
        if change.kind == "channel":
            steps.append(_channel_step(site, change))
    _clients(site, stale, steps, warnings)
    _release(site, stale, steps)
    for device in site.devices:
        if device.id in isolated and not any(s.target == device.id and s.phase == "release" for s in steps):
            steps.append(
                Step(
                    site.name,
                    "release",
                    "release_ip_filter",
                    device.id,
                    {"restore": None, "keep_blocked": []},
                    reason="left isolated by an interrupted run",
                )
            )
    if steps:
        steps.append(
            Step(site.name, "verify", "verify", site.name, reason="re-read facts: converged, unlocked, online")
        )
    return SitePlan(site.name, tuple(steps), tuple(changes), tuple(warnings))


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
    site: Site, facts: Mapping[str, DeviceFacts], stale: list[StalePath], steps: list[Step], warnings: list[str]
) -> None:
    """Cut every stale path before the change."""
    filtered: set[str] = set()
    for path in stale:
        client = path.client
        if path.device.isolation == "client" and client is not None and client.kind in UPDATABLE:
            step = Step(
                site.name, "isolate", "isolate_client", client.id, reason=f"holds {path.device.name} as {path.user}"
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
        previous = facts[device.id].ip_filter
        # Manual clients keep the old password after the change: keep them out, by address, until updated.
        blocked = sorted(
            {
                p.client.address
                for p in stale
                if p.device == device and p.client and p.client.kind not in UPDATABLE and p.client.address
            }
        )
        params = {
            "allow": allow,
            "previous": None if previous is None else _filter_dict(previous),
            "keep_blocked": blocked,
        }
        steps.append(
            Step(
                site.name,
                "isolate",
                "isolate_ip_filter",
                device.id,
                params,
                reason=f"stale after the change: {', '.join(holders)}",
            )
        )


def _wait(site: Site, facts: Mapping[str, DeviceFacts], changed: set[str], steps: list[Step]) -> None:
    for device in site.devices:
        lock = facts[device.id].lock
        if device.id not in changed or not lock.locked:
            continue
        if device.unlock == "reboot":
            steps.append(
                Step(site.name, "wait", "reboot_unlock", device.id, reason="locked; the playbook allows a reboot")
            )
        else:
            steps.append(
                Step(
                    site.name,
                    "wait",
                    "wait_unlock",
                    device.id,
                    {"seconds": lock.unlock_seconds},
                    reason=f"locked for {lock.unlock_seconds:.0f} s more",
                )
            )


def _device_steps(site: Site, device: Device, changes: list[Change], phase: Phase) -> list[Step]:
    steps = []
    for kind in ("firmware", "lock_policy"):
        mine = tuple(c for c in changes if c.kind == kind)
        if mine:
            steps.append(Step(site.name, phase, kind, device.id, changes=mine))
    accounts: dict[str, list[Change]] = {}
    for change in changes:
        if change.kind == "account":
            accounts.setdefault(change.key.split(".")[1], []).append(change)
    login = "admin"
    for name in sorted(accounts, key=lambda n: (n == login, n)):
        account = device.account(name)
        present = account.present if account else False
        steps.append(
            Step(site.name, phase, "account", device.id, {"account": name, "present": present}, tuple(accounts[name]))
        )
    return steps


def _channel_step(site: Site, change: Change) -> Step:
    recorder = site.device(change.device.split("/", 1)[1])
    assert recorder is not None
    channel = int(change.key.split(".")[1])
    camera = next(c for c in site.cameras if c.recorder == recorder.name and c.channel == channel)
    return Step(
        site.name,
        "channels",
        "channel",
        recorder.id,
        {
            "channel": channel,
            "camera": camera.id,
            "address": camera.address,
            "port": camera.port,
            "user": camera.channel_user,
        },
        (change,),
        change.reason,
    )


def _clients(site: Site, stale: list[StalePath], steps: list[Step], warnings: list[str]) -> None:
    for client in site.clients:
        holds = [{"device": p.device.name, "user": p.user} for p in stale if p.client == client]
        if not holds:
            continue
        if client.kind in UPDATABLE:
            steps.append(Step(site.name, "clients", "update_client", client.id, {"holds": holds}))
        else:
            if not client.address:
                warnings.append(
                    f"{client.name} has no address, so it cannot be kept out after the change: "
                    "update it by hand at once, or it will lock the device"
                )
            params = {"holds": holds, "what": client.what, "contact": client.contact, "address": client.address}
            steps.append(
                Step(
                    site.name,
                    "clients",
                    "checklist",
                    client.id,
                    params,
                    reason="no API: update it by hand; it stays blocked until then",
                )
            )


def _release(site: Site, stale: list[StalePath], steps: list[Step]) -> None:
    for step in [s for s in steps if s.phase == "isolate"]:
        if step.action == "isolate_client":
            steps.append(Step(site.name, "release", "release_client", step.target))
        else:
            params = {"restore": step.params["previous"], "keep_blocked": step.params["keep_blocked"]}
            steps.append(Step(site.name, "release", "release_ip_filter", step.target, params))


def _filter_dict(ip_filter: IPFilterFact) -> dict[str, object]:
    return {"enabled": ip_filter.enabled, "mode": ip_filter.mode, "addresses": list(ip_filter.addresses)}
