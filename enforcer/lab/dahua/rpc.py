"""The Dahua RPC2 login (``POST /RPC2_Login``) and session calls (``POST /RPC2``), dahua-cgi.md §3.

Request 1 (any password, even the clear one some clients send there) is a free challenge: a
``random`` bound to a numeric ``session``, single use. Request 2 answers with
``UPPER(MD5(U:random:UPPER(MD5(U:realm:P))))``; a wrong answer counts once in the device's shared
:class:`LockTable` and reports ``remainLoginTimes``; a locked key reports ``remainLockSecond``. A
right one turns the challenge's session id into the login session, as devices do (clients keep the id
from reply 1 and never read it again). A session is bound to the address that opened it and lives
60 s of device time past its last call; the calls themselves are in :mod:`.rpcmethods`.
Always HTTP 200 with JSON, except the IP filter's 403 (``DahuaDevice.handle``).
"""

from __future__ import annotations

import hmac
import json
import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from enforcer.lab.dahua import kv, log, rpcmethods
from enforcer.lab.net.digest import md5_hex
from enforcer.lab.net.httpserver import Request, Response

if TYPE_CHECKING:
    from enforcer.lab.dahua.device import DahuaDevice

CHALLENGE = 268632079
BAD_PASSWORD = 268632085
LOCKED = 268632081
BUSY = 268632075
INVALID_SESSION = 287637505
REQUEST_INVALID = 268894209
METHOD_NOT_FOUND = 268894210
INVALID_PARAM = 268894211
NO_PERMISSION = 285278249
NOT_SET = 268959743  # "error code not set": what a name the firmware lacks gets [I]
SESSION_SECONDS = 60
MAX_CHALLENGES = 256
MESSAGES = {
    CHALLENGE: "Component error: login challenge!",
    BAD_PASSWORD: "Component error: User or password not valid!",
    LOCKED: "Component error: User locked!",
    BUSY: "Component error: busy!",
    INVALID_SESSION: "Invalid session in request data!",
    REQUEST_INVALID: "Request invalid!",
    METHOD_NOT_FOUND: "Method not found!",
    INVALID_PARAM: "Invalid param!",
    NO_PERMISSION: "Authority:check failure.",
    NOT_SET: "Error code not set!",
}


def login_hash(user: str, password: str, realm: str, random: str) -> str:
    """The request-2 ``password`` for ``encryption: Default``."""
    inner = md5_hex(f"{user}:{realm}:{password}").upper()
    return md5_hex(f"{user}:{random}:{inner}").upper()


@dataclass
class _Challenge:
    user: str
    random: str


@dataclass
class RpcSession:
    """A logged-in session: whose, from which address, since when (device wall clock), last call."""

    user: str
    source: str
    since: float
    last: float


@dataclass
class RpcState:
    """Open challenges and live sessions, both by the numeric session id of the challenge."""

    challenges: dict[int, _Challenge] = field(default_factory=dict)
    sessions: dict[str, RpcSession] = field(default_factory=dict)

    def clear(self) -> None:
        self.challenges.clear()
        self.sessions.clear()

    def end_user(self, user: str) -> None:
        for token in [t for t, s in self.sessions.items() if s.user == user]:
            del self.sessions[token]

    def expire(self, now: float) -> None:
        for token in [t for t, s in self.sessions.items() if now - s.last > SESSION_SECONDS]:
            del self.sessions[token]

    def active(self, dev: DahuaDevice) -> list[dict[str, object]]:
        """``getActiveUserInfoAll`` entries, one per live session."""
        out: list[dict[str, object]] = []
        for i, (token, s) in enumerate(self.sessions.items()):
            acc = dev.account(s.user)
            out.append(
                {
                    "Id": int(token) % 100000 + i,
                    "Name": s.user,
                    "Group": "admin" if acc is not None and acc.level == "administrator" else "user",
                    "ClientAddress": s.source,
                    "ClientType": "Web3.0",
                    "LoginTime": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(s.since)),
                }
            )
        return out


def json_reply(doc: dict[str, Any]) -> Response:
    return Response(200, json.dumps(doc).encode(), content_type="application/json; charset=utf-8")


