"""Dahua CGI digest as a generator with no I/O: the nonce rules of protocols/dahua-cgi.md §2 and §9.

Dahua firmware differs in what it does with a nonce it has seen: some accept it again with a higher
``nc``, some answer every reuse with 401 and a fresh challenge, some with ``403 Authority:check
failure.``. None of those answers is a failed login, but a 401 to a *fresh* nonce is. So:

- a nonce is read with a request that carries no credentials (free); a Basic-only challenge is
  refused before any password is sent, and so is a source the device's IP filter turns away;
- a 401, or a 403 ``Authority:check failure.``, answering a **cached** nonce gets exactly one fresh
  handshake; if that one passes, the device uses single-use nonces and every later request starts
  with a free challenge (``fresh_each``);
- a 401 to a fresh nonce is final, never retried.

:func:`cgi_flow` yields :class:`Out` steps (``authorization`` ``None`` = the free challenge request)
and receives :class:`~enforcer.drivers._wire.digest.Reply` objects; the session does the I/O and asks the
login guard before every step that carries credentials.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field

from enforcer.drivers._wire.digest import DigestState, Reply, parse_challenge
from enforcer.drivers.dahua._kv import first_line
from enforcer.errors import BasicOnly, Blocked, DigestError

AUTHORITY_FAILURE = "Authority:check failure."


@dataclass
class CgiState:
    """One device's digest state: the nonce and whether every request needs a fresh one."""

    digest: DigestState = field(default_factory=DigestState)
    fresh_each: bool = False

    def forget(self) -> None:
        """Drop the nonce (reboot, password change); the single-use finding stays."""
        self.digest.forget()


@dataclass(frozen=True)
class Out:
    """One request to send: ``authorization`` ``None`` means the free challenge request.

    ``cached``: it answers a nonce already used once, so a 401/403 to it is not a judged attempt.
    """

    authorization: str | None
    cached: bool = False


def authority_failure(reply: Reply) -> bool:
    return reply.status == 403 and first_line(reply.body) == AUTHORITY_FAILURE


def blocked(reply: Reply) -> bool:
    """``403 Error / IP not permitted!``: the IP filter, before authentication."""
    return reply.status == 403 and "ip not permitted" in reply.body.decode("utf-8", "replace").lower()


def nonce_refused(reply: Reply) -> bool:
    return reply.status == 401 or authority_failure(reply)


def adopt(state: CgiState, reply: Reply) -> None:
    """Take the nonce of a reply to a credential-less request, or say why there is none."""
    if blocked(reply):
        raise Blocked("the device's IP filter refuses our source (IP not permitted)")
    if reply.status != 401:
        raise DigestError(f"HTTP {reply.status} to an unauthenticated request (expected a 401 challenge)")
    challenge = parse_challenge(reply.authenticate)
    if challenge is None:
        if any(value.strip().lower().startswith("basic") for value in reply.authenticate):
            raise BasicOnly("the device offers only Basic authentication; enforcer never sends a password in clear")
        raise DigestError("the device answered 401 without a digest challenge")
    state.digest.adopt(challenge)


def cgi_flow(state: CgiState, method: str, uri: str, user: str, password: str) -> Generator[Out, Reply, Reply]:
    """Authenticate one request; yields what to send, returns the final reply (a final 401 included)."""
    if state.digest.challenge is None or state.fresh_each:
        adopt(state, (yield Out(None)))
    cached = state.digest.nc > 0
    reply = yield Out(state.digest.authorization(method, uri, user, password), cached=cached)
    if cached and nonce_refused(reply):
        fresh = parse_challenge(reply.authenticate) if reply.status == 401 else None
        if fresh is not None:
            state.digest.adopt(fresh)
        else:
            adopt(state, (yield Out(None)))
        reply = yield Out(state.digest.authorization(method, uri, user, password))
        if not nonce_refused(reply):
            state.fresh_each = True  # the cached nonce was the only fault: a single-use device
    if reply.status == 401:
        fresh = parse_challenge(reply.authenticate)
        if fresh is not None and fresh.algorithm.upper() == "MD5" and "auth" in fresh.qop:
            state.digest.adopt(fresh)
        else:
            state.forget()
    return reply
