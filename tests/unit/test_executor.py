"""Executor scheduling, with a fake driver (functions): about order and concurrency, not protocols."""

from __future__ import annotations

import threading
import time

from enforcer.engine.executor import (
    Done,
    Event,
    LocalExecutor,
    RunOptions,
    SiteFinished,
    SitePlanned,
    SiteWaiting,
    StepFinished,
    StepStarted,
    Waiting,
    Work,
    batches,
)
from enforcer.errors import DeviceError
from enforcer.facts import LockState
from enforcer.plan.artifact import SitePlan, Step
from enforcer.plan.steps import (
    ENFORCER,
    AccountKind,
    ChannelKind,
    IsolateFilter,
    ReleaseFilter,
    Settle,
    StepKind,
    Verify,
    WaitUnlock,
)

#: A step of each action these tests schedule (the executor never looks inside them).
KINDS: dict[str, StepKind] = {
    "isolate_ip_filter": IsolateFilter((ENFORCER,), None),
    "account": AccountKind("admin"),
    "channel": ChannelKind(1, "s/cam", "127.0.0.2", 80, "admin"),
    "release_ip_filter": ReleaseFilter(),
}


def site(name: str, *steps: tuple[str, str, str], wait: float = 0.0) -> SitePlan:
    out = [Step(name, phase, f"{name}/{target}", KINDS[action]) for phase, action, target in steps]  # type: ignore[arg-type]
    if wait:
        out.insert(0, Step(name, "wait", f"{name}/nvr", WaitUnlock(wait)))
    out.append(Step(name, "verify", name, Verify()))
    return SitePlan(name, tuple(out))


class Recorder:
    def __init__(self, fail: str = "", delay: float = 0.0) -> None:
        self.fail, self.delay = fail, delay
        self.calls: list[str] = []
        self.events: list[Event] = []
        self.lock = threading.Lock()

    def run_step(self, step: Step) -> Done:
        time.sleep(self.delay)
        with self.lock:
            self.calls.append(step.id)
        if step.id == self.fail:
            raise DeviceError(site=step.site, device=step.target, step=step.action, detail="HTTP 500 from device")
        return Done("done")

    def work(self, skip: frozenset[str] = frozenset()) -> Work:
        return Work(self.run_step, lambda device: LockState(False), lambda s: "converged", skip)


STEPS = (
    ("isolate", "isolate_ip_filter", "cam"),
    ("recorder", "account", "nvr"),
    ("cameras", "account", "cam"),
    ("channels", "channel", "nvr"),
    ("release", "release_ip_filter", "cam"),
)


def test_phases_run_in_order_and_the_site_converges() -> None:
    rec = Recorder()
    [result] = LocalExecutor().run([site("a", *STEPS)], rec.work(), RunOptions(), rec.events.append)
    assert result.status == "converged" and result.detail == "converged"
    assert rec.calls == [
        "a/cam:isolate_ip_filter",
        "a/nvr:account:admin",
        "a/cam:account:admin",
        "a/nvr:channel:1",
        "a/cam:release_ip_filter",
    ]


def test_a_failed_step_stops_its_site_and_spares_the_others() -> None:
    rec = Recorder(fail="b/nvr:account:admin")
    results = LocalExecutor().run(
        [site("a", *STEPS), site("b", *STEPS), site("c", *STEPS)],
        rec.work(),
        RunOptions(max_fail_percentage=100),
        rec.events.append,
    )
    status = {r.site: r.status for r in results}
    assert status == {"a": "converged", "b": "failed", "c": "converged"}
    failed = next(r for r in results if r.site == "b")
    assert "b/nvr: account: HTTP 500 from device" in failed.detail
    assert not any(c.startswith("b/cam:account:admin") or c.startswith("b/nvr:channel:1") for c in rec.calls)


def test_max_fail_percentage_stops_later_batches() -> None:
    rec = Recorder(fail="s1/nvr:account:admin")
    plans = [site(f"s{i}", *STEPS) for i in range(1, 6)]
    results = LocalExecutor().run(
        plans, rec.work(), RunOptions(serial=(1, "100%"), max_fail_percentage=10), rec.events.append
    )
    assert [r.status for r in results] == ["failed", "skipped", "skipped", "skipped", "skipped"]
    assert all("stopped: 1 of 1 sites failed in batch 1" in r.detail for r in results[1:])


def test_batches_follow_serial_like_ansible() -> None:
    plans = [SitePlan(f"s{i}") for i in range(10)]
    assert [len(b) for b in batches(plans, (1, "25%", "100%"))] == [1, 3, 6]
    assert [len(b) for b in batches(plans, (3,))] == [3, 3, 3, 1]


def test_waits_hold_no_thread_so_many_sites_wait_in_parallel() -> None:
    rec = Recorder()
    plans = [site(f"s{i}", ("recorder", "account", "nvr"), wait=0.5) for i in range(100)]
    start = time.monotonic()
    results = LocalExecutor().run(plans, rec.work(), RunOptions(concurrency=2), rec.events.append)
    elapsed = time.monotonic() - start
    assert all(r.status == "converged" for r in results)
    # each wait lasts 1 s (the executor waits at least that long); were a waiting site to hold one of the
    # 2 threads, the 100 waits would take 50 s. Ten times less still proves they all waited at once.
    held = 100 * 1.0 / 2
    assert elapsed < held / 10, f"100 waits of 1 s on 2 threads took {elapsed:.2f} s"


