"""Isolation is never left behind: after a failed step, and after a killed run whose journal is gone.
The lab's state (each device's IP filter) and its events file are the ground truth, not our reports."""

from __future__ import annotations

import hashlib
import re
import shutil
import signal
import subprocess
import sys
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from enforcer.facts import ISOLATION_MARKER
from enforcer.lab.firmware import build_image
from tests.engine.conftest import ENFORCE, SCALE, VENDORS, Lab, locks

pytestmark = pytest.mark.lab


def filters(fleet: Lab) -> dict[str, dict[str, Any]]:
    return {d["name"]: d["ip_filter"] for d in fleet.fleet.state()["devices"]}


def expected_filters(fleet: Lab, before: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each device's filter as it was, except that a stale viewer's source is denied on the device it holds."""
    want = {name: dict(f) for name, f in before.items()}
    for client in fleet.spec.clients:
        if "stale_viewer" in client.problems:
            want[client.target] = {"enabled": True, "mode": "deny", "addresses": [client.source]}
    return want


def break_the_firmware_image(fleet: Lab) -> str:
    """The old-firmware camera's image, rebuilt for another model (its checksum kept right in the inventory):
    the inventory validates, the camera rejects the upload halfway through the site."""
    camera = next(d for d in fleet.spec.devices if "old_firmware" in d.problems and d.role == "camera")
    inventory = fleet.root / "inventory" / "fleet.yml"
    text = inventory.read_text()
    entry = re.search(rf"{re.escape(camera.model)}: {{version: [^,]+, image: ([^,]+), sha256: \"([0-9a-f]+)\"}}", text)
    assert entry is not None, text
    image = fleet.root / "inventory" / entry.group(1)
    data = build_image("SOME-OTHER-MODEL", "V9.9.9", "240101")
    image.write_bytes(data)
    inventory.write_text(text.replace(entry.group(2), hashlib.sha256(data).hexdigest()))
    return camera.name


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_step_failing_mid_site_releases_what_the_site_isolated(lab: Any, vendor: str) -> None:
    fleet = lab(sites=1, cameras=2, problems=("stale_viewer", "old_firmware"), vendor=vendor)
    before = filters(fleet)
    camera = break_the_firmware_image(fleet)
    code, output = fleet.run("apply", fleet.playbook, "--yes")
    assert code == 1, output
    events = fleet.events()
    assert [e["device"] for e in events if e["event"] == "firmware_rejected"] == [camera]
    assert any(e["event"] == "account_changed" for e in events)  # the recorder's password did change
    assert filters(fleet) == expected_filters(fleet, before)  # nothing left isolated; the stale viewer kept out
    assert not locks(fleet.events())
    recorder = next(d.name for d in fleet.spec.devices if d.role == "recorder")
    assert f"released {recorder}" in output, output


@pytest.mark.parametrize("vendor", VENDORS)
@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kill_after=st.floats(0.1, 2.0))
def test_killed_and_rerun_without_its_journal_every_filter_is_restored(
    lab: Any, kill_after: float, vendor: str
) -> None:
    """A CI job retried on a fresh runner: the journal is gone, the credential store (shared) is not."""
    fleet = lab(problems=("stale_viewer", "stale_channel"), thresholds=[5], vendor=vendor)
    try:
        before = filters(fleet)
        process = subprocess.Popen(
            [ENFORCE, "apply", fleet.playbook, "--yes", "--time-scale", str(SCALE)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(kill_after)
        process.send_signal(signal.SIGKILL)
        process.wait()
        shutil.rmtree(fleet.root / "inventory" / ".enforcer", ignore_errors=True)
        isolated = [n for n, f in filters(fleet).items() if ISOLATION_MARKER in f["addresses"]]
        code, output = fleet.run("plan", fleet.playbook)
        assert code == (2 if isolated else code), output  # an isolation left behind is a change, never "No changes"
        code, output = fleet.run("apply", fleet.playbook, "--yes")
        assert code == 0, output
        assert filters(fleet) == expected_filters(fleet, before)
        assert fleet.run("plan", fleet.playbook)[0] == 0
        assert not locks(fleet.events())
    finally:
        fleet.fleet.stop()


#: ``enforce apply`` killed (SIGKILL) just after its first isolation took, before any password changed.
KILLED_AFTER_ISOLATION = """
import os, signal, sys
from enforcer.cli import main
from enforcer.engine import handlers
from enforcer.plan.steps import IsolateFilter
isolate = handlers._HANDLERS[IsolateFilter]
def die(*args):
    isolate(*args)
    os.kill(os.getpid(), signal.SIGKILL)
handlers._HANDLERS[IsolateFilter] = die
sys.exit(main(sys.argv[1:]))
"""


def test_an_isolation_nobody_recorded_is_refused_then_released_on_request(lab: Any) -> None:
    """Another machine's run isolated the recorder and died; this checkout's store never saw it. plan refuses
    the site naming the way out (exit 1, never "No changes"); --restore-unknown-filters switches the filter
    off with the stale manual client kept out."""
    fleet = lab(sites=1, cameras=2, problems=("stale_viewer",))
    store = fleet.root / "inventory" / "credentials.vault"
    pristine = store.read_bytes()
    before = filters(fleet)
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_AFTER_ISOLATION, "apply", fleet.playbook, "--yes", "--time-scale", str(SCALE)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    assert [n for n, f in filters(fleet).items() if ISOLATION_MARKER in f["addresses"]]
    store.write_bytes(pristine)  # the fresh checkout: no record of that isolation
    shutil.rmtree(fleet.root / "inventory" / ".enforcer", ignore_errors=True)
    code, output = fleet.run("plan", fleet.playbook)
    assert code == 1 and "--restore-unknown-filters" in output, output
    code, output = fleet.run("apply", fleet.playbook, "--yes", "--restore-unknown-filters")
    assert code == 0, output
    assert filters(fleet) == expected_filters(fleet, before)
    assert fleet.run("plan", fleet.playbook)[0] == 0
    assert not locks(fleet.events())
