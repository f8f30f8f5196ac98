"""The Milestone client driver against the lab's XProtect server over real sockets.

The lab's state (what XProtect stores, which items are enabled, whether its recording server talks to each
device) and its events file (who logged in where, what failed) are the ground truth, not the driver's reports.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import requests

from enforcer.credentials.keyring import Keyring
from enforcer.credentials.secret import Secret
from enforcer.drivers.base import DriverOptions
from enforcer.drivers.client import ClientDriver, Held
from enforcer.drivers.milestone import MilestoneClient
from enforcer.errors import DeviceError, TransportFailed
from enforcer.lab.fleet import Fleet
from enforcer.lab.spec import LabChannel, LabProfile, LabSpec
from enforcer.model import TLS, Client, Hold, MilestoneSettings
from tests.drivers.conftest import SCALE, cert_fingerprint, device_for
from tests.lab.conftest import CAM_PW, MS_PW, MS_USER, camera, dahua_camera, hw_id, recorder, wait_for, xprotect

pytestmark = pytest.mark.lab

NEW = {"nvr": "NewNvr0Pass1", "cam1": "NewCam0Pass2", "dcam": "NewDah0Pass3"}


class Site:
    """A served site with an XProtect server, and the inventory's view of it."""

    def __init__(self, fleet: Fleet, spec: LabSpec, net: str, scheme: str) -> None:
        self.fleet, self.spec, self.net, self.scheme = fleet, spec, net, scheme
        self.drivers: list[ClientDriver] = []  # closed when the test ends
        self.devices = {d.name: device_for(d, NEW[d.name]) for d in spec.devices}
        self.server = f"{net}.5"

    def held(self, *names: str) -> list[Held]:
        names = names or tuple(self.devices)
        return [Held(self.devices[n], "admin", Secret(NEW[n], "test")) for n in names]

    def client(self, *, password: str = MS_PW, tls: TLS | None = None, holds: tuple[str, ...] = ()) -> Client:
        settings = MilestoneSettings(
            f"{self.scheme}://{self.server}:8443",
            MS_USER,
            Secret(password, "test"),
            tls or TLS(ca=self.fleet.cert_path),
        )
        held = tuple(Hold(n, "admin") for n in holds or tuple(self.devices))
        return Client("s1", "xprotect", "milestone", held, settings)

    def driver(self, **kw: Any) -> ClientDriver:
        options = DriverOptions(timeout=5.0, time_scale=SCALE, source_address="127.0.0.1")
        self.drivers.append(MilestoneClient(self.client(**kw), keyring=Keyring(), options=options))
        return self.drivers[-1]

    def items(self) -> dict[str, dict[str, Any]]:
        return {h["device"]: h for h in self.fleet.milestone("xprotect")["hardware"]}

    def events(self, event: str, **match: Any) -> list[dict[str, Any]]:
        return [
            e for e in self.fleet.read_events() if e["event"] == event and all(e.get(k) == v for k, v in match.items())
        ]

    def change_devices(self) -> None:
        """What enforcer's device phase does: each device gets its new password."""
        for name, password in NEW.items():
            self.fleet.set_account_password(name, "admin", password)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Callable[..., Site]]:
    fleets: list[Fleet] = []
    sites: list[Site] = []

    def make(net: str, *, scheme: str = "http", **options: Any) -> Site:
        cam = camera("cam1", f"{net}.2", profile=LabProfile(illegal_basic_logon=True))
        dcam = dahua_camera("dcam", f"{net}.3")
        nvr = recorder("nvr", f"{net}.1", [LabChannel(1, "cam1", cam.address, 8000, "admin", CAM_PW)])
        spec = LabSpec([nvr, cam, dcam], milestone=[xprotect(f"{net}.5", [nvr, cam, dcam], scheme=scheme, **options)])
        fleet = Fleet(spec, time_scale=SCALE, directory=tmp_path / f"lab{len(fleets)}")
        fleet.start()
        fleets.append(fleet)
        made = Site(fleet, spec, net, scheme)
        wait_for(lambda: all(h["state"] == "started" for h in made.items().values()))
        sites.append(made)
        return made

    yield make
    for made in sites:
        for driver in made.drivers:
            driver.close()
    for fleet in fleets:
        fleet.stop()


