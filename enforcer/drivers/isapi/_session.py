"""One ISAPI login session: digest over the transport, every credentialed request through the guard.

The session is where the lock rules of protocols/hikvision-isapi.md §5 meet the wire:

- :meth:`IsapiSession.probe` reads the challenge and our lock state without credentials (free);
- every request carrying credentials is an attempt of the device's keys (permitted by the guard
  first, its outcome recorded after, with the device's own ``userCheck`` count);
- a 401 is never retried (the digest flow allows one fresh handshake after ``stale="TRUE"``);
- a 200 carrying a ``ResponseStatus`` other than 0/1 is a failure; 7 is "reboot required";
- one request at a time per device.
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

from enforcer.credentials.guard import Verdict
from enforcer.credentials.keyring import Attempt, DeviceKeys
from enforcer.credentials.secret import Secret
from enforcer.drivers._wire.digest import DigestState, Reply, digest_flow, is_stale, parse_challenge
from enforcer.drivers._wire.http import Transport
from enforcer.drivers._wire.session import DeviceSession
from enforcer.drivers.base import DriverOptions
from enforcer.drivers.isapi._xml import Status, UserCheck, parse, response_status, user_check
from enforcer.errors import DigestError, LoginFailed, RebootRequired, XmlError

PROBE_PATH = "/ISAPI/Security/userCheck"
NOT_SUPPORTED = "notSupport"  # the subStatusCode of a resource the firmware lacks


class IsapiSession(DeviceSession):
    """Digest-authenticated requests to one device as one user, guarded; thread-safe, one at a time."""

    def __init__(self, keys: DeviceKeys, transport: Transport, options: DriverOptions | None = None) -> None:
        super().__init__(keys, transport, options)
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
                self.keys.observe(
                    attempts_left=check.attempts_left, locked=check.locked, unlock_seconds=check.unlock_seconds
                )
            return check

    # -- credentialed requests ----------------------------------------------------------------------

    def get(self, step: str, path: str, *, allow: tuple[int, ...] = (200,)) -> tuple[int, bytes]:
        """An authenticated GET: its status (one of ``allow``) and body."""
        reply = self.request(step, "GET", path, allow=allow)
        return reply.status, reply.body

    def optional(self, step: str, path: str) -> bytes | None:
        """An authenticated GET of a resource some firmware lacks: its body, or ``None`` when the device says
        it has none (403 ``notSupport``, a bare 403, or 404: a capability gap, protocol §1); any other
        refusal is an error naming what the device said."""
        reply = self.request(step, "GET", path, allow=(200, 403, 404))
        if reply.status == 200:
            return reply.body
        status = _status_of(reply)
        if reply.status == 404 or status is None or status.sub == NOT_SUPPORTED:
            return None
        raise self.error(step, f"HTTP {reply.status}: {status.describe()}")

    def switch(self, password: Secret) -> UserCheck | None:
        """The login user's password changed: use the new one at once (the old one now fails and would
        count), and confirm it with a fresh handshake and ``userCheck``."""
        self.keys.switched(password)
        self.digest.forget()
        return user_check(self.request("confirm new password", "GET", PROBE_PATH).body)

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
        :class:`~enforcer.errors.Refused` when the guard forbids the attempt, DeviceError otherwise.
        """
        if self.keys.password is None:
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
        if self.digest.challenge is None:
            self.probe(step)  # read a nonce for free; never send a body (a firmware image) to be challenged
        password, label = self.keys.password, self.keys.role or ""
        assert password is not None
        flow = digest_flow(self.digest, method, target, self.user, password.reveal())
        try:
            send = next(flow)
            while True:
                if send.authorization is None:  # unreachable: the nonce is known
                    raise self.error(step, "no digest challenge")
                headers = {"Authorization": send.authorization}
                if body is not None:
                    headers["Content-Type"] = content_type
                with self.keys.attempt(password, label, step=step) as attempt:
                    reply = self.send(step, method, target, headers, body, timeout)
                    _judge(attempt, reply)
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
                detail=_refusal(self.user, label, check),
                attempts_left=check.attempts_left if check else None,
                locked=bool(check and check.locked),
                unlock_seconds=check.unlock_seconds if check else 0.0,
            )
        return final


def _judge(attempt: Attempt, reply: Reply) -> None:
    """What a reply says of the credential it carried."""
    if reply.status == 401:
        if is_stale(reply):
            attempt.unjudged()  # a right answer to an expired nonce: not a failed login
            return
        check = user_check(reply.body)
        attempt.judge(
            Verdict(
                ok=False,
                attempts_left=check.attempts_left if check else None,
                locked=bool(check and check.locked),
                unlock_seconds=check.unlock_seconds if check else 0.0,
            )
        )
        return
    status = _status_of(reply)
    # A refused <loginPassword> in a body was counted by the device like a failed login.
    attempt.judge(Verdict(ok=not (status is not None and status.sub == "loginPasswordError")))


def _status_of(reply: Reply) -> Status | None:
    if b"ResponseStatus" not in reply.body:
        return None  # the reply is the resource itself: no need to parse it here as well as in its reader
    try:
        return response_status(parse(reply.body))
    except XmlError:
        return None


def _status_detail(reply: Reply) -> str:
    status = _status_of(reply)
    return f": {status.describe()}" if status is not None else ""


def _refusal(user: str, label: str, check: UserCheck | None) -> str:
    detail = f"the device refused the {label} credential for {user}"
    if check is not None and check.locked:
        return f"{detail}: our source is locked for {check.unlock_seconds:.0f} s"
    if check is not None and check.attempts_left is not None:
        return f"{detail} ({check.attempts_left} attempts left)"
    return detail
