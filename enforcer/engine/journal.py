"""The journal (SQLite): every step's intent before it runs and its outcome after, so a killed run
resumes without redoing finished work and follows an upgrade it left in flight.

What isolation replaced is not here but in the credential store, which a team shares: a journal is
one machine's, and a device must never stay isolated because that machine is gone.

No secret value is ever written here: steps name accounts, never passwords (those live in the
encrypted credential store, written before any device sees them).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Literal

from enforcer.errors import JournalError
from enforcer.plan.artifact import Step

Status = Literal["started", "succeeded", "failed", "skipped"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY, playbook TEXT NOT NULL, play TEXT NOT NULL,
    started REAL NOT NULL, finished REAL, status TEXT NOT NULL DEFAULT 'running'
);
CREATE TABLE IF NOT EXISTS steps (
    run INTEGER NOT NULL REFERENCES runs(id), step TEXT NOT NULL, site TEXT NOT NULL,
    phase TEXT NOT NULL, action TEXT NOT NULL, target TEXT NOT NULL,
    status TEXT NOT NULL, detail TEXT NOT NULL DEFAULT '', started REAL NOT NULL, finished REAL,
    PRIMARY KEY (run, step)
);
"""


class Journal:
    """A run journal in one SQLite file; safe to share between threads."""

    def __init__(self, path: Path) -> None:
        """Open (or create) the journal; JournalError, saying what to do, when the file cannot be used."""
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise JournalError(
                f"journal {path} cannot be used ({exc}): move it aside and run again; a journal only lets a "
                "killed run resume, and the credential store and the devices say what such a run left"
            ) from exc
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def begin(self, playbook: str, play: str) -> tuple[int, bool]:
        """The run to write to: the unfinished run of this play if one was killed (resumed), else a new one."""
        with self._lock:
            row = self._db.execute(
                "SELECT id FROM runs WHERE playbook = ? AND play = ? AND status = 'running' ORDER BY id DESC LIMIT 1",
                (playbook, play),
            ).fetchone()
            if row:
                return int(row[0]), True
            cursor = self._db.execute(
                "INSERT INTO runs (playbook, play, started) VALUES (?, ?, ?)", (playbook, play, time.time())
            )
            return int(cursor.lastrowid or 0), False

    def finish(self, run: int, status: Literal["converged", "failed"]) -> None:
        with self._lock:
            self._db.execute("UPDATE runs SET finished = ?, status = ? WHERE id = ?", (time.time(), status, run))

    def started(self, run: int, step: Step) -> None:
        """Record the intent before the step touches anything."""
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO steps (run, step, site, phase, action, target, status, started)"
                " VALUES (?, ?, ?, ?, ?, ?, 'started', ?)",
                (run, step.id, step.site, step.phase, step.action, step.target, time.time()),
            )

    def finished(self, run: int, step: Step, status: Status, detail: str = "") -> None:
        with self._lock:
            self._db.execute(
                "UPDATE steps SET status = ?, detail = ?, finished = ? WHERE run = ? AND step = ?",
                (status, detail, time.time(), run, step.id),
            )

    def succeeded(self, run: int) -> set[str]:
        """Step ids that finished in ``run`` (a resumed run skips them)."""
        with self._lock:
            rows = self._db.execute("SELECT step FROM steps WHERE run = ? AND status = 'succeeded'", (run,))
            return {r[0] for r in rows}

    def steps(self, run: int) -> list[tuple[str, Status, str]]:
        with self._lock:
            rows = self._db.execute("SELECT step, status, detail FROM steps WHERE run = ? ORDER BY started", (run,))
            return [(r[0], r[1], r[2]) for r in rows]

    def in_flight(self, actions: tuple[str, ...]) -> set[str]:
        """Targets of ``actions`` that an interrupted run started and never finished (e.g. a firmware
        upgrade killed mid-way: that device may still be rebooting)."""
        marks = ",".join("?" * len(actions))
        with self._lock:
            rows = self._db.execute(
                "SELECT steps.target FROM steps JOIN runs ON runs.id = steps.run WHERE runs.status = 'running'"
                f" AND steps.status = 'started' AND steps.action IN ({marks})",
                actions,
            )
            return {r[0] for r in rows}
