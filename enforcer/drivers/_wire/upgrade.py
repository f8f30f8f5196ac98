"""The firmware upgrade and reboot procedure both vendors follow, over a small vendor :class:`Device`.

The order is the safety: refuse an image whose sha256 does not match before a byte is sent; follow
an upgrade already in flight instead of uploading again; upload once (a reset or truncated upload
is the device rebooting into it); wait for the reboot with free, unauthenticated probes (which also
fetch the fresh nonce a rebooted device requires); confirm the version, and never upload again to
"check". The vendor modules keep their wire: paths, bodies, and what their progress replies mean.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable
from typing import Protocol, TypeVar

from enforcer.drivers.base import Outcome, Progress
from enforcer.errors import DeviceError, TransportFailed
from enforcer.model import Firmware

POLL_SECONDS = 0.2
DOWN_GRACE = 15.0  # how long a device may take to go down once it said it reboots
T = TypeVar("T")


class Device(Protocol):
    """What the procedure needs of one vendor's device."""

    @property
    def firmware_timeout(self) -> float: ...

    def error(self, step: str, detail: str) -> DeviceError: ...

    def version(self, step: str) -> str:
        """The running firmware version (TransportFailed when the device is down)."""
        ...

    def in_flight(self, step: str) -> bool:
        """Whether an upgrade (an interrupted run's) is under way; a credentialed read, so a live nonce."""
        ...

    def upload(self, step: str, name: str, image: bytes) -> None:
        """Send the image once; TransportFailed reset/truncated when the device drops it to reboot."""
        ...

    def follow(self, report: Progress) -> bool:
        """Follow the upgrade after the upload; True when the device went down (rebooting)."""
        ...

    def request_reboot(self) -> None: ...

    def probe(self, step: str) -> None:
        """A free, unauthenticated request that adopts the device's challenge."""
        ...

    def forget_nonce(self) -> None: ...

    def drop_connections(self) -> None: ...


def reboot(dev: Device, *, wait: bool = True) -> None:
    dev.request_reboot()
    _rebooting(dev)
    if wait:
        wait_for_reboot(dev, "reboot")


def _rebooting(dev: Device) -> None:
    """The device reboots: its nonces and our sockets die with it, so start afresh (free)."""
    dev.forget_nonce()
    dev.drop_connections()


def wait_for_reboot(dev: Device, step: str, *, seen_down: bool = False) -> None:
    """Return once the device went down and answers again (a 401 challenge to a free probe)."""
    start = time.monotonic()
    deadline = start + dev.firmware_timeout
    while True:
        try:
            dev.probe(step)
            if seen_down or time.monotonic() - start > DOWN_GRACE:
                return
        except TransportFailed:
            seen_down = True
            dev.forget_nonce()
        if time.monotonic() > deadline:
            raise dev.error(step, f"the device did not come back within {dev.firmware_timeout:g} s")
        time.sleep(POLL_SECONDS)


_VERSION = re.compile(r"[Vv]?(\d+(?:\.[0-9A-Za-z]+)*)")


def same_version(a: str, b: str) -> bool:
    """The version numbers match, whatever the prefix or build suffix: ``V5.7.17`` equals ``5.7.17``
    and ``V5.7.17 build 240606``; ``2.800.0000016.0.R`` equals ``V2.800.0000016.0.R,build:...``."""
    ma, mb = _VERSION.match(a.strip()), _VERSION.match(b.strip())
    return bool(ma and mb and ma.group(1) == mb.group(1))


def ensure_firmware(dev: Device, firmware: Firmware, *, progress: Progress | None = None) -> Outcome:
    step = "firmware"
    report = progress or (lambda fraction, what: None)
    try:
        before = dev.version(step)
    except TransportFailed as exc:
        if exc.kind != "refused":
            raise
        # Down: most likely rebooting into an image an interrupted run uploaded. Wait for it.
        report(0.5, "the device is down (rebooting?): waiting for it")
        _rebooting(dev)
        wait_for_reboot(dev, step, seen_down=True)
        before = dev.version(step)
    if same_version(before, firmware.version):
        return Outcome(False, f"runs {before}")
    image = _checked_image(dev, step, firmware)
    if dev.in_flight(step):
        # An interrupted run already uploaded: follow that upgrade, never upload a second time.
        report(0.5, "an upgrade is already in progress: following it")
        return _finish(dev, firmware, before, step, report, dev.follow(report))
    report(0.05, f"uploading {firmware.image.name} ({len(image) // 1024} KiB)")
    dropped = False
    try:
        dev.upload(step, firmware.image.name, image)
    except TransportFailed as exc:
        if exc.kind not in ("reset", "truncated"):
            raise
        dropped = True  # many devices reboot into the new image and drop the upload connection
    report(0.5, "upgrading")
    if not dropped:
        dropped = dev.follow(report)
    return _finish(dev, firmware, before, step, report, dropped)


def _checked_image(dev: Device, step: str, firmware: Firmware) -> bytes:
    """The image's bytes, once their sha256 is the one the playbook names."""
    try:
        image = firmware.image.read_bytes()
    except OSError as exc:
        raise dev.error(step, f"cannot read image {firmware.image}: {exc.strerror}") from exc
    digest = hashlib.sha256(image).hexdigest()
    if digest != firmware.sha256.lower():
        raise dev.error(
            step, f"image {firmware.image.name} has sha256 {digest[:12]}…, not {firmware.sha256[:12]}…: not uploaded"
        )
    return image


def _finish(dev: Device, firmware: Firmware, before: str, step: str, report: Progress, dropped: bool) -> Outcome:
    """Wait for the reboot into the new image and confirm its version."""
    _rebooting(dev)
    report(0.8, "rebooting")
    wait_for_reboot(dev, step, seen_down=dropped)
    after = dev.version(step)
    if not same_version(after, firmware.version):
        raise dev.error(step, f"the device came back with {after}, not {firmware.version} (not uploaded again)")
    report(1.0, f"runs {after}")
    return Outcome(True, f"{before} → {after}")


def poll(dev: Device, read: Callable[[], T], judge: Callable[[T], bool | None]) -> bool:
    """Read the upgrade's state until ``judge`` settles it (its bool) or the device stops answering
    (True: it went down to reboot); DeviceError once the firmware timeout has passed."""
    deadline = time.monotonic() + dev.firmware_timeout
    while time.monotonic() < deadline:
        try:
            state = read()
        except TransportFailed:
            return True
        verdict = judge(state)
        if verdict is not None:
            return verdict
        time.sleep(POLL_SECONDS)
    raise dev.error("firmware", f"the upgrade did not finish within {dev.firmware_timeout:g} s")
