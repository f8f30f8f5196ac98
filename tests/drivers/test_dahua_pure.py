"""Dahua driver, pure parts: key=value bodies, queries, RPC2 hash and replies, parsers, the digest flow."""

from __future__ import annotations

import json
import logging
from collections.abc import Generator

import pytest

from enforcer.drivers._wire.digest import Reply
from enforcer.drivers._wire.http import _RedactQuery
from enforcer.drivers._wire.upgrade import same_version
from enforcer.drivers.dahua import _kv as kv
from enforcer.drivers.dahua import _parse as dp
from enforcer.drivers.dahua._flow import CgiState, Out, cgi_flow
from enforcer.drivers.dahua._rpc import Challenge, answer_request, inner_hash, parse_login, password_hash
from enforcer.drivers.dahua._users import weak_reason
from enforcer.errors import BasicOnly, Blocked, RpcError
from enforcer.facts import ChannelDetect, ChannelFact, IPFilterFact

# -- key=value bodies -------------------------------------------------------------------------------


def test_parse_splits_on_the_first_equals_and_keeps_spaces() -> None:
    body = b"table.General.MachineName=Cam=4\r\nusers[0].Memo=admin 's account\r\nflag=\r\n"
    assert kv.parse(body) == {"table.General.MachineName": "Cam=4", "users[0].Memo": "admin 's account", "flag": ""}


def test_parse_accepts_lf_and_folds_continuation_lines() -> None:
    body = b"items[0].Detail=first part\nsecond part without key\nitems[0].Type=Login\n"
    assert kv.parse(body) == {"items[0].Detail": "first part\nsecond part without key", "items[0].Type": "Login"}


def test_indexed_groups_arrays_with_gaps_and_nesting() -> None:
    fields = kv.parse(
        b"users[0].Name=admin\r\nusers[0].AuthorityList[1]=B\r\nusers[0].AuthorityList[0]=A\r\nusers[3].Name=x\r\n"
    )
    grouped = kv.indexed(fields, "users")
    assert list(grouped) == [0, 3]
    assert kv.array(grouped[0], "AuthorityList") == ["A", "B"]


def test_uuid_keys_survive_parsing() -> None:
    fields = kv.parse(b"table.RemoteDevice.uuid:System_CONFIG_NETCAMERA_INFO_0.Address=10.0.0.2\r\n")
    assert fields == {"table.RemoteDevice.uuid:System_CONFIG_NETCAMERA_INFO_0.Address": "10.0.0.2"}


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"Error\r\n", True),
        (b"Error\r\nBad Request!\r\n", True),
        (b"error\n", True),
        (b"\r\nError\r\n", True),
        (b"name=Terror Cam\r\n", False),
        (b"ErrorCode=0\r\n", False),
        (b"OK\r\n", False),
        (b"", False),
        (b"table.General.MachineName=Error\r\n", False),
    ],
)
def test_error_is_the_first_line_only(body: bytes, error: bool) -> None:
    assert kv.is_error(body) is error


def test_error_detail_and_ok() -> None:
    assert kv.error_detail(b"Error\r\nBad Request!\r\n") == "Bad Request!"
    assert kv.is_ok(b"OK\r\n") and kv.is_ok(b"") and not kv.is_ok(b"Error\r\n") and not kv.is_ok(b"name=x\r\n")


def test_query_puts_action_first_and_encodes_every_value() -> None:
    q = kv.query("modifyPassword", [("name", "admin"), ("pwd", "a&b=c%d+e#f g"), ("pwdOld", "x/y?")])
    assert q == "action=modifyPassword&name=admin&pwd=a%26b%3Dc%25d%2Be%23f%20g&pwdOld=x%2Fy%3F"
    assert kv.query("setConfig", {"IPFilter.TrustList[0]": "10.0.0.1"}) == (
        "action=setConfig&IPFilter.TrustList[0]=10.0.0.1"
    )
    key = "RemoteDevice.uuid:System_CONFIG_NETCAMERA_INFO_0.Address"
    assert kv.query("setConfig", [(key, "1.2.3.4")]).endswith(f"&{key}=1.2.3.4")


