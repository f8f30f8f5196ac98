"""Dahua driver against the lab over real sockets: facts, discovery, locks, nonce and connection profiles."""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from enforcer.credentials.guard import LoginGuard
from enforcer.credentials.secret import Secret
from enforcer.drivers._wire.http import Transport
from enforcer.drivers.base import DriverOptions
from enforcer.drivers.dahua._driver import DahuaDriver
from enforcer.errors import DeviceError, LockedOut, Refused
from enforcer.facts import Candidate
from enforcer.lab.spec import LabChannel, LabDevice, LabLockPolicy, LabProfile, LabSpec
from enforcer.model import Account, Device, LockPolicy
from tests.lab.conftest import dahua_camera, dahua_recorder, get, wait_for

from .conftest import ENFORCER, SCALE, Bench, DictCredentials, device_for

CAM, NVR = "Cam1-Pass!x9", "Nvr-Pass!x77"
OP = "Op3rator!x"


def dh_camera(
    name: str, address: str, password: str = CAM, *, lock: tuple[int, int] = (5, 300), **profile: Any
) -> LabDevice:
    """A Dahua camera (account-wide lock, ``lock`` = attempts, seconds) with any profile option."""
    return dahua_camera(
        name, address, password=password, lock=LabLockPolicy(True, *lock), **{"upgrade_seconds": 60, **profile}
    )


def dh_recorder(name: str, address: str, channels: list[LabChannel], password: str = NVR, **profile: Any) -> LabDevice:
    defaults = {"default_password": "admin", "reboot_seconds": LabProfile.reboot_seconds}
    return dahua_recorder(name, address, channels, password=password, **{**defaults, **profile})


def dh_device(lab: LabDevice, password: str, **kw: Any) -> Device:
    """The inventory's view of a lab Dahua device: admin desired = ``password``."""
    return dataclasses.replace(device_for(lab, password, **kw), vendor="dahua")


def driver(bench: Bench, device: Device, **options: Any) -> DahuaDriver:
    opts = DriverOptions(**({"timeout": 5.0, "firmware_timeout": 30.0} | options))
    made = DahuaDriver(device, keyring=bench.credentials.keyring(bench.guard), options=opts)
    bench.drivers.append(made)
    return made


def ours(bench: Bench, event: str, **match: Any) -> list[dict[str, Any]]:
    """Events of this kind caused by enforcer's source."""
    return bench.events(event, source=ENFORCER, **match)


@dataclasses.dataclass
class Sent:
    """Every request the driver sent, per device URL: (method, path, carried credentials)."""

    log: list[tuple[str, str, str, bool]] = dataclasses.field(default_factory=list)

    def count(self, base: str) -> Counter[str]:
        return Counter(path.split("?")[0] for url, _, path, _ in self.log if url == base)

    def total(self, base: str) -> int:
        return sum(1 for url, *_ in self.log if url == base)


@contextmanager
def counting(monkeypatch: pytest.MonkeyPatch) -> Iterator[Sent]:
    """Wrap :meth:`Transport.send` to record each request (the real one still goes out) until exit."""
    sent = Sent()
    real = Transport.send

    def send(self: Transport, method: str, target: str, **kw: Any) -> Any:
        headers = kw.get("headers") or {}
        sent.log.append((self.base_url, method, target, "Authorization" in headers))
        return real(self, method, target, **kw)

    with monkeypatch.context() as patch:
        patch.setattr(Transport, "send", send)
        yield sent


pytestmark = pytest.mark.lab

SPECIAL = "P&ss=%+#9x"  # every character a raw query string would corrupt
# Nonces of 3000 device-s (30 s real) for the tests that count requests: a nonce that expired
# mid-operation would add a fresh handshake however correct the driver.
LONG_NONCE = 3000


def creds(**table: str) -> DictCredentials:
    return DictCredentials({(f"s1/{name}", "admin"): [("current", Secret(pw, "t"))] for name, pw in table.items()})


