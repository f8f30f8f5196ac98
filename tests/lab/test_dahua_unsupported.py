"""What firmware answers for what it lacks (protocols/dahua-cgi.md §1, §5; profile ``lacks``): a config
name as that firmware does (400, 403 ``Authority:check failure.``, 200 ``Error: Error -1 getting
param``), an action 400 ``Bad Request!`` or 501 ``Not Implemented!``, RPC2 its error codes."""

from __future__ import annotations

import pytest
import requests

from enforcer.lab.fleet import Fleet
from enforcer.lab.spec import LabSpec

from .conftest import DH_PW, Start, cgi, dahua_camera, kv, rpc, rpc_login

pytestmark = pytest.mark.lab

CONFIG = "/cgi-bin/configManager.cgi?action="
STATUSES = [400, 403, 200]


def config(fleet: Fleet, dev: str, action: str, password: str = DH_PW) -> requests.Response:
    return cgi(fleet, dev, CONFIG + action, pw=password)


@pytest.mark.parametrize("status", STATUSES)
def test_the_lab_answers_a_lacked_config_as_that_firmware_does(start: Start, status: int) -> None:
    lab = dahua_camera("dc", "127.0.133.1", lacks=["General", "IPFilter"], unknown_config_status=status)
    fleet = start(LabSpec([lab]))
    for name in ("General", "IPFilter", "General.LockLoginTimes"):
        got = config(fleet, "dc", f"getConfig&name={name}")
        assert got.status_code == status
        if status == 403:
            assert got.text == "Authority:check failure."
        elif status == 200:
            assert got.text == f"Error: Error -1 getting param in name={name}\r\n"
    # a write naming a lacked config is refused whole: nothing else in it changes
    write = config(fleet, "dc", "setConfig&General.LockLoginTimes=5&NTP.Enable=true")
    assert write.text == "Error\r\n"
    assert kv(config(fleet, "dc", "getConfig&name=NTP").text)["table.NTP.Enable"] == "false"
    assert config(fleet, "dc", "getConfig&name=MotionDetect").status_code == 200  # the rest is there
    _, ok = rpc_login(fleet, "dc", "admin", DH_PW)
    call = {"method": "configManager.getConfig", "params": {"name": "General"}, "id": 3, "session": ok["session"]}
    assert rpc(fleet, "dc", call, path="/RPC2")["error"]["code"] == 268959743


@pytest.mark.parametrize("status", [400, 501])
def test_a_lacked_action_or_rpc_method_is_not_supported(start: Start, status: int) -> None:
    lab = dahua_camera("dc", "127.0.133.2", lacks=["magicBox.getDeviceType"], unsupported_status=status)
    fleet = start(LabSpec([lab]))
    got = cgi(fleet, "dc", "/cgi-bin/magicBox.cgi?action=getDeviceType")
    assert got.status_code == status
    assert got.text == ("Error\r\nNot Implemented!\r\n" if status == 501 else "Error\r\nBad Request!\r\n")
    assert cgi(fleet, "dc", "/cgi-bin/magicBox.cgi?action=noSuchAction").status_code == status
    _, ok = rpc_login(fleet, "dc", "admin", DH_PW)
    call = {"method": "magicBox.getDeviceType", "id": 3, "session": ok["session"]}
    assert rpc(fleet, "dc", call, path="/RPC2")["error"]["code"] == 268894210
