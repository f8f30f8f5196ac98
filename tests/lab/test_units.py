"""Fast unit tests of the lab's pure parts: digest, locks, XML, firmware images, the login flow."""

from __future__ import annotations

import base64
import re
from typing import Any

import pytest

from enforcer.lab.clock import Clock, FakeClock
from enforcer.lab.dahua.device import DahuaDevice
from enforcer.lab.events import EventLog
from enforcer.lab.firmware import ImageError, build_image, parse_image
from enforcer.lab.isapi.device import HikDevice
from enforcer.lab.isapi.security import is_risky
from enforcer.lab.isapi.xml import XmlFormatError, parse, response_status, tags, text
from enforcer.lab.locks import LockTable
from enforcer.lab.net.digest import DigestServer, Verdict, default_realm, digest_response, parse_authorization
from enforcer.lab.net.httpclient import Reply, login_flow
from enforcer.lab.net.httpserver import Request
from enforcer.lab.spec import LabLockPolicy, LabProfile

from .conftest import CAM_PW, camera, dahua_camera


def test_digest_response_matches_rfc2617_example() -> None:
    # RFC 2617 §3.5
    got = digest_response(
        "Mufasa",
        "testrealm@host.com",
        "Circle Of Life",
        "GET",
        "/dir/index.html",
        "dcd98b7102dd2f0e8b11d0f600bfb0c093",
        "00000001",
        "0a4f113b",
        "auth",
    )
    assert got == "6629fae49393a05397450978507c4ef1"


def test_parse_authorization_handles_quotes_and_bare_values() -> None:
    scheme, p = parse_authorization('Digest username="ad\\"min", qop=auth, nc=00000001, uri="/a?b=1,2"')
    assert scheme == "digest"
    assert p == {"username": 'ad"min', "qop": "auth", "nc": "00000001", "uri": "/a?b=1,2"}


def _answer(server: DigestServer, nonce: str, pw: str, nc: int = 1, user: str = "admin") -> dict[str, str]:
    ncs = f"{nc:08x}"
    return {
        "username": user,
        "realm": server.realm,
        "nonce": nonce,
        "uri": "/ISAPI/Security/userCheck",
        "qop": "auth",
        "nc": ncs,
        "cnonce": "abc",
        "response": digest_response(
            user, server.realm, pw, "GET", "/ISAPI/Security/userCheck", nonce, ncs, "abc", "auth"
        ),
    }


def test_ipc_challenge_format() -> None:
    server = DigestServer(family="ipc", realm="IP Camera(C2183)", clock=FakeClock())
    [(name, line)] = server.challenge()
    assert name == "WWW-Authenticate"
    m = re.fullmatch(r'Digest qop="auth", realm="IP Camera\(C2183\)", nonce="([0-9a-f]+)", stale="FALSE"', line)
    assert m is not None
    base64.b64decode(bytes.fromhex(m.group(1)), validate=True)  # hex of a base64 string
    assert "algorithm" not in line and "opaque" not in line


def test_nvr_challenge_format_and_basic_line() -> None:
    server = DigestServer(family="nvr", realm="c504892f438ee5f2114e9fdd", clock=FakeClock(), basic_offered=True)
    (_, digest), (_, basic) = server.challenge(stale=True)
    assert re.fullmatch(
        r'Digest realm="c504892f438ee5f2114e9fdd", domain="::", qop="auth", nonce="[0-9a-f]{32}:\d{13}", '
        r'opaque="", algorithm="MD5", stale="TRUE"',
        digest,
    )
    assert basic == 'Basic realm="c504892f438ee5f2114e9fdd"'


def test_default_realms() -> None:
    assert default_realm("ipc", "DS-2CD2146G2-ISU00000000AAWRGC2183") == "IP Camera(C2183)"
    assert re.fullmatch(r"[0-9a-f]{24}", default_realm("nvr", "X"))


def test_verdicts_ok_wrong_replay_stale() -> None:
    clock = FakeClock()
    server = DigestServer(family="ipc", realm="IP Camera(AAAAA)", clock=clock, nonce_seconds=60)
    nonce = server.new_nonce()
    assert server.check(_answer(server, nonce, "pw"), "GET", "pw") == (Verdict.OK, True)
    assert server.check(_answer(server, nonce, "pw", nc=2), "GET", "pw") == (Verdict.OK, False)
    assert server.check(_answer(server, nonce, "pw", nc=2), "GET", "pw")[0] is Verdict.REPLAY
    assert server.check(_answer(server, nonce, "bad", nc=3), "GET", "pw")[0] is Verdict.WRONG
    assert server.check(_answer(server, nonce, "pw", nc=3), "GET", None)[0] is Verdict.WRONG
    clock.advance(61)
    assert server.check(_answer(server, nonce, "pw", nc=4), "GET", "pw")[0] is Verdict.STALE
    # a wrong answer to an expired nonce is still a wrong password
    assert server.check(_answer(server, nonce, "bad", nc=5), "GET", "pw")[0] is Verdict.WRONG
    missing_qop = _answer(server, server.new_nonce(), "pw")
    del missing_qop["qop"]
    assert server.check(missing_qop, "GET", "pw")[0] is Verdict.MALFORMED


