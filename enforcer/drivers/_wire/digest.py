"""HTTP Digest (RFC 2617, MD5, ``qop="auth"``) as a generator with no I/O (STYLE §2).

:func:`digest_flow` yields :class:`Send` steps and receives :class:`Reply` objects; the caller does
the I/O and, for every step that carries credentials, asks the login guard first. The flow keeps the
rules of protocols/hikvision-isapi.md §5:

- the challenge is read with a request that carries no credentials (free);
- one nonce serves a whole session, ``nc`` increasing on every request;
- a 401 to a credentialed request is never answered again with the same credential, except once
  after ``stale="TRUE"`` (a right answer to an expired nonce, which the device did not count);
- Basic is never sent, even when a device offers it.

    >>> ch = parse_challenge(['Digest qop="auth", realm="r", nonce="n", stale="FALSE"'])
    >>> ch.realm, ch.stale
    ('r', False)
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Generator, Iterable
from dataclasses import dataclass, field

from enforcer.errors import DigestError

_PARAM = re.compile(r'([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s"]*))')
_SCHEME = re.compile(r"(?:^|,)\s*([A-Za-z][A-Za-z0-9_-]*)\s+(?=[A-Za-z0-9_-]+\s*=)")


@dataclass(frozen=True)
class Challenge:
    """One ``WWW-Authenticate: Digest`` challenge."""

    realm: str
    nonce: str
    qop: tuple[str, ...] = ()
    opaque: str | None = None
    algorithm: str = "MD5"
    stale: bool = False


@dataclass(frozen=True)
class Reply:
    """What came back: status, every ``WWW-Authenticate`` value, and the body."""

    status: int
    authenticate: tuple[str, ...] = ()
    body: bytes = b""


@dataclass(frozen=True)
class Send:
    """One request for the caller to send; ``authorization`` is ``None`` when it carries no credentials."""

    authorization: str | None


def _split_schemes(value: str) -> list[tuple[str, str]]:
    """Split one header value, which may join several challenges with commas, into (scheme, params)."""
    starts = [(m.start(1), m.group(1)) for m in _SCHEME.finditer(value)]
    out = []
    for i, (pos, scheme) in enumerate(starts):
        end = starts[i + 1][0] if i + 1 < len(starts) else len(value)
        out.append((scheme.lower(), value[pos + len(scheme) : end]))
    return out


def parse_challenge(values: Iterable[str]) -> Challenge | None:
    """The Digest challenge among ``WWW-Authenticate`` values (Basic lines are ignored), or ``None``."""
    for value in values:
        for scheme, rest in _split_schemes(value):
            if scheme != "digest":
                continue
            params: dict[str, str] = {}
            for m in _PARAM.finditer(rest):
                quoted, bare = m.group(2), m.group(3)
                params[m.group(1).lower()] = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else bare
            if "nonce" not in params or "realm" not in params:
                continue
            return Challenge(
                realm=params["realm"],
                nonce=params["nonce"],
                qop=tuple(q.strip() for q in params.get("qop", "").split(",") if q.strip()),
                opaque=params.get("opaque"),
                algorithm=params.get("algorithm", "MD5") or "MD5",
                stale=params.get("stale", "").lower() == "true",
            )
    return None


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()


def response(user: str, realm: str, password: str, method: str, uri: str, nonce: str, nc: str, cnonce: str) -> str:
    """The ``response`` value for ``qop="auth"`` (RFC 2617 §3.2.2.1)."""
    ha1 = _md5(f"{user}:{realm}:{password}")
    ha2 = _md5(f"{method}:{uri}")
    return _md5(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass
class DigestState:
    """A session's challenge and nonce count: one per device, reused across requests."""

    challenge: Challenge | None = None
    nc: int = 0
    cnonce: str = field(default_factory=lambda: os.urandom(8).hex())

    def adopt(self, challenge: Challenge) -> None:
        """Take a new nonce: the count starts again."""
        if challenge.algorithm.upper() != "MD5":
            raise DigestError(f"the device asks for digest algorithm {challenge.algorithm}, only MD5 is supported")
        if "auth" not in challenge.qop:
            raise DigestError('the device offers no qop="auth" digest')
        self.challenge, self.nc, self.cnonce = challenge, 0, os.urandom(8).hex()

    def forget(self) -> None:
        """Drop the nonce (after a reboot, or a password change to be confirmed by a fresh handshake)."""
        self.challenge, self.nc = None, 0

    def authorization(self, method: str, uri: str, user: str, password: str) -> str:
        """The ``Authorization`` header for the next request on this nonce (``nc`` goes up by one)."""
        ch = self.challenge
        if ch is None:
            raise DigestError("no challenge yet")
        self.nc += 1
        nc = f"{self.nc:08x}"
        parts = [
            f"username={_quote(user)}",
            f"realm={_quote(ch.realm)}",
            f"nonce={_quote(ch.nonce)}",
            f"uri={_quote(uri)}",
            "algorithm=MD5",
            f"response={_quote(response(user, ch.realm, password, method, uri, ch.nonce, nc, self.cnonce))}",
            "qop=auth",
            f"nc={nc}",
            f"cnonce={_quote(self.cnonce)}",
        ]
        if ch.opaque is not None:
            parts.append(f"opaque={_quote(ch.opaque)}")
        return "Digest " + ", ".join(parts)


def is_stale(reply: Reply) -> bool:
    """A 401 that says the nonce expired while the answer was right (not a failed login)."""
    if reply.status != 401:
        return False
    challenge = parse_challenge(reply.authenticate)
    return challenge is not None and challenge.stale


def digest_flow(state: DigestState, method: str, uri: str, user: str, password: str) -> Generator[Send, Reply, Reply]:
    """Authenticate one request; yields what to send, returns the final reply.

    A final 401 is returned, never retried: the caller records it as a failed login.
    """
    if state.challenge is None:
        reply = yield Send(None)
        if reply.status != 401:
            return reply  # the resource needs no login
        challenge = parse_challenge(reply.authenticate)
        if challenge is None:
            raise DigestError("the device answered 401 without a digest challenge")
        state.adopt(challenge)
    reply = yield Send(state.authorization(method, uri, user, password))
    if is_stale(reply):
        challenge = parse_challenge(reply.authenticate)
        assert challenge is not None
        state.adopt(challenge)
        reply = yield Send(state.authorization(method, uri, user, password))
    elif reply.status == 401:
        # Take the new nonce the refusal carries, so the next candidate needs no extra round trip.
        challenge = parse_challenge(reply.authenticate)
        if challenge is not None:
            state.adopt(challenge)
        else:
            state.forget()
    return reply
