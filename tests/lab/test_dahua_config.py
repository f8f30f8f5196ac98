"""The simulated Dahua device's userManager, configManager, RemoteDevice, firmware and reboot.

Wire contract: docs/dahua-wire.md; protocol facts: protocols/dahua-cgi.md §4–6.
"""

from __future__ import annotations

import time
from urllib.parse import quote

import pytest
import requests

from enforcer.lab.firmware import build_image
from enforcer.lab.spec import LabChannel, LabLockPolicy, LabSpec

from .conftest import (
    DH_PW,
    MACHINE,
    NVR_DH_PW,
    SCALE,
    Start,
    cgi,
    dahua_camera,
    dahua_recorder,
    events_of,
    get,
    kv,
    rpc,
    rpc_login,
    session_from,
    wait_for,
)

pytestmark = pytest.mark.lab

USERS = "/cgi-bin/userManager.cgi?action="
CONFIG = "/cgi-bin/configManager.cgi?action="
ODD_PW = "Pa=s%w+#1x"  # characters a raw query would corrupt (``&`` is refused as weak by the device)
AMP_PW = "Old&Pa=s%+#1"  # set behind the device's back: ``&`` only ever travels as ``pwdOld``


def q(value: str) -> str:
    return quote(value, safe="")


def test_magicbox_and_global_reads(start: Start) -> None:
    fleet = start(LabSpec([dahua_camera("dc", "127.0.131.2"), dahua_recorder("dn", "127.0.131.1", [])]))
    box = "/cgi-bin/magicBox.cgi?action="
    assert cgi(fleet, "dc", box + "getSoftwareVersion").text == "version=2.800.0000016.0.R,build:2024-10-30\r\n"
    assert cgi(fleet, "dc", box + "getDeviceType").text == "type=IPC-HDW5831R-ZE\r\n"
    assert kv(cgi(fleet, "dc", box + "getSerialNo").text)["sn"] == fleet.device("dc")["serial"]
    info = kv(cgi(fleet, "dn", box + "getSystemInfo", pw=NVR_DH_PW).text)
    assert (info["deviceType"], info["updateSerial"], info["hardwareVersion"]) == ("31", "DHI-NVR5232-4KS2", "1.00")
    assert kv(cgi(fleet, "dc", box + "getSystemInfo").text)["deviceType"] == "IPC-HDW5831R-ZE"
    now = kv(cgi(fleet, "dc", "/cgi-bin/global.cgi?action=getCurrentTime").text)["result"]
    assert len(now) == 19 and now[4] == "-" and now[13] == ":"
    assert cgi(fleet, "dc", box + "noSuchAction").status_code == 400
    assert cgi(fleet, "dc", "/cgi-bin/nothing.cgi?action=x").status_code == 404


def test_user_manager_lists_adds_modifies_deletes(start: Start) -> None:
    fleet = start(LabSpec([dahua_camera("dc", "127.0.131.3")]))
    users = kv(cgi(fleet, "dc", USERS + "getUserInfoAll").text)
    assert users["users[0].Password"] == "******" and users["users[0].Reserved"] == "true"
    assert (users["users[1].Name"], users["users[1].Group"], users["users[1].AuthorityList[2]"]) == (
        "op",
        "user",
        "AuthBackup",
    )
    add = f"{USERS}addUser&user.Name=v2&user.Password={q(ODD_PW)}&user.Group=user&user.Memo=night%20guard"
    assert cgi(fleet, "dc", add).text == "OK\r\n"
    assert fleet.password("dc", "v2") == ODD_PW
    assert cgi(fleet, "dc", MACHINE, "v2", ODD_PW).status_code == 200
    one = kv(cgi(fleet, "dc", USERS + "getUserInfo&name=v2").text)
    assert (one["user.Id"], one["user.Memo"], one["user.AuthorityList[0]"]) == ("3", "night guard", "Monitor_01")
    assert "user.AuthorityList[1]" not in one  # a viewer
    assert cgi(fleet, "dc", add).text == "Error\r\n"  # duplicate
    weak = f"{USERS}addUser&user.Name=w&user.Password=password&user.Group=user"
    assert cgi(fleet, "dc", weak).text.startswith("Error")
    assert cgi(fleet, "dc", f"{USERS}addUser&user.Name=w&user.Password=Ab1;defgh&user.Group=user").text == "Error\r\n"
    auths = "user.AuthorityList%5B0%5D=Monitor_01&user.AuthorityList[1]=Replay_01"  # encoded and raw brackets
    upgrade = f"{USERS}modifyUser&name=v2&user.Group=user&{auths}"
    assert cgi(fleet, "dc", upgrade).text == "OK\r\n"
    assert fleet.device("dc")["accounts"][2]["level"] == "operator"
    assert cgi(fleet, "dc", USERS + "deleteUser&name=op").text == "OK\r\n"
    assert cgi(fleet, "dc", USERS + "deleteUser&name=admin").text == "Error\r\n"  # reserved
    assert cgi(fleet, "dc", USERS + "deleteUser&name=ghost").text == "Error\r\n"
    gaps = kv(cgi(fleet, "dc", USERS + "getUserInfoAll").text)
    assert "users[1].Name" not in gaps and gaps["users[2].Name"] == "v2"  # index = id - 1
    denied = cgi(fleet, "dc", USERS + "deleteUser&name=v2", "v2", ODD_PW)  # an operator may not
    assert (denied.status_code, denied.text) == (403, "Authority:check failure.")
    kinds = [(e["event"], e["user"], e.get("fields")) for e in fleet.read_events() if e["event"].startswith("account")]
    assert kinds == [
        ("account_added", "v2", None),
        ("account_changed", "v2", ["level"]),
        ("account_deleted", "op", None),
    ]


