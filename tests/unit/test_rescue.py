"""After a failed step: which isolations are released and which are kept (pure, on real plans)."""

from __future__ import annotations

from hypothesis import event, given, settings
from hypothesis import strategies as st

from enforcer.model import Client, Hold, ManualSettings, MilestoneSettings
from enforcer.plan.artifact import SitePlan
from enforcer.plan.planner import plan_site
from enforcer.plan.rescue import rescue
from enforcer.plan.steps import AccountKind, ChannelKind, Checklist, IsolateFilter, Settle, UpdateClient
from tests.unit.test_planner import ALL, OLD, converged, device, scenarios, site_of


def ran(plan: SitePlan, upto: str, failed: str) -> dict[str, str]:
    """Every step before the one with id ``upto`` succeeded; that one failed."""
    out: dict[str, str] = {}
    for step in plan.steps:
        if step.id == upto:
            out[step.id] = failed
            return out
        out[step.id] = "succeeded"
    raise AssertionError(f"no step {upto}")


def camera_password_change() -> SitePlan:
    nvr, cam = device("nvr", "recorder"), device("cam")
    site = site_of(nvr, cam)
    fs, known = converged(site)
    known[(cam.id, "admin")] = OLD
    return plan_site(site, fs, {}, ALL, known)


def test_nothing_changed_yet_everything_is_released() -> None:
    plan = camera_password_change()
    isolated = {s.id: "succeeded" for s in plan.steps if s.phase == "isolate"}
    found = rescue(plan, isolated | {"s/cam:wait_unlock": "failed"})
    assert [s.target for s in found.steps] == ["s/cam"] and found.kept == ()


def test_a_camera_whose_password_changed_stays_isolated_until_its_channel_is_rewritten() -> None:
    plan = camera_password_change()
    channel = next(s for s in plan.steps if isinstance(s.kind, ChannelKind))
    found = rescue(plan, ran(plan, channel.id, "failed"))
    assert found.steps == ()
    assert found.kept == (("s/cam", "its password changed and nvr still hold the old one"),)
    released = rescue(plan, ran(plan, channel.id, "succeeded") | {"later": "failed"})
    # the recorder's settle had not run: its old logins end before the camera lets it in
    assert [(s.action, s.target) for s in released.steps] == [("settle", "s/nvr"), ("release_ip_filter", "s/cam")]
    settle = next(s for s in plan.steps if isinstance(s.kind, Settle))
    settled = rescue(plan, ran(plan, settle.id, "succeeded") | {"later": "failed"})
    assert [(s.action, s.target) for s in settled.steps] == [("release_ip_filter", "s/cam")]


def test_a_failed_account_step_may_have_changed_the_password() -> None:
    plan = camera_password_change()
    account = next(s for s in plan.steps if isinstance(s.kind, AccountKind))
    assert rescue(plan, ran(plan, account.id, "failed")).kept != ()


def test_an_isolation_that_never_happened_is_not_released() -> None:
    plan = camera_password_change()
    assert rescue(plan, {}) == rescue(SitePlan("s"), {})


def test_holders_kept_out_by_address_are_safe_those_with_an_api_must_be_updated() -> None:
    nvr = device("nvr", "recorder")
    desk = Client("s", "desk", "manual", (Hold("nvr", "admin"),), ManualSettings("iVMS"), "10.0.0.55")
    vms = Client("s", "vms", "milestone", (Hold("nvr", "admin"),), MilestoneSettings("https://vms"), "10.0.0.66")
    for clients, kept in (((desk,), False), ((desk, vms), True)):
        site = site_of(nvr, clients=clients)
        fs, known = converged(site)
        known[(nvr.id, "admin")] = OLD
        plan = plan_site(site, fs, {}, ALL, known)
        account = next(s for s in plan.steps if isinstance(s.kind, AccountKind))
        found = rescue(plan, ran(plan, account.id, "succeeded") | {"after": "failed"})
        assert bool(found.kept) is kept, found
        if kept:
            assert "vms still hold" in found.kept[0][1].replace("s/", "")
            update = next(s for s in plan.steps if isinstance(s.kind, UpdateClient))
            assert rescue(plan, ran(plan, update.id, "succeeded") | {"later": "failed"}).kept == ()


