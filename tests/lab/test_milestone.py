"""The lab's XProtect management server and recording server, spoken to as protocols/clients.md §1 documents.

Token grant and its refusals, the hardware list (enabled only unless ``?disabled``), items, PATCH and PUT,
the password task with and without the device, task polling and cleanup, errors as documented; the
recording server's logins from its own address (stopped at once by a disable, the opening Basic logon
counted on the Hikvision profiles the KB names), and the Events and State WebSocket.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import struct
import time
from typing import Any

import pytest
import requests

from enforcer.lab.fleet import Fleet
from enforcer.lab.spec import LabChannel, LabLockPolicy, LabProfile, LabSpec

from .conftest import (
    CAM_PW,
    DH_PW,
    MS_PW,
    MS_USER,
    NVR_PW,
    Start,
    camera,
    dahua_camera,
    events_of,
    hw_id,
    recorder,
    session_from,
    wait_for,
    xprotect,
)

pytestmark = pytest.mark.lab

STARTED, STOPPED = "0553c396-5e16-4c22-b3d1-f548e42dfbb4", "63ea1f06-5a83-4f39-9fab-49959fde7b66"


def site(net: str, *, counting: bool = False, **options: Any) -> LabSpec:
    """A Hikvision recorder and camera, a Dahua camera, and an XProtect server at ``.5`` storing all three."""
    cam = camera("cam1", f"{net}.2", profile=LabProfile(illegal_basic_logon=counting))
    dcam = dahua_camera("dcam", f"{net}.3")
    nvr = recorder("nvr", f"{net}.1", [LabChannel(1, "cam1", cam.address, 8000, "admin", CAM_PW)])
    return LabSpec([nvr, cam, dcam], milestone=[xprotect(f"{net}.5", [nvr, cam, dcam], **options)])


class Api:
    """Raw requests to the lab's server, as a script would make them."""

    def __init__(self, fleet: Fleet, address: str) -> None:
        self.fleet, self.base = fleet, f"http://{address}:8443"
        self.http = session_from("127.0.0.1")
        self.token = self.grant().json()["access_token"]

    def grant(self, password: str = MS_PW, client: str = "GrantValidatorClient", **extra: str) -> requests.Response:
        form = {"grant_type": "password", "username": MS_USER, "password": password, "client_id": client, **extra}
        return self.http.post(self.base + "/API/IDP/connect/token", data=form, timeout=5)

    def __call__(self, method: str, path: str, **kw: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {kw.pop('token', self.token)}"}
        return self.http.request(method, self.base + "/api/rest/v1" + path, headers=headers, timeout=5, **kw)

    def task(self, task_id: str) -> dict[str, Any]:
        """Poll a task to a final state."""

        def final() -> dict[str, Any] | None:
            data: dict[str, Any] = self("GET", f"/tasks/{task_id}").json()["data"]
            return data if data["state"] in ("Success", "Error") else None

        found: dict[str, Any] = wait_for(final, timeout=5, step=0.01)
        return found


def hardware(fleet: Fleet, device: str) -> dict[str, Any]:
    found: dict[str, Any] = next(h for h in fleet.milestone("xprotect")["hardware"] if h["device"] == device)
    return found


def test_token_grant_as_milestone_answers_it(start: Start) -> None:
    fleet = start(site("127.0.180"))
    api = Api(fleet, "127.0.180.5")
    reply = api.grant()
    assert reply.status_code == 200
    body = reply.json()
    assert (body["token_type"], body["expires_in"], body["scope"]) == ("Bearer", 3600, "managementserver")
    assert "refresh_token" not in body  # GrantValidatorClient: nothing to refresh, grant again
    browser = api.grant(client="VmsClient").json()
    renewed = api.http.post(
        api.base + "/api/IDP/connect/token",
        data={"grant_type": "refresh_token", "refresh_token": browser["refresh_token"], "client_id": "VmsClient"},
        timeout=5,
    )
    assert renewed.status_code == 200 and renewed.json()["access_token"] != browser["access_token"]
    wrong = api.grant(password="Wrong0Password")
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant" and wrong.json()["error_description"]
    assert api.grant(client="Nobody").json()["error"] == "invalid_client"
    assert api.grant(grant_type="client_credentials").json()["error"] == "unsupported_grant_type"
    assert [e["user"] for e in events_of(fleet, "token_refused")] == [MS_USER]
    refused = api("GET", "/hardware", token="eyJnot-a-token")
    assert refused.status_code == 401
    assert refused.json() == {"error": {"httpCode": 401, "details": [{"errorText": "Unauthorized"}]}}


def test_a_token_dies_after_expires_in_device_seconds(start: Start) -> None:
    fleet = start(site("127.0.181", token_seconds=50))  # 0.5 s real
    api = Api(fleet, "127.0.181.5")
    assert api("GET", "/hardware").status_code == 200
    time.sleep(0.6)
    assert api("GET", "/hardware").status_code == 401


def test_hardware_list_items_and_writes(start: Start) -> None:
    fleet = start(site("127.0.182"))
    api = Api(fleet, "127.0.182.5")
    listed = api("GET", "/hardware").json()["array"]
    assert [h["name"] for h in listed] == ["DS-7608NXI-I2 (nvr)", "DS-2CD2146G2-ISU (cam1)", "IPC-HDW5831R-ZE (dcam)"]
    item = listed[1]
    assert item["address"] == "http://127.0.182.2:8080/" and item["userName"] == "admin" and item["password"] == "***"
    assert item["relations"]["parent"]["type"] == "recorders" and item["relations"]["self"] == {
        "type": "hardware",
        "id": hw_id(2),
    }
    assert {"passwordLastModified", "lastModified", "model", "hardwareDriverPath"} <= set(item)
    tasks = api("GET", f"/hardware/{hw_id(2)}?tasks&noData").json()
    assert (
        "data" not in tasks
        and {"id": "ChangePasswordHardware", "displayName": "Change hardware password"} in (tasks["tasks"])
    )
    assert api("GET", f"/hardware/{hw_id(2)}?tasks").json()["data"]["id"] == hw_id(2)
    off = api("PATCH", f"/hardware/{hw_id(2)}", json={"enabled": "false"})  # Milestone's sample sends a string
    assert off.status_code == 200 and off.json()["data"]["enabled"] is False
    assert [h["id"] for h in api("GET", "/hardware").json()["array"]] == [hw_id(1), hw_id(3)]  # enabled only
    assert len(api("GET", "/hardware?disabled").json()["array"]) == 3
    assert api("GET", f"/hardware/{hw_id(2)}").json()["data"]["enabled"] is False  # by id, still there
    assert events_of(fleet, "hardware_changed", hardware=hw_id(2), fields=["enabled"])
    password = api("PATCH", f"/hardware/{hw_id(2)}", json={"password": "Other0Pass"})
    assert password.status_code == 400 and password.json()["error"]["details"][0]["property"] == "password"
    assert api("PUT", f"/hardware/{hw_id(2)}", json={"enabled": True}).status_code == 400  # PUT is every field
    unknown = api("GET", "/recordings")
    assert unknown.status_code == 404
    assert unknown.json() == {"error": {"httpCode": 404, "details": [{"errorText": "Unknown resource: recordings"}]}}
    assert api("GET", "/hardware/11111111-2222-4333-8444-555555555555").status_code == 404


def test_change_password_task_is_queued_polled_and_cleaned_up(start: Start) -> None:
    fleet = start(site("127.0.183"))
    api = Api(fleet, "127.0.183.5")
    before = api("GET", f"/hardware/{hw_id(2)}").json()["data"]["passwordLastModified"]
    started = api("POST", f"/hardware/{hw_id(2)}?task=ChangePasswordHardware", json={"password": "NewCam0Pass"})
    result = started.json()["result"]
    assert result["state"] == "Idle" and result["path"]["type"] == "tasks"
    assert api("GET", f"/tasks/{result['path']['id']}").json()["data"]["state"] in ("Idle", "InProgress")
    done = api.task(result["path"]["id"])
    assert (done["state"], done["progress"]) == ("Success", 100)
    assert hardware(fleet, "cam1")["password"] == "NewCam0Pass"
    assert fleet.password("cam1", "admin") == CAM_PW  # updatePasswordOnDevice false: the device is untouched
    assert api("GET", f"/hardware/{hw_id(2)}").json()["data"]["passwordLastModified"] != before
    cleaned = api("POST", f"/tasks/{result['path']['id']}?task=TaskCleanup", json={})
    assert cleaned.json() == {"result": {"state": "Success"}}
    assert api("GET", f"/tasks/{result['path']['id']}").status_code == 404
    refused = api("POST", f"/hardware/{hw_id(2)}?task=ChangePasswordHardware", json={"password": "no-symbols-1A"})
    failed = api.task(refused.json()["result"]["path"]["id"])
    assert failed["state"] == "Error" and failed["errorCode"] == 61002 and "letters and digits" in failed["errorText"]
    assert hardware(fleet, "cam1")["password"] == "NewCam0Pass"
    form = api("POST", f"/hardware/{hw_id(2)}?task=ChangePasswordHardware")  # no body: the task's form comes back
    assert "state" not in form.json()["result"] and "updatePasswordOnDevice" in form.json()["result"]


@pytest.mark.parametrize("device", ["nvr", "dcam"])
def test_update_password_on_device_changes_it_through_the_device_protocol(start: Start, device: str) -> None:
    fleet = start(site("127.0.184", queued_tasks=False))
    api = Api(fleet, "127.0.184.5")
    index = {"nvr": 1, "dcam": 3}[device]
    body = {"password": "OnDevice0Pass9", "updatePasswordOnDevice": True}
    started = api("POST", f"/hardware/{hw_id(index)}?task=ChangePasswordHardware", json=body).json()["result"]
    assert api.task(started["path"]["id"])["state"] == "Success"  # on the device: always queued
    assert fleet.password(device, "admin") == hardware(fleet, device)["password"] == "OnDevice0Pass9"
    assert events_of(fleet, "account_changed", device=device, source="127.0.184.5", user="admin")
    quick = api("POST", f"/hardware/{hw_id(2)}?task=ChangePasswordHardware", json={"password": "AtOnce0Pass"})
    assert quick.json() == {"result": {"state": "Success"}}  # not queued (the profile's choice), not on the device


def test_a_stale_stored_password_fails_the_device_change_and_counts(start: Start) -> None:
    fleet = start(site("127.0.185"))
    fleet.set_account_password("cam1", "admin", "ChangedBy0Tech")
    api = Api(fleet, "127.0.185.5")
    body = {"password": "OnDevice0Pass9", "updatePasswordOnDevice": True}
    started = api("POST", f"/hardware/{hw_id(2)}?task=ChangePasswordHardware", json=body).json()["result"]
    failed = api.task(started["path"]["id"])
    assert failed["state"] == "Error" and "could not be changed on the device" in failed["errorText"]
    assert hardware(fleet, "cam1")["password"] == CAM_PW and fleet.password("cam1", "admin") == "ChangedBy0Tech"
    assert events_of(fleet, "auth_failed", device="cam1", source="127.0.185.5")


def test_the_recording_server_logs_into_enabled_items_from_its_own_address(start: Start) -> None:
    fleet = start(site("127.0.186"))
    source = "127.0.186.5"
    wait_for(lambda: all(hardware(fleet, d)["state"] == "started" for d in ("nvr", "cam1", "dcam")))
    assert {e["device"] for e in events_of(fleet, "client_status", source=source, result="ok")} == {
        "nvr",
        "cam1",
        "dcam",
    }
    api = Api(fleet, source)
    api("PATCH", f"/hardware/{hw_id(2)}", json={"enabled": False})
    assert hardware(fleet, "cam1")["state"] == "stopped"  # at once
    fleet.set_account_password("cam1", "admin", "ChangedBy0Tech")  # a disabled item does not log in: nothing counts
    time.sleep(0.5)  # five polls
    assert not events_of(fleet, "auth_failed", device="cam1", source=source)
    api("PATCH", f"/hardware/{hw_id(2)}", json={"enabled": True})  # enabled with the old password: it locks
    wait_for(lambda: events_of(fleet, "locked", device="cam1", source=source), timeout=5)
    assert hardware(fleet, "cam1")["state"] == "error"
    assert not events_of(fleet, "auth_failed", device="cam1", source="127.0.0.1")  # per source: only the VMS


@pytest.mark.parametrize("counting", [True, False])
def test_the_opening_basic_logon_counts_on_hikvision_5_3_and_later(start: Start, counting: bool) -> None:
    """Milestone KB 000002183: the drivers open each conversation with a logon the camera counts as illegal.
    Each reconnection spends one attempt; the digest login after it succeeds and clears the count."""
    spec = site("127.0.187", counting=counting)
    cam = spec.devices[1]
    cam.lock_policy = LabLockPolicy(enabled=True, max_attempts=3, lock_seconds=600)
    fleet = start(spec)
    api = Api(fleet, "127.0.187.5")
    wait_for(lambda: hardware(fleet, "cam1")["state"] == "started")
    for _ in range(4):  # reconnect four times: never locks, the success after each opening clears the count
        api("PATCH", f"/hardware/{hw_id(2)}", json={"enabled": False})
        api("PATCH", f"/hardware/{hw_id(2)}", json={"enabled": True})
        wait_for(lambda: hardware(fleet, "cam1")["state"] == "started")
    opened = events_of(fleet, "auth_failed", device="cam1", source="127.0.187.5", reason="illegal_logon")
    assert len(opened) == (5 if counting else 0)
    assert not events_of(fleet, "locked")
    assert not events_of(fleet, "auth_failed", device="dcam")  # Dahua refuses Basic without counting a right one


def test_a_stale_item_with_the_opening_logon_spends_two_attempts_a_poll(start: Start) -> None:
    spec = site("127.0.188", counting=True, poll_seconds=30.0)
    spec.devices[1].lock_policy = LabLockPolicy(enabled=True, max_attempts=4, lock_seconds=600)
    spec.milestone[0].hardware[1].password = "Stale0Password"
    fleet = start(spec)
    wait_for(lambda: events_of(fleet, "locked", device="cam1"), timeout=5)
    failures = events_of(fleet, "auth_failed", device="cam1", source="127.0.188.5")
    assert [e["reason"] for e in failures[:4]] == ["basic_refused", "bad_credentials"] * 2  # two polls lock it


class EventsSocket:
    """A bare WebSocket client for the Events and State API (no library: the test speaks the RFC itself)."""

    def __init__(self, address: str, token: str) -> None:
        self.sock = socket.create_connection((address, 8443), timeout=5, source_address=("127.0.0.1", 0))
        key = base64.b64encode(os.urandom(16)).decode()
        head = (
            f"GET /api/ws/events/v1/ HTTP/1.1\r\nHost: {address}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer {token}\r\n\r\n"
        )
        self.sock.sendall(head.encode())
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            self.buffer += self.sock.recv(4096)
        status, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        assert status.startswith(b"HTTP/1.1 101"), status

    def send(self, message: dict[str, Any]) -> None:
        data, mask = json.dumps(message).encode(), os.urandom(4)
        head = (
            struct.pack("!BB", 0x81, 0x80 | len(data)) if len(data) < 126 else struct.pack("!BBH", 0x81, 254, len(data))
        )
        self.sock.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def receive(self) -> dict[str, Any]:
        while True:
            if len(self.buffer) >= 2:
                size, at = self.buffer[1] & 0x7F, 2
                if size == 126 and len(self.buffer) >= 4:
                    size, at = struct.unpack("!H", self.buffer[2:4])[0], 4
                if size != 126 and len(self.buffer) >= at + size:
                    payload, self.buffer = self.buffer[at : at + size], self.buffer[at + size :]
                    found: dict[str, Any] = json.loads(payload)
                    return found
            self.buffer += self.sock.recv(4096)

    def command(self, message: dict[str, Any]) -> dict[str, Any]:
        self.send(message)
        while True:
            reply = self.receive()
            if reply.get("commandId") == message["commandId"]:
                return reply


def test_events_and_state_show_whether_the_recording_server_talks_to_each_item(start: Start) -> None:
    fleet = start(site("127.0.189"))
    api = Api(fleet, "127.0.189.5")
    wait_for(lambda: hardware(fleet, "cam1")["state"] == "started")
    ws = EventsSocket("127.0.189.5", api.token)
    opened = ws.command({"command": "startSession", "sessionId": "", "eventId": "", "commandId": 1})
    assert opened["status"] == 201 and opened["sessionId"]
    filters = [{"modifier": "include", "resourceTypes": ["hardware"], "sourceIds": [hw_id(2)], "eventTypes": []}]
    subscribed = ws.command({"command": "addSubscription", "filters": filters, "commandId": 2})
    assert subscribed["status"] == 200 and subscribed["subscriptionId"]
    states = ws.command({"command": "getState", "commandId": 3})["states"]
    assert [(s["source"], s["type"]) for s in states] == [(f"hardware/{hw_id(2)}", STARTED)]
    api("PATCH", f"/hardware/{hw_id(2)}", json={"enabled": False})
    pushed = ws.receive()
    assert [(e["source"], e["type"]) for e in pushed["events"]] == [(f"hardware/{hw_id(2)}", STOPPED)]
    assert ws.command({"command": "nonsense", "commandId": 4})["status"] == 400
    ws.sock.close()
    again = EventsSocket("127.0.189.5", api.token)
    resumed = again.command(
        {"command": "startSession", "sessionId": opened["sessionId"], "eventId": "", "commandId": 1}
    )
    assert resumed["status"] == 200  # within 30 s: the session and its subscription live on
    assert again.command({"command": "getState", "commandId": 2})["states"][0]["type"] == STOPPED
    again.sock.close()
    no_token = session_from("127.0.0.1").get("http://127.0.189.5:8443/api/ws/events/v1/", timeout=5)
    assert no_token.status_code == 401


def test_the_lab_lists_the_server_and_moves_it_with_its_block(start: Start, lab_dir: Any) -> None:
    fleet = start(site("127.0.190"))
    ready = json.loads((lab_dir / "lab.ready.json").read_text())
    (server,) = ready["milestone"]
    assert (server["name"], server["url"], server["username"]) == ("xprotect", "http://127.0.190.5:8443", MS_USER)
    assert [(h["device"], h["user"], h["enabled"]) for h in server["hardware"]] == [
        ("nvr", "admin", True),
        ("cam1", "admin", True),
        ("dcam", "admin", True),
    ]
    assert {h["password"] for h in server["hardware"]} == {NVR_PW, CAM_PW, DH_PW}
    assert fleet.milestone("xprotect")["up"]
