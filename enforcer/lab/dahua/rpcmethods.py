"""The RPC2 calls a logged-in session can make (``POST /RPC2``), dahua-cgi.md §3–§6.

Why these: they are what the scripting clients replay (``dahua-rpc-api``: ``magicBox.*``,
``userManager.getUserInfoAll``, ``upgrader.getState``, ``global.logout``; web and HA clients:
``configManager.getConfig``, ``global.keepAlive``), each the JSON twin of a CGI read the lab already
answers, so both paths show one state. Replies as devices send them: ``{"id", "params", "result":
true, "session"}``; a method the firmware lacks (``profile.lacks`` or unknown) gets 268894210, a
config name it lacks 268959743 [I], a non-admin reboot or restricted config 285278249.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from enforcer.lab.dahua import config, log, rpc, system, users
from enforcer.lab.net.httpserver import Response

if TYPE_CHECKING:
    from enforcer.lab.dahua.device import DahuaDevice
    from enforcer.lab.dahua.rpc import RpcSession

_SEGMENT = re.compile(r"\.([^.\[]+)|\[(\d+)\]")


@dataclass(frozen=True)
class Result:
    """What a call came to: ``params`` (or none), or an error ``code``; ``after`` runs once sent."""

    params: dict[str, Any] | None = None
    code: int = 0
    after: Callable[[], None] | None = None


Method = Callable[["DahuaDevice", "RpcSession", dict[str, Any]], Result]


def nest(pairs: list[tuple[str, object]], name: str) -> Any:
    """``table.<name>...`` lines as the nested JSON RPC2 sends: ``[i]`` lists, ``.Field`` objects."""
    root: Any = None
    for key, value in pairs:
        path: list[str | int] = [
            m.group(1) if m.group(1) is not None else int(m.group(2))
            for m in _SEGMENT.finditer(key.removeprefix(f"table.{name}"))
        ]
        root = _put(root, path, value)
    return root


def _put(node: Any, path: list[str | int], value: object) -> Any:
    if not path:
        return value
    head, tail = path[0], path[1:]
    if isinstance(head, int):
        items: list[Any] = node if isinstance(node, list) else []
        items.extend([None] * (head + 1 - len(items)))
        items[head] = _put(items[head], tail, value)
        return items
    fields: dict[str, Any] = node if isinstance(node, dict) else {}
    fields[head] = _put(fields.get(head), tail, value)
    return fields


def _admin(session: RpcSession, dev: DahuaDevice) -> bool:
    acc = dev.account(session.user)
    return acc is not None and acc.level == "administrator"


# -- global -----------------------------------------------------------------------------------------


def keep_alive(dev: DahuaDevice, session: RpcSession, params: dict[str, Any]) -> Result:
    return Result({"timeout": rpc.SESSION_SECONDS})


def logout(dev: DahuaDevice, session: RpcSession, params: dict[str, Any]) -> Result:
    for token in [t for t, s in dev.rpc.sessions.items() if s is session]:
        del dev.rpc.sessions[token]
    log.record(dev, "Logout", session.user, session.source, "Web3.0")
    return Result()


def current_time(dev: DahuaDevice, session: RpcSession, params: dict[str, Any]) -> Result:
    return Result({"time": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(dev.host.clock.wall()))})


# -- magicBox ---------------------------------------------------------------------------------------


def software_version(dev: DahuaDevice, session: RpcSession, params: dict[str, Any]) -> Result:
    version = {
        "Version": dev.spec.firmware_version,
        "BuildDate": dev.spec.firmware_build,
        "WebVersion": "3.2.7.147280",
        "SecurityBaseLineVersion": "V2.2",
    }
    return Result({"version": version})


def device_type(dev: DahuaDevice, session: RpcSession, params: dict[str, Any]) -> Result:
    return Result({"type": dev.spec.model})


def serial_no(dev: DahuaDevice, session: RpcSession, params: dict[str, Any]) -> Result:
    return Result({"sn": dev.spec.serial})


def machine_name(dev: DahuaDevice, session: RpcSession, params: dict[str, Any]) -> Result:
    return Result({"name": dev.machine_name})


def system_info(dev: DahuaDevice, session: RpcSession, params: dict[str, Any]) -> Result:
    nvr = dev.family == "nvr"
    return Result(
        {
            "deviceType": str(system.RECORDER_DEVICE_TYPE) if nvr else dev.spec.model,
            "hardwareVersion": system.HARDWARE_VERSION,
            "processor": "ST7108" if nvr else "S3LM",
            "serialNumber": dev.spec.serial,
            "updateSerial": dev.spec.model,
        }
    )


def reboot(dev: DahuaDevice, session: RpcSession, params: dict[str, Any]) -> Result:
    if not _admin(session, dev):
        return Result(code=rpc.NO_PERMISSION)
    return Result(after=lambda: dev.host.reboot(dev, "request"))


# -- configManager, userManager, upgrader -----------------------------------------------------------


def get_config(dev: DahuaDevice, session: RpcSession, params: dict[str, Any]) -> Result:
    name = params.get("name")
    if not isinstance(name, str) or not name:
        return Result(code=rpc.INVALID_PARAM)
    if name.split(".")[0] in config.RESTRICTED and not _admin(session, dev):
        return Result(code=rpc.NO_PERMISSION)
    found = config.lookup(dev, name)
    if found is None:
        return Result(code=rpc.NOT_SET)
    return Result({"table": nest(found, name)})


def _user(dev: DahuaDevice, uid: int) -> dict[str, Any]:
    acc = dev.users[uid]
    return {
        "Anonymous": False,
        "AuthorityList": users.AUTHORITIES[acc.level],
        "Group": users.group_of(acc.level),
        "Id": uid,
        "Memo": dev.memos.get(acc.name, f"{acc.name} 's account"),
        "Name": acc.name,
        "Password": "******",
        "Reserved": uid == 1,
        "Sharable": True,
    }


def user_info_all(dev: DahuaDevice, session: RpcSession, params: dict[str, Any]) -> Result:
    return Result({"users": [_user(dev, uid) for uid in sorted(dev.users)]})


def active_users(dev: DahuaDevice, session: RpcSession, params: dict[str, Any]) -> Result:
    return Result({"users": dev.rpc.active(dev)})


def upgrade_state(dev: DahuaDevice, session: RpcSession, params: dict[str, Any]) -> Result:
    state, progress = system.upgrade_state(dev)
    return Result({"File": "", "Progress": progress, "State": state, "NoReboot": None})


METHODS: dict[str, Method] = {
    "global.keepAlive": keep_alive,
    "global.logout": logout,
    "global.getCurrentTime": current_time,
    "magicBox.getSoftwareVersion": software_version,
    "magicBox.getDeviceType": device_type,
    "magicBox.getSerialNo": serial_no,
    "magicBox.getMachineName": machine_name,
    "magicBox.getSystemInfo": system_info,
    "magicBox.reboot": reboot,
    "configManager.getConfig": get_config,
    "userManager.getUserInfoAll": user_info_all,
    "userManager.getActiveUserInfoAll": active_users,
    "upgrader.getState": upgrade_state,
}


def _available(dev: DahuaDevice) -> list[str]:
    return [m for m in METHODS if m not in dev.profile.lacks]


def call(
    dev: DahuaDevice, session: RpcSession, method: str, params: dict[str, Any], rid: object, sid: object
) -> Response:
    """One call in ``session``: its reply, or the error code a device gives."""
    service, _, verb = method.partition(".")
    if verb == "listMethod":
        names = [m for m in _available(dev) if m.startswith(service + ".")]
        result = Result({"method": names}) if names else Result(code=rpc.METHOD_NOT_FOUND)
    elif method in _available(dev):
        result = METHODS[method](dev, session, params)
    else:
        result = Result(code=rpc.METHOD_NOT_FOUND)
    if result.code:
        return rpc.error(result.code, rid, sid)
    doc: dict[str, Any] = {"id": rid, "result": True, "session": sid}
    if result.params is not None:
        doc["params"] = result.params
    reply = rpc.json_reply(doc)
    reply.after = result.after
    return reply
