"""Dahua configs enforcer never manages but every common client opens with (dahua-cgi.md §5).

Home Assistant's Amcrest integration, scripting clients and VMS polls read ``Network``, ``NTP``,
``Locales``, ``RTSP``, ``Encode``, ``MotionDetect``, ``ChannelTitle``, ``RecordMode``,
``VideoInOptions``, ``LoginFailureAlarm``, ``UserGlobal``, ``DDNS`` and ``UPnP`` before anything
else; a lab that answered them 400 could not replay the stale clients that lock devices in the
field. Field names follow a live DH-NVR608H read (``NTP.TimeZone``/``TimeZoneDesc``,
``Locales.DSTStart.*``, ``Network.<iface>.*``, ``RTSP.RTP.*``) and the keys python-amcrest parses
(``MainFormat[0].VideoEnable``, ``MotionDetect[c].EventHandler.RecordEnable``,
``RecordMode[c].Mode``, ``VideoInOptions[c].DayNightColor``). The values are a plain factory setup;
``setConfig`` may change any key that exists, keeping its type, and nothing else.
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from enforcer.lab.dahua.device import DahuaDevice

Value = bool | int | str
#: Config names served from :attr:`DahuaDevice.settings`, in the order the lab lists them.
NAMES = (
    "Network",
    "NTP",
    "Locales",
    "RTSP",
    "Encode",
    "MotionDetect",
    "ChannelTitle",
    "RecordMode",
    "VideoInOptions",
    "LoginFailureAlarm",
    "UserGlobal",
    "DDNS",
    "UPnP",
)


def capacity(dev: DahuaDevice) -> int:
    """A recorder's slots: its channel count rounded up to 4, 8, 16, 32..."""
    need = max([len(dev.spec.channels), *(c.id for c in dev.spec.channels)])
    size = 4
    while size < need:
        size *= 2
    return size


def video_channels(dev: DahuaDevice) -> int:
    """Video channels: one on a camera, every slot on a recorder."""
    return capacity(dev) if dev.family == "nvr" else 1


def mac_of(serial: str) -> str:
    """A stable Dahua-prefixed MAC address derived from the serial number."""
    tail = zlib.crc32(serial.encode()).to_bytes(4, "big")[1:]
    return ":".join(f"{b:02x}" for b in (0x3C, 0xEF, 0x8C, *tail))


def _channel(dev: DahuaDevice, c: int) -> dict[str, Value]:
    """Per-channel entries of ``Encode``, ``MotionDetect``, ``ChannelTitle``, ``RecordMode``, ``VideoInOptions``."""
    out: dict[str, Value] = {}
    ch = next((x for x in dev.spec.channels if x.id == c + 1), None)
    for kind, count in (("MainFormat", 4), ("ExtraFormat", 3), ("SnapFormat", 3)):
        for i in range(count):
            out[f"Encode[{c}].{kind}[{i}].VideoEnable"] = kind != "ExtraFormat" or i == 0
            out[f"Encode[{c}].{kind}[{i}].AudioEnable"] = False
    out[f"Encode[{c}].MainFormat[0].Video.Compression"] = "H.265"
    out[f"Encode[{c}].MainFormat[0].Video.FPS"] = 20
    out[f"Encode[{c}].MainFormat[0].Video.BitRate"] = 4096
    out[f"MotionDetect[{c}].Enable"] = True
    out[f"MotionDetect[{c}].DetectVersion"] = "V3.0"
    out[f"MotionDetect[{c}].EventHandler.RecordEnable"] = True
    out[f"MotionDetect[{c}].EventHandler.SnapshotEnable"] = False
    if dev.family == "nvr":
        out[f"ChannelTitle[{c}].Name"] = ch.camera if ch else "IPC"
    else:
        out[f"ChannelTitle[{c}].Name"] = dev.machine_name
    out[f"RecordMode[{c}].Mode"] = 0
    out[f"VideoInOptions[{c}].DayNightColor"] = 1
    out[f"VideoInOptions[{c}].InfraRed"] = False
    return out


