"""The planner: a site's changes → steps in lock-safe order (DESIGN.md section 4). Pure.

isolate → wait → recorder → cameras → channels → clients → release → verify. A step exists only
where a change needs it: nothing is isolated when nothing goes stale, nothing waits when nothing is
locked. On each device firmware comes before the lock policy, which comes before accounts, and the
account we log in with changes last, so every other write still uses a credential known to work.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from enforcer.credentials.keyring import Known
from enforcer.facts import DeviceFacts, IPFilterFact
from enforcer.model import SETTLE, Aspect, Device, Site
from enforcer.plan.artifact import Phase, SitePlan, Step
from enforcer.plan.diff import Change, channel_port, diff_channels, diff_device, isolation_change, owed_change
from enforcer.plan.holders import (
    BUILTIN_KINDS,
    ClientKinds,
    StalePath,
    client_steps,
    manual_addresses,
    owed_updates,
    stale_paths,
    unhandled,
    unread,
)
from enforcer.plan.steps import (
    ENFORCER,
    AccountKind,
    ChannelKind,
    FirmwareKind,
    HoldRef,
    IsolateClient,
    IsolateFilter,
    LockPolicyKind,
    RebootUnlock,
    ReleaseClient,
    ReleaseFilter,
    Settle,
    UpdateClient,
    Verify,
    WaitUnlock,
    isolates,
)


def plan_site(
    site: Site,
    facts: Mapping[str, DeviceFacts],
    failures: Mapping[str, str],
    enforce: frozenset[Aspect],
    known: Known,
    recorded: frozenset[str] = frozenset(),
    *,
    restore_unknown: bool = False,
    kinds: ClientKinds = BUILTIN_KINDS,
    client_failures: Mapping[str, str] | None = None,
    unreachable: frozenset[str] = frozenset(),
    owed: Mapping[str, Collection[tuple[str, str]]] | None = None,
    settle: float = SETTLE,
) -> SitePlan:
    """The plan for one site; a site whose facts are incomplete gets an ``error`` and no steps.

    A device an earlier run left isolated (its filter holds the isolation marker, or the store still
    records its isolation: ``recorded``) is drift: it is released. One isolated with no record here
    (its original filter unknown) fails the site, unless ``restore_unknown`` says to switch its filter
    off, keeping out the site's manual clients that hold it.

    A change whose stale holders cannot all be handled fails the site before any device is touched: a
    client kind with no driver (``kinds``), one that could not be read or does not hold the paths the
    inventory says (``client_failures``), or one with no API and no address to keep it out by.

    An API client the store records as ``owed`` an update (by client id: the paths, device name and user,
    an interrupted run changed before updating it) is updated before anything releases it or its devices,
    also when the devices show nothing left to change.

    A holder that may have logins under way with an old password waits ``settle`` seconds before they could
    count (:class:`Settle`, :func:`_settle`).
    """
    failed = [f"{d.name}: {failures[d.id]}{_refused_there(site, facts, d)}" for d in site.devices if d.id in failures]
    if failed:
        gone = tuple(d.name for d in site.devices if d.id in unreachable)
        return SitePlan(site.name, error="facts failed: " + "; ".join(failed), unreachable=gone)
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
    changes += diff_channels(site, facts, changes, enforce, isolated)
    changes += [isolation_change(d.id) for d in site.devices if d.id in marked]
    changes += [isolation_change(c.id, "isolation") for c in site.clients if c.id in recorded]
    late, ignored = owed_updates(site, owed or {}, kinds)
    changes += [owed_change(c) for c in late]
    pending = [c for c in changes if c.action != "blocked"]
    changed = {c.device for c in pending}
    lost = [d.name for d in site.devices if d.id in changed and facts[d.id].login is None]
    if lost:
        return SitePlan(
            site.name,
            changes=tuple(changes),
            error=f"no working credential for {', '.join(lost)}: no stored password was accepted",
        )
    stale = stale_paths(site, pending)
    stuck = unhandled(stale, kinds, client_failures or {}) + _unfilterable(facts, stale, kinds)
    stuck += unread(site, late, client_failures or {})
    if stuck:
        return SitePlan(
            site.name,
            changes=tuple(changes),
            error="no device of this site is changed until every holder of its credentials has a way forward: "
            + "; ".join(stuck),
        )
    steps: list[Step] = []
    warnings: list[str] = list(ignored)
    _isolate(site, facts, stale, steps, warnings, frozenset(unknown), kinds)
    _wait(site, facts, changed, steps)
    phases: tuple[tuple[Phase, str], ...] = (("recorder", "recorder"), ("cameras", "camera"))
    for phase, role in phases:
        for device in site.devices:
            if device.role == role and device.id in changed:
                steps += _device_steps(site, device, [c for c in pending if c.device == device.id], phase)
    for change in pending:
        if change.kind == "channel":
            steps.append(_channel_step(site, facts, change))
    client_steps(site, stale, steps, kinds, late)
    _settle(site, steps, settle)
    _release(site, stale, steps)
    for device in site.devices:
        if device.id in isolated and not any(s.target == device.id and s.phase == "release" for s in steps):
            release = ReleaseFilter()
            if device.id in unknown:  # the operator chose: off, with the manual clients that hold it kept out
                release = ReleaseFilter(IPFilterFact(False, "deny", ()), manual_addresses(site, device, kinds))
            steps.append(Step(site.name, "release", device.id, release, reason="left isolated by an earlier run"))
    for client in site.clients:
        if client.id in recorded and not any(s.target == client.id and s.phase == "release" for s in steps):
            holds = tuple(HoldRef(h.device, h.user) for h in client.holds)
            reason = "left isolated by an earlier run"
            steps.append(Step(site.name, "release", client.id, ReleaseClient(holds), reason=reason))
    if steps:
        steps.append(
            Step(site.name, "verify", site.name, Verify(), reason="re-read facts: converged, unlocked, online")
        )
    return SitePlan(site.name, tuple(steps), tuple(changes), tuple(warnings))


def _unfilterable(facts: Mapping[str, DeviceFacts], stale: list[StalePath], kinds: ClientKinds) -> list[str]:
    """Holders the firmware leaves no way to keep out or update: a device to isolate by IP filter that has
    none, a recorder that cannot store channel credentials. The change waits for the operator's choice
    (``isolation: none`` accepts the risk, ``client`` takes a client off on its side)."""
    out: list[str] = []
    for path in stale:
        if path.client is None and path.device.isolation != "none":
            recorder = facts.get(path.holder)
            stored = recorder.gap("channels") if recorder is not None else None
            if stored is not None:
                out.append(
                    f"{path.device.recorder} cannot store channel credentials ({stored.detail}), so it would keep "
                    f"{path.device.name}'s old password: update its channel by hand, then set isolation: none on "
                    f"{path.device.name} to go ahead"
                )
                continue
        by_client = path.device.isolation == "client" and path.client is not None and kinds.get(path.client.kind)
        gap = facts[path.device.id].gap("ip_filter")
        if by_client or path.device.isolation == "none" or gap is None or facts[path.device.id].ip_filter is not None:
            continue
        why = (
            f"{path.device.name} cannot be isolated ({gap.detail}) and {path.holder} would hold a stale password: "
            f"set isolation: none on {path.device.name} to accept that it may lock until updated"
        )
        if why not in out:
            out.append(why)
    return out


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
    kinds: ClientKinds = BUILTIN_KINDS,
) -> None:
    """Cut every stale path before the change; for a device isolated with no record (``unknown``), what the
    operator chose to restore (the filter off) stands for the filter before."""
    filtered: set[str] = set()
    taken_off: dict[str, list[HoldRef]] = {}  # clients isolated on their side, and from which paths
    for path in stale:
        client = path.client
        if path.device.isolation == "client" and client is not None and kinds.get(client.kind):
            hold = HoldRef(path.device.name, path.user)
            if hold not in taken_off.setdefault(client.id, []):
                taken_off[client.id].append(hold)
        elif path.device.isolation == "none":
            warnings.append(
                f"{path.holder} will hold a stale password for {path.device.name} and isolation is none: "
                f"{path.device.name} may lock until it is updated"
            )
        else:
            filtered.add(path.device.id)
    for client_id, holds in taken_off.items():
        reason = "holds " + ", ".join(f"{h.device} as {h.user}" for h in holds)
        steps.append(Step(site.name, "isolate", client_id, IsolateClient(tuple(holds)), reason=reason))
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
                if p.device == device and p.client and not kinds.get(p.client.kind) and p.client.address
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


def _settle(site: Site, steps: list[Step], seconds: float) -> None:
    """Holders with logins that may be under way with an old password wait before those logins could count:
    a recorder after its channels and an API client after its update, while devices of the plan keep them
    out (before the release lets them in); a client taken off on its side, before its devices change. Each
    wait follows the last step of its holder in its phase."""
    if seconds <= 0:
        return
    kept_out = {h for s in steps if isinstance(s.kind, IsolateFilter) for h in s.kind.holders}
    last: dict[tuple[str, Phase], int] = {}
    for index, step in enumerate(steps):
        given = isinstance(step.kind, ChannelKind | UpdateClient) and step.target in kept_out
        if given or isinstance(step.kind, IsolateClient):
            last[(step.target, step.phase)] = index
    for (target, phase), index in sorted(last.items(), key=lambda item: -item[1]):
        if phase == "isolate":
            reason = "logins it began before it was taken off end before its devices change"
        else:
            reason = "logins it began with an old password end before its devices let it in"
        steps.insert(index + 1, Step(site.name, phase, target, Settle(seconds), reason=reason))


def _release(site: Site, stale: list[StalePath], steps: list[Step]) -> None:
    for step in [s for s in steps if isolates(s.kind)]:
        if isinstance(step.kind, IsolateFilter):
            release = ReleaseFilter(step.kind.previous, step.kind.keep_blocked)
            steps.append(Step(site.name, "release", step.target, release))
        else:
            holds = step.kind.holds if isinstance(step.kind, IsolateClient) else ()
            steps.append(Step(site.name, "release", step.target, ReleaseClient(holds)))
