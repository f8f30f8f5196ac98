"""One site's audit: (desired state, facts, security logs) → findings, forensics and the checklist. Pure.

>>> from enforcer.model import Site
>>> audit_site(Site("empty", (), (), ()), {}, {}, {}, enforce=frozenset(), known={}, now=0.0).compliant
True
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from enforcer.audit import checks
from enforcer.audit.findings import Finding, rank
from enforcer.audit.forensics import Activity, trace
from enforcer.audit.result import ChecklistItem, DeviceAudit, DeviceStatus, LogSummary, SiteAudit, Unread
from enforcer.credentials.keyring import Known
from enforcer.facts import DeviceFacts, SecurityLog
from enforcer.model import Aspect, Client, Device, ManualSettings, Site
from enforcer.plan.diff import Change, diff_channels, diff_device, isolation_change
from enforcer.plan.holders import BUILTIN_KINDS, ClientKinds, StalePath, stale_paths
from enforcer.plan.planner import plan_site


def audit_site(
    site: Site,
    facts: Mapping[str, DeviceFacts],
    unread: Mapping[str, Unread],
    logs: Mapping[str, SecurityLog],
    *,
    enforce: frozenset[Aspect],
    known: Known,
    now: float,
    recorded: frozenset[str] = frozenset(),
    own: Collection[str] = (),
    kinds: ClientKinds = BUILTIN_KINDS,
    client_failures: Mapping[str, str] | None = None,
) -> SiteAudit:
    """Audit ``site``.

    Args:
        facts: by device id, the devices that were read; ``unread``: why the others were not.
        logs: by device id, what each device's security log said (devices whose driver reads none are absent).
        enforce, known, recorded, kinds, client_failures: as the planner takes them (the declared aspects, the
            passwords known to be current, the isolations the store records, the client kinds with a driver,
            the clients that could not be read).
        now: UTC epoch seconds, for "locked now".
        own: the addresses enforcer's own connections leave from.
    """
    mine = {d.id: facts[d.id] for d in site.devices if d.id in facts}
    findings: list[Finding] = []
    for device in site.devices:
        if device.id in unread:
            findings.append(checks.unread(site, device, unread[device.id], mine))
            continue
        if device.id not in mine:
            continue
        f = mine[device.id]
        findings += checks.passwords(site, device, f)
        findings += checks.accounts(site, device, f)
        findings += checks.firmware_locks(site, device, f)
        findings += checks.channels(site, device, f)
        findings += [_gap(site, device, g.capability, g.detail) for g in f.gaps]
    changes, isolated = _drift(site, mine, enforce, known, recorded)
    stale = stale_paths(site, [c for c in changes if c.action != "blocked"])
    follows = [p.device for p in stale if not p.client] + [c for c in site.cameras if c.id in isolated]
    followed = {(f"{site.name}/{c.recorder}", f"channels.{c.channel}") for c in follows}
    for change in changes:
        if (change.device, change.key) in followed:
            continue  # a channel that must follow its camera: the stale holder or the isolation says why
        found = checks.change_finding(site, change, mine.get(change.device))
        if found is not None:
            findings.append(found)
    findings += [_stale_holder(site, p, kinds) for p in stale]
    forensics: list[Activity] = []
    for device in site.devices:
        log = logs.get(device.id)
        if log is None:
            continue
        if log.gap is not None:
            findings.append(_gap(site, device, "security_log", log.gap.detail))
        found_here = trace(site, device, log, mine, own, now=now)
        forensics += found_here
        findings += [_forensic(site, a, log.since) for a in found_here]
    checklist = _checklist(site, stale, kinds, forensics)
    failures = {d: u.reason for d, u in unread.items()}
    plan = plan_site(site, mine, failures, enforce, known, recorded, kinds=kinds, client_failures=client_failures)
    findings.sort(key=rank)
    devices = tuple(_device(site, d, mine.get(d.id), unread.get(d.id), logs.get(d.id), findings) for d in site.devices)
    return SiteAudit(site.name, devices, tuple(findings), tuple(forensics), checklist, plan.error)


def _drift(
    site: Site, facts: Mapping[str, DeviceFacts], enforce: frozenset[Aspect], known: Known, recorded: frozenset[str]
) -> tuple[list[Change], frozenset[str]]:
    """The planner's own diff of the devices that were read, and the devices an earlier run left isolated."""
    marked = {d.id for d in site.devices if d.id in facts and (f := facts[d.id].ip_filter) is not None and f.isolated}
    isolated = frozenset(marked | (recorded & {d.id for d in site.devices}))
    changes: list[Change] = []
    for device in site.devices:
        if device.id in facts:
            changes += diff_device(device, facts[device.id], enforce, known)
    changes += diff_channels(site, facts, changes, enforce, isolated)
    changes += [isolation_change(d) for d in sorted(isolated & facts.keys())]
    return changes, isolated


