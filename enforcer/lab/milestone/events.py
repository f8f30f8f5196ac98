"""The Events and State WebSocket API: whether the recording server talks to each hardware item.

The Config REST API carries no connection state (protocols/clients.md §1.4a); XProtect 2023 R3 and later
give it on ``wss://<gw>/api/ws/events/v1/`` with a bearer token. Commands are JSON text messages with a
``commandId`` that the reply echoes, with a ``status``:

- ``startSession``: 201 a new session, 200 one resumed (its ``sessionId`` and last ``eventId``, within 30 s);
- ``addSubscription`` with ``filters`` (``modifier``, ``resourceTypes``, ``sourceIds``, ``eventTypes``): 200
  and a ``subscriptionId``; ``removeSubscription`` takes it back;
- ``getState``: 200 and ``states``, each subscribed item's latest stateful event.

A subscribed session also receives ``{"events": [...]}`` as items change state. Events name their source as
a REST path (``hardware/<id>``) and their type by id: hardware communication started, stopped or error.
A command that fails answers ``error.errorText``.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from enforcer.lab.milestone.replies import timestamp
from enforcer.lab.net import websocket
from enforcer.lab.net.httpserver import Request, Response
from enforcer.lab.spec import LabHardware

if TYPE_CHECKING:
    from enforcer.lab.milestone.recording import State
    from enforcer.lab.milestone.server import MilestoneServer

#: Hardware communication event types (Milestone's ``event_types.py``).
STARTED = "0553c396-5e16-4c22-b3d1-f548e42dfbb4"
STOPPED = "63ea1f06-5a83-4f39-9fab-49959fde7b66"
ERROR = "6baad64b-c395-4f52-b6a3-dd1b64aa2f0f"
TYPES: dict[str, str] = {"started": STARTED, "stopped": STOPPED, "error": ERROR}
STATE_GROUP = "c7a3a1b8-5a3e-4b0f-9a52-5d3c1f0e2b61"  # "hardware communication"
RESUME_SECONDS = 30.0


@dataclass
class Session:
    """A client's session: its subscriptions outlive a dropped socket for 30 s."""

    id: str
    socket: websocket.WebSocket | None
    subscriptions: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    last_event: str = ""
    lost_at: float | None = None


def _matches(filters: list[dict[str, Any]], hw: LabHardware, event_type: str) -> bool:
    """Whether an event of ``hw`` passes ``filters`` (an include matches, an exclude then takes it out)."""
    included = False
    for f in filters:
        types = f.get("resourceTypes") or ["*"]
        sources = f.get("sourceIds") or ["*"]
        kinds = f.get("eventTypes") or ["*"]
        hit = (
            ("hardware" in types or "*" in types)
            and (hw.id in [str(s).lower() for s in sources] or "*" in sources)
            and (event_type in [str(k).lower() for k in kinds] or "*" in kinds)
        )
        if hit and f.get("modifier", "include") == "exclude":
            return False
        included = included or hit
    return included


class EventsApi:
    """The server's sessions and what they are subscribed to."""

    def __init__(self, server: MilestoneServer) -> None:
        self.server = server
        self.sessions: dict[str, Session] = {}
        self._of: dict[int, Session] = {}  # by id() of the socket bound to it

    def accept(self, req: Request) -> Response:
        return websocket.accept(req, self._on_text, lambda ws: None)

    def event(self, hw: LabHardware, state: State) -> dict[str, Any]:
        return {
            "id": str(uuid.uuid4()),
            "source": f"hardware/{hw.id}",
            "type": TYPES[state],
            "time": timestamp(),
            "stategroupid": STATE_GROUP,
        }

    def publish(self, hw: LabHardware, state: State) -> None:
        """``hw``'s communication changed: tell every live session subscribed to it."""
        event = self.event(hw, state)
        for session in self.sessions.values():
            subscribed = any(_matches(f, hw, event["type"]) for f in session.subscriptions.values())
            if subscribed and session.socket is not None and not session.socket.closed:
                session.socket.send_text(json.dumps({"events": [event]}))
                session.last_event = event["id"]

    # -- commands -------------------------------------------------------------------------------

    def _on_text(self, ws: websocket.WebSocket, text: str) -> None:
        try:
            command = json.loads(text)
        except ValueError:
            ws.send_text(json.dumps({"status": 400, "error": {"errorText": "The message is not JSON"}}))
            return
        if not isinstance(command, dict):
            ws.send_text(json.dumps({"status": 400, "error": {"errorText": "The message is not an object"}}))
            return
        name, cid = command.get("command"), command.get("commandId")
        session = self._of.get(id(ws))
        if name == "startSession":
            answer = self._start(ws, command)
        elif session is None:
            answer = {"status": 400, "error": {"errorText": "No session: send startSession first"}}
        elif name == "addSubscription":
            filters = command.get("filters")
            if not isinstance(filters, list) or not all(isinstance(f, dict) for f in filters):
                answer = {"status": 400, "error": {"errorText": "filters must be a list of objects"}}
            else:
                sid = str(uuid.uuid4())
                session.subscriptions[sid] = filters
                answer = {"status": 200, "subscriptionId": sid}
        elif name == "removeSubscription":
            found = session.subscriptions.pop(str(command.get("subscriptionId", "")), None)
            answer = {"status": 200} if found is not None else {"status": 404, "error": {"errorText": "No such id"}}
        elif name == "getState":
            answer = {"status": 200, "states": self._states(session)}
        else:
            answer = {"status": 400, "error": {"errorText": f"Unknown command {name!r}"}}
        ws.send_text(json.dumps({"commandId": cid, **answer}))

    def _start(self, ws: websocket.WebSocket, command: dict[str, Any]) -> dict[str, Any]:
        now = self.server.host.clock.now()
        wanted = self.sessions.get(str(command.get("sessionId") or ""))
        resumable = wanted is not None and wanted.lost_at is not None and now - wanted.lost_at <= RESUME_SECONDS
        for sid in [k for k, s in self.sessions.items() if s.lost_at is not None and now - s.lost_at > RESUME_SECONDS]:
            del self.sessions[sid]  # past resuming: forgotten
        if wanted is not None and resumable:
            session, status = wanted, 200
        else:
            session, status = Session(str(uuid.uuid4()), None), 201
            self.sessions[session.id] = session
        session.socket, session.lost_at = ws, None
        self._of[id(ws)] = session

        def lost() -> None:
            self._of.pop(id(ws), None)
            if session.socket is ws:
                session.socket, session.lost_at = None, self.server.host.clock.now()

        ws.on_lost = lost
        return {"status": status, "sessionId": session.id, "eventId": session.last_event}

    def _states(self, session: Session) -> list[dict[str, Any]]:
        recording = self.server.recording
        out = []
        for hw in self.server.spec.hardware:
            state = recording.state.get(hw.id, "stopped")
            event = self.event(hw, state)
            if any(_matches(f, hw, event["type"]) for f in session.subscriptions.values()):
                out.append(event)
        return out
