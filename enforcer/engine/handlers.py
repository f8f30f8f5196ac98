"""What each step does, through the drivers. The executor is the only caller, one step at a time.

Every step is idempotent: drivers' ``ensure_*`` compare before they write, and the journal keeps
what isolation replaced, so a step run twice (after a crash) does no harm. A password goes to the
credential store as *pending*, durably, before any device sees it.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from enforcer.credentials.store import CredentialStore
from enforcer.drivers.base import DeviceDriver, SupportsChannels, SupportsFirmware, SupportsIPFilter, SupportsReboot
from enforcer.engine.journal import Journal
from enforcer.errors import DeviceError
from enforcer.facts import IPFilterFact
from enforcer.model import Device, Site
from enforcer.plan.artifact import ENFORCER, Step


@dataclass
class StepContext:
    """Everything steps need: the desired state, one driver per device, the store and the journal."""

    sites: Mapping[str, Site]
    drivers: Mapping[str, DeviceDriver]
    store: CredentialStore
    journal: Journal
    run: int
    source_address: str | None = None
    checklist: list[Step] = field(default_factory=list)

    def device(self, device_id: str) -> Device:
        site, name = device_id.split("/", 1)
        device = self.sites[site].device(name)
        if device is None:
            raise KeyError(device_id)
        return device

    def driver(self, device_id: str) -> DeviceDriver:
        return self.drivers[device_id]


def run_step(step: Step, ctx: StepContext) -> str:
    """Carry out ``step`` (blocking); returns a short description of what was done."""
    handler = _HANDLERS.get(step.action)
    if handler is None:
        raise DeviceError(site=step.site, device=step.target, step=step.action, detail="no driver can do this yet")
    return handler(step, ctx)


def _cannot(step: Step, what: str) -> DeviceError:
    return DeviceError(site=step.site, device=step.target, step=step.action, detail=f"the driver cannot {what}")


def _isolate_ip_filter(step: Step, ctx: StepContext) -> str:
    driver = ctx.driver(step.target)
    if not isinstance(driver, SupportsIPFilter):
        raise _cannot(step, "set an IP filter")
    if ctx.journal.original_filter(step.target) is None:
        current = driver.read_ip_filter()
        ctx.journal.remember_filter(ctx.run, step.target, current, list(step.params["keep_blocked"]))
    allow = [_resolve(a, ctx, step.target) for a in step.params["allow"]]
    outcome = driver.ensure_ip_filter(IPFilterFact(True, "allow", tuple(allow)))
    return f"allow-list {', '.join(allow)}" + ("" if outcome.changed else " (already)")


def _release_ip_filter(step: Step, ctx: StepContext) -> str:
    driver = ctx.driver(step.target)
    if not isinstance(driver, SupportsIPFilter):
        raise _cannot(step, "set an IP filter")
    kept = ctx.journal.original_filter(step.target)
    if kept is None:
        restore_raw = step.params.get("restore")
        original = (
            None
            if restore_raw is None
            else IPFilterFact(restore_raw["enabled"], restore_raw["mode"], tuple(restore_raw["addresses"]))
        )
        keep = list(step.params.get("keep_blocked", []))
    else:
        original, keep = kept
    wanted = restored_filter(original, keep)
    driver.ensure_ip_filter(wanted)
    ctx.journal.released(step.target)
    return "filter restored" + (f", still blocking {', '.join(keep)}" if keep else "")


def restored_filter(original: IPFilterFact | None, keep_blocked: list[str]) -> IPFilterFact:
    """The filter as it was, except that sources known to be stale stay out."""
    base = original or IPFilterFact(False, "deny", ())
    if not keep_blocked:
        return base
    if base.enabled and base.mode == "allow":
        return replace(base, addresses=tuple(a for a in base.addresses if a not in keep_blocked))
    existing = base.addresses if base.enabled else ()
    return IPFilterFact(True, "deny", tuple(dict.fromkeys([*existing, *keep_blocked])))


def _reboot(step: Step, ctx: StepContext) -> str:
    driver = ctx.driver(step.target)
    if not isinstance(driver, SupportsReboot):
        raise _cannot(step, "reboot")
    driver.reboot(wait=True)
    return "rebooted to clear the lock"


def _firmware(step: Step, ctx: StepContext) -> str:
    device = ctx.device(step.target)
    assert device.firmware is not None
    driver = ctx.driver(step.target)
    if not isinstance(driver, SupportsFirmware):
        raise _cannot(step, "install firmware")
    outcome = driver.ensure_firmware(device.firmware)
    return f"firmware {device.firmware.version}" + ("" if outcome.changed else " (already)")


def _lock_policy(step: Step, ctx: StepContext) -> str:
    device = ctx.device(step.target)
    outcome = ctx.driver(step.target).ensure_lock_policy(device.lock_policy)
    p = device.lock_policy
    text = f"lock {'on' if p.enabled else 'off'}, {p.max_attempts} attempts, {p.lock_minutes} min"
    return text + ("" if outcome.changed else " (already)")


def _account(step: Step, ctx: StepContext) -> str:
    device = ctx.device(step.target)
    name = step.params["account"]
    account = device.account(name)
    if account is None:
        raise DeviceError(site=step.site, device=step.target, step="account", detail=f"{name} is not declared")
    if account.present and account.password is not None:
        ctx.store.set_pending(device.id, name, account.password, replace=True)
        ctx.store.save()  # durable before the device sees it
    outcome = ctx.driver(device.id).ensure_account(account)
    if account.present and account.password is not None:
        ctx.store.commit(device.id, name)
        ctx.store.save()
    return (
        f"account {name} " + ("removed" if not account.present else "set") + ("" if outcome.changed else " (already)")
    )


def _channel(step: Step, ctx: StepContext) -> str:
    camera = ctx.device(step.params["camera"])
    account = camera.account(step.params["user"])
    if account is None or account.password is None:
        raise DeviceError(
            site=step.site,
            device=step.target,
            step="channel",
            detail=f"{camera.name} declares no password for {step.params['user']}",
        )
    driver = ctx.driver(step.target)
    if not isinstance(driver, SupportsChannels):
        raise _cannot(step, "set recorder channels")
    outcome = driver.ensure_channel(
        step.params["channel"],
        address=step.params["address"],
        port=step.params["port"],
        user=step.params["user"],
        password=account.password,
    )
    return f"channel {step.params['channel']} → {camera.name}" + ("" if outcome.changed else " (already)")


def _checklist(step: Step, ctx: StepContext) -> str:
    ctx.checklist.append(step)
    return "added to the checklist"


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


_HANDLERS: dict[str, Callable[[Step, StepContext], str]] = {
    "isolate_ip_filter": _isolate_ip_filter,
    "release_ip_filter": _release_ip_filter,
    "reboot_unlock": _reboot,
    "firmware": _firmware,
    "lock_policy": _lock_policy,
    "account": _account,
    "channel": _channel,
    "checklist": _checklist,
}