def test_modify_password_needs_the_old_one_and_has_its_own_lock(start: Start) -> None:
    # the modify lock lasts as long as the login lock: 150 device-s (1.5 s real), waited out below
    lock = LabLockPolicy(enabled=True, max_attempts=3, lock_seconds=150)
    fleet = start(LabSpec([dahua_camera("dc", "127.0.131.4", lock=lock)]))
    token = rpc_login(fleet, "dc", "admin", DH_PW)[1]["session"]
    change = f"{USERS}modifyPassword&name=admin&pwd={q(ODD_PW)}&pwdOld="
    assert cgi(fleet, "dc", change + q("Wrong1!xx")).text == "Error\r\n"
    assert cgi(fleet, "dc", change + q(DH_PW)).text == "OK\r\n"
    assert cgi(fleet, "dc", MACHINE).status_code == 401  # the old password fails at once
    assert cgi(fleet, "dc", MACHINE, pw=ODD_PW).status_code == 200
    dead = rpc(fleet, "dc", {"method": "global.keepAlive", "id": 5, "session": token}, path="/RPC2")
    assert dead["error"]["code"] == 287637505  # sessions of that user ended
    same = f"{USERS}modifyPassword&name=admin&pwd={q(ODD_PW)}&pwdOld={q(ODD_PW)}"
    assert cgi(fleet, "dc", same, pw=ODD_PW).text == "OK\r\n"
    assert len(events_of(fleet, "account_changed")) == 1  # no change, no event
    weak = f"{USERS}modifyPassword&name=admin&pwd=short&pwdOld={q(ODD_PW)}"
    assert cgi(fleet, "dc", weak, pw=ODD_PW).text == "Error\r\n"
    wrong_old = f"{USERS}modifyPassword&name=admin&pwd={q(ODD_PW)}&pwdOld=x"
    for _ in range(5):  # the right pwdOld above cleared the first failure
        assert cgi(fleet, "dc", wrong_old, pw=ODD_PW).text == "Error\r\n"
    assert cgi(fleet, "dc", same, pw=ODD_PW).text == "Error\r\n"  # locked: even the right pwdOld
    assert cgi(fleet, "dc", MACHINE, pw=ODD_PW).status_code == 200  # the login lock is another one
    assert events_of(fleet, "modify_password_locked", user="admin")
    assert [e["attempts_left"] for e in events_of(fleet, "auth_failed", reason="old_password")] == [4, 4, 3, 2, 1, 0]
    time.sleep(150 * SCALE + 0.3)  # the modify lock (never swept) runs out
    assert cgi(fleet, "dc", wrong_old, pw=ODD_PW).text == "Error\r\n"  # one failure, no new lock
    assert len(events_of(fleet, "modify_password_locked", user="admin")) == 1
    assert events_of(fleet, "auth_failed", reason="old_password")[-1]["attempts_left"] == 4
    assert cgi(fleet, "dc", same, pw=ODD_PW).text == "OK\r\n"


