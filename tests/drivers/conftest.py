"""Shared helpers for driver tests: generated lab repos, hand-built devices, drivers bound to them."""

from __future__ import annotations

import hashlib
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from enforcer.config.diagnostics import Diagnostics
from enforcer.config.playbook import load_playbook
from enforcer.credentials.guard import LoginGuard
from enforcer.credentials.keyring import Keyring
from enforcer.credentials.secret import Secret
from enforcer.credentials.store import CredentialStore, Entry
from enforcer.drivers._wire.hub import Hub
from enforcer.drivers.base import DeviceDriver, DriverOptions
from enforcer.drivers.isapi._driver import IsapiDriver
from enforcer.engine.gather import Gathered, devices_of, gather
from enforcer.facts import Candidate
from enforcer.lab.fleet import Fleet
from enforcer.lab.generate.generator import generate
from enforcer.lab.spec import LabAccount, LabChannel, LabDevice, LabLockPolicy, LabSpec
from enforcer.model import TLS, Account, Device, LockPolicy
from tests.lab.conftest import camera, recorder

SCALE = 0.01  # one device second = 10 ms
ENFORCER = "127.0.0.1"


@dataclass
class Repo:
    """A generated MSP repo and its running lab."""

    out: Path
    spec: LabSpec
    fleet: Fleet
    devices: tuple[Device, ...]
    store: CredentialStore

    def credentials(self) -> StoredCredentials:
        return StoredCredentials(self.store)

    def gather(self, guard: LoginGuard | None = None, **options: Any) -> Gathered:
        keyring = self.credentials().keyring(guard or LoginGuard())
        opts = DriverOptions(**({"timeout": 5.0} | options))
        return gather(self.devices, lambda d: IsapiDriver(d, keyring=keyring, options=opts))

    def lab(self, name: str) -> LabDevice:
        return next(d for d in self.spec.devices if d.name == name)

    def device(self, name: str) -> Device:
        return next(d for d in self.devices if d.name == name)

    def with_problem(self, problem: str) -> list[LabDevice]:
        return [d for d in self.spec.devices if problem in d.problems]

    def our_locks(self) -> list[dict[str, Any]]:
        return [e for e in self.fleet.read_events() if e["event"] == "locked" and e["source"] == ENFORCER]


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[Callable[..., Repo]]:
    """``repo(sites=, cameras=, problems=, ...)``: generate a fleet into tmp_path and serve it."""
    fleets: list[Fleet] = []

    def make(**kw: Any) -> Repo:
        out = tmp_path / f"repo{len(fleets)}"
        kw.setdefault("seed", 11)
        spec = generate(out, **kw)
        fleet = Fleet(LabSpec.load(out / "lab.spec.json"), time_scale=SCALE, directory=out)
        fleet.start()
        fleets.append(fleet)
        diagnostics = Diagnostics()
        playbook = load_playbook(out / "site.yml", diagnostics)
        assert playbook is not None, [str(d) for d in diagnostics]
        devices = tuple(d for play in playbook.plays for d in devices_of(play))
        password = (out / "inventory" / ".vault-password").read_text(encoding="utf-8").strip().encode()
        store = CredentialStore.load(out / "inventory" / "credentials.vault", password)
        return Repo(out, spec, fleet, devices, store)

    yield make
    for fleet in fleets:
        fleet.stop()


# -- hand-built devices, for write tests that need a particular firmware behaviour ------------------


@dataclass
class StoredCredentials:
    """A repo's credential store, as a keyring for drivers."""

    store: CredentialStore

    def keyring(self, guard: LoginGuard | None = None) -> Keyring:
        return Keyring(self.store, guard=guard)


class _Table(dict[tuple[str, str], list[tuple[Candidate, Secret]]]):
    """A mapping ``{(device_id, user): [(slot, Secret)]}`` written through to an in-memory store."""

    def __init__(self, store: CredentialStore) -> None:
        super().__init__()
        self.store = store

    def __setitem__(self, key: tuple[str, str], roles: list[tuple[Candidate, Secret]]) -> None:
        super().__setitem__(key, roles)
        self.store.put(*key, Entry(**{role: secret for role, secret in roles}))


