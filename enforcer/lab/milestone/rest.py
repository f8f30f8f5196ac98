"""The Config REST API's hardware and recording servers (protocols/clients.md §1.2, §1.3).

- ``GET /hardware`` lists enabled items only; ``?disabled`` adds the rest: ``{"array": [...]}``.
- ``GET /hardware/{id}``: ``{"data": {...}}``, for a disabled item too; ``?tasks[&noData]`` lists its tasks.
- ``PATCH /hardware/{id}`` writes the fields given, ``PUT`` the whole object: ``enabled``, ``name``,
  ``description``, ``address``, ``userName`` (``enabled`` also as the string ``"false"`` of Milestone's own
  sample). The password is not among them: it goes through ``?task=ChangePasswordHardware`` (:mod:`.tasks`).
- Disabling an item stops its recording server's logins at once; enabling it connects it again now.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from enforcer.lab.milestone import tasks
from enforcer.lab.milestone.replies import error, reply
from enforcer.lab.net.httpserver import Request, Response
from enforcer.lab.spec import LabHardware

if TYPE_CHECKING:
    from enforcer.lab.milestone.server import MilestoneServer

WRITABLE = ("enabled", "name", "description", "address", "userName")
READ_ONLY = (
    "id",
    "displayName",
    "model",
    "passwordLastModified",
    "lastModified",
    "hardwareDriverPath",
    "relations",
)
#: The device packs' ids (``hardwareDriverPath``), one per driver family.
DRIVER_IDS = {"hikvision": "1a9f2a3c-7cbb-4b8e-9a0e-4f8c2b1d6e01", "dahua": "2b7e4d5f-1c3a-4e9b-8d2f-6a0c3e5b7f02"}


def hardware_json(server: MilestoneServer, hw: LabHardware) -> dict[str, Any]:
    """One hardware item as the API shows it (the stored password is never shown)."""
    spec = server.spec
    data: dict[str, Any] = {
        "displayName": f"{hw.name} ({hw.address})",
        "enabled": hw.enabled,
        "id": hw.id,
        "name": hw.name,
        "address": address_text(server, hw),
        "userName": hw.user,
        "description": "",
        "model": hw.model,
        "passwordLastModified": hw.password_last_modified,
        "lastModified": server.last_modified.get(hw.id, hw.password_last_modified),
        "hardwareDriverPath": {"type": "hardwareDrivers", "id": DRIVER_IDS.get(hw.driver, DRIVER_IDS["hikvision"])},
        "relations": {
            "parent": {"type": spec.parent_type, "id": server.recording_server_id},
            "self": {"type": "hardware", "id": hw.id},
        },
    }
    if spec.password_field == "masked":
        data["password"] = "***"
    return data


def address_text(server: MilestoneServer, hw: LabHardware) -> str:
    """``http://10.0.0.5:8080/`` (the spec's URI form; the port left out when it is 80) or the bare IP."""
    if server.spec.address_form == "ip":
        return hw.address
    return f"http://{hw.address}/" if hw.port == 80 else f"http://{hw.address}:{hw.port}/"


def route(server: MilestoneServer, req: Request, parts: list[str]) -> Response:
    """A request under ``/api/rest/v1/``: ``parts`` are the path's segments after it."""
    if not parts:
        return error(404, "Unknown resource: ")
    resource = parts[0].lower()
    if resource == "tasks":
        return tasks.route(server, req, parts[1:])
    if resource == "recordingservers":
        return _recording_servers(server, req, parts[1:])
    if resource != "hardware":
        return error(404, f"Unknown resource: {parts[0]}")
    if len(parts) == 1:
        if req.method != "GET":
            return error(405, "Method Not Allowed")
        shown = [h for h in server.spec.hardware if h.enabled or "disabled" in req.query]
        return reply(200, {"array": [hardware_json(server, h) for h in shown]})
    hw = server.hardware(parts[1])
    if hw is None:
        return error(404, "Not Found, the requested id does not exist")
    if len(parts) > 2:
        return error(404, f"Unknown resource: {parts[2]}")
    if "task" in req.query:
        return tasks.run(server, req, hw) if req.method == "POST" else error(405, "Method Not Allowed")
    if req.method == "GET":
        if "tasks" in req.query:
            listing: dict[str, Any] = {"tasks": tasks.listing(server, tasks.HARDWARE_TASKS)}
            if "nodata" not in {k.lower() for k in req.query}:
                listing = {"data": hardware_json(server, hw), **listing}
            return reply(200, listing)
        return reply(200, {"data": hardware_json(server, hw)})
    if req.method in ("PATCH", "PUT"):
        return _write(server, req, hw)
    return error(405, "Method Not Allowed")


