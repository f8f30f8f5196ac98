"""The Dahua/Amcrest driver (protocols/dahua-cgi.md, docs/dahua-wire.md), registered as ``dahua``.

Login is discovered over RPC2 (its refusals state the attempts left and the lock time), everything
else goes over CGI digest on one kept-alive connection. Facts cost one free challenge, the RPC2
login (challenge, answer, logout), then one request per fact: ``getSoftwareVersion``,
``getSystemInfo``, ``getUserInfoAll``, ``General``, ``IPFilter``, and for recorders ``RemoteDevice``
and ``getCameraState``. A config the firmware lacks (answered 400, 403, 501 or ``Error``) is a
:class:`~enforcer.facts.Gap` in the facts, never a failed device: the plan reports what it blocks.
Writes live in :mod:`._users`, :mod:`._write` and :mod:`._firmware`, each over the session alone
(:mod:`._firmware` and :mod:`._log` imported by the methods that use them: facts needs neither).

    >>> from enforcer.drivers.registry import driver_for
    >>> driver_for("amcrest") is DahuaDriver
    True
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import ClassVar

from enforcer.credentials.keyring import Keyring
from enforcer.credentials.secret import Secret
from enforcer.drivers.base import DriverOptions, Outcome, PasswordRules, Progress
from enforcer.drivers.dahua import _parse, _users, _write
from enforcer.drivers.dahua._login import MAX_FAILURES, RpcLogin
from enforcer.drivers.dahua._session import DahuaSession
from enforcer.drivers.dahua._users import PASSWORD_RULES
from enforcer.errors import DeviceError, ParseError
from enforcer.facts import (
    ChannelDetect,
    ChannelFact,
    DeviceFacts,
    Gap,
    IPFilterFact,
    LockState,
    LoginFact,
    SecurityLog,
)
from enforcer.model import Account, Device, Firmware, LockPolicy

MAGICBOX = "/cgi-bin/magicBox.cgi"
#: The factory passwords of Dahua and Amcrest firmware before forced initialisation (admin/admin, and the
#: 888888 and 666666 of the local accounts). The firmware flags none of them (unlike ISAPI's
#: ``isDefaultPassword``), so the driver compares the password it proved with these, in memory.
FACTORY_PASSWORDS = frozenset({"admin", "888888", "666666"})
#: What Web 3.0 firmware refuses as weak (dahua-cgi.md §4): under 8 characters, or fewer than two classes. The
#: characters it forbids and its length limit say nothing of strength, so they are not part of it.
WEAK = PasswordRules(min_length=8, max_length=1 << 16, min_classes=2)
CAMERAS = "/cgi-bin/LogicDeviceManager.cgi"


class DahuaDriver:
    """One Dahua/Amcrest device; implements DeviceDriver and every optional ability."""

    protocol: ClassVar[str] = "dahua"
    password_rules: ClassVar[PasswordRules] = PASSWORD_RULES
    #: The private protocol's port (``RemoteDevice…Port=37777``, protocols/dahua-cgi.md).
    sdk_port: ClassVar[int] = 37777

    def __init__(self, device: Device, *, keyring: Keyring, options: DriverOptions) -> None:
        self.device, self.options = device, options
        self.keys = keyring.keys(device, options.login_user)
        self.session = DahuaSession.open(self.keys, options)

    def error(self, step: str, detail: str) -> DeviceError:
        return self.session.error(step, detail)

    def get(
        self,
        step: str,
        path: str,
        action: str,
        params: list[tuple[str, str]] | None = None,
        *,
        allow: tuple[int, ...] = (200,),
    ) -> tuple[int, bytes]:
        return self.session.get(step, path, action, params, allow=allow)

    # -- login ----------------------------------------------------------------------------------------

    def ensure_login(self) -> LoginFact:
        """Find the working credential once per run (RPC2 discovery), or raise DeviceError saying why not."""
        if self.keys.login is not None:
            return self.keys.login
        self.session.challenge("login")  # free: refuses Basic-only devices and reads the first nonce
        rpc = RpcLogin(self.session, self.keys.user)
        return self.keys.log_in(rpc.standing, rpc.attempt, max_failures=MAX_FAILURES)

    def facts(self) -> DeviceFacts:
        login = self._flagged(self.ensure_login())
        try:
            version, build = _parse.software_version(self.get("software version", MAGICBOX, "getSoftwareVersion")[1])
            info = _parse.system_info(self.get("system info", MAGICBOX, "getSystemInfo")[1])
            accounts = tuple(u.fact() for u in _users.read_users(self.session))
            gaps: list[Gap] = []
            policy = _write.lock_policy_or_gap(self.session)
            if isinstance(policy, str):
                gaps.append(Gap("lock_policy", policy))
            ip_filter = self.session.optional_config("ip filter", "IPFilter", _parse.ip_filter)
            if isinstance(ip_filter, str):
                gaps.append(Gap("ip_filter", f"the firmware has no IP filter ({ip_filter})"))
            channels: tuple[ChannelFact, ...] = ()
            capabilities = ["firmware", "reboot"] + (["ip_filter"] if not isinstance(ip_filter, str) else [])
            if self.device.role == "recorder" or info.device_type == "NVR":
                found = self.read_channels()
                if isinstance(found, str):
                    gaps.append(Gap("channels", f"the recorder's firmware has no remote devices ({found})"))
                else:
                    channels = found
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
            lock_policy=None if isinstance(policy, str) else policy,
            lock=LockState(False),
            ip_filter=None if isinstance(ip_filter, str) else ip_filter,
            channels=channels,
            capabilities=tuple(capabilities),
            gaps=tuple(gaps),
        )

    def _flagged(self, login: LoginFact) -> LoginFact:
        """The login with the flags an ISAPI device reports itself: the firmware says nothing, so the proven
        password is judged here by the vendor's own rules (its factory passwords; what Web 3.0 refuses as
        weak: :data:`WEAK`). The password never leaves memory."""
        password = self.keys.password
        if password is None:
            return login
        value = password.reveal()
        default = value in FACTORY_PASSWORDS
        return replace(login, is_default=default, is_risk=default or WEAK.problem(value) is not None)

    def failed_logins(self, since: float) -> SecurityLog:
        """Failed-login and lock entries the device logged since ``since`` (:mod:`._log`); only the proven
        credential is sent."""
        if self.keys.login is None:
            raise self.error("security log", "no working credential (facts not gathered)")
        from enforcer.drivers.dahua import _log

        return _log.read(self.session, since, time.time())

    def read_channels(self) -> tuple[ChannelFact, ...] | str:
        """Each used ``RemoteDevice`` slot and its state (or what a recorder without them said); a
        slot that is not Connected is asked why, so that a camera refusing the stored password
        (planned for repair) is told apart from one gone."""
        slots = self.session.optional_config("channels", "RemoteDevice", _parse.remote_devices)
        if isinstance(slots, str):
            return slots
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
        """``getCameraLoginErrorCode``; ``None`` when the firmware lacks it (400, 403, 501 or
        ``Error``, as for other unknown names). A diagnosis: lacking it, or an unreadable code, never
        fails the recorder's read (a lock or a dead connection still does, as for any read)."""
        got = self.session.optional("channel login error", CAMERAS, "getCameraLoginErrorCode", [("channel", str(slot))])
        if isinstance(got, str):
            return None
        try:
            return _parse.channel_detect(got[1])
        except ParseError:
            return "unknown"

    def lock_state(self) -> LockState:
        """A free RPC2 challenge: only a lock it reports is known; anything else reads unlocked."""
        locked, seconds = self.session.rpc_lock("lock state")
        return LockState(locked, seconds if locked else 0.0, 0 if locked else None)

    # -- writes ---------------------------------------------------------------------------------------

    def ensure_account(self, account: Account) -> Outcome:
        self.ensure_login()
        return _users.ensure_account(self.session, account)

    def ensure_lock_policy(self, policy: LockPolicy) -> Outcome:
        self.ensure_login()
        return _write.ensure_lock_policy(self.session, policy)

    def ensure_channel(
        self, channel: int, *, address: str, port: int, user: str, password: Secret, wait: bool = False
    ) -> Outcome:
        """Store the credential for ``channel``; with ``wait``, also until the channel is Connected."""
        self.ensure_login()
        return _write.ensure_channel(
            self.session, channel, address=address, port=port, user=user, password=password, wait=wait
        )

    def read_ip_filter(self) -> IPFilterFact:
        self.ensure_login()
        return _write.read_filter(self.session, "ip filter")

    def ensure_ip_filter(self, wanted: IPFilterFact) -> Outcome:
        self.ensure_login()
        return _write.ensure_ip_filter(self.session, wanted)

    def reboot(self, *, wait: bool = True) -> None:
        self.ensure_login()
        from enforcer.drivers.dahua import _firmware

        _firmware.reboot(self.session, wait=wait)

    def ensure_firmware(self, firmware: Firmware, *, progress: Progress | None = None) -> Outcome:
        self.ensure_login()
        from enforcer.drivers.dahua import _firmware

        return _firmware.ensure_firmware(self.session, firmware, progress=progress)

    def close(self) -> None:
        self.session.transport.close()

    def __enter__(self) -> DahuaDriver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