def test_facts_say_what_xprotect_stores_and_whether_its_recording_server_talks_to_it(site: Callable[..., Site]) -> None:
    lab = site("127.0.210")
    driver = lab.driver()
    facts = driver.facts(lab.held())
    assert facts.client == "s1/xprotect" and facts.running is True
    assert [(p.address, p.user, p.enabled, p.online) for p in facts.stored] == [
        ("127.0.210.1:8080", "admin", True, True),
        ("127.0.210.2:8080", "admin", True, True),
        ("127.0.210.3:8080", "admin", True, True),
    ]
    requests.patch(  # an operator disables the Dahua camera in the Management Client
        f"http://{lab.server}:8443/api/rest/v1/hardware/{hw_id(3)}",
        json={"enabled": False},
        headers={"Authorization": f"Bearer {driver.api.token('test')}"},  # type: ignore[attr-defined]
        timeout=5,
    )
    stored = driver.facts(lab.held()).path("127.0.210.3:8080")
    assert stored is not None and (stored.enabled, stored.online) == (False, None)


def test_facts_refuse_paths_xprotect_does_not_hold_as_the_inventory_says(site: Callable[..., Site]) -> None:
    lab = site("127.0.211")
    driver = lab.driver()
    moved = replace(lab.devices["cam1"], address="127.0.211.9")
    with pytest.raises(DeviceError, match=r"cam1 \(127.0.211.9:8080\) is not among the hardware XProtect stores"):
        driver.facts([Held(moved, "admin", Secret(NEW["cam1"], "t"))])
    with pytest.raises(DeviceError, match=r"XProtect logs into nvr as 'admin'.*the inventory says 'operator'"):
        driver.facts([Held(lab.devices["nvr"], "operator", Secret(NEW["nvr"], "t"))])


def test_isolate_update_release_verify_restore_exactly_what_was_there(site: Callable[..., Site]) -> None:
    """The Dahua camera was disabled by an operator before: it stays disabled. While isolated the recording
    server sends nothing; the new passwords are stored without Milestone touching the devices; release enables
    exactly what was enabled, and the recording server logs in with the new passwords, with no lock."""
    lab = site("127.0.212")
    driver = lab.driver()
    token = driver.api.token("test")  # type: ignore[attr-defined]
    requests.patch(
        f"http://{lab.server}:8443/api/rest/v1/hardware/{hw_id(3)}",
        json={"enabled": False},
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    )
    before = lab.items()
    standing = driver.standing(lab.held())
    assert standing == {"enabled": {hw_id(1): True, hw_id(2): True, hw_id(3): False}}
    assert driver.isolate(lab.held()).changed
    assert {d: h["enabled"] for d, h in lab.items().items()} == {"nvr": False, "cam1": False, "dcam": False}
    assert not driver.isolate(lab.held()).changed  # idempotent
    mark = len(lab.fleet.read_events())
    lab.change_devices()
    outcome = driver.update(lab.held())
    assert outcome.changed and "nvr" in outcome.detail
    items = lab.items()
    assert {d: h["password"] for d, h in items.items()} == NEW
    assert all(items[d]["password_last_modified"] != before[d]["password_last_modified"] for d in items)
    later = lab.fleet.read_events()[mark:]
    assert not [e for e in later if e["source"] == lab.server and e["event"] in ("account_changed", "auth_failed")]
    assert [e["on_device"] for e in later if e["event"] == "hardware_password_changed"] == [False] * 3
    assert driver.release(lab.held(), standing).changed
    assert {d: h["enabled"] for d, h in lab.items().items()} == {"nvr": True, "cam1": True, "dcam": False}
    assert "recording server connected to 2 devices" in driver.verify(lab.held())
    assert "disabled in XProtect, not checked: IPC-HDW5831R-ZE (dcam)" in driver.verify(lab.held())
    assert not lab.events("locked")
    assert not [e for e in lab.events("auth_failed", source=lab.server) if e["reason"] != "illegal_logon"]
    tasks = requests.get(
        f"http://{lab.server}:8443/api/rest/v1/tasks", headers={"Authorization": f"Bearer {token}"}, timeout=5
    )
    assert tasks.json() == {"array": []}  # every task cleaned up


def test_a_refused_task_is_an_error_naming_what_xprotect_said(
    site: Callable[..., Site], monkeypatch: pytest.MonkeyPatch
) -> None:
    lab = site("127.0.213")
    monkeypatch.setattr(MilestoneClient, "password_rules", None)  # let the server judge a password it refuses
    driver = lab.driver()
    bad = [Held(lab.devices["cam1"], "admin", Secret("with-symbols-1A", "t"))]
    with pytest.raises(DeviceError) as refused:
        driver.update(bad)
    text = str(refused.value)
    assert text.startswith("s1/xprotect: update: ") and "XProtect refused ChangePasswordHardware" in text
    assert "task Error 61002: The password may contain letters and digits only" in text
    assert "with-symbols-1A" not in text
    assert lab.items()["cam1"]["password"] == CAM_PW
    monkeypatch.undo()
    with pytest.raises(DeviceError, match="XProtect would refuse cam1's password: it may hold letters and digits"):
        lab.driver().update(bad)  # the driver's own check: nothing sent