def test_facts_of_camera_and_recorder(bench: Callable[..., Bench], monkeypatch: pytest.MonkeyPatch) -> None:
    cam = dh_camera("cam1", "127.0.71.2")
    nvr = dh_recorder("nvr", "127.0.71.1", [LabChannel(1, "cam1", "127.0.71.2", 8080, "admin", CAM)])
    b = bench(LabSpec([nvr, cam]), nonce_seconds=LONG_NONCE)
    b.credentials = creds(cam1=CAM, nvr=NVR)
    wait_for(lambda: b.events("channel_status", result="connect"), timeout=10)  # a channel down costs one more read
    with counting(monkeypatch) as sent:
        with driver(b, dh_device(cam, CAM)) as drv:
            f = drv.facts()
        with driver(b, dh_device(nvr, NVR)) as drv:
            g = drv.facts()
    assert (f.model, f.serial, f.firmware_version, f.firmware_build) == (
        cam.model,
        cam.serial,
        "2.800.0000016.0.R",
        "2024-10-30",
    )
    assert f.device_type == "IPC" and f.channels == () and "channels" not in f.capabilities
    assert [(a.name, a.level) for a in f.accounts] == [("admin", "administrator"), ("op", "operator")]
    assert f.lock_policy is not None and (f.lock_policy.enabled, f.lock_policy.max_attempts) == (True, 5)
    assert f.lock_policy.lock_seconds == 300
    assert f.ip_filter is not None and not f.ip_filter.enabled
    assert f.login is not None and (f.login.account, f.login.candidate, f.login.attempts_spent) == (
        "admin",
        "current",
        0,
    )
    assert (g.model, g.serial, g.device_type) == (nvr.model, nvr.serial, "NVR")
    assert [(c.id, c.address, c.port, c.user) for c in g.channels] == [(1, "127.0.71.2", 8080, "admin")]
    assert "channels" in g.capabilities and g.lock_policy is not None and g.lock_policy.lock_seconds == 1800
    # camera: free challenge, RPC2 challenge + answer + logout, five CGI reads; recorder: two more
    assert sent.total("http://127.0.71.2:8080") == 9, sent.count("http://127.0.71.2:8080")
    assert sent.total("http://127.0.71.1:8080") == 11, sent.count("http://127.0.71.1:8080")
    assert ours(b, "auth_failed") == [] and ours(b, "locked") == []


def test_a_channel_down_says_why(bench: Callable[..., Bench], monkeypatch: pytest.MonkeyPatch) -> None:
    """A stale stored password is told apart from a camera that is gone (only the first is planned
    for repair); firmware without ``getCameraLoginErrorCode`` costs one refused read, not one per channel."""
    cam = dh_camera("cam1", "127.0.71.12", lock=(50, 300))  # the stale channel must not lock channel 3 out
    channels = [
        LabChannel(1, "cam1", "127.0.71.12", 8080, "admin", "Stale-0ld!"),
        LabChannel(2, "gone", "127.0.71.19", 8080, "admin", CAM),
        LabChannel(3, "cam1", "127.0.71.12", 8080, "admin", CAM),
    ]
    nvr = dh_recorder("nvr", "127.0.71.11", channels)
    old = dh_recorder("old", "127.0.71.13", channels[:2], camera_login_error_code=False)
    b = bench(LabSpec([nvr, old, cam]), nonce_seconds=LONG_NONCE)
    b.credentials = creds(nvr=NVR, old=NVR)

    def polled(recorder: str) -> int:
        return len({e["channel"] for e in b.events("channel_status", source=recorder)})

    wait_for(lambda: polled("127.0.71.11") == 3 and polled("127.0.71.13") == 2, timeout=10)  # each channel once
    with counting(monkeypatch) as sent:
        with driver(b, dh_device(nvr, NVR)) as drv:
            detect = {c.id: (c.online, c.detect) for c in drv.facts().channels}
        with driver(b, dh_device(old, NVR)) as drv:
            unknown = {c.id: (c.online, c.detect) for c in drv.facts().channels}
    assert detect == {1: (False, "errorUserNameOrPasswd"), 2: (False, "netUnreachable"), 3: (True, "connect")}
    assert unknown == {1: (False, "unknown"), 2: (False, "unknown")}
    asked = [t for _, _, t, auth in sent.log if auth and "getCameraLoginErrorCode" in t]
    assert len(asked) == 3, asked  # the two channels down on nvr, then one 400 from old


