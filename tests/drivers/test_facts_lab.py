"""Facts against a generated lab fleet over real sockets: every seeded problem, and lock safety."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace

import pytest

from enforcer.credentials.guard import LoginGuard
from enforcer.credentials.secret import Secret
from enforcer.drivers.base import DriverOptions
from enforcer.drivers.isapi._driver import IsapiDriver
from enforcer.engine.gather import Failure, gather
from enforcer.errors import DeviceError
from enforcer.lab.choices import PROBLEMS
from enforcer.lab.spec import LabProfile, LabSpec
from enforcer.model import Device
from tests.lab.conftest import wait_for

from .conftest import ENFORCER, SCALE, Bench, DictCredentials, Repo, device_for, lab_camera

pytestmark = pytest.mark.lab

FACT_PROBLEMS = [p for p in PROBLEMS if p != "stale_viewer"] + ["stale_viewer"]


def test_facts_match_every_seeded_problem(repo: Callable[..., Repo]) -> None:
    r = repo(sites=4, cameras=4, problems=FACT_PROBLEMS, thresholds=[5, 6, 7], https_share=0.5)
    result = r.gather()
    locked = {f"{d.site}/{d.name}" for d in r.with_problem("locked")}
    assert {x.id for x in result.failures} == locked
    for failure in result.failures:
        assert failure.step == "login" and "locked" in failure.reason and "no attempt made" in failure.reason
        assert failure.unlock_seconds > 0  # the engine may wait it out
    for lab in r.spec.devices:
        device_id = f"{lab.site}/{lab.name}"
        if device_id in locked:
            continue
        f = result.facts[device_id]
        assert (f.model, f.serial, f.firmware_version) == (lab.model, lab.serial, lab.firmware_version)
        assert f.firmware_build == lab.firmware_build.removeprefix("build ")
        assert f.device_type == ("NVR" if lab.role == "recorder" else "IPCamera")
        assert [(a.name, a.level) for a in f.accounts] == [(a.name, a.level) for a in lab.accounts]
        policy = f.lock_policy
        assert policy is not None
        assert (policy.enabled, policy.max_attempts) == (lab.lock_policy.enabled, lab.lock_policy.max_attempts)
        assert policy.lock_seconds == lab.lock_policy.lock_seconds, (lab.name, lab.profile.lock_time_unit)
        assert policy.enabled == ("lock_disabled" not in lab.problems)
        assert f.ip_filter is not None and not f.ip_filter.enabled
        login = f.login
        assert login is not None and login.account == "admin"
        if "unknown_password" in lab.problems:
            assert (login.candidate, login.attempts_spent) == ("previous", 1)
        else:
            assert (login.candidate, login.attempts_spent) == ("current", 0)
        assert login.is_default == ("default_password" in lab.problems)
        if "weak_password" in lab.problems or "default_password" in lab.problems:
            assert login.is_risk
        if lab.role == "recorder":
            assert [(c.id, c.address, c.port, c.user) for c in f.channels] == [
                (c.id, c.address, c.port, c.user) for c in lab.channels
            ]
            assert "channels" in f.capabilities
        else:
            assert f.channels == ()
    old = [d for d in r.with_problem("old_firmware") if f"{d.site}/{d.name}" not in locked]
    assert old and all(result.facts[f"{d.site}/{d.name}"].firmware_version == d.firmware_version for d in old)
    assert r.our_locks() == []


@pytest.mark.parametrize("threshold", [3, 4, 5, 6, 7])
def test_discovery_never_locks_us_out(repo: Callable[..., Repo], threshold: int) -> None:
    r = repo(sites=3, cameras=2, problems=["unknown_password", "locked"], thresholds=[threshold], seed=threshold)
    for _ in range(2):  # a rerun with a fresh guard, as the next `enforce facts` would be
        result = r.gather(LoginGuard())
        failed = {x.id: x for x in result.failures}
        for lab in r.with_problem("unknown_password"):
            device_id = f"{lab.site}/{lab.name}"
            if "locked" in lab.problems:
                assert device_id in failed
            elif threshold >= 4:
                login = result.facts[device_id].login
                assert login is not None and login.candidate == "previous"
            else:  # one failure leaves 2: both are kept in reserve, so previous is never tried
                assert device_id in failed and "reserve" in failed[device_id].reason
        for lab in r.with_problem("locked"):
            assert isinstance(failed.get(f"{lab.site}/{lab.name}"), Failure)
    assert r.our_locks() == []
    failures = [e for e in r.fleet.read_events() if e["event"] == "auth_failed" and e["source"] == ENFORCER]
    per_device: dict[str, int] = {}
    for e in failures:
        per_device[e["device"]] = per_device.get(e["device"], 0) + 1
    for name, count in per_device.items():
        lab = r.lab(name)
        assert count <= max(0, lab.lock_policy.max_attempts - 2) or "locked" in lab.problems, (name, count)


def test_lock_state_is_free(repo: Callable[..., Repo]) -> None:
    from enforcer.drivers.base import DriverOptions
    from enforcer.drivers.isapi._driver import IsapiDriver

    r = repo(sites=1, cameras=2, problems=["locked"])
    [lab] = r.with_problem("locked")
    guard = LoginGuard()
    with IsapiDriver(r.device(lab.name), keyring=r.credentials().keyring(guard), options=DriverOptions()) as drv:
        state = drv.lock_state()
    assert state.locked and state.unlock_seconds > 0
    assert [e for e in r.fleet.read_events() if e["source"] == ENFORCER and e["event"] == "auth_failed"] == []


def test_a_camera_refused_at_the_reserve_is_tried_again_in_the_same_run_once_it_forgot(
    bench: Callable[[LabSpec], Bench],
) -> None:
    """The store's three passwords are all stale (the desired one was set by hand): discovery spends 3 of
    5 and keeps the last 2. Once the camera's window is over, the free ``userCheck`` of the same run says
    5 again, and the guard lets the device's count take over from its own tally of 3 failures."""
    desired = "Desired-Pw!7"
    window = 300.0  # device seconds: 3 s here
    profile = LabProfile(reboot_seconds=50, upgrade_seconds=30, failure_window_seconds=window)
    lab = lab_camera("cam1", "127.0.74.2", desired, profile=profile)
    b = bench(LabSpec([lab]))
    stale = [Secret(f"Stale-{i}!pw", "t") for i in range(3)]
    b.credentials = DictCredentials(
        {("s1/cam1", "admin"): [("current", stale[0]), ("pending", stale[1]), ("previous", stale[2])]}
    )
    with b.driver(device_for(lab, desired)) as drv:
        with pytest.raises(DeviceError, match="kept in reserve: wait for the device to forget") as caught:
            drv.ensure_login()
        assert "3 failed attempts spent" in str(caught.value)
        assert [e["attempts_left"] for e in b.events("auth_failed", source=ENFORCER)] == [4, 3, 2]
        wait_for(lambda: b.events("counter_reset", device="cam1"), timeout=window * SCALE + 10)
        login = drv.ensure_login()  # the same run, the same guard: read again, and the desired one works
    assert (login.candidate, login.attempts_spent) == ("desired", 0)
    assert len(b.events("auth_failed", source=ENFORCER)) == 3  # the stale ones were never sent again
    assert b.events("locked") == []


def test_a_fleet_named_by_address_is_read_in_one_thread_and_one_with_a_host_name_by_threads(
    repo: Callable[..., Repo],
) -> None:
    """Devices named by IP address are read by greenlets of the calling thread (no interpreter lock passed
    between threads on every request); a fleet with a device named by host name is read by threads, so
    that a slow name server holds up that device alone."""
    r = repo(sites=2, cameras=2)
    keyring = r.credentials().keyring(LoginGuard())
    seen: list[str] = []

    def open_driver(d: Device) -> IsapiDriver:
        seen.append(threading.current_thread().name)
        return IsapiDriver(d, keyring=keyring, options=DriverOptions(timeout=5.0))

    found = gather(r.devices, open_driver)
    assert not found.failures and len(found.facts) == len(r.devices) == 6
    assert set(seen) == {threading.current_thread().name}
    seen.clear()
    named = (replace(r.devices[0], address="localhost"), *r.devices[1:])
    found = gather(named, open_driver)
    assert len(found.facts) == 5  # the lab has nothing at localhost's address and port
    assert seen and all(name.startswith("facts") for name in seen)