def test_lock_table_threshold_expiry_and_reset_option() -> None:
    clock = FakeClock()
    policy = LabLockPolicy(max_attempts=3, lock_seconds=100)
    table = LockTable(clock, policy, scope="source")
    assert [table.fail("a"), table.fail("a")] == [2, 1]
    assert not table.is_locked("a")
    table.succeed("a")
    assert table.attempts_left("a") == 3
    assert [table.fail("a"), table.fail("a"), table.fail("a")] == [2, 1, 0]
    assert table.is_locked("a") and table.seconds_left("a") == 100 and not table.is_locked("b")
    clock.advance(60)
    table.refused("a")  # no reset by default
    assert table.seconds_left("a") == 40
    clock.advance(41)
    assert table.expire_due() == ["a"] and table.attempts_left("a") == 3

    # a lock that ran out counts as gone before the sweep: one failure does not lock again
    expired: list[str] = []
    lazy = LockTable(clock, policy, scope="source", on_expire=expired.append)
    assert [lazy.fail("b"), lazy.fail("b"), lazy.fail("b")] == [2, 1, 0]
    clock.advance(100)
    assert not lazy.is_locked("b") and lazy.fail("b") == 2 and not lazy.is_locked("b") and expired == ["b"]
    lazy.succeed("b")
    assert lazy.attempts_left("b") == 3 and lazy.expire_due() == []

    resetting = LockTable(clock, policy, scope="source_user", resets_timer=True)
    key = resetting.key("10.0.0.1", "admin")
    assert key == "10.0.0.1/admin"
    for _ in range(3):
        resetting.fail(key)
    clock.advance(90)
    resetting.refused(key)
    assert resetting.seconds_left(key) == 100


def test_lock_table_forgets_a_count_one_window_after_its_first_failure() -> None:
    """The window runs from a count's first failure (Dahua's zeroing cycle): later failures do not extend
    it; the count is forgotten at once when its window is over, swept or not."""
    clock = FakeClock()
    policy = LabLockPolicy(max_attempts=5, lock_seconds=100)
    forgotten: list[tuple[str, int]] = []
    table = LockTable(clock, policy, scope="source", window="lock", on_forget=lambda k, n: forgotten.append((k, n)))
    assert table.window_seconds() == 100
    assert table.fail("a") == 4
    clock.advance(60)
    assert table.fail("a") == 3 and table.fail("a") == 2  # only the reserve is left for "a"
    assert table.next_due() == 1100  # first failure at 1000, plus the window
    clock.advance(39)
    assert table.attempts_left("a") == 2 and forgotten == []
    clock.advance(1)
    assert table.attempts_left("a") == 5 and forgotten == [("a", 3)]  # what a free userCheck reports now
    assert table.fail("a") == 4  # a new count, with a window of its own
    assert table.next_due() == 1200
    clock.advance(100)
    assert table.forget_due() == [("a", 1)] and table.next_due() is None

    policy.lock_seconds = 30  # "lock": the window follows the lock time as the policy changes
    table.fail("b")
    clock.advance(30)
    assert table.attempts_left("b") == 5


def test_lock_table_window_never_ends_a_lock_and_none_keeps_counting() -> None:
    clock = FakeClock()
    policy = LabLockPolicy(max_attempts=2, lock_seconds=100)
    short = LockTable(clock, policy, scope="source", window=10.0)
    assert [short.fail("a"), short.fail("a")] == [1, 0]
    clock.advance(50)  # five windows later: still locked, the lock runs its course
    assert short.is_locked("a") and short.attempts_left("a") == 0 and short.forget_due() == []
    assert short.next_due() == 1100
    for window in (None, 0.0):  # never: today's firmware, cleared only by a success, the lock or a reboot
        keeping = LockTable(clock, policy, scope="source", window=window)
        assert keeping.fail("b") == 1
        clock.advance(10**6)
        assert keeping.attempts_left("b") == 1 and keeping.forget_due() == [] and keeping.next_due() is None


def test_lock_disabled_never_locks() -> None:
    table = LockTable(FakeClock(), LabLockPolicy(enabled=False, max_attempts=3), scope="account")
    for _ in range(10):
        table.fail(table.key("x", "admin"))
    assert not table.locked_keys()


def test_xml_helpers() -> None:
    assert tags([("a", True), ("b", None), ("c", "<&>")]) == "<a>true</a><c>&lt;&amp;&gt;</c>"
    doc = response_status("none", "/x", 6, "badXmlContent")
    el = parse(doc)
    assert el.tag == "ResponseStatus" and text(el, "statusString") == "Invalid XML Content"
    assert text(parse(b'<U xmlns="http://www.isapi.org/ver20/XMLSchema"><id> 1 </id></U>'), "id") == "1"
    with pytest.raises(XmlFormatError):
        parse(b"<a><b></a>")


