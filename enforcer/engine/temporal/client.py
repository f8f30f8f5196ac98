"""The submitting side: start one workflow per site, follow it, and hand back the local executor's events.

:class:`TemporalExecutor` is an :class:`~enforcer.engine.executor.Executor`: ``PlayRun.apply`` runs it in
place of the local one, and its subscribers (the journal, the console) see the same events in the same
order per site, so the recap, the JSON and the exit codes do not change. Rolling batches are kept here,
as the local executor keeps them: a batch's workflows are started together, and the next batch waits
for them.

Following a site asks its workflow for the events it has not seen (a query, answered by a worker) and
whether it has ended (a describe, answered by the service alone), then takes the rest from its result;
a wait arrives as one event, dated, and is counted down here once a second. No call waits on the
service (a long poll per site would exceed a namespace's poller limit with thousands of sites), at
most :data:`CALLS` are in flight at once, and with many sites running each is asked less often, so
progress then arrives in bursts and a site's end is noticed a little later.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowQueryFailedError,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from enforcer.engine.executor import (
    RunOptions,
    SiteFinished,
    SiteResult,
    Subscriber,
    Work,
    run_batches,
)
from enforcer.engine.sitelocks import Holder
from enforcer.engine.temporal.connection import Connection
from enforcer.engine.temporal.sitelocks import running
from enforcer.engine.temporal.wire import event_from_dict, result_from_dict
from enforcer.engine.temporal.workflow import WORKFLOW
from enforcer.errors import BackendError
from enforcer.model import Play, Site
from enforcer.plan.artifact import Plan, SitePlan

#: Calls to the service in flight at once from one apply (starts, queries, describes, results).
CALLS = 100

#: The region of a site that names none, and so the one task queue of a fleet without regions.
DEFAULT_REGION = "default"


def task_queue(region: str | None) -> str:
    """The task queue of a region: ``enforce worker --queue REGION`` polls it."""
    return f"enforce-{region or DEFAULT_REGION}"


def workflow_id(play: Play, site: str) -> str:
    """One id per site of an organisation: Temporal refuses a second workflow with it while one runs."""
    return f"{play.inventory.organisation}/{site}"


@dataclass(frozen=True)
class Submission:
    """What the workers need besides a site's plan: the play, and how to plan a site again after a wait."""

    playbook: str
    play: Play
    holder: Holder
    client_failures: dict[str, str] = field(default_factory=dict)
    restore_unknown: bool = False
    saved: Plan | None = None  # apply PLANFILE: a site that waited runs its saved steps if still fresh
    step_timeout: float = 4 * 3600.0  # one activity, a firmware upgrade included
    heartbeat_timeout: float = 20.0  # a worker silent this long is dead: its activity runs elsewhere

    def order(self, plan: SitePlan, work: Work, options: RunOptions) -> dict[str, Any]:
        """The workflow's input for ``plan``: what a plan file holds, and no secret value."""
        saved = next((s for s in self.saved.sites if s.site == plan.site), None) if self.saved else None
        fingerprints = {
            d: fp for d, fp in (self.saved.fingerprints if self.saved else {}).items() if d.startswith(plan.site + "/")
        }
        return {
            # The aspects it enforces travel too: a worker verifies and plans again what the submitter planned
            # (enforce rotate: credentials alone), not all its own play enforces.
            "play": {"playbook": self.playbook, "play": self.play.name, "enforce": sorted(self.play.enforce)},
            "plan": plan.to_dict(),
            "skip": sorted(work.skip),
            "time_scale": options.time_scale,
            "max_wait": options.max_wait,
            "step_timeout": self.step_timeout,
            "heartbeat_timeout": self.heartbeat_timeout,
            "replan": {
                "client_failures": {c: why for c, why in self.client_failures.items() if c.startswith(plan.site + "/")},
                "restore_unknown": self.restore_unknown,
                "saved": {"plan": saved.to_dict(), "fingerprints": fingerprints} if saved else None,
            },
        }


