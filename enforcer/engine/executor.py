"""The executor: runs site plans, sites concurrently, steps within a site in order.

Sites run at once within a rolling batch (Ansible's ``serial``), and a batch whose failed share
exceeds ``max_fail_percentage`` stops the play. Within a site, phases run in order; within a phase,
steps on different devices run in parallel and steps on one device in order. Driver calls run in a
bounded thread pool; a wait is an asyncio timer and holds no thread, so a hundred sites waiting out
a lock take as long as one.

A site whose facts could not be read because a device has locked enforcer out is planned inside the
run: its timer runs while the other sites go on, then the site is read again and planned
(``Work.replan``), and its steps run like any other's.

The executor knows nothing of protocols: it is given callables (run a step, read a lock state,
verify a site, plan a site again) and emits typed events that the journal and the console subscribe to.

:class:`Executor` is the protocol; :class:`LocalExecutor` runs everything in this process, and
``enforcer.engine.temporal`` runs each site as a Temporal workflow on workers. Both run a site with the
same :class:`SiteRunner` (the order, the waits, the rescue): only :class:`SiteOps`, how a call or a
wait is carried out, differs (a thread of this process, or an activity and a durable timer).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Literal, NamedTuple, Protocol, TypeVar

from enforcer.errors import EnforcerError, LockWaitExpired
from enforcer.facts import LockState
from enforcer.plan.artifact import PHASES, SitePlan, Step
from enforcer.plan.steps import Settle, Verify, WaitUnlock

_A = TypeVar("_A")
_R = TypeVar("_R")
SiteStatus = Literal["converged", "unchanged", "failed", "skipped"]
StepStatus = Literal["succeeded", "failed", "skipped"]


@dataclass(frozen=True)
class RunOptions:
    """How to roll out; no engine-wide magic keywords, one explicit object."""

    concurrency: int = 20  # driver calls at once
    serial: tuple[int | str, ...] = ("100%",)
    max_fail_percentage: float = 0.0
    time_scale: float = 1.0  # multiplies device-reported waits: for rehearsals on a time-scaled lab
    max_wait: float = 3600.0  # give up on a lock that does not clear within this (seconds, scaled)


@dataclass(frozen=True)
class Done:
    """What a step did, for people, and whether it changed anything (Ansible's ``changed`` against ``ok``)."""

    detail: str
    changed: bool = True


class StepResult(NamedTuple):
    """One step's outcome in a site's result."""

    step: Step
    status: StepStatus
    detail: str
    changed: bool = False


@dataclass(frozen=True)
class StepStarted:
    step: Step


@dataclass(frozen=True)
class StepFinished:
    step: Step
    status: StepStatus
    detail: str
    changed: bool = False


@dataclass(frozen=True)
class Waiting:
    """A step waits out a lock: ``seconds`` in all, ``left`` of them still to go (one event a second)."""

    step: Step
    seconds: float
    left: float


@dataclass(frozen=True)
class SiteWaiting:
    """A site waits for ``devices`` to let enforcer in again before it is planned (one event a second)."""

    site: str
    devices: tuple[str, ...]
    seconds: float
    left: float


@dataclass(frozen=True)
class SitePlanned:
    """A site that waited has been read again and planned: ``plan`` is what will run now."""

    plan: SitePlan


@dataclass(frozen=True)
class SiteFinished:
    site: str
    status: SiteStatus
    detail: str


Event = StepStarted | StepFinished | Waiting | SiteWaiting | SitePlanned | SiteFinished
Subscriber = Callable[[Event], None]


@dataclass
class Work:
    """What the executor calls; each callable blocks and may raise EnforcerError."""

    run_step: Callable[[Step], Done]
    lock_state: Callable[[str], LockState]
    verify: Callable[[str], str]
    skip: frozenset[str] = frozenset()  # step ids a resumed run already finished
    #: After a site failed: the steps to run to undo what is safe to undo (its releases), and what is kept
    #: with why; given the site's plan and the outcome of each step that ran (by id).
    rescue: Callable[[SitePlan, dict[str, StepStatus]], tuple[Sequence[Step], str]] | None = None
    #: A site planned to wait (``SitePlan.wait``): read it again and plan it, once its timer has run.
    replan: Callable[[str], SitePlan] | None = None


@dataclass
class SiteResult:
    site: str
    status: SiteStatus
    detail: str = ""
    steps: list[StepResult] = field(default_factory=list)
    unreachable: int = 0  # devices whose facts failed for want of a reply (Ansible's "unreachable")


def batches(plans: Sequence[SitePlan], serial: Sequence[int | str]) -> list[list[SitePlan]]:
    """Split sites into rolling batches; the last size repeats, as in Ansible."""
    out: list[list[SitePlan]] = []
    rest, i = list(plans), 0
    while rest:
        size = serial[min(i, len(serial) - 1)]
        count = math.ceil(len(plans) * int(size[:-1]) / 100) if isinstance(size, str) else size
        out.append(rest[: max(1, count)])
        rest = rest[max(1, count) :]
        i += 1
    return out


class Executor(Protocol):
    """Runs site plans in rolling batches, emitting events; returns one result per site, in plan order.

    Invariants every backend keeps: the sites of a batch run at once and a batch whose failed share
    exceeds ``max_fail_percentage`` skips the rest; a site's steps run as :class:`SiteRunner` orders
    them; each event reaches ``on_event`` from one thread at a time, a step's start before its end.
    """

    def run(
        self, plans: Sequence[SitePlan], work: Work, options: RunOptions, on_event: Subscriber
    ) -> list[SiteResult]: ...


async def run_batches(
    plans: Sequence[SitePlan],
    options: RunOptions,
    on_event: Subscriber,
    site: Callable[[SitePlan], Awaitable[SiteResult]],
) -> list[SiteResult]:
    """Run ``site`` for every plan, batch by batch (``serial``), stopping after a batch that failed too much."""
    results: list[SiteResult] = []
    groups = batches(plans, options.serial)
    for index, batch in enumerate(groups):
        done = await asyncio.gather(*(site(p) for p in batch))
        results += done
        failed = sum(1 for r in done if r.status == "failed")
        if failed and failed * 100 / len(batch) > options.max_fail_percentage:
            reason = f"stopped: {failed} of {len(batch)} sites failed in batch {index + 1}"
            for plan in (p for later in groups[index + 1 :] for p in later):
                result = SiteResult(plan.site, "skipped", reason)
                on_event(SiteFinished(plan.site, "skipped", reason))
                results.append(result)
            break
    return results


class LocalExecutor:
    """Runs everything in this process: an asyncio loop and a thread pool for driver calls."""

    def run(self, plans: Sequence[SitePlan], work: Work, options: RunOptions, on_event: Subscriber) -> list[SiteResult]:
        return asyncio.run(self._run(plans, work, options, on_event))

    async def _run(
        self, plans: Sequence[SitePlan], work: Work, options: RunOptions, on_event: Subscriber
    ) -> list[SiteResult]:
        with ThreadPoolExecutor(max_workers=options.concurrency, thread_name_prefix="enforce") as pool:
            runner = SiteRunner(_LocalOps(work, pool, on_event), options, on_event)
            return await run_batches(plans, options, on_event, runner.site)


class SiteOps(Protocol):
    """How a site's calls and waits are carried out; each call may raise EnforcerError."""

    @property
    def skip(self) -> frozenset[str]:
        """Step ids a resumed run already finished."""
        ...

    @property
    def can_replan(self) -> bool:
        """Whether a site planned to wait can be planned again after it (else it fails saying so)."""
        ...

    async def run_step(self, step: Step) -> Done: ...

    async def lock_state(self, device: str) -> LockState: ...

    async def verify(self, site: str) -> str: ...

    async def replan(self, site: str) -> SitePlan: ...

    def rescue(self, plan: SitePlan, outcomes: dict[str, StepStatus]) -> tuple[Sequence[Step], str]:
        """What to undo after ``plan`` failed, and what is kept with why (see ``Work.rescue``)."""
        ...

    async def countdown(self, seconds: float, event: Callable[[float], Event]) -> None:
        """Sleep ``seconds``, telling the subscribers how long is left (``event(left)``)."""
        ...


@dataclass
class _LocalOps:
    """:class:`SiteOps` in this process: blocking calls on the pool's threads, waits as asyncio timers."""

    work: Work
    pool: ThreadPoolExecutor
    on_event: Subscriber

    @property
    def skip(self) -> frozenset[str]:
        return self.work.skip

    @property
    def can_replan(self) -> bool:
        return self.work.replan is not None

    async def run_step(self, step: Step) -> Done:
        return await self._call(self.work.run_step, step)

    async def lock_state(self, device: str) -> LockState:
        return await self._call(self.work.lock_state, device)

    async def verify(self, site: str) -> str:
        return await self._call(self.work.verify, site)

    async def replan(self, site: str) -> SitePlan:
        assert self.work.replan is not None
        return await self._call(self.work.replan, site)

    def rescue(self, plan: SitePlan, outcomes: dict[str, StepStatus]) -> tuple[Sequence[Step], str]:
        return self.work.rescue(plan, outcomes) if self.work.rescue is not None else ((), "")

    async def countdown(self, seconds: float, event: Callable[[float], Event]) -> None:
        """One event about once a second until the time is up."""
        deadline = asyncio.get_running_loop().time() + seconds
        while (left := deadline - asyncio.get_running_loop().time()) > 0:
            self.on_event(event(left))
            await asyncio.sleep(min(left, 1.0))

    async def _call(self, function: Callable[[_A], _R], argument: _A) -> _R:
        return await asyncio.get_running_loop().run_in_executor(self.pool, function, argument)


@dataclass
class SiteRunner:
    """Runs one site's plan: phases in order, targets of a phase at once, a target's steps in order; a
    failure rescues what is safe to undo. Pure orchestration: every call and wait goes through ``ops``."""

    ops: SiteOps
    options: RunOptions
    on_event: Subscriber

    async def site(self, plan: SitePlan) -> SiteResult:
        if plan.wait:
            plan = await self._replan(plan)
        if plan.error:
            return self._finish(SiteResult(plan.site, "failed", plan.error, unreachable=len(plan.unreachable)))
        if not plan.steps:
            return self._finish(SiteResult(plan.site, "unchanged", "no changes"))
        result = SiteResult(plan.site, "converged")
        for phase in PHASES:
            by_target: dict[str, list[Step]] = {}
            for step in plan.steps:
                if step.phase == phase:
                    by_target.setdefault(step.target, []).append(step)
            outcomes = await asyncio.gather(*(self._sequence(steps, result) for steps in by_target.values()))
            if not all(outcomes):
                failed = next(s for s in result.steps if s.status == "failed")
                result.status = "failed"
                step, said = failed.step, failed.detail  # a DeviceError names its device and step already
                result.detail = said if said.startswith(step.target) else f"{step.target}: {step.action}: {said}"
                await self._rescue(plan, result)
                return self._finish(result)
        verify = next((s for s in result.steps if isinstance(s.step.kind, Verify)), None)
        result.detail = verify.detail if verify else ""
        return self._finish(result)

    async def _replan(self, plan: SitePlan) -> SitePlan:
        """Wait out the lock that kept enforcer from reading the site, then read and plan it."""
        seconds = max(plan.wait, 1.0) * self.options.time_scale
        if not self.ops.can_replan or seconds > self.options.max_wait:
            return replace(plan, error=f"{', '.join(plan.locked_out)}: enforcer is locked out for {plan.wait:.0f} s")
        await self.ops.countdown(seconds, partial(SiteWaiting, plan.site, plan.locked_out, seconds))
        try:
            planned = await self.ops.replan(plan.site)
        except EnforcerError as exc:
            planned = replace(plan, error=str(exc))
        planned = replace(planned, wait=0.0, locked_out=())
        self.on_event(SitePlanned(planned))
        return planned

    async def _rescue(self, plan: SitePlan, result: SiteResult) -> None:
        """Run what is safe to undo after a failure, and say in the result what was undone and what was left."""
        steps, kept = self.ops.rescue(plan, {s.step.id: s.status for s in result.steps})
        said = []
        for step in steps:
            outcome = await self._step(step)
            result.steps.append(outcome)
            if step.phase != "release":
                continue
            name = step.target.split("/", 1)[-1]
            ok = outcome.status == "succeeded"
            said.append(f"released {name}" if ok else f"could not release {name}: {outcome.detail}")
        if kept:
            said.append(f"left isolated: {kept}")
        if said:
            result.detail += "; " + "; ".join(said)

    def _finish(self, result: SiteResult) -> SiteResult:
        self.on_event(SiteFinished(result.site, result.status, result.detail))
        return result

    async def _sequence(self, steps: list[Step], result: SiteResult) -> bool:
        for step in steps:
            outcome = await self._step(step)
            result.steps.append(outcome)
            if outcome.status == "failed":
                return False
        return True

    async def _step(self, step: Step) -> StepResult:
        if step.id in self.ops.skip and not step.kind.always_run:
            self.on_event(StepFinished(step, "skipped", "done by the interrupted run"))
            return StepResult(step, "skipped", "done by the interrupted run")
        self.on_event(StepStarted(step))
        try:
            if isinstance(step.kind, WaitUnlock):
                done = Done(await self._wait(step, step.kind), changed=False)
            elif isinstance(step.kind, Settle):
                delay = step.kind.seconds * self.options.time_scale
                await self.ops.countdown(delay, partial(Waiting, step, delay))
                done = Done(f"settled {step.kind.seconds:.0f} s", changed=False)
            elif isinstance(step.kind, Verify):
                done = Done(await self.ops.verify(step.site), changed=False)
            else:
                done = await self.ops.run_step(step)
        except EnforcerError as exc:
            self.on_event(StepFinished(step, "failed", str(exc)))
            return StepResult(step, "failed", str(exc))
        except Exception as exc:  # a bug must fail its site, not the run
            message = f"internal error: {type(exc).__name__}: {exc}"
            self.on_event(StepFinished(step, "failed", message))
            return StepResult(step, "failed", message)
        self.on_event(StepFinished(step, "succeeded", done.detail, done.changed))
        return StepResult(step, "succeeded", done.detail, done.changed)

    async def _wait(self, step: Step, kind: WaitUnlock) -> str:
        """Sleep out the lock the device reported, then check once; repeat while it still says locked."""
        seconds = kind.seconds
        waited = 0.0
        while True:
            delay = max(seconds, 1.0) * self.options.time_scale
            if waited + delay > self.options.max_wait:
                raise LockWaitExpired(f"{step.target} still locked after {waited:.0f} s")
            await self.ops.countdown(delay, partial(Waiting, step, delay))
            waited += delay
            state = await self.ops.lock_state(step.target)
            if not state.locked:
                return f"unlocked after {waited:.1f} s"
            seconds = state.unlock_seconds
