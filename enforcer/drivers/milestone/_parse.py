"""Pure readers of XProtect's replies (protocols/clients.md §1): hardware items, tasks, errors, states.

Where Milestone's own sources disagree the readers take either form: an item's ``address`` as a URI
(``http://10.0.0.5:8080/``, the spec and MilestonePSTools) or a bare IP (a 2025 R1 capture); a task
named by ``id`` (the samples) or ``name`` (the spec); a task's fields directly in ``data`` (the .NET
sample) or under ``data.result`` (the spec); a hardware item's parent ``recorders`` or ``recordingServers``.

    >>> hardware({"id": "A1", "name": "cam", "address": "http://10.0.0.5:8080/", "userName": "admin",
    ...           "enabled": True}).port
    8080
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

#: Hardware communication event types of the Events and State API (Milestone's ``event_types.py``).
STARTED = "0553c396-5e16-4c22-b3d1-f548e42dfbb4"
STOPPED = "63ea1f06-5a83-4f39-9fab-49959fde7b66"
ERROR = "6baad64b-c395-4f52-b6a3-dd1b64aa2f0f"
COMMUNICATION = (STARTED, STOPPED, ERROR)
FINAL = ("Success", "Completed", "Error")


class ReplyError(ValueError):
    """A reply that is not what the API documents; the message names what is missing, never a value sent."""


@dataclass(frozen=True)
class Hardware:
    """One hardware item: the device XProtect's recording server logs into, and as whom."""

    id: str
    name: str
    host: str
    port: int | None  # None: the address gave none (a bare IP)
    user: str
    enabled: bool
    password_last_modified: str | None = None

    @property
    def address(self) -> str:
        return self.host if self.port is None else f"{self.host}:{self.port}"

    def serves(self, address: str, port: int) -> bool:
        """Whether this item is the device at ``address:port``."""
        return self.host.lower() == address.lower() and self.port in (None, port)


@dataclass(frozen=True)
class TaskState:
    """A task as a POST's ``result`` or ``GET /tasks/{id}`` shows it."""

    state: str | None
    progress: int | None = None
    error_code: int | None = None
    error_text: str | None = None
    path: str | None = None  # the queued task's id, when the reply points at one

    @property
    def final(self) -> bool:
        return self.state in FINAL

    def describe(self) -> str:
        said = f"task {self.state}"
        if self.error_code is not None:
            said += f" {self.error_code}"
        return said + (f": {self.error_text}" if self.error_text else "")


def _host_port(text: str) -> tuple[str, int | None]:
    if "://" not in text:
        host, sep, port = text.strip().rstrip("/").partition(":")
        return host, int(port) if sep and port.isdigit() else None
    parts = urlsplit(text.strip())
    return parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)


def hardware(item: Mapping[str, Any]) -> Hardware:
    """One hardware item; ReplyError when it lacks what a driver needs."""
    try:
        host, port = _host_port(str(item["address"]))
        enabled = item["enabled"]
        if isinstance(enabled, str):
            enabled = enabled.lower() == "true"
        return Hardware(
            id=str(item["id"]).lower(),
            name=str(item.get("name") or item.get("displayName") or item["id"]),
            host=host,
            port=port,
            user=str(item.get("userName") or ""),
            enabled=bool(enabled),
            password_last_modified=item.get("passwordLastModified"),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ReplyError(f"a hardware item lacks {exc}") from None


def hardware_list(body: Mapping[str, Any]) -> list[Hardware]:
    """``{"array": [...]}``."""
    items = body.get("array")
    if not isinstance(items, list):
        raise ReplyError("the hardware list has no 'array'")
    return [hardware(i) for i in items if isinstance(i, Mapping)]


def hardware_item(body: Mapping[str, Any]) -> Hardware:
    """``{"data": {...}}``."""
    data = body.get("data")
    if not isinstance(data, Mapping):
        raise ReplyError("the hardware item has no 'data'")
    return hardware(data)


def task_names(body: Mapping[str, Any]) -> set[str]:
    """The tasks a ``?tasks`` listing offers, named by ``id`` or ``name``."""
    tasks = body.get("tasks")
    if not isinstance(tasks, list):
        raise ReplyError("the task listing has no 'tasks'")
    return {str(t.get("id") or t.get("name")) for t in tasks if isinstance(t, Mapping)}


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def task_state(fields: Mapping[str, Any]) -> TaskState:
    """A task's fields, wherever the reply nests them (``result``, ``data``, ``data.result``)."""
    for key in ("result", "data"):
        inner = fields.get(key)
        if isinstance(inner, Mapping):
            nested = inner.get("result")
            if "state" not in inner and isinstance(nested, Mapping):
                inner = nested
            return task_state(inner)
    path = fields.get("path")
    queued = str(path["id"]) if isinstance(path, Mapping) and path.get("type") == "tasks" and "id" in path else None
    state = fields.get("state")
    return TaskState(
        state=str(state) if state is not None else None,
        progress=_int(fields.get("progress")),
        error_code=_int(fields.get("errorCode")),
        error_text=str(fields["errorText"]) if fields.get("errorText") else None,
        path=queued,
    )


def api_error(body: Any) -> str:
    """What a Config API error says: each detail's ``errorText`` (and ``property``); '' when none."""
    error = body.get("error") if isinstance(body, Mapping) else None
    details = error.get("details") if isinstance(error, Mapping) else None
    if not isinstance(details, list):
        return ""
    said = []
    for d in details:
        if isinstance(d, Mapping) and d.get("errorText"):
            said.append(str(d["errorText"]) + (f" ({d['property']})" if d.get("property") else ""))
    return "; ".join(said)


def oauth_error(body: Any) -> str:
    """An OAuth2 refusal: ``error`` (``error_description``)."""
    if not isinstance(body, Mapping) or not body.get("error"):
        return ""
    described = body.get("error_description")
    return str(body["error"]) + (f" ({described})" if described else "")


def communication(states: Iterable[Any]) -> dict[str, bool]:
    """From ``getState``'s ``states``: each hardware item's id → whether its recording server talks to it."""
    out: dict[str, bool] = {}
    for event in states:
        if not isinstance(event, Mapping):
            continue
        kind, _, hw_id = str(event.get("source", "")).partition("/")
        if kind.lower() == "hardware" and event.get("type") in COMMUNICATION:
            out[hw_id.lower()] = event["type"] == STARTED
    return out