class TemporalExecutor:
    """Runs every site as a workflow on the workers of its region; see the module docstring."""

    def __init__(self, connection: Connection, submission: Submission) -> None:
        self.connection, self.submission = connection, submission
        self.sites: dict[str, Site] = {s.name: s for s in submission.play.selected()}
        self._running = 0
        self._calls = asyncio.Semaphore(CALLS)

    def run(self, plans: Sequence[SitePlan], work: Work, options: RunOptions, on_event: Subscriber) -> list[SiteResult]:
        return asyncio.run(self._run(plans, work, options, on_event))

    async def _run(
        self, plans: Sequence[SitePlan], work: Work, options: RunOptions, on_event: Subscriber
    ) -> list[SiteResult]:
        client = await self.connection.connect()
        await self._check_workers(client, {task_queue(self.sites[p.site].region) for p in plans})

        async def site(plan: SitePlan) -> SiteResult:
            return await self._site(client, plan, work, options, on_event)

        return await run_batches(plans, options, on_event, site)

    async def _check_workers(self, client: Client, queues: set[str]) -> None:
        """Refuse to submit to a queue no worker polls: the run would wait without a word."""
        for queue in sorted(queues):
            request = DescribeTaskQueueRequest(
                namespace=client.namespace,
                task_queue=TaskQueue(name=queue),
                task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
            )
            try:
                found = await client.workflow_service.describe_task_queue(request)
            except RPCError as exc:
                raise BackendError(f"Temporal refused to describe task queue {queue}: {exc.message}") from None
            if not found.pollers:
                region = queue.removeprefix("enforce-")
                raise BackendError(
                    f"no worker polls task queue {queue} in namespace {client.namespace}: start one near the "
                    f"sites of region {region} (enforce worker PLAYBOOK --queue {region} --address "
                    f"{self.connection.address})"
                )

    async def _site(
        self, client: Client, plan: SitePlan, work: Work, options: RunOptions, on_event: Subscriber
    ) -> SiteResult:
        site = self.sites[plan.site]
        wid = workflow_id(self.submission.play, plan.site)
        try:
            async with self._calls:
                handle: WorkflowHandle[Any, dict[str, Any]] = await client.start_workflow(
                    WORKFLOW,
                    self.submission.order(plan, work, options),
                    id=wid,
                    task_queue=task_queue(site.region),
                    id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
                    id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
                    memo={"holder": self.submission.holder.to_json()},
                    static_summary=f"enforce {self.submission.play.name}: site {plan.site}",
                )
        except WorkflowAlreadyStartedError:
            holder = (await running(client, wid))[1]
            said = holder.describe() if holder else "being applied by another run"
            detail = f"site {plan.site} is {said} (Temporal workflow {wid}); wait for it"
            on_event(SiteFinished(plan.site, "failed", detail))
            return SiteResult(plan.site, "failed", detail)
        except RPCError as exc:
            raise BackendError(f"Temporal refused to start the workflow of site {plan.site}: {exc.message}") from None
        self._running += 1
        try:
            return await self._follow(handle, plan, on_event)
        finally:
            self._running -= 1

    async def _follow(
        self, handle: WorkflowHandle[Any, dict[str, Any]], plan: SitePlan, on_event: Subscriber
    ) -> SiteResult:
        follower = _Follower(on_event)
        asked = time.monotonic()
        while True:
            await asyncio.sleep(0.5)
            follower.tick()
            if time.monotonic() - asked < max(0.5, self._running / 50):
                continue
            asked = time.monotonic()
            async with self._calls:
                if await _ended(handle):
                    break
                follower.take(await _events(handle, follower.seen))
        try:
            async with self._calls:
                outcome = await handle.result()
        except WorkflowFailureError as exc:  # terminated or timed out by an operator
            detail = f"its Temporal workflow {handle.id} ended: {exc.cause or exc}"
            on_event(SiteFinished(plan.site, "failed", detail))
            return SiteResult(plan.site, "failed", detail)
        follower.take(outcome["events"][follower.seen :])
        return result_from_dict(outcome["result"])


async def _ended(handle: WorkflowHandle[Any, Any]) -> bool:
    """Whether the workflow has ended (the service answers alone: no worker is needed)."""
    try:
        described = await handle.describe(rpc_timeout=timedelta(seconds=10))
    except RPCError:
        return False
    return described.status != WorkflowExecutionStatus.RUNNING


async def _events(handle: WorkflowHandle[Any, Any], since: int) -> list[dict[str, Any]]:
    """The events from ``since`` on; none for now if no worker can answer (one is taking over)."""
    try:
        events: list[dict[str, Any]] = await handle.query("events", since, rpc_timeout=timedelta(seconds=5))
    except (WorkflowQueryFailedError, RPCError):
        return []
    return events


class _Follower:
    """Hands a site's events to the subscriber in order, and counts down the waits that are open."""

    def __init__(self, on_event: Subscriber) -> None:
        self.on_event = on_event
        self.seen = 0
        self.waits: dict[str, dict[str, Any]] = {}  # step id or "site:" + site → its wait event

    def take(self, raws: list[dict[str, Any]]) -> None:
        for raw in raws:
            self.seen += 1
            kind = raw["type"]
            if kind == "waiting":
                self.waits[raw["step"]["id"]] = raw
            elif kind == "site_waiting":
                self.waits["site:" + raw["site"]] = raw
            elif kind == "step_finished":
                self.waits.pop(raw["step"]["id"], None)
            elif kind in ("site_planned", "site_finished"):
                self.waits.pop("site:" + (raw["plan"]["site"] if kind == "site_planned" else raw["site"]), None)
            self.on_event(event_from_dict(raw))

    def tick(self, now: Callable[[], float] = time.time) -> None:
        for raw in self.waits.values():
            left = raw["seconds"] - (now() - raw["at"])
            if left > 0:
                self.on_event(event_from_dict({**raw, "left": left}))
