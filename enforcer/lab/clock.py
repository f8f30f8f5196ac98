"""The lab's clock: device time runs ``1 / time_scale`` times faster than real time.

Every duration a device knows about (lock time, reboot time, poll interval) is kept in *device
seconds*, so a device still reports ``unlockTime 1800`` right after locking, however small the
scale. Only sleeps and timers are converted to real seconds, with :meth:`Clock.real`.

    >>> clock = FakeClock(time_scale=0.001)
    >>> clock.real(1800)
    1.8
"""

from __future__ import annotations

import time


class Clock:
    """Monotonic device time, scaled by ``time_scale`` (real seconds per device second)."""

    def __init__(self, time_scale: float = 1.0) -> None:
        if time_scale <= 0:
            raise ValueError(f"time_scale must be positive, not {time_scale!r}")
        self.time_scale = time_scale
        self._origin = time.monotonic()

    def now(self) -> float:
        """Device seconds since the clock started."""
        return (time.monotonic() - self._origin) / self.time_scale

    def real(self, device_seconds: float) -> float:
        """Real seconds that ``device_seconds`` of device time take."""
        return device_seconds * self.time_scale

    @staticmethod
    def wall() -> float:
        """Wall-clock epoch seconds (never scaled: for timestamps only)."""
        return time.time()


class FakeClock(Clock):
    """A clock that moves only when told to, for unit tests."""

    def __init__(self, time_scale: float = 1.0, start: float = 1000.0) -> None:
        super().__init__(time_scale)
        self._now = start

    def now(self) -> float:
        return self._now

    def advance(self, device_seconds: float) -> None:
        self._now += device_seconds
