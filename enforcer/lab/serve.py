"""``enforce lab serve DIR``: serve the fleet described by ``DIR/lab.spec.json`` until stopped."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Any, Literal

from enforcer.lab.fleet import Fleet
from enforcer.lab.spec import LabSpec

SPEC_FILE = "lab.spec.json"


def serve(
    directory: Path,
    *,
    time_scale: float = 1.0,
    ready: threading.Event | None = None,
    stop: threading.Event | None = None,
    base: int | Literal["auto"] | None = "auto",
) -> None:
    """Serve ``directory/lab.spec.json``; returns on SIGINT/SIGTERM (main thread) or when ``stop`` is set.

    ``lab.ready.json``, ``lab.state.json`` and ``lab.events.jsonl`` are written under ``directory``;
    ``ready`` is set once every device listens.
    """
    directory = Path(directory)
    spec = LabSpec.load(directory / SPEC_FILE)
    stop = stop or threading.Event()
    previous: dict[signal.Signals, Any] = {}
    if threading.current_thread() is threading.main_thread():

        def on_signal(signum: int, frame: FrameType | None) -> None:
            stop.set()

        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, on_signal)
    try:
        with Fleet(spec, time_scale=time_scale, directory=directory, base=base):
            if ready is not None:
                ready.set()
            while not stop.wait(0.2):
                pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
