"""The simulated Dahua/Amcrest device over real sockets: CGI digest, nonce policies, the lock, RPC2.

Wire contract: docs/dahua-wire.md; protocol facts: protocols/dahua-cgi.md §2, §3, §8.
"""

from __future__ import annotations

import http.client
import re
import socket
import time
from typing import Any

import pytest

from enforcer.lab.dahua.rpc import login_hash
from enforcer.lab.fleet import Fleet
from enforcer.lab.net.httpclient import authorization
from enforcer.lab.spec import LabChannel, LabLockPolicy, LabSpec

from .conftest import (
    DH_PW,
    MACHINE,
    Start,
    cgi,
    dahua_camera,
    dahua_recorder,
    events_of,
    get,
    rpc,
    rpc_login,
    session_from,
    wait_for,
)

pytestmark = pytest.mark.lab

RPC_REALM = "Login to EB2711F0F250EAB5"


def long_lock() -> LabLockPolicy:
    """A lock the test does not wait out: 3 attempts, 600 device-s (6 s real), so every "still locked"
    request lands well inside it however slow the machine."""
    return LabLockPolicy(enabled=True, max_attempts=3, lock_seconds=600)


def raw(fleet: Fleet, dev: str, headers: dict[str, str], *, uri: str = MACHINE, source: str = "127.0.0.1") -> Any:
    """One request on its own connection; returns (status, headers, body)."""
    d = fleet.devices[dev].spec
    conn = http.client.HTTPConnection(d.address, d.port, timeout=5, source_address=(source, 0))
    try:
        conn.request("GET", uri, headers=headers)
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def challenge(fleet: Fleet, dev: str, source: str = "127.0.0.1") -> dict[str, str]:
    from enforcer.lab.net.digest import parse_authorization

    status, headers, _ = raw(fleet, dev, {}, source=source)
    assert status == 401
    return parse_authorization(headers["WWW-Authenticate"])[1]


def answer(chal: dict[str, str], nc: int = 1, pw: str = DH_PW, uri: str = MACHINE) -> dict[str, str]:
    return {"Authorization": authorization(chal, "admin", pw, "GET", uri, nc)}


# -- CGI digest -----------------------------------------------------------------------------------


def test_challenge_shape_and_digest_login(start: Start) -> None:
    fleet = start(LabSpec([dahua_camera("dc", "127.0.130.2")]))
    r = cgi(fleet, "dc", MACHINE, None)
    assert r.status_code == 401 and r.content == b""
    assert re.fullmatch(
        r'Digest realm="Login to [0-9A-F]{15}", qop="auth", nonce="\d+", opaque="[0-9a-f]+"',
        r.headers["WWW-Authenticate"],
    )
    assert r.headers["Content-Type"] == "text/plain;charset=utf-8"
    assert fleet.device("dc")["realm"] == r.headers["WWW-Authenticate"].split('"')[1]  # stable per device
    ok = cgi(fleet, "dc", MACHINE)
    assert (ok.status_code, ok.text) == (200, "name=dc\r\n")
    assert not events_of(fleet, "auth_failed")  # the challenge round trip is free


def test_wrong_password_counts_once_and_credentialless_never(start: Start) -> None:
    fleet = start(LabSpec([dahua_camera("dc", "127.0.130.3")]))
    for _ in range(5):
        assert cgi(fleet, "dc", MACHINE, None).status_code == 401
    r = cgi(fleet, "dc", MACHINE, "admin", "Wrong1!xx", source="127.0.130.50")
    assert r.status_code == 401 and "Digest" in r.headers["WWW-Authenticate"]
    [failed] = events_of(fleet, "auth_failed")
    assert (failed["source"], failed["user"], failed["reason"], failed["attempts_left"]) == (
        "127.0.130.50",
        "admin",
        "bad_credentials",
        2,
    )