def test_modify_password_decodes_every_special_character(start: Start) -> None:
    fleet = start(LabSpec([dahua_camera("dc", "127.0.131.12")]))
    fleet.set_account_password("dc", "op", AMP_PW)
    change = f"{USERS}modifyPassword&name=op&pwd={q(ODD_PW)}&pwdOld={q(AMP_PW)}"
    assert cgi(fleet, "dc", change).text == "OK\r\n"
    assert fleet.password("dc", "op") == ODD_PW
    assert cgi(fleet, "dc", MACHINE, "op", ODD_PW).status_code == 200
    assert not events_of(fleet, "auth_failed")


def test_set_config_general_is_all_or_nothing(start: Start) -> None:
    fleet = start(LabSpec([dahua_camera("dc", "127.0.131.5")]))
    general = kv(cgi(fleet, "dc", CONFIG + "getConfig&name=General").text)
    assert general["table.General.LockLoginTimes"] == "3" and general["table.General.LoginFailLockTime"] == "60"
    assert cgi(fleet, "dc", CONFIG + "getConfig&name=General.MachineName").text == "table.General.MachineName=dc\r\n"
    bad = CONFIG + "setConfig&General.LockLoginTimes=5&General.NoSuchKey=1"
    assert cgi(fleet, "dc", bad).text == "Error\r\n"
    assert (
        cgi(fleet, "dc", CONFIG + "setConfig&General.LockLoginTimes=5&General.LoginFailLockTime=30").text == "Error\r\n"
    )
    assert fleet.device("dc")["lock_policy"]["max_attempts"] == 3  # nothing changed
    good = CONFIG + "setConfig&General.LockLoginEnable=true&General.LockLoginTimes=5&General.LoginFailLockTime=1800"
    assert cgi(fleet, "dc", good).text == "OK\r\n"
    assert fleet.device("dc")["lock_policy"] == {"enabled": True, "max_attempts": 5, "lock_seconds": 1800}
    [changed] = events_of(fleet, "lock_policy_changed")
    assert (changed["max_attempts"], changed["lock_seconds"]) == (5, 1800)
    assert cgi(fleet, "dc", CONFIG + "getConfig&name=NoSuch").status_code == 400
    assert cgi(fleet, "dc", CONFIG + "getConfig&name=RemoteDevice").status_code == 400  # cameras have none


def test_unknown_config_403_option(start: Start) -> None:
    fleet = start(LabSpec([dahua_camera("dc", "127.0.131.6", unknown_config_status=403)]))
    r = cgi(fleet, "dc", CONFIG + "getConfig&name=NoSuch")
    assert (r.status_code, r.text) == (403, "Authority:check failure.")


def test_ip_filter_config_blocks_before_authentication(start: Start) -> None:
    fleet = start(LabSpec([dahua_camera("dc", "127.0.131.7")]))
    me, other = "127.0.131.50", "127.0.131.51"
    wrong_list = CONFIG + "setConfig&IPFilter.Enable=true&IPFilter.Type=TrustList&IPFilter.BannedList[0]=1.2.3.4"
    assert cgi(fleet, "dc", wrong_list, source=me).text == "Error\r\n"
    gap = CONFIG + f"setConfig&IPFilter.Enable=true&IPFilter.Type=TrustList&IPFilter.TrustList[1]={me}"
    assert cgi(fleet, "dc", gap, source=me).text == "Error\r\n"
    trust = CONFIG + f"setConfig&IPFilter.Enable=true&IPFilter.Type=TrustList&IPFilter.TrustList%5B0%5D={me}"
    assert cgi(fleet, "dc", trust, source=me).text == "OK\r\n"
    shown = kv(cgi(fleet, "dc", CONFIG + "getConfig&name=IPFilter", source=me).text)
    assert shown == {
        "table.IPFilter.Enable": "true",
        "table.IPFilter.Type": "TrustList",
        "table.IPFilter.TrustList[0]": me,
    }
    refused = cgi(fleet, "dc", MACHINE, "admin", "Wrong1!xx", source=other)
    assert (refused.status_code, refused.text) == (403, "Error\r\nIP not permitted!\r\n")
    assert events_of(fleet, "blocked", source=other) and not events_of(fleet, "auth_failed")
    assert events_of(fleet, "ip_filter_changed", mode="allow", addresses=[me])


