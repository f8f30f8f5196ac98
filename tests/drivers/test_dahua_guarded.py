"""The Dahua session, RPC2 login and upgrade state against scripted replies: every attempt the guard
permits is recorded, whatever goes wrong after the credential was sent."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest

from enforcer.credentials.guard import LoginGuard
from enforcer.credentials.keyring import Keyring
from enforcer.credentials.secret import Secret
from enforcer.drivers._wire import upgrade as _upgrade
from enforcer.drivers._wire.digest import Reply
from enforcer.drivers.dahua._firmware import _Dahua
from enforcer.drivers.dahua._login import RpcLogin, switch
from enforcer.drivers.dahua._session import DahuaSession
from enforcer.errors import DeviceError, LockedOut, LoginFailed, Refused, TransportError, TransportFailed
from enforcer.model import TLS, Device, LockPolicy

CHALLENGE = ('Digest realm="Login to ABC", qop="auth", nonce="n1", opaque="ff"',)
NEW_CHALLENGE = ('Digest realm="Login to ABC", qop="auth", nonce="n2", opaque="ff"',)
AUTHORITY = Reply(403, (), b"Authority:check failure.\r\n")
OK = Reply(200, (), b"version=2.800\r\n")
PW = Secret("Right-Pass1", "t")


def rpc(data: dict[str, Any]) -> Reply:
    return Reply(200, (), json.dumps(data).encode())


RPC_CHALLENGE = rpc(
    {
        "result": False,
        "error": {"code": 268632079, "message": "login challenge!"},
        "params": {"realm": "Login to ABC", "random": "r1", "encryption": "Default"},
        "session": 7,
        "id": 1,
    }
)
RPC_LOCKED = rpc(
    {
        "result": False,
        "error": {"code": 268632081, "message": "User locked!"},
        "params": {"remainLockSecond": 240, "remainLoginTimes": 0},
        "session": 8,
        "id": 1,
    }
)


class Scripted:
    """A transport answering from a script; an exception in it is raised instead of a reply."""

    def __init__(self, *replies: Reply | Exception) -> None:
        self.replies = list(replies)
        self.sent: list[tuple[str, str, bool]] = []

    def send(self, method: str, target: str, *, headers: Any = None, body: Any = None, timeout: Any = None) -> Reply:
        self.sent.append((method, target.split("?")[0], bool(headers and "Authorization" in headers)))
        item = self.replies.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    def close(self) -> None:
        pass


CAM = Device(
    "s",
    "cam",
    "camera",
    "dahua",
    "IPC",
    "127.0.0.1",
    80,
    "http",
    TLS(),
    (),
    LockPolicy(True, 5, 30),
    None,
    "ip_filter",
    "wait",
)


def session(transport: Scripted, guard: LoginGuard) -> DahuaSession:
    keys = Keyring(guard=guard).keys(CAM, "admin")
    keys.use(PW, "current")
    return DahuaSession(keys, transport)  # type: ignore[arg-type]


def test_a_401_is_recorded_even_when_the_lock_probe_fails() -> None:
    guard = LoginGuard()
    transport = Scripted(Reply(401, CHALLENGE), Reply(401, NEW_CHALLENGE), TransportError("reset", "reset"))
    s = session(transport, guard)
    with pytest.raises(LoginFailed):
        s.request("read", "/cgi-bin/magicBox.cgi", "getSoftwareVersion")
    with pytest.raises(Refused, match="already refused"):  # never sent again
        s.request("read", "/cgi-bin/magicBox.cgi", "getSoftwareVersion")
    assert sum(auth for *_, auth in transport.sent) == 1


def test_a_403_to_a_cached_nonce_on_a_locked_account_stops_at_once() -> None:
    guard = LoginGuard()
    transport = Scripted(Reply(401, CHALLENGE), OK, AUTHORITY, RPC_LOCKED)
    s = session(transport, guard)
    s.request("read", "/cgi-bin/magicBox.cgi", "getSoftwareVersion")
    with pytest.raises(LockedOut) as caught:  # even where the caller allows 403
        s.request("ip filter", "/cgi-bin/configManager.cgi", "getConfig", {"name": "IPFilter"}, allow=(200, 403))
    assert caught.value.unlock_seconds == 240
    assert [auth for *_, auth in transport.sent] == [False, True, True, False]  # no fresh retry
    with pytest.raises(Refused, match="locked out"):
        s.request("read", "/cgi-bin/magicBox.cgi", "getSoftwareVersion")


def test_a_plain_403_is_probed_once_and_allowed() -> None:
    guard = LoginGuard()
    transport = Scripted(Reply(401, CHALLENGE), OK, AUTHORITY, RPC_CHALLENGE, Reply(401, NEW_CHALLENGE), AUTHORITY)
    s = session(transport, guard)
    s.request("read", "/cgi-bin/magicBox.cgi", "getSoftwareVersion")
    reply = s.request("ip filter", "/cgi-bin/configManager.cgi", "getConfig", {"name": "IPFilter"}, allow=(200, 403))
    assert reply.status == 403 and transport.replies == []
    assert guard.remaining("s/cam") == 3  # nothing counted


@pytest.mark.parametrize(
    "answer", [TransportError("timeout", "timed out"), Reply(200, (), b"<html>"), rpc({"result": False, "id": 2})]
)
def test_an_rpc2_answer_we_cannot_read_counts_as_a_failure(answer: Reply | Exception) -> None:
    guard = LoginGuard()
    s = session(Scripted(RPC_CHALLENGE, answer), guard)
    login = RpcLogin(s, "admin")
    with pytest.raises(DeviceError):
        login.attempt("current", PW)
    assert guard.remaining("s/cam") == 2 and login.failures == 1
    with pytest.raises(Refused, match="already refused"):
        guard.check("s/cam", "admin", PW)


def test_switch_credential_uses_the_new_password_even_when_confirmation_fails() -> None:
    guard = LoginGuard()
    new = Secret("N3w-Pass!x", "t")
    s = session(Scripted(TransportError("reset", "reset")), guard)
    with pytest.raises(DeviceError):
        switch(s, new)
    assert (s.keys.password, s.keys.role) == (new, "desired")  # the old one would now be a counted failure
    assert s.state.digest.challenge is None


@pytest.mark.parametrize("goes_down", [False, True])
def test_a_succeeded_state_is_followed_only_when_a_reboot_follows(
    monkeypatch: pytest.MonkeyPatch, goes_down: bool
) -> None:
    """Firmware that keeps ``State=Succeeded`` after its reboot must not stop a later upgrade;
    a rerun that finds Succeeded just before the reboot follows it instead of uploading again."""
    monkeypatch.setattr(_upgrade, "DOWN_GRACE", 0.3)
    probes: list[int] = []

    def challenge(step: str) -> None:
        probes.append(1)
        if goes_down and len(probes) > 1:
            raise TransportFailed(site="s", device="cam", step=step, detail="refused", kind="refused")

    session = SimpleNamespace(get=lambda *a, **kw: (200, b"State=Succeeded\r\nProgress=100\r\n"), challenge=challenge)
    dev = _Dahua(session)  # type: ignore[arg-type]
    assert dev.in_flight("firmware") is goes_down
    if goes_down:
        assert dev.follow(lambda fraction, what: None) is True  # down already: wait for it to come back
