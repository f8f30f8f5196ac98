"""The device's own security log and ``POST /ISAPI/ContentMgmt/logSearch`` ("Security log" section).

Every rejected authentication appends Exception/``illlegealAccess`` (the NVR firmware spelling) with
the source address and the user name tried; every new login session appends Operation/``remoteLogin``.
Searches take both ``log.std-cgi.com`` and ``log.hikvision.com`` prefixes, match ``metaId`` case
-sensitively, page with the misspelled ``searchResultPostion`` (≤ 100 a page, ``MORE``/``OK``/
``NO MATCHES``), stop at 2,000 entries a search and group results by major type, oldest first.
``StartDateTime`` is the device's wall clock, which in the lab is UTC, marked ``Z``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from enforcer.lab.clock import Clock
from enforcer.lab.isapi.xml import Raw, XmlFormatError, parse, tags, text
from enforcer.lab.net.httpserver import Request, Response

if TYPE_CHECKING:
    from enforcer.lab.isapi.device import HikDevice, Session

MAJORS = ("Alarm", "Exception", "Operation", "Infomation")
PREFIXES = ("log.std-cgi.com", "log.hikvision.com")
SEARCH_CAP = 2000
KEEP = 5000


@dataclass(frozen=True)
class LogEntry:
    time: float  # wall-clock epoch seconds
    major: str
    minor: str
    user: str
    address: str


class SecurityLog:
    """A bounded in-memory log of one device."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.entries: deque[LogEntry] = deque(maxlen=KEEP)

    def add(self, major: str, minor: str, user: str, address: str) -> None:
        self.entries.append(LogEntry(self.clock.wall(), major, minor, user, address))

    def search(self, major: str | None, minor: str | None, start: float, end: float) -> list[LogEntry]:
        hits = [
            e
            for e in self.entries
            if (major is None or e.major == major) and (minor is None or e.minor == minor) and start <= e.time <= end
        ]
        hits.sort(key=lambda e: (MAJORS.index(e.major) if e.major in MAJORS else 99, e.time))
        return hits[:SEARCH_CAP]


def _when(raw: str | None, default: float) -> float:
    if not raw:
        return default
    stamp = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return stamp.timestamp()


def _stamp(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_meta(meta: str) -> tuple[str | None, str | None] | None:
    for prefix in PREFIXES:
        if meta == prefix:
            return None, None
        if meta.startswith(prefix + "/"):
            parts = meta[len(prefix) + 1 :].split("/")
            return parts[0], parts[1] if len(parts) > 1 else None
    return None


def log_search(dev: HikDevice, req: Request, s: Session) -> Response:
    try:
        el = parse(req.body)
    except XmlFormatError:
        return dev.bad_format(req)
    if el.tag != "CMSearchDescription" or el.find("MetaId") is not None:
        return dev.bad_content(req)
    meta = _parse_meta(text(el, "metaId") or "")
    if meta is None:
        return dev.bad_content(req, "metaId")
    try:
        start = _when(text(el, "timeSpanList/timeSpan/startTime"), 0.0)
        end = _when(text(el, "timeSpanList/timeSpan/endTime"), 4e9)
        size = max(0, min(100, int(text(el, "maxResults") or "40")))
        position = max(0, int(text(el, "searchResultPostion") or "0"))
    except ValueError:
        return dev.bad_content(req)
    hits = dev.seclog.search(meta[0], meta[1], start, end)
    page = hits[position : position + size]
    more = position + len(page) < len(hits)
    state = "NO MATCHES" if not page else ("MORE" if more else "OK")
    items = "".join(
        "<searchMatchItem><logDescriptor>"
        + tags(
            [
                ("metaId", f"log.hikvision.com/{e.major}/{e.minor}"),
                ("StartDateTime", _stamp(e.time)),
                ("paraType", ""),
                ("userName", e.user),
                ("ipAddress", e.address),
            ]
        )
        + "</logDescriptor></searchMatchItem>"
        for e in page
    )
    search_id = text(el, "searchID") or ""
    if not search_id.startswith("{"):
        search_id = "{" + search_id + "}"
    body = tags(
        [
            ("searchID", search_id),
            ("responseStatus", True),
            ("responseStatusStrg", state),
            ("numOfMatches", len(page)),
            ("matchList", Raw(items)),
        ]
    )
    return dev.xml("CMSearchResult", body)


def security_log_search(dev: HikDevice, req: Request, s: Session) -> Response:
    return dev.invalid(req, "notSupport")


def content_caps(dev: HikDevice, req: Request, s: Session) -> Response:
    return dev.xml("RacmCap", tags([("isSupportLogSearch", not dev.lacks("log_search"))]))


def register(route: Callable[..., None]) -> None:
    route(r"/ISAPI/ContentMgmt/logSearch", feature="log_search", POST=log_search)
    route(r"/ISAPI/ContentMgmt/security/logSearch", POST=security_log_search)
    route(r"/ISAPI/ContentMgmt/capabilities", GET=content_caps)
