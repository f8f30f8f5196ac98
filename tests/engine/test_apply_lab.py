"""plan → apply → plan against the lab over real sockets: idempotence, lock safety, crash safety,
stale saved plans and secrets. The lab's events file is the ground truth."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.engine.conftest import ENFORCE, ENFORCER, SCALE, VENDORS, Lab, locks

pytestmark = pytest.mark.lab

WRITES = (
    "account_changed",
    "account_added",
    "account_deleted",
    "lock_policy_changed",
    "ip_filter_changed",
    "firmware_uploaded",
    "firmware_changed",
    "channel_changed",
    "channel_added",
    "reboot",
)


def wait_for(ready: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def _our_failures(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in events if e["event"] == "auth_failed" and e["source"] == ENFORCER]


@pytest.mark.parametrize("vendor", VENDORS)
@pytest.mark.parametrize("threshold", [3, 5, 7])
def test_stale_clients_everywhere_converge_without_a_single_lock(lab: Any, threshold: int, vendor: str) -> None:
    fleet = lab(problems=("stale_viewer", "stale_channel"), thresholds=[threshold], vendor=vendor)
    code, output = fleet.run("plan", fleet.playbook)
    assert code == 2, output
    code, output = fleet.run("apply", fleet.playbook, "--yes", "--diff")
    assert code == 0, output
    assert "~ accounts.operator.password: (sensitive, changed)" in output  # --diff: what each step changed
    events = fleet.events()
    assert not locks(events), locks(events)
    assert not _our_failures(events)
    assert any(e["event"] == "account_changed" for e in events)
    assert "checklist" in output  # the viewers are manual clients: on the checklist, kept out meanwhile
    time.sleep(1.0)  # the stale viewers keep polling: they are blocked at the filter, not counted
    events = fleet.events()
    assert not locks(events)
    assert any(e["event"] == "blocked" for e in events)


@pytest.mark.parametrize("vendor", VENDORS)
def test_without_isolation_the_same_fleet_locks(lab: Any, vendor: str) -> None:
    """Proof that the lock-safety test can fail: the same change with isolation switched off."""
    fleet = lab(problems=("stale_viewer", "stale_channel"), thresholds=[3], vendor=vendor)
    inventory = fleet.root / "inventory" / "fleet.yml"
    text = inventory.read_text()
    assert "isolation: ip_filter" in text
    inventory.write_text(text.replace("isolation: ip_filter", "isolation: none"))
    _, output = fleet.run("apply", fleet.playbook, "--yes")
    deadline = time.monotonic() + 10
    while not locks(fleet.events()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert locks(fleet.events()), "without isolation the stale viewer should lock its recorder"
    assert "may lock" in output


@pytest.mark.parametrize("vendor", VENDORS)
def test_apply_then_plan_is_idempotent_and_sends_nothing(lab: Any, vendor: str) -> None:
    problems = ("old_firmware", "lock_disabled", "weak_password", "default_password", "stale_channel")
    fleet = lab(problems=problems, vendor=vendor)
    code, output = fleet.run("apply", fleet.playbook, "--yes")
    assert code == 0, output
    code, output = fleet.run("plan", fleet.playbook)
    assert code == 0, output
    assert "No changes" in output
    before = fleet.events()
    code, output = fleet.run("apply", fleet.playbook, "--yes")
    assert code == 0, output
    after = fleet.events()[len(before) :]
    assert not [e for e in after if e["event"] in WRITES], "a converged rerun must not write"
    assert not _our_failures(after)


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_channel_refused_now_is_repaired_though_no_password_changes(lab: Any, vendor: str) -> None:
    """A recorder storing a wrong password for its camera (re-added by hand with a typo) fails, and
    locks, at that camera on every poll: the plan repairs the channel although no password changes, and
    the channel connects once the lock its typo caused has run out."""
    fleet = lab(problems=(), vendor=vendor)
    recorder = [d for d in fleet.spec.devices if d.role == "recorder"][-1]  # mixed: the Dahua site
    channel = recorder.channels[0]
    camera = next(d for d in fleet.spec.devices if d.name == channel.camera)

    def status() -> str:
        return str(next(c for c in fleet.fleet.device(recorder.name)["channels"] if c["id"] == channel.id)["status"])

    fleet.fleet.set_channel_password(recorder.name, channel.id, "Typo-" + uuid.uuid4().hex[:10])
    wait_for(lambda: any(e["device"] == camera.name for e in locks(fleet.events())))
    code, output = fleet.run("plan", fleet.playbook)
    if camera.profile.lock_scope == "account":  # Dahua: the typo locked the camera's admin for everyone
        assert code == 1 and f"{camera.name}: the account admin is locked" in output, output
        assert f"it refuses {recorder.name} ch{channel.id}" in " ".join(output.split()), output  # the cause
    else:  # Hikvision: only the recorder's address is locked out
        assert code == 2 and "refused by the camera" in output, output
    code, output = fleet.run("apply", fleet.playbook, "--yes")  # waits out a lock that keeps enforcer out
    assert code == 0, output
    assert not _our_failures(fleet.events())
    # A lock on the recorder's address alone outlasts the run (Hikvision: 30 minutes); a restart clears it.
    fleet.fleet.reboot_device(camera.name)
    wait_for(lambda: any(e["event"] == "booted" and e["device"] == camera.name for e in fleet.events()))
    wait_for(lambda: status() == "connect")
    code, output = fleet.run("plan", fleet.playbook)
    assert code == 0, output


@pytest.mark.parametrize("vendor", VENDORS)
def test_unknown_password_is_discovered_within_budget(lab: Any, vendor: str) -> None:
    fleet = lab(problems=("unknown_password", "locked"), vendor=vendor)
    code, output = fleet.run("apply", fleet.playbook, "--yes")
    assert code == 0, output
    events = fleet.events()
    assert not [e for e in locks(events) if e["source"] == ENFORCER]
    code, _ = fleet.run("plan", fleet.playbook)
    assert code == 0


def test_saved_plan_is_refused_once_a_device_changed(lab: Any, tmp_path: Path) -> None:
    fleet = lab(problems=("lock_disabled",))
    saved = tmp_path / "plan.json"
    code, _ = fleet.run("plan", fleet.playbook, "-o", str(saved))
    assert code == 2
    device = next(d for d in fleet.spec.devices if d.role == "camera")
    fleet.fleet.set_account_password(device.name, "admin", "Changed-On-Site9")
    # The store no longer knows the password, so that device's facts change (or fail): refused.
    code, output = fleet.run("apply", str(saved), "--yes")
    assert code == 1
    assert "saved plan is stale" in output and device.name in output


def test_saved_plan_applies_when_nothing_changed(lab: Any, tmp_path: Path) -> None:
    fleet = lab(problems=("lock_disabled", "old_firmware"))
    saved = tmp_path / "plan.json"
    assert fleet.run("plan", fleet.playbook, "-o", str(saved))[0] == 2
    code, output = fleet.run("apply", str(saved), "--yes")
    assert code == 0, output
    assert fleet.run("plan", fleet.playbook)[0] == 0


@pytest.mark.parametrize("vendor", VENDORS)
def test_no_secret_in_any_output_plan_file_or_journal(lab: Any, tmp_path: Path, vendor: str) -> None:
    fleet = lab(problems=("stale_viewer", "stale_channel", "weak_password", "unknown_password"), vendor=vendor)
    secrets = fleet.secrets()
    saved = tmp_path / "plan.json"
    outputs = [fleet.run("plan", fleet.playbook, "-o", str(saved))[1]]
    outputs.append(fleet.run("-v", "plan", fleet.playbook, "--json")[1])
    outputs.append(fleet.run("-vv", "apply", fleet.playbook, "--yes")[1])  # every request logged
    assert "credential for admin" in outputs[-1] and "HTTP/1.1" in outputs[-1]  # the guard's decisions, requests
    outputs.append(fleet.run("apply", fleet.playbook, "--yes", "--json")[1])
    outputs.append(saved.read_text())
    journal = fleet.root / "inventory" / ".enforcer" / "journal.db"
    outputs.append(journal.read_bytes().decode("latin-1"))
    secrets |= fleet.secrets()  # the rotated passwords too
    for text in outputs:
        for secret in secrets:
            assert secret not in text


@pytest.mark.parametrize("vendor", VENDORS)
@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kill_after=st.floats(0.2, 2.5))
def test_killed_apply_resumes_and_converges_with_no_lock_and_no_lost_password(
    lab: Any, kill_after: float, vendor: str
) -> None:
    fleet = lab(problems=("stale_viewer", "stale_channel", "old_firmware"), thresholds=[5], vendor=vendor)
    try:
        _kill_and_resume(fleet, kill_after)
    finally:
        fleet.fleet.stop()  # hypothesis runs every example in one test: free the addresses


def _kill_and_resume(fleet: Lab, kill_after: float) -> None:
    process = subprocess.Popen(
        [ENFORCE, "apply", fleet.playbook, "--yes", "--time-scale", str(SCALE)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(kill_after)
    process.send_signal(signal.SIGKILL)
    process.wait()
    code, output = fleet.run("apply", fleet.playbook, "--yes")
    assert code == 0, output
    assert fleet.run("plan", fleet.playbook)[0] == 0
    events = fleet.events()
    assert not locks(events), locks(events)
    store = fleet.store()
    for device in fleet.spec.devices:
        for account in fleet.fleet.device(device.name)["accounts"]:
            entry = store.get(f"{device.site}/{device.name}", account["name"])
            assert entry is not None and entry.current is not None
            assert entry.current.reveal() == account["password"], f"{device.name}/{account['name']} lost"


#: ``enforce apply`` killed (SIGKILL, no cleanup) just after a camera took its new password: before the
#: store records it as current, or before the recorder's channel is rewritten (the camera still isolated).
KILLED = """
import os, signal, sys
from enforcer.cli import main
from enforcer.credentials.store import CredentialStore
from enforcer.engine import handlers
from enforcer.plan.steps import ChannelKind
def die(*_):
    os.kill(os.getpid(), signal.SIGKILL)
{patch}
sys.exit(main(sys.argv[1:]))
"""
KILL_POINTS = {
    "before_store_commit": "CredentialStore.commit = die",
    "before_channel": "handlers._HANDLERS[ChannelKind] = die",
}


@pytest.mark.parametrize("vendor", VENDORS)
@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_killed_after_a_camera_took_its_password_resumes_without_a_lock(lab: Any, vendor: str, point: str) -> None:
    """Resumed, the camera's password is no longer a change (discovery proves the new one, which the store
    then records) and its filter hides the channel's refusal: only the journal's isolation says the channel
    must be sent before the release, or the recorder locks the camera with the old password."""
    # 5 attempts: resumed, discovery may spend one on the old password and still keep two in reserve
    fleet = lab(problems=("stale_channel",), thresholds=[5], vendor=vendor)
    script = KILLED.format(patch=KILL_POINTS[point])
    killed = subprocess.run(
        [sys.executable, "-c", script, "apply", fleet.playbook, "--yes", "--time-scale", str(SCALE)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    code, output = fleet.run("apply", fleet.playbook, "--yes")
    assert code == 0, output

    def statuses() -> set[str]:
        return {c["status"] for d in fleet.fleet.state()["devices"] for c in d["channels"]}

    wait_for(lambda: statuses() == {"connect"})
    assert not locks(fleet.events()), locks(fleet.events())
    assert fleet.run("plan", fleet.playbook)[0] == 0


def test_json_results(lab: Any) -> None:
    """apply --json: every site with Ansible's recap counts and every step, then the manual checklist."""
    fleet = lab(problems=("lock_disabled", "stale_viewer"))
    code, output = fleet.run("apply", fleet.playbook, "--yes", "--json")
    assert code == 0, output
    result = json.loads(fleet.stdout)
    assert {s["status"] for s in result["sites"]} == {"converged"}
    for site in result["sites"]:
        assert site["counts"]["changed"] == sum(1 for s in site["steps"] if s["changed"]) > 0
        assert site["counts"]["failed"] == site["counts"]["unreachable"] == 0
        assert {s["action"] for s in site["steps"]} >= {"lock_policy", "verify"}
    viewers = {c.name for c in fleet.spec.clients}
    assert {c["client"] for c in result["checklist"]} == viewers
    assert all(c["holds"] and c["address"] for c in result["checklist"])
    code, _ = fleet.run("apply", fleet.playbook, "--yes", "--json")  # converged: every step ok, none changed
    assert code == 0 and all(s["counts"]["changed"] == 0 for s in json.loads(fleet.stdout)["sites"])


