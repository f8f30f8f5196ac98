"""Diff and planner: desired state + facts → changes → steps in lock-safe order. Pure, no sockets."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from enforcer.credentials.keyring import Known
from enforcer.credentials.secret import Secret
from enforcer.facts import (
    ISOLATION_MARKER,
    AccountFact,
    ChannelFact,
    DeviceFacts,
    Gap,
    IPFilterFact,
    LockPolicyFact,
    LockState,
    LoginFact,
)
from enforcer.model import (
    SETTLE,
    TLS,
    Account,
    Client,
    Device,
    Firmware,
    Hold,
    LockPolicy,
    ManualSettings,
    MilestoneSettings,
    ServiceCommands,
    Site,
    SshSettings,
)
from enforcer.plan.artifact import PHASES, Plan, SitePlan
from enforcer.plan.planner import plan_site
from enforcer.plan.steps import HoldRef, ReleaseFilter, UpdateClient

ALL = frozenset({"credentials", "lock_policy", "firmware"})
SSH = SshSettings("enforcer", Path("known_hosts"), (), ServiceCommands.systemd("frigate"))
OLD, NEW, CAM = Secret("Old-Pass-1234", "store"), Secret("New-Pass-5678", "vault"), Secret("Cam-Pass-9012", "vault")


def device(name: str, role: str = "camera", **kw: Any) -> Device:
    base: dict[str, Any] = dict(
        site="s",
        name=name,
        role=role,
        vendor="hikvision",
        model="M",
        address=f"10.0.0.{len(name)}",
        port=80,
        scheme="http",
        tls=TLS(),
        accounts=(Account("admin", "administrator", NEW),),
        lock_policy=LockPolicy(True, 5, 30),
        firmware=None,
        isolation="ip_filter",
        unlock="wait",
    )
    if role == "camera":
        base.update(recorder="nvr", channel=1)
    base.update(kw)
    return Device(**base)


def facts(d: Device, **kw: Any) -> DeviceFacts:
    base: dict[str, Any] = dict(
        device=d.id,
        model=d.model,
        serial="S1",
        firmware_version="V1",
        login=LoginFact("admin", "current"),
        accounts=(AccountFact("admin", "administrator", "1"),),
        lock_policy=LockPolicyFact(True, 5, 1800, True, (3, 20)),
        ip_filter=IPFilterFact(False, "allow", ()),
    )
    base.update(kw)
    return DeviceFacts(**base)


def site_of(*devices: Device, clients: tuple[Client, ...] = ()) -> Site:
    return Site("s", (), devices, clients)


def converged(site: Site) -> tuple[dict[str, DeviceFacts], Known]:
    """Facts and known passwords for which nothing needs doing."""
    fs = {d.id: facts(d) for d in site.devices}
    nvr = site.device("nvr")
    if nvr is not None:
        channels = tuple(
            ChannelFact(c.channel or 0, c.address, c.port, c.channel_user, True, "connect") for c in site.cameras
        )
        fs[nvr.id] = facts(nvr, channels=channels)
    known = {(d.id, a.name): a.password for d in site.devices for a in d.accounts if a.password}
    return fs, known


def actions(plan: SitePlan) -> list[tuple[str, str, str]]:
    return [(s.phase, s.action, s.target.split("/")[-1]) for s in plan.steps]


def test_converged_site_has_no_changes_and_no_steps() -> None:
    site = site_of(device("nvr", "recorder"), device("cam"))
    fs, known = converged(site)
    plan = plan_site(site, fs, {}, ALL, known)
    assert plan.changes == () and plan.steps == () and plan.error is None


def test_firmware_before_lock_policy_before_accounts_and_no_isolation_when_nothing_goes_stale() -> None:
    nvr = device(
        "nvr",
        "recorder",
        firmware=Firmware("V2", __import__("pathlib").Path("fw"), "0" * 64),
        lock_policy=LockPolicy(True, 7, 30),
    )
    site = site_of(nvr)
    fs, known = converged(site)
    known[(nvr.id, "admin")] = OLD
    plan = plan_site(site, fs, {}, ALL, known)
    assert actions(plan) == [
        ("recorder", "firmware", "nvr"),
        ("recorder", "lock_policy", "nvr"),
        ("recorder", "account", "nvr"),
        ("verify", "verify", "s"),
    ]
    assert [c.key for c in plan.changes] == ["firmware", "lock_policy.max_attempts", "accounts.admin.password"]


def test_recorder_password_change_isolates_its_clients_then_releases_keeping_manual_ones_out() -> None:
    nvr = device("nvr", "recorder")
    desk = Client("s", "desk", "manual", (Hold("nvr", "admin"),), ManualSettings("iVMS-4200"), "10.0.0.55")
    site = site_of(nvr, clients=(desk,))
    fs, known = converged(site)
    known[(nvr.id, "admin")] = OLD
    plan = plan_site(site, fs, {}, ALL, known)
    assert actions(plan) == [
        ("isolate", "isolate_ip_filter", "nvr"),
        ("recorder", "account", "nvr"),
        ("clients", "checklist", "desk"),
        ("release", "release_ip_filter", "nvr"),
        ("verify", "verify", "s"),
    ]
    isolate, release = plan.steps[0], plan.steps[3]
    previous = {"enabled": False, "mode": "allow", "addresses": []}
    assert isolate.params == {
        "allow": ["@enforcer"],
        "previous": previous,
        "keep_blocked": ["10.0.0.55"],
        "holders": ["s/desk"],
    }
    assert release.params == {"restore": isolate.params["previous"], "keep_blocked": ["10.0.0.55"]}


def test_camera_password_change_moves_the_recorder_channel_and_keeps_the_recorder_out_meanwhile() -> None:
    nvr, cam = device("nvr", "recorder"), device("cam", accounts=(Account("admin", "administrator", CAM),))
    site = site_of(nvr, cam)
    fs, known = converged(site)
    known[(cam.id, "admin")] = OLD
    plan = plan_site(site, fs, {}, ALL, known)
    assert actions(plan) == [
        ("isolate", "isolate_ip_filter", "cam"),
        ("cameras", "account", "cam"),
        ("channels", "channel", "nvr"),
        ("channels", "settle", "nvr"),
        ("release", "release_ip_filter", "cam"),
        ("verify", "verify", "s"),
    ]
    assert plan.steps[0].params["allow"] == ["@enforcer"]  # the recorder's channel is stale: not allowed in
    assert plan.steps[2].params == {
        "channel": 1,
        "camera": "s/cam",
        "address": cam.address,
        "port": 80,
        "user": "admin",
    }
    # a login the recorder began with the old password ends before the camera lets it in again
    assert plan.steps[3].params == {"seconds": SETTLE}


def test_a_recorder_waits_once_after_all_its_channels_and_not_at_all_when_told_so() -> None:
    nvr = device("nvr", "recorder")
    cams = [
        device(f"cam{i}", accounts=(Account("admin", "administrator", CAM),), channel=i, address=f"10.0.1.{i}")
        for i in (1, 2)
    ]
    site = site_of(nvr, *cams)
    fs, known = converged(site)
    for cam in cams:
        known[(cam.id, "admin")] = OLD
    plan = plan_site(site, fs, {}, ALL, known, settle=2.5)
    channels = [(a, t) for p, a, t in actions(plan) if p == "channels"]
    assert channels == [("channel", "nvr"), ("channel", "nvr"), ("settle", "nvr")]
    assert plan.steps[[s.action for s in plan.steps].index("settle")].params == {"seconds": 2.5}
    unsettled = plan_site(site, fs, {}, ALL, known, settle=0)
    assert "settle" not in [s.action for s in unsettled.steps]
    assert [s for s in unsettled.steps if s.action != "settle"] == [s for s in plan.steps if s.action != "settle"]


def test_camera_isolation_lets_its_recorder_in_when_the_channel_does_not_go_stale() -> None:
    nvr = device("nvr", "recorder")
    accounts = (Account("admin", "administrator", CAM), Account("operator", "operator", NEW))
    cam = device("cam", accounts=accounts, channel_user="operator")
    viewer = Client("s", "phone", "manual", (Hold("cam", "admin"),), ManualSettings("app"), "10.0.0.77")
    site = site_of(nvr, cam, clients=(viewer,))
    fs, known = converged(site)
    fs[cam.id] = replace(
        fs[cam.id], accounts=(AccountFact("admin", "administrator"), AccountFact("operator", "operator"))
    )
    known[(cam.id, "admin")] = OLD
    plan = plan_site(site, fs, {}, frozenset({"credentials"}), known)
    assert plan.steps[0].action == "isolate_ip_filter"
    assert plan.steps[0].params["allow"] == ["@enforcer", nvr.address]
    assert not any(s.action == "channel" for s in plan.steps)


def test_channel_refused_by_camera_is_fixed_without_touching_the_camera() -> None:
    nvr, cam = device("nvr", "recorder"), device("cam")
    site = site_of(nvr, cam)
    fs, known = converged(site)
    fs[nvr.id] = replace(
        fs[nvr.id], channels=(ChannelFact(1, cam.address, 80, "admin", False, "errorUserNameOrPasswd"),)
    )
    plan = plan_site(site, fs, {}, ALL, known)
    assert actions(plan) == [("channels", "channel", "nvr"), ("verify", "verify", "s")]
    assert "refused by the camera" in plan.steps[0].reason


def test_a_camera_left_isolated_by_a_killed_run_gets_its_channel_sent_before_the_release() -> None:
    """Killed after the camera's password changed, before its channel was rewritten: the password is no
    longer a change and the filter hides the channel's refusal, so only ``isolated`` tells. Released
    without the channel, the recorder would lock the camera with the old password."""
    nvr, cam = device("nvr", "recorder"), device("cam")
    site = site_of(nvr, cam)
    fs, known = converged(site)
    fs[nvr.id] = replace(fs[nvr.id], channels=(ChannelFact(1, cam.address, 80, "admin", False, "unknown"),))
    plan = plan_site(site, fs, {}, ALL, known, recorded=frozenset({cam.id}))
    assert actions(plan) == [
        ("channels", "channel", "nvr"),
        ("release", "release_ip_filter", "cam"),
        ("verify", "verify", "s"),
    ]
    assert "interrupted run left cam isolated" in plan.steps[0].reason
    assert plan_site(site, fs, {}, ALL, known).steps == ()  # not isolated: nothing to do


ISOLATED = IPFilterFact(True, "allow", ("10.9.9.9", ISOLATION_MARKER))


def test_an_isolation_left_behind_is_drift_the_plan_releases() -> None:
    """The device says it is isolated (the marker in its allow-list): a change whatever else is converged,
    so plan exits 2 and apply releases it, with or without the run's journal."""
    nvr, cam = device("nvr", "recorder"), device("cam")
    site = site_of(nvr, cam)
    fs, known = converged(site)
    fs[cam.id] = replace(fs[cam.id], ip_filter=ISOLATED)
    plan = plan_site(site, fs, {}, ALL, known, recorded=frozenset({cam.id}))
    assert ("release", "release_ip_filter", "cam") in actions(plan)
    # and the camera's channel goes again first: the isolated camera's password may have changed
    assert [(c.device, c.kind) for c in plan.pending] == [(nvr.id, "channel"), (cam.id, "isolation")]
    release = next(s for s in plan.steps if s.action == "release_ip_filter")
    assert release.kind == ReleaseFilter()  # what to restore comes from the store's record


