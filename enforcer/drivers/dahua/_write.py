"""Dahua configuration writes: the login lock (``General``), recorder channels (``RemoteDevice``), the
IP filter (``IPFilter``), all through ``setConfig`` (protocols/dahua-cgi.md §5).

Each ``ensure_*`` re-reads, compares, writes only what differs (``setConfig`` is all-or-nothing, so
one request carries every key), and verifies the write took. ``Error`` on a write is a refusal.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from enforcer.config.secrets import Secret
from enforcer.drivers._wire import settings
from enforcer.drivers.base import Outcome
from enforcer.drivers.dahua import _parse
from enforcer.drivers.dahua._parse import NETCAMERA
from enforcer.drivers.dahua._session import Refusal
from enforcer.facts import IPFilterFact
from enforcer.model import LockPolicy

if TYPE_CHECKING:
    from enforcer.drivers.dahua._driver import DahuaDriver

CONFIG = "/cgi-bin/configManager.cgi"
CAMERAS = "/cgi-bin/LogicDeviceManager.cgi"
POLL_SECONDS = 0.2


def _set(drv: DahuaDriver, step: str, params: list[tuple[str, str]], what: str) -> None:
    try:
        drv.session.request(step, CONFIG, "setConfig", params, write=True)
    except Refusal as exc:
        said = f": {exc.said}" if exc.said else ""
        raise drv.error(step, f"the device refused {what} (Error{said})") from exc


def _flag(value: bool) -> str:
    return "true" if value else "false"


def ensure_lock_policy(drv: DahuaDriver, policy: LockPolicy) -> Outcome:
    def write() -> None:
        params = [("General.LockLoginEnable", _flag(policy.enabled))]
        if policy.enabled:
            params += [
                ("General.LockLoginTimes", str(policy.max_attempts)),
                ("General.LoginFailLockTime", str(policy.lock_minutes * 60)),
            ]
        _set(drv, "lock policy", params, "the lock policy")

    return settings.ensure_lock_policy(policy, read=drv.read_lock_policy, write=write, error=drv.error)


def _slots(drv: DahuaDriver, step: str) -> dict[int, _parse.Slot]:
    status, slots = drv.optional_config(step, "RemoteDevice", _parse.remote_devices)
    if slots is None:
        raise drv.error(step, f"the device has no remote devices (HTTP {status}): not a recorder")
    return slots


def ensure_channel(
    drv: DahuaDriver, channel: int, *, address: str, port: int, user: str, password: Secret, wait: bool = False
) -> Outcome:
    """Always written: the stored password cannot be read back (``******``), and a channel that shows
    Connected may still hold a password its camera has just stopped accepting.

    Verified by re-reading the slot; with ``wait``, also until ``getCameraState`` says Connected.
    """
    step = f"channel {channel}"
    slot = channel - 1
    if slot not in _slots(drv, step):
        raise drv.error(step, f"the recorder has no channel {channel}")
    prefix = f"RemoteDevice.{NETCAMERA}{slot}"
    params = [
        (f"{prefix}.Enable", "true"),
        (f"{prefix}.Address", address),
        (f"{prefix}.HttpPort", str(port)),
        (f"{prefix}.UserName", user),
        (f"{prefix}.Password", password.reveal()),
    ]
    _set(drv, step, params, f"channel {channel}")
    after = _slots(drv, step).get(slot)
    if after is None or (after.enabled, after.address, after.http_port, after.user) != (True, address, port, user):
        shown = f"{after.user}@{after.address}:{after.http_port}" if after else "no such slot"
        raise drv.error(step, f"the recorder reports {shown} after the write")
    if wait:
        wait_connected(drv, channel, drv.options.timeout)
    return Outcome(True, f"channel {channel} logs into {address}:{port} as {user}")


def wait_connected(drv: DahuaDriver, channel: int, timeout: float) -> None:
    """Poll ``getCameraState`` until the channel is Connected (the recorder logged in) or ``timeout``."""
    step = f"channel {channel}"
    deadline = time.monotonic() + timeout
    while True:
        body = drv.get(step, CAMERAS, "getCameraState", [("uniqueChannels", "-1")])[1]
        state = _parse.camera_states(body).get(channel - 1, "")
        if state == "Connected":
            return
        if time.monotonic() > deadline:
            raise drv.error(step, f"channel {channel} is not Connected within {timeout:g} s ({state or 'no state'})")
        time.sleep(POLL_SECONDS)


def read_filter(drv: DahuaDriver, step: str) -> IPFilterFact:
    status, found = drv.optional_config(step, "IPFilter", _parse.ip_filter)
    if found is None:
        raise drv.error(step, f"the device has no IP filter (HTTP {status})")
    return found


def ensure_ip_filter(drv: DahuaDriver, wanted: IPFilterFact) -> Outcome:
    step = "ip filter"

    def write() -> None:
        kind = "TrustList" if wanted.mode == "allow" else "BannedList"
        params = [("IPFilter.Enable", _flag(wanted.enabled)), ("IPFilter.Type", kind)]
        params += [(f"IPFilter.{kind}[{i}]", addr) for i, addr in enumerate(dict.fromkeys(wanted.addresses))]
        _set(drv, step, params, "the IP filter")

    return settings.ensure_ip_filter(
        wanted, source=drv.options.source_address, read=lambda: read_filter(drv, step), write=write, error=drv.error
    )
