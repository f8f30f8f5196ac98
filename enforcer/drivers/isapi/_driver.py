"""The Hikvision/Annke ISAPI driver (protocols/hikvision-isapi.md), registered as ``isapi``.

Facts cost one free challenge plus one request per fact on a single nonce: ``userCheck`` (the login,
and the default/risk flags), ``deviceInfo``, ``users``, ``illegalLoginLock`` (and ``capabilities``
only when no firmware table knows the lock-time unit), ``ipFilter``, and for recorders the channel
list and status. Writes live in :mod:`._isapiwrite` and :mod:`._isapifirmware`; this class ties
them to one session per device.

    >>> from enforcer.drivers.base import driver_for
    >>> driver_for("isapi") is IsapiDriver
    True
"""

from __future__ import annotations

import logging

from enforcer.config.secrets import Secret
from enforcer.credentials.discovery import Attempt, Discovery, LockedOut, candidates_for, discover, settle
from enforcer.credentials.guard import LoginGuard
from enforcer.drivers.base import Credentials, DriverOptions, Outcome, Progress
from enforcer.drivers.isapi import _firmware, _parse, _write
from enforcer.drivers.isapi._parse import LockCaps
from enforcer.drivers.isapi._session import PROBE_PATH, IsapiSession, LoginFailed
from enforcer.drivers.isapi._xml import XmlError, user_check
from enforcer.errors import DeviceError
from enforcer.facts import Candidate, ChannelFact, DeviceFacts, IPFilterFact, LockPolicyFact, LockState, LoginFact
from enforcer.model import Account, Device, Firmware, LockPolicy

log = logging.getLogger("enforcer.drivers.isapi._driver")

CHANNELS = "/ISAPI/ContentMgmt/InputProxy/channels"