def test_account_lock_refuses_every_source_until_it_expires(start: Start) -> None:
    # waited out, so kept short: 150 device-s (1.5 s real); the "still locked" checks come right after
    lock = LabLockPolicy(enabled=True, max_attempts=3, lock_seconds=150)
    fleet = start(LabSpec([dahua_camera("dc", "127.0.130.4", lock=lock)]))
    stale, admin = "127.0.130.51", "127.0.130.52"
    for _ in range(3):
        cgi(fleet, "dc", MACHINE, "admin", "Stale1!xx", source=stale)
    refused = cgi(fleet, "dc", MACHINE, source=admin)  # right password, another source: still locked
    assert refused.status_code == 401 and refused.content == b"" and "nonce=" in refused.headers["WWW-Authenticate"]
    assert cgi(fleet, "dc", MACHINE, "op", "Op3rator!x", source=stale).status_code == 200  # other accounts unaffected
    [locked] = events_of(fleet, "locked")
    assert (locked["user"], locked["key"], locked["seconds"]) == ("admin", "user:admin", 150)
    assert events_of(fleet, "auth_failed", source=admin, reason="locked", attempts_left=0)
    wait_for(lambda: events_of(fleet, "unlocked", key="user:admin"), timeout=10)
    assert cgi(fleet, "dc", MACHINE, source=admin).status_code == 200


def test_source_scope_option_and_403_while_locked(start: Start) -> None:
    dev = dahua_camera("dc", "127.0.130.5", lock=long_lock(), lock_scope="source", locked_http_status=403)
    fleet = start(LabSpec([dev]))
    src = "127.0.130.53"
    for _ in range(3):
        cgi(fleet, "dc", MACHINE, "admin", "Stale1!xx", source=src)
    refused = cgi(fleet, "dc", MACHINE, source=src)
    assert (refused.status_code, refused.text) == (403, "Authority:check failure.")
    assert cgi(fleet, "dc", MACHINE, source="127.0.130.54").status_code == 200
    assert cgi(fleet, "dc", MACHINE, None, source=src).status_code == 401  # a bare request still gets a challenge


def test_nonce_reuse_policy_needs_a_growing_nc(start: Start) -> None:
    fleet = start(LabSpec([dahua_camera("dc", "127.0.130.6")]))
    chal = challenge(fleet, "dc")
    assert raw(fleet, "dc", answer(chal, 1))[0] == 200
    assert raw(fleet, "dc", answer(chal, 2))[0] == 200
    status, headers, _ = raw(fleet, "dc", answer(chal, 2))  # replayed nc
    assert status == 401 and headers["WWW-Authenticate"].startswith("Digest")
    assert not events_of(fleet, "auth_failed")


@pytest.mark.parametrize(("policy", "status", "body"), [("single_use", 401, b""), ("single_use_403", 403, None)])
def test_single_use_nonces(start: Start, policy: str, status: int, body: bytes | None) -> None:
    fleet = start(LabSpec([dahua_camera("dc", "127.0.130.7", nonce_policy=policy)]))
    chal = challenge(fleet, "dc")
    assert raw(fleet, "dc", answer(chal, 1))[0] == 200
    got, headers, content = raw(fleet, "dc", answer(chal, 2))
    assert got == status
    if status == 401:
        assert headers["WWW-Authenticate"].startswith("Digest") and content == b""
    else:
        assert content == b"Authority:check failure."
    assert raw(fleet, "dc", answer(challenge(fleet, "dc"), 1))[0] == 200  # a fresh challenge works again
    assert not events_of(fleet, "auth_failed")


