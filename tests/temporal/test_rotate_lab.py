"""``enforce rotate --backend temporal``: the rotation's steps run on a worker, which reads the new passwords
from the credential store they share (pending, written before any workflow starts), and no password crosses
Temporal. The lab's events file, the store and the workflows' histories are the ground truth."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.engine.conftest import ENFORCE, ENFORCER, SCALE, Lab, locks
from tests.engine.test_rotate_lab import actual, owned_by_store, rotated
from tests.temporal.conftest import ROOT, Temporal

pytestmark = pytest.mark.lab


def test_a_rotation_on_a_worker_converges_on_credentials_alone_and_no_password_crosses_temporal(
    lab: Any, temporal: Temporal, tmp_path: Path
) -> None:
    # lock_disabled: a lock policy the rotation (credentials only) leaves as it is, on the worker as locally.
    fleet: Lab = owned_by_store(lab(problems=("stale_viewer", "lock_disabled"), vendor="mixed"))
    temporal.worker(fleet.playbook, "w-a", "--time-scale", str(SCALE))
    before = actual(fleet)
    command = [ENFORCE, "rotate", fleet.playbook, "--yes", "--time-scale", str(SCALE)]
    done = subprocess.run(
        [*command, "--backend", "temporal", "--address", temporal.address],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    after = rotated(fleet, before)
    events = fleet.events()
    assert not locks(events) and not [e for e in events if e["event"] == "auth_failed" and e["source"] == ENFORCER]
    assert not [e for e in events if e["event"] == "lock_policy_changed"], "rotate changed more than credentials"

    histories, raw = temporal.histories("after")
    assert {w.split("/", 1)[1] for w in histories} == {"site-001", "site-002"}
    ran = {
        e.get("identity")
        for w in histories.values()
        for h in w
        for e in h["events"]
        if e["type"] == "ACTIVITY_TASK_STARTED"
    }
    assert ran == {"w-a"}
    secrets = set(after.values()) | fleet.secrets()
    for path in raw.iterdir():
        data = path.read_bytes()
        for secret in secrets:
            assert secret.encode() not in data and json.dumps(secret)[1:-1].encode() not in data, path.name
