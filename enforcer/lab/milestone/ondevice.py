"""``updatePasswordOnDevice``: the recording server changes the device's own password, through its protocol.

As XProtect's device packs do (protocols/clients.md §1.4), it logs in with the password it stores, as the
hardware item's user, and changes that user's password from its own address: ISAPI ``PUT
/ISAPI/Security/users/{id}`` with ``<loginPassword>`` (the id read from ``GET /ISAPI/Security/users``),
Dahua ``userManager.cgi?action=modifyPassword`` with ``pwdOld``. The device applies its own rules and
counts a wrong stored password like any failed login, so a stale item locks the device here as well.
Each flow is a generator over :func:`~enforcer.lab.net.httpclient.drive`, one digest challenge answered
with a counted ``nc``; it returns ``None`` on success, else what the device said.
"""

from __future__ import annotations

import asyncio
import ssl
import xml.etree.ElementTree as ET
from collections.abc import Generator
from typing import TYPE_CHECKING
from urllib.parse import quote
from xml.sax.saxutils import escape

from enforcer.lab.net.httpclient import Outgoing, Reply, authorization, digest_challenge, drive, insecure_tls
from enforcer.lab.spec import LabHardware

if TYPE_CHECKING:
    from enforcer.lab.milestone.server import MilestoneServer

Flow = Generator[Outgoing, Reply, str | None]


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _user_id(body: bytes, user: str) -> str | None:
    """The id of ``user`` in an ISAPI ``UserList`` (any namespace)."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return None
    for item in root.iter():
        if _local(item.tag) != "User":
            continue
        fields = {_local(child.tag): (child.text or "") for child in item}
        if fields.get("userName") == user:
            return fields.get("id")
    return None


def isapi_flow(user: str, old: str, new: str) -> Flow:
    """Log in, find ``user``'s id, ``PUT`` the new password with the old one as ``loginPassword``."""
    listing = "/ISAPI/Security/users"
    reply = yield Outgoing("GET", listing, {})
    chal = digest_challenge(reply) if reply.status == 401 else None
    if chal is None:
        return f"HTTP {reply.status} to the login challenge"
    reply = yield Outgoing("GET", listing, {"Authorization": authorization(chal, user, old, "GET", listing, 1)})
    if reply.status != 200:
        return "the stored password was refused" if reply.status == 401 else f"HTTP {reply.status} reading users"
    uid = _user_id(reply.body, user)
    if uid is None:
        return f"no user {user!r} on the device"
    path = f"{listing}/{uid}"
    body = (
        f"<User><id>{uid}</id><userName>{escape(user)}</userName><password>{escape(new)}</password>"
        f"<loginPassword>{escape(old)}</loginPassword></User>"
    ).encode()
    headers = {"Authorization": authorization(chal, user, old, "PUT", path, 2), "Content-Type": "application/xml"}
    reply = yield Outgoing("PUT", path, headers, body)
    if reply.status == 200:
        return None
    return _isapi_status(reply)


def _isapi_status(reply: Reply) -> str:
    try:
        root = ET.fromstring(reply.body)
    except ET.ParseError:
        return f"HTTP {reply.status}"
    fields = {_local(child.tag): (child.text or "") for child in root}
    return f"HTTP {reply.status} {fields.get('subStatusCode') or fields.get('statusString') or ''}".strip()


def dahua_flow(user: str, old: str, new: str) -> Flow:
    """``modifyPassword`` with ``pwdOld``, over CGI digest."""
    uri = (
        f"/cgi-bin/userManager.cgi?action=modifyPassword&name={quote(user, safe='')}"
        f"&pwd={quote(new, safe='')}&pwdOld={quote(old, safe='')}"
    )
    reply = yield Outgoing("GET", uri, {})
    chal = digest_challenge(reply) if reply.status == 401 else None
    if chal is None:
        return f"HTTP {reply.status} to the login challenge"
    reply = yield Outgoing("GET", uri, {"Authorization": authorization(chal, user, old, "GET", uri, 1)})
    if reply.status == 200 and reply.body.strip().upper().startswith(b"OK"):
        return None
    if reply.status == 401:
        return "the stored password was refused"
    said = reply.body.decode("utf-8", "replace").strip().replace("\r\n", " ")
    return f"HTTP {reply.status} {said}".strip()


async def change(server: MilestoneServer, hw: LabHardware, new: str) -> str | None:
    """Change ``hw``'s device password to ``new`` from the server's address: ``None``, or why not."""
    name = server.host.device_at(hw.address, hw.port)
    endpoint = server.host.endpoint_of(name) if name is not None else None
    if endpoint is None:
        return "no device answers at the hardware's address"
    address, port, scheme = endpoint
    flow = dahua_flow(hw.user, hw.password, new) if hw.driver == "dahua" else isapi_flow(hw.user, hw.password, new)
    tls = insecure_tls() if scheme == "https" else None
    try:
        return await drive(flow, address, port, source=server.spec.address, tls=tls)
    except (OSError, TimeoutError, asyncio.IncompleteReadError, ssl.SSLError):
        return "the device cannot be reached"
    except (ValueError, IndexError):
        return "the device's reply is not HTTP"
