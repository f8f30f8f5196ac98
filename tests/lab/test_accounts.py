"""Users, ``loginPassword``, ``illegalLoginLock`` and ``userCheck`` flags (protocol §3.1–3.3)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
import requests

from enforcer.lab.spec import LabProfile, LabSpec

from .conftest import CAM_PW, Start, camera, events_of, get, wait_for

pytestmark = pytest.mark.lab

SRC = "127.0.20.50"


def fields(text: str) -> dict[str, str]:
    return {el.tag.split("}")[-1]: (el.text or "") for el in ET.fromstring(text.encode()).iter()}


def put_user(url: str, pw: str, xml: str, method: str = "PUT", source: str = SRC) -> requests.Response:
    return get(url, "admin", pw, source=source, method=method, data=xml.encode())


def test_user_list_has_no_password_and_admin_is_undeletable(start: Start) -> None:
    fleet = start(LabSpec([camera("cam", "127.0.20.2")]))
    base = fleet.url("cam") + "/ISAPI/Security/users"
    listing = get(base, "admin", CAM_PW)
    assert listing.status_code == 200 and "<password>" not in listing.text and CAM_PW not in listing.text
    assert "<userName>admin</userName>" in listing.text and "<userLevel>Operator</userLevel>" in listing.text
    one = get(base + "/1", "admin", CAM_PW)
    assert ET.fromstring(one.text).tag.endswith("User")
    deleted = get(base + f"/1?loginPassword={CAM_PW}", "admin", CAM_PW, method="DELETE")
    assert deleted.status_code == 403 and fields(deleted.text)["statusCode"] == "4"


def test_password_change_requires_login_password(start: Start) -> None:
    fleet = start(LabSpec([camera("cam", "127.0.21.2")]))
    url = fleet.url("cam") + "/ISAPI/Security/users/1"
    user = "<User><id>1</id><userName>admin</userName><password>N3w&amp;Pass!</password>{lp}</User>"
    missing = put_user(url, CAM_PW, user.format(lp=""))
    assert missing.status_code == 403 and fields(missing.text)["subStatusCode"] == "loginPasswordError"
    wrong = put_user(url, CAM_PW, user.format(lp="<loginPassword>nope</loginPassword>"))
    f = fields(wrong.text)
    assert wrong.status_code == 403
    assert (f["statusCode"], f["statusString"], f["subStatusCode"], f["errorCode"]) == (
        "4",
        "Invalid Operation",
        "loginPasswordError",
        "0x4000000C",
    )
    assert events_of(fleet, "auth_failed", reason="login_password", source=SRC)  # counted toward the lock
    good = put_user(url, CAM_PW, user.format(lp=f"<loginPassword>{CAM_PW}</loginPassword>"))
    assert good.status_code == 200 and fields(good.text)["statusCode"] == "1"
    check = "/ISAPI/Security/userCheck"
    assert get(fleet.url("cam") + check, "admin", CAM_PW).status_code == 401  # the change applies at once
    assert get(fleet.url("cam") + check, "admin", "N3w&Pass!").status_code == 200
    assert fleet.password("cam", "admin") == "N3w&Pass!"
    state = json.loads(wait_for(lambda: "N3w&Pass!" in fleet.state_path.read_text() and fleet.state_path.read_text()))
    [dev] = state["devices"]
    assert {a["name"]: a["password"] for a in dev["accounts"]}["admin"] == "N3w&Pass!"
    [changed] = events_of(fleet, "account_changed")
    assert changed["user"] == "admin" and changed["fields"] == ["password"]
    assert "N3w&Pass!" not in fleet.events_path.read_text() and CAM_PW not in fleet.events_path.read_text()


def test_wrong_login_password_locks_after_threshold(start: Start) -> None:
    fleet = start(LabSpec([camera("cam", "127.0.22.2")]))
    url = fleet.url("cam") + "/ISAPI/Security/users/2"
    xml = "<User><id>2</id><password>Xyz12345!</password><loginPassword>bad</loginPassword></User>"
    for _ in range(3):
        put_user(url, CAM_PW, xml)
    assert events_of(fleet, "locked", source=SRC)
    assert get(fleet.url("cam") + "/ISAPI/Security/userCheck", "admin", CAM_PW, source=SRC).status_code == 401


def test_old_firmware_needs_no_login_password_and_users_can_be_added(start: Start) -> None:
    cam = camera("cam", "127.0.23.2", profile=LabProfile(requires_login_password=False))
    fleet = start(LabSpec([cam]))
    base = fleet.url("cam") + "/ISAPI/Security/users"
    added = put_user(
        base,
        CAM_PW,
        "<User><userName>vms</userName><password>Vms12345!</password><userLevel>Operator</userLevel></User>",
        "POST",
    )
    assert added.status_code == 200
    assert get(fleet.url("cam") + "/ISAPI/Security/userCheck", "vms", "Vms12345!").status_code == 200
    changed = put_user(base + "/3", CAM_PW, "<User><id>3</id><password>Vms99999!</password></User>")
    assert changed.status_code == 200 and fleet.password("cam", "vms") == "Vms99999!"
    assert get(base + "/3", "admin", CAM_PW, method="DELETE").status_code == 200
    kinds = [e["event"] for e in fleet.read_events() if e["event"].startswith("account_")]
    assert kinds == ["account_added", "account_changed", "account_deleted"]
    assert "vms" not in [a["name"] for a in fleet.device("cam")["accounts"]]


def test_user_check_flags(start: Start) -> None:
    fleet = start(LabSpec([camera("cam", "127.0.24.2", password="12345")]))
    f = fields(get(fleet.url("cam") + "/ISAPI/Security/userCheck", "admin", "12345").text)
    assert (f["statusValue"], f["isDefaultPassword"], f["isRiskPassword"], f["isActivated"]) == (
        "200",
        "true",
        "true",
        "true",
    )


def test_illegal_login_lock_get_and_partial_put(start: Start) -> None:
    fixed = camera("fixed", "127.0.25.3", profile=LabProfile(lock_can_be_disabled=False, lock_time_unit="seconds"))
    fleet = start(LabSpec([camera("cam", "127.0.25.2"), fixed]))
    url = fleet.url("cam") + "/ISAPI/Security/illegalLoginLock"
    f = fields(get(url, "admin", CAM_PW).text)
    assert (f["enabled"], f["maxIllegalLoginTimes"], f["maxIllegalLoginLockTime"]) == ("true", "3", "2")  # minutes
    ok = put_user(url, CAM_PW, "<IllegalLoginLock><maxIllegalLoginTimes>7</maxIllegalLoginTimes></IllegalLoginLock>")
    assert ok.status_code == 200
    f = fields(get(url, "admin", CAM_PW).text)
    assert (f["enabled"], f["maxIllegalLoginTimes"]) == ("true", "7")
    too_many = put_user(
        url, CAM_PW, "<IllegalLoginLock><maxIllegalLoginTimes>99</maxIllegalLoginTimes></IllegalLoginLock>"
    )
    assert too_many.status_code == 400
    off = put_user(url, CAM_PW, '<IllegalLoginLock xmlns="urn:any"><enabled>false</enabled></IllegalLoginLock>')
    assert off.status_code == 200 and fleet.device("cam")["lock_policy"]["enabled"] is False
    furl = fleet.url("fixed") + "/ISAPI/Security/illegalLoginLock"
    assert fields(get(furl, "admin", CAM_PW).text)["maxIllegalLoginLockTime"] == "150"  # seconds
    refused = put_user(furl, CAM_PW, "<IllegalLoginLock><enabled>false</enabled></IllegalLoginLock>")
    assert refused.status_code == 403 and fields(refused.text)["subStatusCode"] == "invalidOperation"
    assert [e["enabled"] for e in events_of(fleet, "lock_policy_changed")] == [True, False]
    caps = get(fleet.url("cam") + "/ISAPI/Security/capabilities", "admin", CAM_PW).text
    assert "issupIllegalLoginLock" in caps and 'maxIllegalLoginTimes min="3" max="20"' in caps
