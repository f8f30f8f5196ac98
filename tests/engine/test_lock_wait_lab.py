"""A device that has locked enforcer out holds up its own site only: the others run meanwhile.

The lab's events file is the ground truth: the other site's writes happen while the lock still lasts,
and the waiting site is written only after it has run out.
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.engine.conftest import ENFORCER, SCALE, locks
from tests.engine.test_apply_lab import WRITES, wait_for

pytestmark = pytest.mark.lab


def _at(event: dict[str, Any]) -> float:
    return datetime.fromisoformat(event["time"].replace("Z", "+00:00")).timestamp()


def test_a_site_enforcer_is_locked_out_of_waits_alone_while_the_other_site_converges(lab: Any) -> None:
    # Mixed fleet: the second site is Dahua, whose locks are account-wide. A recorder storing a typo for
    # its camera locks the camera's admin for everyone, enforcer included: that site cannot be read.
    # A lock policy left off on a device of each site gives both sites something to write.
    fleet = lab(problems=("lock_disabled",), vendor="mixed")
    recorder = [d for d in fleet.spec.devices if d.role == "recorder"][-1]
    cameras = {d.name: d for d in fleet.spec.devices}
    channel = next(
        c
        for c in recorder.channels
        if cameras[c.camera].profile.lock_scope == "account" and "lock_disabled" not in cameras[c.camera].problems
    )
    camera = cameras[channel.camera]
    fleet.fleet.set_channel_password(recorder.name, channel.id, "Typo-" + uuid.uuid4().hex[:10])
    wait_for(lambda: any(e["device"] == camera.name for e in locks(fleet.events())))
    locked = next(e for e in locks(fleet.events()) if e["device"] == camera.name)
    unlocks_at = _at(locked) + camera.lock_policy.lock_seconds * SCALE

    started = time.time()
    code, output = fleet.run("apply", fleet.playbook, "--yes")
    assert code == 0, output
    flat = " ".join(output.split())
    assert f"{camera.name} locked enforcer out" in flat, output
    assert f"{recorder.site} read again after its wait and planned" in flat, output

    events = [e for e in fleet.events() if _at(e) >= started - 0.5]
    other = {d.name for d in fleet.spec.devices if d.site != recorder.site}
    waiting = {d.name for d in fleet.spec.devices if d.site == recorder.site}
    other_writes = [_at(e) for e in events if e["device"] in other and e["event"] in WRITES]
    waiting_writes = [_at(e) for e in events if e["device"] in waiting and e["event"] in WRITES]
    assert other_writes and waiting_writes
    assert min(other_writes) < unlocks_at, "the other site waited for this site's lock"
    assert min(waiting_writes) >= unlocks_at, "the locked site was written before its lock ran out"
    assert not [e for e in locks(events) if e["source"] == ENFORCER], "enforcer caused a lock"
    code, output = fleet.run("plan", fleet.playbook)
    assert "the device locked our source" not in output


def test_a_saved_plan_for_a_site_that_waits_is_checked_after_the_wait(lab: Any, tmp_path: Path) -> None:
    """``apply PLANFILE``: the site enforcer is locked out of is checked against the saved plan once it
    can be read again; it changed (a camera's password was changed on site), so it fails alone as stale
    while the other site applies its saved steps."""
    fleet = lab(problems=("lock_disabled",), vendor="mixed")
    saved = tmp_path / "plan.json"
    assert fleet.run("plan", fleet.playbook, "-o", str(saved))[0] == 2
    recorder = [d for d in fleet.spec.devices if d.role == "recorder"][-1]
    cameras = {d.name: d for d in fleet.spec.devices}
    channel = next(c for c in recorder.channels if cameras[c.camera].profile.lock_scope == "account")
    fleet.fleet.set_channel_password(recorder.name, channel.id, "Typo-" + uuid.uuid4().hex[:10])
    wait_for(lambda: any(e["device"] == channel.camera for e in locks(fleet.events())))
    changed = next(
        d for d in fleet.spec.devices if d.site == recorder.site and d.name not in (recorder.name, channel.camera)
    )
    fleet.fleet.set_account_password(changed.name, "admin", "Changed-On-Site9")

    started = time.time()
    code, output = fleet.run("apply", str(saved), "--yes")
    assert code == 1, output
    flat = " ".join(output.split())
    assert f"{channel.camera} locked enforcer out" in flat, output
    assert "saved plan is stale" in flat and changed.name in flat, output
    recap = flat[flat.index("recap") :]
    first = next(d.site for d in fleet.spec.devices if d.site != recorder.site)
    assert f"{first} : converged" in recap and f"{recorder.site} : failed" in recap, output
    writes = {e["device"] for e in fleet.events() if e["event"] in WRITES and _at(e) >= started}
    assert not writes & {d.name for d in fleet.spec.devices if d.site == recorder.site}, "a stale site was written"
