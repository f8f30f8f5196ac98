"""Dahua accounts (``userManager.cgi``, protocols/dahua-cgi.md §4): read, add, delete, level, password.

Another account's password: CGI cannot set it without the old one (``modifyPassword`` needs
``pwdOld``). When the credential store knows the account's ``current`` password, ``modifyPassword``
with that as ``pwdOld`` comes first: the account keeps its id, and a wrong ``pwdOld`` counts only
toward the separate modify-password lock, never the login lock. Only when that answers ``Error``
(or no current password is known) is the account deleted and added again with the same group,
rights and memo. Passwords are checked against the device's rules *before* anything is changed, so a
refused password never leaves the account missing. The login user changes its own password with
``pwdOld`` = the working credential. Every new password is confirmed by a fresh RPC2 login. Never
deleted: the login user and id 1.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from enforcer.config.secrets import Secret
from enforcer.drivers._wire import accounts as _accounts
from enforcer.drivers.base import Outcome
from enforcer.drivers.dahua._login import confirm
from enforcer.drivers.dahua._parse import AUTHORITIES, GROUPS, Level, ParseError, User, users
from enforcer.drivers.dahua._session import Refusal
from enforcer.model import Account

if TYPE_CHECKING:
    from enforcer.drivers.dahua._driver import DahuaDriver

USERS = "/cgi-bin/userManager.cgi"
FORBIDDEN = "'\";:&"


def weak_reason(password: str) -> str | None:
    """Why the device would refuse ``password`` (8–32 chars, two classes, none of ``' " ; : &``), or None."""
    if not 8 <= len(password) <= 32:
        return "it must be 8 to 32 characters long"
    if any(c in FORBIDDEN for c in password):
        return "it must not contain any of ' \" ; : &"
    classes = [any(c.isupper() for c in password), any(c.islower() for c in password)]
    classes += [any(c.isdigit() for c in password), any(not c.isalnum() for c in password)]
    if sum(classes) < 2:
        return "it needs two of upper case, lower case, digits and other characters"
    return None


def read_users(drv: DahuaDriver) -> tuple[User, ...]:
    body = drv.get("users", USERS, "getUserInfoAll")[1]
    try:
        return users(body)
    except ParseError as exc:
        raise drv.error("users", f"unreadable reply: {exc}") from exc


def _find(drv: DahuaDriver, name: str) -> User | None:
    return next((u for u in read_users(drv) if u.name == name), None)


def _modify_password(drv: DahuaDriver, step: str, name: str, password: Secret) -> bool:
    """``modifyPassword`` with the store's current password as ``pwdOld``; False when none is known
    or the device answers ``Error`` (a wrong ``pwdOld`` counts only toward the modify-password lock)."""
    current = _accounts.current_password(drv.credentials, drv.device.id, name)
    if current is None:
        return False
    params = [("name", name), ("pwd", password.reveal()), ("pwdOld", current.reveal())]
    try:
        drv.session.request(step, USERS, "modifyPassword", params, write=True)
    except Refusal:
        return False
    return True


def _strong(drv: DahuaDriver, step: str, password: Secret) -> None:
    reason = weak_reason(password.reveal())
    if reason is not None:
        raise drv.error(step, f"the device would refuse the new password: {reason}; nothing changed")


def _rights(group: str, authorities: tuple[str, ...]) -> list[tuple[str, str]]:
    return [("user.Group", group)] + [(f"user.AuthorityList[{j}]", a) for j, a in enumerate(authorities)]


def _for_level(level: Level) -> list[tuple[str, str]]:
    return _rights(GROUPS[level], AUTHORITIES[level])


def _add(drv: DahuaDriver, step: str, name: str, password: Secret, rights: list[tuple[str, str]], memo: str) -> None:
    params = [("user.Name", name), ("user.Password", password.reveal()), *rights]
    params += [("user.Sharable", "true"), ("user.Reserved", "false")] + ([("user.Memo", memo)] if memo else [])
    drv.session.request(step, USERS, "addUser", params, write=True)


def ensure_account(drv: DahuaDriver, account: Account) -> Outcome:
    step = f"account {account.name}"
    existing = _find(drv, account.name)
    is_login = account.name == drv.options.login_user
    if not account.present:
        if existing is None:
            return Outcome(False, "absent")
        if is_login or existing.id == "1" or existing.reserved:
            raise drv.error(step, "refusing to delete the administrator or the account enforcer logs in with")
        drv.session.request(step, USERS, "deleteUser", [("name", account.name)], write=True)
        if _find(drv, account.name) is not None:
            raise drv.error(step, "the device still lists the account after deleting it")
        return Outcome(True, "deleted")
    if existing is None:
        if account.password is None:
            raise drv.error(step, "cannot add an account without a password")
        _strong(drv, step, account.password)
        _add(drv, step, account.name, account.password, _for_level(account.level), "")
        _verify(drv, account)
        confirm(drv.session, account.name, account.password, f"confirm {account.name}'s password")
        return Outcome(True, "added")
    password = account.password
    password_differs = password is not None and not _accounts.known_password(drv, account.name, password)
    level_differs = _accounts.level_changes(existing, account)
    if not password_differs and not level_differs:
        return Outcome(False, "matches")
    changed = [w for w, d in (("password", password_differs), ("level", level_differs)) if d]
    if password is not None and password_differs:
        _strong(drv, step, password)
        if is_login:
            old = drv.session.password
            assert old is not None
            params = [("name", account.name), ("pwd", password.reveal()), ("pwdOld", old.reveal())]
            drv.session.request(step, USERS, "modifyPassword", params, write=True)
            drv.switch_credential(password, "desired")  # the old one now fails and would count
        else:
            if existing.id == "1" or existing.reserved:
                raise drv.error(step, "a reserved account's password cannot be set without its old password")
            if not _modify_password(drv, step, account.name, password):
                # Same group, rights and memo as before, unless the level is to change as well.
                rights = _for_level(account.level) if level_differs else _rights(existing.group, existing.authorities)
                drv.session.request(step, USERS, "deleteUser", [("name", account.name)], write=True)
                _add(drv, step, account.name, password, rights, existing.memo)
                level_differs = False  # re-added with the wanted level
            confirm(drv.session, account.name, password, f"confirm {account.name}'s password")
    if level_differs:
        params = [("name", account.name), *_for_level(account.level)]
        params += [("user.Memo", existing.memo)] if existing.memo else []
        drv.session.request(step, USERS, "modifyUser", params, write=True)
    _verify(drv, account)
    return Outcome(True, " and ".join(changed) + " changed")


def _verify(drv: DahuaDriver, account: Account) -> None:
    _accounts.verify_account(account, (u.fact() for u in read_users(drv)), drv.error)
