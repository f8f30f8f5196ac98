"""Dahua CGI bodies: ``key=value`` lines joined by CRLF, ``OK`` / ``Error`` on writes (dahua-cgi.md §1).

>>> kv([("version", "2.800.0000016.0.R,build:2024-10-30")]).body
b'version=2.800.0000016.0.R,build:2024-10-30\\r\\n'
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from enforcer.lab.net.httpserver import Response

TEXT = "text/plain;charset=utf-8"
DENIED = b"Authority:check failure."


def value(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def kv(pairs: Iterable[tuple[str, object]], *, status: int = 200) -> Response:
    body = "".join(f"{k}={value(v)}\r\n" for k, v in pairs)
    return Response(status, body.encode("utf-8"), content_type=TEXT)


def ok(*, after: Callable[[], None] | None = None) -> Response:
    return Response(200, b"OK\r\n", content_type=TEXT, after=after)


def error(detail: str = "") -> Response:
    """A refused write or a bad value: HTTP 200 and an ``Error`` body."""
    extra = f"{detail}\r\n" if detail else ""
    return Response(200, f"Error\r\n{extra}".encode(), content_type=TEXT)


def denied() -> Response:
    return Response(403, DENIED, content_type=TEXT)


def empty(status: int) -> Response:
    return Response(status, b"", content_type=TEXT)


def unsupported(status: int) -> Response:
    """What firmware answers for a CGI action it lacks: 400 ``Bad Request!``, or 501 on newer builds."""
    detail = b"Not Implemented!" if status == 501 else b"Bad Request!"
    return Response(status, b"Error\r\n" + detail + b"\r\n", content_type=TEXT)


def unknown_config(status: int, name: str) -> Response:
    """What firmware answers for a config name it lacks: 400 empty, 403 ``Authority:check failure.``
    (DH-NVR608H) or 200 ``Error: Error -1 getting param in name=...`` (an LTN6416 recorder)."""
    if status == 403:
        return denied()
    if status == 200:
        return Response(200, f"Error: Error -1 getting param in name={name}\r\n".encode(), content_type=TEXT)
    return empty(400)


def boolean(raw: str) -> bool | None:
    """``true``/``false`` (any case), else ``None``."""
    low = raw.strip().lower()
    return True if low == "true" else False if low == "false" else None