class DictCredentials:
    """Credentials from a plain mapping ``{(device_id, user): [(slot, Secret)]}``, kept in a store never saved."""

    def __init__(self, table: dict[tuple[str, str], list[tuple[Candidate, Secret]]] | None = None) -> None:
        self.store = CredentialStore(Path("unsaved.vault"), b"test")
        self.table = _Table(self.store)
        for key, roles in (table or {}).items():
            self.table[key] = roles

    def keyring(self, guard: LoginGuard | None = None) -> Keyring:
        return Keyring(self.store, guard=guard)


def lab_camera(name: str, address: str, password: str, **kw: Any) -> LabDevice:
    """The lab's camera, with the lock of a current camera firmware (5 attempts, 30 minutes)."""
    fields: dict[str, Any] = {
        "accounts": [LabAccount("admin", "administrator", password), LabAccount("operator", "operator", "Op3rator!x")],
        "lock_policy": LabLockPolicy(enabled=True, max_attempts=5, lock_seconds=1800),
        "firmware_build": "240606",
    }
    return camera(name, address, password=password, **{**fields, **kw})


def lab_recorder(name: str, address: str, password: str, channels: list[LabChannel], **kw: Any) -> LabDevice:
    return recorder(name, address, channels, password=password, **{"firmware_build": "230619", **kw})


def device_for(lab: LabDevice, password: str, *, tls: TLS | None = None, **kw: Any) -> Device:
    """The inventory's view of a lab device: admin desired = ``password``."""
    return Device(
        site=lab.site,
        name=lab.name,
        role=lab.role,
        vendor="hikvision",
        model=lab.model,
        address=lab.address,
        port=lab.port,
        scheme=lab.scheme,
        tls=tls or TLS(),
        accounts=(Account("admin", "administrator", Secret(password, "test")),),
        lock_policy=kw.pop("lock_policy", LockPolicy(True, 5, 30)),
        firmware=kw.pop("firmware", None),
        isolation="ip_filter",
        unlock="wait",
        **kw,
    )


@dataclass
class Bench:
    """A hand-built lab plus drivers for its devices."""

    fleet: Fleet
    guard: LoginGuard = field(default_factory=LoginGuard)
    credentials: DictCredentials = field(default_factory=DictCredentials)
    drivers: list[DeviceDriver] = field(default_factory=list)  # closed when the test ends

    def driver(self, device: Device, **options: Any) -> IsapiDriver:
        opts = DriverOptions(**({"timeout": 5.0, "firmware_timeout": 30.0} | options))
        made = IsapiDriver(device, keyring=self.credentials.keyring(self.guard), options=opts)
        self.drivers.append(made)
        return made

    def events(self, event: str, **match: Any) -> list[dict[str, Any]]:
        return [
            e for e in self.fleet.read_events() if e["event"] == event and all(e.get(k) == v for k, v in match.items())
        ]


@pytest.fixture
def bench(tmp_path: Path) -> Iterator[Callable[..., Bench]]:
    fleets: list[Fleet] = []
    benches: list[Bench] = []

    def make(spec: LabSpec, **options: Any) -> Bench:
        fleet = Fleet(spec, time_scale=SCALE, directory=tmp_path / f"lab{len(fleets)}", **options)
        fleet.start()
        fleets.append(fleet)
        benches.append(Bench(fleet))
        return benches[-1]

    yield make
    for made in benches:
        for driver in made.drivers:
            driver.close()
    for fleet in fleets:
        fleet.stop()


def cert_fingerprint(pem: Path) -> str:
    """SHA-256 of the certificate's DER bytes, hex lower-case without colons."""
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem.read_text())).hexdigest()


@pytest.fixture(params=["threads", "hub"])
def waits(request: pytest.FixtureRequest) -> str:
    """How the test's transports wait for their sockets: blocking in the kernel (a thread's), or through a
    hub (a greenlet's, as ``gather`` reads a fleet); a test asking for it runs once each way."""
    return str(request.param)


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """A test run with ``waits`` = hub runs in a greenlet of a hub, as one device of ``gather`` does."""
    if pyfuncitem.funcargs.get("waits") != "hub":
        return None
    arguments = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
    raised: list[BaseException] = []

    def body(_: None) -> None:
        try:
            pyfuncitem.obj(**arguments)
        except BaseException as exc:  # given back to pytest below
            raised.append(exc)

    Hub().run(body, [None], 1)
    if raised:
        raise raised[0]
    return True
