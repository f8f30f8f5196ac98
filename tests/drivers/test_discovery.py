"""Credential discovery against the guard (pure), and the keyring's candidates."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from enforcer.credentials.discovery import discover
from enforcer.credentials.guard import LoginGuard, Verdict
from enforcer.credentials.keyring import Keyring
from enforcer.credentials.secret import Secret
from enforcer.credentials.store import CredentialStore
from enforcer.facts import Candidate

from .conftest import DictCredentials, device_for, lab_camera

A, B, C = Secret("pw-a", "t"), Secret("pw-b", "t"), Secret("pw-c", "t")


def login_with(guard: LoginGuard, right: Secret | None, log: list[Candidate], **fail: Any) -> Callable[..., Verdict]:
    """A login that records its outcome in the guard, as the driver's session does."""

    def attempt(role: Candidate, password: Secret) -> Verdict:
        key = guard.check("s/d", "admin", password, label=role)
        log.append(role)
        result = Verdict(ok=True) if password == right else Verdict(ok=False, **fail)
        guard.record("s/d", key, result)
        return result

    return attempt


def test_first_success_stops() -> None:
    tried: list[Candidate] = []
    guard = LoginGuard()
    found = discover("s/d", "admin", [("current", A), ("previous", B)], login_with(guard, A, tried), guard)
    assert found.candidate == "current" and found.attempts == 0 and tried == ["current"]


def test_second_candidate_only_when_the_device_has_room() -> None:
    cands: list[tuple[Candidate, Secret]] = [("current", A), ("previous", B)]
    # unknown threshold: assume 3, keep 2 in reserve → one failure only
    tried: list[Candidate] = []
    guard = LoginGuard()
    found = discover("s/d", "admin", cands, login_with(guard, B, tried), guard)
    assert not found.found and tried == ["current"] and found.attempts == 1 and "reserve" in found.reason
    # the device said (for free) that 4 attempts are left: current, then previous
    tried = []
    guard = LoginGuard()
    found = discover("s/d", "admin", cands, login_with(guard, B, tried), guard, threshold_hint=4)
    assert found.candidate == "previous" and found.attempts == 1 and tried == ["current", "previous"]


def test_lock_stops_at_once() -> None:
    tried: list[Candidate] = []
    guard = LoginGuard()
    cands: list[tuple[Candidate, Secret]] = [("current", A), ("pending", B), ("previous", C)]
    found = discover(
        "s/d",
        "admin",
        cands,
        login_with(guard, None, tried, locked=True, unlock_seconds=300.0),
        guard,
        threshold_hint=9,
    )
    assert found.locked and found.unlock_seconds == 300 and tried == ["current"]
    # the guard refuses any further attempt while the device reports us locked
    again = discover("s/d", "admin", [("previous", C)], login_with(guard, C, tried), guard)
    assert not again.found and "locked" in again.reason and tried == ["current"]


def test_each_password_at_most_once_per_run() -> None:
    """Run again (the device forgot its failures, say), discovery passes over what it refused and goes on."""
    guard = LoginGuard()
    tried: list[Candidate] = []
    discover("s/d", "admin", [("current", A)], login_with(guard, B, tried), guard, threshold_hint=7)
    found = discover("s/d", "admin", [("current", A), ("previous", B)], login_with(guard, B, tried), guard)
    assert found.candidate == "previous" and found.attempts == 0 and tried == ["current", "previous"]
    assert found.tried == ("current", "previous")
    again = discover("s/d", "admin", [("current", A)], login_with(guard, None, tried), guard)
    assert not again.found and tried == ["current", "previous"] and "tried current" in again.reason


def test_candidates_add_desired_once() -> None:
    keyring = DictCredentials({("s/d", "admin"): [("current", A), ("previous", B)]}).keyring()
    assert keyring.candidates("s/d", "admin", C) == [("current", A), ("previous", B), ("desired", C)]
    assert keyring.candidates("s/d", "admin", A) == [("current", A), ("previous", B)]
    assert keyring.candidates("s/x", "admin", None) == []


def test_store_credentials(tmp_path: Path) -> None:
    store = CredentialStore(tmp_path / "c.vault", b"pw")
    store.set_current("s1/cam", "admin", A)
    store.set_pending("s1/cam", "admin", B)
    device = device_for(lab_camera("cam", "127.0.0.9", "x"), "pw-c")
    desired = device.account("admin")
    assert desired is not None
    keyring = Keyring(store)
    assert keyring.candidates("s1/cam", "admin", desired.password) == [("current", A), ("pending", B), ("desired", C)]
    assert keyring.candidates("s1/cam", "operator", None) == []
    assert Keyring(None).candidates("s1/cam", "admin", desired.password) == [("desired", C)]
