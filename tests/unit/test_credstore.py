"""Tests of ``enforcer.credentials.store``: the real file format, atomic saves, candidates, masking."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import BinaryIO

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from enforcer.config import vault
from enforcer.credentials import vaultfile
from enforcer.credentials.secret import Secret
from enforcer.credentials.store import CredentialStore, Entry, Isolation, Rotation
from enforcer.errors import CredentialStoreError
from enforcer.facts import IPFilterFact

PASSWORD = b"store-vault-PWMARK"
DEV = "acme-hq/nvr-01"


def s(value: str) -> Secret:
    return Secret(value, "test")


def revealed(secrets: list[Secret]) -> list[str]:
    return [x.reveal() for x in secrets]


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "credentials.vault"


def decrypted(path: Path, password: bytes = PASSWORD) -> object:
    return yaml.safe_load(vault.decrypt(path.read_text(encoding="ascii"), password))


def test_missing_file_is_an_empty_store(path: Path) -> None:
    store = CredentialStore.load(path, PASSWORD)
    assert store.get(DEV, "admin") is None
    assert store.candidates(DEV, "admin") == []
    assert list(store.entries()) == []
    assert not path.exists()


def test_round_trip_through_the_real_format(path: Path) -> None:
    store = CredentialStore.load(path, PASSWORD)
    store.set_current(DEV, "admin", s("old-Adm1n!"))
    store.set_pending(DEV, "admin", s("new-Adm1n!"))
    store.commit(DEV, "admin")
    store.set_current(DEV, "operator", s("op: 'quoted' #1"))
    store.set_pending("acme-hq/lobby", "admin", s("pending-only"))
    store.save()

    text = path.read_text(encoding="ascii")
    assert text.startswith("$ANSIBLE_VAULT;1.1;AES256\n")
    assert "Adm1n" not in text
    assert decrypted(path) == {
        "version": 1,
        "devices": {
            "acme-hq/lobby": {"admin": {"current": None, "pending": "pending-only", "previous": None}},
            "acme-hq/nvr-01": {
                "admin": {"current": "new-Adm1n!", "pending": None, "previous": "old-Adm1n!"},
                "operator": {"current": "op: 'quoted' #1", "pending": None, "previous": None},
            },
        },
    }
    again = CredentialStore.load(path, PASSWORD)
    assert list(again.entries()) == list(store.entries())
    assert again.get(DEV, "admin") == Entry(s("new-Adm1n!"), None, s("old-Adm1n!"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_reads_a_file_written_by_hand(path: Path) -> None:
    """As an operator would after ``ansible-vault edit``: a null slot may also be left out."""
    doc = "version: 1\ndevices:\n  hq/cam:\n    admin: {current: 'x1', previous: null}\n"
    path.write_text(vault.encrypt(doc.encode(), PASSWORD), encoding="ascii")
    assert CredentialStore.load(path, PASSWORD).get("hq/cam", "admin") == Entry(current=s("x1"))


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("- a list\n", "top level"),
        ("version: 2\ndevices: {}\n", "unsupported format version"),
        ("version: 1\ndevices: [a]\n", "devices"),
        ("version: 1\ndevices: {hq/cam: {admin: {current: 12345678}}}\n", "devices.hq/cam.admin.current"),
        ("version: 1\ndevices: {hq/cam: {admin: {current: 'SECRETMARK', curent: 'x'}}}\n", "unknown keys curent"),
        ("version: 1\ndevices: {hq/cam: {admin: 'SECRETMARK'}}}\n", "valid YAML"),
        ("version: 1\ndevices: {hq/cam: {admin: 'SECRETMARK'}}\n", "devices.hq/cam.admin"),
    ],
)
def test_malformed_documents_are_refused_without_quoting_values(path: Path, document: str, message: str) -> None:
    path.write_text(vault.encrypt(document.encode(), PASSWORD), encoding="ascii")
    with pytest.raises(CredentialStoreError, match=message) as info:
        CredentialStore.load(path, PASSWORD)
    assert "SECRETMARK" not in str(info.value)
    assert "12345678" not in str(info.value)


def test_wrong_password_and_plaintext_files_are_refused(path: Path) -> None:
    store = CredentialStore(path, PASSWORD)
    store.set_current(DEV, "admin", s("pw"))
    store.save()
    with pytest.raises(CredentialStoreError, match="wrong vault password") as info:
        CredentialStore.load(path, b"other-password")
    assert "PWMARK" not in str(info.value) and "other-password" not in str(info.value)
    path.write_text("devices: {hq/cam: {admin: {current: SECRETMARK}}}\n", encoding="utf-8")
    with pytest.raises(CredentialStoreError, match="not an Ansible Vault file") as info:
        CredentialStore.load(path, PASSWORD)
    assert "SECRETMARK" not in str(info.value)
    with pytest.raises(CredentialStoreError, match="non-empty"):
        CredentialStore(path, b"")


def test_candidates_are_current_pending_previous_deduplicated(path: Path) -> None:
    store = CredentialStore(path, PASSWORD)
    store.set_current(DEV, "admin", s("A"))
    assert revealed(store.candidates(DEV, "admin")) == ["A"]
    store.set_pending(DEV, "admin", s("B"))
    assert revealed(store.candidates(DEV, "admin")) == ["A", "B"]
    store.commit(DEV, "admin")
    assert revealed(store.candidates(DEV, "admin")) == ["B", "A"]
    store.set_pending(DEV, "admin", s("C"))
    assert revealed(store.candidates(DEV, "admin")) == ["B", "C", "A"]
    store.set_pending(DEV, "admin", s("A"), replace=True)  # pending equals previous: listed once
    assert revealed(store.candidates(DEV, "admin")) == ["B", "A"]
    store.set_pending(DEV, "admin", s("B"), replace=True)  # pending equals current
    assert revealed(store.candidates(DEV, "admin")) == ["B", "A"]
    assert store.candidates(DEV, "operator") == []


def test_operations_keep_every_recoverable_password(path: Path) -> None:
    store = CredentialStore(path, PASSWORD)
    with pytest.raises(CredentialStoreError, match="no pending password"):
        store.commit(DEV, "admin")
    store.set_current(DEV, "admin", s("A"))
    store.set_pending(DEV, "admin", s("B"))
    store.set_pending(DEV, "admin", s("B"))  # the same pending again is fine
    with pytest.raises(CredentialStoreError, match="already pending") as info:
        store.set_pending(DEV, "admin", s("C"))
    assert "B" not in str(info.value).split(":")[-1] and "C" not in str(info.value).split(":")[-1]
    # A commit of the password the device already has keeps previous.
    store.set_pending(DEV, "admin", s("A"), replace=True)
    store.commit(DEV, "admin")
    assert store.get(DEV, "admin") == Entry(s("A"), None, None)
    # Preflight found the pending password working: set_current clears it and keeps the old current.
    store.set_pending(DEV, "admin", s("B"))
    store.set_current(DEV, "admin", s("B"))
    assert store.get(DEV, "admin") == Entry(s("B"), None, s("A"))
    # A pending that the device is known not to have is discarded.
    store.set_pending(DEV, "admin", s("C"))
    store.discard_pending(DEV, "admin")
    assert store.get(DEV, "admin") == Entry(s("B"), None, s("A"))
    store.discard_pending("hq/none", "admin")
    with pytest.raises(CredentialStoreError, match="must not be empty"):
        store.set_current("", "admin", s("x"))


def test_repr_and_str_are_masked(path: Path) -> None:
    store = CredentialStore(path, PASSWORD)
    store.set_current(DEV, "admin", s("CURMARK"))
    store.set_pending(DEV, "admin", s("PENDMARK"))
    entry = store.get(DEV, "admin")
    assert entry is not None
    shown = " ".join(
        [repr(store), str(store), repr(entry), str(entry), f"{entry}", repr(store.candidates(DEV, "admin"))]
    )
    for marker in ("CURMARK", "PENDMARK", "PWMARK"):
        assert marker not in shown
    assert "***" in repr(entry)


class _Crash(OSError):
    pass


def _half_then_crash(stream: BinaryIO, data: bytes) -> None:
    stream.write(data[: len(data) // 2])
    stream.flush()
    raise _Crash(5, "Input/output error")


def test_a_crash_while_writing_leaves_the_old_file(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = CredentialStore(path, PASSWORD)
    store.set_current(DEV, "admin", s("A"))
    store.save()
    old = path.read_bytes()
    store.set_pending(DEV, "admin", s("B"))
    monkeypatch.setattr(vaultfile, "_write", _half_then_crash)
    with pytest.raises(CredentialStoreError, match="cannot write credential store") as info:
        store.save()
    assert isinstance(info.value.__cause__, _Crash)
    assert path.read_bytes() == old
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no temp file left behind
    assert CredentialStore.load(path, PASSWORD).get(DEV, "admin") == Entry(current=s("A"))
    monkeypatch.undo()
    store.save()
    assert CredentialStore.load(path, PASSWORD).get(DEV, "admin") == Entry(s("A"), s("B"))


def test_a_crash_before_the_rename_leaves_the_old_file(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = CredentialStore(path, PASSWORD)
    store.set_current(DEV, "admin", s("A"))
    store.save()
    old = path.read_bytes()

    def no_rename(src: object, dst: object) -> None:
        raise _Crash(28, "No space left on device")

    monkeypatch.setattr(os, "replace", no_rename)
    store.set_current(DEV, "admin", s("B"))
    with pytest.raises(CredentialStoreError):
        store.save()
    assert path.read_bytes() == old
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]


def test_save_syncs_the_file_before_the_rename_and_the_folder_after(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        calls.append("fsync-folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "fsync-file")
        real_fsync(fd)

    def replace(src: str, dst: Path) -> None:
        calls.append("replace")
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    CredentialStore(path, PASSWORD).save()
    assert calls == ["fsync-file", "replace", "fsync-folder"]


def test_runs_on_other_sites_saving_meanwhile_keep_each_others_passwords(path: Path) -> None:
    """Two applies with --limit on different sites each loaded the store at their start; before saves
    merged, the later save wrote back the file as its run had read it, and the other's passwords were lost."""
    CredentialStore(path, PASSWORD).save()
    one, two = CredentialStore.load(path, PASSWORD), CredentialStore.load(path, PASSWORD)
    one.set_pending("a/nvr", "admin", s("A-new"))
    one.save()
    two.set_current("b/nvr", "admin", s("B-now"))
    two.set_pending("b/nvr", "admin", s("B-new"))
    two.save()
    one.commit("a/nvr", "admin")
    one.save()
    two.commit("b/nvr", "admin")
    two.save()
    stored = CredentialStore.load(path, PASSWORD)
    assert stored.get("a/nvr", "admin") == Entry(current=s("A-new"))
    assert stored.get("b/nvr", "admin") == Entry(current=s("B-new"), previous=s("B-now"))
    assert one.get("b/nvr", "admin") == Entry(current=s("B-now"), pending=s("B-new"))  # read back at its save