def test_an_isolation_nobody_recorded_fails_the_site_unless_the_operator_says_how_to_restore() -> None:
    nvr, cam = device("nvr", "recorder"), device("cam")
    desk = Client("s", "desk", "manual", (Hold("cam", "admin"),), ManualSettings("iVMS"), "10.0.0.55")
    vms = Client("s", "vms", "milestone", (Hold("cam", "admin"),), MilestoneSettings("https://vms"), "10.0.0.66")
    site = site_of(nvr, cam, clients=(desk, vms))
    fs, known = converged(site)
    fs[cam.id] = replace(fs[cam.id], ip_filter=ISOLATED)
    refused = plan_site(site, fs, {}, ALL, known)
    assert refused.error is not None and refused.steps == ()
    assert "cam isolated by an earlier run" in refused.error and "--restore-unknown-filters" in refused.error
    chosen = plan_site(site, fs, {}, ALL, known, restore_unknown=True)
    release = next(s for s in chosen.steps if s.action == "release_ip_filter")
    assert release.kind == ReleaseFilter(IPFilterFact(False, "deny", ()), ("10.0.0.55",))  # the manual client stays out


def test_a_camera_that_cannot_be_read_names_the_channel_it_refuses() -> None:
    """The camera is locked (by the recorder's stale channel, on Dahua for everyone): the site cannot be
    planned, and the error points at the likely cause."""
    nvr, cam, other = device("nvr", "recorder"), device("cam"), device("cam-b", channel=2)
    site = site_of(nvr, cam, other)
    fs, known = converged(site)
    fs[nvr.id] = replace(
        fs[nvr.id],
        channels=(
            ChannelFact(1, cam.address, 80, "admin", False, "errorUserNameOrPasswd"),
            ChannelFact(2, other.address, 80, "admin", False, "netUnreachable"),
        ),
    )
    del fs[cam.id], fs[other.id]
    failures = {cam.id: "the account admin is locked for 291 s more", other.id: "connection refused"}
    plan = plan_site(site, fs, failures, ALL, known)
    assert plan.error is not None and not plan.steps
    assert "cam: the account admin is locked for 291 s more (it refuses nvr ch1: a stale stored" in plan.error
    assert "cam-b: connection refused;" in plan.error or plan.error.endswith("cam-b: connection refused")


