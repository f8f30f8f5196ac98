"""The engine's lab tests: a generated fleet served over real sockets, and the CLI pointed at it."""

from __future__ import annotations

import secrets
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from enforcer.cli import main
from enforcer.config import vault
from enforcer.credentials.store import CredentialStore
from enforcer.lab.fleet import Fleet
from enforcer.lab.generate.generator import generate
from enforcer.lab.spec import LabSpec

SCALE = 0.01
ENFORCER = "127.0.0.1"
ENFORCE = str(Path(sys.executable).parent / "enforce")
#: Every engine guarantee is shown on a Hikvision fleet and on a mixed one, whose second site is Dahua
#: (account-wide locks: a stale client locks the account for everyone, enforcer included).
VENDORS = ("hikvision", "mixed")

#: ``enforce apply`` killed (SIGKILL: nothing cleaned up, nothing flushed) at the first step of a kind:
#: ``before`` it runs or ``after`` it ran. Arguments: before|after, the step kind's class name, apply's own.
KILLED = """
import os, signal, sys
from enforcer.cli import main
from enforcer.engine import handlers
from enforcer.plan import steps
when, kind = sys.argv.pop(1), getattr(steps, sys.argv.pop(1))
handler = handlers._HANDLERS[kind]
def die(*args):
    if when == "after":
        handler(*args)
    os.kill(os.getpid(), signal.SIGKILL)
handlers._HANDLERS[kind] = die
sys.exit(main(sys.argv[1:]))
"""


class Lab:
    """A generated fleet being served, and the CLI pointed at it."""

    def __init__(
        self, root: Path, spec: LabSpec, fleet: Fleet, capsys: pytest.CaptureFixture[str], scale: float = SCALE
    ) -> None:
        self.root, self.spec, self.fleet, self.capsys, self.scale = root, spec, fleet, capsys, scale

    @property
    def playbook(self) -> str:
        return str(self.root / "site.yml")

    def run(self, *args: str) -> tuple[int, str]:
        """Run the CLI; returns the exit code and stdout + stderr (stdout alone in ``self.stdout``)."""
        code = main([*args, "--time-scale", str(self.scale)])
        captured = self.capsys.readouterr()
        self.stdout = captured.out
        return code, captured.out + captured.err

    def apply_killed(self, *point: str, script: str = KILLED) -> None:
        """Run ``enforce apply`` in a process of its own that ``script`` SIGKILLs at ``point`` (:data:`KILLED`'s:
        before or after, and a class of :mod:`enforcer.plan.steps`)."""
        command = [sys.executable, "-c", script, *point, "apply", self.playbook, "--yes", "--time-scale", str(SCALE)]
        killed = subprocess.run(command, capture_output=True, text=True, timeout=180)
        assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr

    def events(self) -> list[dict[str, Any]]:
        self.fleet.flush()
        return self.fleet.read_events()

    def store(self) -> CredentialStore:
        password = (self.root / "inventory" / ".vault-password").read_text().strip().encode()
        return CredentialStore.load(self.root / "inventory" / "credentials.vault", password)

    def rotate(self) -> None:
        """New desired passwords for every device account (as ``enforce rotate`` would write them): letters and
        digits of every case, which every vendor and Milestone accept."""
        key = (self.root / "inventory" / ".vault-password").read_text().strip().encode()
        path = self.root / "inventory" / "secrets" / "fleet.vault"
        desired = yaml.safe_load(vault.decrypt(path.read_text(), key))
        devices = {d.name for d in self.spec.devices}
        for name in desired:
            if name.split("/")[0] in devices:  # device/account; clients' own secrets and the SSH key stay
                desired[name] = "Rt7" + secrets.token_hex(6)
        path.write_text(vault.encrypt(yaml.safe_dump(desired).encode(), key))

    def secrets(self) -> set[str]:
        """Every password the lab or the repo knows: none may appear in any output."""
        values = {a.password for d in self.spec.devices for a in d.accounts}
        values |= {c.password for c in self.spec.clients}
        for server in self.fleet.state()["milestone"]:
            values |= {server["password"], *(h["password"] for h in server["hardware"])}
        store = self.store()
        for _, _, entry in store.entries():
            values |= {s.reveal() for s in (entry.current, entry.pending, entry.previous) if s is not None}
        return {v for v in values if len(v) >= 6}


@pytest.fixture
def lab(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Iterator[Any]:
    fleets: list[Fleet] = []

    def start(*, scale: float = SCALE, tune: Callable[[LabSpec], None] | None = None, **options: Any) -> Lab:
        """A generated fleet, served; ``scale`` its time scale (a large fleet's clients, re-polling hundreds of
        times a second at the default, would measure the lab's own load); ``tune`` changes its spec first."""
        root = tmp_path / f"fleet-{uuid.uuid4().hex[:8]}"
        spec = generate(root, **{"sites": 2, "cameras": 3, "seed": 5, **options})
        if tune is not None:
            tune(spec)
        fleet = Fleet(spec, time_scale=scale, directory=root)
        fleet.start()
        fleets.append(fleet)
        return Lab(root, spec, fleet, capsys, scale)

    yield start
    for fleet in fleets:
        fleet.stop()


def locks(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in events if e["event"] == "locked"]
