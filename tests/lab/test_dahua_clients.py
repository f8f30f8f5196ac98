"""Real third-party Dahua/Amcrest clients, unmodified, against the simulated device over real sockets.

- ``amcrest`` (python-amcrest 1.9.9), the library Home Assistant's Amcrest integration uses: CGI
  over digest, Basic tried first; every call the integration's camera update makes, sync and async.
- ``dahua-rpc-api`` 0.1.5, a scripting client: the RPC2 login (it keeps the challenge's session id,
  as devices do) and the RPC2 calls it offers.

Each call they make succeeds against a healthy device, and the same client configured with a stale
password locks the account for everyone, as in the field: the lab's events file shows it.
"""

from __future__ import annotations

import asyncio
import datetime
from typing import Any

import pytest
from amcrest import AmcrestCamera, LoginError
from dahua.client import DahuaRpc
from dahua.exceptions import DahuaHasBeenLocked, DahuaInvalidCredentials

from enforcer.lab.fleet import Fleet
from enforcer.lab.spec import LabLockPolicy, LabSpec

from .conftest import DH_PW, MACHINE, Start, cgi, dahua_camera, dahua_recorder, events_of, wait_for

pytestmark = pytest.mark.lab

STALE = "Stale0ld!pw"
PORT = 8080


def amcrest(address: str, password: str = DH_PW) -> Any:
    """python-amcrest as Home Assistant builds it (``AmcrestChecker`` is this ``ApiWrapper``)."""
    return AmcrestCamera(address, PORT, "admin", password, timeout_protocol=(3.0, 5.0)).camera


def test_python_amcrest_reads_what_home_assistant_reads(start: Start) -> None:
    fleet = start(LabSpec([dahua_camera("dc", "127.0.132.1")]))
    cam = amcrest("127.0.132.1")
    lab = fleet.device("dc")
    assert cam.serial_number == lab["serial"]  # the first call: Basic refused, then digest, no failure
    assert (cam.vendor_information, cam.device_type, cam.machine_name) == ("Dahua", "IPC-HDW5831R-ZE", "dc")
    assert cam.software_information[0] == "2.800.0000016.0.R"
    assert cam.hardware_version == "1.00"
    assert abs(cam.current_time - datetime.datetime.now()) < datetime.timedelta(minutes=1)
    assert cam.rtsp_url() == f"rtsp://admin:{DH_PW}@127.0.132.1:554/cam/realmonitor?channel=1&subtype=0"
    assert cam.is_video_enabled(channel=0) is True and cam.is_audio_enabled() is False
    assert cam.record_mode == "Automatic"
    assert cam.is_motion_detector_on() is True and cam.is_record_on_motion_detection() is True
    assert cam.day_night_color == 1
    assert cam.storage_all["used_percent"] == "25.0"
    for text in (cam.general_config, cam.network_config, cam.ntp_config, cam.video_channel_title):
        assert text.startswith("table.") and "Error" not in text
    assert "users[0].Name=admin" in cam.info_all_users
    assert cam.set_motion_detection(False) is True and cam.is_motion_detector_on() is False
    now = datetime.datetime.now()
    pages = list(cam.log_find(now - datetime.timedelta(hours=1), now + datetime.timedelta(hours=1)))
    assert "items[0].Type=Login" in pages[0] and "items[0].Detail.Type=CGI" in pages[0]
    assert pages[-1].startswith("found=0")
    assert events_of(fleet, "auth_failed") == []
    assert events_of(fleet, "config_changed", keys=["MotionDetect[0].Enable"])


def test_python_amcrest_async_calls_as_the_integration_polls(start: Start) -> None:
    start(LabSpec([dahua_recorder("dn", "127.0.132.2", [], password=DH_PW)]))
    cam = amcrest("127.0.132.2")

    async def update() -> tuple[Any, ...]:
        return (
            await cam.async_vendor_information,
            await cam.async_device_type,
            (await cam.async_serial_number).strip(),
            await cam.async_rtsp_url(typeno=0),
            await cam.async_is_video_enabled(channel=0, stream="Main"),
            await cam.async_record_mode,
            await cam.async_is_motion_detector_on(),
            await cam.async_is_audio_enabled(channel=0, stream="Main"),
            await cam.async_is_record_on_motion_detection(),
            await cam.async_day_night_color,
            await cam.async_current_time,
        )

    got = asyncio.run(update())
    assert got[:3] == ("Dahua", "DHI-NVR5232-4KS2", "7F0A1B2C3D4E5F6")
    assert got[4:10] == (True, "Automatic", True, False, True, 1)