def test_login_account_changes_last() -> None:
    accounts = (
        Account("admin", "administrator", NEW),
        Account("operator", "operator", NEW),
        Account("zed", "viewer", NEW),
    )
    nvr = device("nvr", "recorder", accounts=accounts)
    site = site_of(nvr)
    fs, _ = converged(site)
    fs[nvr.id] = replace(fs[nvr.id], accounts=tuple(AccountFact(a.name, a.level) for a in accounts))
    plan = plan_site(site, fs, {}, ALL, {})
    assert [s.params["account"] for s in plan.steps if s.action == "account"] == ["operator", "zed", "admin"]


def test_account_create_delete_and_level() -> None:
    accounts = (
        Account("admin", "administrator", NEW),
        Account("ops", "operator", NEW),
        Account("guest", "viewer", None, False),
    )
    nvr = device("nvr", "recorder", accounts=accounts)
    site = site_of(nvr)
    fs, known = converged(site)
    fs[nvr.id] = replace(fs[nvr.id], accounts=(AccountFact("admin", "operator"), AccountFact("guest", "viewer")))
    plan = plan_site(site, fs, {}, ALL, known)
    keys = {(c.key, c.action) for c in plan.changes}
    assert keys == {
        ("accounts.admin.level", "update"),
        ("accounts.ops", "create"),
        ("accounts.ops.password", "create"),
        ("accounts.guest", "delete"),
    }
    assert not any(s.phase == "isolate" for s in plan.steps)  # new and deleted accounts make nothing stale


