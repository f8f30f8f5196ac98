"""One Dahua CGI session: digest over the device's one transport, every credentialed request guarded.

Where the rules of protocols/dahua-cgi.md §9 meet the wire:

- every request carrying credentials is permitted by :meth:`LoginGuard.check` first and its
  outcome recorded after; a 401 to a cached nonce is not judged (the flow gives it one fresh
  handshake), a 403 is no verdict on the password;
- a final 401 is recorded as a failure, never retried; a free RPC2 challenge then tells a lock
  from a wrong password;
- the first 403 ``Authority:check failure.`` of a request (some firmware answers a lock so) is
  checked with the same free challenge before anything more is sent: a lock is recorded and raised
  as :class:`LockedOut`, whatever statuses the caller allows;
- 400/403/501 are never retried; every HTTP-200 body whose first line is ``Error`` is a refusal; on
  a read the firmware may lack (:meth:`DahuaSession.optional`) either is "not supported", returned
  as what the device said;
- one request at a time per device; query values URL-encoded, ``action`` first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import NoReturn, TypeVar

from enforcer.credentials.guard import Verdict
from enforcer.credentials.keyring import Attempt, DeviceKeys
from enforcer.drivers._wire.digest import Reply
from enforcer.drivers._wire.http import Transport
from enforcer.drivers._wire.session import DeviceSession
from enforcer.drivers.base import DriverOptions
from enforcer.drivers.dahua import _kv as kv
from enforcer.drivers.dahua._flow import CgiState, adopt, authority_failure, cgi_flow, nonce_refused
from enforcer.drivers.dahua._rpc import RpcClient
from enforcer.errors import (
    DeviceError,
    DigestError,
    LockedOut,
    LoginFailed,
    ParseError,
    Refusal,
    RpcError,
    TransportError,
)

PROBE_PATH = "/cgi-bin/magicBox.cgi?action=getMachineName"
CONFIG = "/cgi-bin/configManager.cgi"
#: What firmware answers for a read it lacks (protocols/dahua-cgi.md §1, §5): 400, 403 on some NVRs, 501.
UNSUPPORTED = (400, 403, 501)
T = TypeVar("T")


class DahuaSession(DeviceSession):
    """Digest-authenticated CGI requests to one device as one user, guarded; one at a time."""

    def __init__(self, keys: DeviceKeys, transport: Transport, options: DriverOptions | None = None) -> None:
        super().__init__(keys, transport, options)
        self.state = CgiState()
        self.rpc = RpcClient(transport)

    # -- free reads -------------------------------------------------------------------------------

    def challenge(self, step: str) -> None:
        """Read a nonce without credentials (never counted); refuses Basic-only devices."""
        with self._lock:
            reply = self.send(step, "GET", PROBE_PATH)
            try:
                adopt(self.state, reply)
            except DigestError as exc:
                raise self.error(step, str(exc)) from exc

    def rpc_call(self, step: str, call: Callable[[RpcClient], T]) -> T:
        """One RPC2 exchange, in turn with every other request to this device; errors as DeviceError."""
        with self._lock:
            try:
                return call(self.rpc)
            except TransportError as exc:
                raise self.failed(step, exc) from exc
            except RpcError as exc:
                raise self.error(step, exc.detail) from exc

    def rpc_lock(self, step: str) -> tuple[bool, float]:
        """(locked, seconds left) from a free RPC2 challenge; (False, 0) when it does not say."""
        reply = self.rpc_call(step, lambda rpc: rpc.challenge(self.user))
        if reply.kind == "locked":
            self.keys.observe(locked=True, unlock_seconds=reply.remain_lock_seconds)
            return True, reply.remain_lock_seconds
        return False, 0.0

    # -- credentialed requests ----------------------------------------------------------------------

    def get(
        self,
        step: str,
        path: str,
        action: str,
        params: list[tuple[str, str]] | None = None,
        *,
        allow: tuple[int, ...] = (200,),
    ) -> tuple[int, bytes]:
        """An authenticated CGI GET: its status (one of ``allow``) and body."""
        reply = self.request(step, path, action, params or [], allow=allow)
        return reply.status, reply.body

    def config(self, step: str, name: str, *, allow: tuple[int, ...] = (200,)) -> tuple[int, bytes]:
        """``getConfig`` of ``name``."""
        return self.get(step, CONFIG, "getConfig", [("name", name)], allow=allow)

    def optional(self, step: str, path: str, action: str, params: list[tuple[str, str]]) -> tuple[int, bytes] | str:
        """A read the firmware may lack: its status and body, or what the device said to refuse it
        ("not supported": 400 ``Bad Request!``, 501 ``Not Implemented!``, 403 as some NVRs answer an
        unknown name, or an ``Error`` body on 200). A lock answered with 403 is still raised."""
        try:
            status, body = self.get(step, path, action, params, allow=(*UNSUPPORTED, 200))
        except Refusal as exc:
            return "Error" + (f": {exc.said}" if exc.said else "")
        if status != 200:
            said = " ".join(kv.lines(body))[:80]
            return f"HTTP {status}" + (f" {said}" if said else "")
        return status, body

    def optional_config(self, step: str, name: str, parse: Callable[[bytes], T]) -> T | str:
        """``getConfig`` of a config the firmware may lack: the parsed value, or what the device said
        (a :class:`~enforcer.facts.Gap`'s detail); an unreadable reply is a DeviceError."""
        got = self.optional(step, CONFIG, "getConfig", [("name", name)])
        if isinstance(got, str):
            return f"getConfig {name}: {got}"
        try:
            return parse(got[1])
        except ParseError as exc:
            raise self.error(step, f"unreadable {name}: {exc}") from exc

    def request(
        self,
        step: str,
        path: str,
        action: str,
        params: Iterable[tuple[str, str]] | Mapping[str, str] = (),
        *,
        method: str = "GET",
        body: bytes | None = None,
        content_type: str = "",
        timeout: float | None = None,
        allow: tuple[int, ...] = (200,),
        write: bool = False,
    ) -> Reply:
        """One authenticated CGI request; returns a reply whose status is in ``allow``.

        Raises :class:`LoginFailed` on a final 401, :class:`Refusal` on an ``Error`` body,
        :class:`~enforcer.errors.Refused` when the guard forbids the attempt, DeviceError
        otherwise; with ``write``, a 200 must say ``OK`` (or nothing).
        """
        if self.keys.password is None:
            raise self.error(step, "no working credential (facts not gathered)")
        target = f"{path}?{kv.query(action, params)}"
        with self._lock:
            reply = self._authenticated(step, method, target, body, content_type, timeout)
        if reply.status not in allow:
            said = " ".join(kv.lines(reply.body))[:120]
            raise self.error(step, f"HTTP {reply.status}" + (f": {said}" if said else ""))
        if reply.status == 200 and kv.is_error(reply.body):
            said = kv.error_detail(reply.body)
            detail = "the device answered Error" + (f" ({said})" if said else "")
            raise Refusal(site=self.site, device=self.name, step=step, detail=detail, said=said)
        if write and reply.status == 200 and not kv.is_ok(reply.body):
            raise self.error(
                step, f"the device did not confirm the write (answered {kv.first_line(reply.body)[:60]!r})"
            )
        return reply

    def _authenticated(
        self, step: str, method: str, target: str, body: bytes | None, content_type: str, timeout: float | None
    ) -> Reply:
        password, label = self.keys.password, self.keys.role or ""
        assert password is not None
        flow = cgi_flow(self.state, method, target, self.user, password.reveal())
        unjudged = False  # a 401 to a cached nonce: not judged, but a wrong password there counted too
        probed = False  # a 403 Authority:check failure was already checked against the RPC2 lock report
        try:
            out = next(flow)
            while True:
                if out.authorization is None:
                    reply = self.send(step, "GET", PROBE_PATH)
                else:
                    headers = {"Authorization": out.authorization}
                    if body is not None and content_type:
                        headers["Content-Type"] = content_type
                    with self.keys.attempt(password, label, step=step) as attempt:
                        reply = self.send(step, method, target, headers, body, timeout)
                        if authority_failure(reply) and not probed:
                            # A lock may answer 403 too: ask the free RPC2 challenge before anything more is sent.
                            probed = True
                            self._locked_out(step, attempt)
                        if out.cached and nonce_refused(reply):
                            unjudged = reply.status == 401
                            attempt.unjudged()
                        else:
                            self._judge(step, attempt, reply)
                    if unjudged and attempt.verdict is not None and not attempt.verdict.ok:
                        # The second 401 says the password is wrong, so the first one counted as well.
                        self.keys.observe(attempts_left=max(0, self.keys.remaining() - 1))
                out = flow.send(reply)
        except StopIteration as done:
            final: Reply = done.value
        except DigestError as exc:
            raise self.error(step, str(exc)) from exc
        if final.status == 401:
            raise LoginFailed(
                site=self.site,
                device=self.name,
                step=step,
                detail=f"the device refused the {label} credential for {self.user} (HTTP 401)",
            )
        return final

    def _judge(self, step: str, attempt: Attempt, reply: Reply) -> None:
        """What this attempt came to; a 403 says nothing of the password.

        A 401 is a failure; the free RPC2 challenge then tells a lock (judged so, :class:`LockedOut`
        raised) from a wrong password. If that probe fails, the failure stands."""
        if reply.status == 403:
            attempt.unjudged()  # an Authority:check failure was checked against the lock report when it came
            return
        if reply.status != 401:
            attempt.judge(Verdict(ok=True))
            return
        try:
            locked, seconds = self.rpc_lock(step)
        except DeviceError:
            locked, seconds = False, 0.0  # unknown: the attempt is a plain failure, never sent again
        if locked:
            self._raise_locked(step, attempt, seconds)
        attempt.judge(Verdict(ok=False))

    def _locked_out(self, step: str, attempt: Attempt) -> None:
        """After a 403 ``Authority:check failure.``: raise :class:`LockedOut` if RPC2 reports a lock."""
        locked, seconds = self.rpc_lock(step)
        if locked:
            self._raise_locked(step, attempt, seconds)

    def _raise_locked(self, step: str, attempt: Attempt, seconds: float) -> NoReturn:
        attempt.judge(Verdict(ok=False, locked=True, unlock_seconds=seconds))
        raise LockedOut(
            site=self.site,
            device=self.name,
            step=step,
            detail=f"the account {self.user} is locked for {seconds:.0f} s more",
            unlock_seconds=seconds,
        )
