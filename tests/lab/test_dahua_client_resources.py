"""The simulated Dahua device's resources common clients open with (protocols/dahua-cgi.md §5, §6,
"Security log"), and the RPC2 session as devices keep it (the challenge's id, bound to its address)."""

from __future__ import annotations

import pytest

from enforcer.lab.spec import LabChannel, LabSpec

from .conftest import DH_PW, Start, cgi, dahua_camera, dahua_recorder, kv, rpc, rpc_login

pytestmark = pytest.mark.lab

CONFIG = "/cgi-bin/configManager.cgi?action="


def test_client_configs_are_read_and_written_keeping_their_types(start: Start) -> None:
    cam = dahua_camera("cam", "127.0.134.2")
    nvr = dahua_recorder(
        "dn", "127.0.134.1", [LabChannel(1, "cam", "127.0.134.2", 8080, "admin", DH_PW)], password=DH_PW
    )
    fleet = start(LabSpec([nvr, cam]))
    net = kv(cgi(fleet, "dn", CONFIG + "getConfig&name=Network").text)
    assert net["table.Network.eth0.IPAddress"] == "127.0.134.1" and net["table.Network.DefaultInterface"] == "eth0"
    titles = kv(cgi(fleet, "dn", CONFIG + "getConfig&name=ChannelTitle").text)
    assert titles["table.ChannelTitle[0].Name"] == "cam" and titles["table.ChannelTitle[1].Name"] == "IPC"
    assert len(titles) == 4  # a recorder's slots, rounded up to 4
    assert kv(cgi(fleet, "dn", CONFIG + "getConfig&name=RTSP.Port").text) == {"table.RTSP.Port": "554"}
    assert (
        cgi(fleet, "dn", CONFIG + "getConfigCaps&name=NTP").text == cgi(fleet, "dn", CONFIG + "getConfig&name=NTP").text
    )
    assert cgi(fleet, "dn", CONFIG + "setConfig&NTP.Enable=true&NTP.Port=124").text == "OK\r\n"
    assert cgi(fleet, "dn", CONFIG + "setConfig&NTP.Port=ntp").text == "Error\r\n"  # not a number
    assert cgi(fleet, "dn", CONFIG + "setConfig&NTP.NoSuchKey=1").text == "Error\r\n"
    ntp = kv(cgi(fleet, "dn", CONFIG + "getConfig&name=NTP").text)
    assert (ntp["table.NTP.Enable"], ntp["table.NTP.Port"]) == ("true", "124")
    assert kv(cgi(fleet, "dn", "/cgi-bin/magicBox.cgi?action=getDeviceClass").text) == {"type": "NVR"}


def test_a_viewer_account_may_not_read_the_ip_filter(start: Start) -> None:
    fleet = start(LabSpec([dahua_camera("dc", "127.0.134.3")]))
    denied = cgi(fleet, "dc", CONFIG + "getConfig&name=IPFilter", "op", "Op3rator!x")
    assert (denied.status_code, denied.text) == (403, "Authority:check failure.")
    assert cgi(fleet, "dc", CONFIG + "getConfig&name=NTP", "op", "Op3rator!x").status_code == 200


def test_the_log_cursor_refuses_an_unknown_token(start: Start) -> None:
    fleet = start(LabSpec([dahua_camera("dc", "127.0.134.4")]))
    log = "/cgi-bin/log.cgi?action="
    assert cgi(fleet, "dc", log + "doFind&token=99&count=10").text == "Error\r\n"
    assert cgi(fleet, "dc", log + "startFind").text.startswith("Error")  # no time window
    token = kv(
        cgi(
            fleet,
            "dc",
            log + "startFind&condition.StartTime=2000-01-01%2000:00:00&condition.EndTime=2100-01-01%2000:00:00",
        ).text
    )["token"]
    assert cgi(fleet, "dc", log + f"stopFind&token={token}").text == "OK\r\n"
    assert cgi(fleet, "dc", log + f"stopFind&token={token}").text == "Error\r\n"


def test_an_rpc2_session_is_the_challenges_id_and_its_address_only(start: Start) -> None:
    fleet = start(LabSpec([dahua_camera("dc", "127.0.134.5")]))
    first, ok = rpc_login(fleet, "dc", "admin", DH_PW, source="127.0.134.50")
    assert ok["session"] == first["session"]
    call = {"method": "magicBox.getSerialNo", "id": 3, "session": ok["session"]}
    assert rpc(fleet, "dc", call, path="/RPC2", source="127.0.134.50")["params"]["sn"] == fleet.device("dc")["serial"]
    stolen = rpc(fleet, "dc", call, path="/RPC2", source="127.0.134.51")
    assert stolen["error"]["code"] == 287637505  # bound to the address that logged in
    active = kv(cgi(fleet, "dc", "/cgi-bin/userManager.cgi?action=getActiveUserInfoAll").text)
    assert (active["users[0].Name"], active["users[0].ClientAddress"]) == ("admin", "127.0.134.50")
    table = rpc(
        fleet,
        "dc",
        {"method": "configManager.getConfig", "params": {"name": "Encode"}, "id": 4, "session": ok["session"]},
        path="/RPC2",
        source="127.0.134.50",
    )["params"]["table"]
    assert table[0]["MainFormat"][0]["VideoEnable"] is True and len(table[0]["ExtraFormat"]) == 3
