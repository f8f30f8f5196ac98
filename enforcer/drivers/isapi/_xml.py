"""ISAPI XML: safe, namespace-agnostic parsing, the generic replies, and request bodies.

Devices answer in the ``hikvision.com``, ``isapi.org`` or ``std-cgi.com`` namespace, or none
(protocol §1); every parser here sees bare element names. A DOCTYPE is refused outright, so no
entity can expand. Values sent in bodies are XML-escaped here and nowhere else.

    >>> text(parse(b'<a xmlns="http://www.isapi.org/ver20/XMLSchema"><b> 1 </b></a>'), "b")
    '1'
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass

from enforcer.errors import XmlError


def parse(body: bytes) -> ET.Element:
    """Parse a reply and strip namespaces; raises :class:`XmlError`.

    >>> parse(b'<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>')
    Traceback (most recent call last):
    ...
    enforcer.errors.XmlError: reply holds a DOCTYPE or is not UTF-8, which is refused
    """
    if not body.strip():
        raise XmlError("empty reply where XML was expected")
    # Entities can only be declared in a DOCTYPE; without one expat expands nothing. A UTF-16/32 body
    # (NUL bytes) could hide the keyword from this scan, and no device sends one, so it is refused too.
    if b"<!DOCTYPE" in body or b"<!ENTITY" in body or b"\0" in body:
        raise XmlError("reply holds a DOCTYPE or is not UTF-8, which is refused")
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise XmlError(f"malformed XML ({exc})") from exc
    for el in root.iter():
        if isinstance(el.tag, str) and "}" in el.tag:
            el.tag = el.tag.split("}", 1)[1]
    return root


def text(el: ET.Element, path: str) -> str | None:
    """Stripped text at ``path``; ``""`` for an empty element, ``None`` when absent."""
    found = el.find(path)
    return None if found is None else (found.text or "").strip()


def boolean(raw: str | None) -> bool | None:
    """``true``/``false`` as a bool, ``None`` when absent or unreadable."""
    if raw is None:
        return None
    return {"true": True, "1": True, "false": False, "0": False}.get(raw.strip().lower())


def integer(raw: str | None) -> int | None:
    try:
        return int(raw) if raw not in (None, "") else None
    except ValueError:
        return None


def expect(root: ET.Element, *names: str) -> ET.Element:
    """``root`` if its tag is one of ``names``, else :class:`XmlError` naming what came instead."""
    if root.tag not in names:
        raise XmlError(f"expected <{names[0]}>, got <{root.tag}>")
    return root


# -- the generic replies --------------------------------------------------------------------------


@dataclass(frozen=True)
class Status:
    """A ``ResponseStatus``: ``code`` 0/1 is success, 7 means a reboot is required."""

    code: int
    string: str = ""
    sub: str = ""
    error_code: str = ""
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.code in (0, 1)

    def describe(self) -> str:
        parts = [f"{self.code} {self.string}".strip(), self.sub, self.error_code, self.message]
        return " / ".join(p for p in parts if p)


def response_status(root: ET.Element) -> Status | None:
    """The ``ResponseStatus`` in ``root``, or ``None`` when the reply is something else."""
    if root.tag != "ResponseStatus":
        return None
    return Status(
        code=integer(text(root, "statusCode")) or 0,
        string=text(root, "statusString") or "",
        sub=text(root, "subStatusCode") or "",
        error_code=text(root, "errorCode") or "",
        message=text(root, "errorMsg") or "",
    )


@dataclass(frozen=True)
class UserCheck:
    """A ``userCheck`` body (protocol §2.2, §2.3, §3.1); ``None`` where the firmware does not say."""

    status: int | None
    is_default: bool | None = None
    is_risk: bool | None = None
    locked: bool = False
    unlock_seconds: float = 0.0
    attempts_left: int | None = None


def user_check(body: bytes) -> UserCheck | None:
    """Read a ``userCheck`` from any reply body; ``None`` when there is none (e.g. an HTML 401 page)."""
    try:
        root = parse(body)
    except XmlError:
        return None
    if root.tag != "userCheck":
        return None
    lock = (text(root, "lockStatus") or "").lower()
    return UserCheck(
        status=integer(text(root, "statusValue")),
        is_default=boolean(text(root, "isDefaultPassword")),
        is_risk=boolean(text(root, "isRiskPassword")),
        locked=lock in ("lock", "locked"),
        unlock_seconds=float(integer(text(root, "unlockTime")) or 0),
        attempts_left=integer(text(root, "retryLoginTime")),
    )


# -- request bodies -------------------------------------------------------------------------------


def element(name: str, value: object) -> str:
    """``<name>value</name>`` with the value escaped; booleans as ``true``/``false``."""
    if isinstance(value, bool):
        value = "true" if value else "false"
    return f"<{name}>{_escape(str(value))}</{name}>"


def elements(pairs: Iterable[tuple[str, object]]) -> str:
    """Several :func:`element` in order; ``None`` values are left out."""
    return "".join(element(k, v) for k, v in pairs if v is not None)


def document(root: str, inner: str) -> bytes:
    """A request body; devices take it without a namespace (protocol §3.8)."""
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<{root}>{inner}</{root}>'.encode()


def _escape(value: str) -> str:
    """``&``, ``<`` and ``>`` as entities, as ``xml.sax.saxutils.escape`` does: that module imports
    ``urllib.request`` (and ``http.client``, ``email``), 5 ms of every command that reads a device."""
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
