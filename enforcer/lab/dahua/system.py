"""Dahua device info, time, storage, reboot and firmware: ``magicBox.cgi``, ``global.cgi``,
``storageDevice.cgi``, ``upgrader.cgi``.

dahua-cgi.md §6. ``getVendor``/``getHardwareVersion`` and the disk report are what Home Assistant's
Amcrest integration asks first, so a lab without them could not replay it. The upload is a
multipart body with one file part (any part name) holding a lab firmware image (``firmware.py``);
it answers ``OK`` at once and ``getState`` tells the outcome: ``Invalid`` (not an image),
``FileUnmatch`` (another model), else ``Preparing`` → ``Upgrading`` with ``Progress`` →
``Succeeded`` over ``upgrade_seconds``, then the device reboots into the new version.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from enforcer.lab.dahua import kv
from enforcer.lab.net.httpserver import Request, Response

if TYPE_CHECKING:
    from enforcer.lab.dahua.device import DahuaDevice, Session

RECORDER_DEVICE_TYPE = 31
HARDWARE_VERSION = "1.00"
DISK_BYTES = 4000787030016.0  # a 4 TB recorder disk
CARD_BYTES = 127865454592.0  # a 128 GB camera card


def software_version(dev: DahuaDevice, req: Request, s: Session) -> Response:
    return kv.kv([("version", f"{dev.spec.firmware_version},build:{dev.spec.firmware_build}")])


def device_type(dev: DahuaDevice, req: Request, s: Session) -> Response:
    return kv.kv([("type", dev.spec.model)])


def serial_no(dev: DahuaDevice, req: Request, s: Session) -> Response:
    return kv.kv([("sn", dev.spec.serial)])


def machine_name(dev: DahuaDevice, req: Request, s: Session) -> Response:
    return kv.kv([("name", dev.machine_name)])


def vendor(dev: DahuaDevice, req: Request, s: Session) -> Response:
    return kv.kv([("vendor", dev.spec.vendor.capitalize())])


def hardware_version(dev: DahuaDevice, req: Request, s: Session) -> Response:
    return kv.kv([("version", HARDWARE_VERSION)])


def device_class(dev: DahuaDevice, req: Request, s: Session) -> Response:
    return kv.kv([("type", "NVR" if dev.family == "nvr" else "IPC")])


def storage(dev: DahuaDevice, req: Request, s: Session) -> Response:
    """``getDeviceAllInfo``: one disk (an NVR's HDD, a camera's SD card), a quarter used."""
    total = DISK_BYTES if dev.family == "nvr" else CARD_BYTES
    name = "/dev/sda" if dev.family == "nvr" else "/dev/mmc0"
    disk = "list.info[0]"
    return kv.kv(
        [
            (f"{disk}.Detail[0].IsError", False),
            (f"{disk}.Detail[0].Path", name + "1"),
            (f"{disk}.Detail[0].TotalBytes", f"{total:.2f}"),
            (f"{disk}.Detail[0].Type", "ReadWrite"),
            (f"{disk}.Detail[0].UsedBytes", f"{total / 4:.2f}"),
            (f"{disk}.Name", name),
            (f"{disk}.State", "Success"),
        ]
    )


def system_info(dev: DahuaDevice, req: Request, s: Session) -> Response:
    spec = dev.spec
    return kv.kv(
        [
            ("deviceType", RECORDER_DEVICE_TYPE if dev.family == "nvr" else spec.model),
            ("hardwareVersion", HARDWARE_VERSION),
            ("processor", "ST7108" if dev.family == "nvr" else "S3LM"),
            ("serialNumber", spec.serial),
            ("updateSerial", spec.model),
        ]
    )


def reboot(dev: DahuaDevice, req: Request, s: Session) -> Response:
    return kv.ok(after=lambda: dev.host.reboot(dev, "request"))


def current_time(dev: DahuaDevice, req: Request, s: Session) -> Response:
    return kv.kv([("result", time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(dev.host.clock.wall())))])


# -- firmware -----------------------------------------------------------------------------------


def multipart_file(content_type: str, body: bytes) -> bytes | None:
    """The content of the first part of a ``multipart/form-data`` body, ``None`` if not multipart."""
    kind, _, rest = content_type.partition(";")
    if kind.strip().lower() != "multipart/form-data":
        return None
    boundary = ""
    for param in rest.split(";"):
        key, _, val = param.strip().partition("=")
        if key.lower() == "boundary":
            boundary = val.strip('"')
    if not boundary:
        return None
    delim = b"--" + boundary.encode("latin-1")
    parts = body.split(delim)
    for part in parts[1:]:
        if part.startswith(b"--"):
            break
        head, sep, content = part.partition(b"\r\n\r\n")
        if sep and b"content-disposition" in head.lower():
            return content.removesuffix(b"\r\n")
    return None


def upload(dev: DahuaDevice, req: Request, s: Session) -> Response:
    if s.account.level != "administrator":
        return kv.denied()
    if req.method != "POST" or dev.system.upgrade is not None:
        return kv.error()
    data = multipart_file(req.headers.get("content-type", ""), req.body)
    if data is None:
        return kv.error()
    refused = dev.accept_image(data, req.source, s.account.name)
    if refused:
        dev.system.rejected = "FileUnmatch" if refused == "model" else "Invalid"
    return kv.ok()


def upgrade_state(dev: DahuaDevice) -> tuple[str, int]:
    """(State, Progress) of the upgrader, for ``getState`` over CGI and RPC2."""
    system = dev.system
    if system.upgrade is None:
        return system.rejected or "Free", 0
    percent = dev.upgrade_percent()  # of the whole upgrade: 10 % preparing, 80 % writing, 10 % done
    if percent < 10:
        return "Preparing", 0
    if percent < 90:
        return "Upgrading", (percent - 10) * 5 // 4
    return "Succeeded", 100


def get_state(dev: DahuaDevice, req: Request, s: Session) -> Response:
    state, progress = upgrade_state(dev)
    return kv.kv([("State", state), ("Progress", progress)])


def register(reg: Callable[..., None]) -> None:
    reg(
        "magicBox.cgi",
        getSoftwareVersion=software_version,
        getDeviceType=device_type,
        getSerialNo=serial_no,
        getMachineName=machine_name,
        getSystemInfo=system_info,
        getVendor=vendor,
        getHardwareVersion=hardware_version,
        getDeviceClass=device_class,
        reboot=reboot,
        shutdown=reboot,  # behaves like reboot on Amcrest (dahua-cgi.md §6)
    )
    reg("global.cgi", getCurrentTime=current_time)
    reg("storageDevice.cgi", getDeviceAllInfo=storage)
    reg("upgrader.cgi", uploadFirmware=upload, getState=get_state)
