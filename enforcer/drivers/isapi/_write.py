"""ISAPI writes: accounts, the illegal-login lock, recorder channels, the IP filter.

Each ``ensure_*`` re-reads, compares, writes only what differs, and verifies the write took
(DeviceDriver invariants). Passwords are write-only on every device, so "differs" for a password
means: differs from the working login credential (the login user), or from the credential store's
``current`` (any other account). Values are XML-escaped by :mod:`._isapixml`, query values URL-encoded
by the session.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from enforcer.credentials.secret import Secret
from enforcer.drivers._wire import accounts as _accounts
from enforcer.drivers._wire import settings
from enforcer.drivers.base import Outcome
from enforcer.drivers.isapi import _parse
from enforcer.drivers.isapi._session import PROBE_PATH, IsapiSession
from enforcer.drivers.isapi._xml import document, elements, parse, response_status
from enforcer.errors import XmlError
from enforcer.facts import AccountFact, IPFilterFact, LockPolicyFact
from enforcer.model import Account, LockPolicy

USERS = "/ISAPI/Security/users"
LOCK = "/ISAPI/Security/illegalLoginLock"
CHANNELS = "/ISAPI/ContentMgmt/InputProxy/channels"
IP_FILTER = "/ISAPI/System/Network/ipFilter"
POLL_SECONDS = 0.2


def _login_password(session: IsapiSession) -> str:
    assert session.keys.password is not None
    return session.keys.password.reveal()


def _users(session: IsapiSession) -> tuple[AccountFact, ...]:
    try:
        return _parse.users(session.get("users", USERS)[1])
    except XmlError as exc:
        raise session.error("users", f"unreadable reply: {exc}") from exc


def _refusal(session: IsapiSession, step: str, status: int, body: bytes) -> str:
    try:
        found = response_status(parse(body))
    except XmlError:
        found = None
    return f"HTTP {status}" + (f": {found.describe()}" if found else "")


def ensure_account(session: IsapiSession, account: Account) -> Outcome:
    step = f"account {account.name}"
    existing = next((a for a in _users(session) if a.name == account.name), None)
    is_login = account.name == session.user
    if not account.present:
        if existing is None:
            return Outcome(False, "absent")
        if is_login or existing.id == "1":
            raise session.error(step, "refusing to delete the administrator or the account enforcer logs in with")
        session.request(step, "DELETE", f"{USERS}/{existing.id}", query={"loginPassword": _login_password(session)})
        if any(a.name == account.name for a in _users(session)):
            raise session.error(step, "the device still lists the account after deleting it")
        return Outcome(True, "deleted")
    level = account.level.capitalize()
    if existing is None:
        if account.password is None:
            raise session.error(step, "cannot add an account without a password")
        body = elements(
            [
                ("userName", account.name),
                ("password", account.password.reveal()),
                ("userLevel", level),
                ("loginPassword", _login_password(session)),
            ]
        )
        session.request(step, "POST", USERS, body=document("User", body))
        _verify_account(session, account)
        _confirm_password(session, account.name, account.password)
        return Outcome(True, "added")
    wanted = account.password
    password_differs = wanted is not None and not session.keys.holds(account.name, wanted)
    level_differs = _accounts.level_changes(existing, account)
    if not password_differs and not level_differs:
        return Outcome(False, "matches")
    body = elements(
        [
            ("id", existing.id),
            ("userName", account.name),
            ("password", account.password.reveal() if password_differs and account.password else None),
            ("userLevel", level if existing.id != "1" else "Administrator"),
            ("loginPassword", _login_password(session)),
        ]
    )
    reply = session.request(step, "PUT", f"{USERS}/{existing.id}", body=document("User", body), allow=(200, 403))
    if reply.status == 403:
        if not (password_differs and _same_as_old(reply.body)):
            raise session.error(step, f"HTTP 403: {_describe(reply.body)}")
        # The device already holds this password: an interrupted run set it and died before
        # recording it. Nothing to change; the level, if it differs, goes on its own.
        if not level_differs:
            return Outcome(False, "password already set")
        retry = elements(
            [
                ("id", existing.id),
                ("userName", account.name),
                ("userLevel", level),
                ("loginPassword", _login_password(session)),
            ]
        )
        session.request(step, "PUT", f"{USERS}/{existing.id}", body=document("User", retry))
        _verify_account(session, account)
        return Outcome(True, "level changed (password already set)")
    if password_differs and account.password is not None:
        if is_login:
            session.switch(account.password)  # the old one now fails and would count
        else:
            _confirm_password(session, account.name, account.password)
    _verify_account(session, account)
    changed = [w for w, d in (("password", password_differs), ("level", level_differs)) if d]
    return Outcome(True, " and ".join(changed) + " changed")


def _same_as_old(body: bytes) -> bool:
    """A ResponseStatus saying the new password is the one the account already has."""
    try:
        status = response_status(parse(body))
    except XmlError:
        return False
    return status is not None and status.sub == "cannotSameAsOldPassword"


def _describe(body: bytes) -> str:
    try:
        status = response_status(parse(body))
    except XmlError:
        return "unreadable reply"
    return status.describe() if status is not None else "no ResponseStatus"


def _verify_account(session: IsapiSession, account: Account) -> None:
    _accounts.verify_account(account, _users(session), session.error)


def _confirm_password(session: IsapiSession, user: str, password: Secret) -> None:
    """Log in once as ``user`` with the password just set (a sure credential): the write took."""
    confirming = IsapiSession(session.keys.for_user(user), session.transport, session.options)
    confirming.keys.use(password, "desired")
    confirming.request(f"confirm {user}'s new password", "GET", PROBE_PATH)


def ensure_lock_policy(
    session: IsapiSession,
    policy: LockPolicy,
    *,
    read: Callable[[], LockPolicyFact],
    unit: Callable[[], _parse.Unit | None],
) -> Outcome:
    """``read`` reads the policy and learns the firmware's lock-time unit, which ``unit`` then tells."""

    def write() -> None:
        step = "lock policy"
        if not policy.enabled:
            body = elements([("enabled", False)])
        else:
            duration = policy.lock_minutes if unit() == "minutes" else policy.lock_minutes * 60
            body = elements(
                [
                    ("enabled", True),
                    ("maxIllegalLoginTimes", policy.max_attempts),
                    ("maxIllegalLoginLockTime", duration),
                ]
            )
        reply = session.request(step, "PUT", LOCK, body=document("IllegalLoginLock", body), allow=(200, 400, 403))
        if reply.status != 200:
            detail = _refusal(session, step, reply.status, reply.body)
            if not policy.enabled and reply.status == 403:
                raise session.error(step, f"this firmware cannot switch the illegal-login lock off ({detail})")
            raise session.error(step, f"the device refused the lock policy ({detail})")

    return settings.ensure_lock_policy(policy, read=read, write=write, error=session.error)