def _stale_holder(site: Site, path: StalePath, kinds: ClientKinds) -> Finding:
    device, client = path.device, path.client
    if client is None:
        holder = f"{device.recorder} (its channel {device.channel})"
        fix = f"enforce apply rewrites {device.recorder}'s channel right after the change"
    else:
        holder = f"{client.name} ({client.kind} client)"
        manual = not kinds.get(client.kind)
        fix = (
            "enforce apply keeps it out by its address; it stays on the checklist until a person updates it"
            if manual
            else "enforce apply updates it after the change"
        )
    return Finding(
        "stale_holder",
        site.name,
        device.name,
        f"{holder} holds {device.name}'s {path.user} password, which the inventory changes",
        "once the device changes, a holder left with the old password retries and locks it",
        fix,
        (("holder", path.holder), ("user", path.user), ("kind", client.kind if client else "recorder")),
    )


def _gap(site: Site, device: Device, capability: str, detail: str) -> Finding:
    return Finding(
        "capability_gap",
        site.name,
        device.name,
        f"no {capability.replace('_', ' ')}: {detail}",
        "the audit and apply work around it; what depends on it is reported as blocked",
        "nothing to do, or upgrade to firmware that has it",
        (("capability", capability),),
    )


def _forensic(site: Site, activity: Activity, since: float) -> Finding:
    culprit = activity.culprit
    evidence = (
        ("source", activity.source),
        ("culprit", culprit.kind),
        ("name", culprit.name),
        ("failures", activity.failures),
        ("locks", activity.locks),
        ("users", ", ".join(activity.users)),
        ("first", activity.first),
        ("last", activity.last),
        ("locked_now", activity.locked_now),
    )
    what = activity.sentence(since)
    stale = "; ".join(culprit.stale)
    if culprit.kind == "enforcer":
        return Finding(
            "own_failures",
            site.name,
            activity.device,
            what,
            "enforcer's own discovery tried a stored password the device refused (never more than its budget)",
            "keep the credential store current (enforce apply records what works)",
            evidence,
        )
    if culprit.kind == "client":
        fix = (
            f"update {culprit.name} by hand with the current password (on the checklist)"
            if culprit.manual
            else f"give {culprit.name} the current password"
        )
        why = f"stale credential path: {stale}"
        return Finding("stale_client", site.name, activity.device, what, why, fix, evidence)
    if culprit.kind == "recorder":
        return Finding(
            "stale_channel",
            site.name,
            activity.device,
            what,
            f"stale stored credential: {stale}",
            f"enforce apply rewrites {culprit.name}'s refused channel with the camera's declared password",
            evidence,
        )
    why = stale or "no client, recorder or device of this site has that address"
    return Finding(
        "unknown_source",
        site.name,
        activity.device,
        what,
        why,
        f"find the host at {activity.source} (a forgotten app, a person's typo, or an attack); declare it as a "
        "client, or keep it out with the device's IP filter",
        evidence,
    )


def _checklist(
    site: Site, stale: list[StalePath], kinds: ClientKinds, forensics: list[Activity]
) -> tuple[ChecklistItem, ...]:
    """Clients with no API a person must update: those failing now, then those the pending change leaves stale
    (the plan's checklist, which apply prints; known here even where a device could not be read)."""
    items: dict[str, ChecklistItem] = {}
    for activity in forensics:
        culprit = activity.culprit
        client = next((c for c in site.clients if c.name == culprit.name), None)
        if culprit.kind == "client" and culprit.manual and client is not None and client.name not in items:
            entries = activity.failures + activity.locks
            why = f"it fails now with an old password on {activity.device} ({entries} log entries)"
            holds = tuple(f"{h.device} as {h.user}" for h in client.holds if h.device == activity.device)
            items[client.name] = _item(client, holds or (f"{activity.device} (undeclared)",), why)
    for client in site.clients:
        holds = tuple(f"{p.device.name} as {p.user}" for p in stale if p.client == client)
        if holds and not kinds.get(client.kind) and client.name not in items:
            items[client.name] = _item(client, holds, "the pending change leaves it stale: update it after apply")
    return tuple(items.values())


def _item(client: Client, holds: tuple[str, ...], why: str) -> ChecklistItem:
    settings = client.settings if isinstance(client.settings, ManualSettings) else ManualSettings()
    what, contact = settings.what or client.kind, settings.contact or ""
    return ChecklistItem(client.name, what, contact, client.address or "", holds, why)


def _device(
    site: Site,
    device: Device,
    facts: DeviceFacts | None,
    why: Unread | None,
    log: SecurityLog | None,
    findings: list[Finding],
) -> DeviceAudit:
    status: DeviceStatus
    if why is not None:
        status = "locked" if why.unlock_seconds > 0 else "unread"
    elif any(f.counts and f.device == device.name for f in findings):
        status = "noncompliant"
    else:
        status = "compliant"
    summary = None
    if log is not None:
        summary = LogSummary(
            log.records,
            sum(e.kind == "failure" for e in log.events),
            sum(e.kind == "lock" for e in log.events),
            len({e.source for e in log.events}),
            log.gap.detail if log.gap else None,
            log.truncated,
        )
    return DeviceAudit(
        site.name,
        device.name,
        device.role,
        device.vendor,
        device.model,
        device.address,
        facts.firmware_version if facts else "",
        device.firmware.version if device.firmware else None,
        status,
        summary,
        why.reason if why else "",
    )
