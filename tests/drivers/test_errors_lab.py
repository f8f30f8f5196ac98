"""Misbehaving devices (a tiny raw-socket server; the lab is faithful and will not misbehave): each gives a
clear per-device error, and the other devices of the run are unaffected."""

from __future__ import annotations

import dataclasses
import socket
import struct
import threading
from collections.abc import Callable, Iterator

import pytest

from enforcer.drivers.base import DriverOptions
from enforcer.drivers.guard import LoginGuard
from enforcer.drivers.isapi import IsapiDriver
from enforcer.engine.gather import gather
from enforcer.lab.spec import LabSpec

from .conftest import Bench, DictCredentials, device_for, lab_camera

pytestmark = pytest.mark.lab

CHALLENGE = b'WWW-Authenticate: Digest qop="auth", realm="IP Camera(C2183)", nonce="6e6f6e6365", stale="FALSE"\r\n'
USERCHECK = (
    b"<userCheck><statusValue>401</statusValue><lockStatus>unlock</lockStatus>"
    b"<retryLoginTime>7</retryLoginTime></userCheck>"
)


def reply(status: str, body: bytes, extra: bytes = b"", length: int | None = None) -> bytes:
    size = len(body) if length is None else length
    head = f"HTTP/1.1 {status}\r\nContent-Type: application/xml\r\nContent-Length: {size}\r\n"
    return head.encode() + extra + b"\r\n" + body


class BadDevice:
    """Answers the challenge like a device, then misbehaves as ``mode`` says."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        self.requests = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        self.sock.settimeout(0.1)
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._conn, args=(conn,), daemon=True).start()

    def _conn(self, conn: socket.socket) -> None:
        buf = b""
        with conn:
            while not self.stop.is_set():
                try:
                    conn.settimeout(0.2)
                    chunk = conn.recv(65536)
                except TimeoutError:
                    continue
                except OSError:
                    return
                if not chunk:
                    return
                buf += chunk
                while b"\r\n\r\n" in buf:
                    head, buf = buf.split(b"\r\n\r\n", 1)
                    self.requests += 1
                    if not self._answer(conn, b"authorization:" in head.lower()):
                        return

    def _answer(self, conn: socket.socket, authorized: bool) -> bool:
        if self.mode == "reset":
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return False
        if self.mode == "slow":
            self.stop.wait(60)  # never answers: hangs until the test ends, far past any client timeout
            return False
        if not authorized:
            conn.sendall(reply("401 Unauthorized", USERCHECK, CHALLENGE))
            return True
        if self.mode == "malformed":
            conn.sendall(reply("200 OK", b"<DeviceInfo><model>DS-2CD</mod></DeviceInfo>"))
        elif self.mode == "truncated":
            conn.sendall(reply("200 OK", b"<DeviceInfo><model>DS-2CD2146G2-ISU</model>", length=400))
            return False
        elif self.mode == "doctype":
            conn.sendall(reply("200 OK", b'<!DOCTYPE x [<!ENTITY a "b">]><DeviceInfo><model>&a;</model></DeviceInfo>'))
        return True

    def close(self) -> None:
        self.stop.set()
        self.sock.close()


@pytest.fixture
def bad() -> Iterator[Callable[[str], BadDevice]]:
    servers: list[BadDevice] = []

    def make(mode: str) -> BadDevice:
        servers.append(BadDevice(mode))
        return servers[-1]

    yield make
    for s in servers:
        s.close()


EXPECT = {
    "malformed": ("facts", "unreadable reply: malformed XML"),
    "truncated": ("login", "cut off before its end"),
    "doctype": ("facts", "DOCTYPE"),
    "reset": ("login", "closed or reset the connection"),
    "slow": ("login", "no reply within 2 s"),
}


def test_each_bad_device_fails_alone(bad: Callable[[str], BadDevice], bench: Callable[[LabSpec], Bench]) -> None:
    good = lab_camera("good", "127.0.60.2", "G00d-Passw0rd!")
    b = bench(LabSpec([good]))
    devices = [device_for(good, "G00d-Passw0rd!")]
    servers = {}
    for mode in EXPECT:
        server = bad(mode)
        servers[mode] = server
        template = lab_camera(mode, "127.0.0.1", "x", port=server.port)
        devices.append(dataclasses.replace(device_for(template, "secret-pw-1"), port=server.port))
    guard = LoginGuard()
    creds = DictCredentials()
    options = DriverOptions(timeout=2.0)  # also the good device's: ample for a loaded machine
    result = gather(devices, lambda d: IsapiDriver(d, guard=guard, credentials=creds, options=options), concurrency=6)
    assert list(result.facts) == ["s1/good"]
    by_name = {x.device: x for x in result.failures}
    for mode, (step, words) in EXPECT.items():
        failure = by_name[mode]
        assert failure.site == "s1" and failure.step == step and words in failure.reason, (mode, failure)
        assert "secret-pw-1" not in failure.reason
    # a 401 is never answered twice: at most the free challenge and one credentialed request per step
    assert servers["malformed"].requests <= 3
    assert b.events("auth_failed") == []


def test_refuses_unverified_tls_without_a_pin() -> None:
    from enforcer.errors import DeviceError
    from enforcer.model import TLS

    device = dataclasses.replace(
        device_for(lab_camera("c", "127.0.0.1", "x"), "pw"), scheme="https", tls=TLS(verify=False)
    )
    with pytest.raises(DeviceError, match="unverified"):
        IsapiDriver(device, guard=LoginGuard(), credentials=DictCredentials(), options=DriverOptions())
