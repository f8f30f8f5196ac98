"""``frigatectl``: a lab host's service manager, as ``systemctl`` and ``--validate-config`` are on a real one.

The command runs over SSH like any other (sshd is real), then asks the host's service through a unix
socket and exits with its answer, so that stopping is synchronous: once ``frigatectl stop`` returns, the
service sends no login. The protocol is one line each way and then a message: the command, then the exit
status and what to print.

============  ==================================================================  =========
command       does                                                                exits
============  ==================================================================  =========
``status``    says whether the service runs                                       0, or 3
``stop``      stops it (the login in flight finishes first)                       0
``start``     reads the config and starts it                                      0, or 1
``restart``   stop, then start: the config is read again                          0, or 1
``validate``  checks the config on disk as ``frigate --validate-config``          0, or 1
``check``     a whole poll since the last start found every camera's login good   0, 1, or 3
============  ==================================================================  =========
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Protocol

from enforcer.lab.frigate.config import ConfigInvalid

CHECK_WAIT = 10.0  # real seconds ``check`` waits for the first poll after a start
USAGE = "usage: frigatectl status|stop|start|restart|validate|check"

_SCRIPT = '''#!{python}
"""frigatectl for lab host {name}: asks its service, exits with its answer (see enforcer.lab.frigate.control)."""
import socket
import sys

command = sys.argv[1] if len(sys.argv) > 1 else ""
try:
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.settimeout(120)
    conn.connect({socket!r})
except OSError:
    print("{name}: the lab is not running", file=sys.stderr)
    sys.exit(3 if command == "status" else 1)
conn.sendall(command.encode() + b"\\n")
data = b""
while chunk := conn.recv(65536):
    data += chunk
status, _, message = data.decode("utf-8", "replace").partition("\\n")
(sys.stdout if status == "0" else sys.stderr).write(message)
sys.exit(int(status or 1))
'''


def ctl_script(python: str, socket: Path, name: str) -> str:
    """The text of ``frigatectl`` for host ``name``, talking to ``socket`` (run by ``python``)."""
    return _SCRIPT.format(python=python, socket=str(socket), name=name)


class Service(Protocol):
    """What the control socket drives (:class:`~enforcer.lab.frigate.host.FrigateHost`)."""

    running: bool

    async def start(self) -> str: ...

    async def stop(self) -> str: ...

    def validate(self) -> str: ...

    async def connected(self, wait: float) -> tuple[bool, str]: ...


class ControlServer:
    """The service's end of ``frigatectl``: one command per connection, answered in turn."""

    def __init__(self, service: Service, path: Path) -> None:
        self.service, self.path = service, path
        self._server: asyncio.AbstractServer | None = None
        self._lock = asyncio.Lock()  # one command at a time, as a service manager queues jobs

    async def start(self) -> None:
        self.path.unlink(missing_ok=True)
        self._server = await asyncio.start_unix_server(self._handle, path=str(self.path))

    def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        self.path.unlink(missing_ok=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            command = (await asyncio.wait_for(reader.readline(), 10)).decode("utf-8", "replace").strip()
            async with self._lock:
                status, message = await self.answer(command)
            writer.write(f"{status}\n{message}\n".encode())
            await writer.drain()
        except (OSError, TimeoutError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def answer(self, command: str) -> tuple[int, str]:
        """The exit status and message of ``frigatectl COMMAND``."""
        service = self.service
        try:
            if command == "status":
                return (0, "active") if service.running else (3, "inactive")
            if command == "stop":
                return 0, await service.stop()
            if command == "start":
                return 0, await service.start()
            if command == "restart":
                await service.stop()
                return 0, await service.start()
            if command == "validate":
                return 0, service.validate()
            if command == "check":
                if not service.running:
                    return 3, "inactive"
                ok, why = await service.connected(CHECK_WAIT)
                return (0 if ok else 1), why
        except ConfigInvalid as exc:
            return 1, str(exc)
        return 2, USAGE
