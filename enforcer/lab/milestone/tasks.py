"""Tasks on a hardware item, and the task objects a client polls (protocols/clients.md §1.2, §1.4).

``POST /hardware/{id}?task=ChangePasswordHardware`` with ``{"password", "updatePasswordOnDevice"}``:

- a queued task (the lab's default, ``LabMilestone.queued_tasks``): ``{"result": {"state": "Idle", "path":
  {"type": "tasks", "id": "81"}}}``; ``GET /tasks/81`` shows ``Idle``, ``InProgress``, then ``Success`` or
  ``Error`` with ``errorCode``/``errorText``, until ``POST /tasks/81?task=TaskCleanup`` removes it;
- else answered at once: ``{"result": {"state": "Success"}}`` (a change on the device is always queued:
  it takes the device's time);
- with no body, the task's own form comes back (the first step of the Config API's two-step pattern): the
  password is not stored.

The password must meet Milestone's rule (at most 64 characters, letters and digits only, an upper-case
letter, a lower-case letter and a digit), else the task ends in ``Error``. On success the recording server
uses it from its next connection and ``passwordLastModified`` moves; with ``updatePasswordOnDevice`` the
device's own password is changed first, through its protocol (:mod:`.ondevice`).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from enforcer.lab.milestone import ondevice
from enforcer.lab.milestone.replies import error, reply, timestamp
from enforcer.lab.net.httpserver import Request, Response
from enforcer.lab.spec import LabHardware

if TYPE_CHECKING:
    from enforcer.lab.milestone.server import MilestoneServer

HARDWARE_TASKS = (
    ("ReadPasswordHardware", "Read hardware password"),
    ("ChangePasswordHardware", "Change hardware password"),
    ("UpdateFirmwareHardware", "Update firmware"),
    ("MoveHardware", "Move hardware"),
    ("UpdateHardware", "Update hardware"),
)
TASK_TASKS = (("TaskCleanup", "Clean up task"),)
RULE_ERROR = 61002
FINAL = ("Success", "Error")


@dataclass
class Task:
    """A queued task as ``GET /tasks/{id}`` shows it."""

    id: str
    name: str
    display: str
    hardware: str
    state: str = "Idle"
    progress: int = 0
    error_code: int | None = None
    error_text: str | None = None


class TaskTable:
    """The server's tasks by id: small integers in a string, as the real server numbers them."""

    def __init__(self) -> None:
        self.tasks: dict[str, Task] = {}
        self._next = 81

    def new(self, name: str, display: str, hardware: str) -> Task:
        task = Task(str(self._next), name, display, hardware)
        self._next += 1
        self.tasks[task.id] = task
        return task


def listing(server: MilestoneServer, offered: tuple[tuple[str, str], ...]) -> list[dict[str, str]]:
    """A ``?tasks`` listing, naming each task by ``id`` (Milestone's samples) or ``name`` (its spec)."""
    key = server.spec.task_key
    return [{key: name, "displayName": display} for name, display in offered]


def password_problem(password: str) -> str | None:
    """Why Milestone refuses ``password`` as a hardware password; ``None`` when it takes it."""
    if not 1 <= len(password) <= 64:
        return "The password must be 1 to 64 characters long"
    if not (password.isascii() and password.isalnum()):
        return "The password may contain letters and digits only"
    if not (any(c.isupper() for c in password) and any(c.islower() for c in password)):
        return "The password must contain an upper-case and a lower-case letter"
    if not any(c.isdigit() for c in password):
        return "The password must contain a digit"
    return None


