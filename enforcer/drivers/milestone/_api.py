"""XProtect's API Gateway for one client: the bearer token and JSON requests (protocols/clients.md §1.1, §1.2).

The token comes from the IDP's password grant (``client_id=GrantValidatorClient``: no refresh token), once
per run, and is taken again before it expires (60 s early, in the server's time, which a time-scaled lab
shortens with the rest). A refused grant means the inventory's Milestone credential is wrong: it is said
once and never sent again in this run. A 401 to a token we hold (a server restarted) takes a new token
and asks once more; a bearer token is not a device password, nothing counts it.

Requests go through the shared HTTP transport (:mod:`enforcer.drivers._wire.http`): source address, TLS
verified or pinned (the client's ``tls`` setting), errors a person can act on. No body is logged here,
and urllib3 logs only request lines: neither the password grant's form nor a task's body reaches a log.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any
from urllib.parse import urlencode, urlsplit

from enforcer.drivers._wire.http import Transport, Trust, trust_for
from enforcer.drivers._wire.websocket import WebSocket
from enforcer.drivers.base import DriverOptions
from enforcer.drivers.milestone._parse import api_error, oauth_error
from enforcer.errors import DeviceError, TransportError, TransportFailed
from enforcer.model import TLS, Client, MilestoneSettings

TOKEN_PATH = "/API/IDP/connect/token"
REST = "/api/rest/v1"
EVENTS = "/api/ws/events/v1/"
CLIENT_ID = "GrantValidatorClient"
RENEW_EARLY = 60.0  # server seconds before expires_in (Milestone's own sample renews 60 s early)


class Api:
    """The gateway of one Milestone client, as its service account."""

    def __init__(self, client: Client, settings: MilestoneSettings, options: DriverOptions) -> None:
        self.client, self.settings, self.options = client, settings, options
        parts = urlsplit(settings.url)
        self.scheme = parts.scheme
        try:
            self.trust: Trust = trust_for(settings.tls or TLS(), parts.scheme)
        except ValueError as exc:
            raise self.error("connect", str(exc)) from None
        self.base_url = settings.url.rstrip("/")
        self.transport = Transport(
            self.base_url, trust=self.trust, source_address=options.source_address, timeout=options.timeout
        )
        self._token: str | None = None
        self._expires = 0.0
        self._refused: str | None = None
        self._lock = threading.RLock()

    def error(self, step: str, detail: str) -> DeviceError:
        return DeviceError(site=self.client.site, device=self.client.name, step=step, detail=detail)

    def _failed(self, step: str, exc: TransportError) -> TransportFailed:
        return TransportFailed(
            site=self.client.site, device=self.client.name, step=step, detail=exc.detail, kind=exc.kind
        )

    # -- the token ----------------------------------------------------------------------------------

    def token(self, step: str) -> str:
        """A live bearer token, taken with the password grant when there is none or it is about to expire."""
        with self._lock:
            if self._refused is not None:
                raise self.error(step, self._refused)
            if self._token is not None and time.monotonic() < self._expires:
                return self._token
            settings = self.settings
            if settings.username is None or settings.password is None:
                raise self.error(step, "the inventory gives this Milestone client no username and password")
            form = urlencode(
                {
                    "grant_type": "password",
                    "username": settings.username,
                    "password": settings.password.reveal(),
                    "client_id": CLIENT_ID,
                }
            ).encode()
            headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
            try:
                reply = self.transport.send("POST", TOKEN_PATH, headers=headers, body=form)
            except TransportError as exc:
                raise self._failed(step, exc) from exc
            body = _json(reply.body)
            if not 200 <= reply.status < 300:
                said = oauth_error(body) or f"HTTP {reply.status}"
                self._refused = (
                    f"XProtect refused a token for {settings.username}: {said}; check the client's username and "
                    "password (not sent again in this run)"
                )
                raise self.error(step, self._refused)
            token, lifetime = body.get("access_token"), body.get("expires_in", 3600)
            if not isinstance(token, str) or not isinstance(lifetime, int | float):
                raise self.error(step, "the token reply has no access_token or expires_in")
            early = min(RENEW_EARLY, lifetime / 2)
            self._token = token
            self._expires = time.monotonic() + (lifetime - early) * self.options.time_scale
            return token

    # -- requests -----------------------------------------------------------------------------------

    def call(
        self,
        step: str,
        method: str,
        path: str,
        *,
        body: object | None = None,
        allow: tuple[int, ...] = (200,),
    ) -> tuple[int, dict[str, Any]]:
        """One Config API request (``path`` under ``/api/rest/v1``): its status (one of ``allow``) and JSON body;
        DeviceError naming what the server said otherwise."""
        data = json.dumps(body).encode() if body is not None else None
        for again in (False, True):
            token = self.token(step)
            headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
            if data is not None:
                headers["Content-Type"] = "application/json"
            try:
                reply = self.transport.send(method, REST + path, headers=headers, body=data)
            except TransportError as exc:
                raise self._failed(step, exc) from exc
            if reply.status == 401 and not again:
                with self._lock:  # the server no longer knows our token: take a new one, once
                    if self._token == token:
                        self._token = None
                continue
            parsed = _json(reply.body)
            if reply.status not in allow:
                said = api_error(parsed) or reply.body[:200].decode("utf-8", "replace").strip()
                raise self.error(step, f"HTTP {reply.status} to {method} {REST}{path}" + (f": {said}" if said else ""))
            return reply.status, parsed
        raise self.error(step, "XProtect refuses a token it has just issued (HTTP 401)")

    def events(self, step: str) -> WebSocket:
        """The Events and State WebSocket, opened with our token."""
        url = self.base_url + EVENTS
        headers = {"Authorization": f"Bearer {self.token(step)}"}
        try:
            return WebSocket.connect(
                url,
                headers=headers,
                trust=self.trust,
                source_address=self.options.source_address,
                timeout=self.options.timeout,
            )
        except TransportError as exc:
            raise self._failed(step, exc) from exc

    def close(self) -> None:
        self.transport.close()


def _json(data: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(data) if data.strip() else {}
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}