def test_python_amcrest_with_a_stale_password_locks_the_account_for_everyone(start: Start) -> None:
    fleet = start(LabSpec([dahua_camera("dc", "127.0.132.3", lock=LabLockPolicy(True, 5, 1800))]))
    cam = amcrest("127.0.132.3", STALE)
    for _ in range(3):  # Home Assistant's checker polls on; each token costs a Basic and a digest try
        with pytest.raises(LoginError):
            _ = cam.current_time
    failed = events_of(fleet, "auth_failed", user="admin")
    assert [e["reason"] for e in failed[:2]] == ["basic_refused", "bad_credentials"]
    [locked] = events_of(fleet, "locked", user="admin")
    assert locked["source"] == "127.0.0.1" and locked["key"] == "user:admin"
    # the account, not the stale client, is locked: the right password is refused too
    assert cgi(fleet, "dc", MACHINE, source="127.0.132.200").status_code == 401
    assert events_of(fleet, "auth_failed", reason="locked", source="127.0.132.200")


def test_dahua_rpc_api_logs_in_and_every_call_succeeds(start: Start) -> None:
    fleet = start(LabSpec([dahua_camera("dc", "127.0.132.4")]))
    client = DahuaRpc("127.0.132.4", PORT)
    client.login("admin", DH_PW)
    assert client.is_logged_in()
    lab = fleet.device("dc")
    assert client.magic_box.get_device_type() == "IPC-HDW5831R-ZE"
    assert client.magic_box.get_serial_number() == lab["serial"]
    assert client.magic_box.get_software_version()["Version"] == "2.800.0000016.0.R"
    users = client.user_manager.get_user_info_all()
    assert [u["Name"] for u in users] == ["admin", "op"] and users[0]["Password"] == "******"
    [active] = client.user_manager.get_active_user_info_all()
    assert (active["Name"], active["ClientAddress"]) == ("admin", "127.0.0.1")
    assert client.upgrader.get_state()["State"] == "Free"
    assert "magicBox.getDeviceType" in client.magic_box.list_method()
    general = client.request_json("configManager.getConfig", {"name": "General"})["params"]["table"]
    assert (general["LockLoginEnable"], general["LockLoginTimes"]) == (True, 3)
    assert client.request_json("global.keepAlive", {"timeout": 300, "active": True})["params"] == {"timeout": 60}
    client.logout()
    assert events_of(fleet, "auth_failed") == []


def test_dahua_rpc_api_with_a_stale_password_locks_the_account(start: Start) -> None:
    fleet = start(LabSpec([dahua_camera("dc", "127.0.132.5")]))  # 3 attempts
    for _ in range(2):
        with pytest.raises(DahuaInvalidCredentials):
            DahuaRpc("127.0.132.5", PORT).login("admin", STALE)
    with pytest.raises(DahuaHasBeenLocked):  # the third failure locks the account
        DahuaRpc("127.0.132.5", PORT).login("admin", STALE)
    assert [e["attempts_left"] for e in events_of(fleet, "auth_failed", user="admin")] == [2, 1, 0]
    assert events_of(fleet, "locked", user="admin", key="user:admin")
    with pytest.raises(DahuaHasBeenLocked):  # everyone, the right password included
        DahuaRpc("127.0.132.5", PORT).login("admin", DH_PW)


def test_a_client_reading_what_the_firmware_lacks_gets_its_answer(start: Start) -> None:
    fleet: Fleet = start(
        LabSpec([dahua_camera("dc", "127.0.132.6", lacks=["NTP", "magicBox.getVendor"], unsupported_status=501)])
    )
    cam = amcrest("127.0.132.6")
    with pytest.raises(Exception, match="501"):
        _ = cam.vendor_information
    with pytest.raises(Exception, match="400"):
        _ = cam.ntp_config
    assert cam.device_type == "IPC-HDW5831R-ZE"
    client = DahuaRpc("127.0.132.6", PORT)
    client.login("admin", DH_PW)
    reply = client.request_json("configManager.getConfig", {"name": "NTP"}, verify=False)
    assert reply["error"]["code"] == 268959743
    wait_for(lambda: not events_of(fleet, "auth_failed"), timeout=1)