def run(server: MilestoneServer, req: Request, hw: LabHardware) -> Response:
    """``POST /hardware/{id}?task=...``."""
    name = req.query.get("task", "")
    if name == "ReadPasswordHardware":
        return reply(200, {"result": {"state": "Success", "password": hw.password}})
    if name != "ChangePasswordHardware":
        offered = [n for n, _ in HARDWARE_TASKS]
        if name in offered:
            return error(400, f"Bad Request - the lab does not run {name}", prop="task")
        return error(400, f"Bad Request - unknown task {name}", prop="task")
    if not req.body.strip():
        form = {"enabled": True, "displayName": "Change hardware password"}
        return reply(200, {"result": {**form, "password": "", "updatePasswordOnDevice": False}})
    try:
        body = json.loads(req.body)
    except ValueError:
        return error(400, "Bad Request - the body is not JSON")
    if not isinstance(body, dict) or not isinstance(body.get("password"), str):
        return error(400, "Bad Request - password is required", prop="password")
    on_device = body.get("updatePasswordOnDevice", False)
    if not isinstance(on_device, bool):
        return error(400, "Bad Request - updatePasswordOnDevice must be true or false", prop="updatePasswordOnDevice")
    password: str = body["password"]
    problem = password_problem(password)
    spec = server.spec
    if not spec.queued_tasks and not on_device:
        if problem is not None:
            return reply(200, {"result": {"state": "Error", "errorCode": RULE_ERROR, "errorText": problem}})
        stored(server, hw, password, source=req.source, on_device=False)
        return reply(200, {"result": {"state": "Success"}})
    task = server.tasks.new(name, "Change hardware password", hw.id)
    server.host.spawn(_change(server, task, hw, password, on_device, problem, req.source))
    return reply(200, {"result": {"state": task.state, "path": {"type": "tasks", "id": task.id}}})


async def _change(
    server: MilestoneServer,
    task: Task,
    hw: LabHardware,
    password: str,
    on_device: bool,
    problem: str | None,
    source: str,
) -> None:
    half = server.host.clock.real(server.spec.task_seconds / 2)
    await asyncio.sleep(half)
    task.state, task.progress = "InProgress", 50
    if problem is None and on_device:
        said = await ondevice.change(server, hw, password)
        if said is not None:
            problem = f"The password could not be changed on the device: {said}"
    await asyncio.sleep(half)
    if problem is not None:
        task.state, task.progress, task.error_code, task.error_text = "Error", 100, RULE_ERROR, problem
        server.emit("task_failed", source=source, task=task.name, hardware=hw.id, target=hw.device, reason=problem)
        return
    stored(server, hw, password, source=source, on_device=on_device)
    task.state, task.progress = "Success", 100


def stored(server: MilestoneServer, hw: LabHardware, password: str, *, source: str, on_device: bool) -> None:
    """``password`` is ``hw``'s now: ``passwordLastModified`` moves and the recording server reconnects with it."""
    hw.password = password
    hw.password_last_modified = timestamp()
    server.emit("hardware_password_changed", source=source, hardware=hw.id, target=hw.device, on_device=on_device)
    server.touched(hw)
    server.recording.reconnect(hw)


def task_json(server: MilestoneServer, task: Task) -> dict[str, Any]:
    fields: dict[str, Any] = {"state": task.state, "progress": task.progress}
    if task.error_code is not None:
        fields |= {"errorCode": task.error_code, "errorText": task.error_text}
    data: dict[str, Any] = {"displayName": task.display}
    target = {"type": "hardware", "id": task.hardware}
    if server.spec.task_shape == "nested":  # the spec's form: the task's fields under ``result``
        data["result"] = {**fields, "path": target}
    else:  # Milestone's sample: directly in ``data``
        data |= {**fields, "hardwarePath": target}
    data["relations"] = {"parent": target, "self": {"type": "tasks", "id": task.id}}
    return data


def route(server: MilestoneServer, req: Request, parts: list[str]) -> Response:
    """``/tasks``, ``/tasks/{id}``, ``/tasks/{id}?tasks`` and ``?task=TaskCleanup``."""
    if not parts:
        if req.method != "GET":
            return error(405, "Method Not Allowed")
        return reply(200, {"array": [task_json(server, t) for t in server.tasks.tasks.values()]})
    task = server.tasks.tasks.get(parts[0])
    if task is None or len(parts) > 1:
        return error(404, "Not Found, the requested id does not exist")
    if req.method == "POST" and req.query.get("task") == "TaskCleanup":
        del server.tasks.tasks[task.id]
        return reply(200, {"result": {"state": "Success"}})
    if req.method == "POST":
        return error(400, f"Bad Request - unknown task {req.query.get('task', '')}", prop="task")
    if req.method != "GET":
        return error(405, "Method Not Allowed")
    if "tasks" in req.query:
        return reply(200, {"tasks": listing(server, TASK_TASKS)})
    return reply(200, {"data": task_json(server, task)})
