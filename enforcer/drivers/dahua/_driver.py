"""The Dahua/Amcrest driver (protocols/dahua-cgi.md, docs/dahua-wire.md), registered as ``dahua``.

Login is discovered over RPC2 (its refusals state the attempts left and the lock time), everything
else goes over CGI digest on one kept-alive connection. Facts cost one free challenge, the RPC2
login (challenge, answer, logout), then one request per fact: ``getSoftwareVersion``,
``getSystemInfo``, ``getUserInfoAll``, ``General``, ``IPFilter``, and for recorders ``RemoteDevice``
and ``getCameraState``. Writes live in :mod:`._dahuausers`, :mod:`._dahuawrite` and
:mod:`._dahuafirmware`.

    >>> from enforcer.drivers.base import driver_for
    >>> driver_for("dahua") is DahuaDriver
    True
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from enforcer.config.secrets import Secret
from enforcer.credentials.discovery import Discovery, LockedOut, candidates_for, discover, settle
from enforcer.credentials.guard import LoginGuard
from enforcer.drivers.base import Credentials, DriverOptions, Outcome, Progress
from enforcer.drivers.dahua import _firmware, _parse, _users, _write
from enforcer.drivers.dahua._login import RpcLogin, confirm
from enforcer.drivers.dahua._parse import ParseError
from enforcer.drivers.dahua._session import DahuaSession, Refusal
from enforcer.errors import DeviceError
from enforcer.facts import (
    Candidate,
    ChannelDetect,
    ChannelFact,
    DeviceFacts,
    IPFilterFact,
    LockPolicyFact,
    LockState,
    LoginFact,
)
from enforcer.model import Account, Device, Firmware, LockPolicy

log = logging.getLogger("enforcer.drivers.dahua._driver")
T = TypeVar("T")

MAGICBOX = "/cgi-bin/magicBox.cgi"
CONFIG = "/cgi-bin/configManager.cgi"
USERS = "/cgi-bin/userManager.cgi"
CAMERAS = "/cgi-bin/LogicDeviceManager.cgi"


class DahuaDriver:
    """One Dahua/Amcrest device; implements DeviceDriver and every optional ability."""

    def __init__(self, device: Device, *, guard: LoginGuard, credentials: Credentials, options: DriverOptions) -> None:
        self.device, self.guard, self.credentials, self.options = device, guard, credentials, options
        self.session = DahuaSession.open(device, guard, options)
        self.login: LoginFact | None = None

    def error(self, step: str, detail: str) -> DeviceError:
        return self.session.error(step, detail)

    # -- login ----------------------------------------------------------------------------------------

    def ensure_login(self) -> LoginFact:
        """Find the working credential once per run (RPC2 discovery), or raise DeviceError saying why not."""
        if self.login is not None:
            return self.login
        user = self.options.login_user
        self.session.challenge("login")  # free: refuses Basic-only devices and reads the first nonce
        rpc = RpcLogin(self.session, user)
        first = rpc.probe()
        if first.kind == "locked":
            raise LockedOut(
                site=self.device.site,
                device=self.device.name,
                step="login",
                detail=f"the account {user} is locked for {first.remain_lock_seconds:.0f} s more; no attempt made",
                unlock_seconds=first.remain_lock_seconds,
            )
        account = self.device.account(user)
        candidates = candidates_for(self.credentials, self.device.id, user, account.password if account else None)
        found: Discovery = discover(self.device.id, user, candidates, rpc.attempt, self.guard)
        candidate, password = settle(found, self.device)
        self.session.use(password, candidate)
        self.login = LoginFact(user, candidate, attempts_spent=found.attempts)
        log.info("%s: logged in as %s with the %s credential", self.device.id, user, candidate)
        return self.login

    def switch_credential(self, password: Secret, label: Candidate) -> None:
        """The login user's password changed: use the new one at once (the old one now fails and would
        count), then confirm it with a fresh RPC2 login."""
        user = self.options.login_user
        self.guard.password_changed(self.device.id, user, self.session.password, password)
        self.session.use(password, label)
        self.session.state.forget()
        self.login = LoginFact(user, label)
        confirm(self.session, user, password, "confirm new password")

    # -- facts ----------------------------------------------------------------------------------------

    def get(
        self,
        step: str,
        path: str,
        action: str,
        params: list[tuple[str, str]] | None = None,
        *,
        allow: tuple[int, ...] = (200,),
    ) -> tuple[int, bytes]:
        reply = self.session.request(step, path, action, params or [], allow=allow)
        return reply.status, reply.body

    def config(self, step: str, name: str, *, allow: tuple[int, ...] = (200,)) -> tuple[int, bytes]:
        return self.get(step, CONFIG, "getConfig", [("name", name)], allow=allow)

    def optional_config(self, step: str, name: str, parse: Callable[[bytes], T]) -> tuple[int, T | None]:
        """``getConfig`` of a config the firmware may not have: ``None`` (with the HTTP status) when it
        answers 400, or 403 as some NVRs do for an unknown name; an unreadable reply is a DeviceError."""
        status, body = self.config(step, name, allow=(200, 400, 403))
        if status != 200:
            return status, None
        try:
            return status, parse(body)
        except ParseError as exc:
            raise self.error(step, f"unreadable {name}: {exc}") from exc

    def facts(self) -> DeviceFacts:
        login = self.ensure_login()
        try:
            version, build = _parse.software_version(self.get("software version", MAGICBOX, "getSoftwareVersion")[1])
            info = _parse.system_info(self.get("system info", MAGICBOX, "getSystemInfo")[1])
            accounts = tuple(u.fact() for u in _users.read_users(self))
            policy = self.read_lock_policy()
            ip_filter = self._ip_filter_or_none()
            channels: tuple[ChannelFact, ...] = ()
            capabilities = ["firmware", "reboot"] + (["ip_filter"] if ip_filter is not None else [])
            if self.device.role == "recorder" or info.device_type == "NVR":
                channels = self.read_channels()
                capabilities.append("channels")
        except ParseError as exc:
            raise self.error("facts", f"unreadable reply: {exc}") from exc
        return DeviceFacts(
            device=self.device.id,
            model=info.model,
            serial=info.serial,
            firmware_version=version,
            firmware_build=build,
            device_type=info.device_type,
            login=login,
            accounts=accounts,
            lock_policy=policy,
            lock=LockState(False),
            ip_filter=ip_filter,
            channels=channels,
            capabilities=tuple(capabilities),
        )

    def read_lock_policy(self) -> LockPolicyFact:
        """``General`` (seconds); tells the guard the device's threshold."""
        try:
            policy = _parse.lock_policy(self.config("lock policy", "General")[1])
        except ParseError as exc:
            raise self.error("lock policy", f"unreadable General: {exc}") from exc
        if policy.max_attempts:
            self.guard.set_threshold(self.device.id, policy.max_attempts)
        return policy

    def _ip_filter_or_none(self) -> IPFilterFact | None:
        """``None`` when the firmware does not know the config (400, or 403 on some NVRs)."""
        return self.optional_config("ip filter", "IPFilter", _parse.ip_filter)[1]

    def read_channels(self) -> tuple[ChannelFact, ...]:
        """Each used ``RemoteDevice`` slot and its state; a slot that is not Connected is asked why, so
        that a camera refusing the stored password (planned for repair) is told apart from one gone."""
        slots = self.optional_config("channels", "RemoteDevice", _parse.remote_devices)[1]
        if slots is None:
            return ()
        states = _parse.camera_states(
            self.get("channel state", CAMERAS, "getCameraState", [("uniqueChannels", "-1")])[1]
        )
        supported = True

        def why(slot: int) -> ChannelDetect:
            nonlocal supported
            if supported:
                detect = self._camera_login_error(slot)
                if detect is not None:
                    return detect
                supported = False  # firmware without the call: one refused read, not one per channel
            return "unknown"

        return _parse.channel_facts(slots, states, why)

    def _camera_login_error(self, slot: int) -> ChannelDetect | None:
        """``getCameraLoginErrorCode``; ``None`` when the firmware lacks it (400, 403 or ``Error``, as
        for other unknown names). A diagnosis: lacking it, or an unreadable code, never fails the
        recorder's read (a lock or a dead connection still does, as for any read)."""
        step = "channel login error"
        try:
            status, body = self.get(
                step, CAMERAS, "getCameraLoginErrorCode", [("channel", str(slot))], allow=(200, 400, 403)
            )
        except Refusal:
            return None
        if status != 200:
            return None
        try:
            return _parse.channel_detect(body)
        except ParseError:
            return "unknown"

    def lock_state(self) -> LockState:
        """A free RPC2 challenge: only a lock it reports is known; anything else reads unlocked."""
        locked, seconds = self.session.rpc_lock("lock state")
        return LockState(locked, seconds if locked else 0.0, 0 if locked else None)

    # -- writes ---------------------------------------------------------------------------------------

    def ensure_account(self, account: Account) -> Outcome:
        self.ensure_login()
        return _users.ensure_account(self, account)

    def ensure_lock_policy(self, policy: LockPolicy) -> Outcome:
        self.ensure_login()
        return _write.ensure_lock_policy(self, policy)

    def ensure_channel(
        self, channel: int, *, address: str, port: int, user: str, password: Secret, wait: bool = False
    ) -> Outcome:
        """Store the credential for ``channel``; with ``wait``, also until the channel is Connected."""
        self.ensure_login()
        return _write.ensure_channel(self, channel, address=address, port=port, user=user, password=password, wait=wait)

    def read_ip_filter(self) -> IPFilterFact:
        self.ensure_login()
        return _write.read_filter(self, "ip filter")

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

    def __enter__(self) -> DahuaDriver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
