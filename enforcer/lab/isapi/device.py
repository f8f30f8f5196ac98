"""A simulated Hikvision/Annke device (camera or recorder) speaking ISAPI: the request handler.

:class:`HikDevice` is a pure-ish function of its state: ``handle(Request) -> Response``; it does
no I/O of its own. Timers, reboots, events and channel polls go through a :class:`DeviceHost`
(the running fleet, or a stub in unit tests). Order of checks on every request, as on a device:
IP filter (before authentication), then digest authentication and the illegal-login lock, then
routing: a resource the profile lacks, or one it does not know, 403 ``notSupport`` as on most firmware
(``unknown_resource_status`` 404 for the rest); 405 for a wrong method. The endpoints live in
``security``, ``system``, ``status``, ``channels``, ``media``, ``alerts`` and ``log``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Literal

from enforcer.lab.device import BaseDevice, DeviceHost, Session
from enforcer.lab.isapi import alerts, channels, log, media, security, status, system
from enforcer.lab.isapi.xml import NAMESPACES, document, response_status, tags
from enforcer.lab.net.digest import DigestServer, Verdict, default_realm, parse_authorization
from enforcer.lab.net.httpserver import Request, Response
from enforcer.lab.spec import LabChannel, LabDevice

Route = Callable[["HikDevice", Request, Session], Response]
ROUTES: list[tuple[re.Pattern[str], dict[str, Route], str | None]] = []


__all__ = ["HikDevice", "Session"]


def route(pattern: str, *, feature: str | None = None, **methods: Route) -> None:
    """Serve ``pattern``; a profile whose ``unsupported`` names ``feature`` answers it 403 ``notSupport``."""
    ROUTES.append((re.compile(pattern + r"/?$"), methods, feature))


class HikDevice(BaseDevice):
    """One simulated ISAPI device over the mutable :class:`LabDevice` that is its state."""

    login_path = "/ISAPI/Security/userCheck"

    def __init__(self, spec: LabDevice, host: DeviceHost, *, nonce_seconds: float = 300.0) -> None:
        super().__init__(spec, host)
        self.namespace = spec.profile.namespace if spec.profile.namespace in NAMESPACES else "hikvision"
        self.server_header = "Webs" if self.family == "nvr" else "App-webs/"
        realm = spec.profile.realm or default_realm("nvr" if self.family == "nvr" else "ipc", spec.serial)
        self.digest = DigestServer(
            family="nvr" if self.family == "nvr" else "ipc",
            realm=realm,
            clock=host.clock,
            nonce_seconds=nonce_seconds,
            basic_offered=spec.profile.basic_allowed,
        )
        self.seclog = log.SecurityLog(host.clock)
        self.alerts = alerts.AlertHub(self)
        self.up_since = host.clock.now()
        self.reboots = 0
        self.motion: dict[int, bool] = {}  # motion detection per video input

    # -- helpers used by the endpoint modules -------------------------------------------------

    def xml(self, root: str, body: str, *, status: int = 200, attrs: str = "") -> Response:
        version = self.profile.xml_version
        return Response(status, document(root, self.namespace, body, version=version, attrs=attrs))

    def item(self, tag: str, body: str) -> str:
        """A list item or nested document: firmware in the ``hikvision.com`` namespace repeats ``version`` and
        ``xmlns`` on each (protocol §3.7; S1 IPC replies), the others do not."""
        if self.namespace != "hikvision":
            return f"<{tag}>{body}</{tag}>"
        return f'<{tag} version="{self.profile.xml_version}" xmlns="{NAMESPACES["hikvision"]}">{body}</{tag}>'

    def lacks(self, feature: str) -> bool:
        """Whether the firmware lacks ``feature`` (``LabProfile.lacks``)."""
        return feature in self.profile.lacks

    def not_supported(self, req: Request) -> Response:
        """A resource this firmware lacks: 403 with ``4 / Invalid Operation / notSupport`` (protocol §1)."""
        return self.status(req, 403, 4, "notSupport")

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

    def failure_logged(self, source: str, user: str) -> None:
        self.seclog.add("Exception", "illlegealAccess", user, source)
        self.alerts.publish("illaccess", "active", "illegal access alarm", address=source)

    # -- lifecycle -----------------------------------------------------------------------------

    def on_down(self) -> None:
        """The device stops: nonces void, lock counters cleared, upgrades applied on the way."""
        self.digest.void_all()
        self.reboots += 1
        self.up_since = self.host.clock.now() + self.profile.reboot_seconds
        super().on_down()

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
        if self.blocked(req):
            return self.status(req, 403, 6, "forbiddenIP", error_code="0x60000070")
        auth = self.authenticate(req)
        if isinstance(auth, Response):
            return auth
        for pattern, methods, feature in ROUTES:
            m = pattern.match(req.path)
            if m is None:
                continue
            if feature is not None and self.lacks(feature):
                return self.not_supported(req)
            handler = methods.get(req.method)
            if handler is None:
                return self.status(req, 405, 4, "methodNotAllowed")
            req.query.update({f"_{k}": v for k, v in m.groupdict().items()})
            return handler(self, req, auth)
        if self.profile.unknown_resource_status == 403:
            return self.not_supported(req)
        return self.status(req, 404, 4, "invalidOperation", message="unknown resource")

    def channel_port_kind(self, ch: LabChannel) -> Literal["sdk", "http"]:
        """``HIKVISION`` channels reach the camera's SDK port, ``ONVIF`` ones its HTTP port (protocol §3.7)."""
        return "sdk" if ch.protocol == "vendor" else "http"

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
        acc = self.account(user)
        password = acc.password if acc is not None and acc.enabled else None
        verdict, first = self.digest.check(params, req.method, password)
        judged = self.judge(req, user, acc, verdict)
        if judged.session is None:
            return self.unauthorized(judged.key, stale=verdict is Verdict.STALE and judged.outcome == "retry")
        if first:
            self.seclog.add("Operation", "remoteLogin", user, req.source)
        return judged.session

    def _basic(self, req: Request, token: str) -> Session | Response:
        user, acc, right = self.check_basic(token)
        key = self.locks.key(req.source, user)
        if not self.profile.basic_allowed:
            counted = (self.profile.basic_attempt_counts and not right) or self.profile.illegal_basic_logon
            if counted and not self.locks.is_locked(key):
                self.count_failure(key, req.source, user, "basic_refused" if not right else "illegal_logon")
            return self.unauthorized(key)
        judged = self.judge(req, user, acc, Verdict.OK if right else Verdict.WRONG)
        if judged.session is None:
            return self.unauthorized(judged.key)
        self.seclog.add("Operation", "remoteLogin", user, req.source)
        return judged.session


security.register(route)
system.register(route)
status.register(route)
channels.register(route)
media.register(route)
alerts.register(route)
log.register(route)
