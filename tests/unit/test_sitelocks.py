"""Site locks across processes: one holder per site, named to whoever is refused; a killed holder frees its
sites; waiting; all or none; and the journal's rule that only a holder's run may begin or resume work."""

from __future__ import annotations

import json
import math
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from enforcer.engine.journal import Journal
from enforcer.engine.sitelocks import FileSiteLocks, Holder, acquire, holding
from enforcer.errors import SiteBusy, SiteNotHeld
from tests.unit.conftest import Repo

COMMAND = "enforce apply playbooks/site.yml"

#: Another process: takes the sites named on its command line (as COMMAND), says so, and holds them
#: until its stdin closes (or it is killed).
HOLD = """
import sys
from pathlib import Path
from enforcer.engine.sitelocks import FileSiteLocks, Holder
locks = FileSiteLocks(Path(sys.argv[1]))
held = locks.acquire(sys.argv[3:], Holder.this_process(sys.argv[2], "applied"))
print("held", flush=True)
sys.stdin.read()
locks.release(held)
"""


class Other:
    """A holder in another process."""

    def __init__(self, folder: Path, *sites: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", HOLD, str(folder), COMMAND, *sites],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        assert self.process.stdout.readline() == "held\n"

    @property
    def pid(self) -> int:
        return self.process.pid

    def finish(self) -> None:
        """Release and exit, as a run that ends."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        assert self.process.wait(timeout=10) == 0

    def kill(self) -> None:
        """SIGKILL: no release, no cleanup; the kernel drops the flock."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def close(self) -> None:
        if self.process.poll() is None:
            self.kill()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path / ".enforcer" / "locks"


@pytest.fixture
def others() -> Iterator[list[Other]]:
    started: list[Other] = []
    yield started
    for other in started:
        other.close()


def me() -> Holder:
    return Holder.this_process("enforce plan playbooks/site.yml", "planned")


def test_a_second_holder_is_refused_with_the_holder_named(folder: Path, others: list[Other]) -> None:
    other = Other(folder, "acme-hq")
    others.append(other)
    locks = FileSiteLocks(folder)
    with pytest.raises(SiteBusy) as refused:
        locks.acquire(["acme-hq"], me())
    message = str(refused.value)
    assert message.startswith(f"site acme-hq is being applied by pid {other.pid} ({COMMAND}, user ")
    assert f"on host {socket.gethostname()} since " in message
    assert list(refused.value.busy) == ["acme-hq"]
    found = locks.holder("acme-hq")
    assert found is not None and (found.pid, found.command, found.doing) == (other.pid, COMMAND, "applied")
    other.finish()
    assert locks.holder("acme-hq") is None
    held = locks.acquire(["acme-hq"], me())
    assert held.holds("acme-hq")


def test_a_killed_holder_frees_its_sites(folder: Path, others: list[Other]) -> None:
    other = Other(folder, "acme-hq", "beta")
    others.append(other)
    locks = FileSiteLocks(folder)
    with pytest.raises(SiteBusy):
        locks.acquire(["beta"], me())
    other.kill()
    assert locks.holder("acme-hq") is None  # the file still names the dead run: it is not believed
    held = locks.acquire(["acme-hq", "beta"], me())
    found = locks.holder("beta")
    assert found is not None and found.pid == os.getpid()
    locks.release(held)
    assert not held.holds("beta") and locks.holder("beta") is None


def test_all_or_none_and_every_held_site_named(folder: Path, tmp_path: Path, others: list[Other]) -> None:
    other = Other(folder, "b", "c")
    others.append(other)
    here, elsewhere = FileSiteLocks(folder), FileSiteLocks(tmp_path / "other-inventory")
    with pytest.raises(SiteBusy) as refused:
        acquire([(elsewhere, ["x"]), (here, ["a", "b", "c"])], me())
    assert sorted(refused.value.busy) == ["b", "c"]
    assert "(1 more of the selected sites are held: c)" in str(refused.value)
    assert here.holder("a") is None and elsewhere.holder("x") is None  # nothing kept while refused


def test_wait_polls_until_the_holder_finishes(folder: Path, others: list[Other]) -> None:
    other = Other(folder, "acme-hq")
    others.append(other)
    heard: list[str] = []

    def on_wait(busy: SiteBusy, waited: float) -> None:
        heard.append(str(busy))
        if len(heard) == 1:
            other.finish()

    locks = FileSiteLocks(folder)
    started = time.monotonic()
    with pytest.raises(SiteBusy):
        acquire([(locks, ["acme-hq"])], me(), wait=0.3, poll=0.05)
    assert 0.3 <= time.monotonic() - started < 5
    with holding([(locks, ["acme-hq"])], me(), wait=math.inf, on_wait=on_wait) as held:
        assert held[0].holds("acme-hq")
        assert locks.holder("acme-hq") is not None
    assert len(heard) == 1 and f"pid {other.pid}" in heard[0]
    assert not held[0].holds("acme-hq") and locks.holder("acme-hq") is None


def test_the_journal_never_adopts_a_live_runs_work(tmp_path: Path, folder: Path) -> None:
    """Before site locks, a second run resumed the newest unfinished run of the play: another live one."""
    locks = FileSiteLocks(folder)
    journal = Journal(tmp_path / "journal.db")
    first = locks.acquire(["a"], me())
    run, resumed = journal.begin("site.yml", "play", ["a"], first)
    assert not resumed
    second = locks.acquire(["b"], me())  # another run, with --limit b, while the first is alive
    other, resumed = journal.begin("site.yml", "play", ["b"], second)
    assert not resumed and other != run
    with pytest.raises(SiteNotHeld):
        journal.begin("site.yml", "play", ["a"], second)  # work on a site held by another run
    locks.release(first)  # the first run was killed: its site is free, its journal run unfinished
    with pytest.raises(SiteNotHeld):
        journal.begin("site.yml", "play", ["a"], first)  # released locks prove nothing
    again = locks.acquire(["a"], me())
    assert journal.begin("site.yml", "play", ["a"], again) == (run, True)
    journal.close()
    locks.release(second)
    locks.release(again)


def test_a_journal_from_before_site_locks_is_upgraded_and_its_runs_not_adopted(tmp_path: Path, folder: Path) -> None:
    path = tmp_path / "journal.db"
    db = sqlite3.connect(path)
    db.execute(
        "CREATE TABLE runs (id INTEGER PRIMARY KEY, playbook TEXT NOT NULL, play TEXT NOT NULL,"
        " started REAL NOT NULL, finished REAL, status TEXT NOT NULL DEFAULT 'running')"
    )
    db.execute("INSERT INTO runs (playbook, play, started) VALUES ('site.yml', 'play', 0)")
    db.commit()
    db.close()
    locks = FileSiteLocks(folder)
    with holding([(locks, ["a"])], me()) as held:
        journal = Journal(path)
        run, resumed = journal.begin("site.yml", "play", ["a"], held[0])
        journal.close()
    assert (run, resumed) == (2, False)
    db = sqlite3.connect(path)
    row = db.execute("SELECT sites, owner FROM runs WHERE id = 2").fetchone()
    db.close()
    assert json.loads(row[0]) == ["a"] and json.loads(row[1])["pid"] == os.getpid()


@pytest.mark.parametrize("command", [["plan"], ["facts"], ["apply", "--yes"]])
def test_every_command_that_logs_in_stops_at_a_held_site(repo: Repo, others: list[Other], command: list[str]) -> None:
    """Refused before any device is read (the repo's devices do not exist: a read would time out)."""
    other = Other(repo.root / ".enforcer" / "locks", "hq")
    others.append(other)
    code, out, err = repo.run(command[0], "site.yml", *command[1:])
    assert code == 1, (out, err)
    text = " ".join(err.split())
    assert f"error: site hq is being applied by pid {other.pid} ({COMMAND}" in text
    assert text.endswith("; wait for it, or run again with --wait")
    code, out, err = repo.run(command[0], "site.yml", *command[1:], "--wait", "0.2")
    assert code == 1, (out, err)
    assert "waiting: site hq is being applied" in err and "still held after waiting 0.2 s" in " ".join(err.split())


def test_wait_takes_seconds_or_nothing(repo: Repo) -> None:
    with pytest.raises(SystemExit) as usage:
        repo.run("plan", "site.yml", "--wait", "soon")
    assert usage.value.code == 1 and "--wait: expected seconds, got 'soon'" in repo.capsys.readouterr().err
