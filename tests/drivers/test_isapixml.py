"""ISAPI parsers on the recorded samples of protocols/hikvision-isapi.md (both namespaces, and none)."""

from __future__ import annotations

import pytest

from enforcer.drivers._wire.upgrade import same_version
from enforcer.drivers.isapi import _parse as p
from enforcer.drivers.isapi._xml import document, elements, parse, response_status, user_check
from enforcer.errors import XmlError
from enforcer.facts import IPFilterFact

ISAPI = 'xmlns="http://www.isapi.org/ver20/XMLSchema"'
HIK = 'xmlns="http://www.hikvision.com/ver20/XMLSchema"'

UNLOCK_NS = f"""<userCheck version="2.0" {ISAPI}>
  <statusValue>401</statusValue><statusString>Unauthorized</statusString><isActivated>true</isActivated>
  <lockStatus>unlock</lockStatus><unlockTime>0</unlockTime><retryLoginTime>4</retryLoginTime></userCheck>"""
UNLOCK_BARE = """<userCheck><statusValue>401</statusValue><statusString>Unauthorized</statusString>
<lockStatus>unlock</lockStatus><unlockTime>0</unlockTime><retryLoginTime>5</retryLoginTime></userCheck>"""
LOCKED_S7 = """<?xml version="1.0" encoding="UTF-8" ?>
<userCheck>
<statusValue>401</statusValue>
<statusString>Unauthorized</statusString>
<lockStatus>lock</lockStatus>
<unlockTime>210</unlockTime>
<retryLoginTime>0</retryLoginTime>
</userCheck>"""
SUCCESS = f"""<userCheck version="2.0" {ISAPI}>
  <statusValue>200</statusValue><statusString>OK</statusString>
  <isDefaultPassword>false</isDefaultPassword><isRiskPassword>true</isRiskPassword>
  <isActivated>true</isActivated></userCheck>"""


def test_user_check_bodies() -> None:
    a = user_check(UNLOCK_NS.encode())
    assert a is not None and not a.locked and a.attempts_left == 4 and a.status == 401
    b = user_check(UNLOCK_BARE.encode())
    assert b is not None and not b.locked and b.attempts_left == 5
    c = user_check(LOCKED_S7.encode())
    assert c is not None and c.locked and c.unlock_seconds == 210 and c.attempts_left == 0
    d = user_check(LOCKED_S7.replace("<lockStatus>lock<", "<lockStatus>locked<").encode())  # the docs' spelling
    assert d is not None and d.locked
    ok = user_check(SUCCESS.encode())
    assert ok is not None and ok.is_default is False and ok.is_risk is True and ok.status == 200
    old = user_check(b"<userCheck><statusValue>200</statusValue><statusString>OK</statusString></userCheck>")
    assert old is not None and old.is_default is None and old.attempts_left is None
    assert user_check(b"<html>401</html>") is None and user_check(b"") is None


def test_response_status() -> None:
    body = f"""<ResponseStatus version="2.0" {ISAPI}><requestURL>/ISAPI/Streaming/channels/101/picture</requestURL>
      <statusCode>6</statusCode><statusString>Invalid XML Content</statusString>
      <subStatusCode>badXmlContent</subStatusCode>
      </ResponseStatus>"""
    st = response_status(parse(body.encode()))
    assert st is not None and not st.ok and st.describe() == "6 Invalid XML Content / badXmlContent"
    ok = response_status(
        parse(b"<ResponseStatus><statusCode>1</statusCode><statusString>OK</statusString></ResponseStatus>")
    )
    assert ok is not None and ok.ok
    assert response_status(parse(b"<DeviceInfo/>")) is None


DEVICE_IPC = f"""<DeviceInfo version="2.0" {HIK}>
  <deviceName>IP CAMERA</deviceName><deviceID>d2d94000-f70b-00b0-00a0-acb00f000000</deviceID>
  <model>DS-2CD2146G2-ISU</model><serialNumber>DS-2CD2146G2-ISU00000000AAWRG00000000</serialNumber>
  <macAddress>cb:6e:4f:d0:7b:1f</macAddress><firmwareVersion>V5.7.17</firmwareVersion>
  <firmwareReleasedDate>build 240606</firmwareReleasedDate><deviceType>IPCamera</deviceType></DeviceInfo>"""
DEVICE_NVR = f"""<DeviceInfo version="2.0" {ISAPI}>
  <deviceName>nvr</deviceName><model>DS-7608NXI-I2/8P/S</model>
  <serialNumber>DS-7608NXI-I0/0P/S0000000000CCRRJ00000000WCVU</serialNumber>
  <firmwareVersion>V4.62.210</firmwareVersion><firmwareReleasedDate>build 230619</firmwareReleasedDate>
  <deviceType>NVR</deviceType></DeviceInfo>"""


