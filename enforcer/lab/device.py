"""What every simulated device shares, whatever protocol it speaks.

The fleet runs devices of several vendors (``hikvision.HikDevice``, ``dahua.DahuaDevice``); it sees
them only through :class:`SimDevice`, and they see the fleet only through :class:`DeviceHost`.
:class:`BaseDevice` holds the state and the rules that do not depend on the wire protocol: the
accounts, the illegal-login :class:`LockTable` and the expiry of its locks, the channel table, the
staged firmware, the events. Keeping them here means a lock behaves the same on every vendor.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from enforcer.lab.channels import ChannelTable
from enforcer.lab.clock import Clock
from enforcer.lab.events import EventLog
from enforcer.lab.firmware import FirmwareImage, ImageError, build_label, parse_image
from enforcer.lab.ipfilter import filter_blocks
from enforcer.lab.locks import LockTable
from enforcer.lab.net.digest import DigestServer, Verdict, parse_basic
from enforcer.lab.net.httpserver import Request, Response
from enforcer.lab.spec import LabAccount, LabChannel, LabDevice, LabProfile


class SimDevice(Protocol):
    """A simulated device as the fleet drives it."""

    spec: LabDevice
    profile: LabProfile
    family: str  # "nvr" | "ipc"
    digest: DigestServer
    users: dict[int, LabAccount]
    channels: ChannelTable
    server_header: str
    login_path: str  # what a recorder or a viewer requests to log in

    @property
    def name(self) -> str: ...

    def emit(self, event: str, *, source: str = "", user: str = "", **fields: object) -> None: ...

    def account(self, name: str) -> LabAccount | None: ...

    def sync_accounts(self) -> None: ...

    def password_changed(self, user: str) -> None: ...

    def channel_event(self, event: str, ch: LabChannel, source: str, user: str) -> None: ...

    def channel_port_kind(self, ch: LabChannel) -> Literal["sdk", "http"] | None: ...

    def started(self) -> None: ...

    def on_down(self) -> None: ...

    def handle(self, req: Request) -> Response: ...


class DeviceHost(Protocol):
    """What a device needs from the fleet that runs it."""

    clock: Clock
    events: EventLog

    def state_changed(self) -> None:
        """An account, firmware, lock policy, filter or channel changed: rewrite the state file."""

    def call_later(self, device_seconds: float, callback: Callable[[], None]) -> None:
        """Run ``callback`` after ``device_seconds`` of device time."""

    def reboot(self, device: SimDevice, reason: str) -> None:
        """Take the device down for its reboot time, then bring it back up."""

    def channel_changed(self, device: SimDevice, channel_id: int) -> None:
        """A recorder's channel credential changed: poll it now."""

    def device_at(self, address: str, port: int) -> str | None:
        """The name of the simulated device listening at ``address:port`` (its HTTP or SDK port), if any."""

    def spec_of(self, device: str) -> LabDevice | None:
        """A device's state by name (a recorder shows its cameras' model, serial and firmware)."""


@dataclass
class Session:
    """An authenticated request: who, and under which lock key."""

    user_id: int
    account: LabAccount
    key: str


@dataclass
class SystemState:
    """Runtime system state of a device that the spec does not hold: the firmware upgrade."""

    upgrade: FirmwareImage | None = None
    upgrade_started: float = 0.0
    upgrade_token: int = 0
    pending: FirmwareImage | None = None
    rejected: str = ""  # why the last upload was refused (Dahua ``getState``), "" when none


@dataclass
class Judgement:
    """What :meth:`BaseDevice.judge` made of one credentialed attempt; the vendor words the reply.

    ``outcome``: ``ok`` (``session`` set), ``malformed`` (not an attempt), ``locked`` (refused by
    the lock), ``failed`` (counted; the key may be locked now) or ``retry`` (a stale, replayed or
    reused nonce: refused, not counted; ``verdict`` says which).
    """

    key: str
    outcome: str
    verdict: Verdict
    session: Session | None = None


def key_source(key: str) -> str:
    """The source address inside a lock key (``""`` for an account-scoped key)."""
    return "" if key.startswith("user:") else key.split("/")[0]


