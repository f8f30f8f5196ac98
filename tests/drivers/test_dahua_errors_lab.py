"""Misbehaving Dahua devices (a tiny raw-socket server: the lab is faithful and will not misbehave):
each gives a per-device error naming the step and what the device said, the other devices of the run
are unaffected, and a reply enforcer cannot read never makes it send a password again."""

from __future__ import annotations

import dataclasses
import json
import socket
from collections.abc import Callable, Iterator

import pytest

from enforcer.credentials.guard import LoginGuard
from enforcer.drivers.base import DriverOptions
from enforcer.drivers.dahua._driver import DahuaDriver
from enforcer.engine.gather import gather
from enforcer.lab.spec import LabSpec

from .conftest import Bench, DictCredentials
from .rawserver import RawServer, raw_servers, reply
from .test_dahua_lab import CAM, dh_camera, dh_device

pytestmark = pytest.mark.lab

REALM = "Login to 4X7C5A1ZAG00001"
CHALLENGE = f'WWW-Authenticate: Digest realm="{REALM}", qop="auth", nonce="6e6f6e6365", opaque="6f70"\r\n'.encode()
TIMEOUT = 2.0  # the driver's; the slow device never answers


def rpc_reply(doc: dict[str, object]) -> bytes:
    return reply("200 OK", json.dumps(doc).encode(), kind="application/json")


class BadDahua(RawServer):
    """Answers the CGI challenge and the RPC2 login like a Dahua device, then misbehaves as ``mode`` says."""

    def __init__(self, mode: str) -> None:
        super().__init__(mode)
        self.hashes = 0  # RPC2 request 2: the credential, hashed

    def answer(self, conn: socket.socket, head: str, body: bytes) -> bool:
        shared = self.misbehave(conn)
        if shared is not None:
            return shared
        target = head.split(" ")[1]
        if target.startswith("/RPC2"):
            return self._rpc(conn, target, json.loads(body))
        if "authorization:" not in head.lower():
            conn.sendall(reply("401 Unauthorized", b"", CHALLENGE))
            return True
        if self.mode == "http500":
            conn.sendall(reply("500 Internal Server Error", b""))
        elif self.mode == "error_on_read":
            conn.sendall(reply("200 OK", b"Error\r\nBad Request!\r\n"))
        elif self.mode == "no_version":
            conn.sendall(reply("200 OK", b"name=Lobby\r\n"))
        elif self.mode == "truncated":
            conn.sendall(reply("200 OK", b"version=2.800.00", length=400))
            return False
        return True

    def _rpc(self, conn: socket.socket, target: str, doc: dict[str, object]) -> bool:
        params = doc.get("params")
        if target == "/RPC2_Login" and isinstance(params, dict) and params.get("password") == "":
            challenge = {"realm": REALM, "random": "80480036-1e1f", "encryption": "Default"}
            error = {"code": 268632079, "message": "Component error: login challenge!"}
            doc = {"result": False, "params": challenge, "error": error, "id": doc["id"], "session": 7}
            conn.sendall(rpc_reply(doc))
            return True
        if target == "/RPC2_Login":
            self.hashes += 1
            if self.mode == "rpc_not_json":
                conn.sendall(reply("200 OK", b"<html>busy</html>", kind="text/html"))
                return True
        conn.sendall(rpc_reply({"result": True, "params": {"keepAliveInterval": 60}, "id": doc["id"], "session": "ab"}))
        return True


@pytest.fixture
def bad() -> Iterator[Callable[[str], BadDahua]]:
    with raw_servers(BadDahua) as make:
        yield make


EXPECT = {
    "http500": ("software version", "HTTP 500"),
    "error_on_read": ("software version", "answered Error (Bad Request!)"),
    "no_version": ("facts", "unreadable reply"),
    "truncated": ("software version", "cut off before its end"),
    "reset": ("login", "closed or reset the connection"),
    "slow": ("login", f"no reply within {TIMEOUT:g} s"),
    "rpc_not_json": ("login", "not JSON"),
}


def test_each_bad_dahua_fails_alone(bad: Callable[[str], BadDahua], bench: Callable[[LabSpec], Bench]) -> None:
    good = dh_camera("good", "127.0.61.2")
    b = bench(LabSpec([good]))
    devices = [dh_device(good, CAM)]
    servers = {}
    for mode in EXPECT:
        servers[mode] = server = bad(mode)
        template = dataclasses.replace(good, name=mode, address="127.0.0.1", port=server.port)
        devices.append(dh_device(template, "secret-pw-1"))
    guard, creds = LoginGuard(), DictCredentials()
    options = DriverOptions(timeout=TIMEOUT)
    result = gather(devices, lambda d: DahuaDriver(d, keyring=creds.keyring(guard), options=options), concurrency=8)
    assert list(result.facts) == ["s1/good"]
    by_name = {x.device: x for x in result.failures}
    for mode, (step, words) in EXPECT.items():
        failure = by_name[mode]
        assert failure.site == "s1" and failure.step == step and words in failure.reason, (mode, failure)
        assert "secret-pw-1" not in failure.reason
    # an unreadable answer to the hash may have been a counted failure: the password is not sent again
    assert servers["rpc_not_json"].hashes == 1
    assert b.events("auth_failed") == []
