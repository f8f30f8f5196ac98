"""The ISAPI driver's parsers on real device replies (``tests/fixtures/isapi/``, sources in its README)."""

from __future__ import annotations

from pathlib import Path

import pytest

from enforcer.drivers.isapi import _parse
from enforcer.drivers.isapi._xml import parse, response_status
from enforcer.facts import DeviceFacts, LoginFact
from enforcer.model import TLS, Account, Device, LockPolicy, Site
from enforcer.plan.diff import diff_channels

FIXTURES = Path(__file__).parent.parent / "fixtures" / "isapi"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@pytest.mark.parametrize(
    ("name", "model", "version", "build", "kind"),
    [
        ("nvr_DS-7608NXI-I2_V4.62.210.deviceInfo.xml", "DS-7608NXI-I2/8P/S", "V4.62.210", "230619", "NVR"),
        ("nvr_DS-7616NI-K2.deviceInfo.xml", "DS-7616NI-K2", "V4.74.210", "240108", "NVR"),
        ("ipc_DS-2CD2386G2-IU_V5.7.18.deviceInfo.xml", "DS-2CD2386G2-IU", "V5.7.18", "240826", "IPCamera"),
        ("ipc_DS-2TD1228-2-QA_V5.5.98.deviceInfo.xml", "DS-2TD1228-2-QA", "V5.5.98", "240726", "IPCamera"),
    ],
)
def test_device_info(name: str, model: str, version: str, build: str, kind: str) -> None:
    info = _parse.device_info(fixture(name))
    assert (info.model, info.firmware_version, info.firmware_build, info.device_type) == (model, version, build, kind)
    assert info.serial


def test_recorder_channels_point_at_the_sdk_port_and_carry_the_camera() -> None:
    channels = _parse.channels(fixture("nvr_DS-7608NXI-I2_V4.62.210.InputProxy.channels.xml"))
    assert [c.id for c in channels] == [1, 2, 3, 4]
    first = channels[0]
    assert (first.name, first.address, first.port, first.user) == ("garden", "1.0.0.236", 8000, "admin")
    assert (first.protocol, first.port_kind) == ("HIKVISION", "sdk")
    assert (first.model, first.firmware) == ("DS-2CD2386G2-IU", "V5.7.15 build 240201")
    assert first.serial.startswith("DS-2CD2386G2-IU")


def test_older_recorder_channels_in_the_hikvision_namespace() -> None:
    channels = _parse.channels(fixture("nvr_DS-7616NI-K2.InputProxy.channels.xml"))
    assert len(channels) == 6 and all(c.port == 8000 and c.port_kind == "sdk" for c in channels)
    assert channels[1].model == "HWI-T220H" and channels[1].firmware == "V5.5.82 build 181022"


def test_a_real_recorders_channels_are_converged_against_an_inventory_with_web_ports() -> None:
    """The bug the issue names: compared with the camera's HTTP port, every channel of a real recorder
    looked "pointed elsewhere". Compared with the SDK port its protocol uses, none does."""
    configured = _parse.channels(fixture("nvr_DS-7608NXI-I2_V4.62.210.InputProxy.channels.xml"))
    status = {c.id: (True, "connect") for c in configured}
    facts = DeviceFacts("s/nvr", "DS-7608NXI-I2", "x", "V4.62.210", channels=_parse.channel_facts(configured, status))  # type: ignore[arg-type]

    def device(name: str, role: str, address: str, **kw: object) -> Device:
        return Device(
            "s",
            name,
            role,  # type: ignore[arg-type]
            "hikvision",
            "M",
            address,
            80,
            "http",
            TLS(),
            (Account("admin", "administrator", None),),
            LockPolicy(True, 5, 30),
            None,
            "ip_filter",
            "wait",
            **kw,  # type: ignore[arg-type]
        )

    cameras = [device(f"cam{c.id}", "camera", c.address, recorder="nvr", channel=c.id) for c in configured]
    site = Site("s", (), (device("nvr", "recorder", "1.0.0.1"), *cameras), ())
    camera_facts = {c.id: DeviceFacts(c.id, "M", "x", "V", login=LoginFact("admin", "current")) for c in cameras}
    assert diff_channels(site, {"s/nvr": facts, **camera_facts}, [], frozenset({"credentials"})) == []


@pytest.mark.parametrize(
    "name", ["ipc_DS-2CD2146G2-ISU_V5.7.17.capabilities.xml", "ipc_DS-2TD1228-2-QA_V5.5.98.capabilities.xml"]
)
def test_lock_capabilities_on_cameras_decide_the_unit(name: str) -> None:
    caps = _parse.lock_caps(fixture(name))
    assert (caps.supported, caps.attempts_range, caps.time_range) == (True, (3, 20), (1, 120))
    assert _parse.lock_unit(caps, "DS-2XX", "V9", 1800) == "minutes"  # the caps win over the value


def test_recorders_advertise_no_lock_capabilities() -> None:
    caps = _parse.lock_caps(fixture("nvr_DS-7608NXI-I2_V4.62.210.capabilities.xml"))
    assert caps == _parse.LockCaps()
    root = parse(fixture("nvr_DS-7608NXI-I2_V4.62.210.capabilities.xml"))
    assert root.find("SysCap/NetworkCap") is not None


def test_response_status_of_real_refusals() -> None:
    ipc = response_status(parse(fixture("ipc.ResponseStatus.badXmlContent.xml")))
    nvr = response_status(parse(fixture("nvr.ResponseStatus.deviceError.xml")))
    assert ipc is not None and (ipc.code, ipc.sub, ipc.ok) == (6, "badXmlContent", False)
    assert nvr is not None and nvr.describe() == "3 Device Error / deviceError"


def test_admin_accesses_name_the_sdk_port() -> None:
    root = parse(fixture("ipc_DS-2CD2146G2-ISU_V5.7.17.adminAccesses.xml"))
    ports = {p.findtext("protocol"): p.findtext("portNo") for p in root.iter("AdminAccessProtocol")}
    assert ports["DEV_MANAGE"] == "8000" and ports["HTTP"] == "80"
