"""ISAPI system endpoints: ``deviceInfo``, capabilities, firmware upgrade, reboot, IP filter.

Protocol §3.4–3.6 and §3.8. Firmware is read from the uploaded lab image (``firmware.py``); the
upgrade climbs to 100 % over ``profile.upgrade_seconds``, then the device reboots itself and comes
back with the new version. The IP filter is enforced by ``HikDevice.handle`` before authentication.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from enforcer.lab.firmware import build_label
from enforcer.lab.ipfilter import FILTER_SIZE, valid_address
from enforcer.lab.isapi.xml import XmlFormatError, boolean, parse, tags, text
from enforcer.lab.net.digest import md5_hex
from enforcer.lab.net.httpserver import Request, Response

if TYPE_CHECKING:
    from enforcer.lab.isapi.device import HikDevice, Session

__all__ = ["register"]


def device_info(dev: HikDevice, req: Request, s: Session) -> Response:
    spec = dev.spec
    h = md5_hex(spec.serial)
    body = tags(
        [
            ("deviceName", spec.name),
            ("deviceID", f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"),
            ("model", spec.model),
            ("serialNumber", spec.serial),
            ("macAddress", ":".join(h[i : i + 2] for i in range(0, 12, 2))),
            ("firmwareVersion", spec.firmware_version),
            ("firmwareReleasedDate", build_label(spec.firmware_build)),
            ("deviceType", "NVR" if dev.family == "nvr" else "IPCamera"),
            ("telecontrolID", 255 if dev.family == "nvr" else 88),
        ]
    )
    return dev.xml("DeviceInfo", body)


def network_caps_xml(dev: HikDevice) -> str:
    return tags([("isSupportIPFilter", not dev.lacks("ip_filter")), ("isSupportHttps", True)])


def system_caps(dev: HikDevice, req: Request, s: Session) -> Response:
    """``DeviceCap`` nested as on devices (S1): ``SysCap/NetworkCap``, ``SecurityCap``, ``EventCap``, ``RacmCap``."""
    from enforcer.lab.isapi.security import security_caps_xml

    racm = tags([("isSupportLogSearch", True)])
    if dev.family == "nvr":
        racm += tags([("inputProxyNums", max(8, len(dev.spec.channels)))])
    inputs = 0 if dev.family == "nvr" else 1
    sys_cap = (
        tags([("isSupportDst", True)])
        + dev.item("NetworkCap", network_caps_xml(dev))
        + dev.item("VideoCap", tags([("videoInputPortNums", inputs), ("videoOutputPortNums", 0)]))
        + tags([("isSupportPostUpdateFirmware", True)])
    )
    event = tags([("isSupportIllAccess", True), ("isSupportMotionDetection", not dev.lacks("motion_detection"))])
    body = (
        f"<SysCap>{sys_cap}</SysCap>"
        + tags([("isSupportSnapshot", True)])
        + dev.item("SecurityCap", security_caps_xml(dev))
        + dev.item("EventCap", event)
        + dev.item("RacmCap", racm)
    )
    return dev.xml("DeviceCap", body)


def network_caps(dev: HikDevice, req: Request, s: Session) -> Response:
    return dev.xml("NetworkCap", network_caps_xml(dev))


# -- firmware -----------------------------------------------------------------------------------


def update_firmware(dev: HikDevice, req: Request, s: Session) -> Response:
    ctype = req.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/octet-stream":
        return dev.bad_content(req, "firmware must be sent as application/octet-stream")
    if dev.system.upgrade is not None:
        return dev.status(req, 403, 2, "deviceBusy", message="an upgrade is in progress")
    if dev.accept_image(req.body, req.source, s.account.name):
        return dev.invalid(req, "invalidOperation", error_code="0x40000006", message="upgrade packet mismatch")
    return dev.ok(req)


def upgrade_status(dev: HikDevice, req: Request, s: Session) -> Response:
    system = dev.system
    if system.upgrade is None:
        return dev.xml("upgradeStatus", tags([("upgrading", False), ("percent", 0)]))
    percent = dev.upgrade_percent()
    body = tags([("upgrading", True), ("percent", percent), ("reboot", percent >= 100)])
    return dev.xml("upgradeStatus", body)


def reboot(dev: HikDevice, req: Request, s: Session) -> Response:
    return dev.ok(req, after=lambda: dev.host.reboot(dev, "request"))


# -- IP filter ----------------------------------------------------------------------------------


def ip_filter_get(dev: HikDevice, req: Request, s: Session) -> Response:
    ipf = dev.spec.ip_filter
    entries = "".join(
        f"<IPFilterAddress>{tags([('id', i), ('permissionType', ipf.mode), ('addressFilterType', 'mask')])}"
        f"<AddressMask>{tags([('ipAddress', addr)])}</AddressMask></IPFilterAddress>"
        for i, addr in enumerate(ipf.addresses, start=1)
    )
    body = (
        tags([("enabled", ipf.enabled), ("permissionType", ipf.mode)])
        + f'<IPFilterAddressList size="{FILTER_SIZE}">{entries}</IPFilterAddressList>'
    )
    return dev.xml("IPFilter", body)


def ip_filter_caps(dev: HikDevice, req: Request, s: Session) -> Response:
    body = (
        '<enabled opt="true,false"/><permissionType opt="deny,allow"/>'
        f'<IPFilterAddressList size="{FILTER_SIZE}"><IPFilterAddress><id min="1" max="{FILTER_SIZE}"/>'
        '<AddressMask><ipAddress min="7" max="15"/><ipv6Address min="2" max="39"/></AddressMask>'
        "</IPFilterAddress></IPFilterAddressList>"
    )
    return dev.xml("IPFilter", body)


def ip_filter_put(dev: HikDevice, req: Request, s: Session) -> Response:
    try:
        el = parse(req.body)
    except XmlFormatError:
        return dev.bad_format(req)
    if el.tag != "IPFilter":
        return dev.bad_content(req, "expected <IPFilter>")
    try:
        enabled = boolean(text(el, "enabled"))
    except ValueError:
        return dev.bad_content(req, "enabled")
    mode = text(el, "permissionType") or "allow"
    if mode not in ("allow", "deny") or enabled is None:
        return dev.bad_content(req, "enabled and permissionType allow|deny are required")
    addresses: list[str] = []
    for entry in el.iter("IPFilterAddress"):
        addr = text(entry, "AddressMask/ipAddress") or text(entry, "ipAddress") or ""
        if not valid_address(addr):
            return dev.status(req, 400, 6, "badIPv4Address", error_code="0x60000004")
        if addr not in addresses:
            addresses.append(addr)
    if len(addresses) > FILTER_SIZE:
        return dev.bad_content(req, f"at most {FILTER_SIZE} addresses")
    ipf = dev.spec.ip_filter
    ipf.enabled, ipf.mode, ipf.addresses = enabled, "allow" if mode == "allow" else "deny", addresses
    dev.emit(
        "ip_filter_changed",
        source=req.source,
        user=s.account.name,
        enabled=enabled,
        mode=mode,
        addresses=addresses,
    )
    dev.host.state_changed()
    return dev.ok(req)


def register(route: Callable[..., None]) -> None:
    route(r"/ISAPI/System/deviceInfo", GET=device_info)
    route(r"/ISAPI/System/capabilities", GET=system_caps)
    route(r"/ISAPI/System/updateFirmware", PUT=update_firmware, POST=update_firmware)
    route(r"/ISAPI/System/upgradeStatus", GET=upgrade_status)
    route(r"/ISAPI/System/reboot", PUT=reboot)
    route(r"/ISAPI/System/Network/capabilities", GET=network_caps)
    route(r"/ISAPI/System/Network/ipFilter", feature="ip_filter", GET=ip_filter_get, PUT=ip_filter_put)
    route(r"/ISAPI/System/Network/ipFilter/capabilities", feature="ip_filter", GET=ip_filter_caps)
