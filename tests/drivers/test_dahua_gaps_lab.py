"""Firmware that lacks a config (tests/lab/test_dahua_unsupported.py shows how the lab answers): the
driver records the gap in facts instead of failing the device, and the plan reports what it blocks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from enforcer.credentials.secret import Secret
from enforcer.lab.spec import LabChannel, LabSpec
from enforcer.model import Account, LockPolicy
from enforcer.plan.diff import diff_device

from .conftest import Bench
from .test_dahua_lab import CAM, NVR, creds, dh_camera, dh_device, dh_recorder, driver, ours

pytestmark = pytest.mark.lab

STATUSES = [400, 403, 200]


def facts_of(b: Bench, lab: Any, password: str) -> Any:
    with driver(b, dh_device(lab, password)) as drv:
        return drv.facts()


@pytest.mark.parametrize("status", STATUSES)
def test_a_camera_without_a_lock_policy_is_read_and_the_change_is_blocked(
    bench: Callable[..., Bench], status: int
) -> None:
    lab = dh_camera("cam1", "127.0.133.3", lacks=["General"], unknown_config_status=status)
    b = bench(LabSpec([lab]))
    b.credentials = creds(cam1=CAM)
    f = facts_of(b, lab, CAM)
    assert f.lock_policy is None and f.ip_filter is not None
    [gap] = f.gaps
    assert gap.capability == "lock_policy" and "getConfig General" in gap.detail
    assert ("HTTP 400" if status == 400 else "HTTP 403" if status == 403 else "Error -1") in gap.detail
    device = dh_device(lab, CAM, lock_policy=LockPolicy(True, 5, 30))
    [change] = diff_device(device, f, frozenset({"lock_policy", "credentials"}), {})[:1]
    assert (change.action, change.reason) == ("blocked", gap.detail)
    assert ours(b, "auth_failed") == [] and ours(b, "locked") == []
    with driver(b, device) as drv, pytest.raises(Exception, match="no login-lock policy"):
        drv.ensure_lock_policy(LockPolicy(True, 5, 30))


@pytest.mark.parametrize("status", STATUSES)
def test_a_camera_without_an_ip_filter_is_read_with_the_gap(bench: Callable[..., Bench], status: int) -> None:
    lab = dh_camera("cam1", "127.0.133.4", lacks=["IPFilter"], unknown_config_status=status)
    b = bench(LabSpec([lab]))
    b.credentials = creds(cam1=CAM)
    f = facts_of(b, lab, CAM)
    assert f.ip_filter is None and "ip_filter" not in f.capabilities and f.lock_policy is not None
    assert [g.capability for g in f.gaps] == ["ip_filter"] and "getConfig IPFilter" in f.gaps[0].detail
    with driver(b, dh_device(lab, CAM)) as drv, pytest.raises(Exception, match="no IP filter"):
        drv.read_ip_filter()
    assert ours(b, "auth_failed") == []


@pytest.mark.parametrize("status", STATUSES)
def test_a_recorder_without_remote_devices_is_read_with_the_gap(bench: Callable[..., Bench], status: int) -> None:
    lab = dh_recorder(
        "nvr",
        "127.0.133.5",
        [LabChannel(1, "cam1", "127.0.133.6", 8080, "admin", CAM)],
        lacks=["RemoteDevice"],
        unknown_config_status=status,
    )
    b = bench(LabSpec([lab]))
    b.credentials = creds(nvr=NVR)
    f = facts_of(b, lab, NVR)
    assert f.channels == () and "channels" not in f.capabilities
    assert [g.capability for g in f.gaps] == ["channels"] and "RemoteDevice" in f.gaps[0].detail
    with driver(b, dh_device(lab, NVR)) as drv, pytest.raises(Exception, match="no remote devices"):
        drv.ensure_channel(1, address="127.0.133.6", port=8080, user="admin", password=Secret(CAM, "t"))
    assert ours(b, "auth_failed") == []


def test_an_old_recorder_without_the_camera_login_error_call_reads_unknown(bench: Callable[..., Bench]) -> None:
    cam = dh_camera("cam1", "127.0.133.8", password="Other-Pass!9")  # refuses the recorder's stored password
    lab = dh_recorder(
        "nvr",
        "127.0.133.7",
        [LabChannel(1, "cam1", "127.0.133.8", 8080, "admin", CAM)],
        lacks=["LogicDeviceManager.getCameraLoginErrorCode"],
        unsupported_status=501,
    )
    b = bench(LabSpec([lab, cam]))
    b.credentials = creds(nvr=NVR)
    [channel] = facts_of(b, lab, NVR).channels
    assert (channel.online, channel.detect) in ((False, "unknown"), (True, "connect"))
    assert ours(b, "auth_failed") == []


def test_accounts_still_change_on_firmware_with_gaps(bench: Callable[..., Bench]) -> None:
    lab = dh_camera("cam1", "127.0.133.9", lacks=["General", "IPFilter"])
    b = bench(LabSpec([lab]))
    b.credentials = creds(cam1=CAM)
    new = "N3w-Pass!x42"
    with driver(b, dh_device(lab, CAM)) as drv:
        drv.facts()
        assert drv.ensure_account(Account("admin", "administrator", Secret(new, "t"))).changed
    assert b.fleet.password("cam1", "admin") == new
