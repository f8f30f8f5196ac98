"""Planning against what real recorders store and real firmware lacks: the channel port its protocol uses,
and resources the device answered "not supported" (a capability gap the plan reports, never attempts)."""

from __future__ import annotations

from dataclasses import replace

from enforcer.facts import ChannelFact, Gap
from enforcer.model import Account, Client, Hold, ManualSettings
from enforcer.plan.planner import plan_site
from enforcer.plan.steps import ChannelKind

from .test_planner import ALL, CAM, OLD, actions, converged, device, site_of


def sdk_site(channel: ChannelFact) -> tuple[object, dict[str, object], dict[tuple[str, str], object]]:
    nvr, cam = device("nvr", "recorder"), device("cam", accounts=(Account("admin", "administrator", CAM),))
    site = site_of(nvr, cam)
    fs, known = converged(site)
    fs[nvr.id] = replace(fs[nvr.id], channels=(channel,))
    return site, fs, known


def test_a_hikvision_channel_on_the_cameras_sdk_port_is_converged() -> None:
    cam = device("cam")
    assert (cam.port, cam.sdk_port) == (80, 8000)
    channel = ChannelFact(1, cam.address, 8000, "admin", True, "connect", "HIKVISION", "sdk")
    site, fs, known = sdk_site(channel)
    plan = plan_site(site, fs, {}, ALL, known)  # type: ignore[arg-type]
    assert plan.changes == () and plan.steps == ()


def test_a_hikvision_channel_on_the_http_port_is_repaired_to_the_sdk_port() -> None:
    cam = device("cam")
    channel = ChannelFact(1, cam.address, 80, "admin", False, "unknown", "HIKVISION", "sdk")
    site, fs, known = sdk_site(channel)
    plan = plan_site(site, fs, {}, ALL, known)  # type: ignore[arg-type]
    [change] = plan.changes
    assert change.kind == "channel" and "HIKVISION reaches the camera on port 8000" in change.reason
    [step] = [s for s in plan.steps if isinstance(s.kind, ChannelKind)]
    assert isinstance(step.kind, ChannelKind) and step.kind.port == 8000


def test_an_onvif_channel_uses_the_http_port() -> None:
    cam = device("cam")
    on_http = ChannelFact(1, cam.address, 80, "admin", True, "connect", "ONVIF", "http")
    site, fs, known = sdk_site(on_http)
    assert plan_site(site, fs, {}, ALL, known).changes == ()  # type: ignore[arg-type]
    site, fs, known = sdk_site(replace(on_http, port=8000))
    plan = plan_site(site, fs, {}, ALL, known)  # type: ignore[arg-type]
    [step] = [s for s in plan.steps if isinstance(s.kind, ChannelKind)]
    assert isinstance(step.kind, ChannelKind) and step.kind.port == 80


NO_FILTER = "the firmware does not support an IP filter (/ISAPI/System/Network/ipFilter: notSupport)"


def test_a_lock_policy_the_firmware_lacks_is_blocked_with_the_reason() -> None:
    nvr = device("nvr", "recorder")
    site = site_of(nvr)
    fs, known = converged(site)
    said = "the firmware does not support the illegal-login lock (/ISAPI/Security/illegalLoginLock: notSupport)"
    fs[nvr.id] = replace(fs[nvr.id], lock_policy=None, gaps=(Gap("lock_policy", said),))
    plan = plan_site(site, fs, {}, ALL, known)
    [change] = plan.changes
    assert change.action == "blocked" and "notSupport" in change.reason and plan.steps == ()


def test_a_password_change_needing_an_ip_filter_the_firmware_lacks_is_blocked() -> None:
    nvr = device("nvr", "recorder")
    desk = Client("s", "desk", "manual", (Hold("nvr", "admin"),), ManualSettings("iVMS-4200"), "10.0.0.55")
    site = site_of(nvr, clients=(desk,))
    fs, known = converged(site)
    fs[nvr.id] = replace(fs[nvr.id], ip_filter=None, gaps=(Gap("ip_filter", NO_FILTER),))
    known[(nvr.id, "admin")] = OLD
    plan = plan_site(site, fs, {}, ALL, known)  # nothing is changed: the desk could not be kept out
    assert plan.steps == () and plan.error is not None
    assert "nvr cannot be isolated" in plan.error and "s/desk would hold a stale password" in plan.error
    assert NO_FILTER in plan.error and "isolation: none" in plan.error
    # the operator accepts the risk for this device: the change goes ahead, unisolated, with a warning
    site = site_of(replace(nvr, isolation="none"), clients=(desk,))
    plan = plan_site(site, fs, {}, ALL, known)
    assert [a for _, a, _ in actions(plan)] == ["account", "checklist", "verify"] and plan.warnings


def test_a_camera_without_an_ip_filter_keeps_its_password_and_its_channel() -> None:
    nvr, cam = device("nvr", "recorder"), device("cam", accounts=(Account("admin", "administrator", CAM),))
    site = site_of(nvr, cam)
    fs, known = converged(site)
    fs[cam.id] = replace(fs[cam.id], ip_filter=None, gaps=(Gap("ip_filter", NO_FILTER),))
    known[(cam.id, "admin")] = OLD
    plan = plan_site(site, fs, {}, ALL, known)  # neither the camera's password nor its channel is touched
    assert plan.steps == () and plan.error is not None
    assert "cam cannot be isolated" in plan.error and "s/nvr would hold a stale password" in plan.error