def test_connection_close_profile(start: Start) -> None:
    fleet = start(LabSpec([dahua_camera("dc", "127.0.130.8", connection_close=True)]))
    with socket.create_connection(("127.0.130.8", 8080), timeout=5) as sock:
        sock.sendall(f"GET {MACHINE} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(4096):  # the device closes: recv returns b"" instead of blocking
            data += chunk
    assert data.startswith(b"HTTP/1.1 401") and b"Connection: close\r\n" in data
    assert cgi(fleet, "dc", MACHINE).status_code == 200  # requests re-connects for the answer


def test_basic_only_legacy_profile(start: Start) -> None:
    fleet = start(LabSpec([dahua_camera("dc", "127.0.130.9", basic_only=True)]))
    url = fleet.url("dc") + MACHINE
    bare = get(url)
    assert bare.status_code == 401 and bare.headers["WWW-Authenticate"] == 'Basic realm="Device_CGI"'
    with session_from("127.0.130.55") as s:
        assert s.get(url, auth=("admin", DH_PW), timeout=5).status_code == 200
        assert s.get(url, auth=("admin", "Wrong1!xx"), timeout=5).status_code == 401
    chal = {"realm": "Device_CGI", "nonce": "1", "qop": "auth"}
    assert raw(fleet, "dc", answer(chal))[0] == 401  # a digest answer cannot be checked: not counted
    assert [e["attempts_left"] for e in events_of(fleet, "auth_failed")] == [2]


# -- RPC2 -----------------------------------------------------------------------------------------


def test_rpc2_hash_matches_the_documented_vector() -> None:
    random = "80480036-1e1f-4669-812b-70d7470d6025"
    assert login_hash("admin", "Passw0rd!", RPC_REALM, random) == "4B06E90CF436A4C968C0C1C828BD63C6"


def test_rpc2_challenge_and_success(start: Start) -> None:
    fleet = start(LabSpec([dahua_camera("dc", "127.0.130.10", realm=RPC_REALM)]))
    first, ok = rpc_login(fleet, "dc", "admin", DH_PW)
    assert first["error"] == {"code": 268632079, "message": "Component error: login challenge!"}
    assert first["result"] is False and isinstance(first["session"], int)
    assert first["params"]["realm"] == RPC_REALM and first["params"]["encryption"] == "Default"
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}", first["params"]["random"])
    assert ok["result"] is True and ok["params"] == {"keepAliveInterval": 60}
    assert ok["session"] == first["session"]  # devices keep the challenge's session id
    version = rpc(
        fleet, "dc", {"method": "magicBox.getSoftwareVersion", "id": 3, "session": ok["session"]}, path="/RPC2"
    )
    assert version["params"]["version"]["Version"] == "2.800.0000016.0.R"
    assert version["params"]["version"]["BuildDate"] == "2024-10-30"
    assert not events_of(fleet, "auth_failed")


def test_rpc2_wrong_password_then_locked(start: Start) -> None:
    fleet = start(LabSpec([dahua_camera("dc", "127.0.130.11", lock=long_lock())]))
    lefts = []
    for _ in range(2):
        _, wrong = rpc_login(fleet, "dc", "admin", "Wrong1!xx")
        assert wrong["error"]["code"] == 268632085 and wrong["params"]["remainLockSecond"] == 0
        lefts.append(wrong["params"]["remainLoginTimes"])
    assert lefts == [2, 1]
    _, third = rpc_login(fleet, "dc", "admin", "Wrong1!xx")
    assert third["error"]["code"] == 268632081 and third["params"]["remainLoginTimes"] == 0
    assert 0 < third["params"]["remainLockSecond"] <= 600
    first, right = rpc_login(fleet, "dc", "admin", DH_PW)  # the challenge is still free without lock_on_challenge
    assert first["error"]["code"] == 268632079 and right["error"]["code"] == 268632081
    assert len(events_of(fleet, "auth_failed", reason="bad_credentials")) == 3
    assert cgi(fleet, "dc", MACHINE).status_code == 401  # CGI and RPC2 share the lock


def test_rpc2_reused_session_is_a_fresh_challenge_not_a_failure(start: Start) -> None:
    fleet = start(LabSpec([dahua_camera("dc", "127.0.130.12")]))
    first, _ = rpc_login(fleet, "dc", "admin", DH_PW)
    chal = first["params"]
    params = {"userName": "admin", "password": login_hash("admin", "Bad1!xxxx", chal["realm"], chal["random"])}
    again = rpc(fleet, "dc", {"method": "global.login", "params": params, "id": 3, "session": first["session"]})
    assert again["error"]["code"] == 268632079 and again["session"] != first["session"]
    assert not events_of(fleet, "auth_failed")


def test_rpc2_lock_on_challenge_and_cgi_failures_add_up(start: Start) -> None:
    fleet = start(LabSpec([dahua_camera("dc", "127.0.130.13", lock=long_lock(), lock_on_challenge=True)]))
    cgi(fleet, "dc", MACHINE, "admin", "Wrong1!xx")
    _, wrong = rpc_login(fleet, "dc", "admin", "Wrong1!xx")
    assert wrong["params"]["remainLoginTimes"] == 1
    cgi(fleet, "dc", MACHINE, "admin", "Wrong1!xx")
    first, _ = rpc_login(fleet, "dc", "admin", DH_PW)
    assert first["error"]["code"] == 268632081 and first["params"]["remainLockSecond"] > 0


