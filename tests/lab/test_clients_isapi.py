"""Real third-party ISAPI clients from PyPI, unmodified, against the lab over real sockets.

- pyHik 0.4.8, the library of Home Assistant's Hikvision integration: ``HikCamera`` opens with deviceInfo
  (Basic first, then digest), the event triggers and motion detection, and holds the alert stream open;
  ``get_video_channels`` and ``ISAPIClient`` list cameras and streams.
- hikvisionapi 0.3.2, a scripting client: ``Client`` opens with ``/ISAPI/System/status`` (Basic, then
  digest) and reaches any path by attribute.

Each call these tests make succeeds, with no failed login from the client's address. A client left with
a stale password locks the device for its address as in the field: each reconnection (Home Assistant
retrying the integration's setup, a script run again by cron) spends one failed digest login, and the
lab's events file shows the lock. They connect from 127.0.0.1, as the libraries cannot bind a source.
"""

from __future__ import annotations

import logging
import threading
import xml.etree.ElementTree as ET

import pytest
import requests
from hikvisionapi import Client
from pyhik.hikvision import HikCamera, get_video_channels
from pyhik.isapi import ISAPIClient

from enforcer.lab.fleet import Fleet
from enforcer.lab.spec import LabChannel, LabLockPolicy, LabSpec

from .conftest import CAM_PW, NVR_PW, Start, camera, events_of, get, recorder, wait_for

pytestmark = pytest.mark.lab

# pyHik quiets urllib3 when imported (``setLevel(ERROR)`` on its logger), for the whole process; the
# driver tests read urllib3's debug lines to prove no secret reaches a log. Give them back.
logging.getLogger("urllib3").setLevel(logging.NOTSET)

CLIENT = "127.0.0.1"  # where the libraries connect from
LONG_LOCK = LabLockPolicy(enabled=True, max_attempts=3, lock_seconds=3000)  # 30 s real: outlasts the test


def site(net: str) -> LabSpec:
    """A recorder of two cameras on the SDK port, as real recorders store them."""
    cams = [camera("cam1", f"{net}.2"), camera("cam2", f"{net}.3")]
    channels = [LabChannel(i, c.name, c.address, 8000, "admin", CAM_PW) for i, c in enumerate(cams, start=1)]
    return LabSpec([recorder("nvr", f"{net}.1", channels), *cams])


def our_failures(fleet: Fleet) -> list[dict[str, object]]:
    return events_of(fleet, "auth_failed", source=CLIENT)


def test_home_assistant_pyhik_reads_a_camera_and_a_recorder(start: Start) -> None:
    fleet = start(site("127.0.150"))
    wait_for(lambda: fleet.device("nvr")["channels"][1]["status"] == "connect", timeout=10)
    cam = HikCamera("http://127.0.150.2", 8080, "admin", CAM_PW)
    assert (cam.get_name, cam.get_type) == ("cam1", "CAM") and len(str(cam.get_id)) > 10
    assert set(cam.current_event_states) == {"Motion", "Illegal Access"}
    assert cam.current_motion_detection_state is False
    cam.enable_motion_detection()
    assert cam.get_motion_detection() is True and events_of(fleet, "motion_detection_changed", enabled=True)
    snapshot = cam.get_snapshot()
    assert snapshot is not None and snapshot.startswith(b"\xff\xd8")
    assert [(c.id, c.name) for c in get_video_channels("127.0.150.2", 8080, "admin", CAM_PW)] == [(1, "cam1")]
    nvr = HikCamera("http://127.0.150.1", 8080, "admin", NVR_PW)
    assert (nvr.get_name, nvr.get_type) == ("nvr", "NVR")
    assert [c[1] for c in nvr.current_event_states["Motion"]] == [1, 2]
    listed = get_video_channels("127.0.150.1", 8080, "admin", NVR_PW)  # Video/inputs 403, then InputProxy
    assert [(c.id, c.name, c.enabled) for c in listed] == [(1, "cam1", True), (2, "cam2", True)]
    picture = nvr.get_snapshot(2)
    assert picture is not None and picture.startswith(b"\xff\xd8")
    assert our_failures(fleet) == []  # its opening Basic attempt with the right password costs nothing


def test_home_assistant_sees_illegal_logins_on_the_alert_stream(start: Start) -> None:
    fleet = start(site("127.0.151"))
    nvr = HikCamera("http://127.0.151.1", 8080, "admin", NVR_PW)
    tripped = threading.Event()

    def changed(sensor: str) -> None:
        state = nvr.fetch_attributes("Illegal Access", 1)
        if state and state[0]:
            tripped.set()

    nvr.add_update_callback(changed, f"{nvr.get_id}.Illegal Access.1")
    nvr.start_stream()
    try:
        wait_for(lambda: nvr.stream_connected, timeout=10)
        # a stale viewer elsewhere fails a login: the recorder posts illaccess on every open stream
        assert (
            get(fleet.url("nvr") + "/ISAPI/Security/userCheck", "admin", "stale", source="127.0.151.50").status_code
            == 401
        )
        assert tripped.wait(10)
    finally:
        nvr.disconnect()
    assert not nvr.stream_connected


