"""Dahua driver writes against the lab: accounts, lock policy, channels, IP filter, reboot, firmware."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from enforcer.credentials.secret import Secret
from enforcer.drivers.dahua import _users
from enforcer.drivers.dahua._firmware import multipart
from enforcer.errors import DeviceError
from enforcer.facts import IPFilterFact
from enforcer.lab.firmware import build_image
from enforcer.lab.spec import LabChannel, LabSpec
from enforcer.model import Account, Firmware, LockPolicy

from .conftest import ENFORCER, Bench, DictCredentials
from .test_dahua_lab import CAM, NVR, OP, SPECIAL, dh_camera, dh_device, dh_recorder, driver, ours

pytestmark = pytest.mark.lab


@pytest.fixture
def lab(bench: Callable[[LabSpec], Bench]) -> Bench:
    cam1 = dh_camera("cam1", "127.0.81.2")
    # cam2's upgrade takes 300 device-s (3 s real): a rerun certainly finds it still in flight
    cam2 = dh_camera("cam2", "127.0.81.3", SPECIAL, upgrade_seconds=300)
    # The stale channels fail one login per poll and the cameras lock the whole admin account after 5:
    # polled every 600 device-s (6 s real), that takes over 24 s, longer than any test here. A channel
    # the driver changes is still polled at once.
    nvr = dh_recorder(
        "nvr",
        "127.0.81.1",
        [
            LabChannel(1, "cam1", "127.0.81.2", 8080, "admin", "Stale-Pass!1"),
            LabChannel(2, "cam2", "127.0.81.3", 8080, "admin", "Stale-Pass!2"),
        ],
        channel_poll_seconds=600,
    )
    b = bench(LabSpec([nvr, cam1, cam2]))
    table = {("s1/nvr", "admin"): NVR, ("s1/cam1", "admin"): CAM, ("s1/cam2", "admin"): SPECIAL, ("s1/cam1", "op"): OP}
    b.credentials = DictCredentials({key: [("current", Secret(pw, "t"))] for key, pw in table.items()})
    return b


def test_accounts(lab: Bench, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    cam1 = lab.fleet.spec.devices[1]
    drv = driver(lab, dh_device(cam1, CAM))
    # another account's password: modifyPassword with the store's current as pwdOld, keeping its id
    drv.ensure_login()
    op_id = next(u.id for u in _users.read_users(drv.session) if u.name == "op")
    op = Account("op", "operator", Secret("N3w-Operator!1", "t"))
    assert drv.ensure_account(op).detail == "password changed"
    assert lab.fleet.password("cam1", "op") == "N3w-Operator!1"
    assert next(u.id for u in _users.read_users(drv.session) if u.name == "op") == op_id
    lab.credentials.table[("s1/cam1", "op")] = [("current", op.password)]  # type: ignore[list-item]
    assert not drv.ensure_account(op).changed
    assert [a.level for a in drv.facts().accounts if a.name == "op"] == ["operator"]
    viewer = Account("viewer1", "viewer", Secret("V1ewer-Pass!2", "t"))
    assert drv.ensure_account(viewer).detail == "added"
    assert lab.fleet.password("cam1", "viewer1") == "V1ewer-Pass!2"
    assert drv.ensure_account(Account("viewer1", "operator", None)).detail == "level changed"
    assert not drv.ensure_account(Account("viewer1", "operator", None)).changed
    assert drv.ensure_account(Account("viewer1", "viewer", None, present=False)).detail == "deleted"
    assert not drv.ensure_account(Account("viewer1", "viewer", None, present=False)).changed
    with pytest.raises(DeviceError, match="would refuse the new password"):
        drv.ensure_account(Account("weak", "viewer", Secret("weak", "t")))
    # the login user's own password: modifyPassword with pwdOld, confirmed by a fresh RPC2 login
    new = Secret("Adm1n-New-Pass!", "t")
    assert drv.ensure_account(Account("admin", "administrator", new)).changed
    assert lab.fleet.password("cam1", "admin") == "Adm1n-New-Pass!"
    assert not drv.ensure_account(Account("admin", "administrator", new)).changed
    facts = drv.facts()  # still working: the session switched to the new password
    assert facts.login is not None and facts.login.candidate == "desired"
    with pytest.raises(DeviceError, match="refusing to delete"):
        drv.ensure_account(Account("admin", "administrator", None, present=False))
    drv.close()
    kinds = [e["event"] for e in lab.fleet.read_events() if e["event"].startswith("account_")]
    # op's password, viewer1 added, its level, viewer1 deleted, admin's own password
    expected = ["changed", "added", "changed", "deleted", "changed"]
    assert kinds == [f"account_{k}" for k in expected]
    assert ours(lab, "auth_failed") == [] and ours(lab, "locked") == []
    assert "pwd=***" in caplog.text and "pwdOld=***" in caplog.text and "user.Password=***" in caplog.text
    for secret in (CAM, OP, "N3w-Operator!1", "V1ewer-Pass!2", "Adm1n-New-Pass!"):
        assert secret not in caplog.text


def test_a_wrong_current_password_falls_back_to_delete_and_add(lab: Bench) -> None:
    """The store's current password for ``op`` is stale: modifyPassword answers Error (one wrong
    ``pwdOld``, counted only toward the modify lock), then the account is deleted and added again."""
    cam1 = lab.fleet.spec.devices[1]
    lab.credentials.table[("s1/cam1", "op")] = [("current", Secret("Stale-Op!x1", "t"))]  # type: ignore[list-item]
    with driver(lab, dh_device(cam1, CAM)) as drv:
        op = Account("op", "operator", Secret("N3w-Operator!2", "t"))
        assert drv.ensure_account(op).detail == "password changed"
        assert [a.level for a in drv.facts().accounts if a.name == "op"] == ["operator"]
    assert lab.fleet.password("cam1", "op") == "N3w-Operator!2"
    kinds = [e["event"] for e in lab.fleet.read_events() if e["event"].startswith("account_")]
    assert kinds == ["account_deleted", "account_added"]
    assert [e["reason"] for e in ours(lab, "auth_failed")] == ["old_password"]
    assert ours(lab, "locked") == []


def test_lock_policy(lab: Bench) -> None:
    nvr = lab.fleet.spec.devices[0]
    with driver(lab, dh_device(nvr, NVR)) as drv:
        assert drv.ensure_lock_policy(LockPolicy(True, 4, 10)).changed
        assert not drv.ensure_lock_policy(LockPolicy(True, 4, 10)).changed
        assert lab.fleet.device("nvr")["lock_policy"] == {"enabled": True, "max_attempts": 4, "lock_seconds": 600}
        with pytest.raises(DeviceError, match="refused the lock policy"):
            drv.ensure_lock_policy(LockPolicy(True, 11, 10))  # LockLoginTimes is 3..10
        assert drv.ensure_lock_policy(LockPolicy(False, 5, 30)).changed
    assert lab.fleet.device("nvr")["lock_policy"]["enabled"] is False
    assert ours(lab, "auth_failed") == []


def test_channels_log_in_after_the_update(lab: Bench) -> None:
    nvr = lab.fleet.spec.devices[0]
    with driver(lab, dh_device(nvr, NVR)) as drv:
        out = drv.ensure_channel(1, address="127.0.81.2", port=8080, user="admin", password=Secret(CAM, "t"), wait=True)
        assert out.changed
        # a password a raw query string would corrupt reaches the camera intact
        drv.ensure_channel(2, address="127.0.81.3", port=8080, user="admin", password=Secret(SPECIAL, "t"), wait=True)
        channels = {c.id: c for c in drv.facts().channels}
        with pytest.raises(DeviceError, match="no channel 40"):
            drv.ensure_channel(40, address="127.0.81.9", port=80, user="admin", password=Secret(CAM, "t"))
    assert channels[1].online and channels[1].detect == "connect" and channels[2].online
    assert [(c["id"], c["password"]) for c in lab.fleet.device("nvr")["channels"]] == [(1, CAM), (2, SPECIAL)]
    assert ours(lab, "auth_failed") == []


def test_ip_filter_and_self_lockout(lab: Bench) -> None:
    cam1 = lab.fleet.spec.devices[1]
    with driver(lab, dh_device(cam1, CAM), source_address=ENFORCER) as drv:
        with pytest.raises(DeviceError, match="shut out enforcer's own source"):
            drv.ensure_ip_filter(IPFilterFact(True, "allow", ("127.0.0.9",)))
        with pytest.raises(DeviceError, match="shut out enforcer's own source"):
            drv.ensure_ip_filter(IPFilterFact(True, "deny", (ENFORCER,)))
        wanted = IPFilterFact(True, "allow", (ENFORCER, "127.0.81.1"))
        assert drv.ensure_ip_filter(wanted).changed
        assert not drv.ensure_ip_filter(wanted).changed
        assert drv.read_ip_filter() == wanted
        deny = IPFilterFact(True, "deny", ("127.0.0.9",))
        assert drv.ensure_ip_filter(deny).changed
        assert lab.fleet.device("cam1")["ip_filter"] == {"enabled": True, "mode": "deny", "addresses": ["127.0.0.9"]}
        assert drv.ensure_ip_filter(IPFilterFact(False, "deny", ())).changed
    assert not lab.fleet.device("cam1")["ip_filter"]["enabled"]
    assert ours(lab, "auth_failed") == [] and ours(lab, "blocked") == []


def _image(tmp_path: Path, name: str, model: str, version: str) -> Firmware:
    path = tmp_path / name
    path.write_bytes(build_image(model, version, "2024-11-30"))
    return Firmware(version, path, hashlib.sha256(path.read_bytes()).hexdigest())


def test_firmware_and_reboot(lab: Bench, tmp_path: Path) -> None:
    cam1 = lab.fleet.spec.devices[1]
    good = _image(tmp_path, "good.bin", cam1.model, "2.800.0000017.0.R")
    wrong_model = _image(tmp_path, "other.bin", "IPC-OTHER", "2.800.0000017.0.R")
    seen: list[float] = []
    with driver(lab, dh_device(cam1, CAM)) as drv:
        tampered = Firmware(good.version, good.image, "0" * 64)
        with pytest.raises(DeviceError, match="not uploaded"):
            drv.ensure_firmware(tampered)
        with pytest.raises(DeviceError, match="FileUnmatch"):
            drv.ensure_firmware(wrong_model)
        assert drv.ensure_firmware(good, progress=lambda f, what: seen.append(f)).changed
        assert not drv.ensure_firmware(good).changed
        assert drv.facts().firmware_version == "2.800.0000017.0.R"
        drv.reboot(wait=True)
        assert drv.facts().firmware_version == "2.800.0000017.0.R"
    assert seen == sorted(seen) and seen[-1] == 1.0
    events = [e["event"] for e in lab.fleet.read_events() if e["device"] == "cam1"]
    assert events.count("firmware_uploaded") == 1 and events.count("firmware_rejected") == 1
    assert "firmware_changed" in events and events.count("booted") >= 2
    assert ours(lab, "auth_failed") == []


def test_firmware_follows_an_upgrade_already_in_flight(lab: Bench, tmp_path: Path) -> None:
    """An interrupted run uploaded the image and died: the rerun follows that upgrade, never uploads again."""
    cam2 = lab.fleet.spec.devices[2]
    good = _image(tmp_path, "good.bin", cam2.model, "2.800.0000017.0.R")
    with driver(lab, dh_device(cam2, SPECIAL)) as first:
        first.ensure_login()
        body, content_type = multipart("good.bin", good.image.read_bytes())
        first.session.request(
            "upload", "/cgi-bin/upgrader.cgi", "uploadFirmware", method="POST", body=body, content_type=content_type
        )
    with driver(lab, dh_device(cam2, SPECIAL)) as rerun:
        assert rerun.ensure_firmware(good).changed
    events = [e["event"] for e in lab.fleet.read_events() if e["device"] == "cam2"]
    assert events.count("firmware_uploaded") == 1 and "firmware_changed" in events
    assert lab.fleet.device("cam2")["firmware"] == "2.800.0000017.0.R"