def test_discovery_finds_the_credential_within_budget(bench: Callable[[LabSpec], Bench]) -> None:
    five = dh_camera("cam1", "127.0.72.2")  # 5 attempts: one wrong candidate, then the right one
    three = dh_camera("cam2", "127.0.72.3", lock=(3, 300))  # 3 attempts: one wrong leaves only the reserve
    ten = dh_camera("cam3", "127.0.72.5", lock=(10, 300))  # 10 attempts: still at most 2 failures (§9)
    b = bench(LabSpec([five, three, ten]))
    one, two = Secret("Wr0ng-One!", "t"), Secret("Wr0ng-Two!", "t")
    b.credentials = DictCredentials(
        {
            ("s1/cam1", "admin"): [("current", one), ("previous", Secret(CAM, "t"))],
            ("s1/cam2", "admin"): [("current", one), ("previous", two)],
            ("s1/cam3", "admin"): [("current", one), ("pending", two), ("previous", Secret("Wr0ng-3!", "t"))],
        }
    )
    with driver(b, dh_device(five, CAM)) as drv:
        login = drv.ensure_login()
    assert (login.candidate, login.attempts_spent) == ("previous", 1)
    assert [e["attempts_left"] for e in ours(b, "auth_failed", device="cam1")] == [4]
    with driver(b, dh_device(three, CAM)) as drv, pytest.raises(DeviceError, match="reserve"):
        drv.ensure_login()
    assert len(ours(b, "auth_failed", device="cam2")) == 1
    with driver(b, dh_device(ten, CAM)) as drv, pytest.raises(DeviceError, match="before the lock policy is read"):
        drv.ensure_login()  # previous and the desired (right) password are never reached
    assert [e["attempts_left"] for e in ours(b, "auth_failed", device="cam3")] == [9, 8]
    b.guard, b.credentials = LoginGuard(), DictCredentials({("s1/cam1", "admin"): [("current", one)]})  # a new run
    with driver(b, dh_device(five, CAM)) as drv:  # the store's password is stale: the desired one works
        login = drv.ensure_login()
    assert (login.candidate, login.attempts_spent) == ("desired", 1)
    assert ours(b, "locked") == []


def test_discovery_takes_the_devices_count_over_its_own(bench: Callable[[LabSpec], Bench]) -> None:
    """A stale client already spent two of the account's 5 attempts: the device's ``remainLoginTimes``
    (2 after our first failure, not 4) stops the driver before its second candidate."""
    lab = dh_camera("cam1", "127.0.72.4")
    b = bench(LabSpec([lab]))
    url = b.fleet.url("cam1") + "/cgi-bin/magicBox.cgi?action=getMachineName"
    for _ in range(2):
        assert get(url, "admin", "Stale-One!", source="127.0.0.9").status_code == 401
    wrong: list[tuple[Candidate, Secret]] = [("current", Secret("Wr0ng-One!", "t")), ("previous", Secret(CAM, "t"))]
    b.credentials = DictCredentials({("s1/cam1", "admin"): wrong})
    with driver(b, dh_device(lab, CAM)) as drv, pytest.raises(DeviceError, match="reserve") as caught:
        drv.ensure_login()
    assert "1 failed attempt spent" in str(caught.value)
    failures = [(e["source"], e["attempts_left"]) for e in b.events("auth_failed", device="cam1")]
    assert failures == [("127.0.0.9", 4), ("127.0.0.9", 3), (ENFORCER, 2)]
    assert b.events("locked") == []