# -- RPC2 -------------------------------------------------------------------------------------------

REALM, RANDOM = "Login to EB2711F0F250EAB5", "80480036-1e1f-4669-812b-70d7470d6025"


def test_rpc2_hash_matches_the_documented_vector() -> None:
    assert inner_hash("admin", "Passw0rd!", REALM) == "513002113B59B0BF46FADC8F0F3F19F1"
    assert password_hash("admin", "Passw0rd!", REALM, RANDOM) == "4B06E90CF436A4C968C0C1C828BD63C6"


def test_rpc2_answer_carries_the_hash_never_the_password() -> None:
    request = answer_request("admin", "Passw0rd!", Challenge(REALM, RANDOM, 2845467865), 2)
    assert request["params"]["password"] == "4B06E90CF436A4C968C0C1C828BD63C6"
    assert request["session"] == 2845467865 and "Passw0rd!" not in json.dumps(request)
    with pytest.raises(RpcError, match="Default"):
        answer_request("admin", "Passw0rd!", Challenge(REALM, RANDOM, 1, encryption="Basic"), 2)


def _reply(data: dict[str, object]) -> bytes:
    return json.dumps(data).encode()


def test_rpc2_replies_are_classified() -> None:
    challenge = parse_login(
        _reply(
            {
                "result": False,
                "params": {"realm": REALM, "random": RANDOM, "encryption": "Default"},
                "error": {"code": 268632079, "message": "Component error: login challenge!"},
                "id": 1,
                "session": 2845467865,
            }
        )
    )
    assert challenge.kind == "challenge" and challenge.challenge == Challenge(REALM, RANDOM, 2845467865)
    ok = parse_login(_reply({"id": 3, "params": {"keepAliveInterval": 60}, "result": True, "session": "4f8f"}))
    assert (ok.kind, ok.session) == ("ok", "4f8f")
    wrong = parse_login(
        _reply(
            {
                "error": {"code": 268632085, "message": "Component error: User or password not valid!"},
                "params": {"remainLockSecond": 0, "remainLoginTimes": 2},
                "result": False,
                "session": 2147483643,
            }
        )
    )
    assert (wrong.kind, wrong.remain_login_times) == ("wrong", 2)
    locked = parse_login(
        _reply(
            {
                "error": {"code": 268632081, "message": "Component error: User locked!"},
                "params": {"remainLockSecond": 120, "remainLoginTimes": 0},
                "result": False,
            }
        )
    )
    assert (locked.kind, locked.remain_lock_seconds) == ("locked", 120.0)
    assert parse_login(_reply({"result": False, "error": {"code": 268632075}})).kind == "busy"
    with pytest.raises(RpcError):
        parse_login(b"Error\r\nIP not permitted!\r\n")


# -- parsers ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("group", "rights", "level"),
    [
        ("admin", ("AuthUserMag", "AuthSysCfg", "Monitor_01", "Replay_01"), "administrator"),
        ("admin", (), "administrator"),
        ("user", ("Monitor_01", "Replay_01", "AuthBackup"), "operator"),
        ("user", ("Monitor_01",), "viewer"),
        ("user", (), "viewer"),
        ("guest", (), None),
    ],
)
def test_level_mapping(group: str, rights: tuple[str, ...], level: str | None) -> None:
    assert dp.level_of(group, rights) == level


@pytest.mark.parametrize("level", ["administrator", "operator", "viewer"])
def test_levels_written_read_back_the_same(level: dp.Level) -> None:
    assert dp.level_of(dp.GROUPS[level], dp.AUTHORITIES[level]) == level


