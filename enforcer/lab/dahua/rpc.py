"""The Dahua RPC2 login (``POST /RPC2_Login``) and session calls (``POST /RPC2``), dahua-cgi.md §3.

Request 1 (empty password) is a free challenge: a ``random`` bound to a numeric ``session``, single
use. Request 2 answers with ``UPPER(MD5(U:random:UPPER(MD5(U:realm:P))))``; a wrong answer counts
once in the device's shared :class:`LockTable` and reports ``remainLoginTimes``; a locked key reports
``remainLockSecond``. Sessions live 60 s of device time past their last ``global.keepAlive``.
Always HTTP 200 with JSON, except the IP filter's 403 (``DahuaDevice.handle``).
"""

from __future__ import annotations

import hmac
import json
import secrets
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from enforcer.lab.dahua import kv
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
class _Session:
    user: str
    last: float


@dataclass
class RpcState:
    """Open challenges (numeric session -> random) and live sessions (32-hex token)."""

    challenges: dict[int, _Challenge] = field(default_factory=dict)
    sessions: dict[str, _Session] = field(default_factory=dict)

    def clear(self) -> None:
        self.challenges.clear()
        self.sessions.clear()

    def end_user(self, user: str) -> None:
        for token in [t for t, s in self.sessions.items() if s.user == user]:
            del self.sessions[token]

    def expire(self, now: float) -> None:
        for token in [t for t, s in self.sessions.items() if now - s.last > SESSION_SECONDS]:
            del self.sessions[token]


def _json(doc: dict[str, Any]) -> Response:
    return Response(200, json.dumps(doc).encode(), content_type="application/json; charset=utf-8")


def _error(code: int, rid: object, session: object = None, params: dict[str, Any] | None = None) -> Response:
    doc: dict[str, Any] = {"error": {"code": code, "message": MESSAGES[code]}, "id": rid}
    if params is not None:
        doc["params"] = params
    doc["result"] = False
    if session is not None:
        doc["session"] = session
    return _json(doc)


def handle(dev: DahuaDevice, req: Request) -> Response:
    if req.method != "POST":
        return kv.empty(405)
    try:
        call = json.loads(req.body)
        if not isinstance(call, dict):
            raise ValueError("not an object")
    except ValueError:
        return _error(REQUEST_INVALID, None)
    method, rid = call.get("method"), call.get("id")
    params = call.get("params") if isinstance(call.get("params"), dict) else {}
    assert isinstance(params, dict)
    dev.rpc.expire(dev.host.clock.now())
    if method == "global.login":
        return _login(dev, req, rid, params, call.get("session"))
    session = dev.rpc.sessions.get(str(call.get("session")))
    if session is None:
        return _error(INVALID_SESSION, rid, call.get("session"))
    token = str(call.get("session"))
    if method == "global.keepAlive":
        session.last = dev.host.clock.now()
        return _json({"id": rid, "params": {"timeout": SESSION_SECONDS}, "result": True, "session": token})
    if method == "global.logout":
        del dev.rpc.sessions[token]
        return _json({"id": rid, "result": True, "session": token})
    if method == "magicBox.getSoftwareVersion":
        version = {"Version": dev.spec.firmware_version, "BuildDate": dev.spec.firmware_build}
        return _json({"id": rid, "params": {"version": version}, "result": True, "session": token})
    return _error(METHOD_NOT_FOUND, rid, token)


def _new_challenge(dev: DahuaDevice, user: str, rid: object) -> Response:
    sid = secrets.randbelow(2**31 - 1) + 1
    dev.rpc.challenges[sid] = _Challenge(user, str(uuid.uuid4()))
    while len(dev.rpc.challenges) > MAX_CHALLENGES:
        del dev.rpc.challenges[next(iter(dev.rpc.challenges))]
    params = {"realm": dev.digest.realm, "random": dev.rpc.challenges[sid].random, "encryption": "Default"}
    return _error(CHALLENGE, rid, sid, params)


def _locked(dev: DahuaDevice, key: str, rid: object, sid: object) -> Response:
    params = {"remainLockSecond": dev.locks.seconds_left(key), "remainLoginTimes": 0}
    return _error(LOCKED, rid, sid, params)


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
        return _error(BAD_PASSWORD, rid, sid, {"remainLockSecond": 0, "remainLoginTimes": left})
    if len(dev.rpc.sessions) >= dev.profile.max_sessions:
        return _error(BUSY, rid, sid)
    dev.locks.succeed(key)
    token = secrets.token_hex(16)
    dev.rpc.sessions[token] = _Session(user, dev.host.clock.now())
    return _json({"id": rid, "params": {"keepAliveInterval": SESSION_SECONDS}, "result": True, "session": token})