@settings(max_examples=200, deadline=None)
@given(scenario=scenarios(), cut=st.integers(0, 40), failed=st.sampled_from(["failed", "succeeded"]))
def test_no_release_lets_a_stale_holder_back_in(scenario: tuple, cut: int, failed: str) -> None:  # type: ignore[type-arg]
    """Whatever step fails, a released device either kept its password, or every holder of the old one
    was updated (the recorder's channel for it rewritten, the client updated) or is kept out by address."""
    site, fs, known = scenario
    plan = plan_site(site, fs, {}, ALL, known)
    if not plan.steps:
        return
    stop = plan.steps[min(cut, len(plan.steps) - 1)]
    outcomes = ran(plan, stop.id, failed)
    done = {i for i, s in outcomes.items() if s == "succeeded"}
    steps = rescue(plan, outcomes).steps
    settles = [s for s in steps if isinstance(s.kind, Settle)]
    event("a recorder settles before a release" if settles else "no settle")
    assert steps[: len(settles)] == tuple(settles)  # a recorder lets its old logins end before any release
    for release in steps[len(settles) :]:
        isolate = next((s for s in plan.steps if s.phase == "isolate" and s.target == release.target), None)
        for holder in isolate.kind.holders if isolate and isinstance(isolate.kind, IsolateFilter) else ():
            rewritten = any(
                isinstance(s.kind, ChannelKind) and s.target == holder and s.id in outcomes for s in plan.steps
            )
            settle = next((s for s in plan.steps if isinstance(s.kind, Settle) and s.target == holder), None)
            if rewritten and settle is not None and settle.id not in done:  # let in with logins on their way
                assert settle in settles, (holder, release.target)
    for release in steps[len(settles) :]:
        isolate = next((s for s in plan.steps if s.phase == "isolate" and s.target == release.target), None)
        if isolate is None or not isinstance(isolate.kind, IsolateFilter):
            continue
        target = release.target
        if not any(s.target == target and isinstance(s.kind, AccountKind) and s.id in outcomes for s in plan.steps):
            continue  # its password never changed
        for holder in isolate.kind.holders:
            channel = [s for s in plan.steps if isinstance(s.kind, ChannelKind) and s.kind.camera == target]
            update = [s for s in plan.steps if s.target == holder and isinstance(s.kind, UpdateClient)]
            manual = [s for s in plan.steps if s.target == holder and isinstance(s.kind, Checklist)]
            if holder in {d.id for d in site.recorders}:
                assert channel and all(s.id in done for s in channel), (holder, target)
            elif manual:
                assert any(s.kind.address in isolate.kind.keep_blocked for s in manual), (holder, target)  # type: ignore[attr-defined]
            else:
                assert update and all(s.id in done for s in update), (holder, target)


def rerun_owing_the_vms(isolation: str) -> tuple[SitePlan, SitePlan, str]:
    """A killed run changed the recorder's password and left it (``ip_filter``) or the VMS (``client``) isolated,
    the VMS owed the password: the rerun's plan, the plan had nothing been owed, and the isolated target."""
    nvr = device("nvr", "recorder", isolation=isolation)
    vms = Client("s", "vms", "milestone", (Hold("nvr", "admin"),), MilestoneSettings("https://vms"), "10.0.0.66")
    site = site_of(nvr, clients=(vms,))
    fs, known = converged(site)
    left = nvr.id if isolation == "ip_filter" else vms.id
    owed = {vms.id: {("nvr", "admin")}}
    plans = [plan_site(site, fs, {}, ALL, known, recorded=frozenset({left}), owed=o) for o in (owed, {})]
    return plans[0], plans[1], left


def test_a_device_left_isolated_stays_so_until_the_clients_owed_its_password_are_updated() -> None:
    """A failure before the VMS is updated must not open the recorder's filter to the VMS's old password."""
    plan, _, nvr = rerun_owing_the_vms("ip_filter")
    update = next(s for s in plan.steps if isinstance(s.kind, UpdateClient))
    found = rescue(plan, {update.id: "failed"})
    assert found.steps == () and found.kept == ((nvr, "vms was not updated with its password"),)
    assert [s.target for s in rescue(plan, {update.id: "succeeded", "x": "failed"}).steps] == [nvr]


def test_a_client_left_isolated_stays_off_until_its_owed_update_succeeds() -> None:
    """An update that fails leaves the VMS off its devices (back on, it would retry the old password); one that
    succeeded lets it back; with nothing owed, the killed run changed nothing it holds, and it goes back."""
    plan, nothing_owed, vms = rerun_owing_the_vms("client")
    update = next(s for s in plan.steps if isinstance(s.kind, UpdateClient))
    found = rescue(plan, {update.id: "failed"})
    assert found.steps == ()
    assert found.kept == ((vms, "it may hold a password an earlier run changed, and was not updated"),)
    assert [s.target for s in rescue(plan, {update.id: "succeeded", "x": "failed"}).steps] == [vms]
    assert [s.target for s in rescue(nothing_owed, {"x": "failed"}).steps] == [vms]