def test_capability_gap_is_reported_not_attempted() -> None:
    nvr = device("nvr", "recorder", lock_policy=LockPolicy(False, 5, 30))
    site = site_of(nvr)
    fs, known = converged(site)
    fs[nvr.id] = replace(fs[nvr.id], lock_policy=LockPolicyFact(True, 5, 1800, False))
    plan = plan_site(site, fs, {}, ALL, known)
    [change] = plan.changes
    assert change.action == "blocked" and "cannot disable" in change.reason
    assert plan.steps == () and plan.pending == ()


def test_firmware_without_a_lock_policy_blocks_that_change_with_what_the_device_said() -> None:
    nvr = device("nvr", "recorder", lock_policy=LockPolicy(True, 7, 30))
    site = site_of(nvr)
    fs, known = converged(site)
    said = "the firmware has no login-lock policy (getConfig General: HTTP 400)"
    fs[nvr.id] = replace(fs[nvr.id], lock_policy=None, gaps=(Gap("lock_policy", said),))
    plan = plan_site(site, fs, {}, ALL, known)
    [change] = plan.changes
    assert (change.action, change.key, change.reason) == ("blocked", "lock_policy", said)
    assert plan.steps == () and plan.error is None


def test_a_recorder_without_remote_devices_blocks_the_channel_that_must_follow_its_camera() -> None:
    nvr, cam = device("nvr", "recorder"), device("cam", accounts=(Account("admin", "administrator", CAM),))
    site = site_of(nvr, cam)
    fs, known = converged(site)
    said = "the recorder's firmware has no remote devices (getConfig RemoteDevice: HTTP 403)"
    fs[nvr.id] = replace(fs[nvr.id], channels=(), gaps=(Gap("channels", said),))
    assert plan_site(site, fs, {}, ALL, known).changes == ()  # nothing to follow: nothing reported
    known[(cam.id, "admin")] = OLD
    refused = plan_site(site, fs, {}, ALL, known)  # the recorder would keep the camera's old password
    assert refused.steps == () and refused.error is not None and "cannot store channel credentials" in refused.error
    site = site_of(nvr, replace(cam, isolation="none"))  # the operator updated the channel by hand
    plan = plan_site(site, fs, {}, ALL, known)
    [blocked] = [c for c in plan.changes if c.action == "blocked"]
    assert (blocked.device, blocked.key) == (nvr.id, "channels.1") and said in blocked.reason
    assert "update it by hand" in blocked.reason
    assert ("cameras", "account", "cam") in actions(plan) and ("channels", "channel", "nvr") not in actions(plan)


