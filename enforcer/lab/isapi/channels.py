"""A recorder's InputProxy channels: the credentials it keeps for its cameras (protocol §3.7).

GET never shows a password; PUT must carry it (a PUT without one stores an empty password, which
the camera then refuses). ``proxyProtocol`` ``HIKVISION`` points at the camera's SDK port (8000),
``ONVIF`` at its HTTP port; once the recorder has connected, the channel shows the camera's model,
serial number and firmware, as real recorders do. ``chanDetectResult`` comes from the recorder's real logins into each
camera (``clients.ChannelPoller``): ``connect``, ``errorUserNameOrPasswd``, ``netUnreachable``,
``unknownError``; ``connecting`` until the first poll. Cameras answer these paths with 403.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from enforcer.lab.channels import ChannelStatus
from enforcer.lab.isapi.xml import XmlFormatError, parse, tags, text
from enforcer.lab.net.httpserver import Request, Response
from enforcer.lab.spec import LabChannel

if TYPE_CHECKING:
    from enforcer.lab.isapi.device import HikDevice, Session

__all__ = ["register"]


def _not_recorder(dev: HikDevice, req: Request) -> Response | None:
    if dev.family == "nvr":
        return None
    return dev.invalid(req, "notSupport")


#: ``proxyProtocol`` as the recorder shows it, for the lab's protocol of a channel (protocol §3.7).
PROXY_PROTOCOLS = {"vendor": "HIKVISION", "onvif": "ONVIF"}


def _camera_fields(dev: HikDevice, ch: LabChannel) -> list[tuple[str, object]]:
    """Model, serial and firmware of the camera, once the recorder has connected to it (empty before)."""
    st = dev.channels.status.get(ch.id)
    cam = dev.host.spec_of(st.seen) if st is not None and st.seen else None
    if cam is None:
        return [("model", ""), ("serialNumber", ""), ("firmwareVersion", "")]
    build = cam.firmware_build if cam.firmware_build.startswith("build ") else f"build {cam.firmware_build}"
    return [("model", cam.model), ("serialNumber", cam.serial), ("firmwareVersion", f"{cam.firmware_version} {build}")]


def _channel_xml(dev: HikDevice, ch: LabChannel) -> str:
    port = tags(
        [
            ("proxyProtocol", PROXY_PROTOCOLS[ch.protocol]),
            ("addressingFormatType", "ipaddress"),
            ("ipAddress", ch.address),
            ("managePortNo", ch.port),
            ("srcInputPort", 1),
            ("userName", ch.user),
            ("connMode", "manual"),
            ("streamType", "auto"),
            *_camera_fields(dev, ch),
            ("deviceID", ""),
        ]
    )
    return f"{tags([('id', ch.id), ('name', ch.camera)])}<sourceInputPortDescriptor>{port}</sourceInputPortDescriptor>"


def channels_list(dev: HikDevice, req: Request, s: Session) -> Response:
    refused = _not_recorder(dev, req)
    if refused is not None:
        return refused
    chans = dev.spec.channels
    body = "".join(dev.item("InputProxyChannel", _channel_xml(dev, c)) for c in chans)
    return dev.xml("InputProxyChannelList", body, attrs=f' size="{len(chans)}"')


def _channel(dev: HikDevice, req: Request) -> LabChannel | Response:
    refused = _not_recorder(dev, req)
    if refused is not None:
        return refused
    try:
        ch = dev.channels.get(int(req.query["_id"]))
    except ValueError:
        ch = None
    if ch is None:
        return dev.status(req, 404, 4, "invalidOperation", message="no such channel")
    return ch


def channel_get(dev: HikDevice, req: Request, s: Session) -> Response:
    ch = _channel(dev, req)
    if not isinstance(ch, LabChannel):
        return ch
    return dev.xml("InputProxyChannel", _channel_xml(dev, ch))


def _apply(dev: HikDevice, req: Request, s: Session, ch: LabChannel, *, event: str) -> Response:
    try:
        el = parse(req.body)
    except XmlFormatError:
        return dev.bad_format(req)
    if el.tag != "InputProxyChannel":
        return dev.bad_content(req, "expected <InputProxyChannel>")
    port_el = el.find("sourceInputPortDescriptor")
    if port_el is None:
        return dev.bad_content(req, "sourceInputPortDescriptor is required")
    address = text(port_el, "ipAddress")
    raw_port = text(port_el, "managePortNo")
    user = text(port_el, "userName")
    raw_protocol = (text(port_el, "proxyProtocol") or PROXY_PROTOCOLS[ch.protocol]).upper()
    protocol = next((k for k, v in PROXY_PROTOCOLS.items() if v == raw_protocol), None)
    if protocol is None:
        return dev.bad_content(req, f"proxyProtocol must be one of {', '.join(PROXY_PROTOCOLS.values())}")
    try:
        port = int(raw_port) if raw_port else ch.port
    except ValueError:
        return dev.bad_content(req, "managePortNo")
    dev.channels.update(
        ch,
        address=ch.address if address is None else address,
        port=port,
        user=user or ch.user,
        password=text(port_el, "password") or "",
        name=text(el, "name"),
        protocol="onvif" if protocol == "onvif" else "vendor",
    )
    dev.channel_event(event, ch, req.source, s.account.name)
    dev.host.state_changed()
    return dev.ok(req, after=lambda: dev.host.channel_changed(dev, ch.id))


def channel_put(dev: HikDevice, req: Request, s: Session) -> Response:
    ch = _channel(dev, req)
    if not isinstance(ch, LabChannel):
        return ch
    return _apply(dev, req, s, ch, event="channel_changed")


def channel_post(dev: HikDevice, req: Request, s: Session) -> Response:
    refused = _not_recorder(dev, req)
    if refused is not None:
        return refused
    ch = dev.channels.blank(max((c.id for c in dev.spec.channels), default=0) + 1)
    resp = _apply(dev, req, s, ch, event="channel_added")
    if resp.status == 200:
        dev.channels.add(ch)
    return resp


def channel_delete(dev: HikDevice, req: Request, s: Session) -> Response:
    ch = _channel(dev, req)
    if not isinstance(ch, LabChannel):
        return ch
    dev.channels.remove(ch)
    dev.emit("channel_deleted", source=req.source, user=s.account.name, channel=ch.id, camera=ch.camera)
    dev.host.state_changed()
    return dev.ok(req)


def _status_xml(dev: HikDevice, ch: LabChannel) -> str:
    st = dev.channels.status.get(ch.id) or ChannelStatus()
    return (
        f"{tags([('id', ch.id)])}<sourceInputPortDescriptor>{tags([('ipAddress', ch.address)])}"
        f"</sourceInputPortDescriptor>{tags([('online', st.online), ('chanDetectResult', st.result)])}"
    )


def status_list(dev: HikDevice, req: Request, s: Session) -> Response:
    refused = _not_recorder(dev, req)
    if refused is not None:
        return refused
    body = "".join(
        f"<InputProxyChannelStatus>{_status_xml(dev, c)}</InputProxyChannelStatus>" for c in dev.spec.channels
    )
    return dev.xml("InputProxyChannelStatusList", body)


def status_one(dev: HikDevice, req: Request, s: Session) -> Response:
    ch = _channel(dev, req)
    if not isinstance(ch, LabChannel):
        return ch
    return dev.xml("InputProxyChannelStatus", _status_xml(dev, ch))


def register(route: Callable[..., None]) -> None:
    base = r"/ISAPI/ContentMgmt/InputProxy/channels"
    route(base, feature="channels", GET=channels_list, POST=channel_post)
    route(base + r"/status", feature="channel_status", GET=status_list)
    route(base + r"/(?P<id>[^/]+)", feature="channels", GET=channel_get, PUT=channel_put, DELETE=channel_delete)
    route(base + r"/(?P<id>[^/]+)/status", feature="channel_status", GET=status_one)
