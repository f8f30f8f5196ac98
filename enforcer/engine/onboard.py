"""Onboarding a fleet enforcer has never seen: which of the passwords an MSP has today each device takes.

:func:`import_site` reads devices at given addresses (and, for a recorder, the cameras its channels log
into), trying the known passwords one attempt each through one login guard: a device's lock budget is
kept across every password tried, a refused one is never sent again, and the last two attempts are
never spent. What it finds is what the inventory and the credential store then record
(:func:`site_yaml`); nothing is changed on any device.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from enforcer.credentials.guard import LoginGuard
from enforcer.credentials.keyring import Keyring
from enforcer.credentials.secret import Secret
from enforcer.drivers.base import DriverOptions
from enforcer.drivers.registry import driver_for
from enforcer.errors import DeviceError, EnforcerError, LockedOut
from enforcer.facts import DeviceFacts
from enforcer.model import TLS, Account, Device, LockPolicy

__all__ = ["Found", "import_site", "site_yaml"]


@dataclass(frozen=True)
class Found:
    """One device read: its name in the inventory, what it reported, the password that works (or why none)."""

    name: str
    device: Device
    facts: DeviceFacts | None
    password: Secret | None
    reason: str = ""
    channel: int | None = None
    recorder: str | None = None


def _device(site: str, name: str, vendor: str, address: str, port: int, user: str, role: str) -> Device:
    return Device(
        site=site,
        name=name,
        role="recorder" if role == "recorder" else "camera",
        vendor=vendor,
        model="",
        address=address,
        port=port,
        scheme="http",
        tls=TLS(),
        accounts=(Account(user, "administrator", None),),
        lock_policy=LockPolicy(True, 5, 30),
        firmware=None,
        isolation="none",
        unlock="wait",
    )


def read_device(
    device: Device,
    user: str,
    passwords: Sequence[Secret],
    guard: LoginGuard,
    options: DriverOptions,
) -> tuple[DeviceFacts | None, Secret | None, str]:
    """The device's facts with the first of ``passwords`` it takes, one attempt each, through ``guard``."""
    reason = "none of the known passwords works"
    for password in passwords:
        if guard.was_refused(device.id, user, password):
            continue
        trying = replace(device, accounts=(Account(user, "administrator", password),))
        driver = driver_for(device.vendor)(trying, keyring=Keyring(None, guard=guard), options=options)
        try:
            return driver.facts(), password, ""
        except LockedOut as exc:
            return None, None, exc.detail  # the device locked us (or someone) out: stop
        except DeviceError as exc:
            if exc.step != "login" or not guard.was_refused(device.id, user, password):
                return None, None, exc.detail  # not a wrong password: unreachable, another vendor, the reserve
            reason = f"none of the known passwords works ({exc.detail})"
        except EnforcerError as exc:
            return None, None, str(exc)
        finally:
            driver.close()
    return None, None, reason


def import_site(
    site: str,
    vendor: str,
    addresses: Sequence[str],
    passwords: Sequence[Secret],
    *,
    port: int = 80,
    user: str = "admin",
    recorder: str | None = None,
    camera_vendor: str | None = None,
    options: DriverOptions | None = None,
    time_scale: float = 1.0,
    progress: Callable[[Found], None] | None = None,
) -> list[Found]:
    """Read a recorder at ``recorder`` (and the cameras its channels name) and the devices at ``addresses``."""
    options = options or DriverOptions()
    guard = LoginGuard(clock=lambda: time.monotonic() / time_scale)
    found: list[Found] = []

    def read(name: str, kind: str, vendor_: str, address: str, **extra: object) -> Found:
        device = _device(site, name, vendor_, address, port, user, kind)
        facts, password, reason = read_device(device, user, passwords, guard, options)
        item = Found(name, device, facts, password, reason, **extra)  # type: ignore[arg-type]
        found.append(item)
        if progress is not None:
            progress(item)
        return item

    if recorder is not None:
        nvr = read("nvr-01", "recorder", vendor, recorder)
        for channel in nvr.facts.channels if nvr.facts is not None else ():
            read(
                f"cam-{channel.id:02d}",
                "camera",
                camera_vendor or vendor,
                channel.address,
                channel=channel.id,
                recorder="nvr-01",
            )
    for i, address in enumerate(addresses, 1):
        read(f"{'cam' if recorder else 'device'}-x{i:02d}", "camera", camera_vendor or vendor, address)
    return found


def site_yaml(site: str, found: Sequence[Found], port: int) -> str:
    """The inventory file for the site: every device read, with its model; passwords are the store's."""
    lines = [
        f"# Imported by enforce import: {len(found)} device(s). Passwords are the credential store's",
        '# (declared !secret "store:" in the defaults); run enforce rotate to replace them.',
        "sites:",
        f"  {site}:",
    ]
    for role in ("recorder", "camera"):
        items = [f for f in found if f.facts is not None and f.device.role == role]
        if not items:
            continue
        lines.append(f"    {role}s:")
        for item in items:
            assert item.facts is not None
            fields = [f"vendor: {item.device.vendor}", f"model: {_quote(item.facts.model)}"]
            fields += [f"address: {_quote(item.device.address)}", f"port: {port}"]
            if item.recorder is not None and item.channel is not None:
                fields += [f"recorder: {item.recorder}", f"channel: {item.channel}"]
            lines.append(f"      {item.name}: {{{', '.join(fields)}}}")
    return "\n".join(lines) + "\n"


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
