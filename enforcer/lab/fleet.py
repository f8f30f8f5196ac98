"""A running simulated fleet: every device of a :class:`LabSpec` on its own loopback address.

One asyncio event loop, in a background thread, serves all devices and every Milestone management
server, runs every recorder's channel loop, every recording server's and every simulated client. The
lab writes three files under ``directory``:

- ``lab.ready.json`` once everything listens (atomically): devices, clients, file paths;
- ``lab.state.json``, the same document, rewritten atomically whenever an account, a firmware,
  the lock policy, an IP filter or a channel changes;
- ``lab.events.jsonl``, the events (flushed every 50 ms and by :meth:`Fleet.flush`).

Example::

    with Fleet(spec, time_scale=0.01, directory=tmp) as fleet:
        url = fleet.url("cam1")              # http://127.0.1.2:8080
        fleet.password("cam1", "admin")      # the lab's current password
        fleet.set_client_password("viewer1", "new")
        fleet.flush(); fleet.events()

All public methods are thread-safe: they run on the fleet's loop and wait for it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import ssl
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, TypeVar

from enforcer.lab.clients import ISAPI_LOGIN_PATH, SimulatedClient, login, make_client
from enforcer.lab.clock import Clock
from enforcer.lab.dahua.device import DahuaDevice
from enforcer.lab.device import SimDevice
from enforcer.lab.events import EventLog
from enforcer.lab.frigate import FrigateHost, host_dir
from enforcer.lab.isapi.device import HikDevice
from enforcer.lab.milestone import MilestoneServer
from enforcer.lab.net.httpclient import Outcome
from enforcer.lab.net.httpserver import Endpoint
from enforcer.lab.net.tls import server_context, write_certificate
from enforcer.lab.network import NoFreeBlock, choose, relocate, vars_text
from enforcer.lab.recorder import ChannelPoller
from enforcer.lab.spec import FAMILY, Family, LabDevice, LabSpec
from enforcer.lab.sshd import SshdError, host_id, public_line

T = TypeVar("T")
FLUSH_SECONDS = 0.05


#: The simulator of each protocol family (:data:`~enforcer.lab.spec.FAMILY` maps vendors to families).
SIMULATORS: dict[Family, type[HikDevice | DahuaDevice]] = {"isapi": HikDevice, "dahua": DahuaDevice}


def make_device(spec: LabDevice, host: Fleet, *, nonce_seconds: float) -> SimDevice:
    """The simulated device for ``spec.vendor`` (a vendor the lab does not know speaks ISAPI)."""
    simulator = SIMULATORS[FAMILY.get(spec.vendor.lower(), "isapi")]
    return simulator(spec, host, nonce_seconds=nonce_seconds)


class LabError(RuntimeError):
    """The lab could not start (a port in use, a bad spec)."""


def write_atomic(path: Path, data: str) -> None:
    """Write ``data`` to ``path`` through a temporary file and ``os.replace``."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(data, encoding="utf-8")
    os.replace(tmp, path)


