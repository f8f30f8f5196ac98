"""Reading a device's security log: the pure parsers on the protocol notes' replies, then both drivers against
the lab (every failure by source on ISAPI, every lock on Dahua, paging and window splitting past the 2,000-entry
cap, a firmware without a log as a capability gap), spending no failed login of their own."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from enforcer.credentials.secret import Secret
from enforcer.drivers.base import SupportsSecurityLog
from enforcer.drivers.dahua import _log as dahua_log
from enforcer.drivers.isapi import _log as isapi_log
from enforcer.lab.isapi.log import LogEntry
from enforcer.lab.net.httpclient import login_flow, run_flow
from enforcer.lab.spec import LabProfile, LabSpec
from tests.drivers.test_dahua_lab import dh_camera, dh_device, driver
from tests.lab.conftest import wait_for

from .conftest import ENFORCER, Bench, device_for, lab_camera

CAM = "Cam1-Pass!x9"

# The reply a public client pasted from an NVR (protocols/hikvision-isapi.md, "Security log", S24), with a
# failed login added in each spelling, one from a local action and one naming remoteHostIPAddress.
S24 = b"""<?xml version="1.0" encoding="UTF-8" ?>
<CMSearchResult version="1.0" xmlns="http://www.hikvision.com/ver20/XMLSchema">
<searchID>{484a3530-3939-3239-3038-240f9b2d60ab}</searchID><responseStatus>true</responseStatus>
<responseStatusStrg>MORE</responseStatusStrg><numOfMatches>5</numOfMatches>
<matchList><searchMatchItem><logDescriptor>
<metaId>log.hikvision.com/Operation/remoteDisArm</metaId><StartDateTime>2023-05-01T12:50:38Z</StartDateTime>
<paraType></paraType><userName>admin</userName><ipAddress>172.16.0.1</ipAddress>
</logDescriptor></searchMatchItem>
<searchMatchItem><logDescriptor><metaId>log.hikvision.com/Exception/illlegealAccess</metaId>
<StartDateTime>2023-05-01T12:51:00Z</StartDateTime><userName>operator</userName><ipAddress>172.16.0.55</ipAddress>
</logDescriptor></searchMatchItem>
<searchMatchItem><logDescriptor><metaId>log.std-cgi.com/Exception/illegalAccess/D16</metaId>
<StartDateTime>2023-05-01T12:52:00Z</StartDateTime><userName>admin</userName><ipAddress>10.0.0.1</ipAddress>
<remoteHostIPAddress>172.16.0.77</remoteHostIPAddress></logDescriptor></searchMatchItem>
<searchMatchItem><logDescriptor><metaId>log.hikvision.com/Exception/illlegealAccess</metaId>
<StartDateTime>2023-05-01T12:53:00Z</StartDateTime><userName>admin</userName><ipAddress>0.0.0.0</ipAddress>
</logDescriptor></searchMatchItem>
<searchMatchItem><logDescriptor><metaId>log.hikvision.com/Operation/remoteLogin</metaId>
<StartDateTime>2023-05-01T12:54:00Z</StartDateTime><userName>admin</userName><ipAddress>172.16.0.55</ipAddress>
</logDescriptor></searchMatchItem></matchList></CMSearchResult>"""


def utc(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def test_isapi_failures_are_read_in_both_spellings_by_source_and_in_utc() -> None:
    page = isapi_log.parse_page(S24)
    assert page.status == "MORE" and len(page.entries) == 5
    shift = isapi_log.offset(b"<Time><localTime>2023-05-01T09:50:57-03:00</localTime></Time>")
    assert shift == timedelta(hours=-3)
    events = isapi_log.failures(list(page.entries), shift)
    assert [(e.source, e.user, e.kind) for e in events] == [
        ("172.16.0.55", "operator", "failure"),
        ("172.16.0.77", "admin", "failure"),  # remoteHostIPAddress wins over ipAddress; 0.0.0.0 is dropped
    ]
    assert events[0].time == utc("2023-05-01T15:51:00")  # the device's wall clock, marked Z, is UTC-3


def test_isapi_search_is_sent_as_the_device_expects() -> None:
    body = isapi_log.search_body(datetime(2023, 5, 1), datetime(2023, 5, 8, 1), 200, "C9827E2B")
    text = body.decode()
    assert (
        "<metaId>log.std-cgi.com/Exception</metaId>" in text
        and "<searchResultPostion>200</searchResultPostion>" in text
    )
    assert "<startTime>2023-05-01T00:00:00Z</startTime>" in text and "MetaId" not in text


def test_dahua_lock_and_failure_entries_are_told_from_logins() -> None:
    body = (
        b"found=4\r\n"
        b"items[0].Detail.Address=192.168.1.2\r\nitems[0].Detail.Type=CGI\r\nitems[0].Level=0\r\n"
        b"items[0].Time=2020-01-02 22:05:33\r\nitems[0].Type=Login\r\nitems[0].User=admin\r\n"
        b"items[1].Detail.Address=192.168.1.9\r\nitems[1].Detail.Type=Lock\r\n"
        b"items[1].Time=2020-01-02 22:06:00\r\nitems[1].Type=Event.LoginFailure\r\nitems[1].User=operator\r\n"
        b"items[2].Detail.Address=192.168.1.7\r\nitems[2].Detail.Info=Illegal Login\r\nmore text folded\r\n"
        b"items[2].Time=2020-01-02 22:07:00\r\nitems[2].Type=Alarm\r\nitems[2].User=admin\r\n"
        b"items[3].Detail.Address=192.168.1.9\r\nitems[3].Detail.Type=Unlock\r\n"
        b"items[3].Time=2020-01-02 22:36:00\r\nitems[3].Type=Event.LoginFailure\r\nitems[3].User=operator\r\n"
    )
    events, found = dahua_log.events(body, timedelta(hours=1))
    assert found == 4
    assert [(e.source, e.user, e.kind) for e in events] == [
        ("192.168.1.9", "operator", "lock"),
        ("192.168.1.7", "admin", "failure"),
    ]
    assert events[0].time == utc("2020-01-02T21:06:00")


def test_dahua_offset_is_rounded_to_a_quarter_hour() -> None:
    now = datetime(2026, 1, 1, 12, 0, 0)
    assert dahua_log.offset(now + timedelta(hours=5, minutes=30, seconds=41), now) == timedelta(hours=5, minutes=30)
    assert dahua_log.offset(now - timedelta(seconds=20), now) == timedelta(0)


def _fail(address: str, port: int, source: str, user: str, uri: str, times: int) -> None:
    for _ in range(times):
        flow = login_flow(user, "wrong-Pass-1", uri=uri)
        assert asyncio.run(run_flow(flow, address, port, source=source)) == "auth_failed"


@pytest.mark.lab
def test_isapi_driver_reads_every_failure_by_source_and_spends_nothing(bench: Callable[..., Bench]) -> None:
    cam = lab_camera("cam", "127.0.170.2", CAM)
    b = bench(LabSpec([cam]))
    _fail(cam.address, cam.port, "127.0.0.21", "operator", "/ISAPI/Security/userCheck", 3)
    _fail(cam.address, cam.port, "127.0.0.22", "installer", "/ISAPI/Security/userCheck", 1)
    drv = b.driver(device_for(cam, CAM))
    b.credentials.table[("s1/cam", "admin")] = [("current", Secret(CAM, "test"))]
    drv.facts()
    assert isinstance(drv, SupportsSecurityLog)
    log = drv.failed_logins(datetime.now(UTC).timestamp() - 3600)
    assert log.gap is None and log.records == "failures" and not log.truncated
    assert Counter((e.source, e.user) for e in log.events) == {
        ("127.0.0.21", "operator"): 3,
        ("127.0.0.22", "installer"): 1,
    }
    assert b.events("auth_failed", source=ENFORCER) == []


@pytest.mark.lab
def test_isapi_driver_splits_a_window_past_the_2000_entry_cap(bench: Callable[..., Bench]) -> None:
    cam = lab_camera("cam", "127.0.171.2", CAM)
    b = bench(LabSpec([cam]))
    now = datetime.now(UTC).timestamp()
    entries = [
        LogEntry(now - 60 * i - 30, "Exception", "illlegealAccess", "admin", f"127.0.9.{i % 3}") for i in range(2600)
    ]
    b.fleet.call(lambda: b.fleet.devices["cam"].seclog.entries.extend(entries))  # type: ignore[attr-defined]
    drv = b.driver(device_for(cam, CAM))
    b.credentials.table[("s1/cam", "admin")] = [("current", Secret(CAM, "test"))]
    drv.facts()
    log = drv.failed_logins(now - 3 * 86400)
    assert len(log.events) == 2600 and not log.truncated
    assert Counter(e.source for e in log.events) == {"127.0.9.0": 867, "127.0.9.1": 867, "127.0.9.2": 866}


@pytest.mark.lab
def test_isapi_firmware_without_a_log_search_is_a_gap(bench: Callable[..., Bench]) -> None:
    cam = lab_camera("cam", "127.0.172.2", CAM, profile=LabProfile(lacks=("log_search",)))
    b = bench(LabSpec([cam]))
    drv = b.driver(device_for(cam, CAM))
    b.credentials.table[("s1/cam", "admin")] = [("current", Secret(CAM, "test"))]
    drv.facts()
    log = drv.failed_logins(0.0)
    assert log.events == () and log.gap is not None and "notSupport" in log.gap.detail


@pytest.mark.lab
def test_dahua_driver_reads_the_locks_each_source_caused(bench: Callable[..., Bench]) -> None:
    cam = dh_camera("cam", "127.0.173.2", lock=(3, 60))
    b = bench(LabSpec([cam]))
    uri = "/cgi-bin/magicBox.cgi?action=getMachineName"
    _fail(cam.address, cam.port, "127.0.0.31", "installer", uri, 3)  # a lock of its own account
    wait_for(lambda: b.events("locked", source="127.0.0.31"))
    drv = driver(b, dh_device(cam, CAM))
    b.credentials.table[("s1/cam", "admin")] = [("current", Secret(CAM, "test"))]
    drv.facts()
    log = drv.failed_logins(datetime.now(UTC).timestamp() - 3600)
    assert log.records == "locks" and log.gap is None
    assert [(e.source, e.user, e.kind) for e in log.events] == [("127.0.0.31", "installer", "lock")]
    assert b.events("auth_failed", source=ENFORCER) == []


@pytest.mark.lab
def test_dahua_firmware_without_log_cgi_is_a_gap(bench: Callable[..., Bench]) -> None:
    cam = dh_camera("cam", "127.0.174.2", lacks=("log.startFind",))
    b = bench(LabSpec([cam]))
    drv = driver(b, dh_device(cam, CAM))
    b.credentials.table[("s1/cam", "admin")] = [("current", Secret(CAM, "test"))]
    drv.facts()
    log = drv.failed_logins(0.0)
    assert log.events == () and log.gap is not None and "log.cgi" in log.gap.detail


@pytest.mark.lab
@pytest.mark.parametrize(
    ("password", "default", "weak"), [("admin", True, True), ("12345678", False, True), (CAM, False, False)]
)
def test_dahua_driver_flags_factory_and_weak_passwords_as_isapi_firmware_does(
    bench: Callable[..., Bench], password: str, default: bool, weak: bool
) -> None:
    """Dahua firmware reports no flag: the driver judges the password it proved by the vendor's rules."""
    cam = dh_camera("cam", "127.0.175.2", password)
    b = bench(LabSpec([cam]))
    drv = driver(b, dh_device(cam, password))
    b.credentials.table[("s1/cam", "admin")] = [("current", Secret(password, "test"))]
    login = drv.facts().login
    assert login is not None and (login.is_default, login.is_risk) == (default, weak)
