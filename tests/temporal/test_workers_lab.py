"""A lab fleet applied through two Temporal workers, one killed (SIGKILL) while a site waits out a lock.

The site's wait is a durable timer: when it fires, the surviving worker takes the workflow over, replays
its history and goes on; nothing that had run runs again. The ground truth is three records kept apart
from the code under test: the workflows' histories read through Temporal's client API, the journal, and
the lab's own events file.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.engine.conftest import ENFORCE, ENFORCER, SCALE, Lab, locks
from tests.engine.test_apply_lab import WRITES
from tests.temporal.conftest import ROOT, Temporal, wait_for

pytestmark = pytest.mark.lab

#: The lab's record of each write a step makes, by the step's action.
WRITTEN = {
    "isolate_ip_filter": "ip_filter_changed",
    "release_ip_filter": "ip_filter_changed",
    "account": "account_changed",
    "lock_policy": "lock_policy_changed",
    "channel": "channel_changed",
}


def _apply(temporal: Temporal, playbook: str, log: Path, *extra: str) -> subprocess.Popen[bytes]:
    command = [ENFORCE, "apply", playbook, "--yes", "--time-scale", str(SCALE), "--backend", "temporal"]
    with log.open("wb") as out:
        return subprocess.Popen(
            [*command, "--address", temporal.address, *extra],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"},
        )


def _workflow_tasks(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in history if e["type"] == "WORKFLOW_TASK_COMPLETED"]


def test_a_worker_killed_in_a_lock_wait_hands_the_site_to_the_other_with_nothing_redone(
    lab: Any, temporal: Temporal, tmp_path: Path
) -> None:
    fleet: Lab = lab(problems=("stale_viewer", "locked"))
    playbook = Path(fleet.playbook)  # no canary batch: both sites wait at once, the test takes one wait
    playbook.write_text(re.sub(r"serial: .*", 'serial: ["100%"]', playbook.read_text()))
    workers = {name: temporal.worker(fleet.playbook, name, "--time-scale", str(SCALE)) for name in ("w-a", "w-b")}
    started = time.time()
    output = tmp_path / "apply.log"
    apply = _apply(temporal, fleet.playbook, output)
    wait_for(lambda: "locked enforcer out: waiting" in output.read_text() or apply.poll() is not None, 60, "a wait")
    found = re.search(r"⧗ (\S+) · \S+ locked enforcer out: waiting", output.read_text())
    assert found, output.read_text()
    site = found.group(1)
    histories, _ = temporal.histories("during")
    [wid] = [w for w in histories if w.endswith(f"/{site}")]  # organisation/site
    [run] = histories[wid]
    assert any(e["type"] == "TIMER_STARTED" for e in run["events"]), "the wait is not a durable timer"
    victim = _workflow_tasks(run["events"])[-1]["identity"]
    survivor = next(name for name in workers if name != victim)
    workers[victim].send_signal(signal.SIGKILL)
    workers[victim].wait()
    killed = time.time()

    # Another checkout of the same repository cannot start on the site meanwhile: its workflow holds it.
    copy = tmp_path / "other-checkout"
    shutil.copytree(fleet.root, copy, ignore=shutil.ignore_patterns(".enforcer"))
    other = _apply(temporal, str(copy / "site.yml"), tmp_path / "other.log", "--limit", site)
    assert other.wait(timeout=60) == 1
    said = " ".join((tmp_path / "other.log").read_text().split())
    assert f"site {site} is being applied by pid {apply.pid}" in said and f"Temporal workflow {wid}" in said, said

    assert apply.wait(timeout=180) == 0, output.read_text()
    text = output.read_text()
    assert f"{site} read again after its wait and planned" in text and "recap" in text, text

    histories, raw = temporal.histories("after")
    [run] = histories[wid]
    fired = [e["time"] for e in run["events"] if e["type"] == "TIMER_FIRED"]
    assert fired and min(fired) > killed, "the worker was not killed during the wait"
    after = [e for e in run["events"] if e["time"] > killed and e.get("identity")]
    assert after and {e["identity"] for e in after} == {survivor}, "the site did not resume on the other worker"
    for workflow in histories.values():
        for history in workflow:
            assert history["replay_failure"] is None, history["replay_failure"]  # deterministic
            attempts = [e["attempt"] for e in history["events"] if e["type"] == "ACTIVITY_TASK_STARTED"]
            assert attempts and set(attempts) == {1}, "an activity ran twice"

    # The journal has every step once, succeeded; the lab saw each write once, and no lock of ours.
    with sqlite3.connect(fleet.root / "inventory" / ".enforcer" / "journal.db") as db:
        steps = db.execute("SELECT action, target, status FROM steps WHERE run = (SELECT max(id) FROM runs)").fetchall()
    assert steps and {status for _, _, status in steps} == {"succeeded"}
    expected = Counter((target.split("/", 1)[1], WRITTEN[action]) for action, target, _ in steps if action in WRITTEN)
    events = [e for e in fleet.events() if e["time"] >= time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(started))]
    written = Counter((e["device"], e["event"]) for e in events if e["event"] in WRITES and e["source"] == ENFORCER)
    assert written == expected, (written, expected)
    assert not [e for e in locks(events) if e["source"] == ENFORCER], "enforcer caused a lock"
    code, planned = fleet.run("plan", fleet.playbook)
    assert code == 0, planned

    # No secret value crossed Temporal: every history, read through the client API, holds none.
    secrets = fleet.secrets()
    assert secrets
    for path in raw.iterdir():
        data = path.read_bytes()
        for secret in secrets:
            assert secret.encode() not in data and json.dumps(secret)[1:-1].encode() not in data, path.name


def test_no_worker_for_the_region_stops_the_apply_before_any_write(lab: Any, temporal: Temporal) -> None:
    fleet: Lab = lab(problems=("lock_disabled",))
    code, output = fleet.run("worker", fleet.playbook, "--queue", "nowhere", "--address", temporal.address)
    assert code == 1 and "no site of" in output and "region nowhere" in output, output
    before = len(fleet.events())
    apply = _apply(temporal, fleet.playbook, Path(temporal.folder) / "apply.log")
    assert apply.wait(timeout=60) == 1
    said = " ".join((Path(temporal.folder) / "apply.log").read_text().split())
    assert "no worker polls task queue enforce-default" in said and "enforce worker PLAYBOOK --queue default" in said
    assert not [e for e in fleet.events()[before:] if e["event"] in WRITES], "a site was written"