#: ``enforce apply`` held just before it rewrites a recorder's channel (a camera already has its new
#: password and is isolated): it holds its sites until the file named by its first argument exists.
HELD = """
import sys, time
from pathlib import Path
from enforcer.cli import main
from enforcer.engine import handlers
from enforcer.plan.steps import ChannelKind
go = Path(sys.argv.pop(1))
channel = handlers._HANDLERS[ChannelKind]
def held(step, kind, ctx):
    go.with_suffix(".reached").touch()
    while not go.exists():
        time.sleep(0.05)
    return channel(step, kind, ctx)
handlers._HANDLERS[ChannelKind] = held
sys.exit(main(sys.argv[1:]))
"""


def _held_apply(fleet: Lab, go: Path) -> subprocess.Popen[str]:
    """An apply that holds the fleet's sites mid-way, until ``go`` exists."""
    process = subprocess.Popen(
        [sys.executable, "-c", HELD, str(go), "apply", fleet.playbook, "--yes", "--time-scale", str(SCALE)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    wait_for(lambda: go.with_suffix(".reached").exists() or process.poll() is not None, timeout=120)
    assert process.poll() is None, process.communicate()[0]
    return process


@pytest.mark.parametrize("vendor", VENDORS)
def test_of_two_concurrent_applies_one_proceeds_the_other_stops_naming_it(
    lab: Any, tmp_path: Path, vendor: str
) -> None:
    """The second apply starts while the first has changed a camera's password but not yet recorded it as
    current: before site locks, its discovery tried the old password (a failed login) and it resumed the
    first's journal run as its own."""
    fleet = lab(problems=("stale_channel",), thresholds=[5], vendor=vendor)
    go = tmp_path / "go"
    first = _held_apply(fleet, go)
    try:
        before = len(fleet.events())
        code, output = fleet.run("apply", fleet.playbook, "--yes")
        assert code == 1, output
        said = " ".join(output.split())
        assert f"is being applied by pid {first.pid} (enforce apply {fleet.playbook}" in said, said
        assert said.endswith("wait for it, or run again with --wait"), said
        assert not _our_failures(fleet.events()[before:])
    finally:
        go.touch()
        first_output = first.communicate(timeout=120)[0]
    assert first.returncode == 0, first_output
    assert not _our_failures(fleet.events())
    assert fleet.run("plan", fleet.playbook)[0] == 0


def test_with_wait_the_second_apply_waits_for_the_first_then_finds_nothing_to_do(lab: Any, tmp_path: Path) -> None:
    fleet = lab(problems=("stale_channel",), thresholds=[5])
    go, log = tmp_path / "go", tmp_path / "second.log"
    first = _held_apply(fleet, go)
    with log.open("w") as stream:
        second = subprocess.Popen(
            [ENFORCE, "apply", fleet.playbook, "--yes", "--wait", "--time-scale", str(SCALE)],
            stdout=stream,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for(lambda: "waiting: site" in log.read_text() or second.poll() is not None, timeout=30)
        assert second.poll() is None, log.read_text()
        assert f"pid {first.pid}" in " ".join(log.read_text().split())
    finally:
        go.touch()
        first_output = first.communicate(timeout=120)[0]
        second.wait(timeout=120)
    assert first.returncode == 0, first_output
    assert second.returncode == 0, log.read_text()
    assert "No changes" in log.read_text()  # it planned after the first had converged the fleet
    assert not _our_failures(fleet.events())


def test_applies_on_different_sites_run_at_once_and_keep_every_password(lab: Any) -> None:
    """Site locks let runs on different sites overlap; both save the one credential store, and neither
    may write back a copy without the other's new passwords (before saves merged, most pairs lost some)."""
    fleet = lab(problems=("stale_channel", "weak_password"), problem_share=1.0, thresholds=[5])
    runs = [
        subprocess.Popen(
            [ENFORCE, "apply", fleet.playbook, "--yes", "--limit", site, "--time-scale", str(SCALE)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for site in sorted({d.site for d in fleet.spec.devices})
    ]
    outputs = [run.communicate(timeout=120)[0] for run in runs]
    assert [run.returncode for run in runs] == [0] * len(runs), outputs
    store = fleet.store()
    for device in fleet.spec.devices:
        for account in fleet.fleet.device(device.name)["accounts"]:
            entry = store.get(f"{device.site}/{device.name}", account["name"])
            assert entry is not None and entry.current is not None, f"{device.name}/{account['name']}"
            assert entry.current.reveal() == account["password"], f"{device.name}/{account['name']} lost"
    assert not _our_failures(fleet.events())
    assert fleet.run("plan", fleet.playbook)[0] == 0
