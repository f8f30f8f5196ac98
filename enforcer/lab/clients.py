"""Simulated credential holders: viewer clients, and recorders logging into their cameras.

Each really logs in over HTTP digest from its own source address, on its interval, with what it
stores; a stale credential therefore spends the device's lock budget exactly as in the field. A
poll never repeats a credential after a 401. New client kinds (VMS, SSH-managed NVR software)
register a factory in :data:`CLIENT_KINDS`, or, when they are servers of their own (an XProtect
management server, :mod:`enforcer.lab.milestone`), run beside the fleet's devices and log in with
:func:`login` too.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from typing import Protocol

from enforcer.lab.clock import Clock
from enforcer.lab.events import EventLog
from enforcer.lab.net.httpclient import Outcome, insecure_tls, login_flow, opening_login_flow, run_flow
from enforcer.lab.spec import LabClient

ISAPI_LOGIN_PATH = "/ISAPI/Security/userCheck"
DAHUA_LOGIN_PATH = "/cgi-bin/magicBox.cgi?action=getMachineName"
CHANNEL_RESULTS: dict[Outcome, str] = {
    "ok": "connect",
    "auth_failed": "errorUserNameOrPasswd",
    "unreachable": "netUnreachable",
    "error": "unknownError",
}


class ClientHost(Protocol):
    """What a simulated client needs from the running fleet."""

    clock: Clock
    events: EventLog

    def endpoint_of(self, device: str) -> tuple[str, int, str] | None:
        """``(address, port, scheme)`` of a device by name."""

    def device_at(self, address: str, port: int) -> str | None:
        """The device name at ``address:port``."""

    def login_path(self, device: str) -> str:
        """The path that logs into ``device`` with its vendor's protocol (ISAPI userCheck, Dahua magicBox)."""

    def takes(self, device: str, user: str, password: str) -> bool:
        """Whether ``device`` takes ``password`` for ``user`` now (the lab's truth, for its events)."""


class SimulatedClient(Protocol):
    """A client of the lab: ``run`` polls until cancelled; ``status`` is a JSON-able summary."""

    spec: LabClient

    async def run(self) -> None: ...

    def status(self) -> dict[str, object]: ...


async def login(
    host: ClientHost,
    address: str,
    port: int,
    scheme: str,
    source: str,
    user: str,
    pw: str,
    *,
    path: str = ISAPI_LOGIN_PATH,
    opening: bool = False,
) -> Outcome:
    """One login attempt (challenge + one answer) from ``source`` on ``path``; with ``opening``, the
    conversation opens with a Basic logon first, as Milestone's drivers do (some firmware counts it)."""
    tls = insecure_tls() if scheme == "https" else None
    flow = opening_login_flow(user, pw, uri=path) if opening else login_flow(user, pw, uri=path)
    return await run_flow(flow, address, port, source=source, tls=tls)


class Viewer:
    """A desktop or phone viewer polling one device with the credential it stores."""

    def __init__(self, spec: LabClient, host: ClientHost) -> None:
        self.spec = spec
        self.host = host
        self.last: Outcome | None = None
        self.polls = 0

    def status(self) -> dict[str, object]:
        return {"name": self.spec.name, "last": self.last, "polls": self.polls}

    async def run(self) -> None:
        interval = self.host.clock.real(self.spec.interval_seconds)
        await asyncio.sleep(random.uniform(0, interval / 4))
        while True:
            target = self.host.endpoint_of(self.spec.target)
            if target is not None:
                address, port, scheme = target
                path = self.host.login_path(self.spec.target)
                outcome = await login(
                    self.host, address, port, scheme, self.spec.source, self.spec.user, self.spec.password, path=path
                )
                self.polls += 1
                if outcome != self.last:
                    self.host.events.emit(
                        self.spec.target,
                        "client_status",
                        source=self.spec.source,
                        user=self.spec.user,
                        client=self.spec.name,
                        result=outcome,
                    )
                self.last = outcome
            await asyncio.sleep(self.host.clock.real(self.spec.interval_seconds))


CLIENT_KINDS: dict[str, Callable[[LabClient, ClientHost], SimulatedClient]] = {"viewer": Viewer}


def make_client(spec: LabClient, host: ClientHost) -> SimulatedClient:
    """The simulated client for ``spec.kind``; ``KeyError`` names an unknown kind."""
    try:
        factory = CLIENT_KINDS[spec.kind]
    except KeyError:
        raise KeyError(f"no simulated client of kind {spec.kind!r}") from None
    return factory(spec, host)
