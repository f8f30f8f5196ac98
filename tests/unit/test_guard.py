"""The login guard never lets enforcer spend the last two attempts, nor repeat a refused credential."""

from __future__ import annotations

import logging

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from enforcer.credentials.guard import LoginGuard, Verdict
from enforcer.credentials.secret import Secret
from enforcer.errors import Refused


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _try(guard: LoginGuard, password: str, ok: bool, **verdict: object) -> None:
    secret = Secret(password, "t")
    key = guard.check("d", "admin", secret)
    guard.record("d", key, Verdict(ok, **verdict))  # type: ignore[arg-type]


def test_unknown_threshold_allows_one_failure_only() -> None:
    guard = LoginGuard()
    _try(guard, "wrong-1", False)
    with pytest.raises(Refused, match="only 2 attempts left before the lock; 2 are kept in reserve"):
        guard.check("d", "admin", Secret("wrong-2", "t"))


@pytest.mark.parametrize("threshold", [3, 4, 5, 6, 7])
def test_known_threshold_keeps_two_in_reserve(threshold: int) -> None:
    guard = LoginGuard()
    guard.set_threshold("d", threshold)
    for i in range(threshold - 2):
        _try(guard, f"wrong-{i}", False)
    with pytest.raises(Refused):
        guard.check("d", "admin", Secret("another", "t"))
    assert guard.remaining("d") == 2


def test_refused_credential_is_never_sent_twice() -> None:
    guard = LoginGuard()
    guard.set_threshold("d", 7)
    _try(guard, "wrong", False)
    with pytest.raises(Refused, match="already refused; it is never sent twice"):
        guard.check("d", "admin", Secret("wrong", "t"))
    # the same password for another user is a different credential
    guard.check("d", "operator", Secret("wrong", "t"))


def test_device_count_overrides_ours_when_lower() -> None:
    guard = LoginGuard()
    guard.set_threshold("d", 7)
    guard.observe("d", attempts_left=3)  # a stale client elsewhere spent the account's budget
    _try(guard, "wrong", False, attempts_left=2)
    with pytest.raises(Refused, match="only 2 attempts left"):
        guard.check("d", "admin", Secret("other", "t"))


def test_lock_reported_by_device_blocks_until_its_unlock_time() -> None:
    clock = FakeClock()
    guard = LoginGuard(clock=clock)
    guard.set_threshold("d", 7)
    guard.observe("d", locked=True, unlock_seconds=210)
    with pytest.raises(Refused, match="locked out for 210 s more"):
        guard.check("d", "admin", Secret("right", "t"))
    clock.now += 211
    guard.check("d", "admin", Secret("right", "t"))


def test_a_lock_that_ran_out_takes_the_count_it_reported_with_it() -> None:
    """Dahua reports "0 attempts left, locked" and, once the lock ends, nothing for free: the guard
    must not keep the stale 0 and refuse the device for ever."""
    clock = FakeClock()
    guard = LoginGuard(clock=clock)
    guard.set_threshold("d", 5)
    guard.observe("d", attempts_left=0, locked=True, unlock_seconds=300)
    with pytest.raises(Refused, match="locked out"):
        guard.check("d", "admin", Secret("right", "t"))
    clock.now += 301
    guard.check("d", "admin", Secret("right", "t"))
    assert guard.remaining("d") == 5


def test_success_resets_our_count_and_verified_credentials_pass_freely() -> None:
    guard = LoginGuard()
    guard.set_threshold("d", 5)
    _try(guard, "wrong", False)
    _try(guard, "right", True)
    assert guard.remaining("d") == 5
    for _ in range(10):
        _try(guard, "right", True)


def test_log_never_holds_the_secret(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="enforcer.guard")
    guard = LoginGuard()
    _try(guard, "Sup3r-Secret-Password", False)
    with pytest.raises(Refused):
        guard.check("d", "admin", Secret("Sup3r-Secret-Password", "t"))
    assert caplog.records and "Sup3r-Secret-Password" not in caplog.text


@settings(max_examples=200, deadline=None)
@given(
    threshold=st.one_of(st.none(), st.integers(3, 20)),
    script=st.lists(st.tuples(st.integers(0, 6), st.booleans(), st.one_of(st.none(), st.integers(0, 20))), max_size=40),
)
def test_no_sequence_of_attempts_spends_the_reserve(
    threshold: int | None, script: list[tuple[int, bool, int | None]]
) -> None:
    """Whatever is tried and whatever the device answers, consecutive failures stay below threshold - 2,
    and no credential is sent again after being refused."""
    guard = LoginGuard()
    if threshold is not None:
        guard.set_threshold("d", threshold)
    limit = (threshold or 3) - 2
    failures, refused, device_left = 0, set(), None
    for candidate, ok, left in script:
        try:
            key = guard.check("d", "admin", Secret(f"pw-{candidate}", "t"))
        except Refused:
            continue
        assert candidate not in refused
        assert failures < limit
        if device_left is not None:
            assert device_left - 1 >= 2
        guard.record("d", key, Verdict(ok, attempts_left=None if ok else left))
        if ok:
            failures, device_left = 0, None
            refused.discard(candidate)
        else:
            failures += 1
            refused.add(candidate)
            device_left = left if left is not None else device_left
            assert failures <= limit


def test_a_password_we_set_ourselves_is_no_longer_a_refused_guess() -> None:
    guard = LoginGuard()
    guard.set_threshold("d", 5)
    _try(guard, "new-one", False)  # discovery tried the desired password: not on the device yet
    _try(guard, "old-one", True)
    guard.password_changed("d", "admin", Secret("old-one", "t"), Secret("new-one", "t"))
    guard.check("d", "admin", Secret("new-one", "t"))  # permitted again: we put it there


def test_a_refusal_while_locked_does_not_condemn_the_credential() -> None:
    clock = FakeClock()
    guard = LoginGuard(clock=clock)
    guard.set_threshold("d", 5)
    _try(guard, "right", False, locked=True, unlock_seconds=60)  # a lock someone else caused
    with pytest.raises(Refused, match="locked out"):
        guard.check("d", "admin", Secret("right", "t"))
    clock.now += 61
    guard.check("d", "admin", Secret("right", "t"))  # tried again once the lock is over
    assert guard.remaining("d") == 5
