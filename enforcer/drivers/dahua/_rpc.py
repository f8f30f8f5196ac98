"""The Dahua RPC2 login (protocols/dahua-cgi.md §3): pure request/reply functions and a small client.

Why RPC2 for every uncertain credential: its refusal says how many attempts are left
(``remainLoginTimes``) and how long a lock lasts (``remainLockSecond``), which CGI digest never does.
Request 1 (the challenge) carries no password and is free; request 2 carries
``UPPER(MD5(user:random:UPPER(MD5(user:realm:password))))``, never the password itself. The random is
single use, so every candidate gets its own challenge.

    >>> password_hash("admin", "Passw0rd!", "Login to EB2711F0F250EAB5", "80480036-1e1f-4669-812b-70d7470d6025")
    '4B06E90CF436A4C968C0C1C828BD63C6'
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Literal

from enforcer.drivers._wire.http import Transport
from enforcer.errors import RpcError

LOGIN_PATH = "/RPC2_Login"
RPC_PATH = "/RPC2"

CHALLENGE = 268632079
WRONG_PASSWORD = 268632085
LOCKED = 268632081
BUSY = 268632075

Kind = Literal["challenge", "ok", "wrong", "locked", "busy", "error"]


def _md5_upper(text: str) -> str:
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest().upper()


def inner_hash(user: str, password: str, realm: str) -> str:
    return _md5_upper(f"{user}:{realm}:{password}")


def password_hash(user: str, password: str, realm: str, random: str) -> str:
    """The ``Default`` encryption answer to a challenge."""
    return _md5_upper(f"{user}:{random}:{inner_hash(user, password, realm)}")


@dataclass(frozen=True)
class Challenge:
    realm: str
    random: str
    session: int | str
    encryption: str = "Default"


@dataclass(frozen=True)
class LoginReply:
    """One ``global.login`` reply, classified; counts are ``None`` where the device did not say."""

    kind: Kind
    code: int | None = None
    message: str = ""
    session: int | str | None = None
    challenge: Challenge | None = None
    remain_login_times: int | None = None
    remain_lock_seconds: float = 0.0


def challenge_request(user: str, request_id: int) -> dict[str, Any]:
    params = {"userName": user, "password": "", "clientType": "Web3.0", "loginType": "Direct"}
    return {"method": "global.login", "params": params, "id": request_id}


def answer_request(user: str, password: str, challenge: Challenge, request_id: int) -> dict[str, Any]:
    """Request 2; raises RpcError for an encryption that would put the password on the wire."""
    if challenge.encryption != "Default":
        raise RpcError(
            f"the device asks for RPC2 encryption {challenge.encryption!r}; enforcer sends only the Default hash"
        )
    params = {
        "userName": user,
        "password": password_hash(user, password, challenge.realm, challenge.random),
        "clientType": "Web3.0",
        "loginType": "Direct",
        "authorityType": "Default",
        "passwordType": "Default",
    }
    return {"method": "global.login", "params": params, "id": request_id, "session": challenge.session}


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def decode(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise RpcError("the RPC2 reply is not JSON") from exc
    if not isinstance(data, dict):
        raise RpcError("the RPC2 reply is not a JSON object")
    return data


def parse_login(body: bytes) -> LoginReply:
    """Classify a ``global.login`` reply: challenge, ok, wrong password, locked, busy or another error."""
    data = decode(body)
    params = data.get("params") if isinstance(data.get("params"), dict) else {}
    assert isinstance(params, dict)
    error = data.get("error") if isinstance(data.get("error"), dict) else {}
    assert isinstance(error, dict)
    code, message = _int(error.get("code")), str(error.get("message", ""))[:200]
    session = data.get("session")
    session = session if isinstance(session, int | str) and not isinstance(session, bool) else None
    left, lock = _int(params.get("remainLoginTimes")), _int(params.get("remainLockSecond"))

    def reply(kind: Kind, challenge: Challenge | None = None, lock: float = 0.0) -> LoginReply:
        return LoginReply(kind, code, message, session, challenge, left, lock)

    if data.get("result") is True:
        return reply("ok")
    if code in (LOCKED, WRONG_PASSWORD):
        return reply("locked" if code == LOCKED else "wrong", lock=float(lock or 0))
    if code == BUSY:
        return reply("busy")
    if code in (CHALLENGE, 401) and isinstance(params.get("random"), str) and session is not None:
        challenge = Challenge(
            realm=str(params.get("realm", "")),
            random=str(params["random"]),
            session=session,
            encryption=str(params.get("encryption", "Default")),
        )
        return reply("challenge", challenge)
    return reply("error")


class RpcClient:
    """RPC2 over the device's one transport; request ids increase per client."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self._id = 0

    def _post(self, path: str, payload: dict[str, Any]) -> bytes:
        reply = self.transport.send(
            "POST", path, headers={"Content-Type": "application/json"}, body=json.dumps(payload).encode()
        )
        if reply.status != 200:
            text = " ".join(reply.body.decode("utf-8", "replace").split())[:120]
            raise RpcError(f"HTTP {reply.status} to RPC2" + (f": {text}" if text else ""), reply.status)
        return reply.body

    def _next(self) -> int:
        self._id += 1
        return self._id

    def challenge(self, user: str) -> LoginReply:
        """Request 1: no password, never counted (a locked account may answer ``locked`` here)."""
        return parse_login(self._post(LOGIN_PATH, challenge_request(user, self._next())))

    def answer(self, user: str, password: str, challenge: Challenge) -> LoginReply:
        """Request 2: one counted attempt (the caller asks the guard first)."""
        return parse_login(self._post(LOGIN_PATH, answer_request(user, password, challenge, self._next())))

    def logout(self, session: int | str) -> None:
        """End a session; its reply does not matter (the device also ends it after 60 s)."""
        self._post(RPC_PATH, {"method": "global.logout", "params": None, "id": self._next(), "session": session})