class Fleet:
    """The simulated fleet of ``spec``; a context manager (``start`` / ``stop``)."""

    def __init__(
        self,
        spec: LabSpec,
        *,
        time_scale: float = 1.0,
        directory: Path | None = None,
        nonce_seconds: float = 300.0,
        idle_seconds: float = 60.0,
        base: int | Literal["auto"] | None = "auto",
    ) -> None:
        """``base``: where a spec with a movable block listens: ``auto`` (its own block if free, else the
        first free one), a second octet, or ``None`` (as written); fixed addresses never move."""
        self.spec = spec
        self.base = base
        self.clock = Clock(time_scale)
        self.directory = Path(directory) if directory else Path(tempfile.mkdtemp(prefix="enforcer-lab-"))
        self.directory.mkdir(parents=True, exist_ok=True)
        self.events_path = self.directory / "lab.events.jsonl"
        self.state_path = self.directory / "lab.state.json"
        self.ready_path = self.directory / "lab.ready.json"
        self.cert_path: Path | None = None
        self.events = EventLog(self.events_path)
        self.idle_seconds = idle_seconds
        names = [d.name for d in spec.devices] + [m.name for m in spec.milestone]
        if len(set(names)) != len(names):
            raise LabError("device and Milestone server names must be unique")
        self.devices: dict[str, SimDevice] = {
            d.name: make_device(d, self, nonce_seconds=nonce_seconds) for d in spec.devices
        }
        self._by_address = self._endpoints()
        self.endpoints: dict[str, Endpoint] = {}
        self.pollers: dict[str, ChannelPoller] = {}
        self.clients: dict[str, SimulatedClient] = {c.name: make_client(c, self) for c in spec.clients}
        self.milestones: dict[str, MilestoneServer] = {m.name: MilestoneServer(m, self) for m in spec.milestone}
        self.hosts: dict[str, FrigateHost] = {
            h.name: FrigateHost(h, self, host_dir(self.directory, h.name), self._login) for h in spec.hosts
        }
        self._dirty = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._failure: BaseException | None = None
        self._stop: asyncio.Event | None = None
        self._tasks: list[asyncio.Task[None]] = []

    # -- DeviceHost / ClientHost (called on the loop thread) ------------------------------------

    def state_changed(self) -> None:
        self._dirty = True

    def spawn(self, coro: Any) -> None:
        """Run ``coro`` on the loop, cancelled when the lab stops (a Milestone task, a poll)."""
        self._spawn(coro)

    def call_later(self, device_seconds: float, callback: Callable[[], None]) -> None:
        assert self._loop is not None
        self._loop.call_later(self.clock.real(device_seconds), callback)

    def reboot(self, device: SimDevice, reason: str) -> None:
        endpoint = self.endpoints[device.name]
        if not endpoint.up:
            return
        device.emit("reboot", reason=reason, seconds=device.profile.reboot_seconds)
        endpoint.stop()
        device.on_down()
        self.call_later(device.profile.reboot_seconds, lambda: self._spawn(self._boot(device)))

    async def _boot(self, device: SimDevice) -> None:
        if self._stop is not None and self._stop.is_set():
            return  # the lab is shutting down: a device whose reboot ends now stays down
        await self.endpoints[device.name].start()
        device.emit("booted", firmware=device.spec.firmware_version)
        poller = self.pollers.get(device.name)
        if poller is not None:
            poller.poll_now()

    def channel_changed(self, device: SimDevice, channel_id: int) -> None:
        poller = self.pollers.get(device.name)
        if poller is not None:
            poller.poll_now(channel_id)

    def device_at(self, address: str, port: int) -> str | None:
        return self._by_address.get((address, port))

    def device_by_address(self, address: str) -> str | None:
        """The device at ``address``, whichever port a client names (an RTSP URL's 554)."""
        return next((d.name for d in self.spec.devices if d.address == address), None)

    async def _login(
        self, address: str, port: int, scheme: str, source: str, user: str, pw: str, *, path: str
    ) -> Outcome:
        return await login(self, address, port, scheme, source, user, pw, path=path)

    def spec_of(self, device: str) -> LabDevice | None:
        dev = self.devices.get(device)
        return dev.spec if dev is not None else None

    def sdk_port_of(self, device: str) -> int:
        return self.devices[device].spec.sdk_port

    def endpoint_of(self, device: str) -> tuple[str, int, str] | None:
        dev = self.devices.get(device)
        return (dev.spec.address, dev.spec.port, dev.spec.scheme) if dev else None

    def login_path(self, device: str) -> str:
        """The path a client logs in with on ``device`` (its vendor's), ISAPI when unknown."""
        dev = self.devices.get(device)
        return dev.login_path if dev is not None else ISAPI_LOGIN_PATH

    def takes(self, device: str, user: str, password: str) -> bool:
        """Whether ``device`` takes ``password`` for ``user`` now: what its events say of a client they name."""
        dev = self.devices.get(device)
        account = dev.account(user) if dev is not None else None
        return account is not None and account.password == password

    def is_up(self, device: str) -> bool:
        endpoint = self.endpoints.get(device)
        return endpoint is not None and endpoint.up

    # -- documents ------------------------------------------------------------------------------

    def _device_doc(self, dev: SimDevice) -> dict[str, Any]:
        d: LabDevice = dev.spec
        return {
            "name": d.name,
            "site": d.site,
            "role": d.role,
            "vendor": d.vendor,
            "model": d.model,
            "serial": d.serial,
            "firmware": d.firmware_version,
            "firmware_build": d.firmware_build,
            "address": d.address,
            "port": d.port,
            "sdk_port": d.sdk_port,
            "scheme": d.scheme,
            "url": f"{d.scheme}://{d.address}:{d.port}",
            "realm": dev.digest.realm,
            "problems": list(d.problems),
            "up": self.is_up(d.name),
            "accounts": [
                {"id": uid, "name": a.name, "level": a.level, "password": a.password, "enabled": a.enabled}
                for uid, a in sorted(dev.users.items())
            ],
            "lock_policy": {
                "enabled": d.lock_policy.enabled,
                "max_attempts": d.lock_policy.max_attempts,
                "lock_seconds": d.lock_policy.lock_seconds,
            },
            "ip_filter": {
                "enabled": d.ip_filter.enabled,
                "mode": d.ip_filter.mode,
                "addresses": d.ip_filter.addresses,
            },
            "channels": [
                {
                    "id": c.id,
                    "camera": c.camera,
                    "address": c.address,
                    "port": c.port,
                    "user": c.user,
                    "password": c.password,
                    "protocol": c.protocol,
                    "status": dev.channels.status[c.id].result if c.id in dev.channels.status else "connecting",
                }
                for c in d.channels
            ],
        }

    def document(self) -> dict[str, Any]:
        """The ready/state document (call on the loop thread, or use :meth:`state`)."""
        return {
            "version": 1,
            "pid": os.getpid(),
            "base": self.spec.base,
            "time_scale": self.clock.time_scale,
            "events": str(self.events_path),
            "state": str(self.state_path),
            "cert": str(self.cert_path) if self.cert_path else None,
            "devices": [self._device_doc(d) for d in self.devices.values()],
            "clients": [
                {
                    "name": c.spec.name,
                    "site": c.spec.site,
                    "kind": c.spec.kind,
                    "source": c.spec.source,
                    "target": c.spec.target,
                    "user": c.spec.user,
                    "password": c.spec.password,
                    "interval_seconds": c.spec.interval_seconds,
                    "problems": list(c.spec.problems),
                }
                for c in self.clients.values()
            ]
            + [h.document() for h in self.hosts.values()],
            "milestone": [m.document() for m in self.milestones.values()],
        }

    def _write_state(self) -> None:
        self._dirty = False
        write_atomic(self.state_path, json.dumps(self.document(), indent=1))

    # -- the loop -------------------------------------------------------------------------------

    def _spawn(self, coro: Any) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.append(task)
        task.add_done_callback(self._tasks.remove)

    async def _housekeeping(self) -> None:
        ticks = 0
        while True:
            await asyncio.sleep(FLUSH_SECONDS)
            self.events.flush()
            if self._dirty:
                self._write_state()
            ticks += 1
            if ticks % 200 == 0:
                for endpoint in self.endpoints.values():
                    endpoint.close_idle(self.idle_seconds)

    @staticmethod
    def _on_loop_error(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        # clients that refuse the lab's certificate or hang up mid-handshake are routine
        if isinstance(context.get("exception"), ssl.SSLError | ConnectionError):
            return
        loop.default_exception_handler(context)

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._loop.set_exception_handler(self._on_loop_error)
        self._stop = asyncio.Event()
        try:
            await self._start_endpoints()
            await asyncio.to_thread(self._open_hosts)
            for host in self.hosts.values():
                await host.begin()
        except BaseException as exc:
            self._failure = exc
            for endpoint in self.endpoints.values():
                endpoint.stop()
            self._close_hosts()
            self._started.set()
            return
        for dev in self.devices.values():
            dev.started()
            if dev.spec.role == "recorder":
                poller = ChannelPoller(dev, self)
                self.pollers[dev.name] = poller
                self._spawn(poller.run())
        for client in self.clients.values():
            self._spawn(client.run())
        for server in self.milestones.values():
            server.started()
        for host in self.hosts.values():
            self._spawn(host.run())
        self._spawn(self._housekeeping())
        self._write_state()
        write_atomic(self.ready_path, json.dumps({**self.document(), "ready": True}, indent=1))
        self._started.set()
        await self._stop.wait()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            # Bounded: on Python 3.11 a wait_for() racing its cancellation can swallow it (fixed in
            # 3.12), and one stuck poller must not keep the lab from stopping.
            await asyncio.wait(list(self._tasks), timeout=2.0)
        for endpoint in self.endpoints.values():
            endpoint.stop()
        await asyncio.sleep(0.05)  # let replies in flight go out
        for endpoint in self.endpoints.values():
            endpoint.stop(abort=True)  # TLS connections still closing gracefully
        await asyncio.to_thread(self._close_hosts)
        await asyncio.sleep(0.01)
        self.events.flush()
        self._write_state()

    def _close_hosts(self) -> None:
        for host in self.hosts.values():
            host.close()

    async def _start_endpoints(self) -> None:
        https = [d.address for d in self.spec.devices if d.scheme == "https"]
        https += [m.address for m in self.spec.milestone if m.scheme == "https"]
        tls = None
        if https:
            self.cert_path, key_path = write_certificate(self.directory, https)
            tls = server_context(self.cert_path, key_path)
        listeners = [
            (d.name, d.handle, d.spec.address, d.spec.port, d.spec.scheme, d.server_header)
            for d in self.devices.values()
        ]
        listeners += [
            (m.name, m.handle, m.spec.address, m.spec.port, m.spec.scheme, m.server_header)
            for m in self.milestones.values()
        ]
        for name, handle, address, port, scheme, header in listeners:
            endpoint = Endpoint(
                handle, address, port, ssl_context=tls if scheme == "https" else None, server_header=header
            )
            self.endpoints[name] = endpoint
            try:
                await endpoint.start()
            except OSError as exc:
                raise LabError(f"{name}: cannot listen on {address}:{port}: {exc}") from exc

    def _open_hosts(self) -> None:
        """Lay out each Linux host and start its sshd (the known_hosts file already names it)."""
        for host in self.hosts.values():
            try:
                host.open()
            except SshdError as exc:
                raise LabError(f"{host.spec.name}: {exc}") from exc

    def _endpoints(self) -> dict[tuple[str, int], str]:
        """Each device by the (address, port) a client reaches it on: its web port, and its SDK port."""
        found = {(d.address, d.sdk_port): d.name for d in self.spec.devices}
        found.update({(d.address, d.port): d.name for d in self.spec.devices})
        return found

    def _place(self) -> None:
        """Move a movable lab to the block it will serve on, and point its repository there."""
        if self.spec.base is None or self.base is None:
            return
        try:
            relocate(self.spec, choose(self.spec, None if self.base == "auto" else self.base))
        except (ValueError, NoFreeBlock) as exc:
            raise LabError(str(exc)) from exc
        self._by_address = self._endpoints()
        if self.spec.vars_file:
            write_atomic(self.directory / self.spec.vars_file, vars_text(self.spec))

    def _write_known_hosts(self) -> None:
        """The inventory's known_hosts: each host's key at the address it is served on."""
        if self.spec.known_hosts_file and self.spec.hosts:
            lines = [f"{host_id(h.address, h.ssh_port)} {public_line(h.host_key)}\n" for h in self.spec.hosts]
            head = "# Written by the lab each time it starts: its Linux hosts' keys, where they listen.\n"
            write_atomic(self.directory / self.spec.known_hosts_file, head + "".join(lines))

    # -- public, thread-safe --------------------------------------------------------------------

    def start(self) -> None:
        """Bring every device up on a free block; returns once ``lab.ready.json`` is written."""
        self._place()
        self._write_known_hosts()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), name="enforcer-lab", daemon=True)
        self._thread.start()
        self._started.wait()
        if self._failure is not None:
            self._thread.join()
            raise LabError(str(self._failure)) from self._failure

    def stop(self) -> None:
        """Stop every device and client; the events and state files are flushed."""
        if self._loop is not None and self._stop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join()
            self._thread = None

    def __enter__(self) -> Fleet:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def call(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the fleet's loop and return its result."""
        assert self._loop is not None
        fut: concurrent.futures.Future[T] = concurrent.futures.Future()

        def run() -> None:
            try:
                fut.set_result(fn())
            except BaseException as exc:
                fut.set_exception(exc)

        self._loop.call_soon_threadsafe(run)
        return fut.result(timeout=30)

    def state(self) -> dict[str, Any]:
        """The current state document (as in ``lab.state.json``)."""
        return self.call(self.document)

    def device(self, name: str) -> dict[str, Any]:
        """The current state of one device (passwords included)."""
        return self.call(lambda: self._device_doc(self.devices[name]))

    def password(self, device: str, user: str) -> str:
        acc = self.call(lambda: self.devices[device].account(user))
        if acc is None:
            raise KeyError(f"{device} has no account {user!r}")
        return acc.password

    def url(self, device: str) -> str:
        d = self.devices[device].spec
        return f"{d.scheme}://{d.address}:{d.port}"

    def set_client_password(self, client: str, password: str) -> None:
        """Change what a simulated client stores (it uses it from its next poll)."""

        def change() -> None:
            c = self.clients[client]
            c.spec.password = password
            self.events.emit(c.spec.target, "client_changed", source=c.spec.source, user=c.spec.user, client=client)
            self._dirty = True

        self.call(change)

    def set_account_password(self, device: str, user: str, password: str) -> None:
        """Change a device password behind everyone's back (as a technician on site would)."""

        def change() -> None:
            dev = self.devices[device]
            acc = dev.account(user)
            if acc is None:
                raise KeyError(f"{device} has no account {user!r}")
            acc.password = password
            dev.password_changed(user)
            dev.emit("account_changed", user=user, by="lab", fields=["password"])
            dev.sync_accounts()

        self.call(change)

    def set_channel_password(self, recorder: str, channel_id: int, password: str) -> None:
        """Change what a recorder stores for one channel (a camera re-added by hand with a typo); the
        recorder logs in with it at once."""

        def change() -> None:
            dev = self.devices[recorder]
            ch = dev.channels.get(channel_id)
            if ch is None:
                raise KeyError(f"{recorder} has no channel {channel_id}")
            ch.password = password
            dev.channel_event("channel_changed", ch, source="lab", user="lab")
            self.channel_changed(dev, channel_id)
            self.state_changed()

        self.call(change)

    def reboot_device(self, device: str) -> None:
        self.call(lambda: self.reboot(self.devices[device], "lab"))

    def client_status(self, client: str) -> dict[str, object]:
        """A simulated client's or host's summary (a host's: running, and each camera's last login)."""
        return self.call(lambda: (self.hosts[client] if client in self.hosts else self.clients[client]).status())

    def milestone(self, name: str) -> dict[str, Any]:
        """The current state of one Milestone server (stored passwords included)."""
        return self.call(self.milestones[name].document)

    def expire_milestone_tokens(self, name: str) -> None:
        """Every bearer token of a Milestone server dies now (as after a server restart)."""
        self.call(self.milestones[name].tokens.revoke_all)

    def flush(self) -> None:
        """Write pending events and, if anything changed, the state file."""

        def run() -> None:
            self.events.flush()
            if self._dirty:
                self._write_state()

        self.call(run)

    def read_events(self) -> list[dict[str, Any]]:
        """Every event so far (flushed first)."""
        self.flush()
        return self.events.read()
