"""ISAPI writes against the lab: accounts, lock policy, channels, IP filter, reboot, firmware."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from enforcer.credentials.secret import Secret
from enforcer.errors import DeviceError
from enforcer.facts import IPFilterFact
from enforcer.lab.firmware import build_image
from enforcer.lab.spec import LabChannel, LabLockPolicy, LabProfile, LabSpec
from enforcer.model import Account, Firmware, LockPolicy
from tests.lab.conftest import wait_for

from .conftest import ENFORCER, Bench, DictCredentials, device_for, lab_camera, lab_recorder

pytestmark = pytest.mark.lab

CAM, NVR = "Cam1-Pass!x9", "Nvr-Pass!x77"


def site() -> LabSpec:
    cam1 = lab_camera("cam1", "127.0.61.2", CAM)
    cam2 = lab_camera("cam2", "127.0.61.3", CAM, profile=LabProfile(lock_can_be_disabled=False))
    cam3 = lab_camera(
        "cam3", "127.0.61.4", CAM, firmware_version="V5.7.3", profile=LabProfile(reboot_seconds=50, upgrade_seconds=30)
    )
    # Polled every 600 device-s (6 s real): once a test changes cam1's password behind the recorder's
    # back, its stale channel needs 5 polls (over 24 s) to lock cam1 for the recorder. A channel the
    # driver changes is still polled at once.
    nvr = lab_recorder(
        "nvr",
        "127.0.61.1",
        NVR,
        [LabChannel(1, "cam1", "127.0.61.2", 8000, "admin", CAM)],
        lock_policy=LabLockPolicy(True, 5, 1800),
        profile=LabProfile(namespace="isapi", lock_time_unit="seconds", channel_poll_seconds=600, reboot_seconds=50),
    )
    return LabSpec([nvr, cam1, cam2, cam3])


@pytest.fixture
def lab(bench: Callable[[LabSpec], Bench]) -> Bench:
    b = bench(site())
    b.credentials = DictCredentials(
        {
            (f"s1/{n}", "admin"): [("current", Secret(NVR if n == "nvr" else CAM, "t"))]
            for n in ("nvr", "cam1", "cam2", "cam3")
        }
    )
    return b


def our_failures(b: Bench) -> list[dict[str, object]]:
    return b.events("auth_failed", source=ENFORCER)


def test_accounts(lab: Bench, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    cam1 = lab.fleet.spec.devices[1]
    drv = lab.driver(device_for(cam1, CAM))
    op = Account("operator", "operator", Secret("N3w-Operator!1", "t"))
    assert drv.ensure_account(op).changed
    assert lab.fleet.password("cam1", "operator") == "N3w-Operator!1"
    viewer = Account("viewer1", "viewer", Secret("V1ewer-Pass!2", "t"))
    assert drv.ensure_account(viewer).detail == "added"
    assert lab.fleet.password("cam1", "viewer1") == "V1ewer-Pass!2"
    assert drv.ensure_account(Account("viewer1", "operator", None)).detail == "level changed"
    assert drv.ensure_account(Account("viewer1", "viewer", None, present=False)).detail == "deleted"
    assert not drv.ensure_account(Account("viewer1", "viewer", None, present=False)).changed
    # the login user's own password: switch to it and confirm with a fresh userCheck
    new = Secret("Adm1n-New-Pass!", "t")
    assert drv.ensure_account(Account("admin", "administrator", new)).changed
    assert lab.fleet.password("cam1", "admin") == "Adm1n-New-Pass!"
    assert not drv.ensure_account(Account("admin", "administrator", new)).changed
    facts = drv.facts()
    assert facts.login is not None and facts.login.candidate == "desired"
    with pytest.raises(DeviceError, match="refusing to delete"):
        drv.ensure_account(Account("admin", "administrator", None, present=False))
    drv.close()
    assert our_failures(lab) == []
    assert "loginPassword=***" in caplog.text  # the transport logs the DELETE line, redacted
    for secret in (CAM, "N3w-Operator!1", "V1ewer-Pass!2", "Adm1n-New-Pass!"):
        assert secret not in caplog.text


def test_password_an_interrupted_run_already_set_is_not_a_failure(lab: Bench) -> None:
    """Killed after the device took a new password but before the store recorded it: the rerun's
    write is refused as 'same as old', which means done, not failed."""
    cam1 = lab.fleet.spec.devices[1]
    lab.fleet.set_account_password("cam1", "operator", "Alr3ady-Set!9")  # what the killed run did
    drv = lab.driver(device_for(cam1, CAM))
    outcome = drv.ensure_account(Account("operator", "operator", Secret("Alr3ady-Set!9", "t")))
    assert (outcome.changed, outcome.detail) == (False, "password already set")
    assert lab.fleet.password("cam1", "operator") == "Alr3ady-Set!9"
    drv.close()
    assert our_failures(lab) == []


def test_lock_policy(lab: Bench) -> None:
    nvr, cam1, cam2, _ = lab.fleet.spec.devices
    with lab.driver(device_for(cam1, CAM)) as drv:
        assert drv.ensure_lock_policy(LockPolicy(True, 4, 10)).changed
        assert not drv.ensure_lock_policy(LockPolicy(True, 4, 10)).changed
    assert lab.fleet.device("cam1")["lock_policy"] == {"enabled": True, "max_attempts": 4, "lock_seconds": 600}
    with lab.driver(device_for(nvr, NVR)) as drv:  # this firmware counts seconds
        assert drv.facts().lock_policy.lock_seconds == 1800  # type: ignore[union-attr]
        assert drv.ensure_lock_policy(LockPolicy(True, 6, 20)).changed
    assert lab.fleet.device("nvr")["lock_policy"] == {"enabled": True, "max_attempts": 6, "lock_seconds": 1200}
    with (
        lab.driver(device_for(cam2, CAM)) as drv,
        pytest.raises(DeviceError, match="cannot switch the illegal-login lock off"),
    ):
        drv.ensure_lock_policy(LockPolicy(False, 5, 30))
    with lab.driver(device_for(cam1, CAM)) as drv:
        assert drv.ensure_lock_policy(LockPolicy(False, 5, 30)).changed
    assert lab.fleet.device("cam1")["lock_policy"]["enabled"] is False
    assert our_failures(lab) == []


def test_channel_follows_a_camera_password_change(lab: Bench) -> None:
    nvr = lab.fleet.spec.devices[0]
    lab.fleet.set_account_password("cam1", "admin", "Cam1-Changed!5")
    with lab.driver(device_for(nvr, NVR)) as drv:
        out = drv.ensure_channel(
            1, address="127.0.61.2", port=8000, user="admin", password=Secret("Cam1-Changed!5", "t")
        )
        assert out.changed
        # the recorder polls the changed channel at once, on the lab's loop: wait for that login
        wait_for(lambda: lab.fleet.device("nvr")["channels"][0]["status"] == "connect", timeout=10)
        [channel] = drv.facts().channels
    assert channel.online and channel.detect == "connect"
    assert lab.fleet.device("nvr")["channels"][0]["password"] == "Cam1-Changed!5"
    with lab.driver(device_for(lab.fleet.spec.devices[2], CAM)) as cam, pytest.raises(DeviceError, match="no channel"):
        cam.ensure_channel(1, address="x", port=1, user="admin", password=Secret("y", "t"))


def test_ip_filter(lab: Bench) -> None:
    cam1 = lab.fleet.spec.devices[1]
    with lab.driver(device_for(cam1, CAM), source_address=ENFORCER) as drv:
        wanted = IPFilterFact(True, "allow", (ENFORCER, "127.0.61.1"))
        assert drv.ensure_ip_filter(wanted).changed
        assert not drv.ensure_ip_filter(wanted).changed
        assert drv.facts().ip_filter == wanted
        with pytest.raises(DeviceError, match="shut out"):
            drv.ensure_ip_filter(IPFilterFact(True, "allow", ("127.0.61.1",)))
        assert drv.ensure_ip_filter(IPFilterFact(False, "allow", ())).changed
    assert lab.fleet.device("cam1")["ip_filter"]["enabled"] is False


def test_reboot_waits_and_logs_in_again(lab: Bench) -> None:
    cam1 = lab.fleet.spec.devices[1]
    with lab.driver(device_for(cam1, CAM)) as drv:
        drv.facts()
        drv.reboot(wait=True)
        assert drv.facts().model == cam1.model
    assert [e["event"] for e in lab.fleet.read_events() if e["event"] in ("reboot", "booted")] == ["reboot", "booted"]
    assert our_failures(lab) == []


def test_firmware(lab: Bench, tmp_path: Path) -> None:
    cam3 = lab.fleet.spec.devices[3]
    image = tmp_path / "fw.dav"
    image.write_bytes(build_image(cam3.model, "V5.7.17", "240606", b"\1" * 4096))
    good = hashlib.sha256(image.read_bytes()).hexdigest()
    steps: list[str] = []
    with lab.driver(device_for(cam3, CAM)) as drv:
        with pytest.raises(DeviceError, match="not uploaded"):
            drv.ensure_firmware(Firmware("V5.7.17", image, "0" * 64))
        assert lab.events("firmware_uploaded") == []
        out = drv.ensure_firmware(Firmware("V5.7.17", image, good), progress=lambda f, what: steps.append(what))
        assert out.changed and out.detail == "V5.7.3 → V5.7.17"
        assert not drv.ensure_firmware(Firmware("V5.7.17", image, good)).changed
    assert lab.fleet.device("cam3")["firmware"] == "V5.7.17"
    assert len(lab.events("firmware_uploaded")) == 1 and steps[-1] == "runs V5.7.17"
    assert our_failures(lab) == []


def test_expired_nonce_gets_one_fresh_handshake(bench: Callable[..., Bench]) -> None:
    cam = lab_camera("cam9", "127.0.61.9", CAM)
    b = bench(LabSpec([cam]), nonce_seconds=20)  # 0.2 s of real time
    b.credentials = DictCredentials({("s1/cam9", "admin"): [("current", Secret(CAM, "t"))]})
    with b.driver(device_for(cam, CAM)) as drv:
        drv.facts()
        time.sleep(0.3)
        assert drv.facts().model == cam.model  # stale="TRUE" → one fresh handshake, not a failed login
    assert our_failures(b) == []
