"""Dahua ``userManager.cgi``: accounts over CGI (dahua-cgi.md §4, docs/dahua-wire.md level mapping).

Passwords are write-only (``******``), travel percent-encoded in the query, and must pass the Web 3.0
rule (8–32 characters, two classes, none of ``' " ; : &``). A user's index is its id - 1, so deletes
leave gaps. ``modifyPassword`` needs ``pwdOld``; wrong ones count toward a lock of their own (not the
login lock), after which every ``modifyPassword`` of that account answers ``Error``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from enforcer.lab.dahua import kv
from enforcer.lab.isapi.security import is_risky
from enforcer.lab.net.httpserver import Request, Response
from enforcer.lab.spec import LabAccount, Level

if TYPE_CHECKING:
    from enforcer.lab.dahua.device import DahuaDevice, Session

MAX_USERS = 18
AUTHORITIES: dict[Level, list[str]] = {
    "administrator": ["AuthUserMag", "AuthSysCfg", "Monitor_01", "Replay_01"],
    "operator": ["Monitor_01", "Replay_01", "AuthBackup"],
    "viewer": ["Monitor_01"],
}
FORBIDDEN = set("'\";:&")


def is_weak(password: str) -> bool:
    """Refused by Web 3.0: risky as on any device (``is_risky``), over 32 characters, or holding one
    of :data:`FORBIDDEN`."""
    return is_risky(password) or len(password) > 32 or any(c in FORBIDDEN for c in password)


def group_of(level: Level) -> str:
    return "admin" if level == "administrator" else "user"


def level_of(group: str, authorities: list[str] | None) -> Level | None:
    """The level a group and authority list amount to (``None``: not a group)."""
    if group == "admin":
        return "administrator"
    if group != "user":
        return None
    if authorities and any(not a.startswith("Monitor_") for a in authorities):
        return "operator"
    return "viewer"


def _authorities(req: Request, prefix: str) -> list[str] | None:
    """``<prefix>.AuthorityList[j]`` values in index order, ``None`` when none is given."""
    found: dict[int, str] = {}
    head = f"{prefix}.AuthorityList["
    for key, val in req.query.items():
        if key.startswith(head) and key.endswith("]"):
            try:
                found[int(key[len(head) : -1])] = val
            except ValueError:
                continue
    return [found[i] for i in sorted(found)] if found else None


def _fields(dev: DahuaDevice, prefix: str, uid: int, acc: LabAccount) -> list[tuple[str, object]]:
    pairs: list[tuple[str, object]] = [
        (f"{prefix}.Id", uid),
        (f"{prefix}.Name", acc.name),
        (f"{prefix}.Password", "******"),
        (f"{prefix}.Group", group_of(acc.level)),
        (f"{prefix}.Memo", dev.memos.get(acc.name, f"{acc.name} 's account")),
        (f"{prefix}.Sharable", True),
        (f"{prefix}.Reserved", uid == 1),
    ]
    pairs += [(f"{prefix}.AuthorityList[{j}]", a) for j, a in enumerate(AUTHORITIES[acc.level])]
    return pairs


def get_all(dev: DahuaDevice, req: Request, s: Session) -> Response:
    pairs: list[tuple[str, object]] = []
    for uid, acc in sorted(dev.users.items()):
        pairs += _fields(dev, f"users[{uid - 1}]", uid, acc)
    return kv.kv(pairs)


def get_active(dev: DahuaDevice, req: Request, s: Session) -> Response:
    """``getActiveUserInfoAll``: the open RPC2 sessions (CGI digest keeps none)."""
    pairs: list[tuple[str, object]] = []
    for i, active in enumerate(dev.rpc.active(dev)):
        pairs += [(f"users[{i}].{k}", v) for k, v in active.items()]
    return kv.kv(pairs)


def get_one(dev: DahuaDevice, req: Request, s: Session) -> Response:
    acc = dev.account(req.query.get("name", ""))
    if acc is None:
        return kv.error()
    return kv.kv(_fields(dev, "user", dev.user_id(acc), acc))


def _admin(s: Session) -> bool:
    return s.account.level == "administrator"


def add_user(dev: DahuaDevice, req: Request, s: Session) -> Response:
    if not _admin(s):
        return kv.denied()
    q = req.query
    name, password = q.get("user.Name", ""), q.get("user.Password", "")
    level = level_of(q.get("user.Group", ""), _authorities(req, "user"))
    if not name or level is None or dev.account(name) is not None or is_weak(password):
        return kv.error()
    if len(dev.users) >= MAX_USERS:
        return kv.error()
    uid = max(dev.users, default=0) + 1
    dev.users[uid] = LabAccount(name=name, level=level, password=password)
    if "user.Memo" in q:
        dev.memos[name] = q["user.Memo"]
    dev.emit("account_added", source=req.source, user=name, by=s.account.name, level=level, id=uid)
    dev.sync_accounts()
    return kv.ok()


def delete_user(dev: DahuaDevice, req: Request, s: Session) -> Response:
    if not _admin(s):
        return kv.denied()
    acc = dev.account(req.query.get("name", ""))
    if acc is None:
        return kv.error()
    uid = dev.user_id(acc)
    if uid == 1:
        return kv.error()  # the reserved admin
    del dev.users[uid]
    dev.memos.pop(acc.name, None)
    dev.password_changed(acc.name)  # its sessions end
    dev.emit("account_deleted", source=req.source, user=acc.name, by=s.account.name, id=uid)
    dev.sync_accounts()
    return kv.ok()


def modify_user(dev: DahuaDevice, req: Request, s: Session) -> Response:
    if not _admin(s):
        return kv.denied()
    q = req.query
    acc = dev.account(q.get("name", ""))
    if acc is None:
        return kv.error()
    uid = dev.user_id(acc)
    authorities = _authorities(req, "user")
    group = q.get("user.Group", group_of(acc.level) if authorities is not None else "")
    level = level_of(group, authorities) if group else acc.level
    if level is None or (uid == 1 and level != acc.level):
        return kv.error()
    if "user.Memo" in q:
        dev.memos[acc.name] = q["user.Memo"]
    if level != acc.level:
        acc.level = level
        dev.emit("account_changed", source=req.source, user=acc.name, by=s.account.name, fields=["level"], id=uid)
        dev.sync_accounts()
    return kv.ok()


def modify_password(dev: DahuaDevice, req: Request, s: Session) -> Response:
    q = req.query
    acc = dev.account(q.get("name", ""))
    if acc is None or (not _admin(s) and acc is not s.account):
        return kv.error() if acc is None else kv.denied()
    key = dev.modify_locks.key(req.source, acc.name)
    if dev.modify_locks.is_locked(key):
        dev.modify_locks.refused(key)
        return kv.error()
    if "pwdOld" not in q or "pwd" not in q:
        return kv.error("Bad Request!")
    if q["pwdOld"] != acc.password:
        left = dev.modify_locks.fail(key)
        dev.emit("auth_failed", source=req.source, user=acc.name, reason="old_password", attempts_left=left)
        if left == 0:
            seconds = dev.modify_locks.policy.lock_seconds
            dev.emit("modify_password_locked", source=req.source, user=acc.name, seconds=seconds)
        return kv.error()
    dev.modify_locks.succeed(key)
    new = q["pwd"]
    if new == acc.password:
        return kv.ok()
    if is_weak(new):
        return kv.error()
    acc.password = new
    dev.password_changed(acc.name)
    uid = dev.user_id(acc)
    dev.emit("account_changed", source=req.source, user=acc.name, by=s.account.name, fields=["password"], id=uid)
    dev.sync_accounts()
    return kv.ok()


def register(reg: Callable[..., None]) -> None:
    reg(
        "userManager.cgi",
        getUserInfoAll=get_all,
        getUserInfo=get_one,
        getActiveUserInfoAll=get_active,
        addUser=add_user,
        deleteUser=delete_user,
        modifyUser=modify_user,
        modifyPassword=modify_password,
    )
