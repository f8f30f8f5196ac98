"""Firmware, reboot, IP filter, errors, HTTPS and the security log (protocol §3.4–3.8, §4, "Security log")."""

from __future__ import annotations

import socket
import time
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest
import requests

from enforcer.lab.firmware import build_image
from enforcer.lab.spec import LabIPFilter, LabLockPolicy, LabProfile, LabSpec

from .conftest import CAM_PW, SCALE, Start, camera, events_of, get, wait_for

pytestmark = pytest.mark.lab

OCTET = {"Content-Type": "application/octet-stream"}


def fields(text: str) -> dict[str, str]:
    return {el.tag.split("}")[-1]: (el.text or "") for el in ET.fromstring(text.encode()).iter()}


def refused(address: str, port: int = 8080) -> bool:
    try:
        socket.create_connection((address, port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


def test_firmware_upload_reboot_and_new_version(start: Start) -> None:
    # a 150 device-s upgrade (1.5 s real), then down for 200 device-s: the status read right after the
    # upload finds the upgrade running, and the polling below finds the device down
    fleet = start(LabSpec([camera("cam", "127.0.30.2", profile=LabProfile(reboot_seconds=200, upgrade_seconds=150))]))
    url = fleet.url("cam") + "/ISAPI/System/updateFirmware"
    image = build_image("DS-2CD2146G2-ISU", "V5.8.10", "250301")
    as_xml = get(url, "admin", CAM_PW, method="PUT", data=image, headers={"Content-Type": "application/xml"})
    f = fields(as_xml.text)
    assert as_xml.status_code == 400 and (f["statusCode"], f["subStatusCode"]) == ("6", "badXmlContent")
    other = build_image("DS-7608NXI-I2", "V5.8.10", "250301")
    mismatch = get(url, "admin", CAM_PW, method="POST", data=other, headers=OCTET)
    assert mismatch.status_code == 403 and "upgrade packet mismatch" in mismatch.text
    accepted = get(url, "admin", CAM_PW, method="POST", data=image, headers=OCTET)
    assert accepted.status_code == 200 and fields(accepted.text)["statusCode"] == "1"
    status = fields(get(fleet.url("cam") + "/ISAPI/System/upgradeStatus", "admin", CAM_PW).text)
    assert status["upgrading"] == "true" and 0 <= int(status["percent"]) < 100
    # connections are refused while the device is down
    wait_for(lambda: refused("127.0.30.2"), timeout=10, step=0.01)
    wait_for(lambda: not refused("127.0.30.2"), timeout=10)
    info = fields(get(fleet.url("cam") + "/ISAPI/System/deviceInfo", "admin", CAM_PW).text)
    assert (info["firmwareVersion"], info["firmwareReleasedDate"]) == ("V5.8.10", "build 250301")
    kinds = [e["event"] for e in fleet.read_events()]
    order = ["firmware_rejected", "firmware_uploaded", "reboot", "firmware_changed", "booted"]
    assert [k for k in kinds if k in order] == order
    fleet.flush()
    assert fleet.device("cam")["firmware"] == "V5.8.10"
    assert '"firmware": "V5.8.10"' in fleet.state_path.read_text()


def test_reboot_refuses_connections_voids_nonces_and_clears_locks(start: Start) -> None:
    # down for 200 device-s (2 s real): still down after the pause below, however slow the machine; the
    # lock (3000 device-s) cannot run out on its own before the reboot or during it: only the reboot clears it
    lock = LabLockPolicy(enabled=True, max_attempts=3, lock_seconds=3000)
    cam = camera("cam", "127.0.31.2", lock_policy=lock, profile=LabProfile(reboot_seconds=200))
    fleet = start(LabSpec([cam]))
    base = fleet.url("cam")
    for _ in range(3):
        get(base + "/ISAPI/Security/userCheck", "admin", "bad", source="127.0.31.50")
    assert get(base + "/ISAPI/System/reboot", "admin", CAM_PW, method="GET").status_code == 405
    s = requests.Session()
    s.auth = requests.auth.HTTPDigestAuth("admin", CAM_PW)
    assert s.put(base + "/ISAPI/System/reboot", timeout=5).status_code == 200
    assert wait_for(lambda: refused("127.0.31.2"), timeout=10, step=0.01)
    time.sleep(20 * SCALE)
    assert refused("127.0.31.2")
    wait_for(lambda: not refused("127.0.31.2"), timeout=10)
    # the session's old nonce is void: requests re-handshakes once after stale="TRUE"
    again = s.get(base + "/ISAPI/Security/userCheck", timeout=5)
    assert again.status_code == 200
    assert not events_of(fleet, "auth_failed", source="127.0.0.1")  # a void nonce is stale, not a failure
    assert get(base + "/ISAPI/Security/userCheck", "admin", CAM_PW, source="127.0.31.50").status_code == 200
    assert events_of(fleet, "unlocked", source="127.0.31.50", reason="reboot")
    s.close()


def test_ip_filter_is_enforced_before_authentication(start: Start) -> None:
    fleet = start(LabSpec([camera("cam", "127.0.32.2")]))
    url = fleet.url("cam") + "/ISAPI/System/Network/ipFilter"
    allow = (
        '<IPFilter xmlns="http://www.isapi.org/ver20/XMLSchema"><enabled>true</enabled><permissionType>allow</permissionType>'
        "<IPFilterAddressList><IPFilterAddress><id>1</id><permissionType>allow</permissionType>"
        "<addressFilterType>mask</addressFilterType><AddressMask><ipAddress>127.0.32.50</ipAddress></AddressMask>"
        "</IPFilterAddress></IPFilterAddressList></IPFilter>"
    )
    assert get(url, "admin", CAM_PW, method="PUT", data=allow, source="127.0.32.50").status_code == 200
    blocked = get(fleet.url("cam") + "/ISAPI/Security/userCheck", source="127.0.32.51")  # not even a challenge
    f = fields(blocked.text)
    assert blocked.status_code == 403 and (f["statusCode"], f["subStatusCode"]) == ("6", "forbiddenIP")
    assert "WWW-Authenticate" not in blocked.headers
    for _ in range(5):  # blocked attempts never reach the lock
        get(fleet.url("cam") + "/ISAPI/Security/userCheck", "admin", "bad", source="127.0.32.51")
    assert not events_of(fleet, "auth_failed")
    assert len(events_of(fleet, "blocked", source="127.0.32.51")) == 5 + 1
    listing = get(url, "admin", CAM_PW, source="127.0.32.50").text
    assert "<ipAddress>127.0.32.50</ipAddress>" in listing and "<permissionType>allow</permissionType>" in listing
    deny = (
        "<IPFilter><enabled>true</enabled><permissionType>deny</permissionType><IPFilterAddressList>"
        "<IPFilterAddress><id>1</id><ipAddress>127.0.32.50</ipAddress></IPFilterAddress>"
        "</IPFilterAddressList></IPFilter>"
    )
    assert get(url, "admin", CAM_PW, method="PUT", data=deny, source="127.0.32.50").status_code == 200
    assert get(fleet.url("cam") + "/ISAPI/Security/userCheck", "admin", CAM_PW, source="127.0.32.51").status_code == 200
    assert get(fleet.url("cam") + "/ISAPI/Security/userCheck", source="127.0.32.50").status_code == 403
    assert fleet.device("cam")["ip_filter"] == {"enabled": True, "mode": "deny", "addresses": ["127.0.32.50"]}
    assert len(events_of(fleet, "ip_filter_changed")) == 2


def test_spec_filter_applies_from_start(start: Start) -> None:
    cam = camera("cam", "127.0.33.2", ip_filter=LabIPFilter(enabled=True, mode="deny", addresses=["127.0.33.9"]))
    fleet = start(LabSpec([cam]))
    assert get(fleet.url("cam") + "/ISAPI/System/deviceInfo", source="127.0.33.9").status_code == 403


def test_documented_errors(start: Start) -> None:
    fleet = start(LabSpec([camera("cam", "127.0.34.2")]))
    base = fleet.url("cam")
    bad = get(base + "/ISAPI/Security/illegalLoginLock", "admin", CAM_PW, method="PUT", data=b"<IllegalLoginLock><enab")
    assert bad.status_code == 400 and fields(bad.text)["subStatusCode"] == "badXmlFormat"
    assert fields(bad.text)["statusCode"] == "5"
    wrong_root = get(base + "/ISAPI/Security/illegalLoginLock", "admin", CAM_PW, method="PUT", data=b"<Foo/>")
    assert wrong_root.status_code == 400 and fields(wrong_root.text)["subStatusCode"] == "badXmlContent"
    unknown = get(base + "/ISAPI/Nope", "admin", CAM_PW)  # most firmware: 403 notSupport
    assert unknown.status_code == 403 and fields(unknown.text)["subStatusCode"] == "notSupport"
    assert get(base + "/ISAPI/Nope").status_code == 401  # unknown paths still need authentication
    assert get(base + "/ISAPI/System/deviceInfo", "admin", CAM_PW, method="DELETE").status_code == 405
    chans = get(base + "/ISAPI/ContentMgmt/InputProxy/channels", "admin", CAM_PW)
    assert chans.status_code == 403 and fields(chans.text)["statusCode"] == "4"  # cameras have no channels


def test_https_with_the_generated_certificate(start: Start) -> None:
    fleet = start(LabSpec([camera("cam", "127.0.35.2", scheme="https")]))
    assert fleet.cert_path is not None and fleet.cert_path.is_file()
    url = fleet.url("cam")
    assert url.startswith("https://")
    r = requests.get(
        url + "/ISAPI/System/deviceInfo",
        auth=requests.auth.HTTPDigestAuth("admin", CAM_PW),
        verify=str(fleet.cert_path),
    )
    assert r.status_code == 200 and "<firmwareVersion>V5.7.17</firmwareVersion>" in r.text
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(url + "/ISAPI/System/deviceInfo", timeout=5)  # not trusted without the pin


def test_log_search_records_failures_with_source(start: Start) -> None:
    fleet = start(LabSpec([camera("cam", "127.0.36.2")]))
    base = fleet.url("cam")
    get(base + "/ISAPI/Security/userCheck", "intruder", "x", source="127.0.36.77")
    get(base + "/ISAPI/Security/userCheck", "admin", CAM_PW, source="127.0.36.50")
    now = datetime.now(UTC)
    span = (
        f"<timeSpanList><timeSpan><startTime>{(now - timedelta(hours=1)):%Y-%m-%dT%H:%M:%SZ}</startTime>"
        f"<endTime>{(now + timedelta(hours=1)):%Y-%m-%dT%H:%M:%SZ}</endTime></timeSpan></timeSpanList>"
    )

    def search(meta: str, pos: int = 0, size: int = 40) -> str:
        xml = (
            f'<?xml version="1.0" encoding="utf-8"?><CMSearchDescription><searchID>C9827E2B-D5B0</searchID>'
            f"<metaId>{meta}</metaId>{span}<maxResults>{size}</maxResults>"
            f"<searchResultPostion>{pos}</searchResultPostion></CMSearchDescription>"
        )
        r = get(base + "/ISAPI/ContentMgmt/logSearch", "admin", CAM_PW, source="127.0.36.50", method="POST", data=xml)
        assert r.status_code == 200
        return r.text

    exc = search("log.std-cgi.com/Exception")
    f = fields(exc)
    assert f["searchID"] == "{C9827E2B-D5B0}" and f["responseStatusStrg"] == "OK" and f["numOfMatches"] == "1"
    assert f["metaId"] == "log.hikvision.com/Exception/illlegealAccess"
    assert (f["userName"], f["ipAddress"]) == ("intruder", "127.0.36.77") and f["StartDateTime"].endswith("Z")
    ops = fields(search("log.hikvision.com/Operation/remoteLogin", size=1))
    assert ops["userName"] == "admin" and ops["ipAddress"] == "127.0.36.50" and ops["responseStatusStrg"] == "MORE"
    assert fields(search("log.std-cgi.com/Alarm"))["responseStatusStrg"] == "NO MATCHES"
    assert fields(search("log.std-cgi.com/exception"))["numOfMatches"] == "0"  # case-sensitive
    capital = get(
        base + "/ISAPI/ContentMgmt/logSearch",
        "admin",
        CAM_PW,
        method="POST",
        data="<CMSearchDescription><MetaId>log.std-cgi.com</MetaId></CMSearchDescription>",
    )
    assert capital.status_code == 400 and fields(capital.text)["subStatusCode"] == "badXmlContent"
