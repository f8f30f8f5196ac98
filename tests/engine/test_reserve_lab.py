"""A camera left with only the reserve is not a dead end (issue "Safety under failure").

Wasted logins leave a camera two attempts short of its lock; ``enforce plan`` then refuses it, saying
what a person can do, without spending the reserve; once the device's failure-count window has passed
(the lab's, time-scaled) it forgets them, and ``enforce apply`` converges with no lock. The lab's events
file is the ground truth.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

import pytest

from enforcer.cli import main
from enforcer.lab.fleet import Fleet
from enforcer.lab.generate.generator import generate
from enforcer.lab.spec import LabDevice, LabSpec
from tests.lab.conftest import get, wait_for

pytestmark = pytest.mark.lab

SCALE = 0.01
ENFORCER = "127.0.0.1"
STALE_CLIENT = "127.0.0.9"  # a phone app, say, still holding an old password
WINDOW = 600.0  # device seconds the camera keeps counting failures: 6 s here


class Reserve:
    """A generated one-site fleet, served, whose camera the credential store holds a stale password for."""

    def __init__(self, root: Path, fleet: Fleet, camera: LabDevice, capsys: pytest.CaptureFixture[str]) -> None:
        self.root, self.fleet, self.camera, self.capsys = root, fleet, camera, capsys

    def run(self, *args: str) -> tuple[int, str]:
        code = main([*args, str(self.root / "site.yml"), "--time-scale", str(SCALE)])
        captured = self.capsys.readouterr()
        return code, " ".join((captured.out + captured.err).split())

    def refusal(self) -> str:
        """What the guard's refusal of the camera says: the device's count, the reserve, what to do."""
        minutes = self.camera.lock_policy.lock_seconds // 60  # as the inventory declares it too
        return (
            f"{self.camera.name}: only 2 attempts left before the lock (the device's own count) and 2 are kept "
            f"in reserve: wait for the device to forget the failed attempts (allow its lock time, {minutes} min "
            "by the inventory, or reboot it), then run again; or supply the password that works (credential "
            "store or inventory)"
        )

    def converges_once_it_forgot(self) -> None:
        """Once the camera's window is over, apply converges: no lock, and enforcer never spent the reserve."""
        wait_for(lambda: self.events("counter_reset", device=self.camera.name), timeout=WINDOW * SCALE + 10)
        code, output = self.run("apply", "--yes")
        assert code == 0, output
        assert self.events("locked") == []
        assert all(e["attempts_left"] >= 2 for e in self.events("auth_failed", source=ENFORCER))
        assert self.run("plan")[0] == 0

    def events(self, event: str, **match: Any) -> list[dict[str, Any]]:
        self.fleet.flush()
        return [
            e for e in self.fleet.read_events() if e["event"] == event and all(e.get(k) == v for k, v in match.items())
        ]

    def waste(self, source: str, count: int) -> None:
        """``count`` failed logins on the camera's admin from ``source``, with a password it never had."""
        path = "/ISAPI/Security/userCheck" if self.camera.vendor == "hikvision" else "/cgi-bin/magicBox.cgi"
        for _ in range(count):
            reply = get(self.fleet.url(self.camera.name) + path, "admin", "Stale-Pass9!", source=source)
            assert reply.status_code == 401


@pytest.fixture
def reserve(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Iterator[Callable[..., Reserve]]:
    fleets: list[Fleet] = []

    def start(vendor: str, scope: Literal["source", "account"]) -> Reserve:
        root = tmp_path / f"fleet-{uuid.uuid4().hex[:8]}"
        # seed 0 puts unknown_password on the camera: the store's current is wrong, its previous works
        spec = generate(root, sites=1, cameras=1, seed=0, vendor=vendor, problems=["unknown_password"], thresholds=[5])
        camera = next(d for d in spec.devices if "unknown_password" in d.problems)
        assert camera.role == "camera" and camera.lock_policy.max_attempts == 5
        camera.profile.lock_scope = scope
        camera.profile.failure_window_seconds = WINDOW
        # the recorder logs into the camera as admin once, at start: on an account-wide count, a success
        # every poll would clear what the stale client spends
        next(d for d in spec.devices if d.role == "recorder").profile.channel_poll_seconds = 10.0**6
        fleet = Fleet(LabSpec(spec.devices), time_scale=SCALE, directory=root)
        fleet.start()
        fleets.append(fleet)
        lab = Reserve(root, fleet, camera, capsys)
        wait_for(lambda: lab.events("channel_status"))
        return lab

    yield start
    for fleet in fleets:
        fleet.stop()


def test_hikvision_refused_at_the_reserve_spends_nothing_and_recovers_on_its_own(
    reserve: Callable[..., Reserve],
) -> None:
    """Hikvision counts per source: three logins wasted from enforcer's own address (a person's script
    on the same host, an earlier tool) leave 2 of 5. The free ``userCheck`` says so, and nothing is sent."""
    lab = reserve("hikvision", "source")
    lab.waste(ENFORCER, 3)
    wasted = len(lab.events("auth_failed", source=ENFORCER))
    assert wasted == 3
    code, output = lab.run("plan")
    assert code == 1, output
    assert lab.refusal() in output, output
    assert len(lab.events("auth_failed", source=ENFORCER)) == wasted  # not one login from enforcer
    lab.converges_once_it_forgot()


def test_dahua_refused_at_the_reserve_keeps_it_and_recovers_on_its_own(reserve: Callable[..., Reserve]) -> None:
    """Dahua counts per account, for everyone, and tells the count only in reply to a login: a stale
    client spends 2 of 5, enforcer's stale store password the third, which the RPC2 refusal reports as
    2 left; the previous password, which works, is then not tried."""
    lab = reserve("dahua", "account")
    lab.waste(STALE_CLIENT, 2)
    code, output = lab.run("plan")
    assert code == 1, output
    assert lab.refusal() in output, output
    ours = lab.events("auth_failed", source=ENFORCER)
    assert [e["attempts_left"] for e in ours] == [2]  # one login, and the reserve untouched
    lab.converges_once_it_forgot()
