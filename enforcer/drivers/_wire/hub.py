"""One thread reading many devices: each device's work runs in a greenlet, and its transport, where a
socket would block, hands the socket to the hub's selector and lets the other devices go on.

Why not threads: a thread that blocks on a socket lets the interpreter lock go, and takes it back when
its reply comes; with 20 threads reading a fleet, each request costs several handoffs of the lock
between threads, which cost more than the request itself (``strace``: 20 lock waits per request). Here
the devices take turns in one thread, switching only where they would wait anyway, and one ``epoll``
call wakes all whose replies came. Why not asyncio: the drivers are plain functions that send a request
and read its reply; a greenlet lets them stay so, where coroutines would turn every call on the way to
a socket into an ``await``.

The transport asks :func:`current` whether it runs in a hub's greenlet; outside one it blocks as it
always did, so the same driver works in both.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
import time
from collections.abc import Callable, Iterable
from typing import TypeVar

from greenlet import getcurrent, greenlet

__all__ = ["READ", "WRITE", "Hub", "current"]

_T = TypeVar("_T")
READ, WRITE = selectors.EVENT_READ, selectors.EVENT_WRITE
_local = threading.local()


def current() -> Hub | None:
    """The hub whose greenlet runs now, if any: the transport then waits through it."""
    hub: Hub | None = getattr(_local, "hub", None)
    return hub if hub is not None and getcurrent() is not hub.main else None


class Hub:
    """Runs ``work`` for every item, ``concurrency`` at a time, in greenlets of the calling thread."""

    def __init__(self) -> None:
        self.main = getcurrent()
        self._selector = selectors.DefaultSelector()
        self._deadlines: dict[greenlet, float] = {}

    def wait(self, sock: socket.socket, events: int, timeout: float) -> None:
        """Suspend the calling greenlet until ``sock`` is ready for ``events``; TimeoutError after ``timeout``
        seconds of waiting."""
        me = getcurrent()
        self._selector.register(sock, events, me)
        self._deadlines[me] = time.monotonic() + timeout
        try:
            self.main.switch()
        finally:
            self._deadlines.pop(me, None)
            with contextlib.suppress(KeyError, ValueError):  # the hub closed (an interrupted run)
                self._selector.unregister(sock)

    def run(self, work: Callable[[_T], None], items: Iterable[_T], concurrency: int) -> None:
        """``work(item)`` for each item, at most ``concurrency`` at once; ``work`` must not raise."""
        pending = iter(items)

        def worker() -> None:
            for item in pending:
                work(item)

        if getattr(_local, "hub", None) is not None:
            raise RuntimeError("a hub is already running in this thread")
        _local.hub = self
        try:
            workers = [greenlet(worker, parent=self.main) for _ in range(max(1, concurrency))]
            for each in workers:
                each.switch()  # runs until its first wait, or to its end
            while self._deadlines:
                self._turn()
        finally:
            _local.hub = None
            self._selector.close()

    def _turn(self) -> None:
        """Wake every greenlet whose socket is ready, then throw TimeoutError into those waiting too long."""
        now = time.monotonic()
        ready = self._selector.select(max(0.0, min(self._deadlines.values()) - now))
        for key, _ in ready:
            waiting: greenlet = key.data
            if waiting in self._deadlines:
                waiting.switch()
        now = time.monotonic()
        for late in [g for g, deadline in self._deadlines.items() if deadline <= now]:
            if late in self._deadlines:
                late.throw(TimeoutError("timed out"))
