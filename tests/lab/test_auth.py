"""Digest and the illegal-login lock over real sockets (protocol §2, §4 items 1–3)."""

from __future__ import annotations

import http.client
import re
import time
import xml.etree.ElementTree as ET

import pytest

from enforcer.lab.net.digest import digest_response, parse_authorization
from enforcer.lab.spec import LabLockPolicy, LabProfile, LabSpec

from .conftest import CAM_PW, NVR_PW, SCALE, Start, camera, events_of, get, recorder, wait_for

pytestmark = pytest.mark.lab

UC = "/ISAPI/Security/userCheck"


def body(resp_text: str) -> dict[str, str]:
    root = ET.fromstring(resp_text.encode())
    return {el.tag.split("}")[-1]: (el.text or "") for el in root}


def test_camera_and_recorder_challenges(start: Start) -> None:
    fleet = start(LabSpec([camera("cam", "127.0.10.2"), recorder("nvr", "127.0.10.1", [])]))
    cam = get(fleet.url("cam") + UC)
    assert cam.status_code == 401
    assert re.fullmatch(
        r'Digest qop="auth", realm="IP Camera\(\w{5}\)", nonce="[0-9a-f]+", stale="FALSE"',
        cam.headers["WWW-Authenticate"],
    )
    assert cam.headers["Server"] == "App-webs/"
    assert body(cam.text)["retryLoginTime"] == "3"
    nvr = get(fleet.url("nvr") + UC)
    assert re.fullmatch(
        r'Digest realm="[0-9a-f]{24}", domain="::", qop="auth", nonce="[0-9a-f]{32}:\d{13}", opaque="", '
        r'algorithm="MD5", stale="FALSE"',
        nvr.headers["WWW-Authenticate"],
    )
    assert "isapi.org" in nvr.text
    assert get(fleet.url("nvr") + UC, "admin", NVR_PW).status_code == 200
    assert not events_of(fleet, "auth_failed")  # challenge round trips never count


def test_lock_after_threshold_and_not_before(start: Start) -> None:
    fleet = start(LabSpec([camera("cam", "127.0.11.2")]))
    url = fleet.url("cam") + UC
    src, other = "127.0.11.50", "127.0.11.51"
    first = get(url, "admin", "wrong1", source=src)
    assert first.status_code == 401 and body(first.text)["retryLoginTime"] == "2"
    second = get(url, "admin", "wrong2", source=src)
    assert body(second.text)["lockStatus"] == "unlock"
    assert body(second.text)["retryLoginTime"] == "1"
    assert not events_of(fleet, "locked")
    third = get(url, "admin", "wrong3", source=src)
    b = body(third.text)
    assert (b["lockStatus"], b["unlockTime"], b["retryLoginTime"]) == ("lock", "150", "0")
    assert "WWW-Authenticate" in third.headers  # challenge still sent when locked
    refused = get(url, "admin", CAM_PW, source=src)  # the right password is refused too
    assert refused.status_code == 401 and body(refused.text)["lockStatus"] == "lock"
    assert get(url, "admin", CAM_PW, source=other).status_code == 200  # other sources unaffected
    [locked] = events_of(fleet, "locked")
    assert locked["source"] == src and locked["user"] == "admin"
    assert [e["attempts_left"] for e in events_of(fleet, "auth_failed", source=src)] == [2, 1, 0, 0]
    # the lock runs out after 150 device seconds (1.5 s here), then the counter starts afresh
    wait_for(lambda: events_of(fleet, "unlocked", source=src), timeout=10)
    ok = get(url, "admin", CAM_PW, source=src)
    assert ok.status_code == 200


def test_success_clears_the_counter(start: Start) -> None:
    fleet = start(LabSpec([camera("cam", "127.0.12.2")]))
    url, src = fleet.url("cam") + UC, "127.0.12.50"
    for _ in range(2):
        get(url, "admin", "bad", source=src)
    assert get(url, "admin", CAM_PW, source=src).status_code == 200
    for _ in range(2):
        assert body(get(url, "admin", "bad", source=src).text)["lockStatus"] == "unlock"
    assert not events_of(fleet, "locked")


def test_account_scope_locks_every_source(start: Start) -> None:
    cam = camera("cam", "127.0.13.2", profile=LabProfile(lock_scope="account"))
    fleet = start(LabSpec([cam]))
    url = fleet.url("cam") + UC
    for i in range(3):
        get(url, "admin", "bad", source=f"127.0.13.{50 + i}")
    assert get(url, "admin", CAM_PW, source="127.0.13.99").status_code == 401
    assert get(url, "op", "Op3rator!x", source="127.0.13.99").status_code == 200