def test_users_with_gaps_and_either_id_spelling() -> None:
    body = (
        b"users[0].Id=1\r\nusers[0].Name=admin\r\nusers[0].Password=******\r\nusers[0].Group=admin\r\n"
        b"users[0].Memo=admin 's account\r\nusers[0].Reserved=true\r\nusers[0].AuthorityList[0]=AuthUserMag\r\n"
        b"users[2].ID=3\r\nusers[2].Name=viewer1\r\nusers[2].Group=user\r\nusers[2].Reserved=false\r\n"
        b"users[2].AuthorityList[0]=Monitor_01\r\n"
    )
    found = dp.users(body)
    assert [(u.id, u.name, u.level, u.reserved) for u in found] == [
        ("1", "admin", "administrator", True),
        ("3", "viewer1", "viewer", False),
    ]
    assert found[0].memo == "admin 's account"


def test_device_info_of_camera_and_recorder() -> None:
    cam = dp.system_info(
        b"deviceType=IPC-HDW5831R-ZE\r\nhardwareVersion=1.00\r\nprocessor=S3LM\r\n"
        b"serialNumber=4X7C5A1ZAG21L3F\r\nupdateSerial=IPC-HDW5830R-Z\r\n"
    )
    assert cam == dp.SystemInfo("IPC-HDW5831R-ZE", "4X7C5A1ZAG21L3F", "IPC")
    nvr = dp.system_info(b"deviceType=31\r\nserialNumber=SN1\r\nupdateSerial=DH-NVR608H-128-4KS3/I\r\n")
    assert nvr == dp.SystemInfo("DH-NVR608H-128-4KS3/I", "SN1", "NVR")
    assert dp.software_version(b"version=2.800.0000016.0.R,build:2020-06-05\r\n") == ("2.800.0000016.0.R", "2020-06-05")
    old = b"version=2.420.AC00.15.R\r\nBuildDate=2016-09-08\r\n"
    assert dp.software_version(old) == ("2.420.AC00.15.R", "2016-09-08")
    assert same_version("2.800.0000016.0.R", "V2.800.0000016.0.R")
    assert not same_version("2.800.0000016.0.R", "2.800.0000017.0.R")


def test_lock_policy_and_ip_filter() -> None:
    policy = dp.lock_policy(
        b"table.General.MachineName=x\r\ntable.General.LockLoginEnable=true\r\n"
        b"table.General.LockLoginTimes=5\r\ntable.General.LoginFailLockTime=1800\r\n"
    )
    assert (policy.enabled, policy.max_attempts, policy.lock_seconds) == (True, 5, 1800)
    allow = dp.ip_filter(
        b"table.IPFilter.Enable=true\r\ntable.IPFilter.Type=TrustList\r\n"
        b"table.IPFilter.TrustList[0]=10.0.0.1\r\ntable.IPFilter.TrustList[1]=10.0.0.2\r\n"
    )
    assert allow == IPFilterFact(True, "allow", ("10.0.0.1", "10.0.0.2"))
    assert dp.ip_filter(b"table.IPFilter.Enable=false\r\ntable.IPFilter.Type=BannedList\r\n") == IPFilterFact(
        False, "deny", ()
    )
    with pytest.raises(dp.ParseError):
        dp.ip_filter(b"table.IPFilter.Enable=true\r\n")