def test_the_token_is_taken_once_renewed_and_never_retried_once_refused(site: Callable[..., Site]) -> None:
    lab = site("127.0.214", token_seconds=100)  # 1 s real; renewed 50 server seconds early
    driver = lab.driver()
    driver.facts(lab.held())
    driver.facts(lab.held())
    assert len(lab.events("token_granted")) == 1
    time.sleep(0.6)
    driver.facts(lab.held())
    assert len(lab.events("token_granted")) == 2  # before it expired: no 401 on the way
    lab.fleet.expire_milestone_tokens("xprotect")  # the server restarted: our token is unknown
    driver.facts(lab.held())
    assert len(lab.events("token_granted")) == 3
    wrong = lab.driver(password="Wrong0Password1")
    for _ in range(3):
        with pytest.raises(DeviceError, match="XProtect refused a token for enforcer-svc: invalid_grant"):
            wrong.facts(lab.held())
    assert len(lab.events("token_refused")) == 1  # said once, never sent again


def test_https_is_verified_or_pinned_as_devices_are(site: Callable[..., Site]) -> None:
    lab = site("127.0.215", scheme="https")
    assert lab.fleet.cert_path is not None
    assert lab.driver().facts(lab.held()).path("127.0.215.2:8080") is not None  # the CA
    pinned = TLS(fingerprint="sha256:" + cert_fingerprint(lab.fleet.cert_path))
    facts = lab.driver(tls=pinned).facts(lab.held())  # the pin, for REST and the WebSocket alike
    assert all(p.online for p in facts.stored)
    with pytest.raises(TransportFailed, match="does not match the pinned fingerprint") as wrong:
        lab.driver(tls=TLS(fingerprint="sha256:" + "00" * 32)).facts(lab.held())
    assert wrong.value.kind == "tls"
    with pytest.raises(TransportFailed, match="not trusted"):
        lab.driver(tls=TLS()).facts(lab.held())  # the system store does not know the lab's CA
    assert len(lab.events("token_granted")) == 2  # neither refused connection sent the password
    with pytest.raises(DeviceError, match="credentials are never sent over an unverified connection"):
        lab.driver(tls=TLS(verify=False))


@pytest.mark.parametrize(
    "options",
    [
        {"task_shape": "nested", "task_key": "name"},
        {"queued_tasks": False, "address_form": "ip", "parent_type": "recordingServers", "password_field": "absent"},
    ],
)
def test_every_form_the_notes_leave_open_is_read(site: Callable[..., Site], options: dict[str, Any]) -> None:
    lab = site("127.0.216" if options.get("queued_tasks", True) else "127.0.217", **options)
    driver = lab.driver()
    assert all(p.online for p in driver.facts(lab.held()).stored)
    lab.change_devices()
    driver.update(lab.held())
    assert {d: h["password"] for d, h in lab.items().items()} == NEW
    assert "connected to 3 devices" in driver.verify(lab.held())


def test_without_the_events_api_the_connection_is_reported_unseen(site: Callable[..., Site]) -> None:
    lab = site("127.0.218", events_api=False)
    driver = lab.driver()
    facts = driver.facts(lab.held())
    assert all(p.online is None for p in facts.stored) and "no Events and State API" in facts.detail
    assert "connections not seen" in driver.verify(lab.held())


def test_verify_fails_when_the_recording_server_does_not_reconnect(site: Callable[..., Site]) -> None:
    """A device changed behind XProtect's back: its item stays in error, and verify says so within its bound."""
    lab = site("127.0.219")
    lab.fleet.set_account_password("cam1", "admin", NEW["cam1"])
    wait_for(lambda: lab.items()["cam1"]["state"] == "error")
    started = time.monotonic()
    with pytest.raises(DeviceError, match=r"does not communicate with DS-2CD2146G2-ISU \(cam1\)") as failed:
        lab.driver().verify(lab.held())
    assert time.monotonic() - started < 180 * SCALE + 2
    assert "check the password XProtect stores" in str(failed.value)


def test_no_secret_reaches_a_log(site: Callable[..., Site], caplog: pytest.LogCaptureFixture) -> None:
    lab = site("127.0.220", scheme="https")
    caplog.set_level(logging.DEBUG)
    logging.getLogger("urllib3").setLevel(logging.DEBUG)
    driver = lab.driver()
    standing = driver.standing(lab.held())
    driver.isolate(lab.held())
    lab.change_devices()
    driver.update(lab.held())
    driver.release(lab.held(), standing)
    driver.verify(lab.held())
    token = driver.api.token("test")  # type: ignore[attr-defined]
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "POST /API/IDP/connect/token" in text and "ChangePasswordHardware" in text  # urllib3 did log
    for secret in [MS_PW, token, CAM_PW, *NEW.values()]:
        assert secret not in text
