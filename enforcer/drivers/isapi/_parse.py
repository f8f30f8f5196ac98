"""Pure parsers from ISAPI replies to facts (protocol §3.2–3.8); no I/O, tested on recorded samples.

Each takes the reply body and returns a fact part; a reply of the wrong shape raises
:class:`~enforcer.drivers.isapi._xml.XmlError`, which the driver turns into a per-device error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, cast, get_args
from xml.etree.ElementTree import Element

from enforcer.drivers.isapi._xml import boolean, expect, integer, parse, text
from enforcer.errors import XmlError
from enforcer.facts import AccountFact, ChannelDetect, ChannelFact, IPFilterFact, LockPolicyFact, PortKind

Unit = Literal["minutes", "seconds"]
MINUTES_MAX = 120  # the largest minute range any firmware offers (caps min=1 max=120)

#: Firmware lines known to count ``maxIllegalLoginLockTime`` in minutes or seconds, for devices whose
#: capabilities say nothing: (model prefix, firmware prefix, unit). First match wins.
UNIT_TABLE: tuple[tuple[str, str, Unit], ...] = (
    ("DS-2CD", "V5.5", "minutes"),
    ("DS-2CD", "V5.6", "minutes"),
    ("DS-2CD", "V5.7", "minutes"),
    ("DS-2CD", "V5.8", "minutes"),
    ("DS-2TD", "V5.5", "minutes"),
)


@dataclass(frozen=True)
class DeviceInfo:
    model: str
    serial: str
    firmware_version: str
    firmware_build: str
    device_type: str


def device_info(body: bytes) -> DeviceInfo:
    root = expect(parse(body), "DeviceInfo")
    model, version = text(root, "model"), text(root, "firmwareVersion")
    if not model or not version:
        raise XmlError("deviceInfo lacks model or firmwareVersion")
    build = text(root, "firmwareReleasedDate") or ""
    return DeviceInfo(
        model=model,
        serial=text(root, "serialNumber") or "",
        firmware_version=version,
        firmware_build=build.removeprefix("build ").strip(),
        device_type=text(root, "deviceType") or "",
    )


_LEVELS = {"administrator": "administrator", "admin": "administrator", "operator": "operator", "viewer": "viewer"}


def users(body: bytes) -> tuple[AccountFact, ...]:
    root = expect(parse(body), "UserList")
    out = []
    for user in root.iter("User"):
        name = text(user, "userName")
        if not name:
            continue
        level = _LEVELS.get((text(user, "userLevel") or "").lower())
        out.append(
            AccountFact(
                name=name,
                level=cast(Literal["administrator", "operator", "viewer"] | None, level),
                id=text(user, "id") or None,
                enabled=boolean(text(user, "enabled")) is not False,
            )
        )
    return tuple(out)


@dataclass(frozen=True)
class LockCaps:
    """What ``SecurityCap`` says of the illegal-login lock; ``None`` where it says nothing."""

    supported: bool | None = None
    attempts_range: tuple[int, int] | None = None
    time_range: tuple[int, int] | None = None


def _range(root: Element, name: str) -> tuple[int, int] | None:
    found = root.find(f".//{name}")
    if found is None:
        return None
    lo, hi = integer(found.get("min")), integer(found.get("max"))
    return (lo, hi) if lo is not None and hi is not None else None


def lock_caps(body: bytes) -> LockCaps:
    """From ``/ISAPI/Security/capabilities`` (``SecurityCap``) or ``/ISAPI/System/capabilities``."""
    root = parse(body)
    flag = root.find(".//issupIllegalLoginLock")
    return LockCaps(
        supported=boolean(flag.text) if flag is not None else None,
        attempts_range=_range(root, "maxIllegalLoginTimes"),
        time_range=_range(root, "maxIllegalLoginLockTime"),
    )


def lock_unit(caps: LockCaps | None, model: str, firmware: str, value: int | None) -> Unit:
    """The unit of ``maxIllegalLoginLockTime`` (protocol §5 "Units"): never from the value alone.

    Caps decide (a range up to 120 is minutes); else the firmware table; else a value above 120 can
    only be seconds, as no firmware offers more than 120 minutes; else minutes, the documented default.
    """
    if caps is not None and caps.time_range is not None:
        return "minutes" if caps.time_range[1] <= MINUTES_MAX else "seconds"
    for model_prefix, firmware_prefix, unit in UNIT_TABLE:
        if model.startswith(model_prefix) and firmware.startswith(firmware_prefix):
            return unit
    if value is not None and value > MINUTES_MAX:
        return "seconds"
    return "minutes"


def lock_policy(body: bytes, unit: Unit, caps: LockCaps | None = None) -> LockPolicyFact:
    root = expect(parse(body), "IllegalLoginLock")
    enabled = boolean(text(root, "enabled"))
    if enabled is None:
        raise XmlError("illegalLoginLock lacks <enabled>")
    duration = integer(text(root, "maxIllegalLoginLockTime"))
    return LockPolicyFact(
        enabled=enabled,
        max_attempts=integer(text(root, "maxIllegalLoginTimes")),
        lock_seconds=None if duration is None else duration * (60 if unit == "minutes" else 1),
        attempts_range=caps.attempts_range if caps else None,
    )


def ip_filter(body: bytes) -> IPFilterFact:
    root = expect(parse(body), "IPFilter")
    enabled = boolean(text(root, "enabled"))
    mode = (text(root, "permissionType") or "deny").lower()
    if enabled is None or mode not in ("allow", "deny"):
        raise XmlError("IPFilter lacks enabled or permissionType allow|deny")
    addresses = []
    for entry in root.iter("IPFilterAddress"):
        addr = (
            text(entry, "AddressMask/ipAddress")
            or text(entry, "AddressMask/ipv6Address")
            or text(entry, "ipAddress")
            or text(entry, "ipv6Address")
        )
        if addr and addr not in addresses:
            addresses.append(addr)
    return IPFilterFact(enabled=enabled, mode=cast(Literal["allow", "deny"], mode), addresses=tuple(addresses))


@dataclass(frozen=True)
class Channel:
    """A recorder's channel as configured (``InputProxyChannel``), with what it learnt of its camera."""

    id: int
    address: str
    port: int | None
    user: str
    name: str = ""
    protocol: str = ""
    model: str = ""
    serial: str = ""
    firmware: str = ""

    @property
    def port_kind(self) -> PortKind:
        """``HIKVISION`` is the SDK, on the camera's port 8000; ``ONVIF`` and the rest go over HTTP (§3.7)."""
        return "sdk" if self.protocol.upper() == "HIKVISION" else "http"


