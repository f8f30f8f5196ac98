"""The lab's HTTP endpoint going down and up (a reboot) while clients connect."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from enforcer.lab.httpserver import Endpoint, Request, Response

pytestmark = pytest.mark.lab

# Port 8080 only: pyproject's filterwarnings exempts the lab's own listening ports from the CPython 3.11
# unclosed-socket ResourceWarning (see there); each test has its own address.
HOST, PORT = "127.0.132.1", 8080
HOST2 = "127.0.132.2"


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
