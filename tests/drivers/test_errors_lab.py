"""Misbehaving devices (a tiny raw-socket server; the lab is faithful and will not misbehave): each gives a
clear per-device error, and the other devices of the run are unaffected."""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import Callable, Iterator

import pytest

from enforcer.credentials.guard import LoginGuard
from enforcer.drivers.base import DriverOptions
from enforcer.drivers.isapi._driver import IsapiDriver
from enforcer.engine.gather import gather
from enforcer.lab.spec import LabSpec

from .conftest import Bench, DictCredentials, device_for, lab_camera
from .rawserver import RawServer, raw_servers, reply

pytestmark = pytest.mark.lab

CHALLENGE = b'WWW-Authenticate: Digest qop="auth", realm="IP Camera(C2183)", nonce="6e6f6e6365", stale="FALSE"\r\n'
USERCHECK = (
    b"<userCheck><statusValue>401</statusValue><lockStatus>unlock</lockStatus>"
    b"<retryLoginTime>7</retryLoginTime></userCheck>"
)
XML = "application/xml"


class BadDevice(RawServer):
    """Answers the challenge like a device, then misbehaves as ``mode`` says."""

    def answer(self, conn: socket.socket, head: str, body: bytes) -> bool:
        shared = self.misbehave(conn)
        if shared is not None:
            return shared
        if "authorization:" not in head.lower():
            conn.sendall(reply("401 Unauthorized", USERCHECK, CHALLENGE, kind=XML))
            return True
        if self.mode == "malformed":
            conn.sendall(reply("200 OK", b"<DeviceInfo><model>DS-2CD</mod></DeviceInfo>", kind=XML))
        elif self.mode == "truncated":
            conn.sendall(reply("200 OK", b"<DeviceInfo><model>DS-2CD2146G2-ISU</model>", length=400, kind=XML))
            return False
        elif self.mode == "doctype":
            doc = b'<!DOCTYPE x [<!ENTITY a "b">]><DeviceInfo><model>&a;</model></DeviceInfo>'
            conn.sendall(reply("200 OK", doc, kind=XML))
        return True


@pytest.fixture
def bad() -> Iterator[Callable[[str], BadDevice]]:
    with raw_servers(BadDevice) as make:
        yield make


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
    result = gather(devices, lambda d: IsapiDriver(d, keyring=creds.keyring(guard), options=options), concurrency=6)
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
        IsapiDriver(device, keyring=DictCredentials().keyring(LoginGuard()), options=DriverOptions())
