"""ISAPI XML: building replies in a device's namespace, reading requests without regard to it.

>>> tags([("enabled", True), ("maxIllegalLoginTimes", 5)])
'<enabled>true</enabled><maxIllegalLoginTimes>5</maxIllegalLoginTimes>'
>>> text(parse(b'<a xmlns="urn:x"><b>1</b></a>'), "b")
'1'
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from xml.sax.saxutils import escape

NAMESPACES = {
    "hikvision": "http://www.hikvision.com/ver20/XMLSchema",
    "isapi": "http://www.isapi.org/ver20/XMLSchema",
    "std-cgi": "http://www.std-cgi.com/ver20/XMLSchema",
    "none": "",
}

STATUS_STRINGS = {
    0: "OK",
    1: "OK",
    2: "Device Busy",
    3: "Device Error",
    4: "Invalid Operation",
    5: "Invalid XML Format",
    6: "Invalid XML Content",
    7: "Reboot Required",
    9: "Additional Error",
}

XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'


class XmlFormatError(ValueError):
    """The request body is not well-formed XML (``5 / badXmlFormat``)."""


def value(v: object) -> str:
    """One element's text: booleans as ``true``/``false``, everything XML-escaped."""
    if isinstance(v, bool):
        return "true" if v else "false"
    return escape(str(v))


def tags(pairs: Iterable[tuple[str, object]]) -> str:
    """``<k>v</k>`` for each pair; a value of ``None`` is left out, a ``Raw`` is inserted as is."""
    out = []
    for key, v in pairs:
        if v is None:
            continue
        inner = v.xml if isinstance(v, Raw) else value(v)
        out.append(f"<{key}>{inner}</{key}>")
    return "".join(out)


class Raw:
    """Already-built XML to nest inside :func:`tags`."""

    __slots__ = ("xml",)

    def __init__(self, xml: str) -> None:
        self.xml = xml


def document(root: str, namespace: str, body: str, *, version: str = "2.0", attrs: str = "") -> bytes:
    """A whole reply document with ``version`` and the default namespace of the device."""
    ns = NAMESPACES[namespace]
    xmlns = f' xmlns="{ns}"' if ns else ""
    return f'{XML_DECLARATION}<{root} version="{version}"{xmlns}{attrs}>{body}</{root}>\n'.encode()


def response_status(
    namespace: str,
    url: str,
    code: int,
    sub: str,
    *,
    error_code: str | None = None,
    message: str | None = None,
) -> bytes:
    """The generic ``ResponseStatus`` reply (success is ``1 / OK / ok``)."""
    body = tags(
        [
            ("requestURL", url),
            ("statusCode", code),
            ("statusString", STATUS_STRINGS.get(code, "Additional Error")),
            ("subStatusCode", sub),
            ("errorCode", error_code),
            ("errorMsg", message),
        ]
    )
    return document("ResponseStatus", namespace, body)


def parse(body: bytes) -> ET.Element:
    """Parse a request body and strip every namespace, so ``find`` works on bare names."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise XmlFormatError(str(exc)) from exc
    for el in root.iter():
        if isinstance(el.tag, str) and "}" in el.tag:
            el.tag = el.tag.split("}", 1)[1]
    return root


def text(el: ET.Element, path: str) -> str | None:
    """The stripped text at ``path`` below ``el``, ``""`` for an empty element, ``None`` when absent."""
    found = el.find(path)
    if found is None:
        return None
    return (found.text or "").strip()


def boolean(raw: str | None) -> bool | None:
    """``true``/``false`` (any case) as a bool; ``None`` when absent; ``ValueError`` otherwise."""
    if raw is None:
        return None
    low = raw.lower()
    if low in ("true", "1"):
        return True
    if low in ("false", "0"):
        return False
    raise ValueError(f"not a boolean: {raw!r}")