class BaseDevice:
    """Accounts, lock, channels and firmware of one device; subclasses add the wire protocol."""

    digest: DigestServer
    server_header: str
    login_path: str

    def __init__(self, spec: LabDevice, host: DeviceHost) -> None:
        self.spec = spec
        self.host = host
        self.profile = spec.profile
        self.family = "nvr" if spec.role == "recorder" else "ipc"
        self.locks = LockTable(
            host.clock,
            spec.lock_policy,
            scope=spec.profile.lock_scope,
            resets_timer=spec.profile.retry_during_lock_resets_timer,
            window=spec.profile.failure_window_seconds,
            on_expire=self._expired,
            on_forget=self._forgotten,
        )
        self.users: dict[int, LabAccount] = {i + 1: acc for i, acc in enumerate(spec.accounts)}
        self.system = SystemState()
        self.channels = ChannelTable(spec, lambda address, port: host.device_at(address, port))
        self._sweep_at: float | None = None  # device time the pending sweep runs at, if one is pending
        self._sweep_token = 0  # a sweep scheduled before the latest one does nothing
        for source in spec.locked_sources:
            for key in {self.locks.key(source, acc.name) for acc in spec.accounts}:
                self.locks.lock(key)

    def handle(self, req: Request) -> Response:
        """Answer one request (the subclass speaks the protocol)."""
        raise NotImplementedError

    def started(self) -> None:
        """The host's loop runs: schedule the expiry of the locks held at start."""
        self._schedule_sweep()

    @property
    def name(self) -> str:
        return self.spec.name

    def emit(self, event: str, *, source: str = "", user: str = "", **fields: object) -> None:
        self.host.events.emit(self.spec.name, event, source=source, user=user, **fields)

    def channel_event(self, event: str, ch: LabChannel, source: str, user: str) -> None:
        """``channel_added`` or ``channel_changed``: where ``ch`` points now."""
        self.emit(
            event,
            source=source,
            user=user,
            channel=ch.id,
            camera=ch.camera,
            channel_user=ch.user,
            address=ch.address,
            port=ch.port,
        )

    def channel_port_kind(self, ch: LabChannel) -> Literal["sdk", "http"] | None:
        """Which of a camera's ports ``ch``'s protocol is spoken on; ``None``: whatever port it names."""
        return None

    def blocked(self, req: Request) -> bool:
        """Whether the IP filter refuses ``req`` (before authentication); logs ``blocked`` if so."""
        if not filter_blocks(self.spec.ip_filter, req.source):
            return False
        self.emit("blocked", source=req.source, path=req.path, method=req.method)
        return True

    def account(self, name: str) -> LabAccount | None:
        for acc in self.users.values():
            if acc.name == name:
                return acc
        return None

    def user_id(self, acc: LabAccount) -> int:
        return next(i for i, a in self.users.items() if a is acc)

    def sync_accounts(self) -> None:
        self.spec.accounts = list(self.users.values())
        self.host.state_changed()

    def password_changed(self, user: str) -> None:
        """Hook: ``user``'s password changed; a device with login sessions ends them."""

    def failure_logged(self, source: str, user: str) -> None:
        """Hook: a failed or refused login, for a device's own security log."""

    def check_basic(self, token: str) -> tuple[str, LabAccount | None, bool]:
        """A Basic ``token``: the user it names, that account, and whether the password is right."""
        creds = parse_basic(token)
        user, password = creds if creds else ("", "")
        acc = self.account(user)
        return user, acc, acc is not None and acc.enabled and acc.password == password

    def judge(self, req: Request, user: str, acc: LabAccount | None, verdict: Verdict) -> Judgement:
        """One credentialed attempt by ``user`` (``acc``) judged ``verdict``: the lock, then the count."""
        key = self.locks.key(req.source, user)
        if verdict is Verdict.MALFORMED:
            return Judgement(key, "malformed", verdict)
        if self.locks.is_locked(key):
            self.refuse_locked(key, req.source, user)
            return Judgement(key, "locked", verdict)
        if verdict is Verdict.WRONG:
            self.count_failure(key, req.source, user, "bad_credentials")
            return Judgement(key, "failed", verdict)
        if verdict is not Verdict.OK:
            return Judgement(key, "retry", verdict)
        assert acc is not None
        self.locks.succeed(key)
        return Judgement(key, "ok", verdict, Session(self.user_id(acc), acc, key))

    def refuse_locked(self, key: str, source: str, user: str) -> None:
        """A credentialed attempt while ``key`` is locked: refused, maybe restarting the lock."""
        self.locks.refused(key)
        self.emit("auth_failed", source=source, user=user, reason="locked", attempts_left=0)
        self.failure_logged(source, user)

    def count_failure(self, key: str, source: str, user: str, reason: str) -> int:
        """One failed login under ``key``: log it, maybe lock; returns the attempts left."""
        left = self.locks.fail(key, confirmation=reason == "login_password")
        self.emit("auth_failed", source=source, user=user, reason=reason, attempts_left=left)
        self.failure_logged(source, user)
        if left == 0 and self.spec.lock_policy.enabled:
            seconds = self.spec.lock_policy.lock_seconds
            self.emit("locked", source=source, user=user, key=key, seconds=seconds)
        self._schedule_sweep()  # the lock's expiry, or the end of the count's window
        return left

    # -- lock expiry and forgotten counts ------------------------------------------------------

    def _schedule_sweep(self) -> None:
        """Sweep when the next lock runs out or the next count is forgotten (sooner than planned, if need be)."""
        nxt = self.locks.next_due()
        if nxt is None or (self._sweep_at is not None and self._sweep_at <= nxt):
            return
        self._sweep_at = nxt
        self._sweep_token += 1
        token = self._sweep_token
        self.host.call_later(max(0.0, nxt - self.host.clock.now()) + 0.001, lambda: self._sweep(token))

    def _sweep(self, token: int) -> None:
        if token != self._sweep_token:
            return  # superseded by a sooner sweep, which took over this one's work
        self._sweep_at = None
        for key in self.locks.expire_due():
            self._expired(key)
        for key, failures in self.locks.forget_due():
            self._forgotten(key, failures)
        self._schedule_sweep()

    def _expired(self, key: str) -> None:
        """``key``'s lock ran out: found by the sweep, or dropped earlier by the request touching it."""
        self.emit("unlocked", source=key_source(key), key=key, reason="expired")

    def _forgotten(self, key: str, failures: int) -> None:
        """``key``'s count outlived the profile's failure window: the device forgot ``failures`` failures."""
        self.emit("counter_reset", source=key_source(key), key=key, failures=failures, reason="window")

    # -- lifecycle -----------------------------------------------------------------------------

    def on_down(self) -> None:
        """The device stops: lock counters cleared, channels unknown, upgrades applied on the way."""
        for key in self.locks.clear():
            self.emit("unlocked", source=key_source(key), key=key, reason="reboot")
        self.channels.reset()
        self.apply_pending_firmware()

    # -- firmware ------------------------------------------------------------------------------

    def accept_image(self, data: bytes, source: str, user: str) -> str:
        """An uploaded firmware ``data``: start the upgrade and return ``""``, or log the refusal and
        return why (``"image"``: not a lab image, ``"model"``: built for another model)."""
        try:
            image = parse_image(data)
        except ImageError as exc:
            self.emit("firmware_rejected", source=source, user=user, reason=str(exc))
            return "image"
        if image.model != self.spec.model:
            self.emit("firmware_rejected", source=source, user=user, reason="model", model=image.model)
            return "model"
        self.start_upgrade(image, source, user, len(data))
        return ""

    def start_upgrade(self, image: FirmwareImage, source: str, user: str, size: int) -> None:
        """Accept ``image``: it installs over ``upgrade_seconds``, then the device reboots into it."""
        system = self.system
        system.upgrade, system.upgrade_started, system.rejected = image, self.host.clock.now(), ""
        system.upgrade_token += 1
        token = system.upgrade_token
        self.emit("firmware_uploaded", source=source, user=user, version=image.version, build=image.build, bytes=size)

        def finish() -> None:
            if system.upgrade_token == token and system.upgrade is image:
                system.pending = image
                self.host.reboot(self, "firmware")

        self.host.call_later(self.profile.upgrade_seconds, finish)

    def upgrade_percent(self) -> int:
        span = self.profile.upgrade_seconds
        elapsed = self.host.clock.now() - self.system.upgrade_started
        return 100 if span <= 0 else min(100, int(elapsed / span * 100))

    def apply_pending_firmware(self) -> None:
        """At the reboot: a finished upgrade takes effect, an unfinished one is lost."""
        system = self.system
        image, system.pending, system.upgrade = system.pending, None, None
        system.upgrade_token += 1
        if image is None:
            return
        spec = self.spec
        old = spec.firmware_version
        spec.firmware_version = image.version
        # a device that shows ``build 240606`` keeps showing its build that way
        spec.firmware_build = build_label(image.build) if spec.firmware_build.startswith("build ") else image.build
        self.emit("firmware_changed", old_version=old, version=image.version, build=image.build)
        self.host.state_changed()
