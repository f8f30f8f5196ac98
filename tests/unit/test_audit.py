"""The audit's pure core: (desired state, facts, security logs) → findings. Fixture tables and hypothesis.

Each case perturbs a converged site in one way and names exactly the findings it must produce, on which
device; the property tests combine perturbations (the findings of a combination are the union of each
one's) and attribute random log sources (each lands on the culprit its address belongs to).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from enforcer.audit import KINDS, Unread, audit_site
from enforcer.audit.findings import Finding
from enforcer.credentials.keyring import Known
from enforcer.facts import (
    ISOLATION_MARKER,
    AccountFact,
    DeviceFacts,
    Gap,
    IPFilterFact,
    LockPolicyFact,
    LoginEvent,
    LoginFact,
    SecurityLog,
)
from enforcer.model import Client, Device, Firmware, Hold, ManualSettings, MilestoneSettings, Site
from tests.unit.test_planner import ALL, OLD, converged, device, site_of

NOW = 1_800_000_000.0
SINCE = NOW - 7 * 86400
DESK = "10.0.0.55"
OWN = "10.9.9.9"


@dataclass
class World:
    """A site and everything the audit reads of it, converged until a case perturbs it."""

    site: Site
    facts: dict[str, DeviceFacts]
    known: dict[tuple[str, str], Any]
    unread: dict[str, Unread] = field(default_factory=dict)
    logs: dict[str, SecurityLog] = field(default_factory=dict)

    def set(self, name: str, **kw: Any) -> None:
        d = self.dev(name)
        self.facts[d.id] = replace(self.facts[d.id], **kw)

    def dev(self, name: str) -> Device:
        found = self.site.device(name)
        assert found is not None
        return found

    def log(self, name: str, *events: tuple[str, str, str], at: float = NOW - 3600) -> None:
        """``events``: (source, user, kind) each once, an hour ago."""
        self.logs[self.dev(name).id] = SecurityLog(
            SINCE, tuple(LoginEvent(at, s, u, k) for s, u, k in events), "failures"
        )

    def audit(self) -> Any:
        known: Known = self.known
        return audit_site(self.site, self.facts, self.unread, self.logs, enforce=ALL, known=known, now=NOW, own={OWN})


def world(**clients: Client) -> World:
    nvr = device("nvr", "recorder", address="10.0.0.10")
    cam = device("cam", address="10.0.0.21")
    desk = Client("s", "desk", "manual", (Hold("nvr", "admin"),), ManualSettings("iVMS-4200 at the desk"), DESK)
    site = site_of(nvr, cam, clients=(desk, *clients.values()))
    fs, known = converged(site)
    for d in site.devices:
        fs[d.id] = replace(fs[d.id], login=LoginFact("admin", "current", False, False))
    w = World(site, fs, dict(known))
    for d in site.devices:  # every device's log read, and empty
        w.logs[d.id] = SecurityLog(SINCE)
    return w


def found(w: World) -> set[tuple[str, str]]:
    return {(f.kind, f.device) for f in w.audit().findings}


Case = Callable[[World], None]

CASES: dict[str, tuple[Case, set[tuple[str, str]]]] = {
    "converged": (lambda w: None, set()),
    "factory password (flag)": (
        lambda w: w.set("cam", login=LoginFact("admin", "current", True, True)),
        {("default_password", "cam")},
    ),
    "weak password (flag)": (
        lambda w: w.set("cam", login=LoginFact("admin", "current", False, True)),
        {("weak_password", "cam")},
    ),
    "the store's previous works": (
        lambda w: w.set("nvr", login=LoginFact("admin", "previous", False, False, attempts_spent=1)),
        {("store_outdated", "nvr")},
    ),
    "an account nobody declared": (
        lambda w: w.set(
            "cam", accounts=(AccountFact("admin", "administrator", "1"), AccountFact("installer", "operator", "2"))
        ),
        {("unknown_account", "cam")},
    ),
    "firmware behind": (
        lambda w: _declare_firmware(w, "cam", "V5.7.17", "V5.5.800"),
        {("firmware_behind", "cam")},
    ),
    "firmware ahead is drift, not behind": (
        lambda w: _declare_firmware(w, "cam", "V5.7.3", "V5.7.17"),
        {("drift", "cam")},
    ),
    "lock off": (
        lambda w: w.set("cam", lock_policy=LockPolicyFact(False, 5, 1800, True, (3, 20))),
        {("lock_disabled", "cam")},
    ),
    "lock attempts differ": (
        lambda w: w.set("cam", lock_policy=LockPolicyFact(True, 7, 1800, True, (3, 20))),
        {("lock_policy_differs", "cam")},
    ),
    "firmware says the lock cannot be switched off": (
        lambda w: w.set("cam", lock_policy=LockPolicyFact(True, 5, 1800, False, (3, 20))),
        {("firmware_always_locks", "cam")},
    ),
    "firmware in the table": (
        lambda w: w.set("cam", model="DS-2CD2042WD-I", firmware_version="V5.3.8"),
        {("firmware_always_locks", "cam")},
    ),
    "a channel its camera refuses": (
        lambda w: _channel(w, "errorUserNameOrPasswd"),
        {("channel_refused", "nvr")},
    ),
    "a camera offline is no credential problem": (lambda w: _channel(w, "netUnreachable"), set()),
    "the recorder's password rotates, the desk holds it": (
        lambda w: w.known.__setitem__((w.dev("nvr").id, "admin"), OLD),
        {("drift", "nvr"), ("stale_holder", "nvr")},
    ),
    "the camera's password rotates, the channel holds it": (
        lambda w: w.known.__setitem__((w.dev("cam").id, "admin"), OLD),
        {("drift", "cam"), ("stale_holder", "cam")},
    ),
    "left isolated": (
        lambda w: w.set("cam", ip_filter=IPFilterFact(True, "allow", ("10.9.9.9", ISOLATION_MARKER))),
        {("left_isolated", "cam")},
    ),
    "locked for us": (
        lambda w: _unread(w, "cam", Unread("login", "our source is locked out for 600 s more", 600)),
        {("locked", "cam")},
    ),
    "unreachable": (
        lambda w: _unread(w, "cam", Unread("connect", "connection refused")),
        {("unreadable", "cam")},
    ),
    "a capability gap is info": (
        lambda w: w.set("cam", gaps=(Gap("ip_filter", "no IP filter"),), ip_filter=None),
        {("capability_gap", "cam")},
    ),
    "the desk fails on the recorder": (
        lambda w: w.log("nvr", *[(DESK, "admin", "failure")] * 6),
        {("stale_client", "nvr")},
    ),
    "the recorder fails on its camera": (
        lambda w: w.log("cam", *[("10.0.0.10", "admin", "failure")] * 3),
        {("stale_channel", "cam")},
    ),
    "someone unknown fails": (
        lambda w: w.log("cam", ("10.0.0.99", "installer", "failure")),
        {("unknown_source", "cam")},
    ),
    "enforcer's own failure is info": (
        lambda w: w.log("cam", (OWN, "admin", "failure")),
        {("own_failures", "cam")},
    ),
    "no log to read": (
        lambda w: w.logs.__setitem__(w.dev("cam").id, SecurityLog(SINCE, gap=Gap("security_log", "notSupport"))),
        {("capability_gap", "cam")},
    ),
}


def _declare_firmware(w: World, name: str, declared: str, running: str) -> None:
    d = w.dev(name)
    moved = replace(d, firmware=Firmware(declared, Path("fw.dav"), "0" * 64))
    w.site = replace(w.site, devices=tuple(moved if x.id == d.id else x for x in w.site.devices))
    w.set(name, firmware_version=running)


def _channel(w: World, detect: Any) -> None:
    nvr = w.facts[w.dev("nvr").id]
    w.set("nvr", channels=tuple(replace(c, online=False, detect=detect) for c in nvr.channels))


def _unread(w: World, name: str, why: Unread) -> None:
    d = w.dev(name)
    del w.facts[d.id]
    del w.logs[d.id]
    w.unread[d.id] = why


@pytest.mark.parametrize("name", list(CASES))
def test_each_problem_is_found_on_its_device_and_nothing_else(name: str) -> None:
    perturb, expected = CASES[name]
    w = world()
    perturb(w)
    result = w.audit()
    assert {(f.kind, f.device) for f in result.findings} == expected
    assert result.compliant == all(KINDS[k].severity == "info" for k, _ in expected)
    for f in result.findings:
        assert f.what and f.why and f.fix, f


@settings(max_examples=60, deadline=None)
@given(st.sets(st.sampled_from(sorted(set(CASES) - {"converged", "firmware ahead is drift, not behind"}))))
def test_findings_of_combined_problems_are_the_union_of_each(names: set[str]) -> None:
    # Problems on one device's login or reachability hide each other: keep one of each per device.
    exclusive = [
        {"factory password (flag)", "weak password (flag)", "locked for us", "unreachable"},
        {"firmware in the table", "locked for us", "unreachable", "firmware behind", "a capability gap is info"},
        {"a channel its camera refuses", "a camera offline is no credential problem"},
        {"lock off", "lock attempts differ", "firmware says the lock cannot be switched off"},
        {
            "the recorder fails on its camera",
            "someone unknown fails",
            "enforcer's own failure is info",
            "no log to read",
        },
    ]
    for group in exclusive:
        for extra in sorted(names & group)[1:]:
            names.discard(extra)
    if names & {"locked for us", "unreachable"}:  # nothing else is known of an unread camera
        names -= {n for n in names if n not in {"locked for us", "unreachable"} and _on_cam(n)}
    w = world()
    expected: set[tuple[str, str]] = set()
    for name in sorted(names):
        perturb, wanted = CASES[name]
        perturb(w)
        expected |= wanted
    assert found(w) == expected


def _on_cam(name: str) -> bool:
    return any(device == "cam" for _, device in CASES[name][1])


def test_a_locked_camera_names_its_refused_channel_as_the_likely_cause() -> None:
    w = world()
    _channel(w, "errorUserNameOrPasswd")
    _unread(w, "cam", Unread("login", "the account admin is locked for 300 s more", 300))
    locked = next(f for f in w.audit().findings if f.kind == "locked")
    assert "nvr channel 1 is refused by it" in locked.why


def test_a_stale_viewer_is_named_with_its_credential_path_and_goes_on_the_checklist() -> None:
    w = world()
    w.logs[w.dev("nvr").id] = SecurityLog(
        SINCE, tuple(LoginEvent(NOW - 86400 * d, DESK, "admin", "lock") for d in (5, 3, 2, 1)), "locks"
    )
    result = w.audit()
    (activity,) = result.forensics
    assert activity.culprit.kind == "client" and activity.culprit.manual
    assert activity.culprit.stale == ("desk holds nvr as admin",)
    assert activity.locks == 4 and activity.failures == 0
    assert activity.sentence(SINCE).startswith(
        f"nvr was locked 4 times since 2027-01-08 by {DESK} = desk, iVMS-4200 at the desk (manual client), as admin"
    )
    (item,) = result.checklist
    assert (item.client, item.what, item.address, item.holds) == (
        "desk",
        "iVMS-4200 at the desk",
        DESK,
        ("nvr as admin",),
    )
    assert sum(activity.daily) == 4 and len(activity.daily) == 8


def test_locked_now_follows_the_lock_policy() -> None:
    w = world()
    w.log("nvr", *[(DESK, "admin", "failure")] * 5, at=NOW - 60)  # 5 failures a minute ago: 5 attempts lock it
    assert w.audit().forensics[0].locked_now
    w.log("nvr", *[(DESK, "admin", "failure")] * 5, at=NOW - 3600)  # an hour ago: the 30-minute lock ended
    assert not w.audit().forensics[0].locked_now


def test_addresses_are_matched_within_the_site_only() -> None:
    w = world()
    other = replace(w.site, name="other", clients=())
    w.log("nvr", (DESK, "admin", "failure"))
    result = audit_site(other, w.facts, {}, w.logs, enforce=ALL, known=w.known, now=NOW)
    assert [a.culprit.kind for a in result.forensics] == ["unknown"]


def test_a_milestone_client_without_address_is_found_by_its_url_host() -> None:
    vms = Client("s", "vms", "milestone", (Hold("cam", "admin"),), MilestoneSettings("https://10.0.0.5"))
    w = world(vms=vms)
    w.log("cam", ("10.0.0.5", "admin", "failure"))
    (activity,) = w.audit().forensics
    assert (activity.culprit.kind, activity.culprit.name, activity.culprit.manual) == ("client", "vms", False)
    assert activity.culprit.stale == ("vms holds cam as admin",)


def test_a_client_failing_on_a_device_it_is_not_declared_to_hold_is_an_undeclared_path() -> None:
    w = world()
    w.log("cam", (DESK, "operator", "failure"))
    (activity,) = w.audit().forensics
    assert activity.culprit.stale == ("desk logs into cam as operator, a path the inventory lacks",)


SOURCES = {"own": OWN, "desk": DESK, "recorder": "10.0.0.10", "unknown": "10.0.0.200"}
CULPRIT = {"own": "enforcer", "desk": "client", "recorder": "recorder", "unknown": "unknown"}


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(sorted(SOURCES)), st.sampled_from(["admin", "operator"]), st.booleans(), st.integers(0, 6)
        ),
        max_size=40,
    )
)
def test_every_source_lands_on_its_culprit_and_every_event_is_counted(events: list[Any]) -> None:
    w = world()
    log = tuple(
        LoginEvent(NOW - day * 86400 - 1, SOURCES[s], user, "lock" if lock else "failure")
        for s, user, lock, day in events
    )
    w.logs[w.dev("cam").id] = SecurityLog(SINCE, log, "failures")
    result = w.audit()
    assert sum(a.failures + a.locks for a in result.forensics) == len(log)
    for a in result.forensics:
        name = next(k for k, v in SOURCES.items() if v == a.source)
        assert a.culprit.kind == CULPRIT[name]
        assert sum(a.daily) == a.failures + a.locks
    kinds = {f.kind for f in result.findings}
    expected = {"own_failures" if CULPRIT[s] == "enforcer" else f"stale_{CULPRIT[s]}" for s, *_ in events}
    expected = {
        "unknown_source" if k == "stale_unknown" else "stale_channel" if k == "stale_recorder" else k for k in expected
    }
    assert kinds == expected
    assert result.compliant == (not events or all(s == "own" for s, *_ in events))


def test_every_finding_kind_is_reachable_from_the_cases() -> None:
    reached = {kind for _, expected in CASES.values() for kind, _ in expected}
    assert reached == set(KINDS)


def test_findings_hold_no_secret() -> None:
    w = world()
    w.known[(w.dev("nvr").id, "admin")] = OLD
    for f in w.audit().findings:
        assert OLD.reveal() not in repr(f.to_dict())
        assert isinstance(f, Finding)