def test_remote_devices_and_camera_state_to_channels() -> None:
    p = "table.RemoteDevice.uuid:System_CONFIG_NETCAMERA_INFO_"
    body = (
        f"{p}0.Enable=true\r\n{p}0.Address=10.0.0.2\r\n{p}0.HttpPort=8080\r\n{p}0.UserName=admin\r\n"
        f"{p}0.Password=******\r\n{p}1.Enable=false\r\n{p}1.Address=192.168.0.0\r\n{p}1.UserName=\r\n"
        f"{p}2.Enable=true\r\n{p}2.Address=10.0.0.4\r\n{p}2.HttpPort=80\r\n{p}2.UserName=op\r\n"
        f"{p}3.Enable=true\r\n{p}3.Address=192.168.0.0\r\n"
    ).encode()
    slots = dp.remote_devices(body)
    assert list(slots) == [0, 1, 2, 3]
    states = dp.camera_states(
        b"states[0].channel=0\r\nstates[0].connectionState=Connected\r\n"
        b"states[1].channel=1\r\nstates[1].connectionState=Empty\r\n"
        b"states[2].channel=2\r\nstates[2].connectionState=Unconnect\r\n"
    )

    asked: list[int] = []

    def why(slot: int) -> ChannelDetect:
        asked.append(slot)
        return "errorUserNameOrPasswd"

    assert dp.channel_facts(slots, states, why) == (
        ChannelFact(1, "10.0.0.2", 8080, "admin", True, "connect"),
        ChannelFact(3, "10.0.0.4", 80, "op", False, "errorUserNameOrPasswd"),
    )
    assert asked == [2]  # only the used slot that is not Connected is asked why
    old = dp.remote_devices(b"table.RemoteDevice[0].Enable=true\r\ntable.RemoteDevice[0].Address=10.0.0.9\r\n")
    assert old[0].address == "10.0.0.9" and old[0].used


@pytest.mark.parametrize(
    ("code", "detect"),
    [
        (268632085, "errorUserNameOrPasswd"),  # user or password not valid
        (268632081, "errorUserNameOrPasswd"),  # locked: by the recorder's own stale retries, most often
        (268632100, "netUnreachable"),
        (0, "unknown"),  # logged in, or not polled yet: Unconnect says the rest
        (268632064, "unknown"),
    ],
)
def test_camera_login_error_codes(code: int, detect: str) -> None:
    assert dp.channel_detect(f"errorCode={code}\r\n".encode()) == detect


def test_camera_login_error_without_a_code_is_unreadable() -> None:
    with pytest.raises(dp.ParseError):
        dp.channel_detect(b"channel=0\r\n")


def test_upgrade_states() -> None:
    assert dp.upgrade_state(b"State=Upgrading\r\nProgress=40\r\n") == dp.UpgradeState("Upgrading", 40)
    assert dp.upgrade_state(b"State=FileUnmatch\r\n").failed
    assert not dp.upgrade_state(b"").busy
    assert dp.upgrade_state(b"State=Preparing\r\n").in_flight
    assert not dp.upgrade_state(b"State=Succeeded\r\nProgress=100\r\n").in_flight  # may be left over


@pytest.mark.parametrize(
    ("password", "weak"),
    [("Passw0rd!", False), ("short1A", True), ("alllowercase", True), ("P&ssword1", True), ("N3w+%=#pass", False)],
)
def test_weak_passwords_are_caught_before_anything_is_deleted(password: str, weak: bool) -> None:
    assert (weak_reason(password) is not None) is weak


# -- the CGI digest flow ----------------------------------------------------------------------------

CHALLENGE = 'Digest realm="Login to ABC", qop="auth", nonce="{n}", opaque="ff"'


def challenge(nonce: str) -> Reply:
    return Reply(401, (CHALLENGE.format(n=nonce),))


OK = Reply(200, (), b"name=cam\r\n")
AUTHORITY = Reply(403, (), b"Authority:check failure.")


def drive(flow: Generator[Out, Reply, Reply], replies: list[Reply]) -> tuple[list[Out], Reply]:
    sent = [next(flow)]
    try:
        for reply in replies:
            sent.append(flow.send(reply))
    except StopIteration as done:
        final: Reply = done.value
        return sent, final
    raise AssertionError(f"flow wants more than {len(replies)} replies")


def test_flow_reuses_a_nonce_with_increasing_nc() -> None:
    state = CgiState()
    sent, final = drive(cgi_flow(state, "GET", "/a", "admin", "pw"), [challenge("1"), OK])
    assert [o.authorization is None for o in sent] == [True, False] and final == OK
    sent, _ = drive(cgi_flow(state, "GET", "/b", "admin", "pw"), [OK])
    assert sent[0].cached and "nc=00000002" in (sent[0].authorization or "")
    assert not state.fresh_each


