"""The journal (SQLite): every step's intent before it runs and its outcome after, so a killed run
resumes without redoing finished work and follows an upgrade it left in flight.

What isolation replaced is not here but in the credential store, which a team shares: a journal is
one machine's, and a device must never stay isolated because that machine is gone.

No secret value is ever written here: steps name accounts, never passwords (those live in the
encrypted credential store, written before any device sees them).

A run records the sites it works on and who holds them. Only a run holding a site's lock (see
:mod:`.sitelocks`) may begin work on it, and it resumes an unfinished run only when all of that run's
sites are among its own: their locks being free proves the run that wrote it is dead.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import time
from collections.abc import Collection
from pathlib import Path
from typing import Literal

from enforcer.engine.sitelocks import Held
from enforcer.errors import JournalError, SiteNotHeld
from enforcer.plan.artifact import Step

Status = Literal["started", "succeeded", "failed", "skipped"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY, playbook TEXT NOT NULL, play TEXT NOT NULL,
    started REAL NOT NULL, finished REAL, status TEXT NOT NULL DEFAULT 'running',
    sites TEXT, owner TEXT
);
CREATE TABLE IF NOT EXISTS steps (
    run INTEGER NOT NULL REFERENCES runs(id), step TEXT NOT NULL, site TEXT NOT NULL,
    phase TEXT NOT NULL, action TEXT NOT NULL, target TEXT NOT NULL,
    status TEXT NOT NULL, detail TEXT NOT NULL DEFAULT '', started REAL NOT NULL, finished REAL,
    PRIMARY KEY (run, step)
);
"""


_BUSY_SECONDS = 10.0


def _set_up(db: sqlite3.Connection) -> None:
    """WAL, durable writes and the schema, retried while another run creates the same journal.

    SQLite answers "database is locked" to a journal-mode change without waiting on its busy handler,
    so two runs started together (a CI matrix, a cron and a person) would fail one of them.
    """
    deadline = time.monotonic() + _BUSY_SECONDS
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.executescript(_SCHEMA)
            _add_columns(db)
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


class Journal:
    """A run journal in one SQLite file; safe to share between threads."""

    def __init__(self, path: Path) -> None:
        """Open (or create) the journal; JournalError, saying what to do, when the file cannot be used."""
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=_BUSY_SECONDS)
            _set_up(self._db)
        except (OSError, sqlite3.Error) as exc:
            raise JournalError(
                f"journal {path} cannot be used ({exc}): move it aside and run again; a journal only lets a "
                "killed run resume, and the credential store and the devices say what such a run left"
            ) from exc
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def begin(self, playbook: str, play: str, sites: Collection[str], held: Held) -> tuple[int, bool]:
        """The run to write to for ``sites``, whose locks ``held`` must hold (else :class:`SiteNotHeld`).

        Resumed (True) is the newest unfinished run of this play whose sites are all among ``sites``:
        a run holds its sites' locks while it lives, so if they are ours it was killed. An unfinished
        run of other sites (another ``--limit``) may be running now and is never adopted; nor is one
        recorded before runs named their sites (its finished steps are redone: every step is idempotent).
        """
        missing = sorted(s for s in sites if not held.holds(s))
        if missing:
            raise SiteNotHeld(missing)
        mine, owner = sorted(set(sites)), held.holder.to_json()
        with self._lock:
            rows = self._db.execute(
                "SELECT id, sites FROM runs WHERE playbook = ? AND play = ? AND status = 'running' ORDER BY id DESC",
                (playbook, play),
            ).fetchall()
            for run, recorded in rows:
                if recorded is not None and set(json.loads(recorded)) <= set(mine):
                    self._db.execute(
                        "UPDATE runs SET sites = ?, owner = ? WHERE id = ?", (json.dumps(mine), owner, run)
                    )
                    return int(run), True
            cursor = self._db.execute(
                "INSERT INTO runs (playbook, play, started, sites, owner) VALUES (?, ?, ?, ?, ?)",
                (playbook, play, time.time(), json.dumps(mine), owner),
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


def _add_columns(db: sqlite3.Connection) -> None:
    """Bring a journal written before runs named their sites and owner up to date."""
    have = {row[1] for row in db.execute("PRAGMA table_info(runs)")}
    for column in ("sites", "owner"):
        if column not in have:
            with contextlib.suppress(sqlite3.OperationalError):  # another process added it first
                db.execute(f"ALTER TABLE runs ADD COLUMN {column} TEXT")
