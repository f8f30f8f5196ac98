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
- 400/403 are never retried; every HTTP-200 body whose first line is ``Error`` is a refusal;
- one request at a time per device; query values URL-encoded, ``action`` first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import NoReturn, TypeVar

from enforcer.credentials.discovery import LockedOut
from enforcer.credentials.guard import LoginGuard, Verdict
from enforcer.drivers._wire.digest import DigestError, Reply
from enforcer.drivers._wire.http import Transport, TransportError
from enforcer.drivers._wire.session import DeviceSession
from enforcer.drivers.dahua import _kv as kv
from enforcer.drivers.dahua._flow import CgiState, adopt, authority_failure, cgi_flow, nonce_refused
from enforcer.drivers.dahua._rpc import RpcClient, RpcError
from enforcer.errors import DeviceError

PROBE_PATH = "/cgi-bin/magicBox.cgi?action=getMachineName"
T = TypeVar("T")


class LoginFailed(DeviceError):
    """The device refused our credential with a 401 to a fresh nonce (a counted failure)."""


class Refusal(DeviceError):
    """HTTP 200 whose first line is ``Error``: the device refused the request; ``said`` is the rest."""

    def __init__(self, *, site: str, device: str, step: str, detail: str, said: str) -> None:
        super().__init__(site=site, device=device, step=step, detail=detail)
        self.said = said


class DahuaSession(DeviceSession):
    """Digest-authenticated CGI requests to one device as one user, guarded; one at a time."""

    def __init__(self, *, site: str, device_id: str, name: str, guard: LoginGuard, transport: Transport, user: str):
        super().__init__(site=site, device_id=device_id, name=name, guard=guard, transport=transport, user=user)
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
            self.guard.observe(self.device_id, locked=True, unlock_seconds=reply.remain_lock_seconds)
            return True, reply.remain_lock_seconds
        return False, 0.0

    # -- credentialed requests ----------------------------------------------------------------------

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
        :class:`~enforcer.credentials.guard.Refused` when the guard forbids the attempt, DeviceError
        otherwise; with ``write``, a 200 must say ``OK`` (or nothing).
        """
        if self.password is None or self.label is None:
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
        assert self.password is not None and self.label is not None
        password, label = self.password, self.label
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
                    key = self.guard.check(self.device_id, self.user, password, label=label)
                    reply = self.send(step, method, target, headers, body, timeout)
                    if authority_failure(reply) and not probed:
                        # A lock may answer 403 too: ask the free RPC2 challenge before anything more is sent.
                        probed = True
                        self._locked_out(step, key)
                    if out.cached and nonce_refused(reply):
                        unjudged = reply.status == 401
                    else:
                        self._record(step, key, reply, unjudged=unjudged)
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

    def _record(self, step: str, key: bytes, reply: Reply, *, unjudged: bool = False) -> None:
        """Tell the guard what this attempt came to; a 403 says nothing of the password.

        A 401 is recorded as a failure before anything else is sent; the free RPC2 challenge then
        tells a lock (the guard is told, :class:`LockedOut` raised) from a wrong password. If that
        probe fails, the failure stands. After a 401 to a cached nonce, a second 401 means the
        password is wrong, so the device counted the first one as well: the guard is told one
        attempt fewer is left."""
        label = self.label or ""
        if reply.status == 403:
            return  # an Authority:check failure was checked against the lock report when it came
        if reply.status != 401:
            self.guard.record(self.device_id, key, Verdict(ok=True), user=self.user, label=label)
            return
        try:
            locked, seconds = self.rpc_lock(step)
        except DeviceError:
            locked, seconds = False, 0.0  # unknown: the attempt is a plain failure, never sent again
        if locked:
            self._raise_locked(step, key, seconds)
        self.guard.record(self.device_id, key, Verdict(ok=False), user=self.user, label=label)
        if unjudged:
            self.guard.observe(self.device_id, attempts_left=max(0, self.guard.remaining(self.device_id) - 1))

    def _locked_out(self, step: str, key: bytes) -> None:
        """After a 403 ``Authority:check failure.``: raise :class:`LockedOut` if RPC2 reports a lock."""
        locked, seconds = self.rpc_lock(step)
        if locked:
            self._raise_locked(step, key, seconds)

    def _raise_locked(self, step: str, key: bytes, seconds: float) -> NoReturn:
        verdict = Verdict(ok=False, locked=True, unlock_seconds=seconds)
        self.guard.record(self.device_id, key, verdict, user=self.user, label=self.label or "")
        raise LockedOut(
            site=self.site,
            device=self.name,
            step=step,
            detail=f"the account {self.user} is locked for {seconds:.0f} s more",
            unlock_seconds=seconds,
        )
