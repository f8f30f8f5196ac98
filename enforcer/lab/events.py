"""The lab's events file: one JSON object per line, the ground truth for tests.

Each line holds ``time`` (ISO-8601 UTC), ``device``, ``event``, ``source``, ``user`` and
event-specific fields. Values named like a secret are refused, so no password ever reaches it.
Lines are buffered and written by :meth:`EventLog.flush`, which the fleet calls every 50 ms.

    >>> import tempfile, pathlib
    >>> log = EventLog(pathlib.Path(tempfile.mkdtemp()) / "e.jsonl")
    >>> log.emit("cam1", "auth_failed", source="127.0.0.9", user="admin")
    >>> log.flush(); log.read()[0]["event"]
    'auth_failed'
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

FORBIDDEN_FIELDS = frozenset({"password", "login_password", "new_password", "old_password", "secret"})


class EventLog:
    """Append-only JSON-lines events file, safe to use from any thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._buffer: list[str] = []
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()

    def emit(self, device: str, event: str, *, source: str = "", user: str = "", **fields: Any) -> None:
        """Queue one event; ``fields`` must not carry a secret."""
        bad = FORBIDDEN_FIELDS.intersection(fields)
        if bad:
            raise ValueError(f"refusing to log secret fields {sorted(bad)}")
        record = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "device": device,
            "event": event,
            "source": source,
            "user": user,
            **fields,
        }
        line = json.dumps(record, sort_keys=False)
        with self._lock:
            self._buffer.append(line)

    def flush(self) -> None:
        """Write every queued line to the file."""
        with self._lock:
            if not self._buffer:
                return
            lines, self._buffer = self._buffer, []
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write("\n".join(lines) + "\n")

    def read(self) -> list[dict[str, Any]]:
        """Every event written so far (call :meth:`flush` first for the latest)."""
        with self.path.open(encoding="utf-8") as fh:
            return [json.loads(line) for line in fh if line.strip()]
