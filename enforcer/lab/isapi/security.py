"""ISAPI security endpoints: ``userCheck``, ``users``, ``illegalLoginLock``, ``Security/capabilities``.

Protocol §3.1–3.3. Passwords are write-only; ``<loginPassword>`` (the caller's current password) is
required on profiles with ``requires_login_password``: missing → 403 ``loginPasswordError``, wrong →
403 ``4 / loginPasswordError / 0x4000000C`` and one failure toward the caller's lock.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING
from xml.etree.ElementTree import Element

from enforcer.lab.isapi.xml import Raw, XmlFormatError, boolean, parse, tags, text
from enforcer.lab.net.httpserver import Request, Response
from enforcer.lab.spec import LabAccount, Level

if TYPE_CHECKING:
    from enforcer.lab.isapi.device import HikDevice, Session

MAX_USERS = 32
PASSWORD_MAX = 16
LEVELS: dict[str, Level] = {"administrator": "administrator", "operator": "operator", "viewer": "viewer"}


def is_risky(password: str) -> bool:
    """Weak: shorter than 8 characters or drawn from a single character class."""
    classes = sum(
        [
            any(c.islower() for c in password),
            any(c.isupper() for c in password),
            any(c.isdigit() for c in password),
            any(not c.isalnum() for c in password),
        ]
    )
    return len(password) < 8 or classes < 2


def user_check(dev: HikDevice, req: Request, s: Session) -> Response:
    body = tags(
        [
            ("statusValue", 200),
            ("statusString", "OK"),
            ("isDefaultPassword", s.account.password == dev.profile.default_password),
            ("isRiskPassword", is_risky(s.account.password)),
            ("isActivated", True),
        ]
    )
    return dev.xml("userCheck", body)


def _user_xml(uid: int, acc: LabAccount) -> str:
    return tags(
        [
            ("id", uid),
            ("enabled", acc.enabled),
            ("userName", acc.name),
            ("userLevel", acc.level.capitalize()),
            ("attribute", Raw(tags([("inherent", uid == 1)]))),
        ]
    )


def users_list(dev: HikDevice, req: Request, s: Session) -> Response:
    body = "".join(f"<User>{_user_xml(uid, acc)}</User>" for uid, acc in sorted(dev.users.items()))
    return dev.xml("UserList", body)


def _target(dev: HikDevice, req: Request) -> tuple[int, LabAccount] | None:
    try:
        uid = int(req.query["_id"])
    except ValueError:
        return None
    acc = dev.users.get(uid)
    return (uid, acc) if acc is not None else None


def user_get(dev: HikDevice, req: Request, s: Session) -> Response:
    found = _target(dev, req)
    if found is None:
        return dev.status(req, 400, 6, "badParameters", message="no such user")
    return dev.xml("User", _user_xml(*found))


def check_login_password(dev: HikDevice, req: Request, s: Session, given: str | None) -> Response | None:
    """Enforce ``<loginPassword>``; returns the refusal, or ``None`` to go on."""
    if s.account.level != "administrator":
        return dev.invalid(req, "invalidOperation", error_code="0x40000006", message="administrator only")
    if not dev.profile.requires_login_password and given is None:
        return None
    if given is None:
        return dev.invalid(req, "loginPasswordError", error_code="0x4000000C", message="loginPassword required")
    if given != s.account.password:
        dev.count_failure(s.key, req.source, s.account.name, "login_password")
        return dev.invalid(req, "loginPasswordError", error_code="0x4000000C")
    dev.locks.succeed(s.key, confirmation=True)
    return None


def _body(dev: HikDevice, req: Request, root: str) -> Element | Response:
    try:
        el = parse(req.body)
    except XmlFormatError:
        return dev.bad_format(req)
    if el.tag != root:
        return dev.bad_content(req, f"expected <{root}>")
    return el


def _new_password(dev: HikDevice, req: Request, raw: str | None, old: str | None) -> Response | None:
    if raw is None:
        return None
    if not raw or len(raw) > PASSWORD_MAX:
        return dev.status(req, 400, 6, "badParameters", message=f"password length must be 1..{PASSWORD_MAX}")
    if old is not None and raw == old:
        return dev.invalid(req, "cannotSameAsOldPassword", error_code="0x400010E8")
    return None


def _level(raw: str | None) -> Level | None:
    return LEVELS.get((raw or "").lower())


def user_put(dev: HikDevice, req: Request, s: Session) -> Response:
    found = _target(dev, req)
    el = _body(dev, req, "User")
    if isinstance(el, Response):
        return el
    refusal = check_login_password(dev, req, s, text(el, "loginPassword"))
    if refusal is not None:
        return refusal
    if found is None:
        return dev.status(req, 400, 6, "badParameters", message="no such user")
    uid, acc = found
    password = text(el, "password")
    problem = _new_password(dev, req, password, acc.password)
    if problem is not None:
        return problem
    changed = []
    level = _level(text(el, "userLevel"))
    if text(el, "userLevel") is not None and level is None:
        return dev.bad_content(req, "userLevel")
    if level is not None and level != acc.level and uid != 1:
        acc.level = level
        changed.append("level")
    enabled = text(el, "enabled")
    if enabled is not None and uid != 1:
        try:
            flag = boolean(enabled)
        except ValueError:
            return dev.bad_content(req, "enabled")
        if flag is not None and flag != acc.enabled:
            acc.enabled = flag
            changed.append("enabled")
    if password is not None:
        acc.password = password
        changed.append("password")
    if changed:
        dev.emit("account_changed", source=req.source, user=acc.name, by=s.account.name, fields=changed, id=uid)
        dev.sync_accounts()
    return dev.ok(req)


def user_post(dev: HikDevice, req: Request, s: Session) -> Response:
    el = _body(dev, req, "User")
    if isinstance(el, Response):
        return el
    refusal = check_login_password(dev, req, s, text(el, "loginPassword"))
    if refusal is not None:
        return refusal
    name, password = text(el, "userName"), text(el, "password")
    level = _level(text(el, "userLevel") or "viewer")
    if not name or password is None or level is None:
        return dev.bad_content(req, "userName, password and userLevel are required")
    if dev.account(name) is not None:
        return dev.status(req, 400, 6, "badParameters", message="userName already exists")
    if len(dev.users) >= MAX_USERS:
        return dev.invalid(req, "invalidOperation", message="user table full")
    problem = _new_password(dev, req, password, None)
    if problem is not None:
        return problem
    uid = max(dev.users, default=0) + 1
    dev.users[uid] = LabAccount(name=name, level=level, password=password)
    dev.emit("account_added", source=req.source, user=name, by=s.account.name, level=level, id=uid)
    dev.sync_accounts()
    return dev.ok(req)


def user_delete(dev: HikDevice, req: Request, s: Session) -> Response:
    given = req.query.get("loginPassword")
    if given is None and req.body.strip():
        try:
            given = text(parse(req.body), "loginPassword")
        except XmlFormatError:
            return dev.bad_format(req)
    refusal = check_login_password(dev, req, s, given)
    if refusal is not None:
        return refusal
    found = _target(dev, req)
    if found is None:
        return dev.status(req, 400, 6, "badParameters", message="no such user")
    uid, acc = found
    if uid == 1:
        return dev.invalid(req, "invalidOperation", error_code="0x40000006", message="admin cannot be deleted")
    del dev.users[uid]
    dev.emit("account_deleted", source=req.source, user=acc.name, by=s.account.name, id=uid)
    dev.sync_accounts()
    return dev.ok(req)


# -- illegalLoginLock ---------------------------------------------------------------------------


def _lock_time_range(dev: HikDevice) -> tuple[int, int]:
    return (1, 120) if dev.profile.lock_time_unit == "minutes" else (1, 7200)


def _unit_seconds(dev: HikDevice) -> int:
    return 60 if dev.profile.lock_time_unit == "minutes" else 1


def lock_get(dev: HikDevice, req: Request, s: Session) -> Response:
    policy = dev.spec.lock_policy
    body = tags(
        [
            ("enabled", policy.enabled),
            ("maxIllegalLoginTimes", policy.max_attempts),
            ("maxIllegalLoginLockTime", policy.lock_seconds // _unit_seconds(dev)),
        ]
    )
    return dev.xml("IllegalLoginLock", body)


def lock_put(dev: HikDevice, req: Request, s: Session) -> Response:
    el = _body(dev, req, "IllegalLoginLock")
    if isinstance(el, Response):
        return el
    policy = dev.spec.lock_policy
    try:
        enabled = boolean(text(el, "enabled"))
        raw_times, raw_time = text(el, "maxIllegalLoginTimes"), text(el, "maxIllegalLoginLockTime")
        times = int(raw_times) if raw_times is not None else None
        duration = int(raw_time) if raw_time is not None else None
    except ValueError:
        return dev.bad_content(req)
    lo, hi = dev.profile.max_attempts_range
    if times is not None and not lo <= times <= hi:
        return dev.status(req, 400, 6, "badParameters", message=f"maxIllegalLoginTimes {lo}..{hi}")
    tlo, thi = _lock_time_range(dev)
    if duration is not None and not tlo <= duration <= thi:
        return dev.status(req, 400, 6, "badParameters", message=f"maxIllegalLoginLockTime {tlo}..{thi}")
    if enabled is False and not dev.profile.lock_can_be_disabled:
        return dev.invalid(
            req, "invalidOperation", error_code="0x40000006", message="illegal login lock cannot be disabled"
        )
    before = (policy.enabled, policy.max_attempts, policy.lock_seconds)
    if enabled is not None:
        policy.enabled = enabled
    if times is not None:
        policy.max_attempts = times
    if duration is not None:
        policy.lock_seconds = duration * _unit_seconds(dev)
    if (policy.enabled, policy.max_attempts, policy.lock_seconds) != before:
        dev.emit(
            "lock_policy_changed",
            source=req.source,
            user=s.account.name,
            enabled=policy.enabled,
            max_attempts=policy.max_attempts,
            lock_seconds=policy.lock_seconds,
        )
        dev.host.state_changed()
    return dev.ok(req)


def security_caps_xml(dev: HikDevice) -> str:
    parts = [
        tags([("supportUserNums", MAX_USERS), ("isSupportUserCheck", True), ("keyIterateNum", 100)]),
        '<securityVersion opt="1"/>',
        '<WebCertificateCap><CertificateType opt="digest,digest/basic"/>'
        '<SecurityAlgorithm><algorithmType opt="MD5"/></SecurityAlgorithm></WebCertificateCap>',
    ]
    if dev.family == "ipc" and not dev.lacks("lock_policy"):
        lo, hi = dev.profile.max_attempts_range
        tlo, thi = _lock_time_range(dev)
        parts.append(tags([("issupIllegalLoginLock", True)]))
        parts.append(f'<maxIllegalLoginTimes min="{lo}" max="{hi}" def="7"/>')
        parts.append(f'<maxIllegalLoginLockTime min="{tlo}" max="{thi}" def="30"/>')
    return "".join(parts)


def security_caps(dev: HikDevice, req: Request, s: Session) -> Response:
    return dev.xml("SecurityCap", security_caps_xml(dev))


def register(route: Callable[..., None]) -> None:
    route(r"/ISAPI/Security/userCheck", GET=user_check)
    route(r"/ISAPI/Security/users", GET=users_list, POST=user_post)
    route(r"/ISAPI/Security/users/(?P<id>[^/]+)", GET=user_get, PUT=user_put, DELETE=user_delete)
    route(r"/ISAPI/Security/illegalLoginLock", feature="lock_policy", GET=lock_get, PUT=lock_put)
    route(r"/ISAPI/Security/capabilities", GET=security_caps)