def channels(body: bytes) -> tuple[Channel, ...]:
    root = parse(body)
    items = [root] if root.tag == "InputProxyChannel" else list(expect(root, "InputProxyChannelList").iter())
    out = []
    for ch in items:
        if ch.tag != "InputProxyChannel":
            continue
        cid = integer(text(ch, "id"))
        if cid is None:
            raise XmlError("InputProxyChannel without an id")
        port = ch.find("sourceInputPortDescriptor")

        def field(name: str, port: Element | None = port) -> str:
            return (text(port, name) or "") if port is not None else ""

        out.append(
            Channel(
                id=cid,
                address=field("ipAddress") or field("hostName"),
                port=integer(field("managePortNo")),
                user=field("userName"),
                name=text(ch, "name") or "",
                protocol=field("proxyProtocol"),
                model=field("model"),
                serial=field("serialNumber"),
                firmware=field("firmwareVersion"),
            )
        )
    return tuple(out)


_DETECT: frozenset[str] = frozenset(get_args(ChannelDetect))


def channel_status(body: bytes) -> dict[int, tuple[bool, ChannelDetect]]:
    """``{id: (online, chanDetectResult)}``; results the facts model does not name read ``unknown``."""
    root = parse(body)
    if root.tag not in ("InputProxyChannelStatusList", "InputProxyChannelStatus"):
        raise XmlError(f"expected <InputProxyChannelStatusList>, got <{root.tag}>")
    out: dict[int, tuple[bool, ChannelDetect]] = {}
    for st in [root] if root.tag == "InputProxyChannelStatus" else list(root.iter("InputProxyChannelStatus")):
        cid = integer(text(st, "id"))
        if cid is None:
            continue
        raw = text(st, "chanDetectResult") or ""
        detect = cast(ChannelDetect, raw if raw in _DETECT else "unknown")
        online = boolean(text(st, "online"))
        out[cid] = (online if online is not None else detect == "connect", detect)
    return out


def channel_facts(
    configured: tuple[Channel, ...], status: dict[int, tuple[bool, ChannelDetect]]
) -> tuple[ChannelFact, ...]:
    return tuple(
        ChannelFact(
            id=c.id,
            address=c.address,
            port=c.port,
            user=c.user,
            online=status.get(c.id, (False, "unknown"))[0],
            detect=status.get(c.id, (False, "unknown"))[1],
            protocol=c.protocol,
            port_kind=c.port_kind,
            model=c.model,
            serial=c.serial,
            firmware=c.firmware,
        )
        for c in configured
    )


@dataclass(frozen=True)
class Upgrade:
    upgrading: bool
    percent: int


def upgrade_status(body: bytes) -> Upgrade:
    root = expect(parse(body), "upgradeStatus")
    return Upgrade(upgrading=boolean(text(root, "upgrading")) is True, percent=integer(text(root, "percent")) or 0)
