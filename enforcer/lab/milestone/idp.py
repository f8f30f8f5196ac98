"""The identity provider's token endpoint (protocols/clients.md §1.1), as the API Gateway passes it on.

``POST /API/IDP/connect/token`` with a form body: ``grant_type=password``, ``username``, ``password`` and
``client_id=GrantValidatorClient`` give ``{"access_token", "expires_in": 3600, "token_type": "Bearer",
"scope": "managementserver"}`` and no refresh token; ``client_id=VmsClient`` (Milestone's browser sample)
adds a ``refresh_token``, which ``grant_type=refresh_token`` trades for a new pair. A refusal is a 400
with an OAuth2 body (``error``, ``error_description``; status and values are [I] in the notes).

Tokens live ``expires_in`` device seconds, so a time-scaled lab expires them as fast as it unlocks.
"""

from __future__ import annotations

import json
import secrets
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from enforcer.lab.clock import Clock
from enforcer.lab.net.httpserver import Request, Response

if TYPE_CHECKING:
    from enforcer.lab.milestone.server import MilestoneServer

CLIENTS = ("GrantValidatorClient", "VmsClient")


class Tokens:
    """Bearer and refresh tokens, each with its user and the device time it expires at."""

    def __init__(self, clock: Clock, lifetime: int) -> None:
        self.clock, self.lifetime = clock, lifetime
        self._access: dict[str, tuple[str, float]] = {}
        self._refresh: dict[str, str] = {}

    def issue(self, user: str, *, refresh: bool) -> dict[str, object]:
        token = "eyJ" + secrets.token_urlsafe(48)
        self._access[token] = (user, self.clock.now() + self.lifetime)
        body: dict[str, object] = {
            "access_token": token,
            "expires_in": self.lifetime,
            "token_type": "Bearer",
            "scope": "managementserver",
        }
        if refresh:
            again = secrets.token_urlsafe(32)
            self._refresh[again] = user
            body["refresh_token"] = again
        return body

    def user(self, token: str) -> str | None:
        """The user of a live ``token``; an expired one is forgotten."""
        found = self._access.get(token)
        if found is None:
            return None
        if self.clock.now() >= found[1]:
            del self._access[token]
            return None
        return found[0]

    def redeem(self, refresh: str) -> str | None:
        """The user of a refresh token, which is spent."""
        return self._refresh.pop(refresh, None)

    def revoke_all(self) -> None:
        """Every token dies (the server restarted, or a test wants an expiry now)."""
        self._access.clear()
        self._refresh.clear()


def _oauth_error(error: str, description: str) -> Response:
    body = json.dumps({"error": error, "error_description": description}).encode()
    return Response(400, body, content_type="application/json; charset=utf-8")


def grant(server: MilestoneServer, req: Request) -> Response:
    """Answer a token request."""
    if not req.headers.get("content-type", "").lower().startswith("application/x-www-form-urlencoded"):
        return _oauth_error("invalid_request", "the body must be application/x-www-form-urlencoded")
    form = dict(parse_qsl(req.body.decode("utf-8", "replace"), keep_blank_values=True))
    client = form.get("client_id", "")
    if client not in CLIENTS:
        return _oauth_error("invalid_client", "unknown client")
    spec = server.spec
    kind = form.get("grant_type", "")
    if kind == "refresh_token" and client == "VmsClient":
        user = server.tokens.redeem(form.get("refresh_token", ""))
        if user is None:
            return _oauth_error("invalid_grant", "invalid refresh token")
    elif kind == "password":
        user = form.get("username", "")
        if user != spec.username or form.get("password") != spec.password:
            server.emit("token_refused", source=req.source, user=user, reason="invalid_username_or_password")
            return _oauth_error("invalid_grant", "invalid_username_or_password")
    else:
        return _oauth_error("unsupported_grant_type", f"grant type {kind!r} is not supported")
    body = server.tokens.issue(user, refresh=client == "VmsClient")
    server.emit("token_granted", source=req.source, user=user, client_id=client)
    return Response(200, json.dumps(body).encode(), content_type="application/json; charset=utf-8")