def test_remote_device_and_camera_state(start: Start) -> None:
    cam = dahua_camera("dc", "127.0.131.9", lock=None)
    nvr = dahua_recorder("dn", "127.0.131.8", [LabChannel(1, "dc", "127.0.131.9", 8080, "admin", "Stale1!xx")])
    fleet = start(LabSpec([cam, nvr]))
    wait_for(lambda: events_of(fleet, "channel_status", result="errorUserNameOrPasswd"), timeout=10)
    state = kv(
        cgi(fleet, "dn", "/cgi-bin/LogicDeviceManager.cgi?action=getCameraState&uniqueChannels=-1", pw=NVR_DH_PW).text
    )
    assert (state["states[0].channel"], state["states[0].connectionState"]) == ("0", "Unconnect")
    assert state["states[3].connectionState"] == "Empty" and "states[4].channel" not in state
    why = "/cgi-bin/LogicDeviceManager.cgi?action=getCameraLoginErrorCode&channel="
    assert cgi(fleet, "dn", why + "0", pw=NVR_DH_PW).text == "errorCode=268632085\r\n"  # the stale password
    assert cgi(fleet, "dn", why + "1", pw=NVR_DH_PW).text.startswith("Error")  # an empty slot
    failed = events_of(fleet, "auth_failed", source="127.0.131.8")
    assert failed and failed[0]["device"] == "dc"  # the recorder really logged into its camera
    remote = kv(cgi(fleet, "dn", CONFIG + "getConfig&name=RemoteDevice", pw=NVR_DH_PW).text)
    slot = "table.RemoteDevice.uuid:System_CONFIG_NETCAMERA_INFO_"
    assert (remote[slot + "0.Address"], remote[slot + "0.HttpPort"], remote[slot + "0.Password"]) == (
        "127.0.131.9",
        "8080",
        "******",
    )
    assert (remote[slot + "1.Enable"], remote[slot + "1.Address"], remote[slot + "1.UserName"]) == (
        "false",
        "192.168.0.0",
        "",
    )
    fix = f"{CONFIG}setConfig&RemoteDevice.uuid%3ASystem_CONFIG_NETCAMERA_INFO_0.Password={q(DH_PW)}"
    assert cgi(fleet, "dn", fix, pw=NVR_DH_PW).text == "OK\r\n"
    path = "/cgi-bin/LogicDeviceManager.cgi?action=getCameraState&uniqueChannels=-1"
    wait_for(
        lambda: kv(cgi(fleet, "dn", path, pw=NVR_DH_PW).text)["states[0].connectionState"] == "Connected", timeout=10
    )
    assert cgi(fleet, "dn", why + "0", pw=NVR_DH_PW).text == "errorCode=0\r\n"
    [changed] = events_of(fleet, "channel_changed")
    assert (changed["channel"], changed["camera"], "password" not in changed) == (1, "dc", True)
    new = "RemoteDevice.uuid:System_CONFIG_NETCAMERA_INFO_2"
    add = f"{CONFIG}setConfig&{new}.Address=127.0.131.9&{new}.HttpPort=8080&{new}.Password={q(DH_PW)}"
    assert cgi(fleet, "dn", add, pw=NVR_DH_PW).text == "OK\r\n"
    assert events_of(fleet, "channel_added", channel=3)
    assert cgi(fleet, "dn", why + "2", pw=NVR_DH_PW).text == "errorCode=0\r\n"  # added: polled or not, no Error
    bad = f"{CONFIG}setConfig&RemoteDevice.uuid:System_CONFIG_NETCAMERA_INFO_0.Bogus=1"
    assert cgi(fleet, "dn", bad, pw=NVR_DH_PW).text == "Error\r\n"


def test_camera_login_error_code_by_reachability_and_firmware(start: Start) -> None:
    """A channel at an address nobody listens on is a channel issue, not a password; firmware without
    the call answers 400 like any unknown action."""
    nowhere = LabChannel(1, "gone", "127.0.131.99", 8080, "admin", DH_PW)
    fleet = start(
        LabSpec(
            [
                dahua_recorder("dn", "127.0.131.12", [nowhere]),
                dahua_recorder("old", "127.0.131.13", [nowhere], camera_login_error_code=False),
            ]
        )
    )
    why = "/cgi-bin/LogicDeviceManager.cgi?action=getCameraLoginErrorCode&channel=0"
    wait_for(lambda: cgi(fleet, "dn", why, pw=NVR_DH_PW).text == "errorCode=268632100\r\n", timeout=10)
    assert cgi(fleet, "old", why, pw=NVR_DH_PW).status_code == 400


