"""The Hikvision/Annke ISAPI driver (protocols/hikvision-isapi.md), registered as ``isapi``.

Facts cost one free challenge plus one request per fact on a single nonce: ``userCheck`` (the login,
and the default/risk flags), ``deviceInfo``, ``users``, ``illegalLoginLock`` (and ``capabilities``
only when no firmware table knows the lock-time unit), ``ipFilter``, and for recorders the channel
list and status. Writes live in :mod:`._write` and :mod:`._firmware`, each over the session alone,
imported by the methods that write (``facts`` needs neither, nor :mod:`._log`); this class ties them
to one session per device.

    >>> from enforcer.drivers.registry import driver_for
    >>> driver_for("hikvision") is IsapiDriver
    True
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import ClassVar

from enforcer.credentials.guard import Verdict
from enforcer.credentials.keyring import Keyring, Probe
from enforcer.credentials.secret import Secret
from enforcer.drivers.base import DriverOptions, Outcome, PasswordRules, Progress
from enforcer.drivers.isapi import _parse
from enforcer.drivers.isapi._parse import LockCaps
from enforcer.drivers.isapi._session import PROBE_PATH, IsapiSession
from enforcer.drivers.isapi._xml import user_check
from enforcer.errors import LoginFailed, XmlError
from enforcer.facts import (
    Candidate,
    ChannelFact,
    DeviceFacts,
    Gap,
    GapCapability,
    IPFilterFact,
    LockPolicyFact,
    LockState,
    LoginFact,
    SecurityLog,
)
from enforcer.model import Account, Device, Firmware, LockPolicy

CHANNELS = "/ISAPI/ContentMgmt/InputProxy/channels"
IP_FILTER = "/ISAPI/System/Network/ipFilter"
LOCK_POLICY = "/ISAPI/Security/illegalLoginLock"


class IsapiDriver:
    """One Hikvision/Annke device; implements DeviceDriver and every optional ability."""

    protocol: ClassVar[str] = "isapi"
    #: The lab's and current firmware's limit: longer passwords are refused with ``badParameters``.
    password_rules: ClassVar[PasswordRules] = PasswordRules(min_length=1, max_length=16)
    #: The SDK port (``DEV_MANAGE`` in adminAccesses) that a recorder's ``HIKVISION`` channel points at.
    sdk_port: ClassVar[int] = 8000

    def __init__(self, device: Device, *, keyring: Keyring, options: DriverOptions) -> None:
        self.device, self.options = device, options
        self.keys = keyring.keys(device, options.login_user)
        self.session = IsapiSession.open(self.keys, options)
        self.unit: _parse.Unit | None = None
        self._model, self._firmware = device.model, ""
        self._device_type = "NVR" if device.role == "recorder" else ""
        self._flags: tuple[bool | None, bool | None] = (None, None)

    # -- login ----------------------------------------------------------------------------------------

    def ensure_login(self) -> LoginFact:
        """Find the working credential once per run (discovery), or raise DeviceError saying why not."""
        return self.keys.log_in(self._standing, self._try)

    def _standing(self) -> Probe:
        check = self.session.probe("login")
        if check is None:
            return Probe()
        return Probe(check.locked, check.unlock_seconds, check.attempts_left, scope="source")

    def _try(self, role: Candidate, password: Secret) -> Verdict:
        self.keys.use(password, role)
        try:
            reply = self.session.request("login", "GET", PROBE_PATH)
        except LoginFailed as exc:
            return Verdict(False, exc.attempts_left, exc.locked, exc.unlock_seconds)
        check = user_check(reply.body)
        self._flags = (check.is_default, check.is_risk) if check else (None, None)
        return Verdict(ok=True)

    # -- facts ----------------------------------------------------------------------------------------

    def get(self, step: str, path: str, *, allow: tuple[int, ...] = (200,)) -> tuple[int, bytes]:
        return self.session.get(step, path, allow=allow)

    def facts(self) -> DeviceFacts:
        """Everything the planner needs. A resource the firmware lacks (403 ``notSupport``) is a capability
        gap recorded in ``gaps``, never a failure: the plan reports what it cannot change."""
        login = self._refresh_login() if self.keys.login is not None else self.ensure_login()
        login = replace(login, is_default=self._flags[0], is_risk=self._flags[1])
        gaps: list[Gap] = []
        try:
            info = _parse.device_info(self.get("deviceInfo", "/ISAPI/System/deviceInfo")[1])
            self._model, self._firmware, self._device_type = info.model, info.firmware_version, info.device_type
            accounts = _parse.users(self.get("users", "/ISAPI/Security/users")[1])
            policy = self._lock_policy()
            body = self.session.optional("ipFilter", IP_FILTER)
            ip_filter = _parse.ip_filter(body) if body is not None else None
            if policy is None:
                gaps.append(_gap("lock_policy", "the illegal-login lock", LOCK_POLICY))
            if ip_filter is None:
                gaps.append(_gap("ip_filter", "an IP filter", IP_FILTER))
            channels: tuple[ChannelFact, ...] = ()
            capabilities = ["firmware", "reboot"] + (["ip_filter"] if ip_filter is not None else [])
            if self.device.role == "recorder" or info.device_type.upper() in ("NVR", "DVR"):
                channels = self._channels(gaps)
                if not any(g.capability == "channels" for g in gaps):
                    capabilities.append("channels")
        except XmlError as exc:
            raise self.session.error("facts", f"unreadable reply: {exc}") from exc
        return DeviceFacts(
            device=self.device.id,
            model=info.model,
            serial=info.serial,
            firmware_version=info.firmware_version,
            firmware_build=info.firmware_build,
            device_type=info.device_type,
            login=login,
            accounts=accounts,
            lock_policy=policy,
            lock=LockState(False, attempts_left=None),
            ip_filter=ip_filter,
            channels=channels,
            capabilities=tuple(capabilities),
            gaps=tuple(gaps),
        )

    def _channels(self, gaps: list[Gap]) -> tuple[ChannelFact, ...]:
        """The recorder's channels with their status; a status the firmware does not report reads ``unknown``."""
        listed = self.session.optional("channels", CHANNELS)
        if listed is None:
            gaps.append(_gap("channels", "channels (InputProxy)", CHANNELS))
            return ()
        configured = _parse.channels(listed)
        body = self.session.optional("channel status", CHANNELS + "/status")
        if body is None:
            gaps.append(_gap("channel_status", "channel status", CHANNELS + "/status"))
        return _parse.channel_facts(configured, _parse.channel_status(body) if body is not None else {})

    def _refresh_login(self) -> LoginFact:
        """The login found before, with the device's default/risk flags read again (they follow the password)."""
        check = user_check(self.session.request("login", "GET", PROBE_PATH).body)
        if check is not None:
            self._flags = (check.is_default, check.is_risk)
        assert self.keys.login is not None
        return self.keys.login

    def read_lock_policy(self) -> LockPolicyFact:
        """``illegalLoginLock`` in seconds; tells the guard the device's threshold and lock time."""
        policy = self._lock_policy()
        if policy is None:
            raise self.session.error("illegalLoginLock", "the firmware does not support the illegal-login lock")
        return policy

    def _lock_policy(self) -> LockPolicyFact | None:
        """As :meth:`read_lock_policy`; ``None`` when the firmware lacks the resource (403 ``notSupport``)."""
        body = self.session.optional("illegalLoginLock", LOCK_POLICY)
        if body is None:
            return None
        caps = self._lock_caps()
        raw = _parse.lock_policy(body, "seconds", caps)  # raw value, converted once the unit is known
        self.unit = _parse.lock_unit(caps, self._model, self._firmware, raw.lock_seconds)
        policy = _parse.lock_policy(body, self.unit, caps)
        if policy.max_attempts:
            self.keys.set_threshold(policy.max_attempts, lock_seconds=policy.lock_seconds)
        return policy

    def _lock_caps(self) -> LockCaps | None:
        """Capabilities only where they can tell the unit and the firmware table cannot: recorders
        advertise no lock capabilities (protocol §3.2), so they are not asked (a request saved)."""
        if self._device_type.upper() in ("NVR", "DVR"):
            return None
        for model, firmware, _unit in _parse.UNIT_TABLE:
            if self._model.startswith(model) and self._firmware.startswith(firmware):
                return None
        body = self.session.optional("capabilities", "/ISAPI/Security/capabilities")
        return _parse.lock_caps(body) if body is not None else None

    def lock_state(self) -> LockState:
        check = self.session.probe("lock state")
        if check is None:
            return LockState(False)
        return LockState(check.locked, check.unlock_seconds if check.locked else 0.0, check.attempts_left)

    def failed_logins(self, since: float) -> SecurityLog:
        """Rejected logins the device logged since ``since`` (:mod:`._log`); only the proven credential is sent."""
        if self.keys.login is None:
            raise self.session.error("security log", "no working credential (facts not gathered)")
        from enforcer.drivers.isapi import _log

        return _log.read(self.session, since, time.time())

    # -- writes ---------------------------------------------------------------------------------------

    def ensure_account(self, account: Account) -> Outcome:
        self.ensure_login()
        from enforcer.drivers.isapi import _write

        return _write.ensure_account(self.session, account)

    def ensure_lock_policy(self, policy: LockPolicy) -> Outcome:
        self.ensure_login()
        from enforcer.drivers.isapi import _write

        return _write.ensure_lock_policy(self.session, policy, read=self.read_lock_policy, unit=lambda: self.unit)

    def ensure_channel(
        self, channel: int, *, address: str, port: int, user: str, password: Secret, wait: bool = False
    ) -> Outcome:
        """Store the credential for ``channel``; with ``wait``, also until the channel is online."""
        self.ensure_login()
        from enforcer.drivers.isapi import _write

        return _write.ensure_channel(
            self.session, channel, address=address, port=port, user=user, password=password, wait=wait
        )

    def read_ip_filter(self) -> IPFilterFact:
        self.ensure_login()
        from enforcer.drivers.isapi import _write

        return _write.read_filter(self.session, "ipFilter")

    def ensure_ip_filter(self, wanted: IPFilterFact) -> Outcome:
        self.ensure_login()
        from enforcer.drivers.isapi import _write

        return _write.ensure_ip_filter(self.session, wanted)

    def reboot(self, *, wait: bool = True) -> None:
        self.ensure_login()
        from enforcer.drivers.isapi import _firmware

        _firmware.reboot(self.session, wait=wait)

    def ensure_firmware(self, firmware: Firmware, *, progress: Progress | None = None) -> Outcome:
        self.ensure_login()
        from enforcer.drivers.isapi import _firmware

        return _firmware.ensure_firmware(self.session, firmware, progress=progress)

    def close(self) -> None:
        self.session.transport.close()

    def __enter__(self) -> IsapiDriver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _gap(capability: GapCapability, what: str, path: str) -> Gap:
    return Gap(capability, f"the firmware does not support {what} ({path}: notSupport)")
