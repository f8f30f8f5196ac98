"""The Dahua device log over ``log.cgi``: failed logins and locks by source (protocols/dahua-cgi.md,
"Security log").

A wrong password writes no line of its own on any firmware found; what the log holds is the "Illegal Login"
alarm once ``TryLoginTimes`` is passed and the lock it leads to, with the user and the source address. So a
Dahua log records **locks**, not each failure, and its silence proves nothing (:class:`SecurityLog` says so
in ``records``). The rules for a reader, and why:

- every type is fetched and filtered here (``condition.Type`` values are documented nowhere): evidence is an
  entry whose type or detail names ``LoginFailure``, "Illegal Login" or a lock; ``Login`` is a success;
- times are the device's wall clock without zone: the offset is ``getCurrentTime`` minus our UTC, rounded to
  15 minutes, and the window is widened by an hour for a DST change;
- a find is a cursor with a small limit of open tokens: ``stopFind`` always, in a ``finally``; pages of at
  most 100 until ``found=0`` or a short page, and a bounded number of pages.

Parsing is pure (:func:`parse_time`, :func:`offset`, :func:`events`); :func:`read` sends requests, only with
the credential the facts read proved.
"""

from __future__ import annotations

from contextlib import suppress
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from enforcer.drivers.dahua import _kv as kv
from enforcer.errors import DeviceError
from enforcer.facts import Gap, LoginEvent, LoginEventKind, SecurityLog

if TYPE_CHECKING:
    from enforcer.drivers.dahua._session import DahuaSession

LOG = "/cgi-bin/log.cgi"
GLOBAL = "/cgi-bin/global.cgi"
FORMAT = "%Y-%m-%d %H:%M:%S"
PAGE = 100
MAX_PAGES = 50
DST = timedelta(hours=1)
QUARTER = 900  # time zones are whole quarter hours
_EVIDENCE = ("loginfailure", "illegal login", "lock")
_NOWHERE = frozenset({"", "0.0.0.0", "::"})


def parse_time(raw: str) -> datetime | None:
    """``YYYY-MM-DD HH:MM:SS`` (naive device wall time), or None."""
    try:
        return datetime.strptime(raw.strip(), FORMAT)
    except ValueError:
        return None


def offset(device_now: datetime, utc_now: datetime) -> timedelta:
    """The device's wall-clock offset from UTC, rounded to a quarter hour (clocks drift by seconds)."""
    seconds = (device_now - utc_now).total_seconds()
    return timedelta(seconds=round(seconds / QUARTER) * QUARTER)


def events(body: bytes, shift: timedelta) -> tuple[list[LoginEvent], int]:
    """One ``doFind`` page: the failure and lock entries in UTC, and how many entries it held (``found``)."""
    values = kv.parse(body)
    found = kv.integer(values.get("found")) or 0
    out = []
    for item in kv.indexed(values, "items").values():
        kind = _kind(item)
        when = parse_time(item.get("Time", ""))
        source = item.get("Detail.Address", "").strip()
        if kind is None or when is None or source in _NOWHERE:
            continue
        utc = (when - shift).replace(tzinfo=UTC).timestamp()
        out.append(LoginEvent(utc, source, item.get("User", "").strip(), kind))
    return out, found


def _kind(item: dict[str, str]) -> LoginEventKind | None:
    """``lock`` or ``failure`` for evidence of failed logins, None for anything else (a ``Login`` included)."""
    said = " ".join(v for k, v in item.items() if k == "Type" or k.startswith("Detail")).lower()
    if "unlock" in said or not any(word in said for word in _EVIDENCE):
        return None
    return "lock" if "lock" in said else "failure"


def read(session: DahuaSession, since: float, now: float) -> SecurityLog:
    """Failure and lock entries since ``since``, or the gap when the firmware has no ``log.cgi``."""
    utc_now = datetime.fromtimestamp(now, UTC).replace(tzinfo=None)
    got = session.optional("device time", GLOBAL, "getCurrentTime", [])
    device_now = parse_time(kv.parse(got[1]).get("result", "")) if not isinstance(got, str) else None
    shift = offset(device_now, utc_now) if device_now is not None else timedelta(0)
    start = datetime.fromtimestamp(since, UTC).replace(tzinfo=None) + shift - DST
    end = utc_now + shift + DST
    params = [("condition.StartTime", start.strftime(FORMAT)), ("condition.EndTime", end.strftime(FORMAT))]
    opened = session.optional("security log", LOG, "startFind", params)
    if isinstance(opened, str):
        return SecurityLog(since, records="locks", gap=Gap("security_log", f"the firmware has no log.cgi ({opened})"))
    token = kv.parse(opened[1]).get("token", "").strip()
    if not token.isdigit():
        raise session.error("security log", "startFind gave no token")
    found: list[LoginEvent] = []
    truncated = True
    try:
        for _ in range(MAX_PAGES):
            page = session.get("security log", LOG, "doFind", [("token", token), ("count", str(PAGE))])[1]
            evidence, count = events(page, shift)
            found += evidence
            if count < PAGE:
                truncated = False
                break
    finally:
        with suppress(DeviceError):  # an expired token is closed already; the next find takes another
            session.get("security log", LOG, "stopFind", [("token", token)])
    kept = tuple(sorted((e for e in found if e.time >= since), key=lambda e: e.time))
    return SecurityLog(since, kept, "locks", truncated=truncated)