def test_a_record_another_run_removed_is_not_brought_back_by_a_later_save(path: Path) -> None:
    """Runs on two sites: one isolates a device and starts a rotation, the other saves meanwhile (and so holds
    those records too), the first releases and finishes; the other's next save must not write them back
    (a released isolation brought back made the next plan restore a filter that was never left isolated)."""
    CredentialStore(path, PASSWORD).save()
    one, two = CredentialStore.load(path, PASSWORD), CredentialStore.load(path, PASSWORD)
    one.set_isolation("a/cam", Isolation(IPFilterFact(False, "deny", ())))
    one.set_rotation("a", Rotation("r1", "2025-01-01T00:00:00Z", ("admin",)))
    one.save()
    two.set_current("b/nvr", "admin", s("B-1"))
    two.save()  # reads the file again: two now holds a's isolation and rotation
    one.clear_isolation("a/cam")
    one.set_rotation("a", None)
    one.save()
    two.set_current("b/nvr", "admin", s("B-2"))
    two.save()
    stored = CredentialStore.load(path, PASSWORD)
    assert stored.isolated() == frozenset() and stored.rotations() == {}
    assert stored.get("b/nvr", "admin") == Entry(current=s("B-2"), previous=s("B-1"))


#: A run in another process: records a password for each of its devices, saving after each.
SAVER = """
import sys
from pathlib import Path
from enforcer.credentials.secret import Secret
from enforcer.credentials.store import CredentialStore
store = CredentialStore.load(Path(sys.argv[1]), sys.argv[2].encode())
for n in range(int(sys.argv[4])):
    store.set_current(f"{sys.argv[3]}/cam-{n}", "admin", Secret(f"pw-{sys.argv[3]}-{n}", "test"))
    store.save()
"""