class IsapiDriver:
    """One Hikvision/Annke device; implements DeviceDriver and every optional ability."""

    def __init__(self, device: Device, *, guard: LoginGuard, credentials: Credentials, options: DriverOptions) -> None:
        self.device, self.guard, self.credentials, self.options = device, guard, credentials, options
        self.session = IsapiSession.open(device, guard, options)
        self.login: LoginFact | None = None
        self.unit: _parse.Unit | None = None
        self._model, self._firmware = device.model, ""
        self._device_type = "NVR" if device.role == "recorder" else ""
        self._flags: tuple[bool | None, bool | None] = (None, None)

    # -- login ----------------------------------------------------------------------------------------

    def _error(self, step: str, detail: str) -> DeviceError:
        return self.session.error(step, detail)

    def _try(self, role: Candidate, password: Secret) -> Attempt:
        self.session.use(password, role)
        try:
            reply = self.session.request("login", "GET", PROBE_PATH)
        except LoginFailed as exc:
            check = exc.check
            return Attempt(
                ok=False,
                locked=bool(check and check.locked),
                unlock_seconds=check.unlock_seconds if check else 0.0,
                attempts_left=check.attempts_left if check else None,
            )
        check = user_check(reply.body)
        self._flags = (check.is_default, check.is_risk) if check else (None, None)
        return Attempt(ok=True)

    def ensure_login(self) -> LoginFact:
        """Find the working credential once per run (discovery), or raise DeviceError saying why not."""
        if self.login is not None:
            return self.login
        user = self.options.login_user
        check = self.session.probe("login")
        if check is not None and check.locked:
            raise LockedOut(
                site=self.device.site,
                device=self.device.name,
                step="login",
                detail=f"our source is locked out for {check.unlock_seconds:.0f} s more; no attempt made",
                unlock_seconds=check.unlock_seconds,
            )
        account = self.device.account(user)
        candidates = candidates_for(self.credentials, self.device.id, user, account.password if account else None)
        found: Discovery = discover(
            self.device.id,
            user,
            candidates,
            self._try,
            self.guard,
            threshold_hint=check.attempts_left if check else None,
        )
        candidate, password = settle(found, self.device)
        self.session.use(password, candidate)
        self.login = LoginFact(user, candidate, self._flags[0], self._flags[1], found.attempts)
        log.info("%s: logged in as %s with the %s credential", self.device.id, user, candidate)
        return self.login

    def switch_credential(self, password: Secret, label: Candidate) -> None:
        """The login user's password changed: forget the old one, confirm the new one with a fresh userCheck."""
        self.guard.password_changed(self.device.id, self.options.login_user, self.session.password, password)
        self.session.use(password, label)
        self.session.digest.forget()  # a fresh handshake for the confirmation
        reply = self.session.request("confirm new password", "GET", PROBE_PATH)
        check = user_check(reply.body)
        self.login = LoginFact(
            self.options.login_user, label, check.is_default if check else None, check.is_risk if check else None
        )

    # -- facts ----------------------------------------------------------------------------------------

    def get(self, step: str, path: str, *, allow: tuple[int, ...] = (200,)) -> tuple[int, bytes]:
        reply = self.session.request(step, "GET", path, allow=allow)
        return reply.status, reply.body

    def facts(self) -> DeviceFacts:
        login = self.ensure_login() if self.login is None else self._refresh_login()
        try:
            info = _parse.device_info(self.get("deviceInfo", "/ISAPI/System/deviceInfo")[1])
            self._model, self._firmware, self._device_type = info.model, info.firmware_version, info.device_type
            accounts = _parse.users(self.get("users", "/ISAPI/Security/users")[1])
            policy = self.read_lock_policy()
            status, body = self.get("ipFilter", "/ISAPI/System/Network/ipFilter", allow=(200, 403, 404))
            ip_filter = _parse.ip_filter(body) if status == 200 else None
            channels: tuple[ChannelFact, ...] = ()
            capabilities = ["firmware", "reboot"] + (["ip_filter"] if ip_filter is not None else [])
            if self.device.role == "recorder" or info.device_type.upper() in ("NVR", "DVR"):
                configured = _parse.channels(self.get("channels", CHANNELS)[1])
                state = _parse.channel_status(self.get("channel status", CHANNELS + "/status")[1])
                channels = _parse.channel_facts(configured, state)
                capabilities.append("channels")
        except XmlError as exc:
            raise self._error("facts", f"unreadable reply: {exc}") from exc
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
        )

    def _refresh_login(self) -> LoginFact:
        assert self.login is not None
        check = user_check(self.session.request("login", "GET", PROBE_PATH).body)
        if check is not None:
            self.login = LoginFact(
                self.login.account, self.login.candidate, check.is_default, check.is_risk, self.login.attempts_spent
            )
        return self.login

    def read_lock_policy(self) -> LockPolicyFact:
        """``illegalLoginLock`` in seconds; tells the guard the device's threshold."""
        body = self.get("illegalLoginLock", "/ISAPI/Security/illegalLoginLock")[1]
        caps = self._lock_caps()
        raw = _parse.lock_policy(body, "seconds", caps)  # raw value, converted once the unit is known
        self.unit = _parse.lock_unit(caps, self._model, self._firmware, raw.lock_seconds)
        policy = _parse.lock_policy(body, self.unit, caps)
        if policy.max_attempts:
            self.guard.set_threshold(self.device.id, policy.max_attempts)
        return policy

    def _lock_caps(self) -> LockCaps | None:
        """Capabilities only where they can tell the unit and the firmware table cannot: recorders
        advertise no lock capabilities (protocol §3.2), so they are not asked (a request saved)."""
        if self._device_type.upper() in ("NVR", "DVR"):
            return None
        for model, firmware, _unit in _parse.UNIT_TABLE:
            if self._model.startswith(model) and self._firmware.startswith(firmware):
                return None
        status, body = self.get("capabilities", "/ISAPI/Security/capabilities", allow=(200, 403, 404))
        return _parse.lock_caps(body) if status == 200 else None

    def lock_state(self) -> LockState:
        check = self.session.probe("lock state")
        if check is None:
            return LockState(False)
        return LockState(check.locked, check.unlock_seconds if check.locked else 0.0, check.attempts_left)

    # -- writes ---------------------------------------------------------------------------------------

    def ensure_account(self, account: Account) -> Outcome:
        self.ensure_login()
        return _write.ensure_account(self, account)

    def ensure_lock_policy(self, policy: LockPolicy) -> Outcome:
        self.ensure_login()
        return _write.ensure_lock_policy(self, policy)

    def ensure_channel(
        self, channel: int, *, address: str, port: int, user: str, password: Secret, wait: bool = False
    ) -> Outcome:
        """Store the credential for ``channel``; with ``wait``, also until the channel is online."""
        self.ensure_login()
        return _write.ensure_channel(self, channel, address=address, port=port, user=user, password=password, wait=wait)

    def read_ip_filter(self) -> IPFilterFact:
        self.ensure_login()
        return _write.read_filter(self, "ipFilter")

    def ensure_ip_filter(self, wanted: IPFilterFact) -> Outcome:
        self.ensure_login()
        return _write.ensure_ip_filter(self, wanted)

    def reboot(self, *, wait: bool = True) -> None:
        self.ensure_login()
        _firmware.reboot(self, wait=wait)

    def ensure_firmware(self, firmware: Firmware, *, progress: Progress | None = None) -> Outcome:
        self.ensure_login()
        return _firmware.ensure_firmware(self, firmware, progress=progress)

    def close(self) -> None:
        self.session.transport.close()

    def __enter__(self) -> IsapiDriver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
