"""A site whose Frigate host and manual viewers all hold passwords about to change, converged on the lab.

The Frigate host is the lab's: a real sshd on the host's own loopback address, its config file on disk,
its service logging into each camera from that address. The events file says whether anything locked
and whose logins succeeded; the host's service says whether it runs and what its cameras answered.
"""

from __future__ import annotations

import subprocess
from typing import Any

import pytest

from enforcer.lab.frigate import CTL, host_dir
from tests.engine.conftest import Lab, locks
from tests.engine.test_apply_lab import wait_for

pytestmark = pytest.mark.lab

VENDORS = ("hikvision", "dahua")


def stale_site(lab: Any, vendor: str, isolation: str = "ip_filter") -> Lab:
    """One site with a Frigate host and two manual viewers, then every password they hold rotated."""
    fleet: Lab = lab(sites=1, cameras=2, problems=("stale_viewer",), clients=("ssh", "viewer"), vendor=vendor)
    if isolation != "ip_filter":
        inventory = fleet.root / "inventory" / "fleet.yml"
        inventory.write_text(inventory.read_text().replace("isolation: ip_filter", f"isolation: {isolation}"))
    fleet.rotate()
    return fleet


def host_of(fleet: Lab) -> tuple[str, str]:
    [host] = fleet.spec.hosts
    return host.name, host.address


def host_state(fleet: Lab) -> dict[str, Any]:
    return dict(fleet.fleet.client_status(host_of(fleet)[0]))


def frigatectl(fleet: Lab, command: str) -> int:
    name, _ = host_of(fleet)
    return subprocess.run([str(host_dir(fleet.root, name) / CTL), command], capture_output=True).returncode


def cameras_held(fleet: Lab) -> dict[str, str]:
    """What the host's config holds now, camera by camera (as the lab's host read it at its last start)."""
    doc = next(c for c in fleet.fleet.state()["clients"] if c["kind"] == "ssh")
    return {h["camera"]: h["password"] for h in doc["holds"]}


def logins_since(fleet: Lab, changed: str, source: str) -> dict[str, list[str]]:
    """Per camera, the results of the host's logins after the camera's password changed."""
    events = fleet.events()
    out: dict[str, list[str]] = {}
    for camera in [d.name for d in fleet.spec.devices if d.role == "camera"]:
        times = [e["time"] for e in events if e["device"] == camera and e["event"] == changed]
        after = [e for e in events if e["device"] == camera and times and e["time"] >= times[-1]]
        out[camera] = [e["result"] for e in after if e["event"] == "client_status" and e["source"] == source]
    return out


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_frigate_host_and_two_viewers_all_stale_converge_without_a_lock(lab: Any, vendor: str) -> None:
    fleet = stale_site(lab, vendor)
    name, address = host_of(fleet)
    wait_for(lambda: set(host_state(fleet)["cameras"].values()) == {"ok"})  # it holds what the cameras have now
    code, output = fleet.run("apply", fleet.playbook, "--yes")
    assert code == 0, output
    assert f"{name} update client: credentials updated: 1 of 1 files written, reloaded" in output
    assert not locks(fleet.events()), locks(fleet.events())
    # The host holds the new passwords, and its logins succeed again after release.
    state = host_state(fleet)
    assert state["running"] and set(state["cameras"].values()) == {"ok"}, state
    assert all(results and results[-1] == "ok" for results in logins_since(fleet, "account_changed", address).values())
    assert set(cameras_held(fleet).values()) == {fleet.fleet.password(c, "admin") for c in cameras_held(fleet)}
    # The two manual viewers stay out, and are on the checklist.
    viewers = {c.name: c.source for c in fleet.spec.clients}
    assert len(viewers) == 2
    checklist = output.split("checklist: update these clients by hand")[1]
    assert all(source in checklist for source in viewers.values()), checklist
    [recorder] = [d for d in fleet.fleet.state()["devices"] if d["role"] == "recorder"]
    assert recorder["ip_filter"]["mode"] == "deny" and set(viewers.values()) <= set(recorder["ip_filter"]["addresses"])
    assert fleet.run("plan", fleet.playbook)[0] == 0
    for text in (output, fleet.stdout):
        assert not [s for s in fleet.secrets() if s in text] and "PRIVATE KEY" not in text


def test_taken_off_on_its_side_the_host_is_stopped_before_the_cameras_change(lab: Any) -> None:
    """``isolation: client``: the host's service is stopped, not filtered, then started again as it was."""
    fleet = stale_site(lab, "hikvision", isolation="client")
    name, address = host_of(fleet)
    code, output = fleet.run("apply", fleet.playbook, "--yes")
    assert code == 0, output
    events = fleet.events()
    stopped = next(e["time"] for e in events if e["device"] == name and e["event"] == "service_stopped")
    started = [e["time"] for e in events if e["device"] == name and e["event"] == "service_started"]
    changed = [e["time"] for e in events if e["event"] == "account_changed" and e["device"].startswith("cam-")]
    assert changed and stopped < min(changed) and started[-1] > max(changed)
    # Stopped, it sent nothing while the cameras changed (not even a login the filter turned away).
    assert not [e for e in events if e["source"] == address and stopped < e["time"] < started[-1]]
    assert not locks(events)
    assert host_state(fleet)["running"] and set(host_state(fleet)["cameras"].values()) == {"ok"}
    assert fleet.run("plan", fleet.playbook)[0] == 0


@pytest.mark.parametrize("running", [True, False], ids=["running", "stopped-before"])
def test_killed_during_isolation_the_rerun_puts_the_host_back_exactly(lab: Any, running: bool) -> None:
    fleet = stale_site(lab, "hikvision", isolation="client")
    name, _ = host_of(fleet)
    if not running:
        assert frigatectl(fleet, "stop") == 0
    fleet.apply_killed("after", "IsolateClient")
    assert not host_state(fleet)["running"]  # taken off, and left so by the killed run
    assert fleet.store().isolation(f"site-001/{name}") is not None  # what it replaced, recorded first
    code, output = fleet.run("apply", fleet.playbook, "--yes")
    assert code == 0, output
    assert host_state(fleet)["running"] is running  # exactly as before the first run
    assert frigatectl(fleet, "status") == (0 if running else 3)
    if running:
        assert set(host_state(fleet)["cameras"].values()) == {"ok"}
    assert fleet.store().isolation(f"site-001/{name}") is None
    assert not locks(fleet.events())
    assert fleet.run("plan", fleet.playbook)[0] == 0


def test_a_template_the_host_refuses_rolls_it_back_and_its_cameras_stay_out(lab: Any) -> None:
    """A template rendering a config Frigate refuses: the host gets its previous config back, the step says
    so, and the cameras it would lock (their passwords changed) stay isolated from it."""
    fleet = stale_site(lab, "hikvision")
    name, address = host_of(fleet)
    config = host_dir(fleet.root, name) / "config" / "config.yml"
    before = config.read_text()
    template = fleet.root / "inventory" / "templates" / "frigate.yml.j2"
    template.write_text(template.read_text().replace("          roles: [detect, record]\n", ""))
    code, output = fleet.run("apply", fleet.playbook, "--yes")
    assert code == 1, output
    flat = " ".join(output.split())
    assert "the validate command exited 1" in flat and "roles: Field required" in flat, flat
    assert "the host was rolled back to its previous files" in flat, flat
    assert config.read_text() == before
    cameras = [d for d in fleet.fleet.state()["devices"] if d["role"] == "camera"]
    assert all(
        "127.0.0.1" in d["ip_filter"]["addresses"] and address not in d["ip_filter"]["addresses"] for d in cameras
    )
    assert not locks(fleet.events())