def test_retry_during_lock_resets_timer(start: Start) -> None:
    # a 600 device-s lock (6 s real): the retry 100 device-s in lands well inside it
    lock = LabLockPolicy(enabled=True, max_attempts=3, lock_seconds=600)
    cam = camera("cam", "127.0.14.2", lock_policy=lock, profile=LabProfile(retry_during_lock_resets_timer=True))
    fleet = start(LabSpec([cam]))
    url, src = fleet.url("cam") + UC, "127.0.14.50"
    for _ in range(3):
        get(url, "admin", "bad", source=src)
    time.sleep(100 * SCALE)
    left = int(body(get(url, "admin", CAM_PW, source=src).text)["unlockTime"])
    assert left > 590  # the attempt started the lock again (else at most 500 would be left)


def test_locked_sources_at_start(start: Start) -> None:
    fleet = start(LabSpec([camera("cam", "127.0.15.2", locked_sources=["127.0.15.50"])]))
    url = fleet.url("cam") + UC
    assert body(get(url, source="127.0.15.50").text)["lockStatus"] == "lock"  # free read of the lock
    assert get(url, "admin", CAM_PW, source="127.0.15.50").status_code == 401
    assert get(url, "admin", CAM_PW, source="127.0.15.51").status_code == 200


def _raw(conn: http.client.HTTPConnection, auth: str | None = None) -> http.client.HTTPResponse:
    conn.request("GET", UC, headers={"Authorization": auth} if auth else {})
    resp = conn.getresponse()
    resp.read()
    return resp


def _answer(chal: str, nc: int, pw: str = CAM_PW) -> str:
    _, p = parse_authorization(chal)
    ncs = f"{nc:08x}"
    r = digest_response("admin", p["realm"], pw, "GET", UC, p["nonce"], ncs, "c0ffee", "auth")
    return (
        f'Digest username="admin", realm="{p["realm"]}", nonce="{p["nonce"]}", uri="{UC}", qop=auth, '
        f'nc={ncs}, cnonce="c0ffee", response="{r}"'
    )


def test_nonce_count_and_stale_nonce(start: Start) -> None:
    # nonces live 150 device-s (1.5 s real): the three answers to the first one land well inside that
    fleet = start(LabSpec([camera("cam", "127.0.16.2")]), nonce_seconds=150)
    conn = http.client.HTTPConnection("127.0.16.2", 8080, timeout=5, source_address=("127.0.16.50", 0))
    chal = _raw(conn).getheader("WWW-Authenticate") or ""
    issued = time.monotonic()  # the nonce is at least this old
    assert _raw(conn, _answer(chal, 1)).status == 200
    assert _raw(conn, _answer(chal, 2)).status == 200  # same nonce, higher nc: keep-alive reuse
    replay = _raw(conn, _answer(chal, 2))
    assert replay.status == 401  # nc must increase
    time.sleep(max(0.0, issued + 160 * SCALE - time.monotonic()))  # 160 device-s after the challenge
    stale = _raw(conn, _answer(chal, 3))
    assert stale.status == 401
    assert 'stale="TRUE"' in (stale.getheader("WWW-Authenticate") or "")
    fresh = stale.getheader("WWW-Authenticate") or ""
    assert _raw(conn, _answer(fresh, 1)).status == 200
    conn.close()
    assert not events_of(fleet, "auth_failed")  # neither a replay nor a stale nonce counts


def test_basic_refused_unless_allowed(start: Start) -> None:
    from requests.auth import HTTPBasicAuth

    from .conftest import session_from

    fleet = start(
        LabSpec(
            [
                camera("strict", "127.0.17.2"),
                camera("lax", "127.0.17.3", profile=LabProfile(basic_allowed=True)),
                camera("counting", "127.0.17.4", profile=LabProfile(basic_attempt_counts=True)),
            ]
        )
    )
    with session_from("127.0.17.50") as s:
        assert s.get(fleet.url("strict") + UC, auth=HTTPBasicAuth("admin", CAM_PW)).status_code == 401
        lax = s.get(fleet.url("lax") + UC, auth=HTTPBasicAuth("admin", CAM_PW))
        assert lax.status_code == 200
        assert "Basic" in s.get(fleet.url("lax") + UC).headers["WWW-Authenticate"]
        s.get(fleet.url("counting") + UC, auth=HTTPBasicAuth("admin", "bad"))
    assert [e["device"] for e in events_of(fleet, "auth_failed")] == ["counting"]


def test_lock_policy_disabled_never_locks(start: Start) -> None:
    cam = camera("cam", "127.0.18.2", lock_policy=LabLockPolicy(enabled=False, max_attempts=3))
    fleet = start(LabSpec([cam]))
    for _ in range(5):
        get(fleet.url("cam") + UC, "admin", "bad", source="127.0.18.50")
    assert get(fleet.url("cam") + UC, "admin", CAM_PW, source="127.0.18.50").status_code == 200
    assert not events_of(fleet, "locked")
