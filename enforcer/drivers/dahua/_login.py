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

from enforcer.config.secrets import Secret
from enforcer.credentials.discovery import Attempt
from enforcer.credentials.guard import LOWEST_THRESHOLD, Refused, Verdict
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

    def probe(self) -> LoginReply:
        """Request 1 (free): keeps its challenge for the first attempt; reports a lock it shows."""
        reply = self.session.rpc_call(self.step, lambda rpc: rpc.challenge(self.user))
        if reply.kind == "locked":  # no attempts_left: the count starts afresh once the lock ends
            self.session.guard.observe(self.session.device_id, locked=True, unlock_seconds=reply.remain_lock_seconds)
        self.pending = reply.challenge if reply.kind == "challenge" else None
        return reply

    def attempt(self, role: Candidate, password: Secret) -> Attempt:
        """One counted attempt with ``password`` (guard check before, record after)."""
        guard, device_id = self.session.guard, self.session.device_id
        challenge, self.pending = self.pending, None
        if challenge is None:
            first = self.probe()
            if first.kind == "locked":
                return Attempt(ok=False, locked=True, unlock_seconds=first.remain_lock_seconds)
            challenge, self.pending = self.pending, None
            if challenge is None:
                raise self.session.error(self.step, f"no RPC2 challenge ({_said(first)})")
        if self.failures >= MAX_FAILURES:
            raise Refused(
                device_id, f"{self.failures} failed attempts is the most spent before the lock policy is read"
            )
        if challenge.encryption != "Default":  # refused before anything is sent or counted
            raise self.session.error(
                self.step,
                f"the device asks for RPC2 encryption {challenge.encryption!r}; enforcer sends only the Default hash",
            )
        key = guard.check(device_id, self.user, password, label=role)
        try:
            reply = self.session.rpc_call(self.step, lambda rpc: rpc.answer(self.user, password.reveal(), challenge))
        except DeviceError:
            # The hash may have been judged and counted: a failure, and this credential is not sent again.
            self._failed(key, role)
            raise
        if reply.kind == "ok":
            guard.record(device_id, key, Verdict(ok=True), user=self.user, label=role)
            if reply.session is not None:
                self._logout(reply.session)
            return Attempt(ok=True)
        if reply.kind == "locked":
            verdict = Verdict(ok=False, locked=True, unlock_seconds=reply.remain_lock_seconds)
            guard.record(device_id, key, verdict, user=self.user, label=role)
            return Attempt(ok=False, locked=True, unlock_seconds=reply.remain_lock_seconds)
        if reply.kind == "wrong":
            self.failures += 1
            left = reply.remain_login_times
            if left is not None:
                # The device's own count: failures so far plus what it has left is a floor of its threshold.
                guard.set_threshold(device_id, max(LOWEST_THRESHOLD, self.failures + left))
            guard.record(device_id, key, Verdict(ok=False, attempts_left=left), user=self.user, label=role)
            return Attempt(ok=False, attempts_left=left)
        if reply.kind != "busy":
            # An answer we cannot read: it may have been a counted failure, so it is recorded as one.
            self._failed(key, role)
        # busy: the session limit, not the password (nothing recorded); either way nothing more is sent.
        raise self.session.error(self.step, f"RPC2 login not judged: {_said(reply)}")

    def _failed(self, key: bytes, role: Candidate) -> None:
        self.failures += 1
        self.session.guard.record(self.session.device_id, key, Verdict(ok=False), user=self.user, label=role)

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