def test_rpc2_sessions_keepalive_logout_expiry_and_limit(start: Start) -> None:
    # sessions live 60 device-s: at 0.04 real s per device-s that is 2.4 s, and each request below that
    # must find its session alive lands 28 device-s (over 1 s real) before the session would end
    scale = 0.04
    fleet = start(LabSpec([dahua_camera("dc", "127.0.130.14", max_sessions=2)]), time_scale=scale)

    def call(method: str, token: str) -> Any:
        return rpc(fleet, "dc", {"method": method, "id": 9, "session": token}, path="/RPC2")

    a = rpc_login(fleet, "dc", "admin", DH_PW)[1]["session"]
    b = rpc_login(fleet, "dc", "admin", DH_PW)[1]["session"]
    busy = rpc_login(fleet, "dc", "admin", DH_PW)[1]
    assert busy["error"]["code"] == 268632075 and not events_of(fleet, "auth_failed")
    assert call("global.keepAlive", a)["params"] == {"timeout": 60}
    assert call("global.logout", b)["result"] is True
    assert call("global.keepAlive", b)["error"] == {"code": 287637505, "message": "Invalid session in request data!"}
    time.sleep(30 * scale)
    assert call("global.keepAlive", a)["result"] is True  # keeps it alive past the first 60 s
    time.sleep(32 * scale)  # 62 device seconds since the keep-alive before
    assert call("magicBox.getSoftwareVersion", a)["result"] is True
    time.sleep(64 * scale)  # 64 device seconds without a keep-alive
    assert call("global.keepAlive", a)["error"]["code"] == 287637505


def test_a_password_changed_on_site_ends_the_open_sessions(start: Start) -> None:
    fleet = start(LabSpec([dahua_camera("dc", "127.0.130.90")]))
    token = rpc_login(fleet, "dc", "admin", DH_PW)[1]["session"]
    keep = {"method": "global.keepAlive", "id": 9, "session": token}
    assert rpc(fleet, "dc", keep, path="/RPC2")["result"] is True
    fleet.set_account_password("dc", "admin", "Changed-on-site9")
    assert rpc(fleet, "dc", keep, path="/RPC2")["error"]["code"] == 287637505


def test_ip_filter_refuses_rpc2_before_authentication(start: Start) -> None:
    dev = dahua_camera("dc", "127.0.130.15")
    dev.ip_filter.enabled, dev.ip_filter.mode, dev.ip_filter.addresses = True, "deny", ["127.0.130.56"]
    fleet = start(LabSpec([dev]))
    first = {"userName": "admin", "password": "", "clientType": "Web3.0", "loginType": "Direct"}
    chal = rpc(fleet, "dc", {"method": "global.login", "params": first, "id": 1})  # from an allowed source
    bad = login_hash("admin", "Wrong1!xx", chal["params"]["realm"], chal["params"]["random"])
    wrong = {"method": "global.login", "id": 2, "session": chal["session"], "params": first | {"password": bad}}
    with session_from("127.0.130.56") as s:
        blocked = [s.post(fleet.url("dc") + "/RPC2_Login", json=doc, timeout=5) for doc in (wrong, wrong | {"id": 3})]
    assert {(b.status_code, b.content) for b in blocked} == {(403, b"Error\r\nIP not permitted!\r\n")}
    status, _, body = raw(fleet, "dc", answer(challenge(fleet, "dc"), pw="Wrong1!xx"), source="127.0.130.56")
    assert (status, body) == (403, b"Error\r\nIP not permitted!\r\n")
    assert len(events_of(fleet, "blocked", source="127.0.130.56")) == 3
    assert not events_of(fleet, "auth_failed")


def test_viewers_and_recorders_log_in_with_magicbox(start: Start) -> None:
    from enforcer.lab.spec import LabClient

    cam = dahua_camera("dc", "127.0.130.16")
    nvr = dahua_recorder("dn", "127.0.130.17", [LabChannel(1, "dc", "127.0.130.16", 8080, "admin", DH_PW)])
    viewer = LabClient("v1", "s1", "viewer", "127.0.130.57", "dc", "op", "Op3rator!x", interval_seconds=20)
    fleet = start(LabSpec([cam, nvr], [viewer]))
    wait_for(lambda: fleet.client_status("v1")["last"] == "ok", timeout=10)
    wait_for(lambda: fleet.device("dn")["channels"][0]["status"] == "connect", timeout=10)
    assert not events_of(fleet, "auth_failed")
