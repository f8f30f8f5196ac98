"""The fleet as a whole: recorders and viewers really logging in, the files, ``serve``."""

from __future__ import annotations

import json
import threading
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from enforcer.lab.fleet import Fleet
from enforcer.lab.serve import serve
from enforcer.lab.spec import LabChannel, LabClient, LabLockPolicy, LabSpec

from .conftest import CAM_PW, NVR_PW, Start, camera, events_of, get, recorder, wait_for

pytestmark = pytest.mark.lab

STATUS = "/ISAPI/ContentMgmt/InputProxy/channels/status"


def chan_results(fleet: Fleet, name: str) -> dict[str, str]:
    root = ET.fromstring(get(fleet.url(name) + STATUS, "admin", NVR_PW).content)
    return {
        el.findtext("{*}id") or "": el.findtext("{*}chanDetectResult") or ""
        for el in root.iter()
        if el.tag.endswith("InputProxyChannelStatus")
    }


def site() -> LabSpec:
    # The recorder polls every 20 device-s (0.2 s real). cam2 locks it out after 3 polls and stays
    # locked for 3000 device-s (30 s real): one lock for the whole test. cam3 counts 200 attempts (40 s
    # of polls) so the stale channel never locks it before the test cures it.
    cams = [
        camera("cam1", "127.0.40.2"),
        camera("cam2", "127.0.40.3", scheme="https", lock_policy=LabLockPolicy(max_attempts=3, lock_seconds=3000)),
        camera("cam3", "127.0.40.4", lock_policy=LabLockPolicy(max_attempts=200, lock_seconds=150)),
    ]
    channels = [
        LabChannel(1, "cam1", "127.0.40.2", 8000, "admin", CAM_PW),
        LabChannel(2, "cam2", "127.0.40.3", 8000, "admin", "stale-one"),
        LabChannel(3, "cam3", "127.0.40.4", 8000, "admin", "stale-two"),
        LabChannel(4, "gone", "127.0.40.9", 8080, "admin", "x"),
    ]
    nvr = recorder("nvr", "127.0.40.1", channels, problems=["stale_channel"])
    viewer = LabClient("phone", "s1", "viewer", "127.0.41.7", "cam1", "admin", "old-pass", interval_seconds=10)
    return LabSpec([nvr, *cams], [viewer])


def test_recorder_stale_channel_locks_its_camera(start: Start) -> None:
    fleet = start(site())
    want = {"1": "connect", "2": "errorUserNameOrPasswd", "3": "errorUserNameOrPasswd", "4": "netUnreachable"}
    wait_for(lambda: chan_results(fleet, "nvr") == want, timeout=10)
    # poll after poll (every 20 device-s) the recorder's address gets cam2 (HTTPS) locked
    [locked] = wait_for(lambda: events_of(fleet, "locked", device="cam2"), timeout=10)
    assert locked["source"] == "127.0.40.1" and locked["user"] == "admin"
    assert (
        get(
            fleet.url("cam2") + "/ISAPI/Security/userCheck",
            "admin",
            CAM_PW,
            source="127.0.40.1",
            verify=str(fleet.cert_path),
        ).status_code
        == 401
    )
    assert (
        get(fleet.url("cam2") + "/ISAPI/Security/userCheck", "admin", CAM_PW, verify=str(fleet.cert_path)).status_code
        == 200
    )
    statuses = events_of(fleet, "channel_status", device="nvr", channel=2)
    assert statuses[0]["result"] == "errorUserNameOrPasswd" and statuses[0]["camera"] == "cam2"
    # one failed login per poll: no retry of a 401 within a poll
    fails = events_of(fleet, "auth_failed", device="cam3")
    assert fails and all(e["source"] == "127.0.40.1" for e in fails)
    assert [e["attempts_left"] for e in fails] == list(range(199, 199 - len(fails), -1))
    # the cure: PUT the channel with the right password; the recorder polls it at once
    body = (
        "<InputProxyChannel><id>3</id><name>cam3</name><sourceInputPortDescriptor><proxyProtocol>HIKVISION</proxyProtocol>"
        "<ipAddress>127.0.40.4</ipAddress><managePortNo>8000</managePortNo><userName>admin</userName>"
        f"<password>{CAM_PW}</password></sourceInputPortDescriptor></InputProxyChannel>"
    )
    put = get(fleet.url("nvr") + "/ISAPI/ContentMgmt/InputProxy/channels/3", "admin", NVR_PW, method="PUT", data=body)
    assert put.status_code == 200
    wait_for(lambda: chan_results(fleet, "nvr")["3"] == "connect", timeout=10)
    listing = get(fleet.url("nvr") + "/ISAPI/ContentMgmt/InputProxy/channels", "admin", NVR_PW).text
    assert "<password>" not in listing and CAM_PW not in listing and "<ipAddress>127.0.40.4</ipAddress>" in listing
    # as on real recorders: the SDK port, and what the recorder learnt from the camera it connected to
    assert "<proxyProtocol>HIKVISION</proxyProtocol>" in listing and "<managePortNo>8000</managePortNo>" in listing
    assert (
        "<model>DS-2CD2146G2-ISU</model>" in listing
        and "<firmwareVersion>V5.7.17 build 240606</firmwareVersion>" in listing
    )
    assert events_of(fleet, "channel_changed", channel=3)
    fleet.flush()
    state = json.loads(fleet.state_path.read_text())
    [nvr] = [d for d in state["devices"] if d["name"] == "nvr"]
    assert nvr["channels"][2]["password"] == CAM_PW


