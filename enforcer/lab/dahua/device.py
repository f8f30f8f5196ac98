"""A simulated Dahua/Amcrest device (camera or recorder): CGI over digest, and the RPC2 login.

Like :class:`~enforcer.lab.isapi.device.HikDevice` it is ``handle(Request) -> Response`` over the
mutable :class:`LabDevice`, with timers and reboots through the :class:`DeviceHost`. Order of checks
(``docs/dahua-wire.md``): IP filter (before authentication, 403 ``IP not permitted!``), then
RPC2 (``/RPC2_Login``, ``/RPC2``: JSON that authenticates itself, ``rpc``), then CGI: digest (or
Basic on legacy ``basic_only`` firmware), the illegal-login lock, then the ``action``; an action the
firmware lacks (unknown, or in ``profile.lacks`` as ``<cgi>.<action>``) answers 400 ``Bad Request!``
or 501 ``Not Implemented!``. Digest firmware refuses Basic, but checks its password: a wrong one
counts as a failure (python-amcrest tries Basic first, so a stale password costs two per token).
CGI and RPC2 share one :class:`LockTable`, so failures over either add up. Endpoints live in
``users``, ``config``, ``settings``, ``system``, ``log`` and ``rpc``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from enforcer.lab.clients import DAHUA_LOGIN_PATH
from enforcer.lab.dahua import config, kv, log, rpc, settings, system, users
from enforcer.lab.device import BaseDevice, DeviceHost, Judgement, Session
from enforcer.lab.locks import LockTable
from enforcer.lab.net.digest import DigestServer, Verdict, default_realm, parse_authorization
from enforcer.lab.net.httpserver import Request, Response
from enforcer.lab.spec import LabDevice, LabLockPolicy

__all__ = ["DahuaDevice", "Session", "register"]

Action = Callable[["DahuaDevice", Request, Session], Response]
CGI: dict[str, dict[str, Action]] = {}  # file name ("magicBox.cgi") -> action -> handler
BASIC_REALM = "Device_CGI"
MODIFY_ATTEMPTS = 5  # wrong ``pwdOld`` before modifyPassword locks for that account


def register(cgi: str, **actions: Action) -> None:
    CGI.setdefault(cgi, {}).update(actions)


@dataclass(frozen=True)
class ModifyLockPolicy:
    """The lock of wrong ``pwdOld``: always on, :data:`MODIFY_ATTEMPTS`, as long as the login lock's time."""

    login: LabLockPolicy
    enabled: bool = True
    max_attempts: int = MODIFY_ATTEMPTS

    @property
    def lock_seconds(self) -> int:
        return self.login.lock_seconds


