"""A simulated XProtect management server behind its API Gateway: routing, bearer tokens, JSON replies.

One :class:`MilestoneServer` per :class:`~enforcer.lab.spec.LabMilestone`, on its own loopback address,
answers what protocols/clients.md §1 documents: the IDP token grant (:mod:`.idp`), the Config REST API
on ``/api/rest/v1`` (hardware and tasks, :mod:`.rest`, :mod:`.tasks`), and the Events and State
WebSocket on ``/api/ws/events/v1`` (:mod:`.events`). Its recording server (:mod:`.recording`) logs
into every enabled hardware item from the same address. Paths are matched without regard to case, as
IIS does (Milestone's spec writes ``/API/rest/v1``, its samples ``/api/rest/v1``).
"""

from __future__ import annotations

import uuid
from collections.abc import Coroutine
from typing import Any, Protocol

from enforcer.lab.clients import ClientHost
from enforcer.lab.milestone import events, idp, rest
from enforcer.lab.milestone.recording import RecordingServer
from enforcer.lab.milestone.replies import error, timestamp
from enforcer.lab.milestone.tasks import TaskTable
from enforcer.lab.net.httpserver import Request, Response
from enforcer.lab.spec import LabHardware, LabMilestone

REST = "/api/rest/v1"
EVENTS = "/api/ws/events/v1"
TOKEN_PATHS = ("/api/idp/connect/token", "/idp/connect/token")


class MilestoneHost(ClientHost, Protocol):
    """What the server needs from the running fleet, beyond what every simulated client needs."""

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run ``coro`` on the fleet's loop (a task, a poll)."""

    def state_changed(self) -> None:
        """Something the state file shows changed."""

    def is_up(self, device: str) -> bool:
        """Whether the device is up (not rebooting)."""


class MilestoneServer:
    """The management server and recording server of one XProtect site."""

    def __init__(self, spec: LabMilestone, host: MilestoneHost) -> None:
        self.spec, self.host = spec, host
        self.recording_server_id = str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{spec.name}.recorder"))
        self.tokens = idp.Tokens(host.clock, spec.token_seconds)
        self.tasks = TaskTable()
        self.recording = RecordingServer(self)
        self.events = events.EventsApi(self)
        self.server_header = "Microsoft-IIS/10.0"
        #: Each item's ``lastModified`` (any property written; the spec's read-only field).
        self.last_modified: dict[str, str] = {h.id: h.password_last_modified for h in spec.hardware}

    @property
    def name(self) -> str:
        return self.spec.name

    def emit(self, event: str, *, source: str = "", user: str = "", **fields: object) -> None:
        self.host.events.emit(self.spec.name, event, source=source, user=user, **fields)

    def hardware(self, hw_id: str) -> LabHardware | None:
        return next((h for h in self.spec.hardware if h.id == hw_id.lower()), None)

    def touched(self, hw: LabHardware) -> None:
        """``hw`` changed: ``lastModified`` moves, the state file follows."""
        self.last_modified[hw.id] = timestamp()
        self.host.state_changed()

    # -- the request path -------------------------------------------------------------------------

    def handle(self, req: Request) -> Response:
        path = req.path.lower().rstrip("/")
        if path in TOKEN_PATHS:
            return idp.grant(self, req) if req.method == "POST" else error(405, "Method Not Allowed")
        if path == EVENTS:
            if not self.spec.events_api:
                return error(404, "Unknown resource: ws")
            user = self.bearer(req)
            return self.events.accept(req) if user is not None else error(401, "Unauthorized")
        if path == REST or path.startswith(REST + "/"):
            if self.bearer(req) is None:
                return error(401, "Unauthorized")
            parts = [p for p in req.path.rstrip("/").split("/")[4:] if p]
            return rest.route(self, req, parts)
        return Response(404, b"", content_type="text/html")

    def bearer(self, req: Request) -> str | None:
        """The user of a live bearer token in ``req``, else ``None``."""
        scheme, _, token = req.headers.get("authorization", "").partition(" ")
        return self.tokens.user(token.strip()) if scheme.lower() == "bearer" else None

    def document(self) -> dict[str, Any]:
        """What ``lab.ready.json`` and ``lab.state.json`` show of this server (stored passwords included)."""
        m = self.spec
        return {
            "name": m.name,
            "site": m.site,
            "address": m.address,
            "port": m.port,
            "scheme": m.scheme,
            "url": f"{m.scheme}://{m.address}:{m.port}",
            "username": m.username,
            "password": m.password,
            "up": self.host.is_up(m.name),
            "problems": list(m.problems),
            "hardware": [
                {
                    "id": h.id,
                    "device": h.device,
                    "name": h.name,
                    "address": h.address,
                    "port": h.port,
                    "user": h.user,
                    "password": h.password,
                    "driver": h.driver,
                    "enabled": h.enabled,
                    "password_last_modified": h.password_last_modified,
                    **self.recording.status(h),
                }
                for h in m.hardware
            ],
        }

    # -- lifecycle ----------------------------------------------------------------------------------

    def started(self) -> None:
        """The fleet's loop runs: start the recording server."""
        self.host.spawn(self.recording.run())
