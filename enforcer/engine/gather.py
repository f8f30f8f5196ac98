"""Gathering facts: every selected device of a play, concurrently, one failure never stopping the others.

The engine only calls drivers; opening one (protocol, credentials, guard, options) is the caller's
business, passed in as ``open_driver``. Each device gets its own driver, used by one greenlet (or
thread) at a time, so the driver rule "one request at a time per device" holds. Devices named by IP
address are read in greenlets of one thread (:class:`~enforcer.drivers._wire.hub.Hub`): at 1,000 devices
that took 1.8 s where 20 threads took 3.2 s (``bench/perf_bench.py``), the difference being the
interpreter lock passed between threads on every request. A fleet with a device named by host name is
read by threads, so that a slow name server holds up one device, not all. A device that fails (a
:class:`~enforcer.errors.DeviceError`, the guard refusing, or a driver bug) becomes a
:class:`Failure` naming its site, device, step and reason.

    >>> from enforcer.facts import DeviceFacts
    >>> result = gather([], lambda device: None)  # type: ignore[arg-type,return-value]
    >>> result.facts, result.failures
    ({}, ())
"""

from __future__ import annotations

import ipaddress
import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from enforcer.drivers._wire.hub import Hub
from enforcer.drivers.base import DeviceDriver
from enforcer.errors import DeviceError, LockedOut, Refused, TransportFailed
from enforcer.facts import DeviceFacts
from enforcer.model import Device, Play

log = logging.getLogger("enforcer.engine.gather")

__all__ = ["Failure", "Gathered", "devices_of", "gather"]


@dataclass(frozen=True)
class Failure:
    """Why one device has no facts."""

    site: str
    device: str
    step: str
    reason: str
    unlock_seconds: float = 0.0  # > 0: the device reports us locked out for this long; worth waiting out
    unreachable: bool = False  # no reply came back (timeout, refused, reset): Ansible's "unreachable"

    @property
    def id(self) -> str:
        return f"{self.site}/{self.device}"


@dataclass(frozen=True)
class Gathered:
    """Facts by device id (``site/name``) and the devices that failed, both in inventory order; and the
    clients with an API that could not be reached (by client id: why)."""

    facts: dict[str, DeviceFacts]
    failures: tuple[Failure, ...]
    client_failures: dict[str, str] = field(default_factory=dict)


#: ``progress(device, result, done, total)`` after each device, from the worker threads.
Progress = Callable[[Device, DeviceFacts | Failure, int, int], None]


def devices_of(play: Play) -> tuple[Device, ...]:
    """Every device of the play's selected sites, recorders first within a site."""
    return tuple(d for site in play.selected() for d in (*site.recorders, *site.cameras))


def _one(device: Device, open_driver: Callable[[Device], DeviceDriver], close: bool) -> DeviceFacts | Failure:
    try:
        driver = open_driver(device)
    except DeviceError as exc:
        return Failure(device.site, device.name, exc.step, exc.detail)
    except LookupError as exc:  # no driver registered for the device's protocol
        return Failure(device.site, device.name, "driver", str(exc))
    try:
        return driver.facts()
    except LockedOut as exc:
        return Failure(device.site, device.name, exc.step, exc.detail, exc.unlock_seconds)
    except TransportFailed as exc:
        return Failure(device.site, device.name, exc.step, exc.detail, unreachable=exc.kind != "tls")
    except DeviceError as exc:
        return Failure(device.site, device.name, exc.step, exc.detail)
    except Refused as exc:
        return Failure(device.site, device.name, "login", f"login not attempted: {exc.reason}")
    except Exception as exc:  # a driver bug must fail this device, not the run
        log.exception("%s: facts failed unexpectedly", device.id)
        return Failure(device.site, device.name, "facts", f"internal error: {type(exc).__name__}")
    finally:
        if close:
            try:
                driver.close()
            except Exception:  # closing sockets must not turn facts into a failure
                log.debug("%s: close failed", device.id, exc_info=True)


def _literal(address: str) -> bool:
    """Whether ``address`` is an IP address (a name would be resolved, and a name server may be slow)."""
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return False
    return True


def gather(
    devices: Sequence[Device],
    open_driver: Callable[[Device], DeviceDriver],
    *,
    concurrency: int = 20,
    progress: Progress | None = None,
    close: bool = True,
) -> Gathered:
    """Facts for ``devices`` with at most ``concurrency`` devices in flight.

    Args:
        devices: the devices to read, e.g. :func:`devices_of` a play.
        open_driver: makes the driver for a device (may raise DeviceError or LookupError).
        concurrency: devices read at once (greenlets, or threads); each works on one device at a time.
        progress: called after every device with its result and the running count.
        close: close each driver's connections after its facts (a closed driver reconnects when used again),
            so that a fleet is read with a socket per device in flight, not one per device read.
    """
    results: dict[str, DeviceFacts | Failure] = {}
    done = 0
    lock = threading.Lock()

    def work(device: Device) -> None:
        nonlocal done
        result = _one(device, open_driver, close)
        with lock:
            results[device.id] = result
            done += 1
            count = done
        if progress is not None:
            progress(device, result, count, len(devices))

    workers = max(1, min(concurrency, len(devices)))
    if devices and all(_literal(d.address) for d in devices):
        Hub().run(work, devices, workers)
    elif devices:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="facts") as pool:
            for future in [pool.submit(work, d) for d in devices]:
                future.result()
    facts = {d.id: r for d in devices if isinstance(r := results[d.id], DeviceFacts)}
    failures = tuple(r for d in devices if isinstance(r := results[d.id], Failure))
    return Gathered(facts, failures)
