"""The site workflow: one site's plan, run by the executor's own :class:`SiteRunner`, durably.

Its id is the site's (``organisation/site``), so two runs can never work on one site at once: a second
start is refused while the first runs. Each call of the runner is an activity on the site's task queue
(its region's), each wait a durable timer: a worker that dies mid-wait loses nothing, since the timer
lives in the service and the next worker to take the workflow replays its history, skipping every
activity that completed. Nothing here does I/O or reads a clock other than the workflow's.

Progress: every event the runner emits is kept (the ``events`` query, from an index) and returned with
the result; a wait is one event dated by the workflow's clock, and the follower counts it down.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from enforcer.engine.executor import Done, Event, RunOptions, SiteRunner, StepStatus
    from enforcer.engine.temporal.wire import (
        event_to_dict,
        lock_state_from_dict,
        result_to_dict,
    )
    from enforcer.errors import WorkerError
    from enforcer.facts import LockState
    from enforcer.plan.artifact import SitePlan, Step
    from enforcer.plan.rescue import undo

WORKFLOW = "enforce-site"
STEP, LOCK_STATE, VERIFY, REPLAN = "enforce.step", "enforce.lock_state", "enforce.verify", "enforce.replan"

#: Errors a retry cannot mend: the device refused our credential or has us locked out, the login guard
#: refused to spend an attempt, the device offers only Basic or refuses our source. Activities raise every
#: enforcer error but a transport failure as non-retryable already; the policy says it again by name.
AUTHENTICATION = ("LoginFailed", "LockedOut", "Refused", "BasicOnly", "Blocked")


def retry_policy(attempts: int = 3) -> RetryPolicy:
    """A step is an idempotent ensure: a lost reply or a dead worker is retried, an authentication never."""
    return RetryPolicy(
        initial_interval=timedelta(seconds=1),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(seconds=30),
        maximum_attempts=attempts,
        non_retryable_error_types=list(AUTHENTICATION),
    )


@workflow.defn(name=WORKFLOW)
class SiteWorkflow:
    """Runs one site's plan; see the module docstring."""

    def __init__(self) -> None:
        self._events: list[dict[str, Any]] = []

    @workflow.run
    async def run(self, order: dict[str, Any]) -> dict[str, Any]:
        options = RunOptions(time_scale=order["time_scale"], max_wait=order["max_wait"])
        ops = _ActivityOps(order, self._record)
        result = await SiteRunner(ops, options, self._record).site(SitePlan.from_dict(order["plan"]))
        return {"result": result_to_dict(result), "events": self._events}

    @workflow.query(name="events")
    def events(self, since: int) -> list[dict[str, Any]]:
        """The events from index ``since`` on (a follower asks for what it has not seen)."""
        return self._events[since:]

    def _record(self, event: Event) -> None:
        self._events.append(event_to_dict(event, workflow.now().timestamp()))


class _ActivityOps:
    """The runner's calls as activities on the workflow's task queue, its waits as durable timers.

    Each activity says which worker last touched its target (``after``): a worker that did not drops
    what it keeps of that target (its driver's session, its copy of the credential store) first, since
    another worker may have changed it since.
    """

    can_replan = True

    def __init__(self, order: dict[str, Any], record: Callable[[Event], None]) -> None:
        self.order, self.record = order, record
        self.skip = frozenset(order["skip"])
        self.site: str = order["plan"]["site"]
        self.plan: dict[str, Any] = order["plan"]
        self.last: dict[str, str] = {}  # target → the worker that last ran an activity on it

    async def run_step(self, step: Step) -> Done:
        done = await self._call(STEP, (step.target,), step=step.to_dict())
        return Done(done["detail"], done["changed"])

    async def lock_state(self, device: str) -> LockState:
        return lock_state_from_dict(await self._call(LOCK_STATE, (device,), device=device))

    async def verify(self, site: str) -> str:
        detail: str = (await self._call(VERIFY, None, plan=self.plan))["detail"]
        return detail

    async def replan(self, site: str) -> SitePlan:
        raw = await self._call(REPLAN, None, replan=self.order["replan"])
        self.plan = raw["plan"]
        return SitePlan.from_dict(raw["plan"])

    def rescue(self, plan: SitePlan, outcomes: dict[str, StepStatus]) -> tuple[Sequence[Step], str]:
        return undo(plan, outcomes)

    async def countdown(self, seconds: float, event: Callable[[float], Event]) -> None:
        """One event and one timer, however long the wait: the follower does the counting down."""
        self.record(event(seconds))
        await workflow.sleep(seconds, summary=f"{self.site}: lock wait")

    async def _call(self, name: str, targets: tuple[str, ...] | None, **arguments: Any) -> dict[str, Any]:
        """Run activity ``name`` on ``targets`` (None: the whole site); its failure as a WorkerError."""
        seen = {self.last.get(t) for t in targets or ()}
        after = seen.pop() if targets is not None and len(seen) == 1 else None  # the whole site: always afresh
        order = {"play": self.order["play"], "site": self.site, "after": after, **arguments}
        try:
            answer: dict[str, Any] = await workflow.execute_activity(
                name,
                order,
                start_to_close_timeout=timedelta(seconds=self.order["step_timeout"]),
                heartbeat_timeout=timedelta(seconds=self.order["heartbeat_timeout"]),
                retry_policy=retry_policy(),
            )
        except ActivityError as exc:
            cause = exc.cause
            raise WorkerError(cause.message if isinstance(cause, ApplicationError) else str(cause or exc)) from None
        for target in targets if targets is not None else [*self.last, *answer.get("targets", ())]:
            self.last[target] = answer["worker"]
        return answer
