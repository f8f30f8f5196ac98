"""What every Milestone reply shares: JSON bodies, the Config API's error object, XProtect's timestamps.

Errors wrap an ``error`` object (protocols/clients.md §1.2)::

    >>> import json; json.loads(error(404, "Unknown resource: recordings").body)
    {'error': {'httpCode': 404, 'details': [{'errorText': 'Unknown resource: recordings'}]}}
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from enforcer.lab.net.httpserver import Response

JSON = "application/json; charset=utf-8"


def reply(status: int, body: object) -> Response:
    return Response(status, json.dumps(body).encode("utf-8"), content_type=JSON)


def error(status: int, text: str, *, prop: str | None = None) -> Response:
    """A Config API error; a 400 names the ``property`` at fault, as the spec's ``error400`` does."""
    detail: dict[str, str] = {"errorText": text}
    if prop is not None:
        detail |= {"property": prop, "errorTextId": f"Bad{prop[:1].upper()}{prop[1:]}TextId"}
    return reply(status, {"error": {"httpCode": status, "details": [detail]}})


def timestamp() -> str:
    """Now as XProtect writes it: seven fractional digits and ``Z``."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"
