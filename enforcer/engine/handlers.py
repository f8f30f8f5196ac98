"""What each kind of step does, through the drivers. The executor is the only caller, one step at a time.

A handler is registered for its kind with :func:`handles`; a kind with no handler fails its step
saying so (a plan made by a newer enforce, or clients not supported yet).

Every step is idempotent: drivers' ``ensure_*`` compare before they write, and the credential store
keeps what isolation replaced, so a step run twice (after a crash) does no harm. A password goes to the
credential store as *pending*, durably, before any device sees it.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from enforcer.credentials.keyring import Keyring
from enforcer.credentials.store import Isolation
from enforcer.drivers.base import (
    DeviceDriver,
    Outcome,
    SupportsChannels,
    SupportsFirmware,
    SupportsIPFilter,
    SupportsReboot,
)
from enforcer.drivers.client import ClientDriver, held_of
from enforcer.engine.executor import Done
from enforcer.errors import DeviceError
from enforcer.facts import ISOLATION_MARKER, IPFilterFact
from enforcer.model import Client, Device, Hold, Site
from enforcer.plan.artifact import Step
from enforcer.plan.holders import BUILTIN_KINDS, ClientKinds
from enforcer.plan.steps import (
    ENFORCER,
    AccountKind,
    ChannelKind,
    Checklist,
    FirmwareKind,
    IsolateClient,
    IsolateFilter,
    LockPolicyKind,
    RebootUnlock,
    ReleaseClient,
    ReleaseFilter,
    StepKind,
    UpdateClient,
)


def _done(detail: str, outcome: Outcome) -> Done:
    return Done(detail + ("" if outcome.changed else " (already)"), outcome.changed)


@dataclass
class StepContext:
    """Everything steps need: the desired state, one driver per device, and the keyring (and its store);
    ``kinds``, the client kinds a driver can update (the planner's), to know whose updates a change owes."""

    sites: Mapping[str, Site]
    drivers: Mapping[str, DeviceDriver]
    keyring: Keyring
    source_address: str | None = None
    open_client: Callable[[Client], ClientDriver] | None = None
    checklist: list[Step] = field(default_factory=list)
    kinds: ClientKinds = field(default_factory=lambda: BUILTIN_KINDS)

    def device(self, device_id: str) -> Device:
        site, name = device_id.split("/", 1)
        device = self.sites[site].device(name)
        if device is None:
            raise KeyError(device_id)
        return device

    def driver(self, device_id: str) -> DeviceDriver:
        return self.drivers[device_id]

    def client(self, step: Step) -> tuple[Client, ClientDriver]:
        """The client a step targets, and its driver."""
        site, name = step.target.split("/", 1)
        client = next((c for c in self.sites[site].clients if c.name == name), None)
        if client is None or self.open_client is None:
            raise DeviceError(
                site=step.site, device=name, step=step.action, detail="no such client, or no driver for it"
            )
        return client, self.open_client(client)


_K = TypeVar("_K", bound=StepKind)
#: Carries out one step of kind ``_K``; returns what was done (a plain string: it changed something).
Handler = Callable[[Step, _K, StepContext], Done | str]
_HANDLERS: dict[type[StepKind], Handler[Any]] = {}


def handles(kind: type[_K]) -> Callable[[Handler[_K]], Handler[_K]]:
    """Register the function that carries out steps of ``kind``."""

    def register(handler: Handler[_K]) -> Handler[_K]:
        _HANDLERS[kind] = handler
        return handler

    return register


def run_step(step: Step, ctx: StepContext) -> Done:
    """Carry out ``step`` (blocking); returns what was done, and whether anything changed."""
    handler = _HANDLERS.get(type(step.kind))
    if handler is None:
        raise DeviceError(site=step.site, device=step.target, step=step.action, detail="no driver can do this yet")
    done = handler(step, step.kind, ctx)
    return done if isinstance(done, Done) else Done(done)


def _cannot(step: Step, what: str) -> DeviceError:
    return DeviceError(site=step.site, device=step.target, step=step.action, detail=f"the driver cannot {what}")


@handles(IsolateFilter)
def _isolate_ip_filter(step: Step, kind: IsolateFilter, ctx: StepContext) -> Done | str:
    """The filter it replaces goes to the store first (durably), then the allow-list with the marker."""
    driver = _filtering(step, ctx)
    if ctx.keyring.isolation(step.target) is None:
        current = driver.read_ip_filter()
        if current.isolated:  # left by a run whose record is not here: only the operator's choice will do
            if kind.previous is None or kind.previous.isolated:
                raise _unrecorded(step)
            current = kind.previous
        ctx.keyring.remember_isolation(step.target, Isolation(current, kind.keep_blocked))
    allow = [_resolve(a, ctx, step.target) for a in kind.allow]
    outcome = driver.ensure_ip_filter(IPFilterFact(True, "allow", (*allow, ISOLATION_MARKER)))
    return _done(f"allow-list {', '.join(allow)}", outcome)


@handles(ReleaseFilter)
def _release_ip_filter(step: Step, kind: ReleaseFilter, ctx: StepContext) -> Done | str:
    """Restore what the store recorded; else what the plan says (a filter it read, or the operator's
    choice for a filter nobody recorded); never a guess."""
    driver = _filtering(step, ctx)
    record = ctx.keyring.isolation(step.target)
    if record is not None:
        if not driver.read_ip_filter().isolated:  # restored by hand, or never switched: nothing to undo
            ctx.keyring.released(step.target)
            return Done("not isolated (record dropped)", changed=False)
        original, keep = record.original, list(record.keep_blocked)
    elif kind.restore is not None and not kind.restore.isolated:
        original, keep = kind.restore, list(kind.keep_blocked)
    elif driver.read_ip_filter().isolated:
        raise _unrecorded(step)
    else:
        return Done("not isolated", changed=False)
    device = ctx.device(step.target)
    site = ctx.sites[device.site]
    owing = [c.name for c in site.clients if any(d == device.name for d, _ in ctx.keyring.owed().get(c.id, ()))]
    if owing:
        raise _still_owed(step, ", ".join(owing), [device.name], "the device stays isolated")
    driver.ensure_ip_filter(restored_filter(original, keep))
    ctx.keyring.released(step.target)
    return "filter restored" + (f", still blocking {', '.join(keep)}" if keep else "")


def _filtering(step: Step, ctx: StepContext) -> SupportsIPFilter:
    driver = ctx.driver(step.target)
    if not isinstance(driver, SupportsIPFilter):
        raise _cannot(step, "set an IP filter")
    return driver


def _unrecorded(step: Step) -> DeviceError:
    return DeviceError(
        site=step.site,
        device=step.target.split("/", 1)[1],
        step=step.action,
        detail="isolated by an earlier run whose record is not in this credential store, so its IP filter "
        "before is unknown: restore it by hand, or run again with --restore-unknown-filters",
    )


def restored_filter(original: IPFilterFact | None, keep_blocked: list[str]) -> IPFilterFact:
    """The filter as it was, except that sources known to be stale stay out."""
    base = original or IPFilterFact(False, "deny", ())
    if not keep_blocked:
        return base
    if base.enabled and base.mode == "allow":
        return replace(base, addresses=tuple(a for a in base.addresses if a not in keep_blocked))
    existing = base.addresses if base.enabled else ()
    return IPFilterFact(True, "deny", tuple(dict.fromkeys([*existing, *keep_blocked])))


@handles(RebootUnlock)
def _reboot(step: Step, kind: RebootUnlock, ctx: StepContext) -> Done | str:
    driver = ctx.driver(step.target)
    if not isinstance(driver, SupportsReboot):
        raise _cannot(step, "reboot")
    driver.reboot(wait=True)
    return "rebooted to clear the lock"


@handles(FirmwareKind)
def _firmware(step: Step, kind: FirmwareKind, ctx: StepContext) -> Done | str:
    device = ctx.device(step.target)
    assert device.firmware is not None
    driver = ctx.driver(step.target)
    if not isinstance(driver, SupportsFirmware):
        raise _cannot(step, "install firmware")
    outcome = driver.ensure_firmware(device.firmware)
    return _done(f"firmware {device.firmware.version}", outcome)


@handles(LockPolicyKind)
def _lock_policy(step: Step, kind: LockPolicyKind, ctx: StepContext) -> Done | str:
    device = ctx.device(step.target)
    outcome = ctx.driver(step.target).ensure_lock_policy(device.lock_policy)
    p = device.lock_policy
    text = f"lock {'on' if p.enabled else 'off'}, {p.max_attempts} attempts, {p.lock_minutes} min"
    return _done(text, outcome)


@handles(AccountKind)
def _account(step: Step, kind: AccountKind, ctx: StepContext) -> Done | str:
    """The API clients holding the password owe an update first (durably), then the store's pending, then
    the device: a run killed once the device changed leaves both records for the next run."""
    device = ctx.device(step.target)
    account = device.account(kind.account)
    if account is None:
        raise DeviceError(site=step.site, device=step.target, step="account", detail=f"{kind.account} is not declared")
    if account.present and any(c.key.endswith(".password") for c in step.changes):
        site = ctx.sites[device.site]
        holders = [c.id for c in site.clients if ctx.kinds.get(c.kind) and Hold(device.name, account.name) in c.holds]
        if holders:
            ctx.keyring.owe_update(holders, device.name, account.name)
    with ctx.keyring.staged(device.id, account.name, account.password if account.present else None):
        outcome = ctx.driver(device.id).ensure_account(account)
    done = "removed" if not account.present else "set"
    return _done(f"account {account.name} {done}", outcome)


@handles(ChannelKind)
def _channel(step: Step, kind: ChannelKind, ctx: StepContext) -> Done | str:
    camera = ctx.device(kind.camera)
    account = camera.account(kind.user)
    if account is None or account.password is None:
        raise DeviceError(
            site=step.site,
            device=step.target,
            step="channel",
            detail=f"{camera.name} declares no password for {kind.user}",
        )
    driver = ctx.driver(step.target)
    if not isinstance(driver, SupportsChannels):
        raise _cannot(step, "set recorder channels")
    outcome = driver.ensure_channel(
        kind.channel, address=kind.address, port=kind.port, user=kind.user, password=account.password
    )
    return _done(f"channel {kind.channel} → {camera.name}", outcome)


@handles(IsolateClient)
def _isolate_client(step: Step, kind: IsolateClient, ctx: StepContext) -> Done | str:
    """What the client's isolation changes goes to the store first (durably), then the client is taken off."""
    client, driver = ctx.client(step)
    held = held_of(ctx.sites[client.site], kind.holds)
    if ctx.keyring.isolation(client.id) is None:
        ctx.keyring.remember_isolation(client.id, Isolation(None, client=driver.standing(held)))
    outcome = driver.isolate(held)
    return _done("taken off " + ", ".join(h.device.name for h in held), outcome)


@handles(UpdateClient)
def _update_client(step: Step, kind: UpdateClient, ctx: StepContext) -> Done | str:
    """The client is given every credential it holds, not only the ones that changed (``kind.holds``): a
    host's config file is rendered whole, and the others are the devices' current ones already."""
    client, driver = ctx.client(step)
    held = held_of(ctx.sites[client.site], client.holds)
    outcome = driver.update(held)  # verified by the driver, or it raised
    ctx.keyring.update_settled(client.id)
    return _done("credentials updated" + (f": {outcome.detail}" if outcome.detail else ""), outcome)


@handles(ReleaseClient)
def _release_client(step: Step, kind: ReleaseClient, ctx: StepContext) -> Done | str:
    """Put the client back exactly as its isolation recorded; nothing recorded, nothing to undo. Never while
    it is owed an update: back on its devices with an old password, it would lock them."""
    client, driver = ctx.client(step)
    record = ctx.keyring.isolation(client.id)
    if record is None or record.client is None:
        return Done("not isolated", changed=False)
    owed = sorted({d for d, _ in ctx.keyring.owed().get(client.id, ())})
    if owed:
        raise _still_owed(step, client.name, owed, "it is kept off its devices")
    driver.release(held_of(ctx.sites[client.site], kind.holds or client.holds), record.client)
    ctx.keyring.released(client.id)
    return "back on its devices"


@handles(Checklist)
def _checklist(step: Step, kind: Checklist, ctx: StepContext) -> Done | str:
    ctx.checklist.append(step)
    return Done("added to the checklist", changed=False)


def _still_owed(step: Step, holders: str, devices: list[str], kept: str) -> DeviceError:
    return DeviceError(
        site=step.site,
        device=step.target.split("/", 1)[-1],
        step=step.action,
        detail=f"not released: {holders} may still hold an old password of {', '.join(devices)} (its update is "
        f"not verified) and would lock it; {kept} until a run updates it",
    )


def _resolve(address: str, ctx: StepContext, device_id: str) -> str:
    if address != ENFORCER:
        return address
    if ctx.source_address:
        return ctx.source_address
    return source_address_for(ctx.device(device_id).address)


def source_address_for(address: str) -> str:
    """The local address the kernel would use to reach ``address`` (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect((address, 9))
        local: str = probe.getsockname()[0]
        return local
