"""Runs started together (a CI matrix, cron beside a person) each open the one journal."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from enforcer.engine.journal import Journal


def test_a_journal_another_run_is_still_creating_is_waited_for(tmp_path: Path) -> None:
    """Another run holds a write lock on the new file, not yet WAL: SQLite answers "locked" at once.

    Before, one run in about sixty started together failed so; now it waits for the other to finish.
    """
    path = tmp_path / "journal.db"
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("CREATE TABLE creating (x)")
    other.execute("BEGIN IMMEDIATE")
    done = threading.Timer(0.3, other.execute, ["COMMIT"])
    done.start()
    Journal(path).close()
    done.join()
    other.close()
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone() == ("wal",)
