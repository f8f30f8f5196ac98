"""ISAPI reboot and firmware upgrade (protocol §3.5, §3.6).

The upgrade refuses an image whose sha256 does not match before a byte is sent, uploads it once as
``application/octet-stream`` with the long firmware timeout, follows ``upgradeStatus``, waits for
the reboot (a dropped upload connection may be that reboot), and confirms the version through
``deviceInfo``. It never uploads again to "check". Waiting uses free, unauthenticated probes, which
also fetch the fresh nonce a rebooted device requires.
"""

from __future__ import annotations

import hashlib
import time
from typing import TYPE_CHECKING

from enforcer.drivers import _isapiparse
from enforcer.drivers._isapisession import RebootRequired, TransportFailed
from enforcer.drivers._isapixml import XmlError
from enforcer.drivers.base import Outcome, Progress
from enforcer.model import Firmware

if TYPE_CHECKING:
    from enforcer.drivers.isapi import IsapiDriver

STATUS = "/ISAPI/System/upgradeStatus"
POLL_SECONDS = 0.2
DOWN_GRACE = 15.0  # how long a device may take to go down once it said it reboots


def reboot(drv: IsapiDriver, *, wait: bool = True) -> None:
    drv.session.request("reboot", "PUT", "/ISAPI/System/reboot")
    _rebooting(drv)
    if wait:
        wait_for_reboot(drv, "reboot")


def _rebooting(drv: IsapiDriver) -> None:
    """The device reboots because we asked: its nonces die with it, so start afresh (free)."""
    drv.session.digest.forget()
    drv.session.transport.drop_connections()


def wait_for_reboot(drv: IsapiDriver, step: str, *, seen_down: bool = False) -> None:
    """Return once the device went down and answers again (a 401 challenge to a free probe)."""
    start = time.monotonic()
    deadline = start + drv.options.firmware_timeout
    while True:
        try:
            drv.session.probe(step)
            if seen_down or time.monotonic() - start > DOWN_GRACE:
                return
        except TransportFailed:
            seen_down = True
            drv.session.digest.forget()
        if time.monotonic() > deadline:
            raise drv.session.error(step, f"the device did not come back within {drv.options.firmware_timeout:g} s")
        time.sleep(POLL_SECONDS)


def _version(drv: IsapiDriver, step: str) -> _isapiparse.DeviceInfo:
    try:
        return _isapiparse.device_info(drv.get(step, "/ISAPI/System/deviceInfo")[1])
    except XmlError as exc:
        raise drv.session.error(step, f"unreadable deviceInfo: {exc}") from exc


def ensure_firmware(drv: IsapiDriver, firmware: Firmware, *, progress: Progress | None = None) -> Outcome:
    step = "firmware"
    report = progress or (lambda fraction, what: None)
    try:
        before = _version(drv, step)
    except TransportFailed as exc:
        if exc.kind != "refused":
            raise
        # Down: most likely rebooting into an image an interrupted run uploaded. Wait for it.
        report(0.5, "the device is down (rebooting?): waiting for it")
        _rebooting(drv)
        wait_for_reboot(drv, step, seen_down=True)
        before = _version(drv, step)
    if _isapiparse.same_version(before.firmware_version, firmware.version):
        return Outcome(False, f"runs {before.firmware_version}")
    try:
        image = firmware.image.read_bytes()
    except OSError as exc:
        raise drv.session.error(step, f"cannot read image {firmware.image}: {exc.strerror}") from exc
    digest = hashlib.sha256(image).hexdigest()
    if digest != firmware.sha256.lower():
        raise drv.session.error(
            step, f"image {firmware.image.name} has sha256 {digest[:12]}…, not {firmware.sha256[:12]}…: not uploaded"
        )
    # Also a live nonce, so the upload is not answered "stale".
    if _upgrading(drv, *drv.get(step, STATUS, allow=(200, 403, 404))):
        # An interrupted run already uploaded: follow that upgrade, never upload a second time.
        report(0.5, "an upgrade is already in progress: following it")
        return _finish(drv, firmware, before, step, report, _follow(drv, report))
    report(0.05, f"uploading {firmware.image.name} ({len(image) // 1024} KiB)")
    dropped = False
    try:
        drv.session.request(
            "firmware upload",
            "PUT",
            "/ISAPI/System/updateFirmware",
            body=image,
            content_type="application/octet-stream",
            timeout=drv.options.firmware_timeout,
        )
    except RebootRequired:
        pass  # accepted; followed below like any other upgrade
    except TransportFailed as exc:
        if exc.kind not in ("reset", "truncated"):
            raise
        dropped = True  # many devices reboot into the new image and drop the upload connection
    report(0.5, "upgrading")
    if not dropped:
        dropped = _follow(drv, report)
    return _finish(drv, firmware, before, step, report, dropped)


def _upgrading(drv: IsapiDriver, status: int, body: bytes) -> bool:
    try:
        state = _isapiparse.upgrade_status(body) if status == 200 else None
    except XmlError:
        return False
    return state is not None and state.upgrading


def _finish(
    drv: IsapiDriver, firmware: Firmware, before: _isapiparse.DeviceInfo, step: str, report: Progress, dropped: bool
) -> Outcome:
    """Wait for the reboot into the new image and confirm its version."""
    _rebooting(drv)
    report(0.8, "rebooting")
    wait_for_reboot(drv, step, seen_down=dropped)
    after = _version(drv, step)
    if not _isapiparse.same_version(after.firmware_version, firmware.version):
        raise drv.session.error(
            step, f"the device came back with {after.firmware_version}, not {firmware.version} (not uploaded again)"
        )
    report(1.0, f"runs {after.firmware_version}")
    return Outcome(True, f"{before.firmware_version} → {after.firmware_version}")


def _follow(drv: IsapiDriver, report: Progress) -> bool:
    """Poll ``upgradeStatus`` until the device goes down (True) or finishes without rebooting (False,
    after which we ask it to reboot, as documented)."""
    deadline = time.monotonic() + drv.options.firmware_timeout
    finished_at: float | None = None
    while time.monotonic() < deadline:
        try:
            status, body = drv.get("upgrade status", STATUS, allow=(200, 403, 404))
        except TransportFailed:
            return True
        try:
            state = _isapiparse.upgrade_status(body) if status == 200 else None
        except XmlError as exc:
            raise drv.session.error("upgrade status", f"unreadable reply: {exc}") from exc
        if state is not None:
            report(0.5 + min(state.percent, 100) / 400, f"upgrading: {state.percent} %")
            if state.percent >= 100 or not state.upgrading:
                finished_at = finished_at or time.monotonic()
        if finished_at is not None and time.monotonic() - finished_at > DOWN_GRACE:
            drv.session.request("reboot", "PUT", "/ISAPI/System/reboot")
            return False
        time.sleep(POLL_SECONDS)
    raise drv.session.error("firmware", f"the upgrade did not finish within {drv.options.firmware_timeout:g} s")
