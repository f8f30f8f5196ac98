"""The lab's HTTP endpoint going down and up (a reboot) while clients connect."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from enforcer.lab.net.httpserver import Endpoint, Request, Response

pytestmark = pytest.mark.lab

HOST, PORT = "127.0.132.1", 8080  # each test has its own address
HOST2, HOST3, HOST4 = "127.0.132.2", "127.0.132.3", "127.0.132.4"


def _ok(_: Request) -> Response:
    return Response(200, b"ok", content_type="text/plain")


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield loop

    async def cancel_pending() -> None:
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    asyncio.run_coroutine_threadsafe(cancel_pending(), loop).result(timeout=5)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=5)
    loop.close()


def _on_loop(loop: asyncio.AbstractEventLoop, fn: Callable[[], Any]) -> Any:
    """Run ``fn()`` (a plain function or a coroutine function) on ``loop`` and return its result."""

    async def call() -> Any:
        result = fn()
        return await result if asyncio.iscoroutine(result) else result

    return asyncio.run_coroutine_threadsafe(call(), loop).result(timeout=5)


def test_a_connection_accepted_in_the_turn_the_endpoint_stops_is_refused_not_left_hanging(
    loop: asyncio.AbstractEventLoop,
) -> None:
    """A device's reboot timer and a client's connect land in one loop turn: the client must be
    turned away at once (it retries or moves on), not held on a socket nobody reads."""
    endpoint = Endpoint(_ok, HOST, PORT)
    _on_loop(loop, endpoint.start)

    def connect_then_stop_in_the_next_turn() -> socket.socket:
        client = socket.create_connection((HOST, PORT), timeout=2)  # in the backlog, not yet accepted
        # a zero-delay timer runs after the loop's next select, in the same turn as the accept
        loop.call_later(0, endpoint.stop)
        return client

    client = _on_loop(loop, connect_then_stop_in_the_next_turn)
    assert isinstance(client, socket.socket)
    with client:
        client.settimeout(2)
        try:
            client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            reply = client.recv(100)
        except TimeoutError:
            pytest.fail("the connection was accepted and then left unread: the client hangs")
        except ConnectionError:
            reply = b""
    assert reply == b"", "a stopped endpoint answered"
    assert not endpoint.up


def test_an_endpoint_serves_again_after_a_restart(loop: asyncio.AbstractEventLoop) -> None:
    endpoint = Endpoint(_ok, HOST2, PORT)
    _on_loop(loop, endpoint.start)
    _on_loop(loop, endpoint.stop)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((HOST2, PORT), timeout=2).close()
    _on_loop(loop, endpoint.start)
    with socket.create_connection((HOST2, PORT), timeout=2) as client:
        client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        reply = b""
        while chunk := client.recv(1000):
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 200 ") and reply.endswith(b"ok")
    _on_loop(loop, endpoint.stop)


def test_an_endpoint_counts_the_requests_it_serves(loop: asyncio.AbstractEventLoop) -> None:
    """What a benchmark counts per device, by the client's address (one kept-alive connection here)."""
    endpoint = Endpoint(_ok, HOST4, PORT)
    _on_loop(loop, endpoint.start)
    with socket.create_connection((HOST4, PORT), timeout=2) as client:
        client.sendall(
            b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n" * 2 + b"GET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        while client.recv(1000):
            pass
    assert endpoint.requests == {"127.0.0.1": 3}
    _on_loop(loop, endpoint.stop)


# A lab process that has run out of descriptors, with one client waiting in its backlog; after
# ``FREE_AFTER`` s it frees them and reports how many times it logged a failed accept meanwhile.
OUT_OF_DESCRIPTORS = """
import asyncio, logging, resource, socket, sys, time
from enforcer.lab.net.httpserver import Endpoint, Response
failures = []
class Count(logging.Handler):
    def emit(self, record):
        failures.append(record)
logging.getLogger("enforcer.lab").addHandler(Count())
async def main():
    endpoint = Endpoint(lambda req: Response(200, b"ok", content_type="text/plain"), sys.argv[1], 8080)
    await endpoint.start()
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
    hogs = []
    while True:
        try:
            hogs.append(socket.socket())
        except OSError:
            break
    print("full", flush=True)
    await asyncio.sleep(float(sys.argv[2]))
    for hog in hogs:
        hog.close()
    await asyncio.sleep(2.0)  # the pause ends and the waiting client is served
    print(len(failures), flush=True)
    endpoint.stop()
asyncio.run(main())
"""
FREE_AFTER = 0.5


def test_out_of_descriptors_pauses_accepting_instead_of_spinning() -> None:
    """Without a pause, a listening socket nobody can accept from stays readable and the loop spins,
    logging thousands of times a second and starving every other device of the lab."""
    command = [sys.executable, "-c", OUT_OF_DESCRIPTORS, HOST3, str(FREE_AFTER)]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as lab:
        assert lab.stdout is not None and lab.stdout.readline().strip() == "full"
        with socket.create_connection((HOST3, PORT), timeout=5) as client:  # queued in the backlog
            client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            reply = client.recv(1000)
        assert reply.startswith(b"HTTP/1.1 200 "), "the client waiting in the backlog is served once freed"
        failures = int(lab.stdout.readline())
        assert 1 <= failures <= 3, f"{failures} failed accepts logged in {FREE_AFTER} s"