def test_device_info_both_namespaces() -> None:
    ipc = p.device_info(DEVICE_IPC.encode())
    assert (ipc.model, ipc.firmware_version, ipc.firmware_build, ipc.device_type) == (
        "DS-2CD2146G2-ISU",
        "V5.7.17",
        "240606",
        "IPCamera",
    )
    nvr = p.device_info(DEVICE_NVR.encode())
    assert nvr.model == "DS-7608NXI-I2/8P/S" and nvr.device_type == "NVR" and nvr.serial.endswith("WCVU")
    with pytest.raises(XmlError):
        p.device_info(b"<UserList/>")


def test_users() -> None:
    body = f'<UserList version="2.0" {ISAPI}><User><id>1</id><userName>admin</userName>'
    body += "<userLevel>Administrator</userLevel></User><User><id>2</id><enabled>false</enabled>"
    body += "<userName>op</userName><userLevel>operator</userLevel></User></UserList>"
    admin, op = p.users(body.encode())
    assert (admin.name, admin.level, admin.id, admin.enabled) == ("admin", "administrator", "1", True)
    assert (op.level, op.enabled) == ("operator", False)


LOCK_S9 = f"""<IllegalLoginLock version="2.0" {ISAPI}>
  <enabled>true</enabled><maxIllegalLoginTimes>5</maxIllegalLoginTimes>
  <maxIllegalLoginLockTime>1800</maxIllegalLoginLockTime></IllegalLoginLock>"""
CAPS_IPC = f"""<SecurityCap version="2.0" {HIK}><issupIllegalLoginLock>true</issupIllegalLoginLock>
  <maxIllegalLoginTimes min="3" max="20" def="7"/><maxIllegalLoginLockTime min="1" max="120" def="30"/></SecurityCap>"""


def test_lock_policy_units() -> None:
    caps = p.lock_caps(CAPS_IPC.encode())
    assert caps == p.LockCaps(True, (3, 20), (1, 120))
    minutes = LOCK_S9.replace(">1800<", ">30<").encode()
    # caps decide: a 1..120 range is minutes
    unit = p.lock_unit(caps, "X", "V9", 30)
    assert unit == "minutes" and p.lock_policy(minutes, unit, caps).lock_seconds == 1800
    assert p.lock_policy(minutes, unit, caps).attempts_range == (3, 20)
    # a 1..7200 range is seconds
    assert p.lock_unit(p.LockCaps(time_range=(1, 7200)), "X", "V9", 30) == "seconds"
    # no caps: the firmware table, never the value alone
    assert p.lock_unit(None, "DS-2CD2386G2-IU", "V5.7.15", 600) == "minutes"
    # no caps, unknown firmware: 1800 cannot be minutes (no firmware offers more than 120)
    unit = p.lock_unit(None, "DS-7608NXI-I2", "V4.62.210", 1800)
    policy = p.lock_policy(LOCK_S9.encode(), unit)
    assert unit == "seconds" and (policy.enabled, policy.max_attempts, policy.lock_seconds) == (True, 5, 1800)
    partial = p.lock_policy(b"<IllegalLoginLock><enabled>false</enabled></IllegalLoginLock>", "minutes")
    assert not partial.enabled and partial.max_attempts is None and partial.lock_seconds is None


CHANNELS = f"""<InputProxyChannelList version="2.0" {ISAPI} size="4">
  <InputProxyChannel>
    <id>1</id><name>garden</name>
    <sourceInputPortDescriptor>
      <proxyProtocol>HIKVISION</proxyProtocol><addressingFormatType>ipaddress</addressingFormatType>
      <ipAddress>1.0.0.236</ipAddress><managePortNo>8000</managePortNo><srcInputPort>1</srcInputPort>
      <userName>admin</userName><connMode>plugplay</connMode><streamType>auto</streamType><model>DS-2CD2386G2-IU</model>
    </sourceInputPortDescriptor>
    <certificateValidationEnabled>false</certificateValidationEnabled>
  </InputProxyChannel>
  <InputProxyChannel version="1.0" {HIK}><id>2</id><name>old</name><sourceInputPortDescriptor>
    <proxyProtocol>ONVIF</proxyProtocol><ipAddress>192.168.254.5</ipAddress><managePortNo>80</managePortNo>
    <userName>viewer</userName><model/></sourceInputPortDescriptor></InputProxyChannel>
</InputProxyChannelList>"""
STATUS = f"""<InputProxyChannelStatusList version="2.0" {ISAPI}>
  <InputProxyChannelStatus><id>1</id><sourceInputPortDescriptor><ipAddress>192.168.1.64</ipAddress></sourceInputPortDescriptor>
    <online>true</online><chanDetectResult>connect</chanDetectResult></InputProxyChannelStatus>
  <InputProxyChannelStatus><id>2</id><online>false</online><chanDetectResult>errorUserNameOrPasswd</chanDetectResult>
  </InputProxyChannelStatus></InputProxyChannelStatusList>"""
