"""The login guard never lets enforcer spend the last two attempts, nor repeat a refused credential."""

from __future__ import annotations

import logging
import threading

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
    with pytest.raises(Refused, match="only 2 attempts left before the lock and 2 are kept in reserve"):
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


def _refusal(guard: LoginGuard) -> str:
    with pytest.raises(Refused) as caught:
        guard.check("d", "admin", Secret("one-more", "t"))
    return caught.value.reason


def test_a_reserve_refusal_says_what_a_person_can_do() -> None:
    """Wait for the device to forget, guided by the best lock time known, or supply the password."""
    guard = LoginGuard()
    _try(guard, "wrong", False)
    assert _refusal(guard) == (
        "only 2 attempts left before the lock and 2 are kept in reserve: wait for the device to forget the "
        "failed attempts (allow its lock time or reboot it), then run again; or supply the password that "
        "works (credential store or inventory)"
    )
    guard.declare_lock_time("d", 1800)  # the inventory's lock_minutes: 30, until the device's is read
    assert "(allow its lock time, 30 min by the inventory, or reboot it)" in _refusal(guard)
    guard.set_threshold("d", 3, lock_seconds=300)  # read from the device: it wins, and stays
    guard.declare_lock_time("d", 1800)
    assert "(allow its lock time, 5 min, or reboot it)" in _refusal(guard)


def test_a_reserve_refusal_names_the_devices_own_count() -> None:
    guard = LoginGuard()
    guard.set_threshold("d", 7, lock_seconds=90)
    guard.observe("d", attempts_left=2)  # a wasted login elsewhere left the reserve only
    reason = _refusal(guard)
    assert reason.startswith("only 2 attempts left before the lock (the device's own count) and 2 are kept")
    assert "(allow its lock time, 90 s, or reboot it)" in reason


@pytest.mark.parametrize("counted", [True, False])
def test_a_device_that_forgot_the_failures_is_tried_again(counted: bool) -> None:
    """A device reporting, for free, more attempts than we counted forgot failures (its counter window
    passed, or it rebooted): its count takes over, and our own tally no longer refuses it. ``counted``:
    whether its failure replies state the count (``retryLoginTime``) or not (our tally and the last
    free count, less one per failure, then stand for it)."""
    guard = LoginGuard()
    guard.set_threshold("d", 5)
    guard.observe("d", attempts_left=5)
    for i, left in enumerate((4, 3, 2)):
        _try(guard, f"wrong-{i}", False, attempts_left=left if counted else None)
    assert guard.remaining("d") == 2 and "kept in reserve" in _refusal(guard)
    guard.observe("d", attempts_left=2)  # still counting: still refused
    assert "kept in reserve" in _refusal(guard)
    guard.observe("d", attempts_left=5)  # the device forgot
    assert guard.remaining("d") == 5
    guard.check("d", "admin", Secret("one-more", "t"))
    with pytest.raises(Refused, match="never sent twice"):  # forgetting does not make it worth sending again
        guard.check("d", "admin", Secret("wrong-1", "t"))


def test_a_failure_without_a_count_is_taken_off_the_devices_last_one() -> None:
    """The free count said 3 of 7: one failure whose reply states no count leaves 2, the reserve."""
    guard = LoginGuard()
    guard.set_threshold("d", 7)
    guard.observe("d", attempts_left=3)
    _try(guard, "wrong", False)
    assert guard.remaining("d") == 2
    assert "(the device's own count)" in _refusal(guard)


@settings(max_examples=300, deadline=None)
@given(
    threshold=st.integers(3, 10),
    known=st.booleans(),
    counted=st.booleans(),
    script=st.lists(
        st.one_of(
            st.tuples(st.just("try"), st.integers(0, 8), st.booleans()),
            st.tuples(st.just("forget"), st.just(0), st.just(False)),
            st.tuples(st.just("probe"), st.just(0), st.just(False)),
        ),
        max_size=40,
    ),
)
def test_a_forgetting_device_never_has_its_reserve_spent(
    threshold: int, known: bool, counted: bool, script: list[tuple[str, int, bool]]
) -> None:
    """A device that forgets its failures at any moment and tells its count for free when asked: the
    guard never permits an attempt that could leave it fewer than the reserve, and once the device
    forgot and said so, a credential not yet refused is permitted again."""
    guard = LoginGuard()
    if known:
        guard.set_threshold("d", threshold)
    left = threshold  # the device's own count
    refused: set[int] = set()
    for op, candidate, ok in script:
        if op == "forget":
            left = threshold
            continue
        if op == "probe":
            guard.observe("d", attempts_left=left)
            fresh = [c for c in range(9) if c not in refused]
            if left == threshold and fresh:
                guard.check("d", "admin", Secret(f"pw-{fresh[0]}", "t"))  # permitted: the device forgot
            continue
        try:
            key = guard.check("d", "admin", Secret(f"pw-{candidate}", "t"))
        except Refused:
            continue
        assert left - 1 >= guard.reserve, "an attempt that could spend the reserve was permitted"
        if ok:
            left = threshold
            refused.discard(candidate)
        else:
            left -= 1
            refused.add(candidate)
        guard.record("d", key, Verdict(ok, attempts_left=left if counted and not ok else None))


def test_devices_are_counted_side_by_side_without_waiting_for_each_other() -> None:
    """Each device's budget has its own lock: a thread busy with one device never holds up another
    (one lock for all was taken twice per request by every thread of a fleet's facts)."""

    guard = LoginGuard()
    guard.set_threshold("a", 5)
    done = threading.Event()

    def other_device() -> None:
        key = guard.check("b", "admin", Secret("pw", "t"))
        guard.record("b", key, Verdict(True))
        done.set()

    with guard._budget("a").lock:  # device a's budget in use
        threading.Thread(target=other_device, daemon=True).start()
        assert done.wait(5)
    assert guard.remaining("a") == 5
