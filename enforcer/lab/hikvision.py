"""A simulated Hikvision/Annke device (camera or recorder) speaking ISAPI: the request handler.

:class:`HikDevice` is a pure-ish function of its state: ``handle(Request) -> Response``; it does
no I/O of its own. Timers, reboots, events and channel polls go through a :class:`DeviceHost`
(the running fleet, or a stub in unit tests). Order of checks on every request, as on a device:
IP filter (before authentication), then digest authentication and the illegal-login lock, then
routing (404 unknown path, 405 wrong method). The endpoints live in ``hik_security``,
``hik_system``, ``hik_channels`` and ``hik_log``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from enforcer.lab import hik_channels, hik_log, hik_security, hik_system
from enforcer.lab.clock import Clock
from enforcer.lab.digest import DigestServer, Verdict, default_realm, parse_authorization, parse_basic
from enforcer.lab.events import EventLog
from enforcer.lab.httpserver import Request, Response
from enforcer.lab.isapixml import NAMESPACES, document, response_status, tags
from enforcer.lab.locks import LockTable
from enforcer.lab.spec import LabAccount, LabDevice


class DeviceHost(Protocol):
    """What a device needs from the fleet that runs it."""

    clock: Clock
    events: EventLog

    def state_changed(self) -> None:
        """An account, firmware, lock policy, filter or channel changed: rewrite the state file."""

    def call_later(self, device_seconds: float, callback: Callable[[], None]) -> None:
        """Run ``callback`` after ``device_seconds`` of device time."""

    def reboot(self, device: HikDevice, reason: str) -> None:
        """Take the device down for its reboot time, then bring it back up."""

    def channel_changed(self, device: HikDevice, channel_id: int) -> None:
        """A recorder's channel credential changed: poll it now."""

    def device_at(self, address: str, port: int) -> str | None:
        """The name of the simulated device listening at ``address:port``, if any."""


@dataclass
class Session:
    """An authenticated request: who, and under which lock key."""

    user_id: int
    account: LabAccount
    key: str


Route = Callable[["HikDevice", Request, Session], Response]
ROUTES: list[tuple[re.Pattern[str], dict[str, Route]]] = []


def key_source(key: str) -> str:
    """The source address inside a lock key (``""`` for an account-scoped key)."""
    return "" if key.startswith("user:") else key.split("/")[0]


def route(pattern: str, **methods: Route) -> None:
    ROUTES.append((re.compile(pattern + r"/?$"), methods))


