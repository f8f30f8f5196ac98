"""The audit's I/O edge: facts, then each device's security log, then the pure audit of every site.

Lock safety is the facts': the same keyring, guard and discovery (at most one attempt per stored password,
never the last two of a device's budget), and the security log is read afterwards with the credential the
facts proved, so a healthy device sees no failed login from an audit. Nothing is written: not a device, not
the credential store (what discovery proved is not recorded as current; ``apply`` does that).

Enforcer's own address, which forensics must tell from a culprit's, is the one the system routes each
device's connections from (a UDP socket's local address after ``connect``, which sends nothing), or
``--source-address``; behind NAT, name the address the devices see with ``own``.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

from enforcer.audit import PlayAudit, Unread, audit_site
from enforcer.drivers.base import SupportsSecurityLog
from enforcer.drivers.registry import client_kinds
from enforcer.engine.gather import Gathered, Progress, devices_of
from enforcer.engine.run import PlayRun
from enforcer.errors import DeviceError, Refused
from enforcer.facts import Gap, SecurityLog
from enforcer.model import Device

DAY = 86400.0


def audit_play(
    run: PlayRun,
    *,
    since: float,
    now: float | None = None,
    own: Iterable[str] = (),
    progress: Progress | None = None,
) -> PlayAudit:
    """Gather the play's facts and security logs (read-only) and audit each selected site."""
    found = run.gather(progress=progress)
    now = time.time() if now is None else now
    logs = read_logs(run, found, since)
    devices = devices_of(run.play)
    mine = set(own) | own_addresses(devices, run.options.source_address)
    unread = {f.id: Unread(f.step, f.reason, f.unlock_seconds) for f in found.failures}
    known, recorded, kinds = run.known(), run.keyring.isolated(), client_kinds()
    sites = tuple(
        audit_site(
            site,
            found.facts,
            unread,
            logs,
            enforce=run.play.enforce,
            known=known,
            now=now,
            recorded=recorded,
            own=mine,
            kinds=kinds,
            client_failures=found.client_failures,
        )
        for site in run.play.selected()
    )
    return PlayAudit(run.play.name, sites)


def read_logs(run: PlayRun, found: Gathered, since: float) -> dict[str, SecurityLog]:
    """Each read device's security log, concurrently; a driver without the ability is left out, and a read
    that fails becomes the log's gap (it never fails the device: its facts stand)."""
    drivers = [(d, run.drivers[d]) for d in found.facts if d in run.drivers]
    able = [(d, drv) for d, drv in drivers if isinstance(drv, SupportsSecurityLog)]

    def one(item: tuple[str, object]) -> tuple[str, SecurityLog]:
        device_id, driver = item
        assert isinstance(driver, SupportsSecurityLog)
        try:
            return device_id, driver.failed_logins(since)
        except DeviceError as exc:
            return device_id, SecurityLog(since, gap=Gap("security_log", f"the log could not be read: {exc.detail}"))
        except Refused as exc:
            return device_id, SecurityLog(since, gap=Gap("security_log", f"not read: {exc.reason}"))

    if not able:
        return {}
    with ThreadPoolExecutor(max_workers=max(1, min(run.concurrency, len(able))), thread_name_prefix="log") as pool:
        return dict(pool.map(one, able))


def own_addresses(devices: Iterable[Device], source_address: str | None) -> set[str]:
    """The local addresses the system routes connections to ``devices`` from (nothing is sent)."""
    if source_address:
        return {source_address}
    found: set[str] = set()
    for address in {d.address for d in devices}:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        try:
            with socket.socket(family, socket.SOCK_DGRAM) as probe:
                probe.connect((address, 9))
                found.add(probe.getsockname()[0])
        except OSError:
            continue  # unresolvable or unroutable: its facts failed too, and say why
    return found
