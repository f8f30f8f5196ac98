"""Dahua reboot and firmware upgrade (``magicBox.cgi?action=reboot``, ``upgrader.cgi``; protocols §6):
the wire under :mod:`._upgrade`.

The image goes up once as ``multipart/form-data`` on a fresh nonce (a body is never sent to be
challenged); ``getState`` tells an upgrade in flight and its progress (``Invalid``, ``FileUnmatch``,
``Failed`` end it). Free challenges wait for the reboot; ``getSoftwareVersion`` gives the version.
"""

from __future__ import annotations

import os
import time

from enforcer.drivers._wire import upgrade as _upgrade
from enforcer.drivers.base import Outcome, Progress
from enforcer.drivers.dahua import _parse
from enforcer.drivers.dahua._parse import UpgradeState
from enforcer.drivers.dahua._session import DahuaSession
from enforcer.errors import DeviceError, ParseError, TransportFailed
from enforcer.model import Firmware

MAGICBOX = "/cgi-bin/magicBox.cgi"
UPGRADER = "/cgi-bin/upgrader.cgi"


def reboot(session: DahuaSession, *, wait: bool = True) -> None:
    _upgrade.reboot(_Dahua(session), wait=wait)


def ensure_firmware(session: DahuaSession, firmware: Firmware, *, progress: Progress | None = None) -> Outcome:
    return _upgrade.ensure_firmware(_Dahua(session), firmware, progress=progress)


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


class _Dahua:
    """One Dahua device as :class:`._upgrade.Device`."""

    def __init__(self, session: DahuaSession) -> None:
        self.session = session
        self.went_down = False

    @property
    def firmware_timeout(self) -> float:
        return self.session.options.firmware_timeout

    def error(self, step: str, detail: str) -> DeviceError:
        return self.session.error(step, detail)

    def version(self, step: str) -> str:
        try:
            return _parse.software_version(self.session.get(step, MAGICBOX, "getSoftwareVersion")[1])[0]
        except ParseError as exc:
            raise self.error(step, f"unreadable software version: {exc}") from exc

    def _state(self, step: str) -> UpgradeState:
        return _parse.upgrade_state(self.session.get(step, UPGRADER, "getState")[1])

    def in_flight(self, step: str) -> bool:
        """Busy, or ``Succeeded`` and the device goes down to reboot within the grace: an interrupted
        run's upgrade. A ``Succeeded`` that outlives the grace is left over from an upgrade long done."""
        state = self._state(step)
        if state.state == "Succeeded":
            return self._goes_down(step)
        return state.in_flight

    def _goes_down(self, step: str) -> bool:
        deadline = time.monotonic() + _upgrade.DOWN_GRACE
        while time.monotonic() < deadline:
            try:
                self.probe(step)
            except TransportFailed:
                self.went_down = True
                return True
            time.sleep(_upgrade.POLL_SECONDS)
        return False

    def upload(self, step: str, name: str, image: bytes) -> None:
        body, content_type = multipart(name, image)
        self.session.challenge(step)  # a fresh nonce: the image is never sent to be answered "stale"
        self.session.request(
            "firmware upload",
            UPGRADER,
            "uploadFirmware",
            method="POST",
            body=body,
            content_type=content_type,
            timeout=self.firmware_timeout,
            write=True,
        )

    def follow(self, report: Progress) -> bool:
        """Poll ``getState`` until Succeeded (False) or the device goes down (True); a rejection is an error."""
        if self.went_down:  # seen going down to reboot already (see :meth:`in_flight`)
            return True
        seen_busy = False

        def judge(state: UpgradeState) -> bool | None:
            nonlocal seen_busy
            if state.failed:
                raise self.error("firmware", f"the device rejected the image: State={state.state}")
            report(0.5 + min(state.progress, 100) / 400, f"{state.state.lower()}: {state.progress} %")
            if state.state == "Succeeded" or (seen_busy and state.state == "Free"):
                return False
            seen_busy = seen_busy or state.busy
            return None

        return _upgrade.poll(self, lambda: self._state("upgrade state"), judge)

    def request_reboot(self) -> None:
        self.session.request("reboot", MAGICBOX, "reboot", write=True)

    def probe(self, step: str) -> None:
        self.session.challenge(step)

    def forget_nonce(self) -> None:
        self.session.state.forget()

    def drop_connections(self) -> None:
        self.session.transport.drop_connections()
