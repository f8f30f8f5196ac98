"""One ISAPI login session: digest over the transport, every credentialed request through the guard.

The session is where the lock rules of protocols/hikvision-isapi.md §5 meet the wire:

- :meth:`IsapiSession.probe` reads the challenge and our lock state without credentials (free);
- every request carrying credentials is permitted by :meth:`LoginGuard.check` first and its
  outcome recorded with :meth:`LoginGuard.record` after, with the device's own ``userCheck`` count;
- a 401 is never retried (the digest flow allows one fresh handshake after ``stale="TRUE"``);
- a 200 carrying a ``ResponseStatus`` other than 0/1 is a failure; 7 is "reboot required";
- one request at a time per device.
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

from enforcer.credentials.guard import LoginGuard, Verdict
from enforcer.drivers._wire.digest import DigestError, DigestState, Reply, digest_flow, is_stale, parse_challenge
from enforcer.drivers._wire.http import Transport
from enforcer.drivers._wire.session import DeviceSession
from enforcer.drivers.isapi._xml import Status, UserCheck, XmlError, parse, response_status, user_check
from enforcer.errors import DeviceError
from enforcer.facts import Candidate

PROBE_PATH = "/ISAPI/Security/userCheck"


class LoginFailed(DeviceError):
    """The device refused our credential (HTTP 401); ``check`` holds what its ``userCheck`` said."""

    def __init__(self, *, site: str, device: str, step: str, detail: str, check: UserCheck | None) -> None:
        super().__init__(site=site, device=device, step=step, detail=detail)
        self.check = check


class RebootRequired(DeviceError):
    """The device accepted the change but applies it only after a reboot (``statusCode 7``)."""


class IsapiSession(DeviceSession):
    """Digest-authenticated requests to one device as one user, guarded; thread-safe, one at a time."""

    def __init__(self, *, site: str, device_id: str, name: str, guard: LoginGuard, transport: Transport, user: str):
        super().__init__(site=site, device_id=device_id, name=name, guard=guard, transport=transport, user=user)
        self.digest = DigestState()

    # -- free reads -------------------------------------------------------------------------------

    def probe(self, step: str = "probe") -> UserCheck | None:
        """An unauthenticated ``userCheck``: adopts the challenge and returns our lock state (no attempt)."""
        with self._lock:
            reply = self.send(step, "GET", PROBE_PATH)
            if reply.status == 403 and _status_of(reply) is not None:
                raise self.error(step, f"the device refuses our source: {_status_detail(reply)[2:]}")
            if reply.status != 401:
                raise self.error(step, f"HTTP {reply.status} to an unauthenticated request (expected a 401 challenge)")
            challenge = parse_challenge(reply.authenticate)
            if challenge is None:
                raise self.error(step, "the device offers no digest authentication")
            try:
                self.digest.adopt(challenge)
            except DigestError as exc:
                raise self.error(step, str(exc)) from exc
            check = user_check(reply.body)
            if check is not None:
                self.guard.observe(
                    self.device_id,
                    attempts_left=check.attempts_left,
                    locked=check.locked,
                    unlock_seconds=check.unlock_seconds,
                )
            return check

    # -- credentialed requests ----------------------------------------------------------------------

    def request(
        self,
        step: str,
        method: str,
        path: str,
        *,
        query: dict[str, str] | None = None,
        body: bytes | None = None,
        content_type: str = "application/xml",
        timeout: float | None = None,
        allow: tuple[int, ...] = (200,),
    ) -> Reply:
        """One authenticated request; returns a reply whose status is in ``allow``.

        Raises :class:`LoginFailed` on a 401, :class:`RebootRequired` on ``statusCode 7``,
        :class:`~enforcer.guard.Refused` when the guard forbids the attempt, DeviceError otherwise.
        """
        if self.password is None or self.label is None:
            raise self.error(step, "no working credential (facts not gathered)")
        target = path + ("?" + urlencode(query, quote_via=quote) if query else "")
        with self._lock:
            reply = self._authenticated(step, method, target, body, content_type, timeout)
        if reply.status not in allow:
            raise self.error(step, f"HTTP {reply.status}{_status_detail(reply)}")
        if reply.status == 200 and b"ResponseStatus" in reply.body[:400]:
            status = _status_of(reply)
            if status is not None and not status.ok:
                if status.code == 7:
                    raise RebootRequired(
                        site=self.site, device=self.name, step=step, detail="the device asks for a reboot"
                    )
                raise self.error(step, f"the device refused: {status.describe()}")
        return reply

    def _authenticated(
        self, step: str, method: str, target: str, body: bytes | None, content_type: str, timeout: float | None
    ) -> Reply:
        assert self.password is not None and self.label is not None
        if self.digest.challenge is None:
            self.probe(step)  # read a nonce for free; never send a body (a firmware image) to be challenged
        password = self.password
        flow = digest_flow(self.digest, method, target, self.user, password.reveal())
        try:
            send = next(flow)
            while True:
                if send.authorization is None:  # unreachable: the nonce is known
                    raise self.error(step, "no digest challenge")
                headers = {"Authorization": send.authorization}
                if body is not None:
                    headers["Content-Type"] = content_type
                key = self.guard.check(self.device_id, self.user, password, label=self.label)
                reply = self.send(step, method, target, headers, body, timeout)
                self._record(key, reply)
                send = flow.send(reply)
        except StopIteration as done:
            final: Reply = done.value
        except DigestError as exc:
            raise self.error(step, str(exc)) from exc
        if final.status == 401:
            if is_stale(final):
                raise self.error(step, "the device keeps answering stale=TRUE; not retried")
            check = user_check(final.body)
            raise LoginFailed(
                site=self.site,
                device=self.name,
                step=step,
                detail=_refusal(self.user, self.label, check),
                check=check,
            )
        return final

    def _record(self, key: bytes, reply: Reply) -> None:
        if reply.status == 401:
            if is_stale(reply):
                return  # a right answer to an expired nonce: not a failed login
            check = user_check(reply.body)
            verdict = Verdict(
                ok=False,
                attempts_left=check.attempts_left if check else None,
                locked=bool(check and check.locked),
                unlock_seconds=check.unlock_seconds if check else 0.0,
            )
        else:
            status = _status_of(reply)
            if status is not None and status.sub == "loginPasswordError":
                verdict = Verdict(ok=False)  # our <loginPassword> was refused: the device counted it
            else:
                verdict = Verdict(ok=True)
        self.guard.record(self.device_id, key, verdict, user=self.user, label=self.label or "")


def _status_of(reply: Reply) -> Status | None:
    try:
        return response_status(parse(reply.body))
    except XmlError:
        return None


def _status_detail(reply: Reply) -> str:
    status = _status_of(reply)
    return f": {status.describe()}" if status is not None else ""


def _refusal(user: str, label: Candidate, check: UserCheck | None) -> str:
    detail = f"the device refused the {label} credential for {user}"
    if check is not None and check.locked:
        return f"{detail}: our source is locked for {check.unlock_seconds:.0f} s"
    if check is not None and check.attempts_left is not None:
        return f"{detail} ({check.attempts_left} attempts left)"
    return detail