class HikDevice:
    """One simulated ISAPI device over the mutable :class:`LabDevice` that is its state."""

    def __init__(self, spec: LabDevice, host: DeviceHost, *, nonce_seconds: float = 300.0) -> None:
        self.spec = spec
        self.host = host
        self.profile = spec.profile
        self.family = "nvr" if spec.role == "recorder" else "ipc"
        self.namespace = spec.profile.namespace if spec.profile.namespace in NAMESPACES else "hikvision"
        realm = spec.profile.realm or default_realm("nvr" if self.family == "nvr" else "ipc", spec.serial)
        self.digest = DigestServer(
            family="nvr" if self.family == "nvr" else "ipc",
            realm=realm,
            clock=host.clock,
            nonce_seconds=nonce_seconds,
            basic_offered=spec.profile.basic_allowed,
        )
        self.locks = LockTable(
            host.clock,
            spec.lock_policy,
            scope=spec.profile.lock_scope,
            resets_timer=spec.profile.retry_during_lock_resets_timer,
        )
        self.users: dict[int, LabAccount] = {i + 1: acc for i, acc in enumerate(spec.accounts)}
        self.seclog = hik_log.SecurityLog(host.clock)
        self.system = hik_system.SystemState()
        self.channels = hik_channels.ChannelTable(spec)
        self._sweep_pending = False
        for source in spec.locked_sources:
            for key in {self.locks.key(source, acc.name) for acc in spec.accounts}:
                self.locks.lock(key)

    def started(self) -> None:
        """The host's loop runs: schedule the expiry of the locks held at start."""
        self._schedule_sweep()

    # -- helpers used by the endpoint modules -------------------------------------------------

    @property
    def name(self) -> str:
        return self.spec.name

    def emit(self, event: str, *, source: str = "", user: str = "", **fields: object) -> None:
        self.host.events.emit(self.spec.name, event, source=source, user=user, **fields)

    def xml(self, root: str, body: str, *, status: int = 200, attrs: str = "") -> Response:
        return Response(status, document(root, self.namespace, body, attrs=attrs))

    def status(self, req: Request, http: int, code: int, sub: str, **kw: str | None) -> Response:
        return Response(http, response_status(self.namespace, req.path, code, sub, **kw))

    def ok(self, req: Request, *, after: Callable[[], None] | None = None) -> Response:
        resp = self.status(req, 200, 1, "ok")
        resp.after = after
        return resp

    def bad_content(self, req: Request, message: str | None = None) -> Response:
        return self.status(req, 400, 6, "badXmlContent", message=message)

    def bad_format(self, req: Request) -> Response:
        return self.status(req, 400, 5, "badXmlFormat")

    def invalid(self, req: Request, sub: str = "invalidOperation", **kw: str | None) -> Response:
        return self.status(req, 403, 4, sub, **kw)

    def account(self, name: str) -> LabAccount | None:
        for acc in self.users.values():
            if acc.name == name:
                return acc
        return None

    def sync_accounts(self) -> None:
        self.spec.accounts = list(self.users.values())
        self.host.state_changed()

    def count_failure(self, key: str, source: str, user: str, reason: str) -> int:
        """One failed login under ``key``: log it, maybe lock; returns the attempts left."""
        left = self.locks.fail(key, confirmation=reason == "login_password")
        self.emit("auth_failed", source=source, user=user, reason=reason, attempts_left=left)
        self.seclog.add("Exception", "illlegealAccess", user, source)
        if left == 0 and self.spec.lock_policy.enabled:
            seconds = self.spec.lock_policy.lock_seconds
            self.emit("locked", source=source, user=user, key=key, seconds=seconds)
            self._schedule_sweep()
        return left

    # -- lock expiry ---------------------------------------------------------------------------

    def _schedule_sweep(self) -> None:
        nxt = self.locks.next_expiry()
        if nxt is None or self._sweep_pending:
            return
        self._sweep_pending = True
        self.host.call_later(max(0.0, nxt - self.host.clock.now()) + 0.001, self._sweep)

    def _sweep(self) -> None:
        self._sweep_pending = False
        for key in self.locks.expire_due():
            self.emit("unlocked", source=key_source(key), key=key, reason="expired")
        self._schedule_sweep()

    # -- lifecycle -----------------------------------------------------------------------------

    def on_down(self) -> None:
        """The device stops: nonces void, lock counters cleared, upgrades applied on the way."""
        self.digest.void_all()
        for key in self.locks.clear():
            self.emit("unlocked", source=key_source(key), key=key, reason="reboot")
        self.channels.reset()
        hik_system.apply_pending_firmware(self)

    # -- the request path ----------------------------------------------------------------------

    def user_check_body(self, *, status: int, lock: bool, unlock_time: int, retry: int) -> bytes:
        body = tags(
            [
                ("statusValue", status),
                ("statusString", "OK" if status == 200 else "Unauthorized"),
                ("isActivated", True if self.namespace != "none" else None),
                ("lockStatus", "lock" if lock else "unlock"),
                ("unlockTime", unlock_time),
                ("retryLoginTime", retry),
            ]
        )
        if self.namespace == "none":
            return f'<?xml version="1.0" encoding="UTF-8" ?>\n<userCheck>{body}</userCheck>\n'.encode()
        return document("userCheck", self.namespace, body)

    def unauthorized(self, key: str, *, stale: bool = False) -> Response:
        locked = self.locks.is_locked(key)
        body = self.user_check_body(
            status=401,
            lock=locked,
            unlock_time=self.locks.seconds_left(key) if locked else 0,
            retry=0 if locked else self.locks.attempts_left(key),
        )
        return Response(401, body, headers=self.digest.challenge(stale=stale))

    def handle(self, req: Request) -> Response:
        if not req.path.startswith(("/ISAPI/", "/SDK/")):
            return Response(404, b"", content_type="text/html")
        if hik_system.filter_blocks(self.spec.ip_filter, req.source):
            self.emit("blocked", source=req.source, path=req.path, method=req.method)
            return self.status(req, 403, 6, "forbiddenIP", error_code="0x60000070")
        auth = self.authenticate(req)
        if isinstance(auth, Response):
            return auth
        for pattern, methods in ROUTES:
            m = pattern.match(req.path)
            if m is None:
                continue
            handler = methods.get(req.method)
            if handler is None:
                return self.status(req, 405, 4, "methodNotAllowed")
            req.query.update({f"_{k}": v for k, v in m.groupdict().items()})
            return handler(self, req, auth)
        return self.status(req, 404, 4, "invalidOperation", message="unknown resource")

    def authenticate(self, req: Request) -> Session | Response:
        header = req.headers.get("authorization")
        if not header:
            return self.unauthorized(self.locks.key(req.source, ""))
        scheme, params = parse_authorization(header)
        if scheme == "basic":
            return self._basic(req, params.get("token", ""))
        if scheme != "digest":
            return self.unauthorized(self.locks.key(req.source, ""))
        user = params.get("username", "")
        key = self.locks.key(req.source, user)
        acc = self.account(user)
        password = acc.password if acc is not None and acc.enabled else None
        verdict, first = self.digest.check(params, req.method, password)
        if verdict is Verdict.MALFORMED:
            return self.unauthorized(key)
        if self.locks.is_locked(key):
            self.locks.refused(key)
            self.emit("auth_failed", source=req.source, user=user, reason="locked", attempts_left=0)
            self.seclog.add("Exception", "illlegealAccess", user, req.source)
            return self.unauthorized(key)
        if verdict is Verdict.WRONG:
            self.count_failure(key, req.source, user, "bad_credentials")
            return self.unauthorized(key)
        if verdict is Verdict.STALE:
            return self.unauthorized(key, stale=True)
        if verdict is Verdict.REPLAY:
            return self.unauthorized(key)
        assert acc is not None
        self.locks.succeed(key)
        if first:
            self.seclog.add("Operation", "remoteLogin", user, req.source)
        return Session(self._user_id(acc), acc, key)

    def _basic(self, req: Request, token: str) -> Session | Response:
        creds = parse_basic(token)
        user, password = creds if creds else ("", "")
        key = self.locks.key(req.source, user)
        acc = self.account(user)
        right = acc is not None and acc.enabled and acc.password == password
        if not self.profile.basic_allowed:
            if self.profile.basic_attempt_counts and not right and not self.locks.is_locked(key):
                self.count_failure(key, req.source, user, "basic_refused")
            return self.unauthorized(key)
        if self.locks.is_locked(key):
            self.locks.refused(key)
            self.emit("auth_failed", source=req.source, user=user, reason="locked", attempts_left=0)
            self.seclog.add("Exception", "illlegealAccess", user, req.source)
            return self.unauthorized(key)
        if not right or acc is None:
            self.count_failure(key, req.source, user, "bad_credentials")
            return self.unauthorized(key)
        self.locks.succeed(key)
        self.seclog.add("Operation", "remoteLogin", user, req.source)
        return Session(self._user_id(acc), acc, key)

    def _user_id(self, acc: LabAccount) -> int:
        return next(i for i, a in self.users.items() if a is acc)


hik_security.register(route)
hik_system.register(route)
hik_channels.register(route)
hik_log.register(route)
