"""Lockout forensics: a device's failed logins grouped by source, and each source named. Pure.

The question every site asks after a lock: *who* keeps failing? The device's security log gives addresses;
the inventory gives them names. A source is, in this order:

1. **enforcer** itself (the address its connections leave from): its own discovery, never a culprit to chase;
2. a **client** of the site, by its ``address`` (a Milestone client with none, by its URL's host), with the
   credential paths it holds on this device, which are the stale ones;
3. a **recorder** of the site, by its address: the stored channel credential of this camera is stale;
4. another **device** of the site (a path the inventory does not declare);
5. **unknown**: nothing in the inventory has that address: a person's typo, a forgotten app, or an attack.

Only the device's own site is searched: customers' private networks reuse the same addresses, so
``192.168.1.20`` at one site says nothing about another.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal
from urllib.parse import urlsplit

from enforcer.facts import DeviceFacts, LoginEvent, SecurityLog
from enforcer.model import Client, Device, ManualSettings, MilestoneSettings, Site

CulpritKind = Literal["enforcer", "client", "recorder", "device", "unknown"]
DAY = 86400.0


@dataclass(frozen=True)
class Culprit:
    """Who a source address is, and which of its credential paths to this device are stale."""

    kind: CulpritKind
    name: str  # the client's or device's name; "enforcer"; "" when unknown
    what: str  # in words: "viewer-001, iVMS-4200 on the reception PC (manual client)"
    stale: tuple[str, ...] = ()  # "viewer-001 holds nvr-001 as operator"
    manual: bool = False  # a client with no API: a person must update it


@dataclass(frozen=True)
class Activity:
    """One source's failed logins on one device within the window, with its culprit."""

    device: str  # the device's name
    source: str
    culprit: Culprit
    failures: int
    locks: int
    users: tuple[str, ...]
    first: float
    last: float
    locked_now: bool
    daily: tuple[int, ...]  # events per day, oldest first, over the window (for a sparkline)

    def sentence(self, since: float) -> str:
        """``cam-07 was locked 4 times since 2024-05-01 by 10.1.2.55 = the iVMS desk (manual client)``."""
        day = datetime.fromtimestamp(since, UTC).strftime("%Y-%m-%d")
        if self.locks:
            done = f"was locked {_times(self.locks)}"
        else:
            done = f"refused {self.failures} login{'s' * (self.failures != 1)}"
        users = ", ".join(self.users) or "?"
        now = "; it is likely locked out now" if self.locked_now else ""
        return f"{self.device} {done} since {day} by {self.source} = {self.culprit.what}, as {users}{now}"


def trace(
    site: Site,
    device: Device,
    log: SecurityLog,
    facts: Mapping[str, DeviceFacts],
    own: Collection[str],
    *,
    now: float,
) -> tuple[Activity, ...]:
    """Every source in ``log`` with its culprit, most events first."""
    by_source: dict[str, list[LoginEvent]] = {}
    for event in log.events:
        by_source.setdefault(event.source, []).append(event)
    policy = facts[device.id].lock_policy if device.id in facts else None
    days = max(1, int((now - log.since) // DAY) + 1)
    out = []
    for source, events in by_source.items():
        users = tuple(sorted({e.user for e in events if e.user}))
        culprit = attribute(site, device, source, users, facts, own)
        locks = sum(1 for e in events if e.kind == "lock")
        failures = sum(1 for e in events if e.kind == "failure")
        daily = [0] * days
        for e in events:
            daily[min(days - 1, max(0, int((e.time - log.since) // DAY)))] += 1
        locked_now = False
        if policy is not None and policy.enabled and policy.lock_seconds:
            recent = [e for e in events if e.time >= now - policy.lock_seconds]
            locked_now = any(e.kind == "lock" for e in recent) or (
                policy.max_attempts is not None and sum(e.kind == "failure" for e in recent) >= policy.max_attempts
            )
        out.append(
            Activity(
                device.name,
                source,
                culprit,
                failures,
                locks,
                users,
                min(e.time for e in events),
                max(e.time for e in events),
                locked_now,
                tuple(daily),
            )
        )
    return tuple(sorted(out, key=lambda a: (-(a.locks + a.failures), a.source)))


def attribute(
    site: Site,
    device: Device,
    source: str,
    users: tuple[str, ...],
    facts: Mapping[str, DeviceFacts],
    own: Collection[str],
) -> Culprit:
    """Who ``source`` is, seen from ``device`` of ``site`` (see the module's rules)."""
    if source in own:
        return Culprit("enforcer", "enforcer", "enforcer (this machine)")
    for client in site.clients:
        if source in _addresses(client):
            return _client(client, device, users)
    for other in site.devices:
        if other.address != source or other.id == device.id:
            continue
        if other.role == "recorder":
            return _recorder(other, device, facts)
        what = f"{other.name} ({other.role}, {other.model}), which holds no declared path"
        return Culprit("device", other.name, what)
    return Culprit("unknown", "", "an address the inventory does not know")


def _addresses(client: Client) -> set[str]:
    found = {client.address} if client.address else set()
    if not found and isinstance(client.settings, MilestoneSettings):
        host = urlsplit(client.settings.url).hostname
        if host:
            found.add(host)
    return found


def _client(client: Client, device: Device, users: tuple[str, ...]) -> Culprit:
    manual = client.kind == "manual"
    what = client.name
    if isinstance(client.settings, ManualSettings) and client.settings.what:
        what += f", {client.settings.what}"
    what += f" ({client.kind} client)"
    holds = [h for h in client.holds if h.device == device.name]
    tried = [h for h in holds if not users or h.user in users]
    stale = tuple(f"{client.name} holds {device.name} as {h.user}" for h in (tried or holds))
    if not holds:
        stale = (f"{client.name} logs into {device.name} as {', '.join(users) or '?'}, a path the inventory lacks",)
    return Culprit("client", client.name, what, stale, manual)


def _recorder(recorder: Device, device: Device, facts: Mapping[str, DeviceFacts]) -> Culprit:
    what = f"{recorder.name} (recorder)"
    if device.recorder != recorder.name or device.channel is None:
        return Culprit("recorder", recorder.name, what, (f"{recorder.name} logs into {device.name} undeclared",))
    path = f"{recorder.name} channel {device.channel} holds {device.name} as {device.channel_user}"
    seen = facts.get(recorder.id)
    channel = seen.channel(device.channel) if seen is not None else None
    if channel is not None and channel.detect == "errorUserNameOrPasswd":
        path += " (the recorder reports it refused)"
    return Culprit("recorder", recorder.name, what, (path,))


def _times(n: int) -> str:
    return {1: "once", 2: "twice"}.get(n, f"{n} times")