def test_stale_viewer_locks_its_device_until_fixed(start: Start) -> None:
    fleet = start(site())
    [locked] = wait_for(lambda: events_of(fleet, "locked", device="cam1"), timeout=10)
    assert locked["source"] == "127.0.41.7"
    assert fleet.client_status("phone")["last"] == "auth_failed"
    fleet.set_client_password("phone", CAM_PW)
    # locked for 150 device-s (1.5 s); afterwards the viewer's stored password works
    wait_for(lambda: fleet.client_status("phone")["last"] == "ok", timeout=10)
    assert events_of(fleet, "unlocked", device="cam1", source="127.0.41.7")
    assert events_of(fleet, "client_changed", client="phone")


def test_ready_and_state_files_and_no_secret_in_events(start: Start, lab_dir: Path) -> None:
    fleet = start(site())
    ready = json.loads((lab_dir / "lab.ready.json").read_text())
    assert ready["ready"] is True and ready["events"] == str(lab_dir / "lab.events.jsonl")
    assert ready["state"] == str(lab_dir / "lab.state.json") and Path(ready["cert"]).is_file()
    devices = {d["name"]: d for d in ready["devices"]}
    assert set(devices) == {"nvr", "cam1", "cam2", "cam3"}
    cam2 = devices["cam2"]
    assert (cam2["site"], cam2["role"], cam2["vendor"], cam2["model"], cam2["firmware"]) == (
        "s1",
        "camera",
        "hikvision",
        "DS-2CD2146G2-ISU",
        "V5.7.17",
    )
    assert (cam2["address"], cam2["port"], cam2["scheme"]) == ("127.0.40.3", 8080, "https")
    assert {a["name"]: a["password"] for a in cam2["accounts"]} == {"admin": CAM_PW, "op": "Op3rator!x"}
    assert devices["nvr"]["problems"] == ["stale_channel"]
    [client] = ready["clients"]
    assert (client["name"], client["kind"], client["source"], client["target"]) == (
        "phone",
        "viewer",
        "127.0.41.7",
        "cam1",
    )
    wait_for(lambda: events_of(fleet, "locked"), timeout=10)
    fleet.flush()
    text = (lab_dir / "lab.events.jsonl").read_text()
    for secret in (CAM_PW, NVR_PW, "old-pass", "stale-one", "stale-two", "Op3rator!x"):
        assert secret not in text
    for line in text.splitlines():
        event = json.loads(line)
        assert {"time", "device", "event", "source", "user"} <= event.keys() and event["time"].endswith("Z")
    state = json.loads((lab_dir / "lab.state.json").read_text())
    assert [d["name"] for d in state["devices"]] == [d["name"] for d in ready["devices"]]


def test_serve_reads_the_spec_and_stops_on_request(tmp_path: Path) -> None:
    site().save(tmp_path / "lab.spec.json")
    ready, stop = threading.Event(), threading.Event()
    thread = threading.Thread(target=serve, args=(tmp_path,), kwargs={"time_scale": 0.01, "ready": ready, "stop": stop})
    thread.start()
    try:
        assert ready.wait(10)
        doc = json.loads((tmp_path / "lab.ready.json").read_text())
        url = next(f"{d['scheme']}://{d['address']}:{d['port']}" for d in doc["devices"] if d["name"] == "cam1")
        assert get(url + "/ISAPI/System/deviceInfo", "admin", CAM_PW).status_code == 200
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()