def test_a_device_without_an_ip_filter_cannot_be_isolated_and_the_plan_says_so() -> None:
    nvr = device("nvr", "recorder")
    desk = Client("s", "desk", "manual", (Hold("nvr", "admin"),), ManualSettings("SmartPSS"), "10.0.0.55")
    site = site_of(nvr, clients=(desk,))
    fs, known = converged(site)
    known[(nvr.id, "admin")] = OLD
    said = "the firmware has no IP filter (getConfig IPFilter: Error: Error -1 getting param in name=IPFilter)"
    fs[nvr.id] = replace(fs[nvr.id], ip_filter=None, gaps=(Gap("ip_filter", said),))
    refused = plan_site(site, fs, {}, ALL, known)  # the desk could not be kept out: nothing is changed
    assert refused.steps == () and refused.error is not None and "nvr cannot be isolated" in refused.error
    assert said in refused.error and "isolation: none" in refused.error
    site = site_of(replace(nvr, isolation="none"), clients=(desk,))  # the operator accepts the risk
    plan = plan_site(site, fs, {}, ALL, known)
    assert actions(plan) == [
        ("recorder", "account", "nvr"),
        ("clients", "checklist", "desk"),
        ("verify", "verify", "s"),
    ]
    assert any("isolation is none" in w for w in plan.warnings)


