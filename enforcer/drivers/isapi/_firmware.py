"""ISAPI reboot and firmware upgrade (protocol §3.5, §3.6): the wire under :mod:`._upgrade`.

The image goes up once as ``application/octet-stream`` with the long firmware timeout (a
``statusCode 7`` "reboot required" is an accepted upload); ``upgradeStatus`` tells an upgrade in
flight and its progress, and a device that finishes without rebooting is asked to, as documented.
The version is read from ``deviceInfo``.
"""

from __future__ import annotations

import time
from contextlib import suppress

from enforcer.drivers._wire import upgrade as _upgrade
from enforcer.drivers.base import Outcome, Progress
from enforcer.drivers.isapi import _parse
from enforcer.drivers.isapi._parse import Upgrade
from enforcer.drivers.isapi._session import IsapiSession
from enforcer.errors import DeviceError, RebootRequired, XmlError
from enforcer.model import Firmware

STATUS = "/ISAPI/System/upgradeStatus"
REBOOT = "/ISAPI/System/reboot"


def reboot(session: IsapiSession, *, wait: bool = True) -> None:
    _upgrade.reboot(_Isapi(session), wait=wait)


def ensure_firmware(session: IsapiSession, firmware: Firmware, *, progress: Progress | None = None) -> Outcome:
    return _upgrade.ensure_firmware(_Isapi(session), firmware, progress=progress)


class _Isapi:
    """One ISAPI device as :class:`._upgrade.Device`."""

    def __init__(self, session: IsapiSession) -> None:
        self.session = session

    @property
    def firmware_timeout(self) -> float:
        return self.session.options.firmware_timeout

    def error(self, step: str, detail: str) -> DeviceError:
        return self.session.error(step, detail)

    def version(self, step: str) -> str:
        try:
            return _parse.device_info(self.session.get(step, "/ISAPI/System/deviceInfo")[1]).firmware_version
        except XmlError as exc:
            raise self.error(step, f"unreadable deviceInfo: {exc}") from exc

    def in_flight(self, step: str) -> bool:
        """Read just before the upload: also a live nonce, so the upload is not answered "stale"."""
        status, body = self.session.get(step, STATUS, allow=(200, 403, 404))
        try:
            state = _parse.upgrade_status(body) if status == 200 else None
        except XmlError:
            return False
        return state is not None and state.upgrading

    def upload(self, step: str, name: str, image: bytes) -> None:
        with suppress(RebootRequired):  # accepted; followed like any other upgrade
            self.session.request(
                "firmware upload",
                "PUT",
                "/ISAPI/System/updateFirmware",
                body=image,
                content_type="application/octet-stream",
                timeout=self.firmware_timeout,
            )

    def follow(self, report: Progress) -> bool:
        """Poll ``upgradeStatus`` until the device goes down (True) or finishes without rebooting (False,
        after which we ask it to reboot, as documented)."""
        finished_at: float | None = None

        def judge(reply: tuple[int, bytes]) -> bool | None:
            nonlocal finished_at
            state = self._status(*reply)
            if state is not None:
                report(0.5 + min(state.percent, 100) / 400, f"upgrading: {state.percent} %")
                if state.percent >= 100 or not state.upgrading:
                    finished_at = finished_at or time.monotonic()
            if finished_at is not None and time.monotonic() - finished_at > _upgrade.DOWN_GRACE:
                self.request_reboot()
                return False
            return None

        return _upgrade.poll(self, lambda: self.session.get("upgrade status", STATUS, allow=(200, 403, 404)), judge)

    def _status(self, status: int, body: bytes) -> Upgrade | None:
        try:
            return _parse.upgrade_status(body) if status == 200 else None
        except XmlError as exc:
            raise self.error("upgrade status", f"unreadable reply: {exc}") from exc

    def request_reboot(self) -> None:
        self.session.request("reboot", "PUT", REBOOT)

    def probe(self, step: str) -> None:
        self.session.probe(step)

    def forget_nonce(self) -> None:
        self.session.digest.forget()

    def drop_connections(self) -> None:
        self.session.transport.drop_connections()
