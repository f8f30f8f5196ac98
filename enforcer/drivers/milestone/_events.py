"""Is the recording server talking to each device? The Events and State API (protocols/clients.md §1.4a).

The Config REST API has no connection state; XProtect 2023 R3 and later give it on a WebSocket: start a
session, subscribe to the hardware communication events of the items we care about, ask for the
current state. A server without the API (an older XProtect: 404 to the upgrade) gives ``None``: the
connection cannot be seen, which callers report as such rather than guess.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from enforcer.drivers.milestone._api import Api
from enforcer.drivers.milestone._parse import COMMUNICATION, communication
from enforcer.errors import TransportError, UpgradeRefused


def _command(ws: Any, api: Api, step: str, command: dict[str, Any]) -> dict[str, Any]:
    """Send ``command`` and return its reply (events pushed meanwhile are skipped)."""
    ws.send_text(json.dumps(command))
    for _ in range(1000):
        try:
            reply = json.loads(ws.receive_text(api.options.timeout))
        except ValueError:
            continue
        if isinstance(reply, dict) and reply.get("commandId") == command["commandId"]:
            status = reply.get("status")
            if status not in (200, 201):
                error = reply.get("error")
                said = error.get("errorText") if isinstance(error, dict) else None
                raise api.error(step, f"the Events and State API refused {command['command']}: {said or status}")
            return reply
    raise api.error(step, f"the Events and State API never answered {command['command']}")


def connected(api: Api, step: str, ids: Sequence[str]) -> dict[str, bool] | None:
    """Each hardware item of ``ids`` → whether its recording server communicates with it now (an item with
    no state yet is left out); ``None`` when the server has no Events and State API."""
    if not ids:
        return {}
    try:
        ws = api.events(step)
    except UpgradeRefused as exc:
        if exc.status == 404:
            return None
        raise api.error(step, f"HTTP {exc.status} to the Events and State API's upgrade") from None
    try:
        with ws:
            _command(ws, api, step, {"command": "startSession", "sessionId": "", "eventId": "", "commandId": 1})
            subscription = {
                "command": "addSubscription",
                "commandId": 2,
                "filters": [
                    {
                        "modifier": "include",
                        "resourceTypes": ["hardware"],
                        "sourceIds": list(ids),
                        "eventTypes": list(COMMUNICATION),
                    }
                ],
            }
            _command(ws, api, step, subscription)
            states = _command(ws, api, step, {"command": "getState", "commandId": 3}).get("states")
    except TransportError as exc:
        raise api.error(step, f"the Events and State API: {exc.detail}") from exc
    found = communication(states if isinstance(states, list) else [])
    return {i: found[i] for i in ids if i in found}