STATUS_ONE = (
    f'<InputProxyChannelStatus version="1.0" {HIK}><id>1</id><online>true</online>'
    "<chanDetectResult>connect</chanDetectResult></InputProxyChannelStatus>"
)


def test_channels_and_status() -> None:
    configured = p.channels(CHANNELS.encode())
    assert [(c.id, c.address, c.port, c.user, c.protocol) for c in configured] == [
        (1, "1.0.0.236", 8000, "admin", "HIKVISION"),
        (2, "192.168.254.5", 80, "viewer", "ONVIF"),
    ]
    facts = p.channel_facts(configured, p.channel_status(STATUS.encode()))
    assert [(f.id, f.online, f.detect) for f in facts] == [(1, True, "connect"), (2, False, "errorUserNameOrPasswd")]
    assert p.channel_status(STATUS_ONE.encode()) == {1: (True, "connect")}
    odd = p.channel_status(b"<InputProxyChannelStatusList><InputProxyChannelStatus><id>3</id>"
                           b"<chanDetectResult>ipcStreamFail</chanDetectResult></InputProxyChannelStatus>"
                           b"</InputProxyChannelStatusList>")  # fmt: skip
    assert odd == {3: (False, "unknown")}
    missing = p.channel_facts(configured, {})
    assert all(not f.online and f.detect == "unknown" for f in missing)


def test_ip_filter_sample_and_short_form() -> None:
    body = f"""<IPFilter version="2.0" {ISAPI}><enabled>true</enabled><permissionType>deny</permissionType>
      <IPFilterAddressList size="32"><IPFilterAddress><id>1</id><permissionType>deny</permissionType>
      <addressFilterType>mask</addressFilterType><AddressMask><ipAddress>203.0.113.21</ipAddress></AddressMask>
      </IPFilterAddress></IPFilterAddressList></IPFilter>"""
    assert p.ip_filter(body.encode()) == IPFilterFact(True, "deny", ("203.0.113.21",))
    short = b"<IPFilter><enabled>false</enabled><permissionType>allow</permissionType><IPFilterAddressList>"
    short += (
        b"<IPFilterAddress><id>1</id><ipAddress>10.0.0.5</ipAddress></IPFilterAddress></IPFilterAddressList></IPFilter>"
    )
    assert p.ip_filter(short) == IPFilterFact(False, "allow", ("10.0.0.5",))


def test_upgrade_status_and_versions() -> None:
    body = f'<upgradeStatus version="2.0" {ISAPI}><upgrading>true</upgrading><percent>42</percent></upgradeStatus>'
    assert p.upgrade_status(body.encode()) == p.Upgrade(True, 42)
    assert same_version("V5.7.17", "5.7.17") and same_version("V5.7.15 build 240201", "V5.7.15")
    assert not same_version("V5.7.1", "V5.7.17")


@pytest.mark.parametrize(
    "body",
    [
        b"<DeviceInfo><model>x</model>",  # truncated
        b"<DeviceInfo><model>x</DeviceInfo>",  # malformed
        b'<!DOCTYPE lol [<!ENTITY a "aaaa">]><DeviceInfo><model>&a;</model></DeviceInfo>',  # entity expansion
        "<DeviceInfo/>".encode("utf-16"),
        b"",
    ],
)
def test_bad_xml_is_refused(body: bytes) -> None:
    with pytest.raises(XmlError):
        p.device_info(body)


def test_bodies_are_escaped() -> None:
    body = document("User", elements([("userName", "a<b"), ("password", 'p&"<x>'), ("level", None), ("on", True)]))
    root = parse(body)
    assert root.findtext("password") == 'p&"<x>' and root.findtext("userName") == "a<b"
    assert root.findtext("on") == "true" and root.find("level") is None


def test_a_reply_that_is_the_resource_is_not_parsed_for_a_status(monkeypatch: pytest.MonkeyPatch) -> None:
    """Judging a reply looks for a ResponseStatus; a resource (deviceInfo, users) is parsed once, by its
    reader, not here as well: XML parsing was a tenth of a fleet's facts."""
    from enforcer.drivers._wire.digest import Reply
    from enforcer.drivers.isapi import _session

    status = _session._status_of(Reply(200, (), b"<ResponseStatus><statusCode>4</statusCode></ResponseStatus>"))
    assert status is not None and status.code == 4

    def parse_not_expected(body: bytes) -> None:
        raise AssertionError("parsed")

    monkeypatch.setattr(_session, "parse", parse_not_expected)
    assert _session._status_of(Reply(200, (), DEVICE_NVR.encode())) is None
