"""Shared builders for lab tests: small fleets, source-bound HTTP sessions, polling helpers."""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from requests.adapters import HTTPAdapter
from requests.auth import HTTPDigestAuth

from enforcer.lab.dahua.rpc import login_hash
from enforcer.lab.fleet import Fleet
from enforcer.lab.spec import (
    LabAccount,
    LabChannel,
    LabClient,
    LabDevice,
    LabHardware,
    LabLockPolicy,
    LabMilestone,
    LabProfile,
    LabSpec,
)

Start = Callable[..., Fleet]
SCALE = 0.01  # one device second = 10 ms
CAM_PW = "Cam1Pass!x"
NVR_PW = "NvrPass1!x"


def camera(name: str, address: str, *, password: str = CAM_PW, scheme: str = "http", **kw: Any) -> LabDevice:
    """A Hikvision camera; any LabDevice field can be given to override the defaults."""
    fields: dict[str, Any] = {
        "model": "DS-2CD2146G2-ISU",
        "serial": f"DS-2CD2146G2-ISU00000000AAWRG{zlib.crc32(name.encode()) % 100000:05d}",
        "port": 8080,
        "firmware_version": "V5.7.17",
        "firmware_build": "build 240606",
        "accounts": [LabAccount("admin", "administrator", password), LabAccount("op", "operator", "Op3rator!x")],
        "lock_policy": LabLockPolicy(enabled=True, max_attempts=3, lock_seconds=150),
        "profile": LabProfile(reboot_seconds=50, upgrade_seconds=30),
    }
    fields.update(kw)
    return LabDevice(
        name=name,
        site="s1",
        role="camera",
        vendor="hikvision",
        address=address,
        scheme="https" if scheme == "https" else "http",
        **fields,
    )


def recorder(name: str, address: str, channels: list[LabChannel], *, password: str = NVR_PW, **kw: Any) -> LabDevice:
    """A Hikvision recorder of ``channels``; any LabDevice field can be given to override the defaults."""
    fields: dict[str, Any] = {
        "serial": "DS-7608NXI-I20000000000CCRRJ00000000WCVU",
        "port": 8080,
        "scheme": "http",
        "firmware_version": "V4.62.210",
        "firmware_build": "build 230619",
        "accounts": [LabAccount("admin", "administrator", password)],
        "profile": LabProfile(namespace="isapi", channel_poll_seconds=20, reboot_seconds=50),
    }
    fields.update(kw)
    return LabDevice(
        name=name,
        site="s1",
        role="recorder",
        vendor="hikvision",
        model="DS-7608NXI-I2",
        address=address,
        channels=channels,
        **fields,
    )


# -- Milestone ------------------------------------------------------------------------------------

MS_USER, MS_PW = "enforcer-svc", "Svc0Passw0rd"


def xprotect(address: str, devices: list[LabDevice], *, scheme: str = "http", **kw: Any) -> LabMilestone:
    """An XProtect server on ``address:8443`` storing each of ``devices`` as admin with its actual password;
    item ids are ``0000…0N`` in the order given. Any LabMilestone field can be given."""
    hardware = [
        LabHardware(
            id=f"00000000-0000-4000-8000-{i:012d}",
            device=d.name,
            name=f"{d.model} ({d.name})",
            address=d.address,
            port=d.port,
            user="admin",
            password=next(a.password for a in d.accounts if a.name == "admin"),
            driver="dahua" if d.vendor in ("dahua", "amcrest") else "hikvision",
            model=d.model,
        )
        for i, d in enumerate(devices, start=1)
    ]
    fields: dict[str, Any] = {"poll_seconds": 10.0, "task_seconds": 2.0}
    fields.update(kw)
    return LabMilestone(
        "xprotect", "s1", address, 8443, "https" if scheme == "https" else "http", MS_USER, MS_PW, hardware, **fields
    )


def hw_id(i: int) -> str:
    return f"00000000-0000-4000-8000-{i:012d}"


# -- Dahua ----------------------------------------------------------------------------------------

DH_PW = "Adm1nPass!x"
NVR_DH_PW = "NvrAdm1n!x"
MACHINE = "/cgi-bin/magicBox.cgi?action=getMachineName"


