"""Dahua login: credential discovery and confirmation over RPC2, one guarded attempt per candidate.

Why not CGI digest: a refused digest says nothing, while an RPC2 refusal states the attempts left
(``remainLoginTimes``) and a lock states its remaining seconds. Each attempt is request 1 (free
challenge) then request 2 (the hash, counted), permitted by the guard first and recorded after
(a transport failure or an unreadable reply to request 2 as a failure: the hash may have counted);
the session it opens is logged out at once (CGI carries everything else).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from enforcer.credentials.guard import LOWEST_THRESHOLD, Verdict
from enforcer.credentials.keyring import DeviceKeys, Probe
from enforcer.credentials.secret import Secret
from enforcer.drivers.dahua._rpc import Challenge, LoginReply
from enforcer.drivers.dahua._session import DahuaSession
from enforcer.errors import DeviceError
from enforcer.facts import Candidate

#: protocols/dahua-cgi.md §9: until ``General`` is read, spend at most 2 failed attempts.
MAX_FAILURES = 2


@dataclass
class RpcLogin:
    """Guarded RPC2 login attempts for one user; remembers an unused challenge to spend first."""

    session: DahuaSession
    user: str
    step: str = "login"
    pending: Challenge | None = None  # an unused challenge (from the free lock probe)
    failures: int = 0

    @property
    def keys(self) -> DeviceKeys:
        keys = self.session.keys
        return keys if self.user == keys.user else keys.for_user(self.user)

    def probe(self) -> LoginReply:
        """Request 1 (free): keeps its challenge for the first attempt; reports a lock it shows."""
        reply = self.session.rpc_call(self.step, lambda rpc: rpc.challenge(self.user))
        if reply.kind == "locked":  # no attempts_left: the count starts afresh once the lock ends
            self.session.keys.observe(locked=True, unlock_seconds=reply.remain_lock_seconds)
        self.pending = reply.challenge if reply.kind == "challenge" else None
        return reply

    def standing(self) -> Probe:
        """The free probe, as discovery reads it: a lock shuts the account out for everyone."""
        first = self.probe()
        locked = first.kind == "locked"
        return Probe(locked=locked, unlock_seconds=first.remain_lock_seconds if locked else 0.0, scope="account")

    def attempt(self, role: Candidate, password: Secret) -> Verdict:
        """One counted attempt with ``password``, through the keys (guard check before, record after)."""
        challenge, self.pending = self.pending, None
        if challenge is None:
            first = self.probe()
            if first.kind == "locked":
                return Verdict(ok=False, locked=True, unlock_seconds=first.remain_lock_seconds)
            challenge, self.pending = self.pending, None
            if challenge is None:
                raise self.session.error(self.step, f"no RPC2 challenge ({_said(first)})")
        if challenge.encryption != "Default":  # refused before anything is sent or counted
            raise self.session.error(
                self.step,
                f"the device asks for RPC2 encryption {challenge.encryption!r}; enforcer sends only the Default hash",
            )
        keys = self.keys
        # A reply lost after the hash went out may have been judged and counted: a failure, never sent again.
        with keys.attempt(password, role, lost="failed", step=self.step) as sent:
            try:
                reply = self.session.rpc_call(
                    self.step, lambda rpc: rpc.answer(self.user, password.reveal(), challenge)
                )
            except DeviceError:
                self.failures += 1
                raise
            verdict = self._verdict(reply, keys)
            if verdict is None:
                sent.unjudged()  # busy: the session limit, not the password
            else:
                sent.judge(verdict)
        if reply.kind == "ok" and reply.session is not None:
            self._logout(reply.session)
        if verdict is None or reply.kind not in ("ok", "locked", "wrong"):
            raise self.session.error(self.step, f"RPC2 login not judged: {_said(reply)}")
        return verdict

    def _verdict(self, reply: LoginReply, keys: DeviceKeys) -> Verdict | None:
        if reply.kind == "ok":
            return Verdict(ok=True)
        if reply.kind == "locked":
            return Verdict(ok=False, locked=True, unlock_seconds=reply.remain_lock_seconds)
        if reply.kind == "busy":
            return None
        self.failures += 1
        if reply.kind != "wrong":
            return Verdict(ok=False)  # an answer we cannot read: it may have been a counted failure
        left = reply.remain_login_times
        if left is not None:
            # The device's own count: failures so far plus what it has left is a floor of its threshold.
            keys.set_threshold(max(LOWEST_THRESHOLD, self.failures + left))
        return Verdict(ok=False, attempts_left=left)

    def _logout(self, session: int | str) -> None:
        with contextlib.suppress(DeviceError):  # the device ends an idle session after 60 s anyway
            self.session.rpc_call(self.step, lambda rpc: rpc.logout(session))


def _said(reply: LoginReply) -> str:
    if reply.kind == "busy":
        return "the device has too many sessions open (busy)"
    return f"code {reply.code}: {reply.message}" if reply.code is not None else f"{reply.kind} reply"


def confirm(session: DahuaSession, user: str, password: Secret, step: str) -> None:
    """A fresh RPC2 login with a password just set (a sure credential): the change took."""
    login = RpcLogin(session, user, step)
    result = login.attempt("desired", password)
    if result.locked:
        raise session.error(
            step, f"{user} is locked for {result.unlock_seconds:.0f} s; the new password is unconfirmed"
        )
    if not result.ok:
        raise DeviceError(
            site=session.site, device=session.name, step=step, detail=f"the device refuses {user}'s new password"
        )


def switch(session: DahuaSession, password: Secret) -> None:
    """The login user's password changed: use the new one at once (the old one now fails and would
    count), then confirm it with a fresh RPC2 login."""
    session.keys.switched(password)
    session.state.forget()
    confirm(session, session.user, password, "confirm new password")
