"""Dahua configuration writes: the login lock (``General``), recorder channels (``RemoteDevice``), the
IP filter (``IPFilter``), all through ``setConfig`` (protocols/dahua-cgi.md §5).

Each ``ensure_*`` re-reads, compares, writes only what differs (``setConfig`` is all-or-nothing, so
one request carries every key), and verifies the write took. ``Error`` on a write is a refusal.
"""

from __future__ import annotations

import time

from enforcer.credentials.secret import Secret
from enforcer.drivers._wire import settings
from enforcer.drivers.base import Outcome
from enforcer.drivers.dahua import _parse
from enforcer.drivers.dahua._parse import NETCAMERA
from enforcer.drivers.dahua._session import DahuaSession
from enforcer.errors import Refusal
from enforcer.facts import IPFilterFact, LockPolicyFact
from enforcer.model import LockPolicy

CONFIG = "/cgi-bin/configManager.cgi"
CAMERAS = "/cgi-bin/LogicDeviceManager.cgi"
POLL_SECONDS = 0.2


def _set(session: DahuaSession, step: str, params: list[tuple[str, str]], what: str) -> None:
    try:
        session.request(step, CONFIG, "setConfig", params, write=True)
    except Refusal as exc:
        said = f": {exc.said}" if exc.said else ""
        raise session.error(step, f"the device refused {what} (Error{said})") from exc


def _flag(value: bool) -> str:
    return "true" if value else "false"


def lock_policy_or_gap(session: DahuaSession) -> LockPolicyFact | str:
    """``General`` (seconds), telling the guard the device's threshold; or, on firmware without it,
    what the device said (the guard then keeps its default budget)."""
    policy = session.optional_config("lock policy", "General", _parse.lock_policy)
    if isinstance(policy, str):
        return f"the firmware has no login-lock policy ({policy})"
    if policy.max_attempts:
        session.keys.set_threshold(policy.max_attempts, lock_seconds=policy.lock_seconds)
    return policy


def read_lock_policy(session: DahuaSession) -> LockPolicyFact:
    policy = lock_policy_or_gap(session)
    if isinstance(policy, str):
        raise session.error("lock policy", f"{policy}: it cannot be set")
    return policy


def ensure_lock_policy(session: DahuaSession, policy: LockPolicy) -> Outcome:
    def write() -> None:
        params = [("General.LockLoginEnable", _flag(policy.enabled))]
        if policy.enabled:
            params += [
                ("General.LockLoginTimes", str(policy.max_attempts)),
                ("General.LoginFailLockTime", str(policy.lock_minutes * 60)),
            ]
        _set(session, "lock policy", params, "the lock policy")

    return settings.ensure_lock_policy(policy, read=lambda: read_lock_policy(session), write=write, error=session.error)


def _slots(session: DahuaSession, step: str) -> dict[int, _parse.Slot]:
    slots = session.optional_config(step, "RemoteDevice", _parse.remote_devices)
    if isinstance(slots, str):
        raise session.error(step, f"the device has no remote devices ({slots}): channels cannot be set")
    return slots


def ensure_channel(
    session: DahuaSession, channel: int, *, address: str, port: int, user: str, password: Secret, wait: bool = False
) -> Outcome:
    """Always written: the stored password cannot be read back (``******``), and a channel that shows
    Connected may still hold a password its camera has just stopped accepting.

    Verified by re-reading the slot; with ``wait``, also until ``getCameraState`` says Connected.
    """
    step = f"channel {channel}"
    slot = channel - 1
    if slot not in _slots(session, step):
        raise session.error(step, f"the recorder has no channel {channel}")
    prefix = f"RemoteDevice.{NETCAMERA}{slot}"
    params = [
        (f"{prefix}.Enable", "true"),
        (f"{prefix}.Address", address),
        (f"{prefix}.HttpPort", str(port)),
        (f"{prefix}.UserName", user),
        (f"{prefix}.Password", password.reveal()),
    ]
    _set(session, step, params, f"channel {channel}")
    after = _slots(session, step).get(slot)
    if after is None or (after.enabled, after.address, after.http_port, after.user) != (True, address, port, user):
        shown = f"{after.user}@{after.address}:{after.http_port}" if after else "no such slot"
        raise session.error(step, f"the recorder reports {shown} after the write")
    if wait:
        wait_connected(session, channel, session.options.timeout)
    return Outcome(True, f"channel {channel} logs into {address}:{port} as {user}")


def wait_connected(session: DahuaSession, channel: int, timeout: float) -> None:
    """Poll ``getCameraState`` until the channel is Connected (the recorder logged in) or ``timeout``."""
    step = f"channel {channel}"
    deadline = time.monotonic() + timeout
    while True:
        body = session.get(step, CAMERAS, "getCameraState", [("uniqueChannels", "-1")])[1]
        state = _parse.camera_states(body).get(channel - 1, "")
        if state == "Connected":
            return
        if time.monotonic() > deadline:
            raise session.error(
                step, f"channel {channel} is not Connected within {timeout:g} s ({state or 'no state'})"
            )
        time.sleep(POLL_SECONDS)


def read_filter(session: DahuaSession, step: str) -> IPFilterFact:
    found = session.optional_config(step, "IPFilter", _parse.ip_filter)
    if isinstance(found, str):
        raise session.error(step, f"the device has no IP filter ({found})")
    return found


def ensure_ip_filter(session: DahuaSession, wanted: IPFilterFact) -> Outcome:
    step = "ip filter"

    def write() -> None:
        kind = "TrustList" if wanted.mode == "allow" else "BannedList"
        params = [("IPFilter.Enable", _flag(wanted.enabled)), ("IPFilter.Type", kind)]
        params += [(f"IPFilter.{kind}[{i}]", addr) for i, addr in enumerate(dict.fromkeys(wanted.addresses))]
        _set(session, step, params, "the IP filter")

    return settings.ensure_ip_filter(
        wanted,
        source=session.options.source_address,
        read=lambda: read_filter(session, step),
        write=write,
        error=session.error,
    )