def test_firmware_image_round_trip_and_errors() -> None:
    img = parse_image(build_image("DS-1", "V5.8.0", "250101", b"\x00\xff" * 10))
    assert (img.model, img.version, img.build) == ("DS-1", "V5.8.0", "250101")
    for bad in (
        b"MZ\x00",
        b"ENFORCER-LAB-FIRMWARE\nmodel=x\n",
        b"ENFORCER-LAB-FIRMWARE\nmodel=x\nversion=5\nbuild=1\n\n",
    ):
        with pytest.raises(ImageError):
            parse_image(bad)


def test_risky_passwords() -> None:
    assert is_risky("12345") and is_risky("abcdefghij") and is_risky("Ab1!")
    assert not is_risky("Abcdefg1") and not is_risky(CAM_PW)


def test_login_flow_never_retries_a_401() -> None:
    chal = Reply(401, {"www-authenticate": ['Digest qop="auth", realm="r", nonce="n", stale="FALSE"']})
    flow = login_flow("admin", "pw")
    first = next(flow)
    assert "Authorization" not in first.headers
    second = flow.send(chal)
    assert second.headers["Authorization"].startswith('Digest username="admin", realm="r", nonce="n"')
    with pytest.raises(StopIteration) as stop:
        flow.send(chal)
    assert stop.value.value == "auth_failed"


def test_login_flow_one_fresh_handshake_after_stale() -> None:
    chal = Reply(401, {"www-authenticate": ['Digest qop="auth", realm="r", nonce="n1", stale="FALSE"']})
    stale = Reply(401, {"www-authenticate": ['Digest qop="auth", realm="r", nonce="n2", stale="TRUE"']})
    flow = login_flow("admin", "pw")
    next(flow)
    flow.send(chal)
    again = flow.send(stale)
    assert 'nonce="n2"' in again.headers["Authorization"]
    with pytest.raises(StopIteration) as stop:
        flow.send(Reply(200))
    assert stop.value.value == "ok"


class _StubHost:
    def __init__(self, tmp: Any) -> None:
        self.clock: Clock = FakeClock()
        self.events = EventLog(tmp / "events.jsonl")
        self.changes = 0

    def state_changed(self) -> None:
        self.changes += 1

    def call_later(self, device_seconds: float, callback: Any) -> None:
        pass

    def reboot(self, device: Any, reason: str) -> None:
        pass

    def channel_changed(self, device: Any, channel_id: int) -> None:
        pass

    def device_at(self, address: str, port: int) -> str | None:
        return None


def test_free_counts_follow_the_failure_window(tmp_path: Any) -> None:
    """Both vendors' counts as reported for free follow the window: Hikvision's ``retryLoginTime`` on an
    unauthenticated ``userCheck``, Dahua's ``remainLoginTimes``; a forgotten count is a ``counter_reset``."""
    host = _StubHost(tmp_path)
    clock = host.clock
    assert isinstance(clock, FakeClock)
    source = "10.0.0.5"
    hik = HikDevice(camera("c", "127.0.9.1", profile=LabProfile(failure_window_seconds=600.0)), host)
    for _ in range(2):
        hik.count_failure(hik.locks.key(source, "admin"), source, "admin", "bad_credentials")
    probe = Request("GET", "/ISAPI/Security/userCheck", {}, b"", source)
    assert b"<retryLoginTime>1</retryLoginTime>" in hik.handle(probe).body
    clock.advance(600)
    assert b"<retryLoginTime>3</retryLoginTime>" in hik.handle(probe).body
    dahua = DahuaDevice(dahua_camera("d", "127.0.9.2", lock=LabLockPolicy(True, 5, 300)), host)
    key = dahua.locks.key(source, "admin")
    assert [dahua.count_failure(key, source, "admin", "bad_credentials") for _ in range(3)] == [4, 3, 2]
    clock.advance(300)  # the default window: the lock time
    assert dahua.count_failure(key, source, "admin", "bad_credentials") == 4  # remainLoginTimes of a new count
    host.events.flush()
    resets = [e for e in host.events.read() if e["event"] == "counter_reset"]
    assert [(e["device"], e["key"], e["failures"]) for e in resets] == [("c", source, 2), ("d", "user:admin", 3)]


def test_device_handler_without_sockets(tmp_path: Any) -> None:
    host = _StubHost(tmp_path)
    dev = HikDevice(camera("c", "127.0.9.1"), host)
    resp = dev.handle(Request("GET", "/ISAPI/Security/userCheck", {}, b"", "10.0.0.5"))
    assert resp.status == 401 and b"<retryLoginTime>3</retryLoginTime>" in resp.body
    _, chal = parse_authorization(dict(resp.headers)["WWW-Authenticate"])
    ok = _answer(dev.digest, chal["nonce"], CAM_PW)
    header = "Digest " + ", ".join(f'{k}="{v}"' for k, v in ok.items())
    resp = dev.handle(Request("GET", "/ISAPI/Security/userCheck", {"authorization": header}, b"", "10.0.0.5"))
    assert resp.status == 200 and b"<isRiskPassword>false</isRiskPassword>" in resp.body
    assert dev.handle(Request("GET", "/index.html", {}, b"", "10.0.0.5")).status == 404
