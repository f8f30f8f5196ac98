"""The Dahua device log over ``log.cgi`` (dahua-cgi.md "Security log"): logins, logouts, locks.

Why the lab keeps one: the log is where an installer looks for who logged in, and clients read it
(python-amcrest's ``log_find``), so a lab that answered 400 could not replay them. Every successful
authentication is a ``Login`` entry with the client's address and channel (``CGI`` for each fresh
digest handshake, ``Web3.0`` for RPC2), a session's end a ``Logout``; a lock writes
``Event.LoginFailure`` with the user and source (the type string is not captured anywhere [I]). A
wrong password alone writes nothing, as on devices. Times are the device's wall clock without zone.
Finding is a cursor: ``startFind`` → ``token``, ``doFind`` pages until ``found=0``, ``stopFind``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from enforcer.lab.dahua import kv
from enforcer.lab.net.httpserver import Request, Response

if TYPE_CHECKING:
    from enforcer.lab.dahua.device import DahuaDevice, Session

MAX_ENTRIES = 1024  # a bounded log drops its oldest entries
MAX_FINDS = 8  # open find tokens; the oldest is closed past it
MAX_PAGE = 100
FORMAT = "%Y-%m-%d %H:%M:%S"


@dataclass(frozen=True)
class Entry:
    time: str
    type: str
    user: str
    address: str
    channel: str


@dataclass
class _Find:
    entries: list[Entry]
    offset: int = 0


@dataclass
class DeviceLog:
    """The log and its open finds."""

    entries: list[Entry] = field(default_factory=list)
    finds: dict[int, _Find] = field(default_factory=dict)
    next_token: int = 1

    def add(self, when: float, kind: str, user: str, address: str, channel: str) -> None:
        stamp = time.strftime(FORMAT, time.localtime(when))
        self.entries.append(Entry(stamp, kind, user, address, channel))
        del self.entries[:-MAX_ENTRIES]

    def open(self, start: str, end: str, kind: str) -> int:
        chosen = [e for e in self.entries if start <= e.time <= end and (not kind or e.type == kind)]
        token, self.next_token = self.next_token, self.next_token + 1
        self.finds[token] = _Find(chosen)
        while len(self.finds) > MAX_FINDS:
            del self.finds[next(iter(self.finds))]
        return token


def record(dev: DahuaDevice, kind: str, user: str, address: str, channel: str) -> None:
    dev.log.add(dev.host.clock.wall(), kind, user, address, channel)


def _token(dev: DahuaDevice, req: Request) -> int | None:
    raw = req.query.get("token", "")
    return int(raw) if raw.isdigit() and int(raw) in dev.log.finds else None


def start_find(dev: DahuaDevice, req: Request, s: Session) -> Response:
    q = req.query
    start, end = q.get("condition.StartTime", ""), q.get("condition.EndTime", "")
    if not start or not end:
        return kv.error("Bad Request!")
    token = dev.log.open(start, end, q.get("condition.Type", ""))
    return kv.kv([("token", token)])  # alone: python-amcrest reads everything after the first "="


def do_find(dev: DahuaDevice, req: Request, s: Session) -> Response:
    token = _token(dev, req)
    if token is None:
        return kv.error()
    count = req.query.get("count", "")
    size = min(int(count), MAX_PAGE) if count.isdigit() else MAX_PAGE
    find = dev.log.finds[token]
    page = find.entries[find.offset : find.offset + size]
    find.offset += len(page)
    pairs: list[tuple[str, object]] = [("found", len(page))]
    for i, e in enumerate(page):
        item = f"items[{i}]"
        pairs += [
            (f"{item}.Detail.Address", e.address),
            (f"{item}.Detail.Type", e.channel),
            (f"{item}.Level", 0),
            (f"{item}.Time", e.time),
            (f"{item}.Type", e.type),
            (f"{item}.User", e.user),
        ]
    return kv.kv(pairs)


def stop_find(dev: DahuaDevice, req: Request, s: Session) -> Response:
    token = _token(dev, req)
    if token is None:
        return kv.error()
    del dev.log.finds[token]
    return kv.ok()


def register(reg: Callable[..., None]) -> None:
    reg("log.cgi", startFind=start_find, doFind=do_find, stopFind=stop_find)