def dahua_camera(
    name: str, address: str, *, password: str = DH_PW, lock: LabLockPolicy | None = None, **profile: Any
) -> LabDevice:
    """A Dahua camera with a 3-attempt, 60 s account lock (0.6 s real at the test scale); ``profile``
    overrides any :class:`LabProfile` field."""
    return LabDevice(
        name=name,
        site="s1",
        role="camera",
        vendor="dahua",
        model="IPC-HDW5831R-ZE",
        serial=f"4X7C5A1ZAG{zlib.crc32(name.encode()) % 10**5:05d}",
        address=address,
        port=8080,
        scheme="http",
        firmware_version="2.800.0000016.0.R",
        firmware_build="2024-10-30",
        accounts=[LabAccount("admin", "administrator", password), LabAccount("op", "operator", "Op3rator!x")],
        lock_policy=lock or LabLockPolicy(enabled=True, max_attempts=3, lock_seconds=60),
        profile=LabProfile(
            **{
                "lock_scope": "account",
                "default_password": "admin",
                "reboot_seconds": 30,
                "upgrade_seconds": 100,
                **profile,
            }
        ),
    )


def dahua_recorder(
    name: str, address: str, channels: list[LabChannel], *, password: str = NVR_DH_PW, **profile: Any
) -> LabDevice:
    """A Dahua recorder of ``channels`` (5-attempt, 1800 s account lock); ``profile`` overrides any
    :class:`LabProfile` field."""
    return LabDevice(
        name=name,
        site="s1",
        role="recorder",
        vendor="dahua",
        model="DHI-NVR5232-4KS2",
        serial="7F0A1B2C3D4E5F6",
        address=address,
        port=8080,
        scheme="http",
        firmware_version="4.002.0000000.8.R",
        firmware_build="2024-10-30",
        accounts=[LabAccount("admin", "administrator", password)],
        channels=channels,
        lock_policy=LabLockPolicy(True, 5, 1800),
        profile=LabProfile(**{"lock_scope": "account", "channel_poll_seconds": 20, "reboot_seconds": 30, **profile}),
    )


def cgi(fleet: Fleet, dev: str, path: str, user: str | None = "admin", pw: str = DH_PW, **kw: Any) -> requests.Response:
    return get(fleet.url(dev) + path, user, pw, **kw)


def kv(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def rpc(fleet: Fleet, dev: str, doc: dict[str, Any], *, path: str = "/RPC2_Login", source: str = "127.0.0.1") -> Any:
    with session_from(source) as s:
        return s.post(fleet.url(dev) + path, json=doc, timeout=5).json()


def rpc_login(
    fleet: Fleet, dev: str, user: str, pw: str, *, source: str = "127.0.0.1"
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Both RPC2 login requests; returns (challenge reply, answer reply)."""
    params = {"userName": user, "password": "", "clientType": "Web3.0", "loginType": "Direct"}
    first = rpc(fleet, dev, {"method": "global.login", "params": params, "id": 1}, source=source)
    if first.get("error", {}).get("code") != 268632079:
        return first, first
    chal = first["params"]
    answer = {
        **params,
        "password": login_hash(user, pw, chal["realm"], chal["random"]),
        "authorityType": "Default",
        "passwordType": "Default",
    }
    doc = {"method": "global.login", "params": answer, "id": 2, "session": first["session"]}
    return first, rpc(fleet, dev, doc, source=source)


@pytest.fixture
def lab_dir(tmp_path: Path) -> Path:
    return tmp_path / "lab"


@pytest.fixture
def start(lab_dir: Path) -> Iterator[Callable[..., Fleet]]:
    """``start(spec, **options)`` brings a fleet up; every fleet is stopped after the test."""
    fleets: list[Fleet] = []

    def run(spec: LabSpec, **options: Any) -> Fleet:
        options.setdefault("time_scale", SCALE)
        fleet = Fleet(spec, directory=lab_dir, **options)
        fleet.start()
        fleets.append(fleet)
        return fleet

    yield run
    for fleet in fleets:
        fleet.stop()


class SourceAdapter(HTTPAdapter):
    """Bind every connection to one local address, as a host on its own IP would."""

    def __init__(self, source: str) -> None:
        self.source = source
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["source_address"] = (self.source, 0)
        super().init_poolmanager(*args, **kwargs)


def session_from(source: str) -> requests.Session:
    s = requests.Session()
    s.mount("http://", SourceAdapter(source))
    s.mount("https://", SourceAdapter(source))
    return s


def get(url: str, user: str | None = None, pw: str = "", *, source: str = "127.0.0.1", **kw: Any) -> requests.Response:
    """One request with a fresh digest handshake: at most one failed login per call."""
    auth = HTTPDigestAuth(user, pw) if user is not None else None
    with session_from(source) as s:
        return s.request(kw.pop("method", "GET"), url, auth=auth, timeout=5, **kw)


def wait_for(pred: Callable[[], Any], timeout: float = 10.0, step: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(step)


def events_of(fleet: Fleet, event: str, **match: Any) -> list[dict[str, Any]]:
    return [e for e in fleet.read_events() if e["event"] == event and all(e.get(k) == v for k, v in match.items())]


__all__ = ["LabChannel", "LabClient", "LabLockPolicy", "LabMilestone", "LabProfile", "LabSpec"]
