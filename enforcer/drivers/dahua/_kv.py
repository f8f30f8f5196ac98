"""Dahua CGI bodies and query strings (protocols/dahua-cgi.md §1), pure: no I/O.

Replies are ``key=value`` lines (CRLF or LF), split on the **first** ``=``; a line without ``=``
continues the previous value (long ``Detail`` fields fold). A refusal is a body whose first line is
``Error`` (never a substring: a camera may be called "Terror Cam"); a write succeeded when the body
is ``OK`` or empty. Queries put ``action`` first and percent-encode every value, so ``& = % + #`` in
a password cannot corrupt the request.

    >>> parse(b"table.General.MachineName=Cam=4\\r\\nusers[0].Memo=admin 's account\\r\\n")
    {'table.General.MachineName': 'Cam=4', 'users[0].Memo': "admin 's account"}
    >>> query("setConfig", [("General.MachineName", "a&b")])
    'action=setConfig&General.MachineName=a%26b'
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from urllib.parse import quote

_INDEX = re.compile(r"\[(\d+)\]")
KEY_SAFE = "[].:_-"  # brackets, dots and the ``uuid:`` colon stay raw; devices accept both forms


def lines(body: bytes) -> list[str]:
    """The body's non-empty lines, CR stripped, decoded leniently (a device is not a UTF-8 oracle)."""
    text = body.decode("utf-8", errors="replace")
    return [line.rstrip("\r") for line in text.split("\n") if line.strip("\r").strip()]


def parse(body: bytes) -> dict[str, str]:
    """``key=value`` lines into a dict, keys in the order the device sent them; folded lines join."""
    out: dict[str, str] = {}
    last: str | None = None
    for line in lines(body):
        key, eq, value = line.partition("=")
        if not eq or not key.strip() or " " in key.strip():
            if last is not None:  # a continuation of the previous value
                out[last] += "\n" + line
            continue
        last = key.strip()
        out[last] = value
    return out


def first_line(body: bytes) -> str:
    found = lines(body)
    return found[0].strip() if found else ""


_ERROR = re.compile(r"error(?![a-z0-9_])", re.IGNORECASE)


def is_error(body: bytes) -> bool:
    """A refusal on HTTP 200: the first line is the word ``Error``, alone or followed by what went
    wrong (``Error: Error -1 getting param in name=...`` on an LTN6416); ``ErrorCode=0`` is data."""
    return _ERROR.match(first_line(body)) is not None


def error_detail(body: bytes) -> str:
    """What an ``Error`` body says beyond the word (``Bad Request!``, ``Error -1 getting param``)."""
    found = lines(body)
    head = first_line(body)[len("error") :].lstrip(" :") if found else ""
    rest = [head] if head else []
    rest += [line.strip() for line in found[1:]]
    return " ".join(rest)[:200]


def is_ok(body: bytes) -> bool:
    """A write's success: ``OK`` or, on endpoints that answer nothing, an empty body."""
    head = first_line(body)
    return head == "" or head.upper() == "OK"


def encode(value: str) -> str:
    """One query value, every reserved character escaped."""
    return quote(value, safe="")


def query(action: str, params: Iterable[tuple[str, str]] | Mapping[str, str] = ()) -> str:
    """``action=<action>&k=v...`` with ``action`` first and every value percent-encoded."""
    items = params.items() if isinstance(params, Mapping) else params
    parts = [f"action={encode(action)}"]
    parts += [f"{quote(key, safe=KEY_SAFE)}={encode(value)}" for key, value in items]
    return "&".join(parts)


def boolean(value: str | None) -> bool | None:
    if value is None:
        return None
    low = value.strip().lower()
    return True if low == "true" else False if low == "false" else None


def integer(value: str | None) -> int | None:
    try:
        return int(value.strip()) if value is not None else None
    except ValueError:
        return None


def indexed(values: Mapping[str, str], prefix: str) -> dict[int, dict[str, str]]:
    """Group ``<prefix>[i].<field>=v`` keys by ``i`` (indices may skip after deletes)."""
    out: dict[int, dict[str, str]] = {}
    for key, value in values.items():
        if not key.startswith(prefix + "["):
            continue
        match = _INDEX.match(key, len(prefix))
        if match is None:
            continue
        rest = key[match.end() :].removeprefix(".")
        out.setdefault(int(match.group(1)), {})[rest] = value
    return dict(sorted(out.items()))


def array(fields: Mapping[str, str], name: str) -> list[str]:
    """``name[j]=v`` values in index order."""
    found = indexed(fields, name)
    return [entry[""] for _, entry in found.items() if "" in entry]
