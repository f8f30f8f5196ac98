"""Dahua reboot and firmware upgrade (``magicBox.cgi?action=reboot``, ``upgrader.cgi``; protocols §6).

The upgrade refuses an image whose sha256 does not match before a byte is sent, follows an upgrade
already in flight instead of uploading again, uploads once as ``multipart/form-data`` on a fresh
nonce (a body is never sent to be challenged), polls ``getState`` (``Invalid``, ``FileUnmatch``,
``Failed`` end it), waits for the reboot with free challenges and confirms the version through
``getSoftwareVersion``.
"""

from __future__ import annotations

import hashlib
import os
import time
from typing import TYPE_CHECKING

from enforcer.drivers import _dahuaparse
from enforcer.drivers._dahuaparse import ParseError, UpgradeState
from enforcer.drivers._dahuasession import TransportFailed
from enforcer.drivers.base import Outcome, Progress
from enforcer.model import Firmware

if TYPE_CHECKING:
    from enforcer.drivers.dahua import DahuaDriver

MAGICBOX = "/cgi-bin/magicBox.cgi"
UPGRADER = "/cgi-bin/upgrader.cgi"
POLL_SECONDS = 0.2
DOWN_GRACE = 15.0  # how long a device may take to go down once it said it reboots


def reboot(drv: DahuaDriver, *, wait: bool = True) -> None:
    drv.session.request("reboot", MAGICBOX, "reboot", write=True)
    _rebooting(drv)
    if wait:
        wait_for_reboot(drv, "reboot")


def _rebooting(drv: DahuaDriver) -> None:
    """The device reboots: its nonces and our sockets die with it."""
    drv.session.state.forget()
    drv.session.transport.drop_connections()


def wait_for_reboot(drv: DahuaDriver, step: str, *, seen_down: bool = False) -> None:
    """Return once the device went down and answers again (a 401 challenge to a free request)."""
    start = time.monotonic()
    deadline = start + drv.options.firmware_timeout
    while True:
        try:
            drv.session.challenge(step)
            if seen_down or time.monotonic() - start > DOWN_GRACE:
                return
        except TransportFailed:
            seen_down = True
            drv.session.state.forget()
        if time.monotonic() > deadline:
            raise drv.error(step, f"the device did not come back within {drv.options.firmware_timeout:g} s")
        time.sleep(POLL_SECONDS)


def _version(drv: DahuaDriver, step: str) -> str:
    try:
        return _dahuaparse.software_version(drv.get(step, MAGICBOX, "getSoftwareVersion")[1])[0]
    except ParseError as exc:
        raise drv.error(step, f"unreadable software version: {exc}") from exc


def _state(drv: DahuaDriver, step: str) -> UpgradeState:
    return _dahuaparse.upgrade_state(drv.get(step, UPGRADER, "getState")[1])


def multipart(filename: str, data: bytes) -> tuple[bytes, str]:
    """One file part (the device ignores the part name); returns (body, content type)."""
    boundary = "----enforcer" + os.urandom(12).hex()
    safe_name = filename.replace('"', "").replace("\r", "").replace("\n", "") or "firmware.bin"
    head = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="upgrade"; filename="{safe_name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    return head + data + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def ensure_firmware(drv: DahuaDriver, firmware: Firmware, *, progress: Progress | None = None) -> Outcome:
    step = "firmware"
    report = progress or (lambda fraction, what: None)
    try:
        before = _version(drv, step)
    except TransportFailed as exc:
        if exc.kind != "refused":
            raise
        report(0.5, "the device is down (rebooting?): waiting for it")  # an interrupted run's upgrade
        _rebooting(drv)
        wait_for_reboot(drv, step, seen_down=True)
        before = _version(drv, step)
    if _dahuaparse.same_version(before, firmware.version):
        return Outcome(False, f"runs {before}")
    try:
        image = firmware.image.read_bytes()
    except OSError as exc:
        raise drv.error(step, f"cannot read image {firmware.image}: {exc.strerror}") from exc
    digest = hashlib.sha256(image).hexdigest()
    if digest != firmware.sha256.lower():
        raise drv.error(
            step, f"image {firmware.image.name} has sha256 {digest[:12]}…, not {firmware.sha256[:12]}…: not uploaded"
        )
    if _state(drv, step).in_flight:
        report(0.5, "an upgrade is already in progress: following it")
        return _finish(drv, firmware, before, step, report, _follow(drv, report))
    report(0.05, f"uploading {firmware.image.name} ({len(image) // 1024} KiB)")
    body, content_type = multipart(firmware.image.name, image)
    drv.session.challenge(step)  # a fresh nonce: the image is never sent to be answered "stale"
    dropped = False
    try:
        drv.session.request(
            "firmware upload",
            UPGRADER,
            "uploadFirmware",
            method="POST",
            body=body,
            content_type=content_type,
            timeout=drv.options.firmware_timeout,
            write=True,
        )
    except TransportFailed as exc:
        if exc.kind not in ("reset", "truncated"):
            raise
        dropped = True  # the device may reboot into the new image and drop the upload connection
    report(0.5, "upgrading")
    if not dropped:
        dropped = _follow(drv, report)
    return _finish(drv, firmware, before, step, report, dropped)


def _follow(drv: DahuaDriver, report: Progress) -> bool:
    """Poll ``getState`` until Succeeded (False) or the device goes down (True); a rejection is an error."""
    step = "upgrade state"
    deadline = time.monotonic() + drv.options.firmware_timeout
    seen_busy = False
    while time.monotonic() < deadline:
        try:
            state = _state(drv, step)
        except TransportFailed:
            return True
        if state.failed:
            raise drv.error("firmware", f"the device rejected the image: State={state.state}")
        report(0.5 + min(state.progress, 100) / 400, f"{state.state.lower()}: {state.progress} %")
        if state.state == "Succeeded" or (seen_busy and state.state == "Free"):
            return False
        seen_busy = seen_busy or state.busy
        time.sleep(POLL_SECONDS)
    raise drv.error("firmware", f"the upgrade did not finish within {drv.options.firmware_timeout:g} s")


def _finish(drv: DahuaDriver, firmware: Firmware, before: str, step: str, report: Progress, dropped: bool) -> Outcome:
    """Wait for the reboot into the new image and confirm its version."""
    _rebooting(drv)
    report(0.8, "rebooting")
    wait_for_reboot(drv, step, seen_down=dropped)
    after = _version(drv, step)
    if not _dahuaparse.same_version(after, firmware.version):
        raise drv.error(step, f"the device came back with {after}, not {firmware.version} (not uploaded again)")
    report(1.0, f"runs {after}")
    return Outcome(True, f"{before} → {after}")