def test_saves_at_the_same_moment_from_several_processes_lose_nothing(path: Path) -> None:
    CredentialStore(path, PASSWORD).save()
    sites, devices = ["s1", "s2", "s3", "s4"], 6
    runs = [
        subprocess.Popen([sys.executable, "-c", SAVER, str(path), PASSWORD.decode(), site, str(devices)])
        for site in sites
    ]
    assert [run.wait(timeout=60) for run in runs] == [0] * len(sites)
    stored = CredentialStore.load(path, PASSWORD)
    for site in sites:
        for n in range(devices):
            assert stored.get(f"{site}/cam-{n}", "admin") == Entry(current=s(f"pw-{site}-{n}")), f"{site}/cam-{n}"


# Property: over any sequence of set_pending/commit, current is the last committed value, and a
# committed value stays a candidate until the current value has changed twice after it.

_values = st.sampled_from(["p0", "p1", "p2", "p3", "p4"])
_operations = st.lists(st.one_of(st.tuples(st.just("pending"), _values), st.just(("commit", ""))), max_size=25)


@settings(max_examples=60, deadline=None)
@given(initial=st.none() | _values, operations=_operations)
def test_committed_passwords_survive_until_overwritten_twice(
    initial: str | None, operations: list[tuple[str, str]]
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        store = CredentialStore(Path(folder) / "credentials.vault", PASSWORD)
        history: list[str] = []  # the distinct values current has taken, in order
        if initial is not None:
            store.set_current(DEV, "admin", s(initial))
            history.append(initial)
        pending: str | None = None
        for op, value in operations:
            if op == "pending":
                store.set_pending(DEV, "admin", s(value), replace=True)
                pending = value
                continue
            if pending is None:
                with pytest.raises(CredentialStoreError):
                    store.commit(DEV, "admin")
                continue
            store.commit(DEV, "admin")
            if not history or history[-1] != pending:
                history.append(pending)
            pending = None
            entry = store.get(DEV, "admin")
            assert entry is not None and entry.current == s(history[-1])
            assert set(history[-2:]) <= set(revealed(store.candidates(DEV, "admin")))
        store.save()
        loaded = CredentialStore.load(store.path, PASSWORD)
        assert list(loaded.entries()) == list(store.entries())
        if history:
            assert revealed(loaded.candidates(DEV, "admin"))[0] == history[-1]
            assert set(history[-2:]) <= set(revealed(loaded.candidates(DEV, "admin")))


def test_an_isolation_record_survives_a_reload_and_only_the_first_is_kept(path: Path) -> None:
    """What isolating replaced is the shared record a later run (any machine, no journal) restores from."""
    store = CredentialStore.load(path, PASSWORD)
    original = IPFilterFact(True, "deny", ("10.0.0.9",))
    assert store.set_isolation(DEV, Isolation(original, ("10.0.0.55",)))
    assert not store.set_isolation(DEV, Isolation(IPFilterFact(True, "allow", ("192.0.2.254",))))  # never the isolation
    store.save()
    loaded = CredentialStore.load(path, PASSWORD)
    assert loaded.isolation(DEV) == Isolation(original, ("10.0.0.55",))
    assert loaded.isolated() == frozenset({DEV})
    loaded.clear_isolation(DEV)
    loaded.save()
    assert CredentialStore.load(path, PASSWORD).isolated() == frozenset()
    assert "isolations" not in decrypted(path)  # type: ignore[operator]


@pytest.mark.parametrize(
    ("doc", "where"),
    [
        ("version: 1\ndevices: {}\nisolations: [a]\n", "isolations"),
        ("version: 1\ndevices: {}\nisolations: {hq/cam: {original: {enabled: yes}}}\n", "isolations.hq/cam.original"),
        ("version: 1\ndevices: {}\nisolations: {hq/cam: {keep_blocked: 5}}\n", "isolations.hq/cam.keep_blocked"),
    ],
)
def test_a_malformed_isolation_record_is_refused_by_key(path: Path, doc: str, where: str) -> None:
    path.write_text(vault.encrypt(doc.encode(), PASSWORD))
    with pytest.raises(CredentialStoreError, match=where):
        CredentialStore.load(path, PASSWORD)


def test_two_runs_isolating_different_devices_keep_both_records(path: Path) -> None:
    """Runs on different sites save one store: neither save may drop the other's isolation record."""
    one, two = CredentialStore.load(path, PASSWORD), CredentialStore.load(path, PASSWORD)
    one.set_isolation("a/nvr", Isolation(IPFilterFact(False, "deny", ())))
    two.set_isolation("b/nvr", Isolation(IPFilterFact(True, "deny", ("10.0.0.9",))))
    one.save()
    two.save()
    assert CredentialStore.load(path, PASSWORD).isolated() == frozenset({"a/nvr", "b/nvr"})
    one.clear_isolation("a/nvr")
    one.save()
    assert CredentialStore.load(path, PASSWORD).isolated() == frozenset({"b/nvr"})


def test_an_owed_update_survives_a_reload_grows_and_is_cleared_when_settled(path: Path) -> None:
    """Which clients must still be given which passwords is the record a later run (any machine, no journal)
    reads to update them before anything releases them."""
    store = CredentialStore.load(path, PASSWORD)
    assert store.owe("hq/vms", [("nvr-01", "admin")])
    assert not store.owe("hq/vms", [("nvr-01", "admin")])  # nothing new
    assert store.owe("hq/vms", [("cam-01", "admin")])
    store.save()
    loaded = CredentialStore.load(path, PASSWORD)
    assert loaded.owed() == {"hq/vms": frozenset({("nvr-01", "admin"), ("cam-01", "admin")})}
    assert "owed" in decrypted(path)  # type: ignore[operator]
    assert loaded.settle("hq/vms") and not loaded.settle("hq/vms")
    loaded.save()
    assert CredentialStore.load(path, PASSWORD).owed() == {}
    assert "owed" not in decrypted(path)  # type: ignore[operator]


def test_runs_on_other_sites_keep_each_others_owed_updates(path: Path) -> None:
    one, two = CredentialStore.load(path, PASSWORD), CredentialStore.load(path, PASSWORD)
    one.owe("a/vms", [("nvr", "admin")])
    two.owe("b/frigate", [("cam", "admin")])
    one.save()
    two.save()
    assert set(CredentialStore.load(path, PASSWORD).owed()) == {"a/vms", "b/frigate"}
    one.settle("a/vms")
    one.save()
    assert set(CredentialStore.load(path, PASSWORD).owed()) == {"b/frigate"}


@pytest.mark.parametrize(
    "doc", ["version: 1\ndevices: {}\nowed: [a]\n", "version: 1\ndevices: {}\nowed: {hq/vms: [{device: nvr}]}\n"]
)
def test_a_malformed_owed_record_is_refused_by_key(path: Path, doc: str) -> None:
    path.write_text(vault.encrypt(doc.encode(), PASSWORD))
    with pytest.raises(CredentialStoreError, match="owed"):
        CredentialStore.load(path, PASSWORD)


def test_a_save_with_nothing_changed_writes_nothing_and_a_new_store_writes_its_empty_document(path: Path) -> None:
    """Threads share saves: one whose change another's save took along has nothing left to write."""
    CredentialStore(path, PASSWORD).save()
    assert decrypted(path) == {"version": 1, "devices": {}}
    store = CredentialStore.load(path, PASSWORD)
    store.set_current(DEV, "admin", s("A"))
    store.save()
    written = path.stat().st_ino  # each save renames a new file over the store
    store.save()
    CredentialStore.load(path, PASSWORD).save()
    assert path.stat().st_ino == written
    other = CredentialStore.load(path, PASSWORD)  # another run changes the file: it is read again, not cached
    other.set_current(DEV, "operator", s("B"))
    other.save()
    store.set_current("hq/cam", "admin", s("C"))
    store.save()
    assert revealed(CredentialStore.load(path, PASSWORD).candidates(DEV, "operator")) == ["B"]