def test_pyhik_isapi_client(start: Start) -> None:
    fleet = start(site("127.0.152"))
    with ISAPIClient("127.0.152.1", 8080, "admin", NVR_PW) as client:
        assert (client.get_device_model(), client.get_device_type()) == ("DS-7608NXI-I2", "NVR")
        cameras = client.get_cameras()
        assert [(c.id, c.name, [s.id for s in c.streams]) for c in cameras] == [
            (1, "cam1", ["101", "102"]),
            (2, "cam2", ["201", "202"]),
        ]
        assert client.get_snapshot(channel=2).startswith(b"\xff\xd8")
        status = client.custom_request("GET", "/ISAPI/System/status")
        assert int(status["DeviceStatus"]["deviceUpTime"]) >= 0
    assert our_failures(fleet) == []


def test_hikvisionapi_scripting_client(start: Start) -> None:
    fleet = start(site("127.0.153"))
    wait_for(lambda: fleet.device("nvr")["channels"][0]["status"] == "connect", timeout=10)
    api = Client("http://127.0.153.1:8080", "admin", NVR_PW)  # GET /ISAPI/System/status on connecting
    info = api.System.deviceInfo(method="get")["DeviceInfo"]
    assert (info["model"], info["deviceType"]) == ("DS-7608NXI-I2", "NVR")
    assert api.System.time(method="get")["Time"]["timeMode"] == "NTP"
    channel = api.ContentMgmt.InputProxy.channels[1](method="get")["InputProxyChannel"]
    port = channel["sourceInputPortDescriptor"]
    assert (port["proxyProtocol"], port["managePortNo"], port["model"]) == ("HIKVISION", "8000", "DS-2CD2146G2-ISU")
    accesses = api.Security.adminAccesses(method="get")["AdminAccessProtocolList"]["AdminAccessProtocol"]
    assert {a["protocol"]: a["portNo"] for a in accesses}["DEV_MANAGE"] == "8000"
    streams = api.Streaming.channels(method="get")["StreamingChannelList"]["StreamingChannel"]
    assert [s["id"] for s in streams] == ["101", "102", "201", "202"]
    assert api.Streaming.channels[101].picture(method="get", type="opaque_data").content.startswith(b"\xff\xd8")
    [alert] = api.Event.notification.alertStream(method="get", type="stream")
    assert alert["EventNotificationAlert"]["eventType"] == "videoloss"  # the keep-alive
    caps = ET.fromstring(api.System.capabilities(method="get", present="text"))
    assert caps.find("{*}SysCap/{*}NetworkCap/{*}isSupportIPFilter") is not None
    assert our_failures(fleet) == []


@pytest.mark.parametrize("library", ["pyhik", "hikvisionapi"])
def test_a_stale_client_locks_the_device_as_in_the_field(start: Start, library: str) -> None:
    """The password changed; the client was not told. Each reconnection spends one failed digest login
    (its Basic attempt counts nothing on digest-only firmware), until the camera locks its address."""
    fleet = start(LabSpec([camera("cam", "127.0.154.2", lock_policy=LONG_LOCK)]))
    url = fleet.url("cam")

    def reconnect(password: str) -> bool:
        if library == "pyhik":  # Home Assistant retrying the integration's setup
            return HikCamera(url, 8080, "admin", password).get_name is not None
        try:  # a script run again
            Client(url, "admin", password)
        except requests.HTTPError:
            return False
        return True

    for _ in range(LONG_LOCK.max_attempts):
        assert not reconnect("Old-Pass!1")
    [locked] = events_of(fleet, "locked", device="cam")
    assert locked["source"] == CLIENT
    failed = our_failures(fleet)
    assert [e["attempts_left"] for e in failed] == [2, 1, 0] and {e["reason"] for e in failed} == {"bad_credentials"}
    # locked for that address: the right password is refused too, as in the field; other hosts still log in
    assert not reconnect(CAM_PW)
    assert [e["reason"] for e in our_failures(fleet)][-1] == "locked"
    check = get(url + "/ISAPI/Security/userCheck", "admin", CAM_PW)
    assert check.status_code == 401 and "<lockStatus>lock</lockStatus>" in check.text
    assert get(url + "/ISAPI/Security/userCheck", "admin", CAM_PW, source="127.0.154.50").status_code == 200
