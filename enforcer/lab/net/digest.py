"""Server side of HTTP Digest (RFC 2617, MD5, ``qop="auth"``) as Hikvision devices speak it.

Two families differ on the wire (protocol §2.1):

- ``ipc`` (cameras): ``realm="IP Camera(C2183)"``, nonce = hex of a base64 string, no ``algorithm``.
- ``nvr`` (recorders): 24-hex or ``DVRNVRDVS`` realm, ``domain="::"``, ``opaque=""``,
  ``algorithm="MD5"``, nonce ``<32 hex>:<epoch ms>``.

Dahua/Amcrest (``dahua``, dahua-cgi.md §2): ``realm="Login to <15 hex>"``, digits nonce, hex
``opaque``, no ``stale``. Its nonce policy varies by firmware: ``reuse`` (``nc`` must grow),
``single_use`` (a second use is :attr:`Verdict.REUSED`), ``single_use_403`` (the device answers that
with 403); none of them counts a reused nonce as a failure.

:class:`DigestServer` issues nonces, counts ``nc`` per nonce and tells a wrong answer
(:attr:`Verdict.WRONG`, which the device counts toward its lock) from a correct answer to an
expired or unknown nonce (:attr:`Verdict.STALE`, answered with ``stale="TRUE"``, not counted).

    >>> h = digest_response("admin", "r", "pw", "GET", "/", "n", "00000001", "c", "auth")
    >>> len(h)
    32
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import re
import secrets
from collections import OrderedDict
from typing import Literal

from enforcer.lab.clock import Clock

Family = Literal["ipc", "nvr", "dahua"]
NoncePolicy = Literal["reuse", "single_use", "single_use_403"]

_PARAM = re.compile(r'\s*([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))\s*,?')
MAX_NONCES = 512


class Verdict(enum.Enum):
    """What a credential in an ``Authorization`` header amounts to."""

    OK = "ok"  # right answer to a live nonce with a fresh nc
    WRONG = "wrong"  # wrong password, unknown user or realm: a failed login
    STALE = "stale"  # right answer to a nonce the device no longer knows: not a failure
    REPLAY = "replay"  # right answer with an nc already seen: refused, not a failure
    MALFORMED = "malformed"  # not a digest answer the device can check: refused, not counted
    REUSED = "reused"  # right answer to a single-use nonce already answered: refused, not counted


def md5_hex(text: str) -> str:
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()


def digest_response(
    user: str, realm: str, password: str, method: str, uri: str, nonce: str, nc: str, cnonce: str, qop: str
) -> str:
    """The ``response`` value a client must send for ``qop="auth"``."""
    ha1 = md5_hex(f"{user}:{realm}:{password}")
    ha2 = md5_hex(f"{method}:{uri}")
    return md5_hex(f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")


def parse_authorization(header: str) -> tuple[str, dict[str, str]]:
    """Split an ``Authorization`` header into its lower-cased scheme and its parameters."""
    scheme, _, rest = header.strip().partition(" ")
    params: dict[str, str] = {}
    if scheme.lower() == "digest":
        for m in _PARAM.finditer(rest):
            quoted, bare = m.group(2), m.group(3)
            params[m.group(1).lower()] = quoted.replace('\\"', '"') if quoted is not None else bare
    else:
        params["token"] = rest.strip()
    return scheme.lower(), params


def parse_basic(token: str) -> tuple[str, str] | None:
    """``user, password`` from a Basic token, or ``None`` if it does not decode."""
    try:
        raw = base64.b64decode(token, validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None
    user, sep, password = raw.partition(":")
    return (user, password) if sep else None


def dahua_id(serial: str) -> str:
    """The 15 upper-hex device id in a Dahua realm, stable per serial."""
    return md5_hex(f"dahua:{serial}")[:15].upper()


def default_realm(family: Family, serial: str) -> str:
    """The realm a device of ``family`` with ``serial`` announces when the profile sets none."""
    if family == "dahua":
        return f"Login to {dahua_id(serial)}"
    if family == "ipc":
        tail = "".join(ch for ch in serial if ch.isalnum())[-5:].upper()
        return f"IP Camera({tail.rjust(5, '0')})"
    return md5_hex(f"realm:{serial}")[:24]


class DigestServer:
    """Challenges and checks digest answers for one device; nonces die after ``nonce_seconds``."""

    def __init__(
        self,
        *,
        family: Family,
        realm: str,
        clock: Clock,
        nonce_seconds: float = 300.0,
        basic_offered: bool = False,
        nonce_policy: NoncePolicy = "reuse",
    ) -> None:
        self.family = family
        self.nonce_policy = nonce_policy
        self.opaque = md5_hex(f"opaque:{realm}")
        self.realm = realm
        self.clock = clock
        self.nonce_seconds = nonce_seconds
        self.basic_offered = basic_offered
        self._nonces: OrderedDict[str, list[float]] = OrderedDict()  # nonce -> [issued, last nc]

    def new_nonce(self) -> str:
        if self.family == "ipc":
            raw = f"{secrets.token_hex(4)}:{secrets.randbelow(10**8):08d}"
            nonce = base64.b64encode(raw.encode()).hex()
        elif self.family == "dahua":
            nonce = f"{secrets.randbelow(10**10):010d}{int(Clock.wall()) % 10**6:06d}"
        else:
            nonce = f"{secrets.token_hex(16)}:{int(Clock.wall() * 1000)}"
        self._nonces[nonce] = [self.clock.now(), 0.0]
        while len(self._nonces) > MAX_NONCES:
            self._nonces.popitem(last=False)
        return nonce

    def challenge(self, *, stale: bool = False) -> list[tuple[str, str]]:
        """``WWW-Authenticate`` header lines, a fresh nonce in each."""
        nonce = self.new_nonce()
        flag = "TRUE" if stale else "FALSE"
        if self.family == "ipc":
            line = f'Digest qop="auth", realm="{self.realm}", nonce="{nonce}", stale="{flag}"'
        elif self.family == "dahua":
            line = f'Digest realm="{self.realm}", qop="auth", nonce="{nonce}", opaque="{self.opaque}"'
        else:
            line = (
                f'Digest realm="{self.realm}", domain="::", qop="auth", nonce="{nonce}", opaque="", '
                f'algorithm="MD5", stale="{flag}"'
            )
        lines = [("WWW-Authenticate", line)]
        if self.basic_offered:
            lines.append(("WWW-Authenticate", f'Basic realm="{self.realm}"'))
        return lines

    def void_all(self) -> None:
        """Forget every nonce (a reboot)."""
        self._nonces.clear()

    def check(self, params: dict[str, str], method: str, password: str | None) -> tuple[Verdict, bool]:
        """Judge a digest answer; ``password`` is the account's (``None``: no such enabled account).

        Returns the verdict and, for :attr:`Verdict.OK`, whether this is the nonce's first use
        (a new login session rather than one more request on it).
        """
        needed = ("username", "nonce", "uri", "response")
        if any(k not in params for k in needed) or params.get("qop") != "auth":
            return Verdict.MALFORMED, False
        if "nc" not in params or "cnonce" not in params:
            return Verdict.MALFORMED, False
        if params.get("realm") != self.realm or password is None:
            return Verdict.WRONG, False
        expected = digest_response(
            params["username"],
            self.realm,
            password,
            method,
            params["uri"],
            params["nonce"],
            params["nc"],
            params["cnonce"],
            "auth",
        )
        if not hmac.compare_digest(expected, params["response"].lower()):
            return Verdict.WRONG, False
        entry = self._nonces.get(params["nonce"])
        if entry is None or self.clock.now() - entry[0] > self.nonce_seconds:
            self._nonces.pop(params["nonce"], None)
            return Verdict.STALE, False
        try:
            nc = int(params["nc"], 16)
        except ValueError:
            return Verdict.MALFORMED, False
        if self.nonce_policy != "reuse" and entry[1] > 0:
            return Verdict.REUSED, False
        if nc <= entry[1]:
            return Verdict.REPLAY, False
        first = entry[1] == 0
        entry[1] = nc
        return Verdict.OK, first