def defaults(dev: DahuaDevice) -> dict[str, Value]:
    """The factory settings of ``dev``, keyed as ``setConfig`` names them (no ``table.`` prefix)."""
    spec = dev.spec
    gateway = ".".join([*spec.address.split(".")[:3], "1"])
    out: dict[str, Value] = {
        "Network.DefaultInterface": "eth0",
        "Network.Domain": "dauha",
        "Network.Hostname": spec.name,
        "Network.eth0.IPAddress": spec.address,
        "Network.eth0.SubnetMask": "255.255.255.0",
        "Network.eth0.DefaultGateway": gateway,
        "Network.eth0.DhcpEnable": False,
        "Network.eth0.DnsAutoGet": False,
        "Network.eth0.DnsServers[0]": gateway,
        "Network.eth0.DnsServers[1]": "0.0.0.0",
        "Network.eth0.MTU": 1500,
        "Network.eth0.PhysicalAddress": mac_of(spec.serial),
        "NTP.Address": "time.windows.com",
        "NTP.Enable": False,
        "NTP.Port": 123,
        "NTP.TimeZone": 25,
        "NTP.TimeZoneDesc": "Easterntime",
        "NTP.UpdatePeriod": 10,
        "Locales.DSTEnable": False,
        "Locales.TimeFormat": "yyyy-MM-dd HH:mm:ss",
        "RTSP.Enable": True,
        "RTSP.Port": 554,
        "RTSP.RTP.StartPort": 20000,
        "RTSP.RTP.EndPort": 40000,
        "LoginFailureAlarm.Enable": False,
        "LoginFailureAlarm.TryLoginTimes": 5,
        "LoginFailureAlarm.EventHandler.LogEnable": False,
        "UserGlobal.OnvifLoginCheck": True,
        "DDNS[0].Enable": False,
        "DDNS[0].Protocol": "Dahua DDNS",
        "DDNS[0].HostName": "",
        "UPnP.Enable": False,
        "UPnP.MapTable[0].Enable": False,
        "UPnP.MapTable[0].InnerPort": 80,
        "UPnP.MapTable[0].OuterPort": 8080,
        "UPnP.MapTable[0].Protocol": "TCP",
        "UPnP.MapTable[0].ServiceName": "HTTP",
    }
    for edge, month in (("DSTStart", 3), ("DSTEnd", 11)):
        for field, value in (("Year", 2026), ("Month", month), ("Week", 2 if month == 3 else 1), ("Day", 0)):
            out[f"Locales.{edge}.{field}"] = value
        out[f"Locales.{edge}.Hour"] = 2
        out[f"Locales.{edge}.Minute"] = 0
    channels = [_channel(dev, c) for c in range(video_channels(dev))]
    for name in ("Encode", "MotionDetect", "ChannelTitle", "RecordMode", "VideoInOptions"):
        for table in channels:
            out.update((k, v) for k, v in table.items() if k.startswith(name + "["))
    return out


def root(key: str) -> str:
    """The config name a key belongs to: ``MotionDetect[0].Enable`` → ``MotionDetect``."""
    cut = min((i for i in (key.find("."), key.find("[")) if i >= 0), default=len(key))
    return key[:cut]


def coerce(old: Value, raw: str) -> Value | None:
    """``raw`` as the type of the value it replaces, ``None`` if it is not one."""
    if isinstance(old, bool):
        low = raw.strip().lower()
        return True if low == "true" else False if low == "false" else None
    if isinstance(old, int):
        try:
            return int(raw)
        except ValueError:
            return None
    return raw


def pairs(dev: DahuaDevice, name: str) -> list[tuple[str, object]]:
    """The ``table.<key>`` lines of config ``name``, in the order they were defined."""
    return [(f"table.{k}", v) for k, v in dev.settings.items() if root(k) == name]
