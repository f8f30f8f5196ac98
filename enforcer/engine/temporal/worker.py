"""A worker: polls one region's task queue, runs site workflows and their activities, until stopped.

Rate limits: ``per_worker`` caps the activities this worker starts a second, ``per_queue`` those of the
whole task queue, all workers together (the service enforces it): a region's sites, and the VPN or
uplink they sit behind, never see more than that many steps start a second.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from enforcer.engine.temporal.client import task_queue
from enforcer.engine.temporal.connection import Connection
from enforcer.engine.temporal.workflow import SiteWorkflow


@dataclass(frozen=True)
class Limits:
    """How much one worker takes on."""

    concurrency: int = 20  # activities at once (driver calls)
    per_worker: float | None = None  # activities started a second by this worker
    per_queue: float | None = None  # activities started a second on the queue, all workers together
    workflows: int = 1000  # site workflows kept in memory between their tasks (replayed if evicted)


def workflow_runner() -> SandboxedWorkflowRunner:
    """The sandbox, with enforcer's modules imported once rather than per workflow: the workflow calls
    only their pure parts (a replay of a history must use the same)."""
    return SandboxedWorkflowRunner(restrictions=SandboxRestrictions.default.with_passthrough_modules("enforcer"))


async def serve(
    connection: Connection,
    region: str,
    activities: Sequence[Callable[..., Any]],
    limits: Limits,
    *,
    identity: str,
    ready: Callable[[], None] | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Run a worker for ``region`` until ``stop`` is set, or SIGTERM / SIGINT."""
    client = await connection.connect()
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    worker = Worker(
        client,
        task_queue=task_queue(region),
        workflows=[SiteWorkflow],
        workflow_runner=workflow_runner(),
        activities=list(activities),
        identity=identity,
        max_concurrent_activities=limits.concurrency,
        max_activities_per_second=limits.per_worker,
        max_task_queue_activities_per_second=limits.per_queue,
        max_cached_workflows=limits.workflows,
        # After this worker dies, its sites' next workflow tasks go to another worker this soon.
        sticky_queue_schedule_to_start_timeout=timedelta(seconds=3),
        graceful_shutdown_timeout=timedelta(seconds=5),
    )
    async with worker:
        if ready is not None:
            ready()
        await stop.wait()