def _write(server: MilestoneServer, req: Request, hw: LabHardware) -> Response:
    try:
        body = json.loads(req.body or b"{}")
    except ValueError:
        return error(400, "Bad Request - the body is not JSON")
    if not isinstance(body, dict):
        return error(400, "Bad Request - the body must be an object")
    if "password" in body and body["password"] != "***":
        return error(400, "Bad Request - the password is changed with the ChangePasswordHardware task", prop="password")
    unknown = [k for k in body if k not in WRITABLE and k not in READ_ONLY and k != "password"]
    if unknown:
        return error(400, f"Bad Request - unknown property {unknown[0]}", prop=unknown[0])
    if req.method == "PUT":
        missing = [k for k in WRITABLE if k not in body]
        if missing:
            return error(400, f"Bad Request - {missing[0]} is required", prop=missing[0])
    values: dict[str, Any] = {}
    for key in WRITABLE:
        if key not in body:
            continue
        value = body[key]
        if key == "enabled" and isinstance(value, str) and value.lower() in ("true", "false"):
            value = value.lower() == "true"  # Milestone's sample sends the string
        if (key == "enabled") != isinstance(value, bool) or (key != "enabled" and not isinstance(value, str)):
            return error(400, f"Bad Request - {key} has the wrong type", prop=key)
        values[key] = value
    if "address" in values:
        host, port = _parse_address(values["address"], hw.port)
        if not host:
            return error(400, "Bad Request - address is not a device address", prop="address")
        values["address"], values["port"] = host, port
    _apply(server, req, hw, values)
    return reply(200, {"data": hardware_json(server, hw)})


def _apply(server: MilestoneServer, req: Request, hw: LabHardware, values: dict[str, Any]) -> None:
    fields = {"enabled": "enabled", "name": "name", "address": "address", "port": "port", "userName": "user"}
    changed = [key for key, attr in fields.items() if key in values and getattr(hw, attr) != values[key]]
    for key in changed:
        setattr(hw, fields[key], values[key])
    if not changed:
        return
    user = server.bearer(req) or ""
    # ``stale``, the lab's truth for the tests: the item stores a password its device does not take now.
    stale = not server.host.takes(hw.device, hw.user, hw.password)
    server.emit(
        "hardware_changed",
        source=req.source,
        user=user,
        hardware=hw.id,
        target=hw.device,
        fields=changed,
        enabled=hw.enabled,
        stale=stale,
    )
    server.touched(hw)
    if changed == ["name"]:
        return
    server.recording.reconnect(hw)  # disabled: it stops now; enabled or moved: it connects again now


def _parse_address(text: str, port: int) -> tuple[str, int]:
    """``http://10.0.0.5:8080/`` or ``10.0.0.5``: host and port."""
    rest = text.strip()
    scheme_port = 80
    for scheme, default in (("http://", 80), ("https://", 443)):
        if rest.lower().startswith(scheme):
            rest, scheme_port = rest[len(scheme) :], default
            break
    else:
        scheme_port = port
    rest = rest.split("/", 1)[0]
    host, sep, number = rest.partition(":")
    if sep and not number.isdigit():
        return "", port
    return host, int(number) if sep else scheme_port


def _recording_servers(server: MilestoneServer, req: Request, parts: list[str]) -> Response:
    """The one recording server, enough for a client that follows a hardware item's parent."""
    item = {
        "displayName": f"{server.name} recording server",
        "enabled": True,
        "id": server.recording_server_id,
        "hostName": server.spec.address,
        "relations": {"self": {"type": "recordingServers", "id": server.recording_server_id}},
    }
    if req.method != "GET":
        return error(405, "Method Not Allowed")
    if not parts:
        return reply(200, {"array": [item]})
    if parts[0].lower() != server.recording_server_id or len(parts) > 2:
        return error(404, "Not Found, the requested id does not exist")
    if len(parts) == 2:
        if parts[1].lower() != "hardware":
            return error(404, f"Unknown resource: {parts[1]}")
        shown = [h for h in server.spec.hardware if h.enabled or "disabled" in req.query]
        return reply(200, {"array": [hardware_json(server, h) for h in shown]})
    return reply(200, {"data": item})
