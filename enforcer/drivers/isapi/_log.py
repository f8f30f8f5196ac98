"""The ISAPI security log: failed logins by source (protocols/hikvision-isapi.md, "Security log").

Every rejected login is an Exception entry, minor ``illegalAccess`` in the manual and ``illlegealAccess`` on
NVR/DVR firmware, with the source in ``ipAddress`` (``remoteHostIPAddress`` where a device fills it) and the
user name tried. A lock writes nothing of its own. What the rules for a reader say, and why:

- search ``log.std-cgi.com/Exception`` alone (the minor type in ``metaId`` is not relied on), one
  ``searchID`` per search, paging with the misspelled ``searchResultPostion``, stopping on ``OK``,
  ``NO MATCHES``, an empty page or the page limit;
- one search stops at 2,000 entries without saying so, so a window that comes near it is split in two
  (newest half first: if the page budget runs out, what is missing is the oldest);
- ``StartDateTime`` is the device's wall clock marked ``Z``: the window is sent, and the entries read back,
  with the offset ``/ISAPI/System/time`` gives, widened by an hour for a DST change in between.

Parsing is pure (:func:`parse_page`, :func:`failures`); :func:`read` is the only part that sends anything,
and it sends only the credential the facts read proved.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from enforcer.drivers.isapi._xml import document, elements, parse, response_status, text
from enforcer.errors import XmlError
from enforcer.facts import Gap, LoginEvent, SecurityLog

if TYPE_CHECKING:
    from enforcer.drivers.isapi._session import IsapiSession

LOG_SEARCH = "/ISAPI/ContentMgmt/logSearch"
TIME = "/ISAPI/System/time"
META = "log.std-cgi.com/Exception"
PAGE = 100
NEAR_CAP = 1500  # a search returning this many may have been cut at 2,000: split its window
MAX_PAGES = 100  # per device and read: 10,000 entries
DST = timedelta(hours=1)
FAILURE_MINORS = frozenset({"illegalaccess", "illlegealaccess"})
_NOWHERE = frozenset({"", "0.0.0.0", "::"})


@dataclass(frozen=True)
class Entry:
    """One ``logDescriptor`` as the device wrote it (``when`` its wall clock, naive)."""

    meta: str
    when: datetime
    user: str
    address: str
    aware: bool = False  # the stamp carried a real offset, not the device's ``Z``


@dataclass(frozen=True)
class Page:
    status: str  # OK | MORE | NO MATCHES
    entries: tuple[Entry, ...]


def offset(body: bytes) -> timedelta:
    """The device's wall-clock offset from UTC, from ``<localTime>`` (e.g. ``…-03:00``); zero when unsaid."""
    stamp = text(parse(body), "localTime") or ""
    try:
        when = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return timedelta(0)
    return when.utcoffset() or timedelta(0)


def search_body(start: datetime, end: datetime, position: int, search_id: str) -> bytes:
    """A ``CMSearchDescription`` for ``[start, end]`` in device wall time, in the device's own style (``Z``)."""
    span = elements([("startTime", _stamp(start)), ("endTime", _stamp(end))])
    inner = elements([("searchID", search_id), ("metaId", META)])
    inner += f"<timeSpanList><timeSpan>{span}</timeSpan></timeSpanList>"
    inner += elements([("maxResults", PAGE), ("searchResultPostion", position)])
    return document("CMSearchDescription", inner)


def parse_page(body: bytes) -> Page:
    """A ``CMSearchResult``; raises XmlError for anything else."""
    root = parse(body)
    if root.tag != "CMSearchResult":
        raise XmlError(f"expected <CMSearchResult>, got <{root.tag}>")
    entries = []
    for item in root.iter("logDescriptor"):
        raw = text(item, "StartDateTime") or ""
        try:
            when = datetime.fromisoformat(raw.replace("Z", ""))
        except ValueError:
            continue  # an entry without a time says nothing about when
        address = text(item, "remoteHostIPAddress") or text(item, "ipAddress") or ""
        aware = when.tzinfo is not None
        if aware:
            when = when.astimezone(UTC).replace(tzinfo=None)
        entries.append(Entry(text(item, "metaId") or "", when, text(item, "userName") or "", address, aware))
    return Page((text(root, "responseStatusStrg") or "OK").upper(), tuple(entries))


def failures(entries: list[Entry], shift: timedelta) -> tuple[LoginEvent, ...]:
    """The failed logins among ``entries``, in UTC (``shift`` is the device's offset), oldest first."""
    out = []
    for e in entries:
        minor = e.meta.split("/")[2] if e.meta.count("/") >= 2 else ""
        if minor.lower() not in FAILURE_MINORS or e.address in _NOWHERE:
            continue
        utc = e.when if e.aware else e.when - shift
        out.append(LoginEvent(utc.replace(tzinfo=UTC).timestamp(), e.address, e.user, "failure"))
    return tuple(sorted(out, key=lambda ev: ev.time))


def read(session: IsapiSession, since: float, now: float) -> SecurityLog:
    """Failed logins since ``since``, or the gap when the firmware has no log search."""
    status, body = session.get("device time", TIME, allow=(200, 403, 404))
    shift = offset(body) if status == 200 else timedelta(0)
    start = datetime.fromtimestamp(since, UTC).replace(tzinfo=None) + shift - DST
    end = datetime.fromtimestamp(now, UTC).replace(tzinfo=None) + shift + DST
    budget = _Budget(MAX_PAGES)
    found = _search(session, start.replace(microsecond=0), end.replace(microsecond=0), budget)
    if found is None:
        detail = f"the firmware does not support the log search ({LOG_SEARCH}: notSupport)"
        return SecurityLog(since, gap=Gap("security_log", detail))
    events = tuple(e for e in failures(found, shift) if e.time >= since)
    return SecurityLog(since, events, "failures", truncated=budget.spent)


@dataclass
class _Budget:
    pages: int
    spent: bool = False  # ran out: something was left unread


def _search(session: IsapiSession, start: datetime, end: datetime, budget: _Budget) -> list[Entry] | None:
    """Every entry of ``[start, end]``, splitting windows near the cap; None when the firmware has no search."""
    entries: list[Entry] = []
    search_id = str(uuid.uuid4()).upper()
    while True:
        if budget.pages <= 0:
            budget.spent = True
            return entries
        budget.pages -= 1
        reply = session.request(
            "security log",
            "POST",
            LOG_SEARCH,
            body=search_body(start, end, len(entries), search_id),
            allow=(200, 403, 404),
        )
        if reply.status != 200:
            if reply.status == 404 or _not_supported(reply.body):
                return None
            raise session.error("security log", f"HTTP {reply.status} to the log search")
        try:
            page = parse_page(reply.body)
        except XmlError as exc:
            raise session.error("security log", f"unreadable log search reply: {exc}") from exc
        entries += page.entries
        if page.status != "MORE" or not page.entries:
            break
    if len(entries) < NEAR_CAP or end - start <= timedelta(seconds=2):
        return entries
    middle = start + (end - start) / 2
    middle = middle.replace(microsecond=0)
    newer = _search(session, middle + timedelta(seconds=1), end, budget) or []
    older = _search(session, start, middle, budget) or []
    return older + newer


def _not_supported(body: bytes) -> bool:
    try:
        status = response_status(parse(body))
    except XmlError:
        return True  # a bare 403: the firmware does not know the path
    return status is None or status.sub == "notSupport"


def _stamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")