def test_flow_single_use_401_gets_one_fresh_handshake_then_fresh_each() -> None:
    state = CgiState()
    drive(cgi_flow(state, "GET", "/a", "admin", "pw"), [challenge("1"), OK])
    sent, final = drive(cgi_flow(state, "GET", "/b", "admin", "pw"), [challenge("2"), OK])
    assert [o.cached for o in sent] == [True, False] and 'nonce="2"' in (sent[1].authorization or "")
    assert final == OK and state.fresh_each
    sent, _ = drive(cgi_flow(state, "GET", "/c", "admin", "pw"), [challenge("3"), OK])
    assert sent[0].authorization is None  # a free challenge before every request from now on


def test_flow_single_use_403_fetches_a_free_challenge_for_its_one_retry() -> None:
    state = CgiState()
    drive(cgi_flow(state, "GET", "/a", "admin", "pw"), [challenge("1"), OK])
    sent, final = drive(cgi_flow(state, "GET", "/b", "admin", "pw"), [AUTHORITY, challenge("2"), OK])
    assert [o.authorization is None for o in sent] == [False, True, False]
    assert final == OK and state.fresh_each


def test_flow_a_real_403_is_retried_once_at_most_and_changes_nothing() -> None:
    state = CgiState()
    drive(cgi_flow(state, "GET", "/a", "admin", "pw"), [challenge("1"), OK])
    sent, final = drive(cgi_flow(state, "GET", "/b", "admin", "pw"), [AUTHORITY, challenge("2"), AUTHORITY])
    assert final == AUTHORITY and len(sent) == 3 and not state.fresh_each


def test_flow_never_retries_a_401_to_a_fresh_nonce() -> None:
    state = CgiState()
    sent, final = drive(cgi_flow(state, "GET", "/a", "admin", "pw"), [challenge("1"), challenge("2")])
    assert final.status == 401 and len(sent) == 2
    # nor a second 401 after the one fresh handshake
    drive(cgi_flow(state, "GET", "/b", "admin", "pw"), [OK])
    sent, final = drive(cgi_flow(state, "GET", "/c", "admin", "pw"), [challenge("3"), challenge("4")])
    assert final.status == 401 and len(sent) == 2


def test_flow_refuses_basic_only_and_a_blocked_source_before_any_password() -> None:
    with pytest.raises(BasicOnly, match="only Basic"):
        drive(cgi_flow(CgiState(), "GET", "/a", "admin", "pw"), [Reply(401, ('Basic realm="Device_CGI"',))])
    with pytest.raises(Blocked):
        drive(cgi_flow(CgiState(), "GET", "/a", "admin", "pw"), [Reply(403, (), b"Error\r\nIP not permitted!\r\n")])


def test_log_redaction_covers_dahua_query_secrets() -> None:
    record = logging.LogRecord(
        "urllib3.connectionpool",
        logging.DEBUG,
        __file__,
        1,
        '%s "%s"',
        ("http://x", "GET /cgi-bin/userManager.cgi?action=modifyPassword&name=a&pwd=N%26w1&pwdOld=O%23d2 HTTP/1.1"),
        None,
    )
    _RedactQuery().filter(record)
    text = record.getMessage()
    assert "N%26w1" not in text and "O%23d2" not in text and "pwd=***" in text and "pwdOld=***" in text
    for key in ("user.Password", "RemoteDevice.uuid:System_CONFIG_NETCAMERA_INFO_0.Password", "loginPassword"):
        record = logging.LogRecord("u", logging.DEBUG, __file__, 1, f"?{key}=s3cret&x=1", None, None)
        _RedactQuery().filter(record)
        assert "s3cret" not in record.getMessage()