def test_locked_device_waits_or_reboots_as_the_playbook_allows() -> None:
    for unlock, action in (("wait", "wait_unlock"), ("reboot", "reboot_unlock")):
        nvr = device("nvr", "recorder", unlock=unlock, lock_policy=LockPolicy(True, 6, 30))
        site = site_of(nvr)
        fs, known = converged(site)
        fs[nvr.id] = replace(fs[nvr.id], lock=LockState(True, 120.0, 0))
        plan = plan_site(site, fs, {}, ALL, known)
        assert actions(plan)[0] == ("wait", action, "nvr")


def test_unreachable_device_fails_its_site_only() -> None:
    site = site_of(device("nvr", "recorder"))
    plan = plan_site(site, {}, {"s/nvr": "connection refused"}, ALL, {})
    assert plan.error == "facts failed: nvr: connection refused" and plan.steps == ()


def test_no_working_credential_fails_the_site_when_it_has_changes() -> None:
    nvr = device("nvr", "recorder", lock_policy=LockPolicy(True, 7, 30))
    site = site_of(nvr)
    fs, known = converged(site)
    fs[nvr.id] = replace(fs[nvr.id], login=None)
    plan = plan_site(site, fs, {}, ALL, known)
    assert plan.error is not None and "no working credential for nvr" in plan.error


def test_isolation_none_warns_and_client_isolation_uses_the_client() -> None:
    nvr = device("nvr", "recorder", isolation="none")
    vms = Client("s", "vms", "milestone", (Hold("nvr", "admin"),), MilestoneSettings("https://vms"))
    site = site_of(nvr, clients=(vms,))
    fs, known = converged(site)
    known[(nvr.id, "admin")] = OLD
    plan = plan_site(site, fs, {}, ALL, known)
    assert plan.warnings and "may lock" in plan.warnings[0]
    nvr = replace(nvr, isolation="client")
    site = site_of(nvr, clients=(vms,))
    plan = plan_site(site, fs, {}, ALL, known)
    assert actions(plan) == [
        ("isolate", "isolate_client", "vms"),
        ("isolate", "settle", "vms"),  # its logins under way end before nvr's password changes
        ("recorder", "account", "nvr"),
        ("clients", "update_client", "vms"),
        ("release", "release_client", "vms"),
        ("verify", "verify", "s"),
    ]


def test_an_api_client_kept_out_by_filter_settles_after_its_update_before_the_release() -> None:
    nvr = device("nvr", "recorder")
    vms = Client("s", "vms", "milestone", (Hold("nvr", "admin"),), MilestoneSettings("https://vms"))
    site = site_of(nvr, clients=(vms,))
    fs, known = converged(site)
    known[(nvr.id, "admin")] = OLD
    plan = plan_site(site, fs, {}, ALL, known, settle=4)
    assert actions(plan) == [
        ("isolate", "isolate_ip_filter", "nvr"),
        ("recorder", "account", "nvr"),
        ("clients", "update_client", "vms"),
        ("clients", "settle", "vms"),  # a login it began with the old password ends before nvr lets it in
        ("release", "release_ip_filter", "nvr"),
        ("verify", "verify", "s"),
    ]
    assert plan.steps[3].params == {"seconds": 4}


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[Site, dict[str, DeviceFacts], Known]:
    cams = draw(st.integers(0, 4))
    devices = [device("nvr", "recorder", isolation=draw(st.sampled_from(["ip_filter", "client", "none"])))]
    for i in range(cams):
        devices.append(
            device(
                f"cam{i}",
                channel=i + 1,
                address=f"10.0.1.{i}",
                isolation=draw(st.sampled_from(["ip_filter", "client"])),
            )
        )
    clients = []
    for i in range(draw(st.integers(0, 3))):
        holds = tuple(Hold(d.name, "admin") for d in devices if draw(st.booleans())) or (Hold("nvr", "admin"),)
        kind = draw(st.sampled_from(["manual", "milestone", "ssh"]))
        settings = {"manual": ManualSettings("x"), "milestone": MilestoneSettings("https://vms"), "ssh": SSH}
        clients.append(Client("s", f"client{i}", kind, holds, settings[kind], f"10.0.2.{i}"))
    site = site_of(*devices, clients=tuple(clients))
    fs, known = converged(site)
    for d in devices:
        if draw(st.booleans()):
            known[(d.id, "admin")] = OLD
        if draw(st.booleans()):
            fs[d.id] = replace(fs[d.id], lock=LockState(True, 30.0))
        if draw(st.booleans()):
            fs[d.id] = replace(fs[d.id], firmware_version="V0")
    return site, fs, known