class DahuaDevice(BaseDevice):
    """One simulated Dahua device over the mutable :class:`LabDevice` that is its state."""

    login_path = DAHUA_LOGIN_PATH
    server_header = "Webs"

    def __init__(self, spec: LabDevice, host: DeviceHost, *, nonce_seconds: float = 300.0) -> None:
        super().__init__(spec, host)
        self.digest = DigestServer(
            family="dahua",
            realm=spec.profile.realm or default_realm("dahua", spec.serial),
            clock=host.clock,
            nonce_seconds=nonce_seconds,
            nonce_policy=spec.profile.nonce_policy,
        )
        self.machine_name = spec.name
        self.memos: dict[str, str] = {}
        self.settings = settings.defaults(self)
        self.log = log.DeviceLog()
        self.rpc = rpc.RpcState()
        # wrong ``pwdOld`` has its own lock, per account (NetSDK REMAIN_MODIFY_TIME_AND_LOCK_SECOND)
        self.modify_locks = LockTable(host.clock, ModifyLockPolicy(spec.lock_policy), scope="account")

    # -- replies -------------------------------------------------------------------------------

    def reply(self, resp: Response) -> Response:
        """Every reply: ``Connection: close`` on profiles that do so."""
        if self.profile.connection_close:
            resp.close = True
        return resp

    def challenge(self) -> Response:
        if self.profile.basic_only:
            basic = [("WWW-Authenticate", f'Basic realm="{BASIC_REALM}"')]
            return Response(401, b"", headers=basic, content_type=kv.TEXT)
        return Response(401, b"", headers=self.digest.challenge(), content_type=kv.TEXT)

    def locked_reply(self) -> Response:
        if self.profile.locked_http_status == 403:
            return kv.denied()
        return self.challenge()

    # -- lifecycle -----------------------------------------------------------------------------

    def on_down(self) -> None:
        """The device stops: nonces and RPC2 sessions void, lock counters cleared, upgrades applied."""
        self.digest.void_all()
        self.rpc.clear()
        self.modify_locks.clear()
        super().on_down()

    def password_changed(self, user: str) -> None:
        """A password changed: the old one fails at once, open RPC2 sessions of ``user`` end."""
        self.rpc.end_user(user)

    def count_failure(self, key: str, source: str, user: str, reason: str) -> int:
        """A failed login; the lock it may cause is written to the device log too."""
        left = super().count_failure(key, source, user, reason)
        if left == 0 and self.spec.lock_policy.enabled:
            log.record(self, "Event.LoginFailure", user, source, "Lock")
        return left

    # -- the request path ----------------------------------------------------------------------

    def handle(self, req: Request) -> Response:
        return self.reply(self._route(req))

    def _route(self, req: Request) -> Response:
        if self.blocked(req):
            return Response(403, b"Error\r\nIP not permitted!\r\n", content_type=kv.TEXT)
        if req.path in ("/RPC2_Login", "/RPC2"):
            return rpc.handle(self, req)
        if not req.path.startswith("/cgi-bin/"):
            return kv.empty(404)
        auth = self.authenticate(req)
        if isinstance(auth, Response):
            return auth
        cgi = req.path.removeprefix("/cgi-bin/")
        actions = CGI.get(cgi)
        if actions is None:
            return kv.empty(404)
        action = req.query.get("action", "")
        handler = actions.get(action)
        if handler is None or f"{cgi.removesuffix('.cgi')}.{action}" in self.profile.lacks:
            return kv.unsupported(self.profile.unsupported_status)
        return handler(self, req, auth)

    def authenticate(self, req: Request) -> Session | Response:
        header = req.headers.get("authorization")
        if not header:
            return self.challenge()  # a credential-less request is never counted
        scheme, params = parse_authorization(header)
        if self.profile.basic_only:
            if scheme != "basic":
                return self.challenge()
            user, acc, right = self.check_basic(params.get("token", ""))
            return self._reply_to(self.judge(req, user, acc, Verdict.OK if right else Verdict.WRONG))
        if scheme == "basic":
            return self._basic_refused(req, params.get("token", ""))
        if scheme != "digest":
            return self.challenge()
        user = params.get("username", "")
        acc = self.account(user)
        verdict, first = self.digest.check(
            params, req.method, acc.password if acc is not None and acc.enabled else None
        )
        judged = self._reply_to(self.judge(req, user, acc, verdict))
        if first and isinstance(judged, Session):
            log.record(self, "Login", user, req.source, "CGI")
        return judged

    def _basic_refused(self, req: Request, token: str) -> Response:
        """Basic on digest firmware: refused, but a wrong password is still a counted failure."""
        user, _, right = self.check_basic(token)
        key = self.locks.key(req.source, user)
        if self.locks.is_locked(key):
            self.refuse_locked(key, req.source, user)
            return self.locked_reply()
        if not right:
            self.count_failure(key, req.source, user, "basic_refused")
            if self.locks.is_locked(key):
                return self.locked_reply()
        return self.challenge()

    def _reply_to(self, judged: Judgement) -> Session | Response:
        if judged.session is not None:
            return judged.session
        if judged.outcome == "locked":
            return self.locked_reply()
        if judged.outcome == "failed":
            return self.locked_reply() if self.locks.is_locked(judged.key) else self.challenge()
        if judged.verdict is Verdict.REUSED and self.profile.nonce_policy == "single_use_403":
            return kv.denied()
        return self.challenge()  # malformed; a stale, replayed or reused nonce: not a failure


users.register(register)
config.register(register)
system.register(register)
log.register(register)
