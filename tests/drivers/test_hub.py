"""The hub: many devices' requests waited for at once in one thread, over real sockets."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from enforcer.drivers._wire.http import Transport, Trust
from enforcer.drivers._wire.hub import Hub, current
from enforcer.errors import TransportError
from tests.drivers.test_transport import OK, Canned, _transport, canned  # noqa: F401 - the fixture

pytestmark = pytest.mark.lab


def test_slow_devices_are_waited_for_at_once_in_the_one_thread_that_runs_the_hub(
    canned: list[tuple[Transport, Canned]],  # noqa: F811 - the fixture
) -> None:
    """Ten devices each slow to answer: the hub's greenlets wait for all of them at once, where the
    requests one after the other would take ten times as long."""
    transports = [_transport(canned, (0.3, OK), OK)[0] for _ in range(10)]
    threads, bodies = set(), []

    def read(transport: Transport) -> None:
        assert current() is not None
        threads.add(threading.get_ident())
        bodies.append(transport.send("GET", "/slow").body + transport.send("GET", "/fast").body)

    started = time.monotonic()
    Hub().run(read, transports, 10)
    assert bodies == [b"okok"] * 10
    assert threads == {threading.get_ident()}
    assert time.monotonic() - started < 1.5  # one after the other: 3 s
    assert current() is None  # outside the hub, transports block as before


def test_a_device_that_does_not_answer_times_out_alone_and_a_refused_one_fails_at_once() -> None:
    """A listener that never accepts past its backlog nor answers: its request times out after its own limit
    while the others go on; a closed port fails at once; both as transport errors a person can act on."""
    silent = socket.create_server(("127.0.0.1", 0))
    closed = socket.create_server(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]
    closed.close()
    outcomes: dict[str, str] = {}

    def read(name: str) -> None:
        port = silent.getsockname()[1] if name == "silent" else closed_port
        transport = Transport(f"http://127.0.0.1:{port}", trust=Trust(True), source_address=None, timeout=0.3)
        started = time.monotonic()
        try:
            transport.send("GET", "/")
        except TransportError as exc:
            outcomes[name] = f"{exc.kind} after {time.monotonic() - started:.1f}"
        finally:
            transport.close()

    try:
        Hub().run(read, ["silent", "closed"], 2)
    finally:
        silent.close()
    assert outcomes["silent"] == "timeout after 0.3"
    assert outcomes["closed"].startswith("refused") and outcomes["closed"].endswith("after 0.0")


def test_a_hub_does_not_run_inside_another() -> None:
    failures: list[str] = []

    def nested(_: None) -> None:
        try:
            Hub().run(lambda _: None, [None], 1)
        except RuntimeError as exc:
            failures.append(str(exc))

    Hub().run(nested, [None], 1)
    assert failures == ["a hub is already running in this thread"]


def test_work_that_raises_ends_the_run_with_its_error_and_the_thread_can_run_a_hub_again(
    canned: list[tuple[Transport, Canned]],  # noqa: F811 - the fixture
) -> None:
    """A bug in ``work`` (gather's catches every device error, so only a bug gets here) is raised to the
    caller at once, as a thread pool's future would raise it; the devices still waiting are dropped."""
    transports = [_transport(canned, (0.3, OK))[0] for _ in range(3)]

    def read(transport: Transport) -> None:
        if transport is transports[-1]:
            raise ValueError("a bug")
        transport.send("GET", "/slow")

    started = time.monotonic()
    with pytest.raises(ValueError, match="a bug"):
        Hub().run(read, transports, 3)
    assert time.monotonic() - started < 0.25  # not after the slow replies
    assert current() is None
    done: list[bytes] = []
    Hub().run(lambda t: done.append(t.send("GET", "/").body), [_transport(canned, OK)[0]], 1)
    assert done == [b"ok"]