def test_a_device_still_locked_after_the_wait_is_waited_for_again() -> None:
    states = iter([LockState(True, 0.2), LockState(False)])
    work = Work(lambda step: Done("done"), lambda device: next(states), lambda s: "converged")
    [result] = LocalExecutor().run(
        [site("a", ("recorder", "account", "nvr"), wait=0.1)], work, RunOptions(), lambda e: None
    )
    assert result.status == "converged"
    assert result.steps[0][2].startswith("unlocked after")


def test_a_settle_waits_its_scaled_time_between_the_channels_and_the_release_and_calls_no_device() -> None:
    rec, stamps = Recorder(), {}
    plan = site("a", *STEPS)
    settle = Step("a", "channels", "a/nvr", Settle(40.0))
    channel = next(i for i, s in enumerate(plan.steps) if s.action == "channel")
    plan = SitePlan("a", (*plan.steps[: channel + 1], settle, *plan.steps[channel + 1 :]))

    def on_event(event: Event) -> None:
        if isinstance(event, StepFinished):
            stamps[event.step.action] = time.monotonic()
        rec.events.append(event)

    [result] = LocalExecutor().run([plan], rec.work(), RunOptions(time_scale=0.01), on_event)
    assert result.status == "converged"
    assert "a/nvr:settle" not in rec.calls  # a timer, not a driver call
    assert rec.calls.index("a/nvr:channel:1") + 1 == rec.calls.index("a/cam:release_ip_filter")
    assert stamps["release_ip_filter"] - stamps["channel"] >= 0.4  # 40 s at a time scale of 0.01
    assert any(isinstance(e, Waiting) and e.step == settle for e in rec.events)


def test_resumed_run_skips_finished_steps_but_repeats_releases() -> None:
    rec = Recorder()
    skip = frozenset({"a/cam:isolate_ip_filter", "a/nvr:account:admin", "a/cam:release_ip_filter"})
    LocalExecutor().run([site("a", *STEPS)], rec.work(skip), RunOptions(), rec.events.append)
    assert rec.calls == ["a/cam:account:admin", "a/nvr:channel:1", "a/cam:release_ip_filter"]


def test_events_bracket_every_step() -> None:
    rec = Recorder()
    LocalExecutor().run([site("a", *STEPS)], rec.work(), RunOptions(), rec.events.append)
    started = [e.step.id for e in rec.events if isinstance(e, StepStarted)]
    finished = [e.step.id for e in rec.events if isinstance(e, StepFinished)]
    assert started == finished and len(started) == len(STEPS) + 1
    assert isinstance(rec.events[-1], SiteFinished)


def test_an_internal_error_fails_the_site_not_the_run() -> None:
    def explode(step: Step) -> str:
        raise ZeroDivisionError("bug")

    work = Work(explode, lambda device: LockState(False), lambda s: "ok")
    results = LocalExecutor().run(
        [site("a", *STEPS), site("b")], work, RunOptions(max_fail_percentage=100), lambda e: None
    )
    assert results[0].status == "failed" and "internal error: ZeroDivisionError" in results[0].detail
    assert results[1].status == "converged"


def test_a_site_that_enforcer_is_locked_out_of_waits_alone_then_is_planned_and_run() -> None:
    """Site b could not be read (a device locked enforcer out): it counts its wait down while site a
    runs to the end, and is read again and planned only once its timer has run."""
    rec = Recorder()
    replanned: list[tuple[str, float]] = []
    start = time.monotonic()

    def replan(name: str) -> SitePlan:
        replanned.append((name, time.monotonic() - start))
        return site(name, *STEPS)

    waiting = SitePlan("b", locked_out=("b/nvr",), wait=2.0)
    work = rec.work()
    work.replan = replan
    results = LocalExecutor().run([site("a", *STEPS), waiting], work, RunOptions(), rec.events.append)
    assert [(r.site, r.status) for r in results] == [("a", "converged"), ("b", "converged")]
    [(name, at)] = replanned
    assert name == "b" and at >= 2.0
    finished_a = next(i for i, e in enumerate(rec.events) if isinstance(e, SiteFinished) and e.site == "a")
    planned_b = next(i for i, e in enumerate(rec.events) if isinstance(e, SitePlanned))
    assert finished_a < planned_b, "site a waited for site b's lock"
    countdown = [e for e in rec.events if isinstance(e, SiteWaiting)]
    assert countdown[0].seconds == 2.0 and [round(e.left) for e in countdown] == [2, 1]  # a tick a second
    assert rec.calls[-5:] == [
        "b/cam:isolate_ip_filter",
        "b/nvr:account:admin",
        "b/cam:account:admin",
        "b/nvr:channel:1",
        "b/cam:release_ip_filter",
    ]


def test_a_site_still_locked_when_read_again_fails_alone_saying_so() -> None:
    rec = Recorder()
    work = rec.work()
    work.replan = lambda name: SitePlan(name, error="b/nvr: the device locked our source for 600 s")
    results = LocalExecutor().run(
        [site("a", *STEPS), SitePlan("b", locked_out=("b/nvr",), wait=0.1)],
        work,
        RunOptions(max_fail_percentage=100),
        rec.events.append,
    )
    assert [(r.site, r.status) for r in results] == [("a", "converged"), ("b", "failed")]
    assert "locked our source for 600 s" in results[1].detail