def ensure_channel(
    session: IsapiSession, channel: int, *, address: str, port: int, user: str, password: Secret, wait: bool = False
) -> Outcome:
    """Always written: the stored password cannot be read, and a channel that shows ``connect`` may
    still hold a password its camera has just stopped accepting (it polls on an interval).

    Verified by re-reading the channel. Whether it comes online is not waited for unless ``wait``:
    while the camera is isolated (its IP filter shutting the recorder out) it cannot, and the
    plan's verify stage reads every channel's status once isolation is released.
    """
    step = f"channel {channel}"
    configured = _read_channel(session, step, channel)
    descriptor = elements(
        [
            ("proxyProtocol", configured.protocol or "HIKVISION"),
            ("addressingFormatType", "ipaddress"),
            ("ipAddress", address),
            ("managePortNo", port),
            ("srcInputPort", 1),
            ("userName", user),
            ("password", password.reveal()),
        ]
    )
    inner = elements([("id", channel)]) + f"<sourceInputPortDescriptor>{descriptor}</sourceInputPortDescriptor>"
    session.request(step, "PUT", f"{CHANNELS}/{channel}", body=document("InputProxyChannel", inner))
    after = _read_channel(session, step, channel)
    if (after.address, after.port, after.user) != (address, port, user):
        raise session.error(step, f"the recorder reports {after.user}@{after.address}:{after.port} after the write")
    if wait:
        wait_online(session, channel, session.options.timeout)
    return Outcome(True, f"channel {channel} logs into {address}:{port} as {user}")


def _read_channel(session: IsapiSession, step: str, channel: int) -> _parse.Channel:
    status, body = session.get(step, f"{CHANNELS}/{channel}", allow=(200, 403, 404))
    if status != 200:
        raise session.error(step, f"the recorder has no channel {channel} ({_refusal(session, step, status, body)})")
    try:
        [configured] = _parse.channels(body)
    except (XmlError, ValueError) as exc:
        raise session.error(step, f"unreadable channel: {exc}") from exc
    return configured


def wait_online(session: IsapiSession, channel: int, timeout: float) -> None:
    """Poll the channel's status until ``online`` (the recorder logged into its camera) or ``timeout``."""
    step = f"channel {channel}"
    deadline = time.monotonic() + timeout
    while True:
        body = session.optional(step, f"{CHANNELS}/{channel}/status")
        if body is None:
            return  # the firmware reports no channel status: nothing to wait for (facts say so)
        try:
            state = _parse.channel_status(body)
        except XmlError as exc:
            raise session.error(step, f"unreadable channel status: {exc}") from exc
        online, detect = state.get(channel, (False, "unknown"))
        if online:
            return
        if time.monotonic() > deadline:
            raise session.error(step, f"channel {channel} did not come online within {timeout:g} s ({detect})")
        time.sleep(POLL_SECONDS)


def ensure_ip_filter(session: IsapiSession, wanted: IPFilterFact) -> Outcome:
    step = "ip filter"

    def write() -> None:
        entries = "".join(
            f"<IPFilterAddress>{elements([('id', i), ('permissionType', wanted.mode), ('addressFilterType', 'mask')])}"
            f"<AddressMask>{elements([('ipAddress', addr)])}</AddressMask></IPFilterAddress>"
            for i, addr in enumerate(wanted.addresses, start=1)
        )
        inner = elements([("enabled", wanted.enabled), ("permissionType", wanted.mode)])
        inner += f"<IPFilterAddressList>{entries}</IPFilterAddressList>"
        session.request(step, "PUT", IP_FILTER, body=document("IPFilter", inner))

    return settings.ensure_ip_filter(
        wanted,
        source=session.options.source_address,
        read=lambda: read_filter(session, step),
        write=write,
        error=session.error,
    )


def read_filter(session: IsapiSession, step: str) -> IPFilterFact:
    body = session.optional(step, IP_FILTER)
    if body is None:
        raise session.error(step, "the firmware has no IP filter (it answers notSupport)")
    try:
        return _parse.ip_filter(body)
    except XmlError as exc:
        raise session.error(step, f"unreadable IP filter: {exc}") from exc
