"""The ISAPI driver against firmware that lacks resources, and against what recorders really store.

A recorder without the lock-policy resource, the IP filter or channel status is read whole, its gaps
recorded in ``facts.gaps``; the plan reports what it cannot change. A channel speaking HIKVISION
is compared with the camera's SDK port, and a repair writes that port.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from enforcer.credentials.secret import Secret
from enforcer.errors import DeviceError
from enforcer.lab.spec import LabChannel, LabProfile, LabSpec
from enforcer.model import Site
from enforcer.plan.planner import plan_site
from enforcer.plan.steps import ChannelKind
from tests.lab.conftest import wait_for

from .conftest import Bench, device_for, lab_camera, lab_recorder

pytestmark = pytest.mark.lab

NVR, CAM = "Nvr-Pass!123", "Cam-Pass!456"
ALL = frozenset({"credentials", "lock_policy", "firmware"})


def test_a_recorder_lacking_resources_is_read_whole(bench: Callable[[LabSpec], Bench]) -> None:
    cam = lab_camera("cam1", "127.0.170.2", CAM)
    lacking = ("lock_policy", "ip_filter", "channel_status")
    nvr = lab_recorder(
        "nvr",
        "127.0.170.1",
        NVR,
        [LabChannel(1, "cam1", cam.address, 8000, "admin", CAM)],
        profile=LabProfile(namespace="hikvision", xml_version="1.0", lacks=lacking),
    )
    lab = bench(LabSpec([nvr, cam]))
    wait_for(lambda: lab.fleet.device("nvr")["channels"][0]["status"] == "connect", timeout=10)
    want = device_for(nvr, NVR)
    with lab.driver(want) as drv:
        facts = drv.facts()
        assert tuple(g.capability for g in facts.gaps) == lacking and all("notSupport" in g.detail for g in facts.gaps)
        assert facts.lock_policy is None and facts.ip_filter is None and "ip_filter" not in facts.capabilities
        [channel] = facts.channels
        assert (channel.protocol, channel.port_kind, channel.port, channel.detect) == (
            "HIKVISION",
            "sdk",
            8000,
            "unknown",
        )
        assert (channel.model, channel.firmware) == ("DS-2CD2146G2-ISU", "V5.7.17 build 240606")
        with pytest.raises(DeviceError, match="does not support the illegal-login lock"):
            drv.read_lock_policy()
        with pytest.raises(DeviceError, match="no IP filter"):
            drv.read_ip_filter()
    camera = device_for(cam, CAM, recorder="nvr", channel=1)
    site = Site(nvr.site, (), (want, camera), ())
    with lab.driver(camera) as drv:
        cam_facts = drv.facts()
    known = {(camera.id, "admin"): Secret(CAM, "t"), (want.id, "admin"): Secret(NVR, "t")}
    plan = plan_site(site, {want.id: facts, camera.id: cam_facts}, {}, ALL, known)
    [blocked] = [c for c in plan.changes if c.device == want.id]
    assert blocked.action == "blocked" and "notSupport" in blocked.reason
    assert plan.error is None and not [s for s in plan.steps if s.target == want.id]


def test_a_hikvision_channel_on_the_http_port_is_repaired_to_the_sdk_port(bench: Callable[[LabSpec], Bench]) -> None:
    """The channel an installer typed with the camera's web port: offline on a real recorder, and in the lab."""
    cam = lab_camera("cam1", "127.0.171.2", CAM)
    nvr = lab_recorder("nvr", "127.0.171.1", NVR, [LabChannel(1, "cam1", cam.address, cam.port, "admin", CAM)])
    lab = bench(LabSpec([nvr, cam]))
    wait_for(lambda: lab.fleet.device("nvr")["channels"][0]["status"] == "netUnreachable", timeout=10)
    recorder, camera = device_for(nvr, NVR), device_for(cam, CAM, recorder="nvr", channel=1)
    assert (camera.port, camera.sdk_port) == (8080, 8000)
    site = Site(nvr.site, (), (recorder, camera), ())
    with lab.driver(recorder) as drv, lab.driver(camera) as cam_drv:
        found = {recorder.id: drv.facts(), camera.id: cam_drv.facts()}
        known = {(camera.id, "admin"): Secret(CAM, "t"), (recorder.id, "admin"): Secret(NVR, "t")}
        plan = plan_site(site, found, {}, ALL, known)
        [step] = [s for s in plan.steps if isinstance(s.kind, ChannelKind)]
        assert isinstance(step.kind, ChannelKind) and step.kind.port == 8000
        assert "HIKVISION reaches the camera on port 8000" in step.reason
        kind = step.kind
        drv.ensure_channel(
            kind.channel, address=kind.address, port=kind.port, user=kind.user, password=Secret(CAM, "t")
        )
        wait_for(lambda: lab.fleet.device("nvr")["channels"][0]["status"] == "connect", timeout=10)
        found[recorder.id] = drv.facts()
    assert plan_site(site, found, {}, ALL, known).changes == ()
