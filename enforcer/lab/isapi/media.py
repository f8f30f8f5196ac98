"""Video and event configuration that viewers and home-automation clients read: streaming channels and
snapshots, video inputs, motion detection, event triggers (structures as in the S1 device dumps).

Cameras have one video input (channel 1) and streams 101/102; a recorder has streams ``c01``/``c02`` per
channel and answers ``System/Video/inputs`` with 403, as the S1 NVRs do (clients then list its
``InputProxy`` channels). Triggers carry the ``center`` notification for motion and for ``illaccess``, so
a client subscribed to the alert stream tracks both. A snapshot is a tiny JPEG.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import TYPE_CHECKING

from enforcer.lab.isapi.xml import Raw, XmlFormatError, boolean, parse, tags, text
from enforcer.lab.net.httpserver import Request, Response

if TYPE_CHECKING:
    from enforcer.lab.isapi.device import HikDevice, Session

__all__ = ["register"]

#: A 1x1 JPEG: what ``…/picture`` returns (clients check the content type and the bytes' start).
JPEG = base64.b64decode(
    "/9j/4AAQSkZJRgABAQEASABIAAD/2wBDAP//////////////////////////////////////////////////////////////////"
    "////////////////////wgALCAABAAEBAREA/8QAFBABAAAAAAAAAAAAAAAAAAAAAP/aAAgBAQABPxA="
) + bytes.fromhex("ffd9")


def _channels(dev: HikDevice) -> dict[int, str]:
    """Video channel → name: the camera's one input, or the recorder's proxied cameras."""
    if dev.family != "nvr":
        return {1: dev.spec.name}
    return {ch.id: ch.camera or f"Camera {ch.id:02d}" for ch in dev.spec.channels}


def _stream_xml(dev: HikDevice, stream: int, name: str) -> str:
    main = stream % 100 == 1
    transport = "<ControlProtocolList>" + "".join(
        f"<ControlProtocol>{tags([('streamingTransport', t)])}</ControlProtocol>" for t in ("RTSP", "HTTP")
    )
    video = tags(
        [
            ("enabled", True),
            ("videoInputChannelID", stream // 100),
            ("videoCodecType", "H.264"),
            ("videoResolutionWidth", 2688 if main else 640),
            ("videoResolutionHeight", 1520 if main else 360),
            ("maxFrameRate", 2500),
            ("snapShotImageType", "JPEG"),
        ]
    )
    body = tags([("id", stream), ("channelName", name), ("enabled", True)])
    body += f"<Transport>{transport}</ControlProtocolList></Transport><Video>{video}</Video>"
    return dev.item("StreamingChannel", body)


def _stream(dev: HikDevice, req: Request) -> tuple[int, str] | None:
    try:
        stream = int(req.query["_id"])
    except ValueError:
        return None
    if dev.family != "nvr" and stream in (1, 2):
        stream += 100  # cameras also take the stream number alone (pyhik asks a camera for channels/1)
    name = _channels(dev).get(stream // 100)
    return (stream, name) if name is not None and stream % 100 in (1, 2) else None


def streaming_list(dev: HikDevice, req: Request, s: Session) -> Response:
    items = "".join(_stream_xml(dev, c * 100 + k, n) for c, n in _channels(dev).items() for k in (1, 2))
    return dev.xml("StreamingChannelList", items)


def streaming_one(dev: HikDevice, req: Request, s: Session) -> Response:
    found = _stream(dev, req)
    if found is None:
        return dev.status(req, 404, 4, "invalidOperation", message="no such stream")
    return Response(200, _stream_xml(dev, *found).encode())


def picture(dev: HikDevice, req: Request, s: Session) -> Response:
    if _stream(dev, req) is None:
        return dev.status(req, 404, 4, "invalidOperation", message="no such stream")
    return Response(200, JPEG, content_type="image/jpeg")


def video_inputs(dev: HikDevice, req: Request, s: Session) -> Response:
    if dev.family == "nvr":
        return dev.not_supported(req)
    body = tags([("id", 1), ("inputPort", 1), ("name", dev.spec.name), ("videoFormat", "PAL")])
    return dev.xml("VideoInputChannelList", dev.item("VideoInputChannel", body))


def _motion_xml(dev: HikDevice, channel: int) -> str:
    return tags(
        [
            ("enabled", dev.motion.get(channel, False)),
            ("enableHighlight", False),
            ("samplingInterval", 2),
            ("regionType", "grid"),
            ("Grid", Raw(tags([("rowGranularity", 18), ("columnGranularity", 22)]))),
        ]
    )


def motion_get(dev: HikDevice, req: Request, s: Session) -> Response:
    if dev.family == "nvr" or req.query["_id"] != "1":
        return dev.not_supported(req)
    return dev.xml("MotionDetection", _motion_xml(dev, 1))


def motion_put(dev: HikDevice, req: Request, s: Session) -> Response:
    if dev.family == "nvr" or req.query["_id"] != "1":
        return dev.not_supported(req)
    try:
        el = parse(req.body)
    except XmlFormatError:
        return dev.bad_format(req)
    try:
        enabled = boolean(text(el, "enabled"))
    except ValueError:
        enabled = None
    if el.tag != "MotionDetection" or enabled is None:
        return dev.bad_content(req, "MotionDetection with <enabled> true|false expected")
    if dev.motion.get(1, False) != enabled:
        dev.motion[1] = enabled
        dev.emit("motion_detection_changed", source=req.source, user=s.account.name, enabled=enabled)
    return dev.ok(req)


def _trigger(event: str, tid: str, channel: int, notify: bool) -> str:
    methods = "<EventTriggerNotification><id>center</id><notificationMethod>center</notificationMethod>"
    methods += "<notificationRecurrence>beginning</notificationRecurrence></EventTriggerNotification>"
    body = tags(
        [
            ("id", tid),
            ("eventType", event),
            ("eventDescription", f"{event} Event trigger Information"),
            ("videoInputChannelID", channel),
            ("dynVideoInputChannelID", channel),
        ]
    )
    listing = methods if notify else ""
    return f"<EventTrigger>{body}<EventTriggerNotificationList>{listing}</EventTriggerNotificationList></EventTrigger>"


def triggers(dev: HikDevice, req: Request, s: Session) -> Response:
    items = [_trigger("VMD", f"VMD-{c}", c, True) for c in _channels(dev)]
    items += [_trigger("tamperdetection", f"tamper-{c}", c, False) for c in _channels(dev)]
    items += [_trigger(e, e, 1, e == "illaccess") for e in ("diskfull", "nicbroken", "ipconflict", "illaccess")]
    return dev.xml("EventTriggerList", "".join(items))


def register(route: Callable[..., None]) -> None:
    route(r"/ISAPI/Streaming/channels", GET=streaming_list)
    route(r"/ISAPI/Streaming/channels/(?P<id>\d+)", GET=streaming_one)
    route(r"/ISAPI/Streaming/channels/(?P<id>\d+)/picture", GET=picture)
    route(r"/ISAPI/System/Video/inputs/channels", GET=video_inputs)
    route(
        r"/ISAPI/System/Video/inputs/channels/(?P<id>\d+)/motionDetection",
        feature="motion_detection",
        GET=motion_get,
        PUT=motion_put,
    )
    route(r"/ISAPI/Event/triggers", GET=triggers)
