"""The ISAPI lab where it must match real firmware: resources a model lacks, channel protocols and ports,
the older ``hikvision.com`` namespace, nested capabilities (protocol §1, §3.7, §3.9)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from enforcer.lab.spec import UNSUPPORTABLE, LabChannel, LabProfile, LabSpec

from .conftest import CAM_PW, NVR_PW, Start, camera, get, recorder, wait_for

pytestmark = pytest.mark.lab

CHANNELS = "/ISAPI/ContentMgmt/InputProxy/channels"
HIK_NS = "http://www.hikvision.com/ver20/XMLSchema"


def status_of(text: str) -> tuple[str, str]:
    root = ET.fromstring(text.encode())
    return root.findtext("{*}statusCode") or "", root.findtext("{*}subStatusCode") or ""


@pytest.mark.parametrize(
    ("feature", "path"),
    [
        ("lock_policy", "/ISAPI/Security/illegalLoginLock"),
        ("ip_filter", "/ISAPI/System/Network/ipFilter"),
        ("channels", CHANNELS),
        ("channel_status", CHANNELS + "/status"),
    ],
)
def test_a_resource_the_firmware_lacks_is_403_not_support(start: Start, feature: str, path: str) -> None:
    assert feature in UNSUPPORTABLE
    cam = camera("cam", "127.0.160.2")
    nvr = recorder(
        "nvr",
        "127.0.160.1",
        [LabChannel(1, "cam", cam.address, 8000, "admin", CAM_PW)],
        profile=LabProfile(namespace="isapi", lacks=(feature,)),
    )
    fleet = start(LabSpec([nvr, cam]))
    lacking = get(fleet.url("nvr") + path, "admin", NVR_PW)
    assert lacking.status_code == 403 and status_of(lacking.text) == ("4", "notSupport")
    assert get(fleet.url("nvr") + path).status_code == 401  # authentication comes first, as on devices
    caps = ET.fromstring(get(fleet.url("nvr") + "/ISAPI/System/capabilities", "admin", NVR_PW).content)
    ip_filter = caps.findtext("{*}SysCap/{*}NetworkCap/{*}isSupportIPFilter")
    assert ip_filter == ("false" if feature == "ip_filter" else "true")
    # everything else answers as usual
    assert get(fleet.url("nvr") + "/ISAPI/System/deviceInfo", "admin", NVR_PW).status_code == 200


def test_unknown_resources_403_or_404_per_profile(start: Start) -> None:
    fleet = start(
        LabSpec(
            [camera("a", "127.0.161.2"), camera("b", "127.0.161.3", profile=LabProfile(unknown_resource_status=404))]
        )
    )
    a = get(fleet.url("a") + "/ISAPI/Thermal/channels", "admin", CAM_PW)
    assert a.status_code == 403 and status_of(a.text) == ("4", "notSupport")
    assert get(fleet.url("b") + "/ISAPI/Thermal/channels", "admin", CAM_PW).status_code == 404


def test_a_channel_reaches_its_camera_on_the_port_its_protocol_uses(start: Start) -> None:
    """HIKVISION on the SDK port connects; on the HTTP port it never does (a repair writing the wrong port
    takes the camera offline); ONVIF is the other way round."""
    cams = [camera(f"cam{i}", f"127.0.162.{i + 1}") for i in range(1, 5)]
    channels = [
        LabChannel(1, "cam1", "127.0.162.2", 8000, "admin", CAM_PW),
        LabChannel(2, "cam2", "127.0.162.3", 8080, "admin", CAM_PW),
        LabChannel(3, "cam3", "127.0.162.4", 8080, "admin", CAM_PW, protocol="onvif"),
        LabChannel(4, "cam4", "127.0.162.5", 8000, "admin", CAM_PW, protocol="onvif"),
    ]
    fleet = start(LabSpec([recorder("nvr", "127.0.162.1", channels), *cams]))
    want = ["connect", "netUnreachable", "connect", "netUnreachable"]
    wait_for(lambda: [c["status"] for c in fleet.device("nvr")["channels"]] == want, timeout=10)
    listing = ET.fromstring(get(fleet.url("nvr") + CHANNELS, "admin", NVR_PW).content)
    shown = {
        el.findtext("{*}id"): (
            el.findtext("{*}sourceInputPortDescriptor/{*}proxyProtocol"),
            el.findtext("{*}sourceInputPortDescriptor/{*}model"),
        )
        for el in listing.findall("{*}InputProxyChannel")
    }
    # a channel that never connected has empty model, serial and firmware, as on real recorders
    assert shown == {
        "1": ("HIKVISION", "DS-2CD2146G2-ISU"),
        "2": ("HIKVISION", ""),
        "3": ("ONVIF", "DS-2CD2146G2-ISU"),
        "4": ("ONVIF", ""),
    }
    # repair channel 2: the recorder keeps HIKVISION, so it must be the SDK port
    body = (
        "<InputProxyChannel><id>2</id><sourceInputPortDescriptor><proxyProtocol>HIKVISION</proxyProtocol>"
        f"<ipAddress>127.0.162.3</ipAddress><managePortNo>8000</managePortNo><userName>admin</userName>"
        f"<password>{CAM_PW}</password></sourceInputPortDescriptor></InputProxyChannel>"
    )
    assert get(fleet.url("nvr") + CHANNELS + "/2", "admin", NVR_PW, method="PUT", data=body).status_code == 200
    wait_for(lambda: fleet.device("nvr")["channels"][1]["status"] == "connect", timeout=10)


def test_channel_logins_on_the_sdk_port_spend_the_cameras_lock_budget(start: Start) -> None:
    cam = camera("cam", "127.0.163.2")  # locks after 3
    nvr = recorder("nvr", "127.0.163.1", [LabChannel(1, "cam", cam.address, 8000, "admin", "stale!")])
    fleet = start(LabSpec([nvr, cam]))
    wait_for(lambda: [e for e in fleet.read_events() if e["event"] == "locked" and e["source"] == "127.0.163.1"])
    # locked for the recorder's address only: the SDK and HTTP logins share the budget of that address
    assert get(fleet.url("cam") + "/ISAPI/Security/userCheck", "admin", CAM_PW).status_code == 200
    assert get(fleet.url("cam") + "/ISAPI/Security/userCheck", "admin", CAM_PW, source="127.0.163.1").status_code == 401


def test_older_recorders_hikvision_namespace_version_1(start: Start) -> None:
    """DS-7616NI-K2 V4.74 style: ``hikvision.com``, ``version="1.0"``, repeated on each channel (S1)."""
    cam = camera("cam", "127.0.164.2")
    nvr = recorder(
        "nvr",
        "127.0.164.1",
        [LabChannel(1, "cam", cam.address, 8000, "admin", CAM_PW)],
        profile=LabProfile(namespace="hikvision", xml_version="1.0"),
    )
    fleet = start(LabSpec([nvr, cam]))
    listing = get(fleet.url("nvr") + CHANNELS, "admin", NVR_PW).text
    assert f'<InputProxyChannelList version="1.0" xmlns="{HIK_NS}"' in listing
    assert f'<InputProxyChannel version="1.0" xmlns="{HIK_NS}">' in listing


def test_first_reads_of_common_clients(start: Start) -> None:
    fleet = start(LabSpec([camera("cam", "127.0.165.2")]))
    base = fleet.url("cam")
    status = ET.fromstring(get(base + "/ISAPI/System/status", "admin", CAM_PW).content)
    assert int(status.findtext("{*}deviceUpTime") or "-1") >= 0 and status.find("{*}CPUList/{*}CPU") is not None
    clock = ET.fromstring(get(base + "/ISAPI/System/time", "admin", CAM_PW).content)
    assert clock.findtext("{*}localTime", "").endswith("+00:00")
    caps = ET.fromstring(get(base + "/ISAPI/System/capabilities", "admin", CAM_PW).content)
    assert caps.find("{*}SysCap/{*}NetworkCap") is not None and caps.find("{*}NetworkCap") is None
    assert caps.findtext("{*}SecurityCap/{*}issupIllegalLoginLock") == "true"
    accesses = ET.fromstring(get(base + "/ISAPI/Security/adminAccesses", "admin", CAM_PW).content)
    ports = {a.findtext("{*}protocol"): a.findtext("{*}portNo") for a in accesses}
    assert ports["DEV_MANAGE"] == "8000" and ports["HTTP"] == "8080"
    assert get(base + "/ISAPI/System/Video/inputs/channels/1/motionDetection", "admin", CAM_PW).status_code == 200
    picture = get(base + "/ISAPI/Streaming/channels/101/picture", "admin", CAM_PW)
    assert picture.headers["Content-Type"] == "image/jpeg" and picture.content.startswith(b"\xff\xd8")