def error(code: int, rid: object, session: object = None, params: dict[str, Any] | None = None) -> Response:
    doc: dict[str, Any] = {"error": {"code": code, "message": MESSAGES[code]}, "id": rid}
    if params is not None:
        doc["params"] = params
    doc["result"] = False
    if session is not None:
        doc["session"] = session
    return json_reply(doc)


def handle(dev: DahuaDevice, req: Request) -> Response:
    if req.method != "POST":
        return kv.empty(405)
    try:
        call = json.loads(req.body)
        if not isinstance(call, dict):
            raise ValueError("not an object")
    except ValueError:
        return error(REQUEST_INVALID, None)
    method, rid = call.get("method"), call.get("id")
    params = call.get("params") if isinstance(call.get("params"), dict) else {}
    assert isinstance(params, dict)
    dev.rpc.expire(dev.host.clock.now())
    if method == "global.login":
        return _login(dev, req, rid, params, call.get("session"))
    token = call.get("session")
    session = dev.rpc.sessions.get(str(token))
    if session is None or session.source != req.source:  # dead, unknown, or another client's
        return error(INVALID_SESSION, rid, token)
    session.last = dev.host.clock.now()
    return rpcmethods.call(dev, session, str(method), params, rid, token)


def _new_challenge(dev: DahuaDevice, user: str, rid: object) -> Response:
    sid = secrets.randbelow(2**31 - 1) + 1
    dev.rpc.challenges[sid] = _Challenge(user, str(uuid.uuid4()))
    while len(dev.rpc.challenges) > MAX_CHALLENGES:
        del dev.rpc.challenges[next(iter(dev.rpc.challenges))]
    params = {"realm": dev.digest.realm, "random": dev.rpc.challenges[sid].random, "encryption": "Default"}
    return error(CHALLENGE, rid, sid, params)


def _locked(dev: DahuaDevice, key: str, rid: object, sid: object) -> Response:
    params = {"remainLockSecond": dev.locks.seconds_left(key), "remainLoginTimes": 0}
    return error(LOCKED, rid, sid, params)


def _session_id(raw: object) -> int | None:
    try:
        return int(str(raw))
    except ValueError:
        return None


def _login(dev: DahuaDevice, req: Request, rid: object, params: dict[str, Any], raw_sid: object) -> Response:
    user = str(params.get("userName", ""))
    answer = str(params.get("password", ""))
    key = dev.locks.key(req.source, user)
    sid = _session_id(raw_sid)
    challenge = dev.rpc.challenges.pop(sid, None) if sid is not None and answer else None
    if challenge is None or challenge.user != user:
        if dev.profile.lock_on_challenge and dev.locks.is_locked(key):
            return _locked(dev, key, rid, secrets.randbelow(2**31 - 1) + 1)
        return _new_challenge(dev, user, rid)  # request 1, or an unknown/reused session: free
    if dev.locks.is_locked(key):
        dev.refuse_locked(key, req.source, user)
        return _locked(dev, key, rid, sid)
    acc = dev.account(user)
    right = (
        acc is not None
        and acc.enabled
        and hmac.compare_digest(login_hash(user, acc.password, dev.digest.realm, challenge.random), answer.upper())
    )
    if not right or acc is None:
        left = dev.count_failure(key, req.source, user, "bad_credentials")
        if dev.locks.is_locked(key):
            return _locked(dev, key, rid, sid)
        return error(BAD_PASSWORD, rid, sid, {"remainLockSecond": 0, "remainLoginTimes": left})
    if len(dev.rpc.sessions) >= dev.profile.max_sessions:
        return error(BUSY, rid, sid)
    dev.locks.succeed(key)
    assert sid is not None
    dev.rpc.sessions[str(sid)] = RpcSession(user, req.source, dev.host.clock.wall(), dev.host.clock.now())
    log.record(dev, "Login", user, req.source, "Web3.0")
    return json_reply({"id": rid, "params": {"keepAliveInterval": SESSION_SECONDS}, "result": True, "session": sid})