@settings(max_examples=150, deadline=None)
@given(scenarios())
def test_plans_are_lock_safe_by_construction(case: tuple[Site, dict[str, DeviceFacts], Known]) -> None:
    site, fs, known = case
    plan = plan_site(site, fs, {}, ALL, known)
    order = [PHASES.index(s.phase) for s in plan.steps]
    assert order == sorted(order), "phases out of order"
    isolated = {s.target for s in plan.steps if s.action.startswith("isolate")}
    released = {s.target for s in plan.steps if s.action.startswith("release")}
    assert isolated == released, "every isolation is released"
    stale_devices = {c.device for c in plan.pending if c.key == "accounts.admin.password"}
    for d in site.devices:
        holders = [c for c in site.clients if any(h.device == d.name for h in c.holds)]
        if d.id in stale_devices and d.isolation == "ip_filter" and holders:
            assert d.id in isolated
    for s in plan.steps:
        if s.phase in ("recorder", "cameras", "channels"):
            assert fs[s.target].lock.locked is False or any(
                w.target == s.target and w.phase == "wait" for w in plan.steps
            ), "a locked device is waited for before it is written"
    text = Plan("p", "play", (), (plan,), {k: v.fingerprint() for k, v in fs.items()}).to_json()
    for secret in (OLD, NEW, CAM):
        assert secret.reveal() not in text
    assert Plan.from_json(text).sites[0] == plan


def test_a_change_whose_holder_cannot_be_handled_is_blocked_before_any_device() -> None:
    """No driver for the client's kind, an unreachable client, or a manual client with no address to keep it
    out by: the site fails at plan time, with no step at all, so no device is changed."""
    nvr = device("nvr", "recorder")
    vms = Client("s", "vms", "milestone", (Hold("nvr", "admin"),), MilestoneSettings("https://vms"), "10.0.0.66")
    desk = Client("s", "desk", "manual", (Hold("nvr", "admin"),), ManualSettings("iVMS"), None)
    for clients, options, words in (
        ((vms,), {"kinds": {"manual": False}}, "no driver handles milestone clients"),
        ((vms,), {"client_failures": {"s/vms": "HTTP 401 from the token endpoint"}}, "cannot be updated: HTTP 401"),
        ((desk,), {}, "no API and no address to keep it out by"),
    ):
        site = site_of(nvr, clients=clients)
        fs, known = converged(site)
        known[(nvr.id, "admin")] = OLD
        plan = plan_site(site, fs, {}, ALL, known, **options)  # type: ignore[arg-type]
        assert plan.steps == () and plan.error is not None and words in plan.error, plan.error
    site = site_of(replace(nvr, isolation="none"), clients=(desk,))  # the operator accepts the risk
    fs, known = converged(site)
    known[(nvr.id, "admin")] = OLD
    assert plan_site(site, fs, {}, ALL, known).error is None


