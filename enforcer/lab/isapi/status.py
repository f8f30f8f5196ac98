"""What clients read first and poll: ``System/status``, ``System/time``, ``Security/adminAccesses``.

hikvisionapi opens every session with ``GET /ISAPI/System/status``; monitoring tools poll it and read
``deviceUpTime`` to spot a reboot. ``System/time`` gives the wall clock and zone a log search needs
(protocol "Security log"); the lab's clock is UTC. ``adminAccesses`` lists the ports the device serves
(protocol §3.9), among them ``DEV_MANAGE``, the SDK port a recorder's ``HIKVISION`` channel points at.
Structures as the public samples give them (S1 fixtures; ``DeviceStatus`` per the ISAPI manuals and public
client code, the CPU and memory figures made up).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from enforcer.lab.isapi.xml import Raw, tags
from enforcer.lab.net.httpserver import Request, Response

if TYPE_CHECKING:
    from enforcer.lab.isapi.device import HikDevice, Session

__all__ = ["register"]


def _now(dev: HikDevice) -> str:
    return datetime.fromtimestamp(dev.host.clock.wall(), UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def device_status(dev: HikDevice, req: Request, s: Session) -> Response:
    nvr = dev.family == "nvr"
    up = max(0, int(dev.host.clock.now() - dev.up_since))
    cpu = tags([("cpuDescription", "ARM" if not nvr else "HISI"), ("cpuUtilization", 12 if nvr else 7)])
    memory = tags(
        [
            ("memoryDescription", "DDR Memory"),
            ("memoryUsage", "612.50" if nvr else "117.34"),
            ("memoryAvailable", "411.50" if nvr else "72.65"),
        ]
    )
    body = tags(
        [
            ("currentDeviceTime", _now(dev)),
            ("deviceUpTime", up),
            ("CPUList", Raw(f"<CPU>{cpu}</CPU>")),
            ("MemoryList", Raw(f"<Memory>{memory}</Memory>")),
            ("totalRebootCount", None if nvr else dev.reboots),
        ]
    )
    return dev.xml("DeviceStatus", body)


def device_time(dev: HikDevice, req: Request, s: Session) -> Response:
    body = tags([("timeMode", "NTP"), ("localTime", _now(dev)), ("timeZone", "CST+0:00:00")])
    return dev.xml("Time", body)


def admin_accesses(dev: HikDevice, req: Request, s: Session) -> Response:
    spec = dev.spec
    https = spec.scheme == "https"
    protocols = [
        ("HTTP", not https, spec.port if not https else 80, ""),
        ("HTTPS", https, spec.port if https else 443, tags([("TLS1_1Enable", False), ("TLS1_2Enable", True)])),
        ("DEV_MANAGE", True, spec.sdk_port, ""),
        ("RTSP", True, 554, ""),
        ("SDK_OVER_TLS", True, 8443, ""),
    ]
    items = "".join(
        dev.item(
            "AdminAccessProtocol",
            tags([("id", i), ("enabled", on), ("protocol", name), ("portNo", port)]) + extra,
        )
        for i, (name, on, port, extra) in enumerate(protocols, start=1)
    )
    return dev.xml("AdminAccessProtocolList", items)


def register(route: Callable[..., None]) -> None:
    route(r"/ISAPI/System/status", GET=device_status)
    route(r"/ISAPI/System/time", GET=device_time)
    route(r"/ISAPI/Security/adminAccesses", GET=admin_accesses)