def _upload(url: str, data: bytes, source: str = "127.0.0.1") -> requests.Response:
    from requests.auth import HTTPDigestAuth

    with session_from(source) as s:
        files = {"upgrade": ("update.bin", data, "application/octet-stream")}
        return s.post(
            url + "/cgi-bin/upgrader.cgi?action=uploadFirmware",
            files=files,
            auth=HTTPDigestAuth("admin", DH_PW),
            timeout=5,
        )


def test_firmware_upload_progress_and_reboot(start: Start) -> None:
    # 6 s real: Preparing (the first 10 %) and Succeeded (the last 10 %) each last 0.6 s
    fleet = start(LabSpec([dahua_camera("dc", "127.0.131.10", upgrade_seconds=600)]))
    url, state = fleet.url("dc"), "/cgi-bin/upgrader.cgi?action=getState"
    assert kv(cgi(fleet, "dc", state).text) == {"State": "Free", "Progress": "0"}
    assert cgi(fleet, "dc", "/cgi-bin/upgrader.cgi?action=uploadFirmware", method="POST", data=b"x").text == "Error\r\n"
    assert _upload(url, b"not firmware").text == "OK\r\n"
    assert kv(cgi(fleet, "dc", state).text)["State"] == "Invalid"
    assert _upload(url, build_image("IPC-OTHER", "2.800.0000017.0.R", "2025-01-01")).text == "OK\r\n"
    assert kv(cgi(fleet, "dc", state).text)["State"] == "FileUnmatch"
    assert len(events_of(fleet, "firmware_rejected")) == 2
    assert _upload(url, build_image("IPC-HDW5831R-ZE", "2.840.0000000.1.R", "2025-03-01")).text == "OK\r\n"
    seen: list[tuple[str, int]] = []
    deadline = time.monotonic() + 20
    while True:
        try:
            now = kv(cgi(fleet, "dc", state).text)
        except requests.ConnectionError:
            break  # down for the reboot into the new firmware
        seen.append((now["State"], int(now["Progress"])))
        assert time.monotonic() < deadline, f"no reboot 20 s after the upload; last states {seen[-3:]}"
        time.sleep(0.01)
    states = [st for st, _ in seen]
    assert states[0] == "Preparing" and {"Upgrading", "Succeeded"} <= set(states)
    assert states == sorted(states, key=["Preparing", "Upgrading", "Succeeded"].index)
    progress = [p for st, p in seen if st == "Upgrading"]
    assert progress == sorted(progress) and progress[0] < progress[-1] <= 100
    assert all(p == 100 for st, p in seen if st == "Succeeded")
    wait_for(lambda: events_of(fleet, "booted"), timeout=10)
    assert cgi(fleet, "dc", "/cgi-bin/magicBox.cgi?action=getSoftwareVersion").text == (
        "version=2.840.0000000.1.R,build:2025-03-01\r\n"
    )
    assert events_of(fleet, "firmware_changed", version="2.840.0000000.1.R", old_version="2.800.0000016.0.R")


def test_reboot_goes_down_and_keeps_state(start: Start) -> None:
    # down for 200 device-s (2 s real): the request right after the reboot event certainly finds it down
    fleet = start(LabSpec([dahua_camera("dc", "127.0.131.11", reboot_seconds=200)]))
    add = f"{USERS}addUser&user.Name=v2&user.Password={q(ODD_PW)}&user.Group=user"
    assert cgi(fleet, "dc", add).text == "OK\r\n"
    policy = CONFIG + "setConfig&General.LockLoginEnable=true&General.LockLoginTimes=5&General.LoginFailLockTime=1800"
    assert cgi(fleet, "dc", policy).text == "OK\r\n"
    assert cgi(fleet, "dc", "/cgi-bin/magicBox.cgi?action=reboot").text == "OK\r\n"
    wait_for(lambda: events_of(fleet, "reboot", reason="request"), timeout=10)
    with pytest.raises(requests.ConnectionError):
        get(fleet.url("dc") + MACHINE)
    wait_for(lambda: events_of(fleet, "booted"), timeout=10)
    assert cgi(fleet, "dc", MACHINE).status_code == 200
    assert cgi(fleet, "dc", MACHINE, "v2", ODD_PW).status_code == 200  # the account added before
    general = kv(cgi(fleet, "dc", CONFIG + "getConfig&name=General").text)
    assert (general["table.General.LockLoginTimes"], general["table.General.LoginFailLockTime"]) == ("5", "1800")
    assert fleet.device("dc")["lock_policy"] == {"enabled": True, "max_attempts": 5, "lock_seconds": 1800}