def test_a_client_an_interrupted_run_owes_an_update_is_updated_before_it_is_released() -> None:
    """The run that isolated the VMS changed the recorder and died before the clients phase; the store recorded,
    before the change, that the VMS is owed the recorder's password. The rerun sees no password to change, yet
    gives the VMS the declared one before putting it back; a client isolated with no update owed is just
    released (its run died before any password changed)."""
    nvr = device("nvr", "recorder")
    vms = Client("s", "vms", "milestone", (Hold("nvr", "admin"),), MilestoneSettings("https://vms"), "10.0.0.66")
    site = site_of(nvr, clients=(vms,))
    fs, known = converged(site)
    owed = {vms.id: {("nvr", "admin")}}
    plan = plan_site(site, fs, {}, ALL, known, recorded=frozenset({vms.id}), owed=owed)
    assert actions(plan) == [
        ("clients", "update_client", "vms"),
        ("release", "release_client", "vms"),
        ("verify", "verify", "s"),
    ]
    assert [(c.device, c.kind) for c in plan.pending] == [(vms.id, "isolation"), (vms.id, "client")]
    assert "interrupted before updating it" in plan.steps[0].reason
    just_released = plan_site(site, fs, {}, ALL, known, recorded=frozenset({vms.id}))
    assert actions(just_released) == [("release", "release_client", "vms"), ("verify", "verify", "s")]
    failed = plan_site(
        site, fs, {}, ALL, known, recorded=frozenset({vms.id}), owed=owed, client_failures={vms.id: "HTTP 503"}
    )
    assert failed.steps == () and failed.error is not None and "may hold an old password of nvr" in failed.error


def test_a_device_left_isolated_is_released_only_after_the_clients_owed_its_password_are_updated() -> None:
    """A killed run isolated the recorder by IP filter, changed its password and died: the rerun sees no password
    change, but the VMS and the Frigate host still hold the old one. Both are updated before the filter opens;
    the manual viewer is not (it is kept out by address)."""
    nvr = device("nvr", "recorder")
    vms = Client("s", "vms", "milestone", (Hold("nvr", "admin"),), MilestoneSettings("https://vms"))
    frigate = Client("s", "frigate", "ssh", (Hold("nvr", "admin"),), SSH, "10.0.0.40")
    desk = Client("s", "desk", "manual", (Hold("nvr", "admin"),), ManualSettings("iVMS"), "10.0.0.55")
    site = site_of(nvr, clients=(vms, frigate, desk))
    fs, known = converged(site)
    owed = {vms.id: {("nvr", "admin")}, frigate.id: {("nvr", "admin")}}
    plan = plan_site(site, fs, {}, ALL, known, recorded=frozenset({nvr.id}), owed=owed)
    assert actions(plan) == [
        ("clients", "update_client", "vms"),
        ("clients", "update_client", "frigate"),
        ("release", "release_ip_filter", "nvr"),
        ("verify", "verify", "s"),
    ]
    update = next(s for s in plan.steps if s.action == "update_client")
    assert update.kind == UpdateClient((HoldRef("nvr", "admin"),))


def test_an_owed_update_with_nothing_isolated_and_nothing_to_change_is_still_planned() -> None:
    """``isolation: none``: the killed run isolated nothing, so only the store's record says the clients hold old
    passwords. The plan is not "no changes": it updates them. A record for a client no driver updates now is a
    warning, not a step; one for a client of another site is not this site's."""
    nvr = device("nvr", "recorder", isolation="none")
    cam = device("cam", isolation="none")
    frigate = Client("s", "frigate", "ssh", (Hold("cam", "admin"),), SSH, "10.0.0.40")
    desk = Client("s", "desk", "manual", (Hold("nvr", "admin"),), ManualSettings("iVMS"), "10.0.0.55")
    site = site_of(nvr, cam, clients=(frigate, desk))
    fs, known = converged(site)
    owed = {frigate.id: {("cam", "admin")}, desk.id: {("nvr", "admin")}, "other/vms": {("nvr", "admin")}}
    plan = plan_site(site, fs, {}, ALL, known, owed=owed)
    assert actions(plan) == [("clients", "update_client", "frigate"), ("verify", "verify", "s")]
    assert plan.pending and {c.device for c in plan.pending} == {frigate.id}
    assert any("desk was owed the new passwords of nvr" in w for w in plan.warnings), plan.warnings
