"""A Frigate-like host: NVR software on a Linux box, reached over a real sshd (protocols/clients.md §2.3).

Its folder (``lab.hosts/<name>/`` beside the lab's spec) holds what the host holds::

    config/config.yml   Frigate's config: the cameras and the credentials it logs into them with
    secrets/FRIGATE_*   values for {FRIGATE_*} placeholders (Frigate's /run/secrets)
    frigatectl          the service's control command: status, stop, start, restart, validate, check
    sshd/               the host's sshd: config, host key, the key allowed in, its log

Like Frigate, the service reads its config only when it starts (``frigatectl start`` or ``restart``);
while it runs it logs into each camera it found on an interval, from the host's own address (so the
events file shows whose logins they are), never repeating a credential after a refusal within a poll.
``frigatectl`` is the host's ``systemctl``: a command over SSH that talks to the service through a
socket and exits 0 on success (``status``: 3 when stopped, as ``systemctl is-active``). A config the
service cannot load keeps it from starting (``start`` and ``restart`` exit 1, saying why, as
``--validate-config`` does).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Protocol

from enforcer.lab.clock import Clock
from enforcer.lab.events import EventLog
from enforcer.lab.frigate.config import CameraLogin, ConfigInvalid, load
from enforcer.lab.frigate.control import ControlServer, ctl_script
from enforcer.lab.net.httpclient import Outcome
from enforcer.lab.spec import LabHost
from enforcer.lab.sshd import SshServer

HOSTS_DIR = "lab.hosts"  # beside lab.spec.json: one folder per host
CONFIG = "config/config.yml"
CTL = "frigatectl"
RTSP_PORT = 554
#: How bad each outcome is, for a camera reached by several credentials (its worst one is its state).
_SEVERITY: dict[Outcome, int] = {"ok": 0, "error": 1, "unreachable": 2, "auth_failed": 3}


class HostNetwork(Protocol):
    """What a host needs of the running fleet."""

    clock: Clock
    events: EventLog

    def endpoint_of(self, device: str) -> tuple[str, int, str] | None: ...

    def device_by_address(self, address: str) -> str | None: ...

    def login_path(self, device: str) -> str: ...

    def takes(self, device: str, user: str, password: str) -> bool: ...


class Login(Protocol):
    async def __call__(
        self, address: str, port: int, scheme: str, source: str, user: str, pw: str, *, path: str
    ) -> Outcome: ...


def host_dir(lab: Path, name: str) -> Path:
    """The folder of host ``name`` in the lab at ``lab`` (what an inventory's paths point into)."""
    return lab / HOSTS_DIR / name


def config_text(spec: LabHost, net: HostNetwork) -> str:
    """The config the host starts with: each camera over RTSP (password raw) and ONVIF on its web port."""
    lines = ["# Frigate's config, as the lab started the host with it", "mqtt:", "  enabled: false", "cameras:"]
    for cam in spec.cameras:
        address, port, _ = net.endpoint_of(cam.device) or ("0.0.0.0", 80, "http")
        url = f"rtsp://{cam.user}:{cam.password}@{address}:{RTSP_PORT}/live"
        lines += [f"  {cam.device}:", "    ffmpeg:", "      inputs:", f"        - path: {json.dumps(url)}"]
        lines += ["          roles: [detect, record]", "    onvif:", f"      host: {address}", f"      port: {port}"]
        lines += [f"      user: {json.dumps(cam.user)}", f"      password: {json.dumps(cam.password)}"]
    return "\n".join(lines) + "\n"


class FrigateHost:
    """One host: its files, its sshd, its service and the service's control socket."""

    def __init__(self, spec: LabHost, net: HostNetwork, directory: Path, login: Login) -> None:
        self.spec, self.net, self.directory, self._login = spec, net, directory, login
        self.config_path = directory / CONFIG
        self.sshd: SshServer | None = None  # made at open(): the lab may have moved the host's address
        self.running = False
        self.logins: list[CameraLogin] = []
        self.cameras: dict[str, Outcome | None] = {}
        self.polls = 0
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._wake = asyncio.Event()
        self._round = asyncio.Event()  # a whole poll since the last start
        self._socket_dir: Path | None = None
        self._control: ControlServer | None = None

    # -- the machine ------------------------------------------------------------------------------

    def open(self) -> None:
        """Lay out the host's folder as the spec says and start its sshd (blocking: run in a thread)."""
        (self.directory / "config").mkdir(parents=True, exist_ok=True)
        (self.directory / "secrets").mkdir(exist_ok=True)
        self.config_path.write_text(config_text(self.spec, self.net), encoding="utf-8")
        self._socket_dir = Path(tempfile.mkdtemp(prefix="enforcer-host-"))  # a socket path must be short
        ctl = self.directory / CTL
        ctl.write_text(ctl_script(sys.executable, self._socket_dir / "ctl.sock", self.spec.name), encoding="utf-8")
        ctl.chmod(0o755)
        spec = self.spec
        self.sshd = SshServer(
            self.directory / "sshd",
            spec.address,
            spec.ssh_port,
            host_key=spec.host_key,
            authorized_keys=spec.authorized_key,
            user=spec.login,
        )
        self.sshd.start()

    def close(self) -> None:
        """Stop its sshd and remove its socket."""
        if self.sshd is not None:
            self.sshd.stop()
        if self._socket_dir is not None:
            shutil.rmtree(self._socket_dir, ignore_errors=True)

    async def begin(self) -> None:
        """Serve ``frigatectl`` and start the service if the spec says it runs (once the lab is up, it is)."""
        assert self._socket_dir is not None, "open() first"
        self._control = ControlServer(self, self._socket_dir / "ctl.sock")
        await self._control.start()
        if self.spec.running:
            await self.start()

    async def run(self) -> None:
        """Keep serving until cancelled (the lab stopping); then the service and its socket go."""
        try:
            await asyncio.Event().wait()
        finally:
            if self._control is not None:
                self._control.stop()
            if self._task is not None:
                self._task.cancel()

    # -- the service --------------------------------------------------------------------------------

    def secrets(self) -> dict[str, str]:
        folder = self.directory / "secrets"
        return {p.name: p.read_text(encoding="utf-8").strip() for p in folder.glob("FRIGATE_*") if p.is_file()}

    def validate(self) -> str:
        """What ``--validate-config`` says of the config on disk; ConfigInvalid if Frigate would refuse it."""
        try:
            text = self.config_path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigInvalid(f"cannot read {self.config_path}: {exc.strerror}") from None
        load(text, self.secrets())
        return "Config is valid"

    async def start(self) -> str:
        """Read the config and start polling; ConfigInvalid (and still stopped) if it cannot be loaded."""
        if self.running:
            return "already running"
        try:
            logins = load(self.config_path.read_text(encoding="utf-8"), self.secrets())
        except (ConfigInvalid, OSError) as exc:
            self.net.events.emit(self.spec.name, "service_start_failed", source=self.spec.address)
            raise ConfigInvalid(f"Frigate could not start: {exc}") from None
        self.logins, self.running, self._stopping = logins, True, False
        self.cameras = {login.camera: None for login in logins}
        self._round.clear()
        self._task = asyncio.ensure_future(self._serve())
        # The lab's truth for the tests: the cameras it starts with a password they no longer take.
        stale = sorted(
            {
                d
                for x in logins
                if (d := self.net.device_by_address(x.host)) and not self.net.takes(d, x.user, x.password)
            }
        )
        self.net.events.emit(
            self.spec.name, "service_started", source=self.spec.address, cameras=len(self.cameras), stale=stale
        )
        return "started"

    async def stop(self) -> str:
        """Stop polling once the login in flight has its answer: none is sent after this returns."""
        if not self.running:
            return "already stopped"
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task
        self.running, self._task = False, None
        self.net.events.emit(self.spec.name, "service_stopped", source=self.spec.address)
        return "stopped"

    async def connected(self, wait: float) -> tuple[bool, str]:
        """Whether a whole poll since the last start found every camera's logins accepted."""
        if not self.running:
            return False, "inactive"
        try:
            await asyncio.wait_for(self._round.wait(), wait)
        except TimeoutError:
            return False, "no poll of the cameras yet"
        bad = [f"{camera}: {outcome}" for camera, outcome in self.cameras.items() if outcome != "ok"]
        return not bad, "; ".join(bad) or "connected to " + ", ".join(self.cameras)

    async def _serve(self) -> None:
        interval = self.net.clock.real(self.spec.interval_seconds)
        while not self._stopping:
            outcomes: dict[str, Outcome] = {}
            for login in self.logins:
                if self._stopping:
                    return
                outcome = await self._poll(login)
                worst = outcomes.get(login.camera, "ok")
                outcomes[login.camera] = max(worst, outcome, key=_SEVERITY.__getitem__)
            self.polls += 1
            self.cameras.update(outcomes)
            self._round.set()
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), interval)

    async def _poll(self, login: CameraLogin) -> Outcome:
        device = self.net.device_by_address(login.host)
        target = self.net.endpoint_of(device) if device is not None else None
        if device is None or target is None:
            return "unreachable"
        address, port, scheme = target
        outcome = await self._login(
            address, port, scheme, self.spec.address, login.user, login.password, path=self.net.login_path(device)
        )
        if outcome != self.cameras.get(login.camera):
            self.net.events.emit(
                device,
                "client_status",
                source=self.spec.address,
                user=login.user,
                client=self.spec.name,
                result=outcome,
            )
        return outcome

    # -- views ------------------------------------------------------------------------------------------

    def status(self) -> dict[str, object]:
        return {"name": self.spec.name, "running": self.running, "cameras": dict(self.cameras), "polls": self.polls}

    def document(self) -> dict[str, object]:
        """The host as ``lab.ready.json`` lists it among the clients (what it logs in with now)."""
        holds = [
            {"camera": x.camera, "device": self.net.device_by_address(x.host), "user": x.user, "password": x.password}
            for x in self.logins
        ]
        return {
            "name": self.spec.name,
            "site": self.spec.site,
            "kind": "ssh",
            "source": self.spec.address,
            "ssh_port": self.spec.ssh_port,
            "login": self.spec.login,
            "directory": str(self.directory),
            "config": str(self.config_path),
            "running": self.running,
            "cameras": {k: v for k, v in self.cameras.items()},
            "holds": holds,
            "interval_seconds": self.spec.interval_seconds,
            "problems": list(self.spec.problems),
        }
