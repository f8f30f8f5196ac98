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

from enforcer.credentials.secret import Secret
from enforcer.drivers._wire import accounts as _accounts
from enforcer.drivers.base import Outcome, PasswordRules
from enforcer.drivers.dahua._login import confirm, switch
from enforcer.drivers.dahua._parse import AUTHORITIES, GROUPS, Level, User, users
from enforcer.drivers.dahua._session import DahuaSession
from enforcer.errors import ParseError, Refusal
from enforcer.model import Account

USERS = "/cgi-bin/userManager.cgi"
#: What the firmware accepts (protocols/dahua-cgi.md §4): checked before an account is touched.
PASSWORD_RULES = PasswordRules(min_length=8, max_length=32, min_classes=2, forbidden="'\";:&")


def weak_reason(password: str) -> str | None:
    """Why the device would refuse ``password`` (8–32 chars, two classes, none of ``' " ; : &``), or None."""
    return PASSWORD_RULES.problem(password)


def read_users(session: DahuaSession) -> tuple[User, ...]:
    body = session.get("users", USERS, "getUserInfoAll")[1]
    try:
        return users(body)
    except ParseError as exc:
        raise session.error("users", f"unreadable reply: {exc}") from exc


def _find(session: DahuaSession, name: str) -> User | None:
    return next((u for u in read_users(session) if u.name == name), None)


def _modify_password(session: DahuaSession, step: str, name: str, password: Secret) -> bool:
    """``modifyPassword`` with the store's current password as ``pwdOld``; False when none is known
    or the device answers ``Error`` (a wrong ``pwdOld`` counts only toward the modify-password lock)."""
    current = session.keys.current(name)
    if current is None:
        return False
    params = [("name", name), ("pwd", password.reveal()), ("pwdOld", current.reveal())]
    try:
        session.request(step, USERS, "modifyPassword", params, write=True)
    except Refusal:
        return False
    return True


def _strong(session: DahuaSession, step: str, password: Secret) -> None:
    reason = weak_reason(password.reveal())
    if reason is not None:
        raise session.error(step, f"the device would refuse the new password: {reason}; nothing changed")


def _rights(group: str, authorities: tuple[str, ...]) -> list[tuple[str, str]]:
    return [("user.Group", group)] + [(f"user.AuthorityList[{j}]", a) for j, a in enumerate(authorities)]


def _for_level(level: Level) -> list[tuple[str, str]]:
    return _rights(GROUPS[level], AUTHORITIES[level])


def _add(
    session: DahuaSession, step: str, name: str, password: Secret, rights: list[tuple[str, str]], memo: str
) -> None:
    params = [("user.Name", name), ("user.Password", password.reveal()), *rights]
    params += [("user.Sharable", "true"), ("user.Reserved", "false")] + ([("user.Memo", memo)] if memo else [])
    session.request(step, USERS, "addUser", params, write=True)


def ensure_account(session: DahuaSession, account: Account) -> Outcome:
    step = f"account {account.name}"
    existing = _find(session, account.name)
    is_login = account.name == session.user
    if not account.present:
        if existing is None:
            return Outcome(False, "absent")
        if is_login or existing.id == "1" or existing.reserved:
            raise session.error(step, "refusing to delete the administrator or the account enforcer logs in with")
        session.request(step, USERS, "deleteUser", [("name", account.name)], write=True)
        if _find(session, account.name) is not None:
            raise session.error(step, "the device still lists the account after deleting it")
        return Outcome(True, "deleted")
    if existing is None:
        if account.password is None:
            raise session.error(step, "cannot add an account without a password")
        _strong(session, step, account.password)
        _add(session, step, account.name, account.password, _for_level(account.level), "")
        _verify(session, account)
        confirm(session, account.name, account.password, f"confirm {account.name}'s password")
        return Outcome(True, "added")
    password = account.password
    password_differs = password is not None and not session.keys.holds(account.name, password)
    level_differs = _accounts.level_changes(existing, account)
    if not password_differs and not level_differs:
        return Outcome(False, "matches")
    changed = [w for w, d in (("password", password_differs), ("level", level_differs)) if d]
    if password is not None and password_differs:
        _strong(session, step, password)
        if is_login:
            old = session.keys.password
            assert old is not None
            params = [("name", account.name), ("pwd", password.reveal()), ("pwdOld", old.reveal())]
            session.request(step, USERS, "modifyPassword", params, write=True)
            switch(session, password)  # the old one now fails and would count
        else:
            if existing.id == "1" or existing.reserved:
                raise session.error(step, "a reserved account's password cannot be set without its old password")
            if not _modify_password(session, step, account.name, password):
                # Same group, rights and memo as before, unless the level is to change as well.
                rights = _for_level(account.level) if level_differs else _rights(existing.group, existing.authorities)
                session.request(step, USERS, "deleteUser", [("name", account.name)], write=True)
                _add(session, step, account.name, password, rights, existing.memo)
                level_differs = False  # re-added with the wanted level
            confirm(session, account.name, password, f"confirm {account.name}'s password")
    if level_differs:
        params = [("name", account.name), *_for_level(account.level)]
        params += [("user.Memo", existing.memo)] if existing.memo else []
        session.request(step, USERS, "modifyUser", params, write=True)
    _verify(session, account)
    return Outcome(True, " and ".join(changed) + " changed")


def _verify(session: DahuaSession, account: Account) -> None:
    _accounts.verify_account(account, (u.fact() for u in read_users(session)), session.error)