@pytest.mark.parametrize(("on_challenge", "attempts"), [(True, 0), (False, 1)])
def test_a_locked_account_is_reported_not_tried(bench: Callable[..., Bench], on_challenge: bool, attempts: int) -> None:
    # locked from the start for 300 device-s (3 s real): still locked through lock_state() and facts()
    lab = dh_camera("cam1", "127.0.73.2", lock=(5, 300), lock_on_challenge=on_challenge)
    lab.locked_sources = ["127.0.0.1"]
    b = bench(LabSpec([lab]), nonce_seconds=LONG_NONCE)
    b.guard = LoginGuard(clock=lambda: time.monotonic() / SCALE)  # device time, as the engine's guard
    b.credentials = creds(cam1=CAM)
    with driver(b, dh_device(lab, CAM)) as drv:
        assert drv.lock_state().locked is on_challenge  # without lock_on_challenge the free challenge cannot tell
        with pytest.raises(LockedOut) as caught:
            drv.facts()
        assert caught.value.unlock_seconds > 0 and caught.value.step == "login"
        assert ("no attempt made" in str(caught.value)) is on_challenge
        assert len(ours(b, "auth_failed")) == attempts  # the one answer is refused as locked, never counted
        assert all(e["reason"] == "locked" for e in ours(b, "auth_failed"))
        with pytest.raises(DeviceError, match="locked"):  # nothing sent until the device's own lock time ends
            drv.ensure_login()
        time.sleep(caught.value.unlock_seconds * SCALE + 0.05)
        login = drv.ensure_login()  # once the lock ends, the budget is whole again
    assert (login.candidate, login.attempts_spent) == ("current", 0)
    assert len(ours(b, "auth_failed")) == attempts


@pytest.mark.parametrize(
    "profile",
    [{"nonce_policy": "single_use"}, {"nonce_policy": "single_use_403"}, {"connection_close": True}],
    ids=["single_use", "single_use_403", "connection_close"],
)
def test_nonce_and_connection_profiles(
    bench: Callable[..., Bench], monkeypatch: pytest.MonkeyPatch, profile: dict[str, Any]
) -> None:
    lab = dh_camera("cam1", "127.0.74.2", **profile)
    b = bench(LabSpec([lab]), nonce_seconds=LONG_NONCE)
    b.credentials = creds(cam1=CAM)
    with counting(monkeypatch) as sent, driver(b, dh_device(lab, CAM)) as drv:
        facts = drv.facts()
        assert drv.ensure_lock_policy(LockPolicy(True, 4, 10)).changed
        assert not drv.ensure_lock_policy(LockPolicy(True, 4, 10)).changed
        assert drv.session.state.fresh_each is (profile != {"connection_close": True})
    assert facts.lock_policy is not None and facts.login is not None
    assert b.fleet.device("cam1")["lock_policy"] == {"enabled": True, "max_attempts": 4, "lock_seconds": 600}
    assert ours(b, "auth_failed") == []
    credentialed = sum(1 for *_, auth in sent.log if auth)
    # 9 CGI requests (5 facts, 3 + 1 lock policy); the single-use profiles add the one fresh retry of
    # the first cached nonce, then a free challenge before each of the 7 after it (403: also the free
    # RPC2 lock probe); every run adds the first challenge and RPC2 probe, answer and logout.
    expected = {"single_use": (10, 21), "single_use_403": (10, 23), "connection_close": (9, 13)}
    assert (credentialed, len(sent.log)) == expected[profile.get("nonce_policy", "connection_close")]


def test_basic_only_device_gets_no_password(bench: Callable[..., Bench], monkeypatch: pytest.MonkeyPatch) -> None:
    lab = dh_camera("cam1", "127.0.75.2", basic_only=True)
    b = bench(LabSpec([lab]), nonce_seconds=LONG_NONCE)
    b.credentials = creds(cam1=CAM)
    with (
        counting(monkeypatch) as sent,
        driver(b, dh_device(lab, CAM)) as drv,
        pytest.raises(DeviceError, match="only Basic"),
    ):
        drv.facts()
    assert [(m, p.split("?")[0], a) for _, m, p, a in sent.log] == [("GET", "/cgi-bin/magicBox.cgi", False)]
    assert ours(b, "auth_failed") == []


def test_a_password_with_reserved_characters(bench: Callable[[LabSpec], Bench]) -> None:
    lab = dh_camera("cam1", "127.0.76.2", SPECIAL)
    b = bench(LabSpec([lab]))
    b.credentials = creds(cam1=SPECIAL)
    with driver(b, dh_device(lab, SPECIAL)) as drv:
        assert drv.facts().login is not None
        new = Secret("N3w+%=#Pass", "t")  # the device refuses '&' in a new password, not the others
        assert drv.ensure_lock_policy(LockPolicy(True, 5, 10)).changed
        assert drv.ensure_account(Account("admin", "administrator", new)).changed  # pwdOld = SPECIAL
        assert not drv.ensure_account(Account("admin", "administrator", new)).changed
    assert b.fleet.password("cam1", "admin") == "N3w+%=#Pass"
    assert ours(b, "auth_failed") == []


@pytest.mark.parametrize("status", [400, 403, 200])
def test_an_unknown_config_name_is_absent_not_a_failure(
    bench: Callable[..., Bench], monkeypatch: pytest.MonkeyPatch, status: int
) -> None:
    lab = dh_camera("cam1", "127.0.77.2", unknown_config_status=status)
    b = bench(LabSpec([lab]), nonce_seconds=LONG_NONCE)
    b.credentials = creds(cam1=CAM)
    with driver(b, dh_device(lab, CAM)) as drv:
        drv.facts()
        with counting(monkeypatch) as sent:
            assert isinstance(drv.read_channels(), str)  # a camera has no RemoteDevice: what it said
        assert not drv.session.state.fresh_each  # a real 403 does not make nonces single-use
        assert drv.facts().ip_filter is not None
    # 400: one request; 403 to a cached nonce: the free RPC2 lock probe, then one fresh handshake
    # (challenge + retry), never more
    assert len(sent.log) == (4 if status == 403 else 1)
    assert ours(b, "auth_failed") == []


@pytest.mark.parametrize("reader", ["ip filter", "facts"])
def test_a_lock_answered_with_403_is_a_lock_not_a_missing_config(
    bench: Callable[..., Bench], monkeypatch: pytest.MonkeyPatch, reader: str
) -> None:
    """Another source locks the account after the driver logged in; the device answers CGI with
    ``403 Authority:check failure.``. The driver's next call asks the free RPC2 challenge, raises
    LockedOut (not "no IP filter") and sends nothing more: one refused attempt from its source."""
    lab = dh_camera(
        "cam1", "127.0.78.2", locked_http_status=403, lock_on_challenge=True, retry_during_lock_resets_timer=True
    )
    b = bench(LabSpec([lab]), nonce_seconds=LONG_NONCE)
    b.guard = LoginGuard(clock=lambda: time.monotonic() / SCALE)  # device time, as the engine's guard
    b.credentials = creds(cam1=CAM)
    url = b.fleet.url("cam1") + "/cgi-bin/magicBox.cgi?action=getMachineName"
    with driver(b, dh_device(lab, CAM)) as drv:
        drv.facts()
        for _ in range(5):
            get(url, "admin", "Wr0ng-Other!", source="127.0.0.9")
        assert [e["source"] for e in b.events("locked")] == ["127.0.0.9"]
        with counting(monkeypatch) as sent, pytest.raises(LockedOut) as caught:
            drv.read_ip_filter() if reader == "ip filter" else drv.facts()
        assert caught.value.unlock_seconds > 0
        assert [auth for *_, auth in sent.log] == [True, False]  # the request, then the free RPC2 probe
        with counting(monkeypatch) as sent, pytest.raises(Refused, match="locked out"):
            drv.read_ip_filter()
        assert sent.log == []  # nothing more until the device's own lock time ends
    refused = ours(b, "auth_failed")
    assert [e["reason"] for e in refused] == ["locked"]
